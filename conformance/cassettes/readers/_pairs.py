"""Request/response mappings as vcrpy, Ruby VCR, R vcr and go-vcr write them.

These formats share a layout (a list of ``{request: {...}, response: {...}}``) and differ in
details: where the status code lives (``status.code``, ``status: 200``, ``code: 200`` next to
``status: "200 OK"``), how a body is wrapped (a string, ``{string: ...}``, ``{base64_string:
...}``, bytes from a ``!binary`` tag, pydantic-ai's ``parsed_body``) and the URL key (``uri`` or
``url``). One function reads them all; each reader only says how to find its status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from conformance.cassettes.timing import TIMING_KEY

from ._model import (
    BadInteraction,
    Interaction,
    Unreadable,
    as_bytes,
    b64,
    decompress,
    header_map,
    json_bytes,
)

#: The marker this project's readable serializer stores next to an SSE body (recording.py).
LINE_ENDING_KEY = "sse_line_ending"

StatusOf = Callable[[Mapping[str, Any]], int]


def status_code(value: Any) -> int:
    """An HTTP status from ``200``, ``"200"`` or ``"200 OK"``; ``Unreadable`` otherwise."""
    if isinstance(value, bool):
        raise Unreadable(f"response has no status code (got {value!r})")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip()[:3].isdigit():
        return int(value.strip()[:3])
    raise Unreadable(f"response has no status code (got {value!r})")


def vcr_status(response: Mapping[str, Any]) -> int:
    """``status: {code: 200, message: OK}`` (vcrpy, Ruby VCR), ``status: 200`` (R vcr 2.x),
    ``status: {status_code: '200'}`` (R vcr 1.x)."""
    status = response.get("status")
    if isinstance(status, Mapping):
        return status_code(status.get("code", status.get("status_code")))
    return status_code(status)


def body_of(part: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
    """The decoded body bytes of a request or response mapping, whatever dialect wrote it."""
    if "parsed_body" in part:  # pydantic-ai: the JSON body, already decoded
        return json_bytes(part["parsed_body"])
    raw = part.get("body")
    if isinstance(raw, Mapping):
        if raw.get("base64_string") is not None:  # Ruby VCR, R vcr, betamax
            raw = b64("".join(str(raw["base64_string"]).split()), "body base64_string")
        else:
            ending = raw.get(LINE_ENDING_KEY)
            raw = raw.get("string")
            if isinstance(raw, str) and isinstance(ending, str):
                raw = raw.replace("\n", ending)
    return decompress(as_bytes(raw), headers.get("content-encoding", ""))


def read_pair(
    raw: Any,
    status_of: StatusOf = vcr_status,
    recorded_at: Callable[[Mapping[str, Any]], datetime | None] | None = None,
) -> Interaction | BadInteraction:
    """One ``{request, response}`` mapping as an ``Interaction`` (or why it cannot be one)."""
    method, url = "", ""
    try:
        if not isinstance(raw, Mapping):
            raise Unreadable(f"interaction is a {type(raw).__name__}, not a mapping")
        request, response = raw.get("request"), raw.get("response")
        if isinstance(request, Mapping):
            uri = request.get("uri") or request.get("url")
            url = uri if isinstance(uri, str) else ""
            method = str(request.get("method") or "").upper()
        if not isinstance(request, Mapping) or not isinstance(response, Mapping):
            raise Unreadable("interaction lacks a request or response mapping")
        if not url:
            raise Unreadable("request has no uri")
        if not method:
            raise Unreadable("request has no method")
        req_headers = header_map(request.get("headers"))
        resp_headers = header_map(response.get("headers"))
        return Interaction(
            method=method,
            url=url,
            request_headers=req_headers,
            request_body=body_of(request, req_headers),
            status=status_of(response),
            response_headers=resp_headers,
            response_body=body_of(response, resp_headers),
            recorded_at=recorded_at(raw) if recorded_at is not None else None,
            timing=response.get(TIMING_KEY),
            has_timing=TIMING_KEY in response,
        )
    except (Unreadable, ValueError, TypeError, KeyError, AttributeError) as exc:
        return BadInteraction(f"{type(exc).__name__}: {exc}", method, url)
