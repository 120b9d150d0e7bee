"""The reference server's server tools beyond web search: web fetch, code execution in a
container (state kept across requests, output files in the Files API), web search error results.

The official SDK parses every answer (streams through its accumulator), the raw answers match
the project's schemas, and the tiny command interpreter behaves as documented.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from message_samples import message_exchange
from sdk_support import assert_schema_valid

from conformance import catalog
from conformance.checks import server_tools as server_tools_check
from conformance.exchange import Exchange
from conformance.reference.features import code_execution

MODEL = catalog.DEFAULT_MODEL
FETCH: Any = {"type": "web_fetch_20250910", "name": "web_fetch", "citations": {"enabled": True}}
CODE: Any = {"type": "code_execution_20250825", "name": "code_execution"}
SEARCH: Any = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
FILES_BETA = catalog.betas_for(["files"], catalog.VERSION_2023)


def _ask(text: str) -> Any:
    return [{"role": "user", "content": text}]


def test_web_fetch_sdk(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model=MODEL,
        max_tokens=200,
        tools=[FETCH],
        messages=_ask("Fetch https://example.com/page and quote its second line."),
    )
    assert_schema_valid(raw.http_response.json(), "message.json")
    message = raw.parse()
    call, result, text = message.content
    assert call.type == "server_tool_use" and call.name == "web_fetch"
    assert call.input == {"url": "https://example.com/page"}
    assert result.type == "web_fetch_tool_result" and result.tool_use_id == call.id
    assert result.content.type == "web_fetch_result"
    data = result.content.content.source.data
    assert text.type == "text" and text.citations
    cite = text.citations[0]
    assert cite.type == "char_location"
    assert data[cite.start_char_index : cite.end_char_index] == cite.cited_text
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_fetch_requests == 1


def test_web_fetch_stream_and_blocked_domain(client: anthropic.Anthropic) -> None:
    tool = {**FETCH, "blocked_domains": ["example.com"]}
    with client.messages.stream(
        model=MODEL,
        max_tokens=200,
        tools=[tool],
        messages=_ask("Fetch https://www.example.com/x please."),
    ) as stream:
        message = stream.get_final_message()
    result = message.content[1]
    assert result.type == "web_fetch_tool_result"
    assert result.content.type == "web_fetch_tool_result_error"
    assert result.content.error_code == "url_not_allowed"
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_fetch_requests == 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_web_search_max_uses_error(client: anthropic.Anthropic, stream: bool) -> None:
    params: Any = {
        "model": MODEL,
        "max_tokens": 300,
        "tools": [SEARCH],
        "messages": _ask("Search the web: who won in 2019? Who won in 2020?"),
    }
    if stream:
        with client.messages.stream(**params) as s:
            message = s.get_final_message()
    else:
        raw = client.messages.with_raw_response.create(**params)
        assert_schema_valid(raw.http_response.json(), "message.json")
        message = raw.parse()
    results = [b for b in message.content if b.type == "web_search_tool_result"]
    assert len(results) == 2
    assert isinstance(results[0].content, list)
    error = results[1].content
    assert not isinstance(error, list) and error.error_code == "max_uses_exceeded"
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_search_requests == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_code_execution_container_and_output_file(
    client: anthropic.Anthropic, stream: bool
) -> None:
    def create(text: str, **kw: Any) -> Any:
        params: Any = {"model": MODEL, "max_tokens": 300, "tools": [CODE], "messages": _ask(text)}
        params.update(kw)
        if stream:
            with client.messages.stream(**params) as s:
                return s.get_final_message()
        return client.messages.create(**params)

    first = create("Run `printf '%s' 'kestrel 42' > /tmp/out.txt` in bash.")
    assert first.container is not None and first.container.id.startswith("container_")
    call, result, _ = first.content
    assert call.type == "server_tool_use" and call.name == "bash_code_execution"
    assert result.type == "bash_code_execution_tool_result" and result.tool_use_id == call.id
    assert result.content.type == "bash_code_execution_result"
    assert result.content.return_code == 0
    (output,) = result.content.content
    assert output.type == "bash_code_execution_output"
    downloaded = client.beta.files.download(output.file_id, betas=FILES_BETA)
    assert downloaded.read() == b"kestrel 42"
    second = create("Now run `cat /tmp/out.txt`.", container=first.container.id)
    assert second.container is not None and second.container.id == first.container.id
    assert second.content[1].content.stdout == "kestrel 42"
    fresh = create("Now run `cat /tmp/out.txt`.")
    assert fresh.container is not None and fresh.container.id != first.container.id
    assert fresh.content[1].content.return_code == 1


def test_container_upload_is_read_by_code(client: anthropic.Anthropic) -> None:
    uploaded = client.beta.files.upload(
        file=("data.csv", b"item,value\napple,30\n", "text/csv"), betas=FILES_BETA
    )
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        tools=[CODE],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Run `cat $INPUT_DIR/data.csv`."},
                    {"type": "container_upload", "file_id": uploaded.id},
                ],
            }
        ],
    )
    assert message.content[1].content.stdout == "item,value\napple,30\n"


def test_unknown_container_refused(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="container_nope"):
        client.messages.create(
            model=MODEL,
            max_tokens=50,
            tools=[CODE],
            container="container_nope",
            messages=_ask("Run `ls`."),
        )


@pytest.mark.parametrize(
    ("command", "stdout", "code"),
    [
        ("echo hello  world", "hello world\n", 0),
        ("printf 'a\\nb'", "a\nb", 0),
        ("cat /nope", "", 1),
        ("python3 -c 'print(1)'", "", 127),
        ("echo 'unterminated", "", 2),
        ("echo hi >", "", 2),
    ],
)
def test_interpreter(command: str, stdout: str, code: int) -> None:
    done = code_execution.run(command, {})
    assert (done.stdout, done.return_code) == (stdout, code)
    assert bool(done.stderr) == (code != 0)


def test_interpreter_writes_and_lists() -> None:
    files: dict[str, bytes] = {}
    assert code_execution.run("echo one > /tmp/a/one.txt", files).written == ["/tmp/a/one.txt"]
    assert files == {"/tmp/a/one.txt": b"one\n"}
    assert code_execution.run("ls /tmp/a", files).stdout == "one.txt\n"


def _answer(content: list[Any], request: Any = None, **extra: Any) -> Exchange:
    return message_exchange(content, request, **extra)


FETCH_CALL = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_fetch", "input": {}}
PAGE = "Line one.\nLine two."
FETCHED = {
    "type": "web_fetch_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": {
        "type": "web_fetch_result",
        "url": "https://a.example",
        "content": {"type": "document", "source": {"type": "text", "data": PAGE}},
    },
}
COUNTED = {"server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 1}}


def _cite(start: int, end: int, text: str) -> dict[str, Any]:
    return {
        "type": "text",
        "text": text,
        "citations": [
            {
                "type": "char_location",
                "cited_text": text,
                "document_index": 0,
                "document_title": None,
                "start_char_index": start,
                "end_char_index": end,
            }
        ],
    }


def _messages(exchange: Exchange, usage: dict[str, Any]) -> Exchange:
    body = json.loads(exchange.body)
    body["usage"].update(usage)
    exchange.body = json.dumps(body).encode()
    exchange.json = body
    return exchange


def test_check_web_fetch() -> None:
    check = server_tools_check.check_server_tool_results
    good = _messages(_answer([FETCH_CALL, FETCHED, _cite(10, 19, "Line two.")]), COUNTED)
    assert check(good) == []
    shifted = _messages(_answer([FETCH_CALL, FETCHED, _cite(9, 18, "Line two.")]), COUNTED)
    assert "not what any fetched page" in check(shifted)[0].message
    uncounted = _answer([FETCH_CALL, FETCHED])
    assert "web_fetch_requests is None" in check(uncounted)[0].message
    failed = {**FETCHED, "content": {"type": "web_fetch_tool_result_error", "error_code": "x"}}
    assert check(_answer([FETCH_CALL, failed])) == []  # an error is not counted
    wrong = {**FETCHED, "type": "web_search_tool_result"}
    assert (
        "not web_fetch_tool_result"
        in check(_messages(_answer([FETCH_CALL, wrong]), COUNTED))[0].message
    )


def test_check_container() -> None:
    check = server_tools_check.check_server_tool_results
    call = {
        "type": "server_tool_use",
        "id": "srvtoolu_2",
        "name": "bash_code_execution",
        "input": {},
    }
    result = {
        "type": "bash_code_execution_tool_result",
        "tool_use_id": "srvtoolu_2",
        "content": {
            "type": "bash_code_execution_result",
            "stdout": "",
            "stderr": "",
            "return_code": 0,
            "content": [],
        },
    }
    box = {"id": "container_a", "expires_at": "2026-03-02T13:00:00Z"}
    assert check(_answer([call, result], container=box)) == []
    assert "container is None" in check(_answer([call, result], container=None))[0].message
    moved = check(_answer([call, result], {"container": "container_b"}, container=box))
    assert "asked for container 'container_b'" in moved[0].message
    assert check(_answer([call, result], {"container": "container_a"}, container=box)) == []
