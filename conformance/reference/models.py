"""Routes of the models family: GET /v1/models (ID-cursor pages) and GET /v1/models/{model_id}.

Models come from ``catalog.MODELS``; the capability table is derived from each model's release
date and line, so adding a model is a catalog row, not a change here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from conformance import catalog
from conformance.reference.auth import RequestContext
from conformance.reference.errors import ApiError
from conformance.reference.paging import id_page
from conformance.reference.routing import Answer, JsonAnswer, RouteSpec


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
        "thinking": {
            "supported": True,
            "types": {
                "enabled": _supported(True),
                "disabled": _supported(True),
                "adaptive": _supported(adaptive),
                "between_tools": _supported(True),
            },
        },
        "effort": {
            "supported": effort,
            "low": _supported(effort),
            "medium": _supported(effort),
            "high": _supported(effort),
            "max": _supported(adaptive),
        },
        "context_management": {
            "supported": True,
            "clear_tool_uses_20250919": _supported(True),
            "clear_thinking_20251015": _supported(True),
            "compact_20260112": _supported(adaptive),
        },
        "server_tools": {
            "supported": True,
            "web_search": _supported(True),
            "code_execution": _supported(True),
        },
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
    if version != catalog.VERSION_2023:
        info.update(lifecycle="active", deprecated_at=None, retires_at=None, line=model.line)
    return info


def ordered_models() -> list[catalog.Model]:
    """All models, newest first (the order of GET /v1/models)."""
    return sorted(catalog.MODELS, key=lambda m: m.created_at, reverse=True)


async def list_models(request: Request, ctx: RequestContext) -> Answer:
    query = request.query_params
    models = ordered_models()
    lifecycle = query.getlist("lifecycle[]") or query.getlist("lifecycle")
    if lifecycle and "active" not in lifecycle:
        models = []  # every catalog model is active
    items = [model_info(m, ctx.version) for m in models]
    return JsonAnswer(id_page(items, query, kind="model", resolve=_model_id))


def _model_id(cursor: str) -> str:
    """Cursors may name a model by alias, as GET /v1/models/{id} does."""
    model = catalog.find_model(cursor)
    return model.id if model else cursor


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
