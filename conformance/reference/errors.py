"""The API's error envelope, and the exception every route raises to answer with one.

Routes never build error bodies themselves: they raise ``ApiError`` and the app turns it into
``{"type":"error","error":{...},"request_id":...}`` with the status <-> type mapping of the
catalog, so every family answers errors the same way (and mutants can rewrite them in one place).
"""

from __future__ import annotations

from typing import Any

from conformance import catalog


def error_type_for(status: int) -> str:
    """The ``error.type`` the API uses for ``status`` (other 4xx codes share invalid_request)."""
    known = catalog.ERROR_TYPES.get(status)
    if known is not None:
        return known
    return "api_error" if status >= 500 else "invalid_request_error"


class ApiError(Exception):
    """An answer with an error envelope; raised anywhere inside a route."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_for(status)
        self.headers = dict(headers or {})


def invalid(message: str) -> ApiError:
    """400 invalid_request_error: the request body, query or a header is wrong."""
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    """404 not_found_error: an unknown route, model or resource."""
    return ApiError(404, message)


def error_body(
    status: int, message: str, request_id: str, error_type: str | None = None
) -> dict[str, Any]:
    """The envelope of an error answer (api-contract.md §1)."""
    return {
        "type": "error",
        "error": {"type": error_type or error_type_for(status), "message": message},
        "request_id": request_id,
    }
