"""Client tools: tool_choice auto / any / tool, the tool_result round trip, streamed tool use.

A prompt that asks for the tool cannot tell the three ``tool_choice`` modes apart: the model calls
the tool under each. So the forced modes are tried with a prompt that asks for *no* tool (only
``tool_choice`` can make the model call one), and ``auto`` with that prompt calls none.

Every request with tools also bills the tool-use system prompt (``catalog.TOOL_USE_PROMPT_TOKENS``:
hundreds of input tokens a call), so on a target that bills tokens the default run makes three
tool calls that check every mode between them: the round trip (forced ``any``, then ``auto``
answering from the result) and the streamed call (forced ``tool``). The tests that repeat one of
those checks in another combination wait for ``tools_live`` there (``_live``); the reference
server and cassette replay run them all.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from conformance.api import Api
from conformance.settings import Settings
from conformance.suite._data import (
    NO_TOOL_PROMPT,
    WEATHER_PROMPT,
    WEATHER_TOOL,
    assert_said,
    blocks,
    text_of,
)
from conformance.suite._live import require_live_toggle
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("tools")

#: Asks for no tool but names the city: under a forced ``tool_choice`` the call must carry it.
FORCED_PROMPT = "Do not use any tool. The city is Paris."
LIVE_TOGGLE = "tools_live"


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
def test_tool_choice(
    api: Api,
    conformance_target: RunTarget,
    conformance_settings: Settings,
    tool_choice: dict[str, Any],
) -> None:
    """``auto`` calls the tool the prompt asks for; ``any`` and ``tool`` call it although the
    prompt asks for none (a proxy that drops ``tool_choice`` answers with text), and the input
    keeps the city the prompt names. On a billing target these repeat the round trip's and the
    streamed call's checks, so they wait for ``tools_live``."""
    require_live_toggle(conformance_target, conformance_settings, LIVE_TOGGLE)
    prompt = WEATHER_PROMPT if tool_choice["type"] == "auto" else FORCED_PROMPT
    ex = api.create_message(prompt, max_tokens=128, tools=[WEATHER_TOOL], tool_choice=tool_choice)
    _expect_weather_call(api.expect(ex))


def test_auto_tool_choice_may_answer_with_text(
    api: Api, conformance_target: RunTarget, conformance_settings: Settings
) -> None:
    """The counterpart: under ``auto``, a prompt that asks for no tool gets text, so a proxy
    that forces tool use (``auto`` sent on as ``any``) is seen too (by default the round trip's
    second call shows it)."""
    require_live_toggle(conformance_target, conformance_settings, LIVE_TOGGLE)
    message = api.expect(
        api.create_message(
            NO_TOOL_PROMPT, max_tokens=64, tools=[WEATHER_TOOL], tool_choice={"type": "auto"}
        )
    )
    assert not blocks(message, "tool_use"), f"no tool was asked for: {message['content']}"
    assert message["stop_reason"] == "end_turn", message["stop_reason"]
    assert_said(message, "no tools needed")


def test_tool_result_round_trip(api: Api) -> None:
    """Forced ``any`` calls the tool although the prompt asks for none; the result sent back
    under ``auto`` gets a text answer that uses it (``auto`` forces nothing: a proxy that sends
    it on as ``any`` gets another call; one that loses the tool_result cannot know "18")."""
    first = api.expect(
        api.create_message(
            FORCED_PROMPT, max_tokens=128, tools=[WEATHER_TOOL], tool_choice={"type": "any"}
        )
    )
    call = _expect_weather_call(first)
    messages = [
        {"role": "user", "content": FORCED_PROMPT},
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": call["id"],
                    "content": "18 degrees and sunny",
                },
                {"type": "text", "text": "What did get_weather report?"},
            ],
        },
    ]
    final = api.expect(
        api.create_message(
            messages=messages, max_tokens=64, tools=[WEATHER_TOOL], tool_choice={"type": "auto"}
        )
    )
    assert not blocks(final, "tool_use"), f"auto after the result forced a call: {final}"
    assert final["stop_reason"] == "end_turn", final["stop_reason"]
    assert "18" in text_of(final), f"the tool said 18 degrees; the answer: {text_of(final)!r}"


@pytest.mark.feature("streaming")
def test_streaming_tool_use(api: Api) -> None:
    """Forced ``tool``, streamed: the named tool is called although the prompt asks for none,
    and its input arrives as ``input_json_delta`` pieces that join to the final input."""
    ex = api.create_message(
        FORCED_PROMPT,
        max_tokens=128,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": WEATHER_TOOL["name"]},
        stream=True,
    )
    message = api.expect(ex)
    call = _expect_weather_call(message)
    index = message["content"].index(call)
    pieces = [
        e.json["delta"]["partial_json"]
        for e in ex.events or []
        if e.type == "content_block_delta"
        and e.json["index"] == index
        and e.json["delta"]["type"] == "input_json_delta"
    ]
    assert pieces, "a streamed tool_use block carries its input as input_json_delta"
    assert json.loads("".join(pieces) or "{}") == call["input"], "the pieces join to the input"
