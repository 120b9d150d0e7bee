"""Context management (beta ``context-management-2025-06-27``): ``context_management.edits``
clear old tool results before the model reads the conversation.

Modelled: the ``clear_tool_uses_20250919`` edit. Once the input reaches its ``trigger``
(``{type: "input_tokens", value}``, default 100,000 per the docs), every tool result but the
last ``keep`` (``{type: "tool_uses", value}``, default 3) has its content replaced by a short
placeholder; the answer reports ``context_management.applied_edits: [{type,
cleared_tool_uses, cleared_input_tokens}]`` and count_tokens reports the count before the edits
as ``context_management.original_input_tokens``. ``clear_thinking_20251015`` is accepted and
applied as a no-op. Not known, so not modelled: the real placeholder text, ``clear_at_least``,
``exclude_tools`` and ``clear_tool_inputs``, and where a stream reports the applied edits
(here: in ``message_start``, as the message carries them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from conformance.reference.errors import invalid

CLEAR_TOOL_USES = "clear_tool_uses_20250919"
EDIT_TYPES = (CLEAR_TOOL_USES, "clear_thinking_20251015")
DEFAULT_TRIGGER = 100_000
DEFAULT_KEEP = 3
PLACEHOLDER = "[tool result cleared]"


def check_request(body: dict[str, Any]) -> None:
    """``context_management`` is ``{edits: [{type, ...}]}`` with known edit types."""
    if "context_management" not in body or body["context_management"] is None:
        return
    config = body["context_management"]
    if not isinstance(config, dict):
        raise invalid("context_management: Input should be a valid dictionary")
    edits = config.get("edits", [])
    if not isinstance(edits, list):
        raise invalid("context_management.edits: Input should be a valid list")
    for i, edit in enumerate(edits):
        kind = edit.get("type") if isinstance(edit, dict) else None
        if kind not in EDIT_TYPES:
            tags = ", ".join(f"'{t}'" for t in EDIT_TYPES)
            raise invalid(
                f"context_management.edits.{i}.type: Input tag '{kind}' found using "
                f"'type' does not match any of the expected tags: {tags}"
            )
        for key in ("trigger", "keep"):
            value = (edit.get(key) or {}).get("value", 1)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise invalid(
                    f"context_management.edits.{i}.{key}.value: Input should be a "
                    "valid non-negative integer"
                )


def _tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        b
        for m in body.get("messages") or []
        if isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ]


def apply(
    body: dict[str, Any], count: Callable[[dict[str, Any]], int]
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """The body the model reads after the edits, and the applied edits (None without
    ``context_management``); ``count`` counts a body's input tokens."""
    config = body.get("context_management")
    if not isinstance(config, dict):
        return body, None
    edited, applied = body, []
    for edit in config.get("edits") or []:
        if edit.get("type") != CLEAR_TOOL_USES:
            continue
        trigger = int((edit.get("trigger") or {}).get("value", DEFAULT_TRIGGER))
        keep = int((edit.get("keep") or {}).get("value", DEFAULT_KEEP))
        before = count(edited)
        if before < trigger:
            continue
        edited = copy.deepcopy(edited)
        results = _tool_results(edited)
        cleared = results[: max(len(results) - keep, 0)]
        for result in cleared:
            result["content"] = PLACEHOLDER
        if cleared:
            applied.append(
                {
                    "type": CLEAR_TOOL_USES,
                    "cleared_tool_uses": len(cleared),
                    "cleared_input_tokens": before - count(edited),
                }
            )
    return edited, applied
