"""POST /v1/messages with ``stream: true``: SSE framing, event order and accumulation.

``api.expect`` checks the grammar, the delta types and the usage of every event and returns the
message the stream folds into. The tests here also compare what the stream says with what was
asked and with the JSON answer of the same request, which catches a proxy that repeats, loses or
re-counts part of a stream while keeping its grammar intact.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.api import Api, AsyncApi
from conformance.suite._data import (
    WEATHER_TOOL,
    assert_said,
    blocks,
    input_tokens,
)

pytestmark = pytest.mark.feature("streaming")

EXACT = "streaming works fine"


def test_streaming_text(api: Api) -> None:
    ex = api.create_message(f"Reply with exactly: {EXACT}", stream=True)
    message = api.expect(ex)
    assert ex.content_type == "text/event-stream"
    assert ex.events and ex.events[0].type == "message_start"
    # The folded deltas are the text asked for: a repeated or lost delta changes it.
    assert_said(message, EXACT)
    assert message["stop_reason"] == "end_turn"


def test_streaming_max_tokens(api: Api) -> None:
    ex = api.create_message(
        "Reply with exactly: alpha beta gamma delta epsilon zeta eta theta iota kappa",
        max_tokens=3,
        stream=True,
    )
    message = api.expect(ex)
    assert message["stop_reason"] == "max_tokens"
    assert 0 < message["usage"]["output_tokens"] <= 3


def test_stream_agrees_with_the_json_answer(api: Api) -> None:
    """The same request streamed and not: the same billed input (the input is counted before
    anything is sampled, so it is the same on the real API too) and the same asked-for text."""
    request: dict[str, Any] = {
        "messages": [{"role": "user", "content": f"Reply with exactly: {EXACT}"}],
        "max_tokens": 32,
    }
    plain = api.expect(api.create_message(**request))
    ex = api.create_message(**request, stream=True)
    streamed = api.expect(ex)
    assert_said(plain, EXACT)
    assert_said(streamed, EXACT)
    start = (ex.events or [])[0].json["message"]["usage"]["input_tokens"]
    assert start == input_tokens(plain), (
        f"message_start bills {start} input tokens, the JSON answer to the same request "
        f"{input_tokens(plain)}"
    )
    assert input_tokens(streamed) == input_tokens(plain), (
        f"the folded stream bills {input_tokens(streamed)} input tokens, the JSON answer "
        f"{input_tokens(plain)}"
    )


@pytest.mark.feature("tools")
def test_streamed_text_then_tool_use(api: Api) -> None:
    """A text block, then a tool_use block: indexes 0 and 1, the first stopped before the second
    starts, each delta of the type its block takes."""
    prompt = (
        "First say in one short sentence what you will do, then use the get_weather tool for Paris."
    )
    ex = api.create_message(
        prompt, max_tokens=128, tools=[WEATHER_TOOL], tool_choice={"type": "auto"}, stream=True
    )
    message = api.expect(ex)
    kinds = [b["type"] for b in message["content"]]
    assert kinds == ["text", "tool_use"], f"expected a text block then a tool_use block: {kinds}"
    assert message["stop_reason"] == "tool_use", message["stop_reason"]
    assert blocks(message, "tool_use")[0]["name"] == WEATHER_TOOL["name"]
    events = [
        (e.type, e.json.get("index"))
        for e in ex.events or []
        if e.type.startswith("content_block_")
    ]
    starts = [i for i, (kind, _) in enumerate(events) if kind == "content_block_start"]
    assert [events[i][1] for i in starts] == [0, 1], events
    stop_first = events.index(("content_block_stop", 0))
    assert stop_first < starts[1], f"block 0 is stopped after block 1 starts: {events}"
    deltas = {
        (e.json["index"], e.json["delta"]["type"])
        for e in ex.events or []
        if e.type == "content_block_delta"
    }
    assert deltas == {(0, "text_delta"), (1, "input_json_delta")}, deltas


@pytest.mark.asyncio
async def test_streaming_async_client(async_api: AsyncApi) -> None:
    ex = await async_api.create_message("Reply with exactly: async stream", stream=True)
    message = async_api.expect(ex)
    assert_said(message, "async stream")
