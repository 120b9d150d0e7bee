"""Client tools: tool_choice auto / any / tool, the tool_result round trip, streamed tool use.

A prompt that asks for the tool cannot tell the three ``tool_choice`` modes apart: the model calls
the tool under each. So the forced modes are also tried with a prompt that asks for *no* tool
(only ``tool_choice`` can make the model call one), and ``auto`` with that prompt calls none.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from conformance.api import Api
from conformance.suite._data import (
    NO_TOOL_PROMPT,
    WEATHER_PROMPT,
    WEATHER_TOOL,
    assert_said,
    blocks,
    text_of,
)

pytestmark = pytest.mark.feature("tools")


def _expect_tool_call(message: dict[str, Any]) -> dict[str, Any]:
    """The message calls the weather tool with an input valid against its input_schema."""
    calls = blocks(message, "tool_use")
    assert message["stop_reason"] == "tool_use", message["stop_reason"]
    assert len(calls) >= 1, f"expected a tool_use block, got {message['content']}"
    call = calls[0]
    assert call["name"] == WEATHER_TOOL["name"]
    assert isinstance(call["input"], dict), call["input"]
    errors = [
        e.message
        for e in jsonschema.Draft202012Validator(WEATHER_TOOL["input_schema"]).iter_errors(
            call["input"]
        )
    ]
    assert not errors, f"tool input {call['input']} fails the tool's input_schema: {errors}"
    return call


def _expect_weather_call(message: dict[str, Any]) -> dict[str, Any]:
    """A call for the city the prompt names: an input that lost its values fails here."""
    call = _expect_tool_call(message)
    location = call["input"]["location"]
    assert "paris" in location.lower(), (
        f"the prompt asks for the weather in Paris, the tool input says {location!r}"
    )
    return call


@pytest.mark.parametrize(
    "tool_choice",
    [
        {"type": "auto"},
        {"type": "any"},
        {"type": "tool", "name": WEATHER_TOOL["name"]},
    ],
    ids=lambda c: c["type"],
)
def test_tool_choice(api: Api, tool_choice: dict[str, Any]) -> None:
    ex = api.create_message(
        WEATHER_PROMPT, max_tokens=128, tools=[WEATHER_TOOL], tool_choice=tool_choice
    )
    _expect_weather_call(api.expect(ex))


@pytest.mark.parametrize(
    "tool_choice",
    [
        {"type": "any"},
        {"type": "tool", "name": WEATHER_TOOL["name"]},
    ],
    ids=lambda c: c["type"],
)
def test_forced_tool_choice_calls_the_tool(api: Api, tool_choice: dict[str, Any]) -> None:
    """The prompt asks for no tool, so only ``tool_choice`` makes the model call one: a proxy
    that drops ``tool_choice`` answers with text."""
    ex = api.create_message(
        NO_TOOL_PROMPT, max_tokens=128, tools=[WEATHER_TOOL], tool_choice=tool_choice
    )
    _expect_tool_call(api.expect(ex))


def test_auto_tool_choice_may_answer_with_text(api: Api) -> None:
    """The counterpart: under ``auto``, a prompt that asks for no tool gets text, so a proxy
    that forces tool use (``auto`` sent on as ``any``) is seen too."""
    message = api.expect(
        api.create_message(
            NO_TOOL_PROMPT, max_tokens=64, tools=[WEATHER_TOOL], tool_choice={"type": "auto"}
        )
    )
    assert not blocks(message, "tool_use"), f"no tool was asked for: {message['content']}"
    assert message["stop_reason"] == "end_turn", message["stop_reason"]
    assert_said(message, "no tools needed")


def test_tool_result_round_trip(api: Api) -> None:
    first = api.expect(
        api.create_message(
            WEATHER_PROMPT,
            max_tokens=128,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "tool", "name": WEATHER_TOOL["name"]},
        )
    )
    call = _expect_weather_call(first)
    messages = [
        {"role": "user", "content": WEATHER_PROMPT},
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": call["id"],
                    "content": "18 degrees and sunny",
                }
            ],
        },
    ]
    final = api.expect(api.create_message(messages=messages, max_tokens=64, tools=[WEATHER_TOOL]))
    assert final["stop_reason"] == "end_turn"
    # The answer uses the result: a proxy that lost the tool_result block cannot know "18".
    assert "18" in text_of(final), f"the tool said 18 degrees; the answer: {text_of(final)!r}"


@pytest.mark.feature("streaming")
def test_streaming_tool_use(api: Api) -> None:
    ex = api.create_message(
        WEATHER_PROMPT,
        max_tokens=128,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": WEATHER_TOOL["name"]},
        stream=True,
    )
    message = api.expect(ex)
    _expect_weather_call(message)
    deltas = [e.json["delta"]["type"] for e in ex.events or [] if e.type == "content_block_delta"]
    assert "input_json_delta" in deltas
