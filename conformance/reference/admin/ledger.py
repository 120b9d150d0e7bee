"""The usage ledger: every message the reference server answered, as a ``UsageRecord``.

The app hands every answer to its observers; ``note_usage`` is the one this package registers.
The usage and cost reports are computed from the ledger (a seeded history plus these records),
so the two reports agree for real and the suite's usage<->cost cross-check is exercised against
data, not constants.
"""

from __future__ import annotations

from typing import Any

from conformance import catalog
from conformance.reference.admin.org import (
    REFERENCE_KEY_ID,
    REFERENCE_WORKSPACE_ID,
    UsageRecord,
    clock,
    db_of,
    seeded_id,
)
from conformance.reference.auth import RequestContext
from conformance.reference.routing import Answer, JsonAnswer, StreamAnswer
from conformance.reference.state import DEFAULT_API_KEY


def api_key_id_for(key: str) -> str:
    """The Admin API id of a normal key the server accepts (the default key is seeded)."""
    if key == DEFAULT_API_KEY:
        return REFERENCE_KEY_ID
    return seeded_id("api_key", "key", key)


def usage_of(answer: JsonAnswer | StreamAnswer) -> tuple[str, dict[str, Any]] | None:
    """(model, usage) of a successful message answer, JSON or streamed."""
    if isinstance(answer, JsonAnswer):
        body = answer.body
        if answer.status != 200 or not isinstance(body, dict) or body.get("type") != "message":
            return None
        return str(body.get("model")), dict(body.get("usage") or {})
    model, usage = "", {}
    for name, payload in answer.events:
        if name == "message_start":
            message = payload.get("message") or {}
            model, usage = str(message.get("model")), dict(message.get("usage") or {})
        elif name == "message_delta":
            usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
    return (model, usage) if model else None


def note_usage(ctx: RequestContext, answer: Answer) -> None:
    """Add one answered ``messages.create`` to the usage ledger (an answer observer of the app)."""
    if ctx.endpoint != "messages.create" or not isinstance(answer, JsonAnswer | StreamAnswer):
        return
    found = usage_of(answer)
    if found is None:
        return
    model, usage = found
    key_id = api_key_id_for(ctx.api_key)
    workspace = REFERENCE_WORKSPACE_ID if key_id == REFERENCE_KEY_ID else None

    def count(name: str) -> int:
        value = usage.get(name)
        return value if isinstance(value, int) and value > 0 else 0

    known = catalog.find_model(model)
    db_of(ctx.state).usage.append(
        UsageRecord(
            at=clock(ctx),
            api_key_id=key_id,
            workspace_id=workspace,
            model=known.id if known else model,
            service_tier="batch" if usage.get("service_tier") == "batch" else "standard",
            uncached_input_tokens=count("input_tokens"),
            cache_read_input_tokens=count("cache_read_input_tokens"),
            cache_creation_5m=count("cache_creation_input_tokens"),
            output_tokens=count("output_tokens"),
            web_search_requests=count("web_search_requests"),
        )
    )
