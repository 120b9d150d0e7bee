"""The HTTP client the suite talks through: headers, retries, redaction and ``Exchange`` capture.

The suite never knows which target it talks to (the real API, a proxy, the embedded reference
server or a cassette); only the ``Target`` and this client do. Every call returns an ``Exchange``
whatever the status: deciding whether an answer is right is the checks' job, not the client's.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json as json_module
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import certifi
import httpcore  # noqa: F401  (see below)
import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from conformance import catalog, redact
from conformance.cassettes import timing
from conformance.exceptions import ConformanceToolError
from conformance.exchange import Exchange, Inconclusive
from conformance.sse import parse_sse
from conformance.target import Target as Target  # re-exported: clients take one

# httpx imports httpcore lazily and caches a map of its exception classes on first use. Importing
# it here, with the plugin, keeps one httpcore for the whole process: a pytester run that first
# imported it would drop it from sys.modules at its end, and connection errors raised by a fresh
# import would then escape httpx unmapped (a raw ``httpcore.ConnectError``).
log = logging.getLogger("conformance.client")

Headers = Mapping[str, str | None]
ErrorTranslator = Callable[[Exception], Exception | None]


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context (httpx's default trust store) for every client: building one costs
    ~60 ms, and each test makes its own client."""
    return ssl.create_default_context(cafile=certifi.where())


class TargetUnreachable(ConformanceToolError, ConnectionError):
    """The target did not answer at all, even after retries."""


class ConnectionLost(TargetUnreachable, Inconclusive):
    """Every try reached the target, but each lost its connection before the answer was whole
    (a reset, a body cut mid-way, a read timeout): the target is there, the network or the
    target hiccuped. The suite could not judge the call (``Inconclusive``: the test is skipped
    with this evidence), unlike a target that never accepted a connection at all
    (``TargetUnreachable`` itself: a setting to fix)."""

    def __init__(self, message: str, faults: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.findings = []
        #: What each try met (``RemoteProtocolError``, ``ReadTimeout``, ...).
        self.faults = faults

    @property
    def timed_out(self) -> bool:
        """Whether a try waited in vain (a silent target), rather than being cut off."""
        return any("Timeout" in f for f in self.faults)


class AnswerLost(Inconclusive):
    """A call with an effect (an upload, a create, a delete) was retried after a try that may
    have taken effect (a 5xx or a dropped connection after the request was sent), and the
    retry was refused because of it (a delete answered 404, a create 400 or 409 "already
    exists"): the answer about the first try was lost, so the suite cannot judge it. What the
    first try created is found and removed by the resource ledger (``Uncertain``)."""

    def __init__(self, message: str, exchange: Exchange) -> None:
        super().__init__(message)
        self.exchange = exchange


class UnreadableAnswer(AssertionError):
    """The target answered, but its answer cannot be read (e.g. a body that is not the gzip
    its content-encoding says): a conformance failure of the target, not a crash."""


_CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization"})


class _Credential(httpx.Auth):
    """Puts the key on a request at send time, so that no header dict the suite keeps (and no
    ``--showlocals`` traceback) holds it."""

    def __init__(self, header: str, value: str) -> None:
        self.header = header
        self._value = value

    def __repr__(self) -> str:
        return f"<credential {self.header}: {redact.MASK}>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.header] = self._value
        yield request


class StillTransient(Inconclusive):
    """The target still gave a transient answer (429, 529, 5xx) after the last retry: the suite
    could not judge the call, so the test is skipped with this evidence, never failed."""

    def __init__(self, message: str, exchange: Exchange) -> None:
        super().__init__(message)
        self.exchange = exchange


#: Transport failures that happen before the request leaves: the target never saw it.
_NOT_SENT = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout", "NetworkBlocked"})
#: Answers given before any work is done: rate limiting and overload refuse the request.
_REFUSED_BEFORE_WORK = ("429 ", "529 ")


def may_have_taken_effect(fault: str) -> bool:
    """Whether a failed try (one of ``Exchange.faults``) may still have done its work: a 5xx
    or a connection lost after the request was sent may come from a gateway that forwarded it
    (the upstream created the file, then the answer was lost). A 429, a 529 and a connection
    never made did nothing."""
    return fault not in _NOT_SENT and not fault.startswith(_REFUSED_BEFORE_WORK)


def has_effect(method: str, path: str) -> bool:
    """Whether a call changes something on the target (a retry of it may meet its own first
    try): every non-GET except the ones the catalog lists as pure (``catalog.PURE_ENDPOINTS``:
    a message, a token count, the prompt tools create nothing)."""
    if method.upper() in ("GET", "HEAD", "OPTIONS"):
        return False
    found = catalog.match_endpoint(method, path)
    return found is None or found.name not in catalog.PURE_ENDPOINTS


@dataclass(frozen=True)
class Uncertain:
    """A call with an effect whose tries met a fault that may have come after its work was
    done: its first try may have created something no answer named. The resource ledger
    reconciles it (``conformance.resources.reconcile``) through what the suite stamped on the
    request (a file name, a custom_id, an invite's email, a workspace's name, a member's user)."""

    method: str
    path: str
    json: Any
    filename: str | None
    faults: tuple[str, ...]
    #: The id the final answer named, when it was a success (that one is registered already).
    answered_id: str | None = None


def fault_of(exchange: Exchange | None = None, error: Exception | None = None) -> str:
    """How one failed try is listed among a request's ``Exchange.faults``."""
    if exchange is None:
        return type(error).__name__
    body = exchange.json
    error_type = body.get("error", {}).get("type") if isinstance(body, dict) else None
    if isinstance(error_type, str):
        return f"{exchange.status} {error_type}"
    return f"{exchange.status} {exchange.content_type or 'without a body'}"


#: A retry's answers that may only mean its first try took effect: a delete of what is gone
#: (404), a create of what exists (400 "already a member", 409 conflict).
_REFUSED_AS_DONE = frozenset({400, 404, 409})


def after_effect(exchange: Exchange) -> AnswerLost | None:
    """``AnswerLost`` when ``exchange`` is a refusal (404 on a delete, 400 or 409 on a create)
    of a call with an effect retried after a try that may have done it already: the test that
    expected a success cannot judge it (``Api.expect`` raises this), while a test expecting
    that very error (a delete of what never existed) still gets its answer judged."""
    if exchange.status not in _REFUSED_AS_DONE or not has_effect(exchange.method, exchange.path):
        return None
    earlier = [f for f in exchange.faults if may_have_taken_effect(f)]
    if not earlier:
        return None
    return AnswerLost(
        f"{exchange.describe()} after a try that may have done it already "
        f"({', '.join(earlier)}): the first try took effect and its answer was lost, so the "
        "suite could not judge this call (what a create made is found by the run marker and "
        "removed at teardown)",
        exchange,
    )


class _Transient(Exception):
    """An answer or a failure worth another try; carries what the last try produced."""

    def __init__(self, exchange: Exchange | None = None, error: Exception | None = None) -> None:
        super().__init__(exchange.describe() if exchange else repr(error))
        self.exchange = exchange
        self.error = error


@dataclass(frozen=True)
class RetryPolicy:
    """The official SDKs' retry rules (the Stainless-generated ``anthropic`` clients).

    At most ``max_retries`` retries (the SDK's default is 2) of a transient answer
    (``catalog.TRANSIENT_STATUSES``) or a failed connection; ``x-should-retry: true`` asks for a
    retry of any answer and ``x-should-retry: false`` forbids one. The wait is the answer's
    ``retry-after-ms`` or ``retry-after`` when that is more than 0 and at most
    ``max_retry_after`` seconds, else an exponential backoff with the SDK's jitter; never past
    ``deadline``. One deviation from the SDK, on purpose: a 500 whose answer repeats identically
    is not retried again (see ``_deterministic``): a test suite reports it instead of hammering.
    ``sleep`` replaces ``time.sleep`` for the sync client (tests count waits, never the clock).
    """

    max_retries: int = 2
    deadline: float = 60.0
    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] | None = field(default=None, compare=False)
    #: Statuses handed back as they are, never retried: what a test provokes on purpose (the
    #: forced 429 of ``test_retry_after_on_429``), while a random 5xx or a reset on the way is
    #: still retried.
    final: frozenset[int] = frozenset()

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = None
        if isinstance(exc, _Transient) and exc.exchange is not None:
            asked = retry_after(exc.exchange.response_headers)
        if asked is not None and 0 < asked <= self.max_retry_after:
            delay = asked
        else:  # the SDK's backoff: base * 2^n capped, scaled by a jitter in (0.75, 1]
            backoff = min(self.cap, self.base * 2 ** (state.attempt_number - 1))
            delay = backoff * (1 - 0.25 * random.random())
        elapsed = time.monotonic() - (state.start_time or time.monotonic())
        return max(0.0, min(delay, self.deadline - elapsed))

    def kwargs(self, *, sync: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stop": stop_after_attempt(self.max_retries + 1) | stop_after_delay(self.deadline),
            "wait": self.wait,
            "retry": retry_if_exception_type(_Transient),
            "reraise": True,
        }
        if sync and self.sleep is not None:
            out["sleep"] = self.sleep
        return out


def retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds the answer asks to wait: ``retry-after-ms``, else ``retry-after`` (seconds or an
    HTTP date), as the SDK reads them; None when neither is there or readable."""
    try:
        return float(headers["retry-after-ms"]) / 1000
    except (KeyError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - now()


def should_retry(exchange: Exchange, final: frozenset[int] = frozenset()) -> bool:
    """Whether an answer deserves another try, by the SDK's rule: ``x-should-retry`` decides
    when present, else the status. (The SDK also retries 408, 409 and every 5xx; the catalog
    keeps 409, a conflict the Admin tests provoke on purpose, and 501, "not served" to the
    capability probes, final.)"""
    if exchange.status in final:
        return False
    said = exchange.response_headers.get("x-should-retry", "").strip().lower()
    if said in ("true", "false"):
        return said == "true"
    return exchange.status in catalog.TRANSIENT_STATUSES


def _comparable(exchange: Exchange) -> tuple[int, Any]:
    """An answer without what differs on every try (its request-id, in the header and body)."""
    body = exchange.json
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "request_id"}
        return exchange.status, body
    return exchange.status, exchange.body


def _deterministic(exchange: Exchange, previous: Exchange | None) -> bool:
    """A 500 that repeats the last try's answer exactly is the server's fixed reply to this
    request (a bug, not a hiccup): more tries only cost time (about 20 s per run against one
    proxy with four retries), so it is reported as it is. 429 and 529 are meant to repeat until
    the wait is over, and are not judged so."""
    return (
        exchange.status == 500
        and previous is not None
        and _comparable(exchange) == _comparable(previous)
    )


# --- the answer's overall read deadline ----------------------------------------------------------


class _Overdue(httpx.ReadTimeout):
    """The answer started (status and headers came) but its body was still coming at the
    deadline: the target is there, only slower than the timeout."""


class AnswerTooSlow(Inconclusive):
    """The target answered, but its body took longer than its family's timeout
    (``catalog.ANSWER_TIMEOUTS``, or ``--anthropic-timeout``). Not retried (a retry would be
    as slow), not "unreachable", and not a violation either (the API promises no latency): the
    suite could not judge the call, and the message names the family, the request-id and the
    setting to raise."""


def _cause(exc: Exception) -> Exception | None:
    """The cause to chain: none for a slow answer (its one line says it all; httpcore's frames
    would only bury it), else the transport's error."""
    return None if isinstance(exc, _Overdue) else exc


def _overdue(
    elapsed: float,
    timeout: float,
    request: httpx.Request,
    family: str = "",
    request_id: str | None = None,
) -> httpx.ReadTimeout:
    """The error for an answer whose body is still coming past the deadline (``_Overdue``: the
    client stops the call with ``AnswerTooSlow`` rather than retrying a slow but live target)."""
    which = f"a {family} answer" if family else "the answer"
    rid = f" (request-id {request_id})" if request_id else ""
    of = f" of its family ({family}, catalog.ANSWER_TIMEOUTS)" if family else ""
    return _Overdue(
        f"{which}{rid} was still being read {elapsed:.1f}s after the request was sent, past "
        f"the {timeout:g}s timeout (--anthropic-timeout){of}: a body that never ends, such as "
        "an event stream that only sends pings, is cut there",
        request=request,
    )


def _streamed(request: httpx.Request) -> bool:
    """Whether a request's JSON body asks for a stream (``"stream": true``)."""
    try:
        raw = request.content
    except httpx.RequestNotRead:  # a streamed upload: not a Messages request
        return False
    if b'"stream"' not in raw:
        return False
    try:
        body = json_module.loads(raw)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("stream") is True


def answer_timeout(request: httpx.Request, timeout: float | None) -> tuple[float, str]:
    """Seconds ``request``'s answer may take, and its family: ``timeout`` for every request when
    given (``--anthropic-timeout``), else its row of ``catalog.ANSWER_TIMEOUTS``."""
    row = catalog.answer_timeout(request.method, request.url.path, _streamed(request))
    return (row.seconds if timeout is None else timeout), row.family


class _Deadline:
    """When one request's answer must have been read by, on the transport's clock (``timeout``
    None: its family's, ``catalog.ANSWER_TIMEOUTS``)."""

    def __init__(
        self, request: httpx.Request, timeout: float | None, clock: Callable[[], float]
    ) -> None:
        self.request = request
        self.timeout, self.family = answer_timeout(request, timeout)
        self.request_id: str | None = None  # known once the answer's headers came
        self._clock = clock
        self._start = clock()

    def remaining(self) -> float:
        return self.timeout - (self._clock() - self._start)

    def overdue(self) -> httpx.ReadTimeout:
        elapsed = self._clock() - self._start
        return _overdue(elapsed, self.timeout, self.request, self.family, self.request_id)


class _BoundedStream(httpx.SyncByteStream):
    """A body whose chunks stop with ``ReadTimeout`` once the answer took longer than the timeout.

    A blocking read cannot be interrupted here: the overshoot is at most one read (the gap between
    two chunks, itself bounded by httpx's per-read timeout).
    """

    def __init__(self, inner: Any, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if self._deadline.remaining() < 0:
                raise self._deadline.overdue()
            yield chunk

    def close(self) -> None:
        if hasattr(self._inner, "close"):
            self._inner.close()


class _AsyncBoundedStream(httpx.AsyncByteStream):
    """The asyncio ``_BoundedStream``: here the pending read itself is cancelled at the deadline."""

    def __init__(self, inner: Any, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._inner.__aiter__()
        while True:
            remaining = self._deadline.remaining()
            if remaining < 0:
                raise self._deadline.overdue()
            try:
                async with asyncio.timeout(remaining):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise self._deadline.overdue() from None
            yield chunk

    async def aclose(self) -> None:
        if hasattr(self._inner, "aclose"):
            await self._inner.aclose()


def _exempt(response: httpx.Response) -> bool:
    """A replay paced at its recorded timing reads a cassette, not a network: it cannot hang,
    and its offsets are already clamped to the timeout (the deadline would trip at the clamp)."""
    capture = timing.capture_of(response)
    return capture is not None and capture.paced


class DeadlineTransport(httpx.BaseTransport):
    """Bounds the whole answer, headers to last byte, by ``timeout`` seconds.

    httpx's timeout is per read, so a body that never ends (an SSE stream of pings) would hold a
    run forever. This is the outermost layer of the client's own transport, so the bound holds
    whatever is below (the network, a recorder, a replay, recorded timing or not).
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        timeout: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._timeout = timeout
        self._clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = _Deadline(request, self._timeout, self._clock)
        response = self._inner.handle_request(request)
        deadline.request_id = response.headers.get("request-id")
        if not _exempt(response):
            response.stream = _BoundedStream(response.stream, deadline)
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncDeadlineTransport(httpx.AsyncBaseTransport):
    """The asyncio ``DeadlineTransport``."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        timeout: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._timeout = timeout
        self._clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = _Deadline(request, self._timeout, self._clock)
        response = await self._inner.handle_async_request(request)
        deadline.request_id = response.headers.get("request-id")
        if not _exempt(response):
            response.stream = _AsyncBoundedStream(response.stream, deadline)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def http_timeout(timeout: float | None) -> httpx.Timeout:
    """httpx's own per-read bound: ``timeout``, else long enough for any family (the deadline
    transport bounds each answer by its family's), connecting within the default row's."""
    if timeout is not None:
        return httpx.Timeout(timeout)
    return httpx.Timeout(
        catalog.LONGEST_ANSWER_TIMEOUT, connect=catalog.answer_timeout("", "").seconds
    )


def transport(timeout: float | None) -> httpx.BaseTransport:
    """The sync client's own transport: the deadline over recorded timing over the network
    (``timeout`` None: each answer bounded by its family's, ``catalog.ANSWER_TIMEOUTS``)."""
    http = httpx.HTTPTransport(verify=ssl_context())
    cap = catalog.LONGEST_ANSWER_TIMEOUT if timeout is None else timeout
    return DeadlineTransport(timing.TimingTransport(http, cap=cap), timeout)


def async_transport(timeout: float | None) -> httpx.AsyncBaseTransport:
    """The asyncio ``transport``."""
    http = httpx.AsyncHTTPTransport(verify=ssl_context())
    cap = catalog.LONGEST_ANSWER_TIMEOUT if timeout is None else timeout
    return AsyncDeadlineTransport(timing.AsyncTimingTransport(http, cap=cap), timeout)


def _filename(files: Any) -> str | None:
    """The file name of a multipart upload (``files={"file": (name, content, mime)}``)."""
    parts = files.values() if isinstance(files, Mapping) else files or ()
    for part in parts:
        if isinstance(part, tuple) and part and isinstance(part[0], str):
            return part[0]
    return None


class _Base:
    def __init__(
        self,
        target: Target,
        *,
        features: Iterable[str] = (),
        retry: RetryPolicy | None = None,
        timeout: float | None = 60.0,
        on_exchange: Callable[[Exchange], None] | None = None,
        translate_error: ErrorTranslator | None = None,
    ) -> None:
        self.target = target
        self.features = tuple(features)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.on_exchange = on_exchange
        self.translate_error = translate_error
        #: Calls with an effect whose first try may have done it unseen (``Uncertain``): the
        #: resource ledger reconciles them at the test's teardown.
        self.uncertain: list[Uncertain] = []
        redact.register_secret(target.api_key)

    def default_headers(self) -> dict[str, str]:
        """Version, accept and beta headers; the key is added by ``credential`` at send time."""
        headers = {"anthropic-version": self.target.api_version, "accept": "application/json"}
        betas = catalog.betas_for(self.features, self.target.api_version)
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        return headers

    def credential(self) -> _Credential | None:
        """The key as the target expects it (``x-api-key`` or ``Authorization: Bearer``)."""
        if not self.target.api_key:
            return None
        if self.target.auth == "bearer":
            return _Credential("authorization", f"Bearer {self.target.api_key}")
        return _Credential("x-api-key", self.target.api_key)

    def _build(
        self,
        method: str,
        path: str,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Headers | None,
        files: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> tuple[dict[str, str], dict[str, Any]]:
        overrides = headers or {}
        merged: dict[str, str | None] = {**self.default_headers(), **overrides}
        final = {k: v for k, v in merged.items() if v is not None}
        kwargs: dict[str, Any] = {"headers": final}
        sent = dict(final)
        credential = self.credential()
        # A test that sets or removes a credential header itself (missing / wrong key) gets
        # exactly that; otherwise the run's key goes on at send time.
        if credential and not any(k.lower() in _CREDENTIAL_HEADERS for k in overrides):
            kwargs["auth"] = credential
            sent[credential.header] = redact.MASK
        if json is not None:
            kwargs["json"] = json
        elif content is not None:  # bytes as they are: a body that is not JSON on purpose
            kwargs["content"] = content
        if files is not None:  # multipart/form-data (file upload); httpx picks the boundary
            kwargs["files"] = files
            if data:
                kwargs["data"] = dict(data)
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        return sent, kwargs

    def _exchange(
        self,
        method: str,
        path: str,
        json: Any,
        sent: Mapping[str, str],
        response: httpx.Response,
        retries: int,
        elapsed: float,
        faults: Iterable[str] = (),
    ) -> Exchange:
        headers = {k.lower(): v for k, v in response.headers.items()}
        content_type = headers.get("content-type", "")
        body = response.content
        is_stream = content_type.startswith("text/event-stream")
        capture = timing.capture_of(response) if is_stream else None
        exchange = Exchange(
            method=method.upper(),
            path=path.split("?", 1)[0],
            status=response.status_code,
            response_headers=redact.redact_headers(headers),
            body=body,
            request_json=json,
            request_headers=redact.redact_headers(sent),
            events=parse_sse(body) if is_stream else None,
            url=redact.redact_text(str(response.request.url)),
            retries=retries,
            elapsed=elapsed,
            event_times=capture.event_times() if capture else None,
            faults=tuple(faults),
        )
        suffix = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
        log.info("%s in %.2fs%s", exchange.describe(), elapsed, suffix)
        if self.on_exchange:
            self.on_exchange(exchange)
        return exchange

    def _send_failed(self, exc: Exception) -> Exception:
        """What a failed send becomes: a retryable transport error, or the (translated) error."""
        if isinstance(exc, _Overdue):
            return AnswerTooSlow(
                f"{exc.request.method} {redact.redact_text(str(exc.request.url))}: {exc}; the "
                "target answers, but slower than that: raise --anthropic-timeout "
                "(ANTHROPIC_CONFORMANCE_TIMEOUT) if it is meant to be this slow"
            )
        if isinstance(exc, httpx.TransportError):
            return _Transient(error=exc)
        if isinstance(exc, httpx.HTTPError):  # DecodingError, TooManyRedirects, ...
            return UnreadableAnswer(
                f"{self.target.describe()}: the answer cannot be read: {type(exc).__name__}: "
                f"{redact.redact_text(str(exc))}"
            )
        if self.translate_error:
            translated = self.translate_error(exc)
            if translated is not None:
                return translated
        return exc

    def _judge(
        self,
        method: str,
        path: str,
        json: Any,
        sent: Mapping[str, str],
        response: httpx.Response,
        attempts: int,
        start: float,
        tries: list[Exchange],
        met: list[str],
    ) -> Exchange:
        """The attempt's Exchange, or ``_Transient`` when it deserves another try (``tries``:
        the answers of the earlier attempts, this one is appended; ``met``: what the earlier
        attempts met, this one's fault is appended)."""
        ex = self._exchange(
            method, path, json, sent, response, attempts - 1, time.monotonic() - start, met
        )
        previous = tries[-1] if tries else None
        if previous is not None:
            previous.superseded = True  # it was retried: this try is the call's answer now
        tries.append(ex)
        if _deterministic(ex, previous):
            log.warning(
                "%s: the same 500 answer as the try before; a deterministic failure "
                "is reported, not retried again",
                ex.describe(),
            )
            return ex
        if should_retry(ex, self.retry.final):
            met.append(fault_of(ex))
            raise _Transient(ex)
        return ex

    def _note_uncertain(
        self,
        method: str,
        path: str,
        json: Any,
        files: Any,
        met: list[str],
        tries: list[Exchange],
    ) -> None:
        """Keep a call with an effect whose tries met a fault that may have come after the
        work (``may_have_taken_effect``), for the resource ledger to reconcile."""
        faults = tuple(f for f in met if may_have_taken_effect(f))
        if not faults or not has_effect(method, path):
            return
        answered = tries[-1] if tries and not tries[-1].superseded else None
        body = answered.json if answered is not None and answered.status == 200 else None
        answered_id = body.get("id") if isinstance(body, dict) else None
        self.uncertain.append(
            Uncertain(
                method.upper(),
                path.split("?", 1)[0],
                json,
                _filename(files),
                faults,
                answered_id if isinstance(answered_id, str) else None,
            )
        )
        log.info("%s %s: a try may have taken effect unseen (%s)", method, path, ", ".join(faults))

    def _failed(self, exc: Exception, met: list[str]) -> Exception:
        """``_send_failed``, noting a transport failure among the faults ``met``."""
        failed = self._send_failed(exc)
        if isinstance(failed, _Transient):
            met.append(fault_of(error=exc))
        return failed

    def _give_up(
        self, method: str, path: str, transient: _Transient, attempts: int, met: list[str]
    ) -> Exchange:
        """What is left when the retries are spent: a transient answer after retries cannot be
        judged (``StillTransient``); with no retry allowed, it is the answer the caller asked
        for (a test of the 429 itself); no answer at all is ``TargetUnreachable``."""
        if transient.exchange is not None:
            if attempts > 1:
                ex = transient.exchange
                raise StillTransient(
                    f"{ex.describe()}: still a transient answer ({fault_of(ex)}) after "
                    f"{attempts - 1} retr{'y' if attempts == 2 else 'ies'}: the suite could "
                    "not judge this call (raise --anthropic-max-retries for a flaky target)",
                    ex,
                )
            return transient.exchange
        if any(f not in _NOT_SENT for f in met):
            raise ConnectionLost(
                f"{method} {self.target.base_url}{path}: the connection was lost on "
                f"{'every one' if attempts > 1 else 'the only one'} of {attempts} attempt(s) "
                f"({', '.join(met)}; last {redact.redact_text(repr(transient.error))}): the "
                "target is there but the suite could not judge this call (raise "
                "--anthropic-max-retries for a flaky network)",
                tuple(met),
            ) from None
        raise TargetUnreachable(
            f"{method} {self.target.base_url}{path}: no answer after {attempts} attempt(s): "
            f"{redact.redact_text(repr(transient.error))}. Is the target running and the base "
            "URL right (--anthropic-base-url / ANTHROPIC_BASE_URL)?"
        ) from None


class ApiClient(_Base):
    """A synchronous client; ``request`` returns an ``Exchange`` for any status."""

    def __init__(self, target: Target, *, http: httpx.Client | None = None, **kw: Any) -> None:
        super().__init__(target, **kw)
        # Our own transport bounds each answer and times streams (see ``transport``).
        self.http = http or httpx.Client(
            base_url=target.base_url,
            timeout=http_timeout(self.timeout),
            transport=transport(self.timeout),
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Headers | None = None,
        files: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Exchange:
        sent, kwargs = self._build(method, path, json, params, headers, files, data, content)
        attempts = 0
        tries: list[Exchange] = []
        met: list[str] = []  # what the failed tries met, for Exchange.faults
        start = time.monotonic()
        try:
            for attempt in Retrying(**self.retry.kwargs()):
                with attempt:
                    attempts += 1
                    try:
                        response = self.http.request(method, path, **kwargs)
                    except Exception as exc:
                        raise self._failed(exc, met) from _cause(exc)
                    return self._judge(
                        method, path, json, sent, response, attempts, start, tries, met
                    )
        except _Transient as final:
            return self._give_up(method, path, final, attempts, met)
        finally:
            self._note_uncertain(method, path, json, files, met, tries)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, **kw: Any) -> Exchange:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Exchange:
        return self.request("POST", path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> Exchange:
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        self.http.close()


class AsyncApiClient(_Base):
    """The asyncio twin of ``ApiClient``, for pytest-asyncio tests."""

    def __init__(self, target: Target, *, http: httpx.AsyncClient | None = None, **kw: Any) -> None:
        super().__init__(target, **kw)
        self.http = http or httpx.AsyncClient(
            base_url=target.base_url,
            timeout=http_timeout(self.timeout),
            transport=async_transport(self.timeout),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Headers | None = None,
        files: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Exchange:
        sent, kwargs = self._build(method, path, json, params, headers, files, data, content)
        attempts = 0
        tries: list[Exchange] = []
        met: list[str] = []  # what the failed tries met, for Exchange.faults
        start = time.monotonic()
        try:
            async for attempt in AsyncRetrying(**self.retry.kwargs(sync=False)):
                with attempt:
                    attempts += 1
                    try:
                        response = await self.http.request(method, path, **kwargs)
                    except Exception as exc:
                        raise self._failed(exc, met) from _cause(exc)
                    return self._judge(
                        method, path, json, sent, response, attempts, start, tries, met
                    )
        except _Transient as final:
            return self._give_up(method, path, final, attempts, met)
        finally:
            self._note_uncertain(method, path, json, files, met, tries)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(self, path: str, **kw: Any) -> Exchange:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Exchange:
        return await self.request("POST", path, json=json, **kw)

    async def aclose(self) -> None:
        await self.http.aclose()
