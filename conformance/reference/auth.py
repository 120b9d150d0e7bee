"""Shared request plumbing of every route: authentication, API version, betas, JSON bodies.

Every family calls the same checks in the same order (key, then version), so an error a suite
test provokes on one endpoint looks identical on every other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from conformance import catalog
from conformance.reference.errors import ApiError, invalid
from conformance.reference.state import ReferenceConfig, ReferenceState


@dataclass
class RequestContext:
    """What a route needs besides the request: who called, under which version, with which ids."""

    config: ReferenceConfig
    state: ReferenceState
    endpoint: str
    serial: int
    request_id: str
    version: str = catalog.DEFAULT_API_VERSION
    betas: tuple[str, ...] = ()
    api_key: str = field(default="", repr=False)  # never printed: it is a secret


def presented_key(request: Request) -> str | None:
    """The key of ``x-api-key`` or ``Authorization: Bearer``; ``None`` when neither is sent."""
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def authenticate(request: Request, ctx: RequestContext) -> None:
    """401 unless a configured key is presented. The key is never echoed back."""
    key = presented_key(request)
    if key is None:
        raise ApiError(401, "x-api-key header is required")
    if key not in ctx.config.api_keys:
        raise ApiError(401, "invalid x-api-key")
    ctx.api_key = key


def check_version(request: Request, ctx: RequestContext) -> None:
    """400 unless ``anthropic-version`` names a version the catalog knows; sets ctx.version."""
    version = request.headers.get("anthropic-version")
    if not version:
        raise invalid("anthropic-version: header is required")
    if version not in catalog.API_VERSIONS:
        raise invalid(
            f"anthropic-version: invalid version '{version}'; "
            f"expected one of {', '.join(catalog.API_VERSIONS)}"
        )
    ctx.version = version
    ctx.betas = tuple(
        b.strip()
        for value in request.headers.getlist("anthropic-beta")
        for b in value.split(",")
        if b.strip()
    )


def check_request(request: Request, ctx: RequestContext) -> None:
    """The common gate of every API route: key first, then version."""
    authenticate(request, ctx)
    check_version(request, ctx)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 when it is empty, malformed or not an object."""
    raw = await request.body()
    if not raw.strip():
        raise invalid("request body is required")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"There was an issue with your request body: invalid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise invalid("request body: Input should be a valid dictionary")
    return body
