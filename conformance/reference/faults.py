"""Faults forced by the request's content: how the suite provokes errors through any proxy.

A proxy forwards the messages it is given, but not a test-only header
(``answers.FORCE_STATUS_HEADER``). So the reference server also honours a directive in the
request's content: the text ``[[conformance:fault=NAME]]`` anywhere in the system prompt or in
the last user message of a Messages (or count_tokens) request. Only this server honours it (the
real API reads it as plain text); ``NAME`` is one of ``FAULTS``:

* ``429``: a ``rate_limit_error`` with ``retry-after``;
* ``529``: an ``overloaded_error`` with ``retry-after``;
* ``500``: an ``api_error``;
* ``stream-error``: a stream (the request must say ``"stream": true``) that ends with an
  ``error`` event (``overloaded_error``, as the API sends mid-stream) right after its first
  content delta, the way the API ends a stream that fails half-way.

The fault is decided after authentication and the version check, like the forced-status
header; an unknown name, or ``stream-error`` without ``stream``, is a 400 naming the fix.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from conformance.reference.errors import ApiError, invalid
from conformance.reference.routing import Answer, Event, StreamAnswer

#: The directive, as the suite writes it (``directive("529")``).
DIRECTIVE = re.compile(r"\[\[conformance:fault=([^\]\s]{1,40})\]\]")
STREAM_ERROR = "stream-error"
#: Fault name -> HTTP status (None: the answer is a stream that fails half-way).
FAULTS: dict[str, int | None] = {"429": 429, "529": 529, "500": 500, STREAM_ERROR: None}
#: What a forced 429/529 asks the client to wait, in seconds (short: tests run it).
RETRY_AFTER = "1"
#: The error a failing stream ends with (the API's mid-stream error is an overload).
STREAM_ERROR_TYPE = "overloaded_error"

_STATE = "conformance_fault"  # the request.state attribute a stream fault waits in


def directive(fault: str) -> str:
    """The text that asks the reference server for ``fault`` (one of ``FAULTS``)."""
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
    return f"[[conformance:fault={fault}]]"


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
    return []


def fault_of(body: Any) -> str | None:
    """The fault a request body's system prompt or last user message asks for, if any."""
    if not isinstance(body, dict):
        return None
    texts = _texts(body.get("system"))
    messages = body.get("messages")
    if isinstance(messages, list):
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            texts += _texts(users[-1].get("content"))
    for text in texts:
        found = DIRECTIVE.search(text)
        if found:
            return found.group(1)
    return None


def forced_error(status: int, why: str) -> ApiError:
    """The error a forced ``status`` answers with: ``retry-after`` on 429 and 529, as the API."""
    headers = {"retry-after": RETRY_AFTER} if status in (429, 529) else {}
    return ApiError(status, f"status {status} forced by {why}", headers=headers)


def raise_fault(request: Request, raw: bytes) -> None:
    """Raise the error the body's directive asks for, or note a stream fault for ``apply``."""
    if b"[[conformance:fault=" not in raw:  # the common case: no JSON parse
        return
    try:
        body = json.loads(raw)
    except ValueError:
        return
    fault = fault_of(body)
    if fault is None:
        return
    if fault not in FAULTS:
        raise invalid(
            f"[[conformance:fault={fault}]]: unknown fault; the reference server "
            f"knows {', '.join(FAULTS)}"
        )
    status = FAULTS[fault]
    if status is not None:
        raise forced_error(status, f"the [[conformance:fault={fault}]] directive")
    if body.get("stream") is not True:
        raise invalid(f'[[conformance:fault={fault}]] needs a streamed request ("stream": true)')
    setattr(request.state, _STATE, fault)


def apply(request: Request, answer: Answer) -> Answer:
    """The answer with the noted stream fault applied (unchanged when there is none)."""
    if getattr(request.state, _STATE, None) != STREAM_ERROR or not isinstance(answer, StreamAnswer):
        return answer
    return StreamAnswer(cut_stream(answer.events), answer.headers)


def cut_stream(events: list[Event]) -> list[Event]:
    """``events`` up to and including the first content delta, then an ``error`` event."""
    out: list[Event] = []
    for name, payload in events:
        out.append((name, payload))
        if name == "content_block_delta":
            break
    error = {
        "type": "error",
        "error": {
            "type": STREAM_ERROR_TYPE,
            "message": f"Overloaded (forced by the [[conformance:fault={STREAM_ERROR}]] directive)",
        },
    }
    return [*out, ("error", error)]
