"""Recorded timing of streamed answers: measure when each SSE event arrives, replay at that pace.

Why a transport and not the client: while recording, vcrpy's httpx stub sits *above* the network
and reads a whole answer before the client sees a byte, so the client would time a blob. The
measurement therefore happens below vcrpy, in a wrapper of the ``httpcore`` pool of the
``httpx.HTTPTransport`` the client builds (a private attribute: when it is missing the wrapper is
skipped and the time the client reads each chunk is used instead). Replay is the other way round:
vcrpy answers from the cassette above the pool, so pacing wraps the transport vcrpy patches.

Flow of one request through ``TimingTransport.handle_request``:

* a fresh ``Capture`` becomes the current one (a context variable, so vcrpy's hooks running
  inside the call find it);
* recording or live: ``_TimedPool`` notes the arrival time of each raw chunk (``Capture.wire``);
  ``attach_recorded`` (a vcrpy ``before_record_response`` hook) stores the event offsets in the
  interaction as ``response.timing``;
* replay: ``note_played`` (wrapped around ``Cassette.play_response``) hands over that entry and
  whether to pace; the response stream is then cut at event boundaries and each piece is
  delivered at its recorded offset (capped);
* the capture rides on ``response.extensions[EXTENSION]`` so the client can set
  ``Exchange.event_times``.

Answers that are not streams pass through untouched. Where an event ends is ``sse.frames``'s
rule, the one ``parse_sse`` uses, so the n-th offset belongs to the n-th parsed event. The
answer's overall read deadline is not this module's: the client's own transport enforces it
(``client.DeadlineTransport``), with or without timing; a paced replay is exempt there (it reads
a cassette, and its offsets are clamped to ``cap`` here).

Offsets are seconds since the request was handed to the transport.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance import sse

#: Key of the timing entry in a cassette's response mapping.
TIMING_KEY = "timing"
#: Key of the ``Capture`` in ``httpx.Response.extensions``.
EXTENSION = "conformance.timing"
#: Recorded offsets are rounded to this many decimals (0.1 ms): readable, and plenty.
_DIGITS = 4

_CURRENT: contextvars.ContextVar[Capture | None] = contextvars.ContextVar(
    "conformance_timing_capture", default=None
)

#: The clock offsets are measured on, and the sleeps of a paced replay. Module attributes so
#: that a test can put a fake clock in and check the pace exactly, instead of timing itself.
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep
async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


# --- what to time --------------------------------------------------------------------------------


def _decoder(encoding: str) -> Callable[[bytes], bytes] | None:
    """Incremental decoder of a content-encoding the offsets can be counted through, else None."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return lambda chunk: chunk
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(47)  # 32 + 15: zlib or gzip header, detected
        return inflater.decompress
    return None  # br, zstd...: no per-event timing, the answer itself is unaffected


def _is_sse(headers: Mapping[str, str]) -> bool:
    return sse.is_event_stream(headers.get("content-type", ""))


def _core_is_sse(headers: Any) -> bool:
    """``_is_sse`` for httpcore's raw ``[(name, value), ...]`` header list."""
    try:
        return any(
            bytes(k).lower() == b"content-type" and sse.is_event_stream(bytes(v).decode("latin-1"))
            for k, v in headers
        )
    except (TypeError, ValueError):
        return False


# --- what one request measured -------------------------------------------------------------------


@dataclass
class Capture:
    """What the transport saw of one request: chunk arrivals, and a recorded timing to replay."""

    start: float = field(default_factory=lambda: clock())  # late bound: a test may swap it
    headers: float | None = None  # offset at which the response headers arrived
    encoding: str = ""
    wire: list[tuple[float, bytes]] | None = None  # below vcrpy; None when the pool was not seen
    observed: list[tuple[float, bytes]] = field(default_factory=list)  # as the client read it
    played: Mapping[str, Any] | None = None  # the cassette's timing entry, when replaying
    pace: bool = False

    def now(self) -> float:
        return clock() - self.start

    def event_times(self) -> list[float] | None:
        """Offset of each SSE event's arrival (the chunk that completed it), or None."""
        chunks = self.wire if self.wire is not None else self.observed
        decode = _decoder(self.encoding)
        if decode is None:
            return None
        body = bytearray()
        marks: list[tuple[float, int]] = []
        for offset, chunk in chunks:
            body += decode(chunk)
            marks.append((offset, len(body)))
        times: list[float] = []
        i = 0
        for end in sse.event_ends(bytes(body)):
            while i < len(marks) - 1 and marks[i][1] < end:
                i += 1
            times.append(round(marks[i][0], _DIGITS) if marks else 0.0)
        return times

    @property
    def paced(self) -> bool:
        """True while a replayed answer is delivered at its recorded pace (not from a network)."""
        return self.pace and self.played is not None

    def recorded(self) -> dict[str, Any] | None:
        """The ``timing`` entry a cassette stores for this answer (wire measurements only)."""
        if self.wire is None:
            return None
        events = self.event_times()
        if events is None:
            return None
        return {"headers": round(self.headers or 0.0, _DIGITS), "events": events}


def capture_of(response: httpx.Response) -> Capture | None:
    """The ``Capture`` a ``TimingTransport`` attached to ``response``, if any."""
    found = response.extensions.get(EXTENSION)
    return found if isinstance(found, Capture) else None


# --- vcrpy hooks ---------------------------------------------------------------------------------


def _header(response: Mapping[str, Any], name: str) -> str:
    headers = response.get("headers") or {}
    for key, value in headers.items() if isinstance(headers, Mapping) else ():
        if str(key).lower() == name:
            values = value if isinstance(value, list) else [value]
            return str(values[0]) if values else ""
    return ""


def attach_recorded(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy ``before_record_response`` hook: store the measured event offsets of a stream."""
    capture = _CURRENT.get()
    if capture is not None and sse.is_event_stream(_header(response, "content-type")):
        entry = capture.recorded()
        if entry is not None:
            response[TIMING_KEY] = entry
    return response


def note_played(response: Any, pace: bool) -> None:
    """Called with each response dict vcrpy replays: hand its timing entry to the transport."""
    capture = _CURRENT.get()
    entry = response.get(TIMING_KEY) if isinstance(response, dict) else None
    if capture is not None and isinstance(entry, Mapping):
        capture.played = entry
        capture.pace = pace


def _offsets(entry: Mapping[str, Any], cap: float) -> tuple[float, list[float]]:
    """``(headers offset, event offsets)`` of a timing entry, each clamped to ``[0, cap]``;
    a malformed entry gives no pacing rather than an error."""

    def clamp(value: Any) -> float:
        return min(max(float(value), 0.0), cap)

    try:
        events = [clamp(v) for v in entry.get("events") or []]
        return clamp(entry.get("headers") or 0.0), events
    except (TypeError, ValueError):
        return 0.0, []


def _pieces(body: bytes, events: list[float]) -> list[tuple[float | None, bytes]]:
    """The body cut at event ends, each piece with the offset it is due at (None: at once)."""
    out: list[tuple[float | None, bytes]] = []
    prev = 0
    for end, due in zip(sse.event_ends(body), events, strict=False):
        out.append((due, body[prev:end]))
        prev = end
    if prev < len(body):
        out.append((None, body[prev:]))
    return out


class _WrappedBody:
    """What every wrapped body holds: the inner stream, the capture, and the cap of offsets."""

    def __init__(self, inner: Any, capture: Capture, cap: float) -> None:
        self._inner = inner
        self._capture = capture
        self._cap = cap


# --- sync ----------------------------------------------------------------------------------------


class _TimedCoreStream:
    """An httpcore response stream that notes when each raw chunk arrives."""

    def __init__(self, inner: Any, capture: Capture) -> None:
        self._inner = inner
        self._capture = capture

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if self._capture.wire is not None:
                self._capture.wire.append((self._capture.now(), chunk))
            yield chunk

    def close(self) -> None:
        if hasattr(self._inner, "close"):
            self._inner.close()


class _TimedPool:
    """Wraps the transport's httpcore pool: every other attribute is the pool's own."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def handle_request(self, request: Any) -> Any:
        response = self._pool.handle_request(request)
        capture = _CURRENT.get()
        if capture is not None:
            capture.headers = capture.now()
            if _core_is_sse(response.headers):
                capture.wire = []
                response.stream = _TimedCoreStream(response.stream, capture)
        return response

    def __enter__(self) -> Any:
        self._pool.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._pool.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


def _wrap_pool(transport: Any, wrapper: Callable[[Any], Any]) -> None:
    pool = getattr(transport, "_pool", None)  # httpx private: guarded, optional
    if pool is not None and (
        hasattr(pool, "handle_request") or hasattr(pool, "handle_async_request")
    ):
        transport._pool = wrapper(pool)


class _ObservedStream(_WrappedBody, httpx.SyncByteStream):
    """The response stream as the client reads it, each chunk's time noted; paced if asked."""

    def _chunks(self) -> Iterator[bytes]:
        played = self._capture.played
        if played is None or not self._capture.pace:
            yield from self._inner
            return
        _, events = _offsets(played, self._cap)
        for due, piece in _pieces(b"".join(self._inner), events):
            if due is not None:
                sleep(max(0.0, due - self._capture.now()))
            yield piece

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks():
            self._capture.observed.append((self._capture.now(), chunk))
            yield chunk

    def close(self) -> None:
        if hasattr(self._inner, "close"):
            self._inner.close()


class TimingTransport(httpx.BaseTransport):
    """An ``httpx.HTTPTransport`` that times streamed answers and replays recorded timing.

    ``cap`` bounds any replayed offset (seconds), so a cassette cannot stall a run.
    """

    def __init__(self, inner: httpx.HTTPTransport, cap: float = 60.0) -> None:
        self._inner = inner
        self._cap = cap
        _wrap_pool(inner, _TimedPool)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        capture = Capture()
        token = _CURRENT.set(capture)
        try:
            response = self._inner.handle_request(request)
        finally:
            _CURRENT.reset(token)
        if not _finish(capture, response):
            return response  # only streams are timed: other bodies are not even wrapped
        if capture.pace and capture.played is not None:
            headers_at, _ = _offsets(capture.played, self._cap)
            sleep(max(0.0, headers_at - capture.now()))
        response.stream = _ObservedStream(response.stream, capture, self._cap)
        return response

    def close(self) -> None:
        self._inner.close()


def _finish(capture: Capture, response: httpx.Response) -> bool:
    """Common bookkeeping once the inner transport answered; True for a stream to observe."""
    if capture.headers is None:
        capture.headers = capture.now()
    capture.encoding = response.headers.get("content-encoding", "")
    if capture.encoding.strip().lower() not in ("", "identity"):
        capture.pace = False  # only plain (not re-encoded) streams are cut at event ends
    response.extensions = {**response.extensions, EXTENSION: capture}
    return _is_sse(response.headers)


# --- async ---------------------------------------------------------------------------------------


class _AsyncTimedCoreStream:
    def __init__(self, inner: Any, capture: Capture) -> None:
        self._inner = inner
        self._capture = capture

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            if self._capture.wire is not None:
                self._capture.wire.append((self._capture.now(), chunk))
            yield chunk

    async def aclose(self) -> None:
        if hasattr(self._inner, "aclose"):
            await self._inner.aclose()


class _AsyncTimedPool:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def handle_async_request(self, request: Any) -> Any:
        response = await self._pool.handle_async_request(request)
        capture = _CURRENT.get()
        if capture is not None:
            capture.headers = capture.now()
            if _core_is_sse(response.headers):
                capture.wire = []
                response.stream = _AsyncTimedCoreStream(response.stream, capture)
        return response

    async def __aenter__(self) -> Any:
        await self._pool.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._pool.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class _AsyncObservedStream(_WrappedBody, httpx.AsyncByteStream):
    """The asyncio ``_ObservedStream``."""

    async def _chunks(self) -> AsyncIterator[bytes]:
        played = self._capture.played
        if played is None or not self._capture.pace:
            async for chunk in self._inner:
                yield chunk
            return
        _, events = _offsets(played, self._cap)  # paced replay: see _ObservedStream
        body = b"".join([chunk async for chunk in self._inner])
        for due, piece in _pieces(body, events):
            if due is not None:
                await async_sleep(max(0.0, due - self._capture.now()))
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks():
            self._capture.observed.append((self._capture.now(), chunk))
            yield chunk

    async def aclose(self) -> None:
        if hasattr(self._inner, "aclose"):
            await self._inner.aclose()


class AsyncTimingTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of ``TimingTransport``."""

    def __init__(self, inner: httpx.AsyncHTTPTransport, cap: float = 60.0) -> None:
        self._inner = inner
        self._cap = cap
        _wrap_pool(inner, _AsyncTimedPool)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        capture = Capture()
        token = _CURRENT.set(capture)
        try:
            response = await self._inner.handle_async_request(request)
        finally:
            _CURRENT.reset(token)
        if not _finish(capture, response):
            return response
        if capture.pace and capture.played is not None:
            headers_at, _ = _offsets(capture.played, self._cap)
            await async_sleep(max(0.0, headers_at - capture.now()))
        response.stream = _AsyncObservedStream(response.stream, capture, self._cap)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
