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

Faults also come at random (``ReferenceConfig.faults``, ``serve --faults``): ``FaultDice``
picks, from a seed, which requests meet one of ``RANDOM_FAULTS``, so the suite can show that a
transient fault retried is not a failure.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
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


def directed(request: Request) -> bool:
    """Whether a directive already chose this request's fault (no random one then)."""
    return getattr(request.state, _STATE, None) is not None


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


# --- faults at random: a flaky server (``ReferenceConfig.faults``) --------------------------------

#: What a random fault can be, as the real API (or its edge) fails now and then. Each happens
#: BEFORE the route runs (no resource created, nothing counted), except ``stream-cut``, which
#: cuts a Messages stream (a Messages answer creates nothing) and is only rolled for one.
STATUS_FAULTS: dict[str, tuple[int, str]] = {
    "429": (429, "rate_limit_error"),
    "529": (529, "overloaded_error"),
    "500": (500, "api_error"),
    "502": (502, "api_error"),  # the API's error type for a 502 / 503 is not documented
    "503": (503, "api_error"),
}
#: A 503 as the API's edge sends it (a load balancer's plain-text page, not the JSON envelope).
PLAIN_503 = "503-text"
#: The connection is dropped after the headers, before the body is complete.
RESET = "reset"
#: A Messages stream whose connection is dropped after its first content delta.
STREAM_CUT = "stream-cut"
#: The first byte comes late (``SLOW_SECONDS``): not a failure, nothing to retry.
SLOW = "slow"
RANDOM_FAULTS: tuple[str, ...] = (*STATUS_FAULTS, PLAIN_503, RESET, STREAM_CUT, SLOW)
#: How late a ``slow`` answer starts (short: a suite meets it many times).
SLOW_SECONDS = 0.2
PLAIN_503_BODY = (
    b"upstream connect error or disconnect/reset before headers. reset reason: overflow"
)


class Reset(Exception):
    """Raised inside an answer's body to drop the connection (``RESET``, ``STREAM_CUT``); the
    server's log filter (``quiet_resets``) keeps uvicorn from logging it as a crash."""


class FaultDice:
    """Decides, request by request, whether a random fault hits it: ``rate`` of them (0 to 1),
    drawn from a generator seeded with ``seed``, so the same run meets the same faults."""

    def __init__(self, rate: float, seed: str, kinds: tuple[str, ...] = RANDOM_FAULTS) -> None:
        self.rate = rate
        self.kinds = kinds
        self._random = random.Random(f"faults/{seed}")
        self._lock = threading.Lock()
        self.count = 0  # faults thrown so far: a serial that makes each injected answer unique

    def roll(self, endpoint: str, body: bytes) -> str | None:
        """The fault for this request (one of ``kinds``), or None."""
        if self.rate <= 0:
            return None
        streamed = endpoint == "messages.create" and _is_stream(body)
        kinds = [k for k in self.kinds if k != STREAM_CUT or streamed]
        if not kinds:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            self.count += 1
            return self._random.choice(kinds)


def _is_stream(raw: bytes) -> bool:
    if b'"stream"' not in raw:
        return False
    try:
        body = json.loads(raw)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("stream") is True


def injected_error(fault: str, serial: int) -> ApiError:
    """The error answer of a status fault (``STATUS_FAULTS``). The message carries the fault's
    serial: two injected 500s are two hiccups, never "the same answer twice" (which the client
    reports as a deterministic failure instead of retrying)."""
    status, error_type = STATUS_FAULTS[fault]
    headers = {"retry-after": RETRY_AFTER} if status in (429, 529) else {}
    message = f"{_MESSAGES[status]} (injected fault {serial})"
    return ApiError(status, message, error_type=error_type, headers=headers)


_MESSAGES = {
    429: "Number of requests has exceeded your rate limit",
    529: "Overloaded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def cut_connection(events: list[Event]) -> list[Event]:
    """The events a ``STREAM_CUT`` stream sends before its connection drops: up to and
    including the first content delta (no ``message_stop``, no ``error`` event)."""
    out: list[Event] = []
    for name, payload in events:
        out.append((name, payload))
        if name == "content_block_delta":
            break
    return out


class _QuietResets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, Reset):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


_QUIET = _QuietResets()


def quiet_resets() -> None:
    """Keep uvicorn from logging a dropped connection we caused as "Exception in ASGI
    application" (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)


# --- a loopback fault proxy: faults before AND after the upstream did the work --------------------

#: What ``FaultProxy`` does to a request the upstream never sees: the gateway refuses it.
PROXY_BEFORE: tuple[str, ...] = ("429", "529", "500", PLAIN_503, "reset-before")
#: What it does after the upstream answered: the work is done (a file uploaded, a member
#: added), its answer is lost on the way back. A retry then meets its own first try.
PROXY_AFTER: tuple[str, ...] = ("502-html", "500-after", "reset-after", "cut")
PROXY_FAULTS: tuple[str, ...] = (*PROXY_BEFORE, *PROXY_AFTER)
#: A gateway's own 502 page (HTML, no JSON envelope, no request-id), as nginx sends it.
HTML_502_BODY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
#: What an injected error asks the client to wait (milliseconds: the proxy's faults are many).
PROXY_RETRY_AFTER_MS = "20"
#: Hop-by-hop and framing headers a proxy must not copy from one connection to the next.
HOP_HEADERS = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "accept-encoding",
        "te",
        "upgrade",
        "proxy-connection",
    }
)


class FaultProxy:
    """An ASGI pass-through to ``upstream`` (a reference server) that fails ``rate`` of the
    ``/v1/`` requests with one of ``kinds`` (``PROXY_FAULTS``), from a seed: 429 and 529 with a
    wait, a 500 envelope, a ``text/plain`` 503 and a dropped connection *before* forwarding; a
    502 HTML page, a 500, a dropped connection and a body cut mid-way *after* the upstream did
    the work. ``injected`` counts what it did, by kind. Serve it with
    ``EmbeddedServer(app=FaultProxy(...))``; ``script`` forces the faults of the first
    requests."""

    def __init__(
        self,
        upstream: str,
        rate: float,
        seed: str = "conformance",
        kinds: tuple[str, ...] = PROXY_FAULTS,
        script: tuple[str | None, ...] = (),
    ) -> None:
        bad = [k for k in (*kinds, *script) if k is not None and k not in PROXY_FAULTS]
        if bad or not 0 <= rate <= 1:
            raise ValueError(
                f"fault proxy: rate from 0 to 1 and kinds among {', '.join(PROXY_FAULTS)} "
                f"(got {rate}, {', '.join(bad) or 'no unknown kind'})"
            )
        self.upstream = upstream.rstrip("/")
        self.dice = FaultDice(rate, seed, kinds)
        self.injected: dict[str, int] = {}
        #: The faults of the first ``/v1/`` requests, in order (None: forwarded as it is),
        #: before the dice take over: how the project's tests meet one fault at one moment.
        self.script = list(script)
        self._clients: list[Any] = []  # one httpx.AsyncClient, made in the server's loop
        quiet_resets()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import httpx

        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        fault = None
        if path.startswith("/v1/"):
            fault = self.script.pop(0) if self.script else self.dice.roll("", body)
        if fault is not None:
            with self.dice._lock:
                self.injected[fault] = self.injected.get(fault, 0) + 1
        if fault in PROXY_BEFORE:
            await self._refuse(send, fault)
            return
        if not self._clients:
            self._clients.append(httpx.AsyncClient(timeout=60))
        query = scope.get("query_string", b"").decode()
        headers = [
            (k.decode(), v.decode())
            for k, v in scope["headers"]
            if k.decode().lower() not in HOP_HEADERS
        ]
        answer = await self._clients[0].request(
            scope["method"],
            self.upstream + path + (f"?{query}" if query else ""),
            headers=headers,
            content=body,
        )
        out = [
            (k.encode(), v.encode())
            for k, v in answer.headers.items()
            if k.lower() not in HOP_HEADERS
        ]
        if fault is None:
            await _send_whole(send, answer.status_code, out, answer.content)
        elif fault == "502-html":
            await _send_whole(send, 502, [(b"content-type", b"text/html")], HTML_502_BODY)
        elif fault == "500-after":
            await self._refuse(send, "500")
        elif fault == "reset-after":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise Reset("connection dropped by the fault proxy after forwarding")
        else:  # "cut": the upstream's answer starts, then stops half-way
            await send(
                {"type": "http.response.start", "status": answer.status_code, "headers": out}
            )
            half = answer.content[: max(1, len(answer.content) // 2)]
            await send({"type": "http.response.body", "body": half, "more_body": True})
            raise Reset("body cut mid-way by the fault proxy")

    async def _refuse(self, send: Any, fault: str) -> None:
        serial = self.dice.count
        if fault == PLAIN_503:
            await _send_whole(send, 503, [(b"content-type", b"text/plain")], PLAIN_503_BODY)
            return
        if fault == "reset-before":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise Reset("connection dropped by the fault proxy before forwarding")
        status, error_type = STATUS_FAULTS[fault]
        request_id = f"req_fault{serial:012d}"
        envelope = {
            "type": "error",
            "error": {"type": error_type, "message": f"{_MESSAGES[status]} (proxy fault {serial})"},
            "request_id": request_id,
        }
        headers = [
            (b"content-type", b"application/json"),
            (b"request-id", request_id.encode()),
            (b"retry-after-ms", PROXY_RETRY_AFTER_MS.encode()),  # read first, as the SDKs do
        ]
        if status in (429, 529):  # as the API: a test of the 429 checks it has retry-after
            headers.append((b"retry-after", RETRY_AFTER.encode()))
        await _send_whole(send, status, headers, json.dumps(envelope).encode())

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


async def _send_whole(
    send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
