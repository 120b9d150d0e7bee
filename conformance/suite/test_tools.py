"""Client tools: tool_choice auto / any / tool, the tool_result round trip, streamed tool use."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.api import Api
from conformance.suite._data import WEATHER_PROMPT, WEATHER_TOOL, blocks, text_of

pytestmark = pytest.mark.feature("tools")


def _expect_weather_call(message: dict[str, Any]) -> dict[str, Any]:
    calls = blocks(message, "tool_use")
    assert message["stop_reason"] == "tool_use", message["stop_reason"]
    assert len(calls) >= 1, f"expected a tool_use block, got {message['content']}"
    call = calls[0]
    assert call["name"] == WEATHER_TOOL["name"]
    assert isinstance(call["input"], dict) and isinstance(call["input"].get("location"), str)
    return call


@pytest.mark.parametrize("tool_choice", [
    {"type": "auto"}, {"type": "any"}, {"type": "tool", "name": WEATHER_TOOL["name"]},
], ids=lambda c: c["type"])
def test_tool_choice(api: Api, tool_choice: dict[str, Any]) -> None:
    ex = api.create_message(WEATHER_PROMPT, max_tokens=128, tools=[WEATHER_TOOL],
                            tool_choice=tool_choice)
    _expect_weather_call(api.expect(ex))


def test_tool_result_round_trip(api: Api) -> None:
    first = api.expect(api.create_message(
        WEATHER_PROMPT, max_tokens=128, tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": WEATHER_TOOL["name"]}))
    call = _expect_weather_call(first)
    messages = [
        {"role": "user", "content": WEATHER_PROMPT},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                                      "content": "18 degrees and sunny"}]},
    ]
    final = api.expect(api.create_message(messages=messages, max_tokens=64,
                                          tools=[WEATHER_TOOL]))
    assert final["stop_reason"] == "end_turn"
    assert text_of(final).strip()


@pytest.mark.feature("streaming")
def test_streaming_tool_use(api: Api) -> None:
    ex = api.create_message(WEATHER_PROMPT, max_tokens=128, tools=[WEATHER_TOOL],
                            tool_choice={"type": "tool", "name": WEATHER_TOOL["name"]},
                            stream=True)
    message = api.expect(ex)
    _expect_weather_call(message)
    deltas = [e.json["delta"]["type"] for e in ex.events or []
              if e.type == "content_block_delta"]
    assert "input_json_delta" in deltas
