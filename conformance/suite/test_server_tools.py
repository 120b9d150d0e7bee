"""Server tools, run by the API within the turn: web search (and its error results), web fetch,
code execution in a container.

These cost money on a live target (a search $10 per 1,000, fetched pages and search results
billed as input tokens, each code execution call carries a ~4,500-token tool prompt), so the
tests that run a tool run there only with ``server_tools_live``; the reference server and
cassette replay run them under ``server_tools``. ``api.expect`` runs the ``server-tool-results``
check (every server_tool_use answered in the message by the result block of its kind, cited
urls among the results, fetched-page citations at their indexes, searches and fetches counted in
usage, the container of a code execution answer reported and reused) and ``citation-location``.
The reference server's code execution is a tiny interpreter of fixed test commands
(``features.code_execution``): the prompts ask for exactly those commands. ``pause_turn`` and
its continuation are covered by ``test_stop_reasons.py::test_pause_turn_then_continue``.
Not covered: the older Python-only ``code_execution_20250522``, ``text_editor_code_execution``,
tool search, memory and the other server tools.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import catalog
from conformance.api import Api
from conformance.resources import ResourceLedger
from conformance.settings import Settings
from conformance.suite._data import blocks
from conformance.suite._live import require_live_toggle
from conformance.suite.test_files import upload
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("server_tools")

WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
PROMPT = "Search the web: who won the most recent Tour de France? Answer in one sentence."


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_web_search(
    api: Api, conformance_target: RunTarget, conformance_settings: Settings, stream: bool
) -> None:
    require_live_toggle(conformance_target, conformance_settings, "server_tools_live")
    ex = api.create_message(PROMPT, max_tokens=400, tools=[WEB_SEARCH], stream=stream)
    message = api.expect(ex)
    calls = blocks(message, "server_tool_use")
    assert calls and calls[0]["name"] == "web_search", f"no web search: {message['content']}"
    assert calls[0]["id"].startswith(catalog.ID_PREFIXES["server_tool_use"]), calls[0]
    assert isinstance(calls[0]["input"].get("query"), str), calls[0]
    results = [
        b for b in blocks(message, "web_search_tool_result") if b["tool_use_id"] == calls[0]["id"]
    ]
    assert results, f"no web_search_tool_result for {calls[0]['id']}"
    found: Any = results[0]["content"]
    assert isinstance(found, list) and found, f"the search failed or found nothing: {found}"
    for result in found:
        assert result["type"] == "web_search_result" and result["url"], result
        assert isinstance(result["encrypted_content"], str), result
    assert message["usage"]["server_tool_use"]["web_search_requests"] >= 1, message["usage"]
    cites = [c for b in blocks(message, "text") for c in b.get("citations") or []]
    assert all(c["type"] == "web_search_result_location" for c in cites), cites
    if stream:
        starts = [
            e.json["content_block"]["type"]
            for e in ex.events or []
            if e.type == "content_block_start"
        ]
        assert "web_search_tool_result" in starts, starts


@pytest.mark.feature("errors")
def test_allowed_and_blocked_domains_rejected(api: Api) -> None:
    """The docs: allowed_domains and blocked_domains cannot be used in the same request."""
    tool = {**WEB_SEARCH, "allowed_domains": ["example.com"], "blocked_domains": ["example.org"]}
    api.expect_error(api.create_message(PROMPT, max_tokens=16, tools=[tool]), 400)


TWO_QUESTIONS = (
    "Search the web twice, one search per question: who won the 2019 Tour de France? "
    "Who won the 2020 Tour de France? Answer in one sentence."
)


def _events_started(ex: Any) -> list[str]:
    return [
        e.json["content_block"]["type"] for e in ex.events or [] if e.type == "content_block_start"
    ]


def _result_of(message: dict[str, Any], kind: str, call: dict[str, Any]) -> dict[str, Any]:
    found = [b for b in blocks(message, kind) if b.get("tool_use_id") == call["id"]]
    assert found, f"no {kind} for {call['id']}: {message['content']}"
    return found[0]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_web_search_max_uses_error(
    api: Api, conformance_target: RunTarget, conformance_settings: Settings, stream: bool
) -> None:
    """A search past ``max_uses`` is answered by a web_search_tool_result_error object."""
    require_live_toggle(conformance_target, conformance_settings, "server_tools_live")
    ex = api.create_message(TWO_QUESTIONS, max_tokens=500, tools=[WEB_SEARCH], stream=stream)
    message = api.expect(ex)
    calls = [b for b in blocks(message, "server_tool_use") if b["name"] == "web_search"]
    if len(calls) < 2 and conformance_target.bills_tokens:
        pytest.skip("the model searched only once, so max_uses was never exceeded")
    assert len(calls) >= 2, f"two questions, two searches asked for: {message['content']}"
    first, second = (_result_of(message, "web_search_tool_result", c) for c in calls[:2])
    assert isinstance(first["content"], list), f"the first search is within max_uses: {first}"
    error: Any = second["content"]
    assert isinstance(error, dict), f"a search past max_uses: 1 must fail: {second}"
    assert error["type"] == "web_search_tool_result_error", error
    assert error["error_code"] == "max_uses_exceeded", error
    assert message["usage"]["server_tool_use"]["web_search_requests"] >= 1, message["usage"]


WEB_FETCH = {
    "type": "web_fetch_20250910",
    "name": "web_fetch",
    "max_uses": 1,
    "citations": {"enabled": True},
}
FETCH_URL = "https://example.com/"
FETCH_PROMPT = (
    f"Fetch {FETCH_URL} with the web fetch tool and quote one sentence of it, with a citation."
)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_web_fetch(
    api: Api, conformance_target: RunTarget, conformance_settings: Settings, stream: bool
) -> None:
    require_live_toggle(conformance_target, conformance_settings, "server_tools_live")
    ex = api.create_message(FETCH_PROMPT, max_tokens=400, tools=[WEB_FETCH], stream=stream)
    message = api.expect(ex)
    calls = [b for b in blocks(message, "server_tool_use") if b["name"] == "web_fetch"]
    assert calls, f"no web fetch: {message['content']}"
    assert calls[0]["id"].startswith(catalog.ID_PREFIXES["server_tool_use"]), calls[0]
    assert calls[0]["input"].get("url", "").rstrip("/") == FETCH_URL.rstrip("/"), calls[0]
    fetched: Any = _result_of(message, "web_fetch_tool_result", calls[0])["content"]
    assert fetched.get("type") == "web_fetch_result", f"the fetch failed: {fetched}"
    assert isinstance(fetched.get("url"), str) and fetched["url"], fetched
    document = fetched["content"]
    assert document["type"] == "document" and isinstance(document["source"], dict), document
    if document["source"].get("type") == "text":
        assert document["source"]["data"], "the fetched page has no text"
    assert message["usage"]["server_tool_use"]["web_fetch_requests"] >= 1, message["usage"]
    if stream:
        assert "web_fetch_tool_result" in _events_started(ex), _events_started(ex)


CODE_EXECUTION = {"type": "code_execution_20250825", "name": "code_execution"}
WRITTEN = "kestrel point 1871"
WRITE = f"printf '%s' '{WRITTEN}' > /tmp/kestrel.txt"
READ = "cat /tmp/kestrel.txt"


def _run_command(
    api: Api, command: str, stream: bool = False, **body: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ask for one bash command; the message and the result of its bash_code_execution."""
    prompt = (
        "Use the code execution tool to run exactly this bash command, once, and nothing else: "
        f"`{command}`. Then say what it printed."
    )
    ex = api.create_message(prompt, max_tokens=400, tools=[CODE_EXECUTION], stream=stream, **body)
    message = api.expect(ex)
    calls = [b for b in blocks(message, "server_tool_use") if b["name"] == "bash_code_execution"]
    assert calls, f"no bash_code_execution call: {message['content']}"
    assert calls[0]["input"].get("command"), calls[0]
    result: Any = _result_of(message, "bash_code_execution_tool_result", calls[0])["content"]
    assert result.get("type") == "bash_code_execution_result", f"the command failed: {result}"
    if stream:
        assert "bash_code_execution_tool_result" in _events_started(ex), _events_started(ex)
    return message, result


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_code_execution_container_reused(
    api: Api, conformance_target: RunTarget, conformance_settings: Settings, stream: bool
) -> None:
    """The second request passes the first answer's container id and reads the file the first
    one wrote there."""
    require_live_toggle(conformance_target, conformance_settings, "server_tools_live")
    first, wrote = _run_command(api, WRITE, stream)
    assert wrote["return_code"] == 0, wrote
    container = first.get("container")
    assert isinstance(container, dict) and container.get("id"), f"no container: {container}"
    assert isinstance(container.get("expires_at"), str), container
    second, read = _run_command(api, READ, stream, container=container["id"])
    assert (second.get("container") or {}).get("id") == container["id"], second.get("container")
    assert read["return_code"] == 0 and read["stdout"].strip() == WRITTEN, (
        f"the reused container does not hold the file the first request wrote: {read}"
    )


@pytest.mark.feature("files")
def test_code_output_file_download(
    api: Api,
    conformance_target: RunTarget,
    conformance_settings: Settings,
    resource_ledger: ResourceLedger,
) -> None:
    """A file the code writes comes back as a file id whose download holds exactly its bytes."""
    require_live_toggle(conformance_target, conformance_settings, "server_tools_live")
    _, wrote = _run_command(api, WRITE)
    outputs = [o for o in wrote["content"] if o.get("type") == "bash_code_execution_output"]
    assert outputs, f"the command wrote /tmp/kestrel.txt but no output file came back: {wrote}"
    file_id = outputs[0]["file_id"]
    resource_ledger.register("file", file_id, label="code execution output")
    meta = api.expect(api.call("files.retrieve", file_id=file_id))
    assert meta.get("downloadable") is True, f"a file the code wrote is downloadable: {meta}"
    ex = api.call("files.download", file_id=file_id, headers={"accept": "application/binary"})
    api.expect(ex)
    assert ex.body == WRITTEN.encode(), f"downloaded {ex.body[:200]!r}, the code wrote {WRITTEN!r}"


@pytest.mark.feature("files")
def test_container_upload_read_by_code(
    api: Api,
    conformance_target: RunTarget,
    conformance_settings: Settings,
    resource_ledger: ResourceLedger,
    conformance_run_id: str,
) -> None:
    """A ``container_upload`` block puts a Files API file in the container's $INPUT_DIR."""
    require_live_toggle(conformance_target, conformance_settings, "server_tools_live")
    filename, content = f"{conformance_run_id}-data.csv", b"item,value\napple,30\nbanana,70\n"
    meta = upload(api, resource_ledger, filename, content, "text/csv")
    command = f'cat "$INPUT_DIR/{filename}"'
    prompt = (
        "Use the code execution tool to run exactly this bash command, once, and nothing else: "
        f"`{command}`. Then say what it printed."
    )
    body = api.message_body(
        max_tokens=400,
        tools=[CODE_EXECUTION],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt},
                    {"type": "container_upload", "file_id": meta["id"]},
                ],
            }
        ],
    )
    message = api.expect(api.call("messages.create", body))
    calls = [b for b in blocks(message, "server_tool_use") if b["name"] == "bash_code_execution"]
    assert calls, f"no bash_code_execution call: {message['content']}"
    result: Any = _result_of(message, "bash_code_execution_tool_result", calls[0])["content"]
    assert result.get("stdout") == content.decode(), f"the code did not read the upload: {result}"
