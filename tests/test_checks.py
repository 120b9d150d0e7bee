"""The named semantic checks on small hand-built exchanges: good ones pass, broken ones are named.

Each broken case states the check, the JSON pointer and a phrase of the message a human reads,
so a check that goes quiet, points elsewhere or says something vague fails here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from conformance.checks import (
    checks_for,
    common,
    effects,
    leaks,
    messages,
    models,
    pagination,
    ratelimit,
    run_checks,
)
from conformance.exchange import Exchange, Finding
from conformance.sse import format_sse, parse_sse

RID = "req_011CTestRequest"
JSON_HEADERS = {"request-id": RID, "content-type": "application/json"}
SSE_HEADERS = {"request-id": RID, "content-type": "text/event-stream; charset=utf-8"}
REQUEST: dict[str, Any] = {
    "model": "claude-haiku-4-5",
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Weather in Paris?"}],
}

Event = tuple[str, dict[str, Any]]

# A streamed answer with a text block and a tool_use block whose input arrives in pieces.
GOOD_EVENTS: list[Event] = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01Abc",
                "type": "message",
                "role": "assistant",
                "model": "claude-haiku-4-5-20251001",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 12,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        },
    ),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    ("ping", {"type": "ping"}),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Let me check."},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_01Xyz",
                "name": "get_weather",
                "input": {},
            },
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"city": "Par'},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": 'is"}'},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 30},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]

# What the real API sends: CRLF line ends, JSON padded with spaces, a ping with a space in it.
REAL_STREAM = (
    "event: message_start\r\n"
    'data: {"type":"message_start","message":{"model":"claude-haiku-4-5-20251001","id":'
    '"msg_01RealLooking","type":"message","role":"assistant","content":[],"stop_reason":null,'
    '"stop_sequence":null,"usage":{"input_tokens":17,"cache_creation_input_tokens":0,'
    '"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,'
    '"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}     }\r\n\r\n'
    "event: content_block_start\r\n"
    'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}  }'
    "\r\n\r\n"
    'event: ping\r\ndata: {"type": "ping"}\r\n\r\n'
    "event: content_block_delta\r\n"
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}'
    "\r\n\r\n"
    "event: content_block_delta\r\n"
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}   '
    "\r\n\r\n"
    'event: content_block_stop\r\ndata: {"type":"content_block_stop","index":0        }\r\n\r\n'
    "event: message_delta\r\n"
    'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    '"usage":{"input_tokens":17,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
    '"output_tokens":5}}      \r\n\r\n'
    'event: message_stop\r\ndata: {"type":"message_stop"   }\r\n\r\n'
)

GOOD_MESSAGE: dict[str, Any] = {
    "id": "msg_01Abc",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "toolu_01Xyz",
            "name": "get_weather",
            "input": {"city": "Paris"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 12,
        "output_tokens": 30,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    },
}


def stream(
    events: list[Event], *, request: Any = None, headers: Any = None, raw: bytes | None = None
) -> Exchange:
    """A streamed messages.create exchange, framed and parsed back the way the client does."""
    body = raw if raw is not None else format_sse(events)
    return Exchange(
        "POST",
        "/v1/messages",
        200,
        dict(SSE_HEADERS if headers is None else headers),
        body,
        request_json={**REQUEST, "stream": True} if request is None else request,
        events=parse_sse(body),
    )


def answer(
    body: Any,
    *,
    status: int = 200,
    method: str = "POST",
    path: str = "/v1/messages",
    request: Any = None,
    headers: Any = None,
    url: str = "",
) -> Exchange:
    """A JSON exchange; ``body`` may be raw bytes."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Exchange(
        method,
        path,
        status,
        dict(JSON_HEADERS if headers is None else headers),
        raw,
        request_json=REQUEST if request is None else request,
        url=url,
    )


def events_with(*changes: Callable[[list[Event]], None]) -> list[Event]:
    """A copy of GOOD_EVENTS with ``changes`` applied in order."""
    events = copy.deepcopy(GOOD_EVENTS)
    for change in changes:
        change(events)
    return events


def message_with(**changes: Any) -> dict[str, Any]:
    msg = copy.deepcopy(GOOD_MESSAGE)
    msg.update(changes)
    return msg


def page(ids: list[str], *, has_more: bool = False, first: Any = "", last: Any = "") -> Any:
    return {
        "data": [
            {"type": "model", "id": i, "display_name": i, "created_at": "2025-10-15T00:00:00Z"}
            for i in ids
        ],
        "has_more": has_more,
        "first_id": (ids[0] if ids else None) if first == "" else first,
        "last_id": (ids[-1] if ids else None) if last == "" else last,
    }


def models_page(body: Any, query: str = "") -> Exchange:
    path = "/v1/models" + (f"?{query}" if query else "")
    return answer(body, method="GET", path=path, request={})


def error(status: int, etype: str, message: str = "max_tokens: Field required") -> dict[str, Any]:
    return {"type": "error", "error": {"type": etype, "message": message}, "request_id": RID}


# --- good answers: no findings from any check -----------------------------------------------------

ALL_CHECKS = checks_for("messages.create")


@pytest.mark.parametrize(
    "exchange",
    [
        pytest.param(stream(GOOD_EVENTS), id="stream-text-and-tool"),
        pytest.param(stream([], raw=REAL_STREAM.encode()), id="real-crlf-padded-stream"),
        pytest.param(answer(GOOD_MESSAGE), id="json-message"),
        pytest.param(
            answer(
                message_with(
                    content=[{"type": "text", "text": "1, 2, 3"}],
                    stop_reason="stop_sequence",
                    stop_sequence="4",
                ),
                request={**REQUEST, "stop_sequences": ["4"]},
            ),
            id="stop-sequence",
        ),
        pytest.param(
            answer(
                message_with(
                    content=[{"type": "tool_use", "id": "toolu_01", "name": "f", "input": {}}],
                    stop_reason="max_tokens",
                    usage={"input_tokens": 5, "output_tokens": 256},
                )
            ),
            id="tool-use-cut-by-max-tokens",
        ),
        pytest.param(answer(error(404, "not_found_error"), status=404), id="404"),
        pytest.param(answer(error(422, "invalid_request_error"), status=422), id="422-generic"),
        pytest.param(
            answer(
                error(529, "overloaded_error"),
                status=529,
                headers={**JSON_HEADERS, "retry-after": "7"},
            ),
            id="529-retry-after",
        ),
        pytest.param(
            stream([*GOOD_EVENTS[:4], ("error", error(529, "overloaded_error"))]),
            id="stream-ends-with-error-event",
        ),
        pytest.param(
            stream(
                [
                    *GOOD_EVENTS[:3],
                    ("future_event", {"type": "future_event", "x": 1}),
                    *GOOD_EVENTS[3:],
                ]
            ),
            id="unknown-event-tolerated",
        ),
    ],
)
def test_good_answers_have_no_findings(exchange: Exchange) -> None:
    found = [f for check in ALL_CHECKS for f in check(exchange)]
    assert found == [], "\n".join(f.format() for f in found)


def test_real_stream_parses_into_the_expected_events() -> None:
    # Guards the fixture above: a parse that silently dropped events would pass every check.
    ex = stream([], raw=REAL_STREAM.encode())
    assert ex.events is not None
    assert [e.type for e in ex.events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


# --- broken answers: the right check, at the right place, in words a human reads -----------------


def _swap(i: int, j: int) -> Callable[[list[Event]], None]:
    def change(ev: list[Event]) -> None:
        ev[i], ev[j] = ev[j], ev[i]

    return change


def _set(i: int, path: tuple[str | int, ...], value: Any) -> Callable[[list[Event]], None]:
    def change(ev: list[Event]) -> None:
        node: Any = ev[i][1]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _insert(i: int, event: Event) -> Callable[[list[Event]], None]:
    return lambda ev: ev.insert(i, event)


def _drop(i: int) -> Callable[[list[Event]], None]:
    def change(ev: list[Event]) -> None:
        del ev[i]

    return change


_STRAY_DELTA: Event = (
    "content_block_delta",
    {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "x"}},
)

BROKEN: list[Any] = [
    # (id, exchange, check function, check name, pointer, phrase in the message)
    (
        "reordered-sse",
        stream(events_with(_swap(9, 10))),
        messages.check_sse_grammar,
        "sse-grammar",
        "/events/9",
        "while block 1 was still open",
    ),
    (
        "delta-for-unstarted-block",
        stream(events_with(_insert(9, _STRAY_DELTA))),
        messages.check_sse_grammar,
        "sse-grammar",
        "/events/9/index",
        "never started",
    ),
    (
        "delta-after-stop",
        stream(events_with(_set(6, ("index",), 0))),
        messages.check_sse_grammar,
        "sse-grammar",
        "/events/6/index",
        "which was already stopped",
    ),
    (
        "missing-message-stop",
        stream(events_with(_drop(11))),
        messages.check_sse_grammar,
        "sse-grammar",
        "/events",
        "ended without message_stop",
    ),
    (
        "event-after-message-stop",
        stream([*GOOD_EVENTS, ("message_delta", GOOD_EVENTS[10][1])]),
        messages.check_sse_grammar,
        "sse-grammar",
        "/events/12",
        "after the stream had ended",
    ),
    (
        "message-start-not-first",
        stream(events_with(_swap(0, 1))),
        messages.check_sse_grammar,
        "sse-grammar",
        "/events/0",
        "before message_start",
    ),
    (
        "index-skips",
        stream(events_with(_set(5, ("index",), 2))),
        messages.check_sse_grammar,
        "sse-grammar",
        "/events/5/index",
        "has index 2, expected 1",
    ),
    (
        "event-name-vs-type",
        stream(events_with(_set(2, ("type",), "pong"))),
        messages.check_sse_grammar,
        "sse-grammar",
        "/events/2/type",
        "JSON type is 'pong'",
    ),
    (
        "stream-error-event-openai-shape",
        stream(
            [
                *GOOD_EVENTS[:4],
                ("error", {"error": {"message": "x", "type": "server_error", "code": None}}),
            ]
        ),
        messages.check_sse_grammar,
        "error-envelope",
        "/events/4",
        "OpenAI-style",
    ),
    (
        "text-block-gets-json-delta",
        stream(
            events_with(_set(3, ("delta",), {"type": "input_json_delta", "partial_json": "{}"}))
        ),
        messages.check_delta_types,
        "delta-types",
        "/events/3/delta/type",
        "text block, which takes citations_delta, text_delta; got input_json_delta",
    ),
    (
        "input-json-does-not-join",
        stream(events_with(_set(8, ("delta", "partial_json"), 'is"'))),
        messages.check_input_json,
        "input-json",
        "/events/8/delta/partial_json",
        "join to text that is not JSON",
    ),
    (
        "input-json-is-an-array",
        stream(
            events_with(
                _set(7, ("delta", "partial_json"), "[1,"), _set(8, ("delta", "partial_json"), "2]")
            )
        ),
        messages.check_input_json,
        "input-json",
        "/events/8/delta/partial_json",
        "an array",
    ),
    (
        "stream-does-not-fold",
        stream(events_with(_swap(0, 1))),
        messages.check_stream_accumulates,
        "stream-accumulates",
        "/events",
        "cannot be folded",
    ),
    (
        "folded-stop-reason-null",
        stream(events_with(_set(10, ("delta", "stop_reason"), None))),
        messages.check_stream_accumulates,
        "stream-accumulates",
        "/accumulated/stop_reason",
        "stop_reason is still null",
    ),
    (
        "json-message-missing-usage",
        answer(message_with(usage=None)),
        messages.check_final_usage,
        "final-usage",
        "/usage",
        "the message has no usage object",
    ),
    (
        "message-delta-missing-usage",
        stream(events_with(_set(10, ("usage",), {}))),
        messages.check_final_usage,
        "final-usage",
        "/events/10/usage/output_tokens",
        "usage.output_tokens is missing",
    ),
    (
        "output-tokens-go-down",
        stream(events_with(_set(10, ("usage", "output_tokens"), 0))),
        messages.check_final_usage,
        "final-usage",
        "/events/10/usage/output_tokens",
        "went down from 1 to 0",
    ),
    (
        "stop-sequence-with-end-turn",
        answer(
            message_with(
                content=[{"type": "text", "text": "hi"}],
                stop_reason="end_turn",
                stop_sequence="###",
            )
        ),
        messages.check_stop_fields,
        "stop-fields",
        "/stop_sequence",
        "stop_sequence is '###' but stop_reason is 'end_turn'",
    ),
    (
        "stop-sequence-with-end-turn-streamed",
        stream(
            events_with(
                _set(10, ("delta", "stop_reason"), "end_turn"),
                _set(10, ("delta", "stop_sequence"), "###"),
            )
        ),
        messages.check_stop_fields,
        "stop-fields",
        "/events/10/delta/stop_sequence",
        'only set when stop_reason is "stop_sequence"',
    ),
    (
        "stop-sequence-not-requested",
        answer(
            message_with(content=[], stop_reason="stop_sequence", stop_sequence="END"),
            request={**REQUEST, "stop_sequences": ["STOP"]},
        ),
        messages.check_stop_fields,
        "stop-fields",
        "/stop_sequence",
        "not one of the request's",
    ),
    (
        "tool-use-reason-without-block",
        answer(message_with(content=[{"type": "text", "text": "hi"}])),
        messages.check_stop_fields,
        "stop-fields",
        "/stop_reason",
        "has no tool_use block",
    ),
    (
        "tool-use-block-with-end-turn",
        answer(message_with(stop_reason="end_turn")),
        messages.check_stop_fields,
        "stop-fields",
        "/stop_reason",
        "has a tool_use block",
    ),
    (
        "stop-reason-null",
        answer(message_with(stop_reason=None)),
        messages.check_stop_fields,
        "stop-fields",
        "/stop_reason",
        "null in a finished message",
    ),
    (
        "message-start-with-stop-reason",
        stream(events_with(_set(0, ("message", "stop_reason"), "end_turn"))),
        messages.check_stop_fields,
        "stop-fields",
        "/events/0/message/stop_reason",
        "null until the message_delta",
    ),
    (
        "over-max-tokens",
        answer(GOOD_MESSAGE, request={**REQUEST, "max_tokens": 16}),
        messages.check_max_tokens,
        "max-tokens",
        "/usage/output_tokens",
        "output_tokens is 30 but the request allowed max_tokens 16",
    ),
    (
        "max-tokens-with-no-output",
        answer(
            message_with(stop_reason="max_tokens", usage={"input_tokens": 3, "output_tokens": 0})
        ),
        messages.check_max_tokens,
        "max-tokens",
        "/usage/output_tokens",
        "output_tokens is 0",
    ),
    (
        "negative-tokens",
        answer(message_with(usage={"input_tokens": -1, "output_tokens": 3})),
        messages.check_usage_arithmetic,
        "usage-arithmetic",
        "/usage/input_tokens",
        "input_tokens should be a non-negative integer, got -1",
    ),
    (
        "cache-breakdown-exceeds-total",
        answer(
            message_with(
                usage={
                    "input_tokens": 3,
                    "output_tokens": 3,
                    "cache_creation_input_tokens": 10,
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": 8,
                        "ephemeral_1h_input_tokens": 4,
                    },
                }
            )
        ),
        messages.check_usage_arithmetic,
        "usage-arithmetic",
        "/usage/cache_creation",
        "adds up to 12, more than cache_creation_input_tokens 10",
    ),
    (
        "delta-input-tokens-differ",
        stream(events_with(_set(10, ("usage",), {"output_tokens": 30, "input_tokens": 99}))),
        messages.check_usage_arithmetic,
        "usage-arithmetic",
        "/events/10/usage/input_tokens",
        "input_tokens 99 but message_start said 12",
    ),
    # common checks
    (
        "missing-request-id",
        answer(GOOD_MESSAGE, headers={"content-type": "application/json"}),
        common.check_request_id,
        "request-id",
        "/headers/request-id",
        "no request-id header",
    ),
    (
        "request-id-wrong-prefix",
        answer(GOOD_MESSAGE, headers={**JSON_HEADERS, "request-id": "chatcmpl-1"}),
        common.check_request_id,
        "request-id",
        "/headers/request-id",
        "should start with 'req_'",
    ),
    (
        "stream-sent-as-json",
        stream(GOOD_EVENTS, headers={**SSE_HEADERS, "content-type": "application/json"}),
        common.check_content_type,
        "content-type",
        "/headers/content-type",
        "expected content-type text/event-stream",
    ),
    (
        "error-as-html",
        answer(
            b"<html>oops</html>", status=500, headers={**JSON_HEADERS, "content-type": "text/html"}
        ),
        common.check_content_type,
        "content-type",
        "/headers/content-type",
        "got text/html",
    ),
    (
        "openai-error-shape",
        answer(
            {"error": {"message": "bad", "type": "invalid_request_error", "code": None}}, status=400
        ),
        common.check_error_envelope,
        "error-envelope",
        "",
        "OpenAI-style error",
    ),
    (
        "no-type-error",
        answer({"error": {"type": "invalid_request_error", "message": "x"}}, status=400),
        common.check_error_envelope,
        "error-envelope",
        "/type",
        'expected "type": "error"',
    ),
    (
        "404-with-invalid-request-error",
        answer(error(404, "invalid_request_error"), status=404),
        common.check_error_envelope,
        "error-envelope",
        "/error/type",
        "HTTP 404 should carry error.type not_found_error, got 'invalid_request_error'",
    ),
    (
        "empty-error-message",
        answer(error(400, "invalid_request_error", ""), status=400),
        common.check_error_envelope,
        "error-envelope",
        "/error/message",
        "non-empty string",
    ),
    (
        "error-not-json",
        answer(b"Bad Gateway", status=502),
        common.check_error_envelope,
        "error-envelope",
        "",
        "not JSON",
    ),
    (
        "message-id-prefix",
        answer(message_with(id="chatcmpl-123")),
        common.check_ids,
        "id-prefix",
        "/id",
        "expected a message id starting with 'msg_', got 'chatcmpl-123'",
    ),
    (
        "tool-use-id-prefix",
        answer(
            message_with(
                content=[
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "f",
                        "input": {"type": "user", "id": "free-form"},
                    }
                ]
            )
        ),
        common.check_ids,
        "id-prefix",
        "/content/0/id",
        "starting with 'toolu_'",
    ),
    (
        "streamed-server-tool-id-prefix",
        stream(
            events_with(
                _set(
                    5,
                    ("content_block",),
                    {"type": "server_tool_use", "id": "toolu_1", "name": "web_search", "input": {}},
                )
            )
        ),
        common.check_ids,
        "id-prefix",
        "/events/5/content_block/id",
        "starting with 'srvtoolu_'",
    ),
    (
        "retry-after-not-a-number",
        answer(
            error(429, "rate_limit_error"),
            status=429,
            headers={**JSON_HEADERS, "retry-after": "soon"},
        ),
        common.check_retry_after,
        "retry-after",
        "/headers/retry-after",
        "got 'soon'",
    ),
    (
        "retry-after-negative",
        answer(
            error(529, "overloaded_error"),
            status=529,
            headers={**JSON_HEADERS, "retry-after": "-1"},
        ),
        common.check_retry_after,
        "retry-after",
        "/headers/retry-after",
        "non-negative number",
    ),
    # models
    (
        "last-id-mismatch",
        models_page(page(["m-a", "m-b"], last="m-a")),
        pagination.check_page_cursors,
        "page-cursors",
        "/last_id",
        "last_id is 'm-a' but data[-1].id is 'm-b'",
    ),
    (
        "first-id-on-empty-page",
        models_page(page([], first="m-a")),
        pagination.check_page_cursors,
        "page-cursors",
        "/first_id",
        "data is empty",
    ),
    (
        "page-over-limit",
        models_page(page(["m-a", "m-b", "m-c"]), "limit=2"),
        pagination.check_page_cursors,
        "page-cursors",
        "/data",
        "3 items but the request asked for",
    ),
    (
        "page-includes-cursor",
        models_page(page(["m-a", "m-b"]), "after_id=m-a"),
        pagination.check_page_cursors,
        "page-cursors",
        "/data/0/id",
        "after_id cursor itself",
    ),
    (
        "has-more-not-bool",
        models_page({**page(["m-a"]), "has_more": "no"}),
        pagination.check_page_cursors,
        "page-cursors",
        "/has_more",
        "should be a boolean",
    ),
    (
        "alias-resolves-elsewhere",
        answer(
            {"type": "model", "id": "claude-sonnet-4-5-20250929"},
            method="GET",
            path="/v1/models/claude-haiku-4-5",
            request={},
        ),
        models.check_model_alias,
        "model-alias",
        "/id",
        "asked for model 'claude-haiku-4-5'",
    ),
]


@pytest.mark.parametrize(
    ("exchange", "check", "name", "pointer", "phrase"),
    [pytest.param(*c[1:], id=c[0]) for c in BROKEN],
)
def test_broken_answers_are_reported(
    exchange: Exchange,
    check: Callable[[Exchange], list[Finding]],
    name: str,
    pointer: str,
    phrase: str,
) -> None:
    found = check(exchange)
    hits = [f for f in found if f.check == name and f.pointer == pointer]
    assert hits, f"no {name} finding at {pointer!r}; got:\n" + "\n".join(f.format() for f in found)
    assert any(phrase in f.message for f in hits), [f.message for f in hits]
    assert all(f.rule for f in hits), "every finding states its rule"
    assert all(f.request_id == exchange.request_id for f in hits)


# --- leniency where the real API is lenient -------------------------------------------------------


def test_server_tool_rounds_may_raise_input_tokens_in_message_delta() -> None:
    # Recorded web-search streams report more input in message_delta than in message_start.
    events = events_with(
        _set(
            5,
            ("content_block",),
            {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {}},
        )
    )
    events[10][1]["usage"] = {"output_tokens": 30, "input_tokens": 900}
    events[10][1]["delta"]["stop_reason"] = "end_turn"
    assert messages.check_usage_arithmetic(stream(events)) == []
    assert messages.check_stop_fields(stream(events)) == []
    events[10][1]["usage"]["input_tokens"] = 3  # but never less
    assert [f.check for f in messages.check_usage_arithmetic(stream(events))] == [
        "usage-arithmetic"
    ]


def test_unknown_delta_types_and_blocks_are_tolerated() -> None:
    events = events_with(_set(3, ("delta",), {"type": "future_delta", "stuff": 1}))
    events[5][1]["content_block"] = {"type": "future_block"}
    assert messages.check_delta_types(stream(events)) == []


def test_unlisted_4xx_may_carry_a_type_the_catalog_does_not_know() -> None:
    ex = answer(error(412, "memory_precondition_failed_error"), status=412)
    assert common.check_error_envelope(ex) == []
    wrong = answer(error(412, "not_found_error"), status=412)
    assert [f.pointer for f in common.check_error_envelope(wrong)] == ["/error/type"]


def test_check_id_prefix_helper() -> None:
    assert common.check_id_prefix("msgbatch_01", "batch", "/id") == []
    [f] = common.check_id_prefix(42, "file", "/data/0/id", "req_1")
    assert (f.check, f.pointer, f.request_id) == ("id-prefix", "/data/0/id", "req_1")
    assert "got a number" in f.message


# --- models: walks and aliases --------------------------------------------------------------------


def test_pagination_walk_good() -> None:
    pages = [
        models_page(page(["m-a", "m-b"], has_more=True), "limit=2"),
        models_page(page(["m-c"]), "limit=2&after_id=m-b"),
    ]
    assert pagination.check_pagination_walk(pages) == []


@pytest.mark.parametrize(
    ("pages", "pointer", "phrase"),
    [
        pytest.param(
            [models_page(page(["m-a", "m-b"], has_more=True)), models_page(page(["m-b", "m-c"]))],
            "/pages/1/data/0/id",
            "already served at /pages/0/data/1/id",
            id="repeated-id",
        ),
        pytest.param(
            [models_page(page(["m-a"], has_more=True)), models_page(page(["m-a"], has_more=True))],
            "/pages/1/has_more",
            "last page of the walk says has_more True",
            id="last-page-has-more",
        ),
        pytest.param(
            [models_page(page(["m-a"])), models_page(page(["m-b"]))],
            "/pages/0/has_more",
            "yet the walk went on",
            id="early-has-more-false",
        ),
        pytest.param(
            [models_page(page(["m-a"], has_more=True)), models_page(page(["m-b"]), "after_id=m-z")],
            "/pages/1/request/after_id",
            "previous page's last_id is 'm-a'",
            id="wrong-cursor",
        ),
    ],
)
def test_pagination_walk_broken(pages: list[Exchange], pointer: str, phrase: str) -> None:
    found = pagination.check_pagination_walk(pages)
    hits = [f for f in found if f.pointer == pointer and f.check == "pagination-walk"]
    assert hits, [f.format() for f in found]
    assert phrase in hits[0].message


@pytest.mark.parametrize(
    ("requested", "got", "ok"),
    [
        ("claude-haiku-4-5", "claude-haiku-4-5-20251001", True),
        ("claude-sonnet-4-0", "claude-sonnet-4-20250514", True),  # alias not a prefix of the id
        ("claude-opus-4-6", "claude-opus-4-6", True),
        ("claude-haiku-4-5", "claude-haiku-4-5-20991231", True),  # a newer snapshot
        ("claude-sonnet-4-0", "claude-opus-4-1-20250805", False),
        ("claude-haiku-4-5", None, False),
    ],
)
def test_alias_resolution(requested: str, got: Any, ok: bool) -> None:
    found = models.check_alias_resolution(requested, {"type": "model", "id": got})
    assert (found == []) is ok, [f.format() for f in found]
    assert all(f.check == "model-alias" for f in found)


# --- the registry ---------------------------------------------------------------------------------


def test_run_checks_dispatches_on_the_endpoint() -> None:
    bad_page = models_page(page(["m-a"], last="m-z"))
    assert "page-cursors" in {f.check for f in run_checks(bad_page)}
    # The same body on an endpoint the catalog lacks only gets the common checks.
    unknown = answer(page(["m-a"], last="m-z"), method="GET", path="/v1/elsewhere")
    assert run_checks(unknown) == []


# --- the request had its effect (checks/effects.py), leaks, rate limits ---------------------------

WEATHER = {
    "name": "get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
FORCED = {**REQUEST, "tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get_weather"}}
STRICT = {**REQUEST, "tools": [{**WEATHER, "strict": True}]}
TEXT_ONLY = message_with(content=[{"type": "text", "text": "No tool."}], stop_reason="end_turn")
TRACEBACK = (
    'Traceback (most recent call last):\n  File "/srv/gateway/app.py", line 12, in '
    "handle\nKeyError: 'max_tokens'"
)


@pytest.mark.parametrize(
    ("exchange", "name", "pointer", "phrase"),
    [
        pytest.param(
            answer(message_with(model="claude-opus-4-6")),
            effects.MODEL_ECHO,
            "/model",
            "asked for model 'claude-haiku-4-5'",
            id="model-rewritten",
        ),
        pytest.param(
            stream(events_with(_set(0, ("message", "model"), "gpt-4o"))),
            effects.MODEL_ECHO,
            "/events/0/message/model",
            "'gpt-4o'",
            id="model-rewritten-stream",
        ),
        pytest.param(
            answer(TEXT_ONLY, request=FORCED),
            effects.TOOL_CHOICE,
            "/content",
            "forces tool 'get_weather'",
            id="forced-tool-not-called",
        ),
        pytest.param(
            stream(
                events_with(_set(1, ("content_block", "text"), "")),
                request={
                    **FORCED,
                    "tool_choice": {"type": "tool", "name": "other"},
                    "stream": True,
                },
            ),
            effects.TOOL_CHOICE,
            "/accumulated/content",
            "calls ['get_weather']",
            id="forced-tool-other-name-stream",
        ),
        pytest.param(
            answer(GOOD_MESSAGE, request={**FORCED, "tool_choice": {"type": "none"}}),
            effects.TOOL_CHOICE,
            "/content/1",
            'tool_choice is "none"',
            id="none-called",
        ),
        pytest.param(
            answer(
                message_with(
                    content=[
                        {
                            "type": "tool_use",
                            "id": "toolu_01",
                            "name": "get_weather",
                            "input": {"town": "P"},
                        }
                    ]
                ),
                request=STRICT,
            ),
            effects.TOOL_INPUT_SCHEMA,
            "/content/0/input",
            "'city' is a required property",
            id="strict-input-invalid",
        ),
        pytest.param(
            answer(error(400, "invalid_request_error", "Bad Request"), status=400),
            effects.ERROR_MESSAGE,
            "/error/message",
            "says only 'Bad Request'",
            id="generic-400",
        ),
        pytest.param(
            answer(error(500, "api_error", TRACEBACK), status=500),
            leaks.ERROR_LEAK,
            "/error/message",
            "a Python traceback",
            id="traceback-in-500",
        ),
        pytest.param(
            answer(
                error(
                    400,
                    "invalid_request_error",
                    "bad input at /usr/local/lib/python3.12/site-packages/x.py",
                ),
                status=400,
            ),
            leaks.ERROR_LEAK,
            "/error/message",
            "a server file path",
            id="path-in-400",
        ),
        pytest.param(
            stream([], raw=format_sse(GOOD_EVENTS) + b"data: [DONE]\n\n"),
            messages.check_sse_grammar,
            f"/events/{len(GOOD_EVENTS)}/data",
            "OpenAI end-of-stream sentinel",
            id="done-sentinel",
        ),
    ],
)
def test_request_effects_and_leaks_are_reported(
    exchange: Exchange, name: Any, pointer: str, phrase: str
) -> None:
    endpoint = exchange.endpoint.name if exchange.endpoint else None
    check = name if callable(name) else next(c for c in checks_for(endpoint) if c.name == name)
    test_broken_answers_are_reported(exchange, check, check.name, pointer, phrase)


@pytest.mark.parametrize(
    "exchange",
    [
        pytest.param(answer(GOOD_MESSAGE, request=FORCED), id="forced-tool-called"),
        pytest.param(answer(message_with(model="claude-haiku-4-5")), id="alias-echoed"),
        pytest.param(
            answer(
                message_with(model="claude-3-opus-20240229"),
                request={**REQUEST, "model": "claude-3-opus-latest"},
            ),
            id="latest-alias",
        ),
        pytest.param(
            answer(
                message_with(stop_reason="max_tokens", content=[{"type": "text", "text": "cut"}]),
                request=FORCED,
            ),
            id="forced-but-cut-short",
        ),
        pytest.param(
            answer(
                message_with(
                    content=[
                        {
                            "type": "tool_use",
                            "id": "toolu_01",
                            "name": "get_weather",
                            "input": {"town": "P"},
                        }
                    ]
                ),
                request=FORCED,
            ),
            id="non-strict-input-not-judged",
        ),
        pytest.param(
            answer(error(404, "not_found_error", "Not Found"), status=404),
            id="404-not-found-is-the-api-wording",
        ),
    ],
)
def test_effects_leave_faithful_answers_alone(exchange: Exchange) -> None:
    found = [
        f
        for f in run_checks(exchange)
        if f.check
        in (
            effects.MODEL_ECHO,
            effects.TOOL_CHOICE,
            effects.TOOL_INPUT_SCHEMA,
            effects.ERROR_MESSAGE,
            leaks.ERROR_LEAK,
        )
    ]
    assert found == [], "\n".join(f.format() for f in found)


def test_error_leak_is_a_warning() -> None:
    found = run_checks(answer(error(500, "api_error", TRACEBACK), status=500))
    assert {f.severity for f in found if f.check == leaks.ERROR_LEAK} == {"warning"}


RATELIMITS = {
    f"anthropic-ratelimit-{kind}-{part}": value
    for kind in ratelimit.KINDS
    for part, value in (("limit", "50"), ("remaining", "49"), ("reset", "2026-03-02T12:01:00Z"))
}


def test_ratelimit_headers_good_and_broken() -> None:
    assert (
        ratelimit.ratelimit_findings(answer(GOOD_MESSAGE, headers={**JSON_HEADERS, **RATELIMITS}))
        == []
    )
    missing = ratelimit.ratelimit_findings(answer(GOOD_MESSAGE))
    assert len(missing) == len(ratelimit.KINDS) and all(
        f.severity == "warning" and "cannot see its rate limit" in f.message for f in missing
    )
    broken = ratelimit.ratelimit_findings(
        answer(
            GOOD_MESSAGE,
            headers={
                **JSON_HEADERS,
                **RATELIMITS,
                "anthropic-ratelimit-requests-remaining": "51",
                "anthropic-ratelimit-tokens-limit": "lots",
                "anthropic-ratelimit-input-tokens-reset": "1m",
            },
        )
    )
    assert sorted(f.pointer for f in broken) == [
        "/headers/anthropic-ratelimit-input-tokens-reset",
        "/headers/anthropic-ratelimit-requests-remaining",
        "/headers/anthropic-ratelimit-tokens-limit",
    ]
