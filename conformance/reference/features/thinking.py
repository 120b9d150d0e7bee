"""Extended thinking: the blocks the reference model thinks in, their signatures, and the rules
the API applies to a request that turns thinking on.

A signature is an HMAC-like digest of the seed and the thinking text, so the server can tell a
block it wrote from one a client (or a proxy) altered: the real API refuses a thinking block
whose signature does not verify. Redacted thinking is what the API sends when its safety systems
flag the reasoning; the documented magic prompt below triggers it on demand (recorded on
claude-sonnet-4-5; whether every model honours it is not known), and its ``data`` verifies the
same way.

Error messages follow the real API's wording where it is known (the budget and signature
messages, from recorded answers and the extended-thinking docs); the temperature message is
close to, not certainly equal to, the API's.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from conformance.reference.errors import invalid

MIN_BUDGET = 1024
#: The documented test prompt that makes the API answer with redacted_thinking.
REDACTED_TRIGGER = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_"
    "46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB"
)
_REDACTED_TAG = b"reference-redacted-thinking\x00"


def _digest(seed: str, kind: str, text: str) -> bytes:
    return hashlib.sha256("\x1f".join((seed, kind, text)).encode()).digest()


def signature(seed: str, thought: str) -> str:
    """The signature the server puts on a thinking block with ``thought``."""
    return base64.b64encode(b"\x12\x08" + _digest(seed, "signature", thought)).decode()


def redacted_data(seed: str, text: str) -> str:
    """Opaque ``data`` of a redacted_thinking block (it verifies like a signature)."""
    digest = _digest(seed, "redacted", text)
    return base64.b64encode(
        _REDACTED_TAG + digest + _digest(seed, "redacted-check", digest.hex())
    ).decode()


def _redacted_ok(seed: str, data: str) -> bool:
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        return False
    body = raw.removeprefix(_REDACTED_TAG)
    return (
        raw.startswith(_REDACTED_TAG)
        and len(body) == 64
        and body[32:] == _digest(seed, "redacted-check", body[:32].hex())
    )


def wants_thinking(body: dict[str, Any]) -> bool:
    """Whether the reply opens with thinking: ``enabled``, and ``adaptive`` (the reference model
    always decides to think; a real model may not)."""
    return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")


def block(body: dict[str, Any], seed: str, text: str, thought: str) -> dict[str, Any]:
    """The thinking block (or, on the trigger prompt, redacted_thinking) that opens a reply."""
    if REDACTED_TRIGGER in text:
        return {"type": "redacted_thinking", "data": redacted_data(seed, text)}
    return {"type": "thinking", "thinking": thought, "signature": signature(seed, thought)}


def check_passed_back(block: dict[str, Any], path: str, seed: str) -> None:
    """A thinking block in the request must come back exactly as the server sent it."""
    if block.get("type") == "thinking":
        if block.get("signature") != signature(seed, str(block.get("thinking"))):
            raise invalid(f"{path}: Invalid `signature` in `thinking` block")
    elif block.get("type") == "redacted_thinking" and not _redacted_ok(seed, str(block["data"])):
        raise invalid(f"{path}: Invalid `data` in `redacted_thinking` block")


def check_request(body: dict[str, Any], count: bool) -> None:
    """The rules of a request with thinking on: budget, sampling, forced tools, pass-back."""
    config = body.get("thinking")
    if not isinstance(config, dict) or config.get("type") not in ("enabled", "adaptive"):
        return
    if config.get("type") == "enabled":
        budget = config.get("budget_tokens")
        if not count and isinstance(budget, int) and budget >= body["max_tokens"]:
            raise invalid("max_tokens: `max_tokens` must be greater than `thinking.budget_tokens`")
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise invalid("temperature: `temperature` may only be set to 1 when thinking is enabled")
    if "top_k" in body:
        raise invalid("top_k: `top_k` is not allowed when thinking is enabled")
    top_p = body.get("top_p")
    if isinstance(top_p, int | float) and not 0.95 <= top_p <= 1:
        raise invalid("top_p: `top_p` must be between 0.95 and 1 when thinking is enabled")
    _check_tool_turn(body.get("messages") or [])


def _check_tool_turn(messages: list[Any]) -> None:
    """With thinking on, the assistant turn that made the pending tool calls starts with its
    thinking block: a client (or proxy) that drops thinking blocks gets this 400."""
    if len(messages) < 2 or not isinstance(messages[-1], dict):
        return
    last, turn = messages[-1], messages[-2]
    results = last.get("content") if last.get("role") == "user" else None
    if not (
        isinstance(results, list)
        and isinstance(turn, dict)
        and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in results)
    ):
        return
    content = turn.get("content")
    if turn.get("role") != "assistant" or not isinstance(content, list) or not content:
        return
    first = content[0].get("type") if isinstance(content[0], dict) else None
    if first not in ("thinking", "redacted_thinking"):
        raise invalid(
            f"messages.{len(messages) - 2}.content.0.type: Expected `thinking` or "
            f"`redacted_thinking`, but found `{first}`. When `thinking` is enabled, a final "
            "`assistant` message must start with a thinking block (preceding the lastmost set "
            "of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks "
            "from previous turns."
        )
