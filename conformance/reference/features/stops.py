"""Stop reasons the real API gives only in situations a test cannot set up cheaply: ``refusal``
(with ``stop_details``), ``model_context_window_exceeded`` and ``pause_turn``. The reference
server gives them on the test-only trigger prompts of ``catalog.STOP_TRIGGERS``.

Shapes follow api-contract.md §2 and a recorded real refusal: a refusal answers with no content
at all, 0 output tokens and ``stop_details: {type: "refusal", category, explanation}`` (in a
stream, on ``message_delta``; ``message_start`` carries ``stop_details: null``). The text before
a ``model_context_window_exceeded`` or ``pause_turn`` stop is ours: the real API stops wherever
the window filled up or the server tool loop paused, and a paused turn is continued by sending
the assistant content back as the last message (the docs' pattern), which the generator already
treats as a prefill to continue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance import catalog

#: The refusal's explanation; the category is one of the SDK's (a guess: the real one depends on
#: the request).
REFUSAL_DETAILS = {
    "type": "refusal",
    "category": "general_harms",
    "explanation": "This request was refused: the reference server's refusal trigger was sent.",
}
_TEXT = {
    "model_context_window_exceeded": "The answer reached the end of the context window and",
    "pause_turn": "Let me keep working on this.",
}


@dataclass(frozen=True)
class Stop:
    """A forced end of the turn: its reason, the text before it and the stop_details."""

    reason: str
    content: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] | None = None


def triggered(prompt: str) -> Stop | None:
    """The forced stop the last user text asks for, if it holds a trigger."""
    for reason, trigger in catalog.STOP_TRIGGERS.items():
        if trigger in prompt:
            if reason == "refusal":
                return Stop(reason, [], dict(REFUSAL_DETAILS))
            return Stop(reason, [{"type": "text", "text": _TEXT[reason]}])
    return None
