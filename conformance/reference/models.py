"""Routes of the models family: GET /v1/models (ID-cursor pages) and GET /v1/models/{model_id}.

Models come from ``catalog.MODELS``; the capability table is derived from each model's release
date and line, so adding a model is a catalog row, not a change here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from conformance import catalog
from conformance.reference.auth import RequestContext
from conformance.reference.errors import ApiError, invalid
from conformance.reference.routing import Answer, JsonAnswer, RouteSpec

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def _supported(flag: bool) -> dict[str, bool]:
    return {"supported": flag}


def capabilities(model: catalog.Model) -> dict[str, Any]:
    """A plausible capabilities object (api-contract.md §7); newer models support more."""
    effort = model.created_at >= "2025-11-24"  # Opus 4.5 and later
    adaptive = model.created_at >= "2026-02-01"  # the 4.6 generation
    structured = model.created_at >= "2025-08-05"
    return {
        "batch": _supported(True),
        "citations": _supported(True),
        "code_execution": _supported(True),
        "image_input": _supported(True),
        "pdf_input": _supported(True),
        "structured_outputs": _supported(structured),
        "thinking": {"supported": True, "types": {
            "enabled": _supported(True), "disabled": _supported(True),
            "adaptive": _supported(adaptive), "between_tools": _supported(True)}},
        "effort": {"supported": effort, "low": _supported(effort),
                   "medium": _supported(effort), "high": _supported(effort),
                   "max": _supported(adaptive)},
        "context_management": {"supported": True,
                               "clear_tool_uses_20250919": _supported(True),
                               "clear_thinking_20251015": _supported(True),
                               "compact_20260112": _supported(adaptive)},
        "server_tools": {"supported": True, "web_search": _supported(True),
                         "code_execution": _supported(True)},
    }


def model_info(model: catalog.Model, version: str) -> dict[str, Any]:
    """The ModelInfo of ``model`` as API ``version`` shapes it (2026-10-21 adds lifecycle)."""
    info: dict[str, Any] = {
        "type": "model",
        "id": model.id,
        "display_name": model.display_name,
        "created_at": model.created_at,
        "max_input_tokens": model.max_input_tokens,
        "max_tokens": model.max_tokens,
        "capabilities": capabilities(model),
    }
    if version != "2023-06-01":
        info.update(lifecycle="active", deprecated_at=None, retires_at=None, line=model.line)
    return info


def ordered_models() -> list[catalog.Model]:
    """All models, newest first (the order of GET /v1/models)."""
    return sorted(catalog.MODELS, key=lambda m: m.created_at, reverse=True)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid("limit: Input should be a valid integer") from exc
    if value < 1:
        raise invalid("limit: Input should be greater than or equal to 1")
    if value > MAX_LIMIT:
        raise invalid(f"limit: Input should be less than or equal to {MAX_LIMIT}")
    return value


def _position(models: list[catalog.Model], cursor: str, name: str) -> int:
    model = catalog.find_model(cursor)
    ids = [m.id for m in models]
    if model is None or model.id not in ids:
        raise invalid(f"{name}: no model with id '{cursor}'")
    return ids.index(model.id)


def page(items: list[dict[str, Any]], start: int, end: int, has_more: bool) -> dict[str, Any]:
    """An ID-cursor page ``{data, has_more, first_id, last_id}`` of ``items[start:end]``."""
    data = items[start:end]
    return {"data": data, "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}


async def list_models(request: Request, ctx: RequestContext) -> Answer:
    query = request.query_params
    limit = _limit(query.get("limit"))
    after, before = query.get("after_id"), query.get("before_id")
    if after and before:
        raise invalid("after_id: cannot be combined with before_id")
    models = ordered_models()
    lifecycle = query.getlist("lifecycle[]") or query.getlist("lifecycle")
    if lifecycle and "active" not in lifecycle:
        models = []  # every catalog model is active
    items = [model_info(m, ctx.version) for m in models]
    if after:
        start = _position(models, after, "after_id") + 1
        return JsonAnswer(page(items, start, start + limit, start + limit < len(items)))
    if before:
        end = _position(models, before, "before_id")
        start = max(0, end - limit)
        return JsonAnswer(page(items, start, end, start > 0))
    return JsonAnswer(page(items, 0, limit, limit < len(items)))


async def retrieve_model(request: Request, ctx: RequestContext) -> Answer:
    name = str(request.path_params["model_id"])
    model = catalog.find_model(name)
    if model is None:
        raise ApiError(404, f"model: {name}")
    return JsonAnswer(model_info(model, ctx.version))


ROUTES: list[RouteSpec] = [
    RouteSpec("models.list", list_models),
    RouteSpec("models.retrieve", retrieve_model),
]
