"""The reference server against the contract: auth, versions, validation, generation, SSE, models,
mutants. Most tests go through the ASGI app in-process (fast, no sockets); one goes through the
embedded uvicorn server to prove the stream is real HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
import zlib
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from conformance import catalog, schemas
from conformance.reference import (
    DEFAULT_API_KEY,
    MUTANTS,
    EmbeddedServer,
    ReferenceConfig,
    create_app,
)
from conformance.reference.app import state_of
from conformance.sse import accumulate, parse_sse

V2023, V2026 = catalog.API_VERSIONS
MODEL = catalog.DEFAULT_MODEL


def tiny_png() -> bytes:
    """A valid 1x1 PNG, built by hand so the test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


PNG_B64 = base64.b64encode(tiny_png()).decode()
WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
            "detailed": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "where": {"type": "object", "properties": {"lat": {"type": "number"}}},
        },
        "required": ["city"],
    },
}
TIME_TOOL: dict[str, Any] = {
    "name": "get_time",
    "input_schema": {"type": "object", "properties": {}},
}


def call(
    app: Starlette,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    version: str | None = V2023,
    key: str | None = DEFAULT_API_KEY,
) -> httpx.Response:
    """One request to ``app`` through httpx's (async-only) ASGI transport."""
    sent: dict[str, str] = {}
    if key is not None:
        sent["x-api-key"] = key
    if version is not None:
        sent["anthropic-version"] = version
    sent.update(headers or {})

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reference") as client:
            return await client.request(method, path, json=json_body, content=content, headers=sent)

    return asyncio.run(go())


def body(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 200,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def prefilled(user: str, prefill: Any, **extra: Any) -> dict[str, Any]:
    """A body whose final assistant message is a prefill the answer must continue."""
    return {
        **body(user, **extra),
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": prefill}],
    }


@pytest.fixture
def app() -> Starlette:
    return create_app()


def create(app: Starlette, payload: dict[str, Any], version: str = V2023) -> dict[str, Any]:
    response = call(app, "POST", "/v1/messages", json_body=payload, version=version)
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()
    assert schemas.validate(message, "message.json") == []
    return message


def assert_error(response: httpx.Response, status: int, message_part: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.text
    payload: dict[str, Any] = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == catalog.ERROR_TYPES.get(status, "invalid_request_error")
    assert message_part in payload["error"]["message"]
    assert response.headers["request-id"].startswith("req_")
    assert payload["request_id"] == response.headers["request-id"]
    assert schemas.validate(payload, "error.json") == []
    return payload


def text_of(message: dict[str, Any]) -> str:
    return "".join(b["text"] for b in message["content"] if b["type"] == "text")


def strip_ids(message: dict[str, Any]) -> dict[str, Any]:
    """The message without its minted ids (they come from the per-request counter)."""
    copy: dict[str, Any] = json.loads(json.dumps(message))
    copy.pop("id", None)
    for block in copy["content"]:
        block.pop("id", None)
    return copy


# --- auth and versions ----------------------------------------------------------------------------


def test_both_auth_header_styles_are_accepted(app: Starlette) -> None:
    ok = call(app, "POST", "/v1/messages", json_body=body())
    assert ok.status_code == 200
    bearer = call(
        app,
        "POST",
        "/v1/messages",
        json_body=body(),
        key=None,
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
    )
    assert bearer.status_code == 200
    assert ok.headers["content-type"] == "application/json"
    assert ok.headers["anthropic-organization-id"]


def test_missing_and_unknown_keys_are_401_without_echo(app: Starlette) -> None:
    missing = call(app, "POST", "/v1/messages", json_body=body(), key=None)
    assert_error(missing, 401, "x-api-key header is required")
    wrong = call(app, "POST", "/v1/messages", json_body=body(), key="secret-wrong-key-123")
    assert_error(wrong, 401, "invalid x-api-key")
    assert "secret-wrong-key-123" not in wrong.text
    custom = create_app(ReferenceConfig(api_keys=("other",)))
    assert call(custom, "GET", "/v1/models").status_code == 401
    assert call(custom, "GET", "/v1/models", key="other").status_code == 200


def test_version_header_is_required_and_checked(app: Starlette) -> None:
    assert_error(
        call(app, "POST", "/v1/messages", json_body=body(), version=None), 400, "anthropic-version"
    )
    assert_error(
        call(app, "POST", "/v1/messages", json_body=body(), version="2020-01-01"),
        400,
        "anthropic-version",
    )


def test_sampling_parameters_depend_on_the_version(app: Starlette) -> None:
    create(app, body(temperature=0.5, top_p=0.9, top_k=5), V2023)
    for name in sorted(catalog.REMOVED_PARAMETERS[V2026]):
        payload = {**body(), name: 1}
        response = call(app, "POST", "/v1/messages", json_body=payload, version=V2026)
        assert_error(response, 400, name)
    create(app, body(), V2026)


# --- validation -----------------------------------------------------------------------------------

IMAGE: dict[str, Any] = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
}


def with_content(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": list(blocks)}],
    }


def _without(key: str) -> dict[str, Any]:
    payload = body()
    payload.pop(key)
    return payload


BAD_BODIES: list[tuple[str, dict[str, Any], int, str]] = [
    ("no model", _without("model"), 400, "model: Field required"),
    ("unknown model", body(model="claude-nope-1"), 404, "model: claude-nope-1"),
    ("no max_tokens", _without("max_tokens"), 400, "max_tokens: Field required"),
    ("max_tokens zero", body(max_tokens=0), 400, "max_tokens"),
    ("max_tokens not int", body(max_tokens="10"), 400, "max_tokens"),
    ("max_tokens above model", body(max_tokens=10_000_000), 400, "max_tokens"),
    ("no messages", _without("messages"), 400, "messages: Field required"),
    ("empty messages", body() | {"messages": []}, 400, "messages"),
    (
        "bad role",
        body() | {"messages": [{"role": "system", "content": "x"}]},
        400,
        "messages.0.role: Input should be 'user' or 'assistant'",
    ),
    (
        "bad content",
        body() | {"messages": [{"role": "user", "content": 5}]},
        400,
        "messages.0.content",
    ),
    ("empty text block", with_content({"type": "text", "text": ""}), 400, "non-empty"),
    ("unknown block", with_content({"type": "video"}), 400, "messages.0.content.0.type"),
    (
        "bad media type",
        with_content({**IMAGE, "source": {**IMAGE["source"], "media_type": "image/bmp"}}),
        400,
        "media_type",
    ),
    (
        "bad base64",
        with_content({**IMAGE, "source": {**IMAGE["source"], "data": "@@@"}}),
        400,
        "base64",
    ),
    (
        "magic mismatch",
        with_content({**IMAGE, "source": {**IMAGE["source"], "media_type": "image/jpeg"}}),
        400,
        "image/jpeg",
    ),
    ("temperature range", body(temperature=1.5), 400, "temperature"),
    ("top_p range", body(top_p=-0.1), 400, "top_p"),
    ("top_k negative", body(top_k=-1), 400, "top_k"),
    ("stop_sequences not strings", body(stop_sequences=[1]), 400, "stop_sequences.0"),
    ("stream not bool", body(stream="yes"), 400, "stream"),
    ("metadata extra", body(metadata={"user": "x"}), 400, "metadata.user"),
    ("extra field", body(attachments=[]), 400, "attachments: Extra inputs are not permitted"),
    ("system not text", body(system=[{"type": "image"}]), 400, "system.0.type"),
    (
        "tool schema not object",
        body(tools=[{**TIME_TOOL, "input_schema": {"type": "array"}}]),
        400,
        "input_schema.type",
    ),
    ("tool bad name", body(tools=[{**TIME_TOOL, "name": "has space"}]), 400, "name"),
    (
        "tool_choice unknown tool",
        body(tools=[TIME_TOOL], tool_choice={"type": "tool", "name": "nope"}),
        400,
        "nope",
    ),
    (
        "tool_choice bad type",
        body(tools=[TIME_TOOL], tool_choice={"type": "sometimes"}),
        400,
        "tool_choice.type",
    ),
    ("tool_choice without tools", body(tool_choice={"type": "any"}), 400, "tool_choice"),
    (
        "orphan tool_result",
        with_content({"type": "tool_result", "tool_use_id": "toolu_x", "content": "1"}),
        400,
        "tool_use_id",
    ),
    (
        "thinking budget",
        body(thinking={"type": "enabled", "budget_tokens": 10}),
        400,
        "budget_tokens",
    ),
]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_invalid_bodies_get_the_api_error(
    app: Starlette, payload: dict[str, Any], status: int, message: str
) -> None:
    assert_error(call(app, "POST", "/v1/messages", json_body=payload), status, message)


def test_malformed_json_and_non_object_bodies_are_400(app: Starlette) -> None:
    assert_error(call(app, "POST", "/v1/messages", content=b"{not json"), 400, "JSON")
    assert_error(call(app, "POST", "/v1/messages", content=b"[1, 2]"), 400)


def test_unknown_route_and_wrong_method_use_the_envelope(app: Starlette) -> None:
    assert_error(call(app, "GET", "/v1/nothing-here"), 404)
    wrong = call(app, "GET", "/v1/messages")
    assert_error(wrong, 405)


def test_unanswered_tool_use_is_rejected(app: Starlette) -> None:
    payload = body() | {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}],
            },
            {"role": "user", "content": "go on"},
        ]
    }
    assert_error(call(app, "POST", "/v1/messages", json_body=payload), 400, "toolu_1")


# --- generation -----------------------------------------------------------------------------------


def test_messages_are_deterministic_across_apps(app: Starlette) -> None:
    first = create(app, body("Tell me something"))
    again = create(create_app(), body("Tell me something"))
    assert first == again  # same seed, same request number: byte-identical answer
    other = create(app, body("Tell me something else entirely"))
    assert text_of(other) != text_of(first)
    assert first["id"].startswith("msg_") and other["id"] != first["id"]
    assert first["model"] == catalog.find_model(MODEL).id  # type: ignore[union-attr]
    assert first["stop_reason"] == "end_turn" and first["stop_sequence"] is None
    usage = first["usage"]
    assert usage["output_tokens"] > 0 and usage["input_tokens"] > 0
    assert usage["cache_creation"] == {
        "ephemeral_5m_input_tokens": 0,
        "ephemeral_1h_input_tokens": 0,
    }
    assert usage["service_tier"] == "standard"
    seeded = create(create_app(ReferenceConfig(seed="other")), body("Tell me something"))
    assert text_of(seeded) != text_of(first)


def test_reply_with_exactly_is_obeyed(app: Starlette) -> None:
    message = create(app, body("Please.\nReply with exactly: Hello, conformance!\nThanks"))
    assert message["content"] == [{"type": "text", "text": "Hello, conformance!"}]
    assert message["usage"]["output_tokens"] == 4  # Hello , conformance !


def test_max_tokens_cuts_the_answer(app: Starlette) -> None:
    full = create(app, body("Reply with exactly: one two three four five six"))
    cut = create(app, body("Reply with exactly: one two three four five six", max_tokens=3))
    assert cut["stop_reason"] == "max_tokens"
    assert cut["usage"]["output_tokens"] == 3
    assert text_of(cut) == "one two three"
    assert text_of(full).startswith(text_of(cut))


def test_stop_sequences_cut_before_the_match(app: Starlette) -> None:
    message = create(
        app, body("Reply with exactly: alpha beta STOP gamma", stop_sequences=["nothing", "STOP"])
    )
    assert message["stop_reason"] == "stop_sequence"
    assert message["stop_sequence"] == "STOP"
    assert text_of(message) == "alpha beta "


def test_tool_choice_auto_calls_a_named_tool(app: Starlette) -> None:
    message = create(
        app, body("What's the weather in Paris? Use get_weather.", tools=[TIME_TOOL, WEATHER_TOOL])
    )
    assert [b["type"] for b in message["content"]] == ["text", "tool_use"]
    call_block = message["content"][1]
    assert call_block["id"].startswith("toolu_")
    assert call_block["name"] == "get_weather"
    assert call_block["input"] == {
        "city": "Paris",
        "unit": "celsius",
        "days": 1,
        "detailed": True,
        "tags": ["Paris"],
        "where": {"lat": 1},
    }
    assert message["stop_reason"] == "tool_use"


def test_tool_choice_auto_without_mention_answers_in_text(app: Starlette) -> None:
    message = create(app, body("Just chat with me.", tools=[WEATHER_TOOL]))
    assert [b["type"] for b in message["content"]] == ["text"]
    assert message["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "any"}, "get_time"),
        ({"type": "tool", "name": "get_weather"}, "get_weather"),
    ],
)
def test_forced_tool_choice(app: Starlette, choice: dict[str, Any], expected: str) -> None:
    message = create(app, body("Hi", tools=[TIME_TOOL, WEATHER_TOOL], tool_choice=choice))
    assert [b["type"] for b in message["content"]] == ["tool_use"]
    assert message["content"][0]["name"] == expected
    assert message["stop_reason"] == "tool_use"


def test_tool_choice_none_answers_in_text(app: Starlette) -> None:
    message = create(
        app, body("Use get_weather", tools=[WEATHER_TOOL], tool_choice={"type": "none"})
    )
    assert [b["type"] for b in message["content"]] == ["text"]


def test_tool_result_round_trip_quotes_the_result(app: Starlette) -> None:
    first = create(app, body("Weather in Paris? Use get_weather.", tools=[WEATHER_TOOL]))
    tool_use = first["content"][-1]
    follow_up = body(tools=[WEATHER_TOOL]) | {
        "messages": [
            {"role": "user", "content": "Weather in Paris? Use get_weather."},
            {"role": "assistant", "content": first["content"]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_use["id"],
                        "content": "Sunny, 21 degrees",
                    }
                ],
            },
        ]
    }
    answer = create(app, follow_up)
    assert answer["stop_reason"] == "end_turn"
    assert "Sunny, 21 degrees" in text_of(answer)


def test_image_blocks_are_answered(app: Starlette) -> None:
    message = create(app, with_content(IMAGE, {"type": "text", "text": "What is this?"}))
    assert "image/png" in text_of(message)
    url = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    create(app, with_content(url, {"type": "text", "text": "And this?"}))


# --- streaming ------------------------------------------------------------------------------------


def stream(app: Starlette, payload: dict[str, Any], version: str = V2023) -> httpx.Response:
    response = call(
        app, "POST", "/v1/messages", json_body={**payload, "stream": True}, version=version
    )
    assert response.status_code == 200, response.text
    return response


def test_stream_framing_order_and_fold(app: Starlette) -> None:
    payload = body("Reply with exactly: A streamed answer, in several small pieces.")
    response = stream(app, payload)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["request-id"].startswith("req_")
    assert response.text.startswith("event: message_start\ndata: {")
    events = parse_sse(response.content)
    names = [e.event for e in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_delta") > 1
    for event in events:
        assert event.json["type"] == event.event
        assert schemas.validate(event.json, "stream_event.json") == []
    start = events[0].json["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["output_tokens"] == 1
    folded = accumulate(events)
    assert strip_ids(folded) == strip_ids(create(app, payload))


def test_streamed_tool_use_pieces_join_to_the_input(app: Starlette) -> None:
    payload = body("Weather in Paris? Use get_weather.", tools=[WEATHER_TOOL])
    events = parse_sse(stream(app, payload).content)
    pieces = [
        e.json["delta"]["partial_json"]
        for e in events
        if e.event == "content_block_delta" and e.json["delta"]["type"] == "input_json_delta"
    ]
    assert pieces[0] == "" and len(pieces) > 2
    starts = [e.json["content_block"] for e in events if e.event == "content_block_start"]
    assert starts[1]["type"] == "tool_use" and starts[1]["input"] == {}
    folded = accumulate(events)
    assert json.loads("".join(pieces)) == folded["content"][1]["input"]
    assert strip_ids(folded) == strip_ids(create(app, payload))
    delta = next(e.json for e in events if e.event == "message_delta")
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["output_tokens"] == folded["usage"]["output_tokens"]


def test_stream_over_real_http() -> None:
    with EmbeddedServer() as server, httpx.Client(base_url=server.url) as client:
        assert server.url.startswith("http://127.0.0.1:")
        headers = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": V2023}
        with client.stream("POST", "/v1/messages", json=body(stream=True), headers=headers) as r:
            chunks = list(r.iter_bytes())
        assert len(chunks) >= 1
        events = parse_sse(b"".join(chunks))
        assert events[-1].event == "message_stop"
        assert state_of(server.app).journal[-1].endpoint == "messages.create"
    with pytest.raises(OSError):  # stopped: the port no longer accepts connections
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_extended_thinking_opens_the_reply(app: Starlette) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    payload = body("Reply with exactly: done", max_tokens=2048, thinking=thinking)
    message = create(app, payload)
    assert [b["type"] for b in message["content"]] == ["thinking", "text"]
    assert message["content"][0]["signature"] and message["content"][1]["text"] == "done"
    events = parse_sse(stream(app, payload).content)
    kinds = [e.json["delta"]["type"] for e in events if e.event == "content_block_delta"]
    assert "thinking_delta" in kinds and "signature_delta" in kinds
    assert all(schemas.validate(e.json, "stream_event.json") == [] for e in events)
    assert strip_ids(accumulate(events)) == strip_ids(message)
    forced = body(
        max_tokens=2048, thinking=thinking, tools=[TIME_TOOL], tool_choice={"type": "any"}
    )
    assert_error(call(app, "POST", "/v1/messages", json_body=forced), 400, "Thinking")


# --- count_tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        body("Count me, please."),
        body("With a system prompt", system="You are terse."),
        body(
            "Weather? get_weather",
            tools=[WEATHER_TOOL],
            tool_choice={"type": "auto"},
            system=[{"type": "text", "text": "Be brief."}],
        ),
        with_content(IMAGE, {"type": "text", "text": "Describe"}),
        prefilled("Reply with exactly: one two three four", "one two"),
    ],
)
def test_count_tokens_equals_billed_input(app: Starlette, payload: dict[str, Any]) -> None:
    billed = create(app, payload)["usage"]["input_tokens"]
    countable = {k: v for k, v in payload.items() if k not in ("max_tokens", "stream")}
    response = call(app, "POST", "/v1/messages/count_tokens", json_body=countable)
    assert response.status_code == 200, response.text
    assert response.json() == {"input_tokens": billed}


def test_count_tokens_validates_like_messages(app: Starlette) -> None:
    payload: dict[str, Any] = {
        "model": "claude-nope",
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert_error(call(app, "POST", "/v1/messages/count_tokens", json_body=payload), 404, "model")
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    assert_error(
        call(app, "POST", "/v1/messages/count_tokens", json_body=payload), 400, "max_tokens"
    )


# --- models ---------------------------------------------------------------------------------------


def test_models_pagination_walk(app: Starlette) -> None:
    newest_first = [m.id for m in sorted(catalog.MODELS, key=lambda m: m.created_at, reverse=True)]
    seen: list[str] = []
    after: str | None = None
    while True:
        query = f"?limit=2&after_id={after}" if after else "?limit=2"
        page = call(app, "GET", "/v1/models" + query).json()
        assert schemas.validate(page, "model_list.json") == []
        ids = [m["id"] for m in page["data"]]
        assert page["first_id"] == ids[0] and page["last_id"] == ids[-1]
        seen += ids
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == newest_first
    back = call(app, "GET", f"/v1/models?limit=2&before_id={newest_first[-1]}").json()
    assert [m["id"] for m in back["data"]] == newest_first[-3:-1]
    assert back["has_more"] is True
    first = call(app, "GET", f"/v1/models?before_id={newest_first[1]}").json()
    assert [m["id"] for m in first["data"]] == newest_first[:1] and first["has_more"] is False
    empty = call(app, "GET", f"/v1/models?before_id={newest_first[0]}").json()
    assert empty == {"data": [], "has_more": False, "first_id": None, "last_id": None}
    everything = call(app, "GET", "/v1/models").json()
    assert len(everything["data"]) == len(catalog.MODELS) and everything["has_more"] is False


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "after_id=claude-nope"])
def test_models_bad_queries(app: Starlette, query: str) -> None:
    assert_error(call(app, "GET", "/v1/models?" + query), 400)


def test_models_retrieve_resolves_aliases_and_versions(app: Starlette) -> None:
    model = next(m for m in catalog.MODELS if m.alias != m.id)
    old = call(app, "GET", f"/v1/models/{model.alias}").json()
    assert old["id"] == model.id and old["type"] == "model"
    assert "lifecycle" not in old
    assert schemas.validate(old, "model_info.json") == []
    new = call(app, "GET", f"/v1/models/{model.alias}", version=V2026).json()
    assert new["lifecycle"] == "active" and new["line"] == model.line
    assert new["deprecated_at"] is None and new["retires_at"] is None
    assert_error(call(app, "GET", "/v1/models/claude-nope"), 404, "claude-nope")


# --- mutants --------------------------------------------------------------------------------------


def mutant_app(name: str) -> Starlette:
    return create_app(ReferenceConfig(mutants=(name,)))


def test_every_mutant_is_described() -> None:
    assert len(MUTANTS) >= 8
    for name, mutant in MUTANTS.items():
        assert mutant.name == name and mutant.description and mutant.family
        assert any(
            (mutant.json, mutant.sse, mutant.headers, mutant.wire, mutant.raw, mutant.request)
        )


def test_unknown_mutant_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="sse-reordered"):
        ReferenceConfig(mutants=("bogus",))


def test_mutant_sse_reordered() -> None:
    names = [e.event for e in parse_sse(stream(mutant_app("sse-reordered"), body()).content)]
    assert names.index("message_delta") < max(
        i for i, n in enumerate(names) if n == "content_block_stop"
    )


def test_mutant_usage_missing() -> None:
    app = mutant_app("usage-missing")
    assert "usage" not in call(app, "POST", "/v1/messages", json_body=body()).json()
    events = parse_sse(stream(app, body()).content)
    assert "usage" not in events[0].json["message"]
    assert all("usage" not in e.json for e in events if e.event == "message_delta")


def test_mutant_error_envelope_foreign() -> None:
    response = call(mutant_app("error-envelope-foreign"), "POST", "/v1/messages", json_body={})
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert set(response.json()["error"]) == {"message", "type", "code"}


def test_mutant_stop_reason_null() -> None:
    message = call(mutant_app("stop-reason-null"), "POST", "/v1/messages", json_body=body()).json()
    assert message["stop_reason"] is None


def test_mutant_request_id_missing() -> None:
    app = mutant_app("request-id-missing")
    assert "request-id" not in call(app, "POST", "/v1/messages", json_body=body()).headers
    assert "request-id" not in stream(app, body()).headers


def test_mutant_input_json_broken() -> None:
    payload = body("Use get_weather", tools=[WEATHER_TOOL])
    events = parse_sse(stream(mutant_app("input-json-broken"), payload).content)
    pieces = "".join(
        e.json["delta"]["partial_json"]
        for e in events
        if e.event == "content_block_delta" and e.json["delta"]["type"] == "input_json_delta"
    )
    with pytest.raises(ValueError):
        json.loads(pieces)


def test_mutant_wrong_id_prefix() -> None:
    app = mutant_app("wrong-id-prefix")
    assert call(app, "POST", "/v1/messages", json_body=body()).json()["id"].startswith("chatcmpl-")
    start = parse_sse(stream(app, body()).content)[0].json
    assert start["message"]["id"].startswith("chatcmpl-")


def test_mutant_models_pagination_broken() -> None:
    page = call(mutant_app("models-pagination-broken"), "GET", "/v1/models?limit=3").json()
    assert page["last_id"] != page["data"][-1]["id"]


def test_faithful_app_passes_what_the_mutants_break(app: Starlette) -> None:
    """The mutant tests above only mean something if the faithful app does the opposite."""
    message = call(app, "POST", "/v1/messages", json_body=body())
    assert message.json()["id"].startswith("msg_") and "usage" in message.json()
    assert message.json()["stop_reason"] is not None and "request-id" in message.headers
    page = call(app, "GET", "/v1/models?limit=3").json()
    assert page["last_id"] == page["data"][-1]["id"]
    assert set(call(app, "POST", "/v1/messages", json_body={}).json()) == {
        "type",
        "error",
        "request_id",
    }


# --- prefill --------------------------------------------------------------------------------------


def test_prefill_is_continued_not_repeated(app: Starlette) -> None:
    payload = prefilled("Reply with exactly: one two three four", "one two")
    message = create(app, payload)
    assert message["content"] == [{"type": "text", "text": " three four"}]
    assert message["usage"]["output_tokens"] == 2  # three four
    # the prefill is part of the input: billed like any other message
    plain = create(app, body("Reply with exactly: one two three four"))
    assert message["usage"]["input_tokens"] == plain["usage"]["input_tokens"] + 4 + 2


def test_prefill_as_blocks_and_json_brace(app: Starlette) -> None:
    payload = prefilled('Reply with exactly: {"ok": true}', [{"type": "text", "text": "{"}])
    text = text_of(create(app, payload))
    assert not text.startswith("{")
    assert json.loads("{" + text) == {"ok": True}


def test_prefill_without_instruction_is_a_deterministic_continuation(app: Starlette) -> None:
    payload = prefilled("Tell me something.", "Well,")
    first, second = create(app, payload), create(create_app(), payload)
    assert strip_ids(first) == strip_ids(second)
    text = text_of(first)
    assert text.startswith(" ") and text.strip() and not text.startswith(" Well,")


def test_prefill_holding_the_whole_answer_adds_nothing(app: Starlette) -> None:
    message = create(app, prefilled("Reply with exactly: done", "done"))
    assert message["content"] == [] and message["stop_reason"] == "end_turn"


def test_prefill_streams_the_same_continuation(app: Starlette) -> None:
    payload = prefilled("Reply with exactly: alpha beta gamma delta", "alpha")
    folded = accumulate(parse_sse(stream(app, payload).content))
    assert text_of(folded) == " beta gamma delta"
    assert strip_ids(folded) == strip_ids(create(app, payload))


@pytest.mark.parametrize("prefill", ["one two ", "one\n", [{"type": "text", "text": "x\t"}]])
def test_prefill_with_trailing_whitespace_is_400(app: Starlette, prefill: Any) -> None:
    response = call(app, "POST", "/v1/messages", json_body=prefilled("Hi", prefill))
    payload = assert_error(response, 400)
    assert payload["error"]["message"] == (
        "messages: final assistant content cannot end with trailing whitespace"
    )


def test_earlier_assistant_turns_may_end_with_whitespace(app: Starlette) -> None:
    payload = body(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello "},
            {"role": "user", "content": "Reply with exactly: ok"},
        ]
    )
    assert text_of(create(app, payload)) == "ok"
