"""The reference server's own record of what it answered, and its test-only status trigger.

Neither is part of the Anthropic API (neither is in ``catalog.ENDPOINTS``): they exist so the
suite can test a proxy that forwards to this server.

* ``GET /_reference/answers?request_id=req_…`` (or ``?marker=…``, the request's
  ``metadata.user_id``) returns the exact status, headers and body this server sent, so the
  pass-through checks can compare what the proxy answered with what it was given. The suite calls
  it directly, never through the proxy; it needs one of the server's API keys.
* ``x-conformance-force-status: 429`` on an API request makes the server answer that status
  (after authentication and version checks), with ``retry-after`` on 429 and 529. Only this
  server honours it: it is how the suite provokes a rate-limit answer without spending anything.
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
from conformance.reference.state import JournalEntry, ReferenceConfig, ReferenceState

ANSWERS_PATH = "/_reference/answers"
FORCE_STATUS_HEADER = "x-conformance-force-status"
#: What a forced 429/529 asks the client to wait, in seconds (short: tests run it).
FORCED_RETRY_AFTER = "1"

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
    status = int(value)
    headers = {"retry-after": FORCED_RETRY_AFTER} if status in (429, 529) else {}
    raise ApiError(status, f"status {status} forced by the {FORCE_STATUS_HEADER} header",
                   headers=headers)


def entry_json(entry: JournalEntry) -> dict[str, Any]:
    """One journal entry as JSON; the body is text (every answer of this server is UTF-8)."""
    return {
        "method": entry.method, "path": entry.path, "status": entry.status,
        "request_id": entry.request_id, "endpoint": entry.endpoint, "marker": entry.marker,
        "headers": entry.headers, "body": entry.body.decode("utf-8", "replace"),
    }


def answers_route(config: ReferenceConfig, state: ReferenceState) -> Route:
    """``GET /_reference/answers``: the journal entries matching ``request_id`` and/or ``marker``.

    Answers 401 without a configured key and 400 without a filter (the journal is not a dump).
    """

    async def answers(request: Request) -> Response:
        if presented_key(request) not in (*config.api_keys, *config.admin_api_keys):
            return JSONResponse(_error(401, "authentication_error", "a reference key is required"),
                                status_code=401)
        request_id = request.query_params.get("request_id") or None
        marker = request.query_params.get("marker") or None
        if request_id is None and marker is None:
            return JSONResponse(_error(400, "invalid_request_error",
                                       "give request_id=req_… or marker=…"), status_code=400)
        found = state.answers(request_id=request_id, marker=marker)
        return JSONResponse({"data": [entry_json(e) for e in found]})

    return Route(ANSWERS_PATH, answers, methods=["GET"])


def _error(status: int, error_type: str, message: str) -> dict[str, Any]:
    assert catalog.ERROR_TYPES.get(status) == error_type
    return {"type": "error", "error": {"type": error_type, "message": message}}
