"""Every tool mode of today's API: tool_choice none, parallel calls and disabling them, error
results, an image inside a tool_result, strict tools, fine-grained tool streaming.

Small prompts and small max_tokens, but every call carries the tool-use system prompt
(``catalog.TOOL_USE_PROMPT_TOKENS``, hundreds of input tokens), so on a target that bills tokens
the module waits for ``tool_modes_live`` (its cost is in the skip reason); the reference server
and cassette replay always run it.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from conformance.api import Api
from conformance.settings import Settings
from conformance.suite._data import WEATHER_TOOL, blocks, image_block, png, text_of
from conformance.suite._live import require_live_toggle
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("tool_modes")


@pytest.fixture(autouse=True)
def _costs_tool_prompts(conformance_target: RunTarget, conformance_settings: Settings) -> None:
    require_live_toggle(conformance_target, conformance_settings, "tool_modes_live")


TIME_TOOL: dict[str, Any] = {
    "name": "get_time",
    "description": "Get the current local time in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
BOTH_PROMPT = (
    "I need both the weather and the local time in Paris. Call get_weather and "
    "get_time now, in parallel, in this one turn."
)
CHART_TOOL: dict[str, Any] = {
    "name": "render_chart",
    "description": "Render a colour swatch and return it as an image.",
    "input_schema": {
        "type": "object",
        "properties": {"colour": {"type": "string"}},
        "required": ["colour"],
    },
}


def _round_trip(
    api: Api,
    prompt: str,
    tools: list[dict[str, Any]],
    first: dict[str, Any],
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    messages = [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": results},
    ]
    final: dict[str, Any] = api.expect(
        api.create_message(messages=messages, max_tokens=64, tools=tools)
    )
    return final


def test_tool_choice_none(api: Api) -> None:
    ex = api.create_message(
        "What is the weather in Paris? Answer in one short sentence without calling get_weather.",
        max_tokens=48,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "none"},
    )
    message = api.expect(ex)
    assert not blocks(message, "tool_use"), f"tool_choice none called a tool: {message}"
    assert message["stop_reason"] != "tool_use" and text_of(message).strip()


def test_parallel_tool_calls_answered_together(api: Api) -> None:
    tools = [WEATHER_TOOL, TIME_TOOL]
    first = api.expect(api.create_message(BOTH_PROMPT, max_tokens=200, tools=tools))
    calls = blocks(first, "tool_use")
    assert first["stop_reason"] == "tool_use", first["stop_reason"]
    assert {c["name"] for c in calls} == {"get_weather", "get_time"}, (
        f"both tools are called in one turn: {first['content']}"
    )
    assert len({c["id"] for c in calls}) == len(calls), "every tool_use has its own id"
    results = [
        {
            "type": "tool_result",
            "tool_use_id": c["id"],
            "content": "18 degrees" if c["name"] == "get_weather" else "14:05",
        }
        for c in calls
    ]
    final = _round_trip(api, BOTH_PROMPT, tools, first, results)
    assert final["stop_reason"] == "end_turn" and text_of(final).strip()


def test_disable_parallel_tool_use(api: Api) -> None:
    ex = api.create_message(
        BOTH_PROMPT,
        max_tokens=200,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    calls = blocks(api.expect(ex), "tool_use")
    assert len(calls) <= 1, f"disable_parallel_tool_use allows at most one call: {calls}"


def test_error_tool_result(api: Api) -> None:
    prompt = "What is the weather in Paris right now? Use the get_weather tool."
    first = api.expect(
        api.create_message(
            prompt,
            max_tokens=128,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "tool", "name": "get_weather"},
        )
    )
    call = blocks(first, "tool_use")[0]
    final = _round_trip(
        api,
        prompt,
        [WEATHER_TOOL],
        first,
        [
            {
                "type": "tool_result",
                "tool_use_id": call["id"],
                "is_error": True,
                "content": "weather service unavailable",
            }
        ],
    )
    assert final["stop_reason"] in ("end_turn", "tool_use") and final["content"]


@pytest.mark.feature("vision")
def test_image_in_tool_result(api: Api) -> None:
    prompt = "Render a red swatch with render_chart, then tell me its colour in one word."
    first = api.expect(
        api.create_message(
            prompt,
            max_tokens=128,
            tools=[CHART_TOOL],
            tool_choice={"type": "tool", "name": "render_chart"},
        )
    )
    call = blocks(first, "tool_use")[0]
    final = _round_trip(
        api,
        prompt,
        [CHART_TOOL],
        first,
        [
            {
                "type": "tool_result",
                "tool_use_id": call["id"],
                "content": [{"type": "text", "text": "Here is the swatch."}, image_block(png())],
            }
        ],
    )
    assert final["content"] and final["usage"]["input_tokens"] > 0


def test_strict_tool_input_matches_schema(api: Api) -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["city", "days"],
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "enum": [1, 2, 3]}},
    }
    tool = {
        "name": "forecast",
        "description": "Weather forecast for a city.",
        "input_schema": schema,
        "strict": True,
    }
    message = api.expect(
        api.create_message(
            "Get a 2-day forecast for Paris with the forecast tool.",
            max_tokens=128,
            tools=[tool],
            tool_choice={"type": "tool", "name": "forecast"},
        )
    )
    call = blocks(message, "tool_use")[0]
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(call["input"])]
    assert not errors, f"a strict tool's input satisfies its input_schema: {errors}"


@pytest.mark.feature("streaming")
def test_tool_input_streams_in_pieces(api: Api) -> None:
    tool = {
        "name": "save_note",
        "description": "Save a note with a title and a body.",
        "input_schema": {
            "type": "object",
            "required": ["title", "body"],
            "properties": {"title": {"type": "string"}, "body": {"type": "string"}},
        },
    }
    ex = api.create_message(
        "Save a note titled Groceries whose body lists milk, eggs, bread "
        "and coffee beans. Use save_note.",
        max_tokens=200,
        tools=[tool],
        tool_choice={"type": "tool", "name": "save_note"},
        stream=True,
    )
    message = api.expect(ex)
    call = blocks(message, "tool_use")[0]
    index = message["content"].index(call)
    pieces = [
        e.json["delta"]["partial_json"]
        for e in ex.events or []
        if e.type == "content_block_delta" and e.json["index"] == index
    ]
    assert all(isinstance(p, str) for p in pieces)
    assert json.loads("".join(pieces)) == call["input"], "the pieces join to the final input"
    partial = [p for p in pieces if p.strip() and not _is_json(p)]
    assert partial or len([p for p in pieces if p.strip()]) == 1, (
        f"pieces that are not JSON on their own are expected and must still join: {pieces}"
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
