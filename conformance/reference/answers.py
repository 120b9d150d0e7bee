"""The reference server's own record of what it received and answered, and its test-only
status trigger.

Neither is part of the Anthropic API (neither is in ``catalog.ENDPOINTS``): they exist so the
suite can test a proxy that forwards to this server.

* ``GET /_reference/answers?request_id=req_…`` (or ``?marker=…``) returns the exact status,
  headers and body this server sent, and the request as it arrived (method, path, query,
  headers without credentials, body), so the pass-through checks can compare what the proxy
  answered with what it was given, and what the suite sent with what reached the upstream. A
  marker is the request's ``metadata.user_id``, or any text found in the received body (so a
  request whose proxy dropped ``metadata`` is still found, by a copy of the marker in its
  system prompt). The suite calls it directly, never through the proxy; it needs one of the
  server's API keys.
* ``x-conformance-force-status: 429`` on an API request makes the server answer that status
  (after authentication and version checks), with ``retry-after`` on 429 and 529. Only this
  server honours it; proxies do not forward it, so ``conformance.reference.faults`` offers the
  same (and a stream that fails half-way) by a directive in the request's content.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance import catalog
from conformance.reference.auth import presented_key
from conformance.reference.errors import ApiError
from conformance.reference.faults import forced_error
from conformance.reference.state import (
    JournalEntry,
    ReceivedRequest,
    ReferenceConfig,
    ReferenceState,
)
from conformance.reference.wire import ANSWERS_PATH, FORCE_STATUS_HEADER

#: Request bodies are recorded up to this many bytes: the JSON bodies the fidelity checks
#: compare are small, file uploads (8 MiB and more) would fill the journal.
RECEIVED_BODY_LIMIT = 1 << 20

_USER_ID = re.compile(rb'"user_id"\s*:\s*"([^"\\]{1,256})"')


def marker_of(raw: bytes) -> str | None:
    """The request's ``metadata.user_id`` (a nonce the suite sets), read without a JSON parse."""
    found = _USER_ID.search(raw)
    return found.group(1).decode("utf-8", "replace") if found else None


def raise_forced_status(request: Request) -> None:
    """Raise the error ``x-conformance-force-status`` asks for; do nothing without the header."""
    value = request.headers.get(FORCE_STATUS_HEADER)
    if not value:
        return
    if not value.isdigit() or not 400 <= int(value) <= 599:
        raise ApiError(400, f"{FORCE_STATUS_HEADER}: expected an HTTP error status, got {value!r}")
    raise forced_error(int(value), f"the {FORCE_STATUS_HEADER} header")


def received_of(request: Request, raw: bytes) -> ReceivedRequest:
    """The request as it arrived, for the journal; credential headers are never kept."""
    headers = {
        k.lower(): v for k, v in request.headers.items() if k.lower() not in catalog.SECRET_HEADERS
    }
    return ReceivedRequest(
        request.method,
        request.url.path,
        request.url.query,
        headers,
        raw[:RECEIVED_BODY_LIMIT],
        len(raw) > RECEIVED_BODY_LIMIT,
    )


def received_json(received: ReceivedRequest | None) -> dict[str, Any] | None:
    """A received request as JSON; the body is text (None when nothing was recorded)."""
    if received is None:
        return None
    return {
        "method": received.method,
        "path": received.path,
        "query": received.query,
        "headers": received.headers,
        "body": received.body.decode("utf-8", "replace"),
        "truncated": received.truncated,
    }


def entry_json(entry: JournalEntry) -> dict[str, Any]:
    """One journal entry as JSON; the body is text (every answer of this server is UTF-8)."""
    return {
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "request_id": entry.request_id,
        "endpoint": entry.endpoint,
        "marker": entry.marker,
        "headers": entry.headers,
        "body": entry.body.decode("utf-8", "replace"),
        "received": received_json(entry.received),
    }


def answers_route(config: ReferenceConfig, state: ReferenceState) -> Route:
    """``GET /_reference/answers``: the journal entries matching ``request_id`` and/or ``marker``.

    Answers 401 without a configured key and 400 without a filter (the journal is not a dump).
    """

    async def answers(request: Request) -> Response:
        if presented_key(request) not in (*config.api_keys, *config.admin_api_keys):
            return JSONResponse(
                _error(401, "authentication_error", "a reference key is required"), status_code=401
            )
        request_id = request.query_params.get("request_id") or None
        marker = request.query_params.get("marker") or None
        if request_id is None and marker is None:
            return JSONResponse(
                _error(400, "invalid_request_error", "give request_id=req_… or marker=…"),
                status_code=400,
            )
        found = state.answers(request_id=request_id, marker=marker)
        return JSONResponse({"data": [entry_json(e) for e in found]})

    return Route(ANSWERS_PATH, answers, methods=["GET"])


def _error(status: int, error_type: str, message: str) -> dict[str, Any]:
    assert catalog.ERROR_TYPES.get(status) == error_type
    return {"type": "error", "error": {"type": error_type, "message": message}}
