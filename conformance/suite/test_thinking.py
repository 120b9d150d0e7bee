"""Extended thinking: signed thinking blocks, streamed signatures, passing thinking back.

The budget and sampling rules are refused before anything is generated, so those tests are free
on a live target. A call that thinks may spend its whole ``budget_tokens`` (at least 1,024
output tokens), so on a live target those run only with ``thinking_live``.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.api import Api
from conformance.checks.thinking import check_signature_delta, check_thinking_signature
from conformance.exchange import raise_for_findings
from conformance.settings import Settings
from conformance.suite._data import WEATHER_PROMPT, WEATHER_TOOL, blocks, text_of
from conformance.suite._live import require_live_toggle
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("thinking")

BUDGET = 1024
ENABLED: dict[str, Any] = {"type": "enabled", "budget_tokens": BUDGET}
#: max_tokens must exceed the budget; a little room for the answer after the thinking.
MAX_TOKENS = BUDGET + 200
#: The documented prompt that makes the API answer with a redacted_thinking block.
REDACTED_TRIGGER = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_"
    "46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB"
)


def _thinking_block(message: dict[str, Any]) -> dict[str, Any]:
    found = blocks(message, "thinking")
    assert found, f"thinking was enabled but the message has no thinking block: {message}"
    assert message["content"][0]["type"] == "thinking", "the thinking block opens the reply"
    return found[0]


# --- the rules, refused for free ----------------------------------------------------------------


@pytest.mark.feature("errors")
def test_budget_below_minimum_rejected(api: Api) -> None:
    ex = api.create_message(
        "Reply with exactly: ok",
        max_tokens=MAX_TOKENS,
        thinking={"type": "enabled", "budget_tokens": BUDGET - 1},
    )
    api.expect_error(ex, 400)


@pytest.mark.feature("errors")
def test_budget_not_below_max_tokens_rejected(api: Api) -> None:
    ex = api.create_message("Reply with exactly: ok", max_tokens=BUDGET, thinking=ENABLED)
    body = api.expect_error(ex, 400)
    assert "max_tokens" in body["error"]["message"], body


@pytest.mark.feature("errors")
@pytest.mark.api_versions("2023-06-01")
def test_temperature_with_thinking_rejected(api: Api) -> None:
    ex = api.create_message(
        "Reply with exactly: ok", max_tokens=MAX_TOKENS, thinking=ENABLED, temperature=0.5
    )
    body = api.expect_error(ex, 400)
    assert "temperature" in body["error"]["message"], body


def test_thinking_disabled(api: Api) -> None:
    message = api.expect(
        api.create_message("Reply with exactly: ok", max_tokens=8, thinking={"type": "disabled"})
    )
    assert not blocks(message, "thinking"), message["content"]
    assert text_of(message).strip()


# --- generation (thinking_live on a live target) -------------------------------------------------


def test_thinking_block_is_signed(
    api: Api, conformance_settings: Settings, conformance_target: RunTarget
) -> None:
    require_live_toggle(conformance_target, conformance_settings, "thinking_live")
    ex = api.create_message("Reply with exactly: ok", max_tokens=MAX_TOKENS, thinking=ENABLED)
    message = api.expect(ex)
    raise_for_findings(check_thinking_signature(ex), "a thinking message")
    _thinking_block(message)
    assert text_of(message).strip(), "an answer follows the thinking"


def test_streamed_thinking_ends_with_signature_delta(
    api: Api, conformance_settings: Settings, conformance_target: RunTarget
) -> None:
    require_live_toggle(conformance_target, conformance_settings, "thinking_live")
    ex = api.create_message(
        "Reply with exactly: ok", max_tokens=MAX_TOKENS, thinking=ENABLED, stream=True
    )
    message = api.expect(ex)
    raise_for_findings(check_signature_delta(ex), "a streamed thinking message")
    kinds = [
        e.json["delta"]["type"]
        for e in ex.events or []
        if e.type == "content_block_delta" and e.json["index"] == 0
    ]
    assert kinds and kinds[0] == "thinking_delta" and kinds[-1] == "signature_delta", kinds
    assert _thinking_block(message)["signature"]


@pytest.mark.feature("tools")
def test_thinking_passed_back_in_a_tool_turn(
    api: Api, conformance_settings: Settings, conformance_target: RunTarget
) -> None:
    require_live_toggle(conformance_target, conformance_settings, "thinking_live")
    first = api.expect(
        api.create_message(
            WEATHER_PROMPT, max_tokens=MAX_TOKENS, thinking=ENABLED, tools=[WEATHER_TOOL]
        )
    )
    _thinking_block(first)
    calls = blocks(first, "tool_use")
    assert first["stop_reason"] == "tool_use" and calls, first["content"]
    messages = [
        {"role": "user", "content": WEATHER_PROMPT},
        {"role": "assistant", "content": first["content"]},  # thinking + signature, unchanged
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": calls[0]["id"],
                    "content": "18 degrees and sunny",
                }
            ],
        },
    ]
    final = api.expect(
        api.create_message(
            messages=messages, max_tokens=MAX_TOKENS, thinking=ENABLED, tools=[WEATHER_TOOL]
        )
    )
    assert final["stop_reason"] in ("end_turn", "tool_use"), final["stop_reason"]


def test_redacted_thinking_passed_back(
    api: Api, conformance_settings: Settings, conformance_target: RunTarget
) -> None:
    require_live_toggle(conformance_target, conformance_settings, "thinking_live")
    first = api.expect(
        api.create_message(REDACTED_TRIGGER, max_tokens=MAX_TOKENS, thinking=ENABLED)
    )
    redacted = blocks(first, "redacted_thinking")
    if not redacted:
        pytest.skip(
            f"{api.model} did not answer the documented trigger prompt with "
            "redacted_thinking, so there is nothing to pass back"
        )
    assert all(isinstance(b.get("data"), str) and b["data"] for b in redacted), redacted
    messages = [
        {"role": "user", "content": REDACTED_TRIGGER},
        {"role": "assistant", "content": first["content"]},  # passed back unchanged
        {"role": "user", "content": "Reply with exactly: ok"},
    ]
    api.expect(api.create_message(messages=messages, max_tokens=MAX_TOKENS, thinking=ENABLED))


@pytest.mark.feature("models")  # the model's capabilities say whether it takes adaptive
def test_adaptive_thinking_where_supported(
    api: Api, conformance_settings: Settings, conformance_target: RunTarget
) -> None:
    info = api.expect(api.call("models.retrieve", model_id=api.model))
    types = ((info.get("capabilities") or {}).get("thinking") or {}).get("types") or {}
    if not (types.get("adaptive") or {}).get("supported"):
        pytest.skip(f"{api.model} does not list adaptive thinking in its capabilities")
    require_live_toggle(conformance_target, conformance_settings, "thinking_live")
    ex = api.create_message(
        "Reply with exactly: ok", max_tokens=MAX_TOKENS, thinking={"type": "adaptive"}
    )
    api.expect(ex)
    raise_for_findings(check_thinking_signature(ex), "an adaptive thinking message")
