"""Today's Messages features, second part (structured outputs, stop reasons, request fields):
the reference server's behaviour, the official SDK parsing it, and the checks that judge it.

Streams go through the SDK's accumulator (``client.messages.stream``); every JSON answer also
passes the shipped message schema.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import anthropic
import pytest
from message_samples import message_exchange
from sdk_support import assert_schema_valid

from conformance import catalog
from conformance.checks import citations, structured
from conformance.exchange import Exchange
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer
from conformance.reference.features.citations import pdf_pages
from conformance.suite._data import pdf

MODEL = catalog.DEFAULT_MODEL


# --- structured outputs ---------------------------------------------------------------------------

DOG: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 3},
        "kind": {"enum": ["dog", "cat"]},
        "toys": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age", "kind", "toys"],
    "additionalProperties": False,
}
ASK: Any = [{"role": "user", "content": "Invent a dog called Rex."}]
FORMAT: Any = {"format": {"type": "json_schema", "schema": DOG}}


def test_structured_output_through_the_sdk(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=ASK, output_config=FORMAT
    )
    assert_schema_valid(raw.http_response.json())
    message = raw.parse()
    assert message.stop_reason == "end_turn" and len(message.content) == 1
    block = message.content[0]
    assert block.type == "text"
    assert json.loads(block.text) == {"name": "Rex", "age": 3, "kind": "dog", "toys": ["Rex"]}
    with client.messages.stream(
        model=MODEL, max_tokens=64, messages=ASK, output_config=FORMAT
    ) as stream:
        folded = stream.get_final_message()
    assert folded.content[0].type == "text" and folded.content[0].text == block.text


def test_beta_output_format_needs_its_beta(client: anthropic.Anthropic) -> None:
    fmt: Any = FORMAT["format"]
    with pytest.raises(anthropic.BadRequestError, match="output_format"):
        client.messages.create(
            model=MODEL, max_tokens=64, messages=ASK, extra_body={"output_format": fmt}
        )
    # SDK 2.x no longer types the beta field: it goes in extra_body, with the beta header
    beta = client.beta.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=ASK,
        extra_body={"output_format": fmt},
        betas=[structured_beta()],
    )
    assert json.loads(beta.content[0].text)["name"] == "Rex"  # type: ignore[union-attr]


def structured_beta() -> str:
    return next(b.header for b in catalog.BETAS if b.feature == "structured_outputs")


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"format": {"type": "yaml", "schema": DOG}}, r"output_config\.format\.type"),
        ({"format": {"type": "json_schema"}}, r"schema: Field required"),
        ({"format": {"type": "json_schema", "schema": "object"}}, r"schema: Input should be"),
        ("json", r"output_config: Input should be a valid dictionary"),
    ],
)
def test_bad_output_config_rejected(client: anthropic.Anthropic, config: Any, match: str) -> None:
    with pytest.raises(anthropic.BadRequestError, match=match):
        client.messages.create(model=MODEL, max_tokens=8, messages=ASK, output_config=config)


def test_max_tokens_cuts_the_json(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=3, messages=ASK, output_config=FORMAT)
    assert message.stop_reason == "max_tokens"
    with pytest.raises(ValueError):
        json.loads(message.content[0].text)  # type: ignore[union-attr]


def _exchange(
    text: str, stop_reason: str = "end_turn", *, request: dict[str, Any] | None = None
) -> Exchange:
    body = {
        "id": "msg_01x",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    req = (
        request
        if request is not None
        else {"model": MODEL, "max_tokens": 9, "messages": ASK, "output_config": FORMAT}
    )
    return Exchange(
        "POST",
        "/v1/messages",
        200,
        {"content-type": "application/json"},
        json.dumps(body).encode(),
        request_json=req,
    )


@pytest.mark.parametrize(
    ("text", "stop", "problem"),
    [
        ('{"name":"Rex","age":3,"kind":"dog","toys":[]}', "end_turn", None),
        ('```json\n{"name":"Rex"}\n```', "end_turn", "is not JSON"),
        ('{"name":"Rex","age":1,"kind":"dog","toys":[]}', "end_turn", "at age"),
        ('{"name":"Rex","age":3,"kind":"dog","toys":[],"x":1}', "end_turn", "(the root)"),
        ('{"name":"Re', "max_tokens", None),  # a cut answer is not judged
    ],
)
def test_structured_output_check(text: str, stop: str, problem: str | None) -> None:
    found = structured.check_structured_output(_exchange(text, stop))
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0].message, found


def test_structured_output_check_reads_the_beta_field_and_ignores_plain_requests() -> None:
    beta = {"model": MODEL, "max_tokens": 9, "messages": ASK, "output_format": FORMAT["format"]}
    assert structured.check_structured_output(_exchange("not json", request=beta))
    plain = {"model": MODEL, "max_tokens": 9, "messages": ASK}
    assert structured.check_structured_output(_exchange("not json", request=plain)) == []


# --- documents and citations: PDF, content, Files API, search results ---------------------------

PAGES = ["Intro page (draft).", "The lighthouse was built in 1871. It is white."]


def test_the_suite_pdf_is_well_formed_and_read_back() -> None:
    raw = pdf(PAGES)
    start = int(re.search(rb"startxref\n(\d+)", raw).group(1))  # type: ignore[union-attr]
    assert raw.startswith(b"%PDF-1.4\n") and raw[start:].startswith(b"xref")
    offsets = [int(o) for o in re.findall(rb"(\d{10}) 00000 n", raw)]
    assert [raw[o:].split(b" ")[0] for o in offsets] == [
        b"%d" % n for n in range(1, len(offsets) + 1)
    ]
    assert pdf_pages(raw) == PAGES
    assert pdf_pages(b"%PDF-1.7 compressed, no streams") is None


def _ask_with(block: Any) -> Any:
    return [{"role": "user", "content": [block, {"type": "text", "text": "When was it built?"}]}]


def _both(client: anthropic.Anthropic, messages: Any) -> tuple[Any, Any]:
    """The message (schema-checked) and the SDK's fold of the same request streamed."""
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=messages)
    assert_schema_valid(raw.http_response.json())
    with client.messages.stream(model=MODEL, max_tokens=64, messages=messages) as stream:
        folded = stream.get_final_message()
    message = raw.parse()
    assert [(b.type, b.text, b.citations) for b in folded.content] == [  # type: ignore[union-attr]
        (b.type, b.text, b.citations) for b in message.content
    ]  # type: ignore[union-attr]
    return message, message.content[1].citations[0]


def test_pdf_page_citation_through_the_sdk(client: anthropic.Anthropic) -> None:
    doc = {
        "type": "document",
        "title": "Light",
        "citations": {"enabled": True},
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(pdf(PAGES)).decode(),
        },
    }
    _, cite = _both(client, _ask_with(doc))
    assert cite.type == "page_location" and cite.document_title == "Light"
    assert (cite.start_page_number, cite.end_page_number) == (1, 2)
    assert cite.cited_text == "Intro page (draft)."
    with pytest.raises(anthropic.BadRequestError, match="PDF specified was not valid"):
        client.messages.create(
            model=MODEL,
            max_tokens=8,
            messages=_ask_with(
                {**doc, "source": {**doc["source"], "data": base64.b64encode(b"GIF89a").decode()}}
            ),
        )


def test_content_block_citation_through_the_sdk(client: anthropic.Anthropic) -> None:
    doc = {
        "type": "document",
        "citations": {"enabled": True},
        "source": {"type": "content", "content": [{"type": "text", "text": t} for t in PAGES]},
    }
    _, cite = _both(client, _ask_with(doc))
    assert cite.type == "content_block_location"
    assert (cite.start_block_index, cite.end_block_index, cite.cited_text) == (0, 1, PAGES[0])


def test_search_result_citation_through_the_sdk(client: anthropic.Anthropic) -> None:
    off = {
        "type": "search_result",
        "source": "https://a.example",
        "title": "A",
        "content": [{"type": "text", "text": "Not cited."}],
    }
    on = {
        **off,
        "source": "https://b.example",
        "title": "B",
        "citations": {"enabled": True},
        "content": [{"type": "text", "text": PAGES[1]}],
    }
    messages: Any = [{"role": "user", "content": [off, on, {"type": "text", "text": "When?"}]}]
    _, cite = _both(client, messages)
    assert cite.type == "search_result_location" and cite.search_result_index == 1
    assert (cite.source, cite.title, cite.cited_text) == ("https://b.example", "B", PAGES[1])
    with pytest.raises(anthropic.BadRequestError, match=r"search_result\.title"):
        client.messages.create(
            model=MODEL,
            max_tokens=8,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {k: v for k, v in on.items() if k != "title"},
                        {"type": "text", "text": "q"},
                    ],
                }
            ],
        )


def test_file_document_citation_carries_the_file_id(client: anthropic.Anthropic) -> None:
    text = "The lighthouse was built in 1871. It is white."
    uploaded = client.beta.files.upload(file=("note.txt", text.encode(), "text/plain"))
    doc = {
        "type": "document",
        "citations": {"enabled": True},
        "source": {"type": "file", "file_id": uploaded.id},
    }
    raw = client.messages.with_raw_response.create(
        model=MODEL,
        max_tokens=64,
        messages=_ask_with(doc),
        extra_headers={"anthropic-beta": "files-api-2025-04-14"},
    )
    cite = raw.parse().content[1].citations[0]  # type: ignore[union-attr, index]
    assert cite.type == "char_location" and cite.file_id == uploaded.id
    assert text[cite.start_char_index : cite.end_char_index] == cite.cited_text


def _cited(citation: dict[str, Any], request: dict[str, Any]) -> Exchange:
    return message_exchange([{"type": "text", "text": "x", "citations": [citation]}], request)


PDF_REQUEST = {
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "document",
                    "source": {
                        "type": "base64",
                        "media_type": "application/pdf",
                        "data": base64.b64encode(pdf(PAGES)).decode(),
                    },
                }
            ],
        }
    ]
}
SEARCH_REQUEST = {
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [
                        {
                            "type": "search_result",
                            "source": "s",
                            "title": "t",
                            "content": [
                                {"type": "text", "text": "One."},
                                {"type": "text", "text": "Two three."},
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}


@pytest.mark.parametrize(
    ("citation", "request_body", "problem"),
    [
        (
            {
                "type": "page_location",
                "cited_text": "x",
                "document_index": 0,
                "start_page_number": 1,
                "end_page_number": 3,
            },
            PDF_REQUEST,
            None,
        ),
        (
            {
                "type": "page_location",
                "cited_text": "x",
                "document_index": 0,
                "start_page_number": 0,
                "end_page_number": 1,
            },
            PDF_REQUEST,
            "before page 1",
        ),
        (
            {
                "type": "page_location",
                "cited_text": "x",
                "document_index": 0,
                "start_page_number": 2,
                "end_page_number": 1,
            },
            PDF_REQUEST,
            "before start_page_number",
        ),
        (
            {
                "type": "page_location",
                "cited_text": "x",
                "document_index": 0,
                "start_page_number": 3,
                "end_page_number": 4,
            },
            PDF_REQUEST,
            "outside the PDF's 2 pages",
        ),
        (
            {
                "type": "search_result_location",
                "cited_text": "One. Two three.",
                "source": "s",
                "title": "t",
                "search_result_index": 0,
                "start_block_index": 0,
                "end_block_index": 2,
            },
            SEARCH_REQUEST,
            None,
        ),
        (
            {
                "type": "search_result_location",
                "cited_text": "Two three.",
                "source": "s",
                "title": "t",
                "search_result_index": 0,
                "start_block_index": 0,
                "end_block_index": 1,
            },
            SEARCH_REQUEST,
            "is not what search result 0 holds",
        ),
        (
            {
                "type": "search_result_location",
                "cited_text": "One.",
                "source": "s",
                "title": "t",
                "search_result_index": 1,
                "start_block_index": 0,
                "end_block_index": 1,
            },
            SEARCH_REQUEST,
            "names no search_result block",
        ),
    ],
    ids=[
        "page-ok",
        "page-0",
        "page-backwards",
        "page-past-end",
        "search-ok",
        "search-text",
        "search-index",
    ],
)
def test_citation_location_check(
    citation: dict[str, Any], request_body: dict[str, Any], problem: str | None
) -> None:
    found = citations.check_citation_locations(_cited(citation, request_body))
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0].message, found


# --- stop reasons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", sorted(catalog.STOP_TRIGGERS))
def test_forced_stops_through_the_sdk(client: anthropic.Anthropic, reason: str) -> None:
    ask: Any = [{"role": "user", "content": f"Please. {catalog.STOP_TRIGGERS[reason]}"}]
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=ask)
    assert_schema_valid(raw.http_response.json())
    message = raw.parse()
    with client.messages.stream(model=MODEL, max_tokens=64, messages=ask) as stream:
        folded = stream.get_final_message()
    for got in (message, folded):
        assert got.stop_reason == reason
        if reason == "refusal":
            assert got.content == [] and got.usage.output_tokens == 0
            assert got.stop_details is not None and got.stop_details.type == "refusal"
        else:
            assert got.stop_details is None and got.content[0].type == "text"


def test_refusal_stream_matches_the_recorded_shape(server: EmbeddedServer) -> None:
    """As recorded from the real API: no content block, details only on message_delta."""
    import httpx

    from conformance.sse import parse_sse

    answer = httpx.post(
        f"{server.url}/v1/messages",
        headers={"x-api-key": DEFAULT_API_KEY, "anthropic-version": catalog.DEFAULT_API_VERSION},
        json={
            "model": MODEL,
            "max_tokens": 8,
            "stream": True,
            "messages": [{"role": "user", "content": catalog.STOP_TRIGGERS["refusal"]}],
        },
    )
    events = parse_sse(answer.content)
    assert [e.event for e in events] == ["message_start", "ping", "message_delta", "message_stop"]
    start, delta = events[0].json, events[2].json
    assert start["message"]["usage"]["output_tokens"] == 0  # type: ignore[index]
    assert delta["delta"]["stop_details"]["type"] == "refusal"  # type: ignore[index]


def test_stop_details_check() -> None:
    from conformance.checks import stops

    def answer(reason: str, details: Any) -> Exchange:
        usage = {"input_tokens": 1, "output_tokens": 0}
        return message_exchange([], stop_reason=reason, stop_details=details, usage=usage)

    refusal = {"type": "refusal", "category": None, "explanation": None}
    assert stops.check_stop_details(answer("refusal", refusal)) == []
    assert stops.check_stop_details(answer("refusal", None)) == []
    assert stops.check_stop_details(answer("end_turn", None)) == []
    assert "only a refusal" in stops.check_stop_details(answer("end_turn", refusal))[0].message
    assert "not of type" in stops.check_stop_details(answer("refusal", {"type": "x"}))[0].message


# --- request fields -------------------------------------------------------------------------------

CONTEXT_BETA = next(b.header for b in catalog.BETAS if b.feature == "context_management")


def _history(turns: int) -> Any:
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        messages += [
            {"role": "user", "content": f"Weather {i}?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": f"toolu_0{i}", "name": "get_weather", "input": {}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"toolu_0{i}",
                        "content": "sunny and warm " * 20,
                    }
                ],
            },
            {"role": "assistant", "content": "Sunny."},
        ]
    return [*messages, {"role": "user", "content": "Thanks."}]


def test_context_management_through_the_sdk(client: anthropic.Anthropic) -> None:
    tools: Any = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    edits: Any = {
        "edits": [
            {
                "type": "clear_tool_uses_20250919",
                "trigger": {"type": "input_tokens", "value": 10},
                "keep": {"type": "tool_uses", "value": 1},
            }
        ]
    }
    plain = client.messages.count_tokens(model=MODEL, messages=_history(3), tools=tools)
    counted = client.beta.messages.count_tokens(
        model=MODEL,
        messages=_history(3),
        tools=tools,
        context_management=edits,
        betas=[CONTEXT_BETA],
    )
    assert counted.context_management is not None
    assert counted.context_management.original_input_tokens == plain.input_tokens
    assert counted.input_tokens < plain.input_tokens
    message = client.beta.messages.create(
        model=MODEL,
        max_tokens=16,
        messages=_history(3),
        tools=tools,
        context_management=edits,
        betas=[CONTEXT_BETA],
    )
    assert message.context_management is not None
    [applied] = message.context_management.applied_edits
    assert applied.type == "clear_tool_uses_20250919" and applied.cleared_tool_uses == 2
    assert message.usage.input_tokens == counted.input_tokens
    assert applied.cleared_input_tokens == plain.input_tokens - counted.input_tokens
    with pytest.raises(anthropic.BadRequestError, match=r"edits\.0\.type"):
        client.beta.messages.count_tokens(
            model=MODEL,
            messages=_history(1),
            context_management={"edits": [{"type": "forget"}]},
            betas=[CONTEXT_BETA],
        )


def test_high_trigger_clears_nothing(client: anthropic.Anthropic) -> None:
    message = client.beta.messages.create(
        model=MODEL,
        max_tokens=16,
        messages=_history(2),
        betas=[CONTEXT_BETA],
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        context_management={"edits": [{"type": "clear_tool_uses_20250919"}]},
    )
    assert message.context_management is not None
    assert message.context_management.applied_edits == []


@pytest.mark.parametrize("tier", ["auto", "standard_only"])
def test_service_tier_and_metadata_through_the_sdk(client: anthropic.Anthropic, tier: Any) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=8, service_tier=tier, metadata={"user_id": "u-1"}, messages=ASK
    )
    assert message.usage.service_tier == "standard"
    with pytest.raises(anthropic.BadRequestError, match=r"metadata\.user_id"):
        client.messages.create(model=MODEL, max_tokens=8, messages=ASK, metadata={"user_id": 7})  # type: ignore[typeddict-item]


# --- server tools ---------------------------------------------------------------------------------

SEARCH_TOOL: Any = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]


def test_web_search_through_the_sdk(client: anthropic.Anthropic) -> None:
    ask: Any = [{"role": "user", "content": "Who won the Tour de France?"}]
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=200, messages=ask, tools=SEARCH_TOOL
    )
    assert_schema_valid(raw.http_response.json())
    message = raw.parse()
    with client.messages.stream(
        model=MODEL, max_tokens=200, messages=ask, tools=SEARCH_TOOL
    ) as stream:
        folded = stream.get_final_message()
    for got in (message, folded):
        use, result, _, cited = got.content
        assert use.type == "server_tool_use" and use.id.startswith("srvtoolu_")
        assert use.input == {"query": "Who won the Tour de France?"}
        assert result.type == "web_search_tool_result" and result.tool_use_id == use.id
        assert isinstance(result.content, list) and len(result.content) == 2
        assert cited.type == "text" and cited.citations
        cite = cited.citations[0]
        assert cite.type == "web_search_result_location"
        assert cite.url == result.content[0].url and cite.cited_text == cited.text
        assert got.usage.server_tool_use is not None
        assert got.usage.server_tool_use.web_search_requests == 1
        assert got.stop_reason == "end_turn"
    # the turn passed back as history, then a plain answer
    follow: Any = [
        *ask,
        {"role": "assistant", "content": raw.http_response.json()["content"]},
        {"role": "user", "content": "Reply with exactly: thanks"},
    ]
    again = client.messages.create(model=MODEL, max_tokens=16, messages=follow, tools=SEARCH_TOOL)
    assert again.content[0].type == "text" and again.content[0].text == "thanks"


@pytest.mark.parametrize(
    ("tool", "match"),
    [
        ({"name": "search"}, r"tools\.0\.name"),
        ({"max_uses": 0}, r"max_uses"),
        ({"allowed_domains": ["a.example"], "blocked_domains": ["b.example"]}, "cannot be used"),
    ],
)
def test_bad_web_search_tool_rejected(
    client: anthropic.Anthropic, tool: dict[str, Any], match: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=match):
        client.messages.create(
            model=MODEL, max_tokens=8, messages=ASK, tools=[{**SEARCH_TOOL[0], **tool}]
        )


def test_no_search_under_tool_choice_none(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=32, messages=ASK, tools=SEARCH_TOOL, tool_choice={"type": "none"}
    )
    assert [b.type for b in message.content] == ["text"]
    assert message.usage.server_tool_use is None


def test_server_tool_results_check() -> None:
    from conformance.checks import server_tools

    use = {
        "type": "server_tool_use",
        "id": "srvtoolu_1",
        "name": "web_search",
        "input": {"query": "q"},
    }
    result = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": [
            {
                "type": "web_search_result",
                "url": "https://a.example",
                "title": "A",
                "encrypted_content": "x",
                "page_age": None,
            }
        ],
    }
    cite = {
        "type": "web_search_result_location",
        "cited_text": "t",
        "url": "https://a.example",
        "title": "A",
        "encrypted_index": "y",
    }

    def answer(content: list[Any], counted: int | None = 1, stop: str = "end_turn") -> Exchange:
        usage: dict[str, Any] = {"input_tokens": 1, "output_tokens": 1}
        if counted is not None:
            usage["server_tool_use"] = {"web_search_requests": counted}
        body = {
            "id": "msg_01x",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        return Exchange(
            "POST",
            "/v1/messages",
            200,
            {"content-type": "application/json"},
            json.dumps(body).encode(),
            request_json={},
        )

    text = {"type": "text", "text": "t", "citations": [cite]}
    check = server_tools.check_server_tool_results
    assert check(answer([use, result, text])) == []
    assert "no result block" in check(answer([use, text]))[0].message
    assert check(answer([use], counted=None, stop="pause_turn")) == []  # not run yet
    assert "web_search_requests is None" in check(answer([use, result], counted=None))[0].message
    stray = {**text, "citations": [{**cite, "url": "https://elsewhere.example"}]}
    assert "not among" in check(answer([use, result, stray]))[0].message
