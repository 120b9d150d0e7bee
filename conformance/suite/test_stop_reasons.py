"""Stop reasons of today: ``refusal`` (with ``stop_details``), ``model_context_window_exceeded``
and ``pause_turn``, JSON and streamed.

The real API cannot be made to give any of them on demand (no trigger is documented, and filling
a 200,000-token context window costs dollars), so these tests send the reference server's
test-only triggers (``catalog.STOP_TRIGGERS``) and skip on a target that does not honour them,
saying so. ``api.expect`` runs the ``stop-details`` check.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import catalog
from conformance.api import Api
from conformance.suite._data import text_of
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("stop_reasons")


def _forced(
    api: Api, target: RunTarget, reason: str, stream: bool = False
) -> tuple[dict[str, Any], Any]:
    """The answer to ``reason``'s trigger; skips where no trigger is honoured."""
    if not target.can_force_status:
        pytest.skip(
            f"{target.describe()} cannot be made to stop with {reason} on demand: no "
            "trigger is documented for the real API (the reference server has one)"
        )
    trigger = catalog.STOP_TRIGGERS[reason]
    ex = api.create_message(trigger, max_tokens=64, stream=stream)
    message = api.expect(ex)
    if message["stop_reason"] == "end_turn" and message.get("stop_details") is None:
        # a proxy may be, or forward to, a reference server: this one ignored the trigger
        pytest.skip(
            f"{target.describe()} does not honour the reference server's test-only "
            f"trigger {trigger}"
        )
    return message, ex


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_refusal_has_stop_details(api: Api, conformance_target: RunTarget, stream: bool) -> None:
    message, ex = _forced(api, conformance_target, "refusal", stream)
    assert message["stop_reason"] == "refusal", message
    details = message.get("stop_details")
    assert isinstance(details, dict) and details["type"] == "refusal", message
    assert message["usage"]["output_tokens"] >= 0
    if stream:
        start = next(e.json for e in ex.events or [] if e.type == "message_start")
        assert start["message"]["stop_reason"] is None, start


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_model_context_window_exceeded(
    api: Api, conformance_target: RunTarget, stream: bool
) -> None:
    message, _ = _forced(api, conformance_target, "model_context_window_exceeded", stream)
    assert message["stop_reason"] == "model_context_window_exceeded", message
    assert message.get("stop_details") is None, message


def test_pause_turn_then_continue(api: Api, conformance_target: RunTarget) -> None:
    paused, _ = _forced(api, conformance_target, "pause_turn")
    assert paused["stop_reason"] == "pause_turn", paused
    assert paused.get("stop_details") is None, paused
    # the docs' continuation: the paused content goes back as the last (assistant) message
    ex = api.create_message(
        messages=[
            {"role": "user", "content": "Continue the turn."},
            {"role": "assistant", "content": paused["content"]},
        ],
        max_tokens=64,
    )
    continued = api.expect(ex)
    assert continued["stop_reason"] in ("end_turn", "max_tokens"), continued
    assert text_of(continued), continued
