"""Today's Messages features on the reference server: behaviour, and the official SDK parsing it.

Each feature gets its behaviour proved through the SDK (``anthropic`` 2.x sends 2026-10-21; the
2023-06-01 shapes are the same for these fields), streams through the SDK's accumulator.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from sdk_support import assert_schema_valid

from conformance import catalog
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer, generator
from conformance.reference.features import caching

MODEL = catalog.DEFAULT_MODEL
MINIMUM = catalog.min_cacheable_tokens(MODEL)


# --- prompt caching -------------------------------------------------------------------------------


def _long(tag: str, words: int = MINIMUM + 100) -> str:
    return f"{tag} " + " ".join(f"w{i % 97}" for i in range(words))


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "hi"}]},
        {
            "system": "Be brief.",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "a b", "cache_control": {"type": "ephemeral"}},
                        {"type": "text", "text": "c"},
                    ],
                },
                {"role": "assistant", "content": []},
            ],
        },
        {
            "system": [{"type": "text", "text": "x y", "cache_control": {"type": "ephemeral"}}],
            "tools": [
                {"name": "t1", "input_schema": {"type": "object"}},
                {
                    "name": "t2",
                    "input_schema": {"type": "object"},
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                },
            ],
            "messages": [{"role": "user", "content": "q"}],
        },
    ],
    ids=["plain", "message-blocks", "tools-and-system"],
)
def test_segments_add_up_to_the_input_tokens(body: dict[str, Any]) -> None:
    assert sum(s.tokens for s in caching.segments(body)) == generator.count_input_tokens(body)


def test_cache_write_then_read_through_the_sdk(client: anthropic.Anthropic) -> None:
    system: Any = [
        {
            "type": "text",
            "text": _long("sdk-write-read"),
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]
    messages: Any = [{"role": "user", "content": "Reply with exactly: ok"}]
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=8, system=system, messages=messages
    )
    first = raw.parse().usage
    assert_schema_valid(raw.http_response.json())
    assert first.cache_creation_input_tokens is not None
    assert first.cache_creation_input_tokens > MINIMUM and first.cache_read_input_tokens == 0
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_1h_input_tokens == first.cache_creation_input_tokens
    assert first.cache_creation.ephemeral_5m_input_tokens == 0
    with client.messages.stream(
        model=MODEL, max_tokens=8, system=system, messages=messages
    ) as stream:
        second = stream.get_final_message().usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    assert second.input_tokens == first.input_tokens
    counted = client.messages.count_tokens(model=MODEL, system=system, messages=messages)
    assert counted.input_tokens == (first.input_tokens + first.cache_creation_input_tokens)


def test_below_minimum_and_other_model_are_not_read(client: anthropic.Anthropic) -> None:
    short: Any = [{"type": "text", "text": "short", "cache_control": {"type": "ephemeral"}}]
    messages: Any = [{"role": "user", "content": "hi"}]
    for _ in range(2):
        usage = client.messages.create(
            model=MODEL, max_tokens=8, system=short, messages=messages
        ).usage
        assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
    long: Any = [
        {"type": "text", "text": _long("per-model"), "cache_control": {"type": "ephemeral"}}
    ]
    client.messages.create(model=MODEL, max_tokens=8, system=long, messages=messages)
    other = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=8, system=long, messages=messages
    ).usage
    assert other.cache_read_input_tokens == 0 and other.cache_creation_input_tokens


def test_automatic_caching_and_two_breakpoints(client: anthropic.Anthropic) -> None:
    messages: Any = [{"role": "user", "content": _long("automatic")}]
    body: Any = {"model": MODEL, "max_tokens": 8, "messages": messages}
    raw = client.post(
        "/v1/messages", cast_to=object, body={**body, "cache_control": {"type": "ephemeral"}}
    )
    assert isinstance(raw, dict)
    assert raw["usage"]["cache_creation_input_tokens"] > MINIMUM
    # a second breakpoint further on reads the first prefix and writes only the new part
    blocks: Any = [
        {"type": "text", "text": _long("automatic"), "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": _long("more", MINIMUM), "cache_control": {"type": "ephemeral"}},
    ]
    both = client.messages.create(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": blocks}]
    ).usage
    assert both.cache_read_input_tokens == raw["usage"]["cache_creation_input_tokens"]
    assert both.cache_creation_input_tokens and both.cache_creation_input_tokens >= MINIMUM


@pytest.mark.parametrize(
    ("control", "needle"),
    [
        ({"type": "persistent"}, "cache_control.type"),
        ({"type": "ephemeral", "ttl": "10m"}, "cache_control.ttl"),
    ],
)
def test_bad_cache_control_rejected(client: anthropic.Anthropic, control: Any, needle: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(
            model=MODEL,
            max_tokens=8,
            system=[{"type": "text", "text": "x", "cache_control": control}],
            messages=[{"role": "user", "content": "hi"}],
        )
    assert needle in str(info.value)


# --- extended thinking ----------------------------------------------------------------------------

THINKING: Any = {"type": "enabled", "budget_tokens": 1024}
WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather of a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def test_thinking_streams_and_passes_back_through_the_sdk(client: anthropic.Anthropic) -> None:
    ask: Any = [{"role": "user", "content": "Weather in Paris? Use get_weather."}]
    with client.messages.stream(
        model=MODEL, max_tokens=2048, thinking=THINKING, tools=[WEATHER], messages=ask
    ) as stream:
        kinds = [
            ev.delta.type for ev in stream if ev.type == "content_block_delta" and ev.index == 0
        ]
        first = stream.get_final_message()
    assert kinds[0] == "thinking_delta" and kinds[-1] == "signature_delta"
    thought = first.content[0]
    assert thought.type == "thinking" and thought.signature
    call = first.content[-1]
    assert call.type == "tool_use" and first.stop_reason == "tool_use"
    turn: Any = [
        *ask,
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
        },
    ]
    final = client.messages.create(
        model=MODEL, max_tokens=2048, thinking=THINKING, tools=[WEATHER], messages=turn
    )
    assert final.stop_reason == "end_turn"
    # dropping the thinking block (as translating proxies do) is refused, like the API does
    dropped: Any = [turn[0], {"role": "assistant", "content": first.content[1:]}, turn[2]]
    with pytest.raises(anthropic.BadRequestError, match="Expected `thinking`"):
        client.messages.create(
            model=MODEL, max_tokens=2048, thinking=THINKING, tools=[WEATHER], messages=dropped
        )
    tampered = thought.model_dump()
    tampered["signature"] = "AAAA" + tampered["signature"][4:]
    bad: Any = [turn[0], {"role": "assistant", "content": [tampered, *first.content[1:]]}, turn[2]]
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        client.messages.create(
            model=MODEL, max_tokens=2048, thinking=THINKING, tools=[WEATHER], messages=bad
        )


def test_redacted_thinking_through_the_sdk(client: anthropic.Anthropic) -> None:
    from conformance.reference.features.thinking import REDACTED_TRIGGER

    ask: Any = [{"role": "user", "content": REDACTED_TRIGGER}]
    with client.messages.stream(
        model=MODEL, max_tokens=2048, thinking=THINKING, messages=ask
    ) as stream:
        message = stream.get_final_message()
    assert message.content[0].type == "redacted_thinking" and message.content[0].data
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=2048, thinking=THINKING, messages=ask
    )
    assert_schema_valid(raw.http_response.json())
    again: Any = [
        *ask,
        {"role": "assistant", "content": message.content},
        {"role": "user", "content": "Reply with exactly: ok"},
    ]
    assert (
        client.messages.create(model=MODEL, max_tokens=2048, thinking=THINKING, messages=again)
        .content[-1]
        .type
        == "text"
    )
    forged = {"type": "redacted_thinking", "data": "RWtvS0FoZ0JFZ3k="}
    with pytest.raises(anthropic.BadRequestError, match="redacted_thinking"):
        client.messages.create(
            model=MODEL,
            max_tokens=2048,
            thinking=THINKING,
            messages=[
                ask[0],
                {"role": "assistant", "content": [forged, {"type": "text", "text": "x"}]},
                {"role": "user", "content": "ok"},
            ],
        )


def test_thinking_rules_through_the_sdk(server: EmbeddedServer) -> None:
    old = anthropic.Anthropic(
        api_key=DEFAULT_API_KEY,
        base_url=server.url,
        max_retries=0,
        default_headers={"anthropic-version": "2023-06-01"},
    )
    ask: Any = [{"role": "user", "content": "hi"}]
    body: Any = {"model": MODEL, "max_tokens": 2048, "thinking": THINKING, "messages": ask}
    # SDK 2.x has no temperature parameter any more (2026-10-21 removed it): send it raw
    with pytest.raises(anthropic.BadRequestError, match="temperature"):
        old.post("/v1/messages", cast_to=object, body={**body, "temperature": 0.5})
    hot = old.post("/v1/messages", cast_to=object, body={**body, "temperature": 1})
    assert isinstance(hot, dict) and hot["content"][0]["type"] == "thinking"
    adaptive = old.messages.create(
        model=MODEL, max_tokens=64, thinking={"type": "adaptive"}, messages=ask
    )
    assert adaptive.content[0].type == "thinking"


# --- tool modes -----------------------------------------------------------------------------------

TIME: Any = {
    "name": "get_time",
    "description": "Local time of a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
BOTH: Any = [{"role": "user", "content": "In Paris: call get_weather and get_time, please."}]


def test_parallel_calls_and_their_results_through_the_sdk(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=256, tools=[WEATHER, TIME], messages=BOTH
    ) as stream:
        first = stream.get_final_message()
    calls = [b for b in first.content if b.type == "tool_use"]
    assert [c.name for c in calls] == ["get_weather", "get_time"]
    assert first.stop_reason == "tool_use" and calls[0].id != calls[1].id
    results: Any = [
        {"type": "tool_result", "tool_use_id": calls[0].id, "content": "sunny"},
        {
            "type": "tool_result",
            "tool_use_id": calls[1].id,
            "is_error": True,
            "content": [{"type": "text", "text": "clock down"}],
        },
    ]
    final = client.messages.create(
        model=MODEL,
        max_tokens=64,
        tools=[WEATHER, TIME],
        messages=[
            *BOTH,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": results},
        ],
    )
    assert final.content[0].type == "text"
    assert final.content[0].text == 'The tool reported an error: "sunny; clock down".'
    one = client.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=[WEATHER, TIME],
        messages=BOTH,
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert [b.type for b in one.content].count("tool_use") == 1
    none = client.messages.create(
        model=MODEL,
        max_tokens=64,
        tools=[WEATHER, TIME],
        messages=BOTH,
        tool_choice={"type": "none"},
    )
    assert all(b.type == "text" for b in none.content) and none.stop_reason == "end_turn"


def test_strict_tool_and_tool_choice_validation(client: anthropic.Anthropic) -> None:
    strict: Any = {**WEATHER, "strict": True}
    message = client.messages.create(
        model=MODEL, max_tokens=64, tools=[strict], messages=BOTH, tool_choice={"type": "any"}
    )
    assert message.content[-1].type == "tool_use"
    with pytest.raises(anthropic.BadRequestError, match="strict"):
        client.messages.create(
            model=MODEL, max_tokens=64, tools=[{**WEATHER, "strict": "yes"}], messages=BOTH
        )
    with pytest.raises(anthropic.BadRequestError, match="disable_parallel_tool_use"):
        client.post(
            "/v1/messages",
            cast_to=object,
            body={
                "model": MODEL,
                "max_tokens": 8,
                "messages": BOTH,
                "tools": [WEATHER],
                "tool_choice": {"type": "none", "disable_parallel_tool_use": True},
            },
        )


# --- documents and citations ----------------------------------------------------------------------

DOC_TEXT = "Kestrel Point's lighthouse was built in 1871. It is white."


def test_citations_through_the_sdk(client: anthropic.Anthropic) -> None:
    content: Any = [
        {
            "type": "document",
            "title": "Notes",
            "citations": {"enabled": True},
            "source": {"type": "text", "media_type": "text/plain", "data": DOC_TEXT},
        },
        {"type": "text", "text": "When was it built?"},
    ]
    ask: Any = [{"role": "user", "content": content}]
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=ask)
    assert_schema_valid(raw.http_response.json())
    message = raw.parse()
    cited = message.content[1]
    assert cited.type == "text" and cited.citations
    cite = cited.citations[0]
    assert cite.type == "char_location" and cite.document_title == "Notes"
    assert DOC_TEXT[cite.start_char_index : cite.end_char_index] == cite.cited_text
    with client.messages.stream(model=MODEL, max_tokens=64, messages=ask) as stream:
        folded = stream.get_final_message()
    assert folded.content[1].type == "text" and folded.content[1].citations == cited.citations
    with pytest.raises(anthropic.BadRequestError, match=r"citations\.enabled"):
        client.messages.create(
            model=MODEL,
            max_tokens=8,
            messages=[
                {
                    "role": "user",
                    "content": [{**content[0], "citations": {"enabled": "yes"}}, content[1]],
                }
            ],
        )
