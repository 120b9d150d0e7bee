"""The app factory: routes of every family behind one gate, one responder, one state object.

Every answer, success or error, JSON or SSE, goes through ``Responder``: it stamps the headers the
real API sends (``request-id``, ``anthropic-organization-id``), applies the enabled mutants and
writes the journal. Routes only return plain values or raise ``ApiError``. Every answer a route
returned is shown to the state's observers first: a plug-in (``routing.Plugin``, e.g. the Admin
API and its usage ledger) registers one when the app is made, so the app never names it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from conformance import catalog
from conformance.reference import (
    admin,
    answers,
    batches,
    faults,
    files,
    latency,
    messages,
    models,
    prompt_tools,
)
from conformance.reference.auth import RequestContext, check_request
from conformance.reference.errors import ApiError, error_body
from conformance.reference.mutants import MUTANTS, Mutant
from conformance.reference.routing import (
    JsonAnswer,
    Plugin,
    RawAnswer,
    RouteSpec,
    StreamAnswer,
    check_routes,
)
from conformance.reference.state import (
    ORGANIZATION_ID,
    JournalEntry,
    ReferenceConfig,
    ReferenceState,
)
from conformance.sse import format_sse

log = logging.getLogger(__name__)

#: Every family, in route order; a family with only routes is a plain Plugin of its ROUTES.
PLUGINS: tuple[Plugin, ...] = (
    Plugin("messages", tuple(messages.ROUTES)),
    Plugin("models", tuple(models.ROUTES)),
    Plugin("batches", tuple(batches.ROUTES)),
    Plugin("files", tuple(files.ROUTES)),
    admin.PLUGIN,
    Plugin("prompt_tools", tuple(prompt_tools.ROUTES)),
)
#: Every family's routes.
ROUTES: tuple[RouteSpec, ...] = tuple(spec for plugin in PLUGINS for spec in plugin.routes)


class Responder:
    """Turns answers into responses: shared headers, mutants, journal."""

    def __init__(
        self, state: ReferenceState, mutants: list[Mutant], stream_delay: float = 0.0
    ) -> None:
        self.state = state
        self.mutants = mutants
        self.stream_delay = stream_delay

    def _headers(self, request_id: str, extra: dict[str, str]) -> dict[str, str]:
        return {"request-id": request_id, "anthropic-organization-id": ORGANIZATION_ID, **extra}

    async def rewrite(self, request: Request, endpoint: str) -> Request:
        """The request as the route should read it: its JSON body passed through every enabled
        mutant's ``request`` hook (a proxy that loses part of what it forwards)."""
        hooks = [m.request for m in self.mutants if m.request is not None]
        if not hooks:
            return request
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return request  # not JSON (an upload, a broken body): the route judges it as sent
        if not isinstance(body, dict):
            return request
        for hook in hooks:
            body = hook(endpoint, body)
        data = json.dumps(body).encode()

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": data, "more_body": False}

        return Request(request.scope, receive)

    def _finish_headers(
        self, endpoint: str, status: int, headers: dict[str, str]
    ) -> dict[str, str]:
        for mutant in self.mutants:
            if mutant.headers is not None:
                headers = mutant.headers(endpoint, status, headers)
        return headers

    def _journal(
        self,
        request: Request,
        endpoint: str,
        status: int,
        request_id: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        # The exact headers and bytes sent, for GET /_reference/answers (pass-through checks).
        sent = {"content-type": "application/json", **(headers or {})}
        self.state.record(
            JournalEntry(
                request.method,
                request.url.path,
                status,
                request_id,
                endpoint,
                sent,
                body,
                getattr(request.state, "marker", None),
                getattr(request.state, "received", None),
            )
        )

    def json(
        self, request: Request, endpoint: str, request_id: str, answer: JsonAnswer
    ) -> Response:
        status, body = answer.status, answer.body
        headers = self._headers(request_id, answer.headers)
        for mutant in self.mutants:
            if mutant.json is not None:
                status, headers, body = mutant.json(endpoint, status, headers, body)
        headers = self._finish_headers(endpoint, status, headers)
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        for mutant in self.mutants:  # the bytes too: e.g. a 204 with no body at all
            if mutant.raw is not None:
                status, data = mutant.raw(endpoint, status, data)
        self._journal(request, endpoint, status, request_id, headers, data)
        return Response(data, status_code=status, headers=headers, media_type="application/json")

    def error(self, request: Request, endpoint: str, request_id: str, exc: ApiError) -> Response:
        body = error_body(exc.status, exc.message, request_id, exc.error_type)
        return self.json(request, endpoint, request_id, JsonAnswer(body, exc.status, exc.headers))

    def raw(self, request: Request, endpoint: str, request_id: str, answer: RawAnswer) -> Response:
        """Bytes as they are (file content, JSONL results): headers mutants still apply."""
        extra = {"content-type": answer.media_type, **answer.headers}
        headers = self._finish_headers(endpoint, answer.status, self._headers(request_id, extra))
        status, body = answer.status, answer.body
        for mutant in self.mutants:
            if mutant.raw is not None:
                status, body = mutant.raw(endpoint, status, body)
        self._journal(request, endpoint, status, request_id, headers, body)
        return Response(body, status_code=status, headers=headers)

    def stream(
        self,
        request: Request,
        endpoint: str,
        request_id: str,
        answer: StreamAnswer,
        cut: bool = False,
    ) -> Response:
        """The stream's response (``cut``: its connection drops after the last event)."""
        events = answer.events
        for mutant in self.mutants:
            if mutant.sse is not None:
                events = mutant.sse(events)
        # content-type is in the dict (not only media_type) so a headers mutant can change it.
        extra = {
            "cache-control": "no-cache",
            "content-type": "text/event-stream; charset=utf-8",
            **answer.headers,
        }
        headers = self._finish_headers(endpoint, 200, self._headers(request_id, extra))
        chunks = [format_sse([event]) for event in events]
        for mutant in self.mutants:
            if mutant.wire is not None:
                chunks = mutant.wire(chunks)
        self._journal(request, endpoint, 200, request_id, headers, b"".join(chunks))
        return StreamingResponse(
            _emit(chunks, self.stream_delay, cut),
            status_code=200,
            headers=headers,
            media_type="text/event-stream; charset=utf-8",
        )


async def _emit(chunks: list[bytes], delay: float = 0.0, cut: bool = False) -> AsyncIterator[bytes]:
    """One chunk per event, yielding to the loop in between: a real, incremental stream
    (``delay`` seconds before each event after the first: a slow one; ``cut``: the connection
    then drops, the body unfinished)."""
    for number, chunk in enumerate(chunks):
        await asyncio.sleep(delay if number else 0)
        yield chunk
    if cut:
        raise faults.Reset("connection dropped by an injected fault")


def _fault_response(
    responder: Responder, request: Request, endpoint: str, request_id: str, fault: str, serial: int
) -> Response:
    """The answer of a random fault that happens before the route (``faults.RANDOM_FAULTS``)."""
    if fault in faults.STATUS_FAULTS:
        return responder.error(request, endpoint, request_id, faults.injected_error(fault, serial))
    if fault == faults.PLAIN_503:  # the edge's page: no JSON envelope, no request-id
        return Response(faults.PLAIN_503_BODY, status_code=503, media_type="text/plain")
    # faults.RESET: a 200's headers, then the connection drops before any byte of the body
    return StreamingResponse(_emit([], cut=True), status_code=200, media_type="application/json")


def _endpoint_handler(
    spec: RouteSpec,
    config: ReferenceConfig,
    state: ReferenceState,
    responder: Responder,
    dice: faults.FaultDice,
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        serial, request_id = state.new_request_id()
        ctx = RequestContext(config, state, spec.endpoint, serial, request_id)
        raw = await request.body()
        request.state.marker = answers.marker_of(raw)
        request.state.received = answers.received_of(request, raw)
        fault = None
        try:
            if spec.authenticated:
                check_request(request, ctx)
                answers.raise_forced_status(request)
                faults.raise_fault(request, raw)  # the same, by a directive in the content
                # A random fault comes after a forced one (a test asking for a 429 gets it)
                # and before the route: nothing is created or counted by a failed try.
                fault = None if faults.directed(request) else dice.roll(spec.endpoint, raw)
            if fault == faults.SLOW:
                await asyncio.sleep(faults.SLOW_SECONDS)
            elif fault is not None and fault != faults.STREAM_CUT:
                return _fault_response(
                    responder, request, spec.endpoint, request_id, fault, dice.count
                )
            routed = await responder.rewrite(request, spec.endpoint)  # request-side mutants
            answer = faults.apply(request, await spec.handler(routed, ctx))
            if fault == faults.STREAM_CUT and isinstance(answer, StreamAnswer):
                # Not observed: whether the API bills a stream it cut is unknown; the client
                # retries it as a whole request, and that try is the one counted.
                cut = StreamAnswer(faults.cut_connection(answer.events), answer.headers)
                return responder.stream(request, spec.endpoint, request_id, cut, cut=True)
            state.observe(ctx, answer)  # e.g. the Admin usage ledger (a plug-in's observer)
        except ApiError as exc:
            return responder.error(request, spec.endpoint, request_id, exc)
        except Exception:  # a bug here must still look like the API's 500, not a traceback
            log.exception("reference server failed on %s %s", request.method, request.url.path)
            return responder.error(
                request, spec.endpoint, request_id, ApiError(500, "Internal server error")
            )
        if isinstance(answer, StreamAnswer):
            return responder.stream(request, spec.endpoint, request_id, answer)
        if isinstance(answer, RawAnswer):
            return responder.raw(request, spec.endpoint, request_id, answer)
        return responder.json(request, spec.endpoint, request_id, answer)

    handle.__name__ = spec.endpoint.replace(".", "_")
    return handle


def create_app(config: ReferenceConfig | None = None) -> Starlette:
    """A fresh reference server (its own state) answering per ``config``."""
    check_routes(PLUGINS)
    config = config or ReferenceConfig()
    state = ReferenceState(config.seed)
    for plugin in PLUGINS:
        if plugin.install is not None:
            plugin.install(config, state)
    responder = Responder(state, [MUTANTS[name] for name in config.mutants], config.stream_delay)
    dice = faults.FaultDice(config.faults, config.fault_seed, config.fault_kinds)
    if config.faults:
        faults.quiet_resets()

    async def http_error(request: Request, exc: Exception) -> Response:
        # Unknown routes (404) and wrong methods (405) still get the API's envelope.
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        request.state.received = answers.received_of(request, await request.body())
        message = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Internal server error")
        _, request_id = state.new_request_id()
        found = catalog.match_endpoint(request.method, request.url.path)
        endpoint = found.name if found else ""
        extra = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        return responder.error(
            request, endpoint, request_id, ApiError(status, message, headers=extra)
        )

    routes = [
        Route(
            spec.path,
            _endpoint_handler(spec, config, state, responder, dice),
            methods=[spec.method],
        )
        for spec in ROUTES
    ]
    routes.append(answers.answers_route(config, state))  # not an API route: see answers.py
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.router.redirect_slashes = False
    if config.latency:  # outermost: every request waits, as if it had crossed a network
        app.add_middleware(latency.Latency, seconds=config.latency)
    app.state.reference_state = state
    app.state.reference_config = config
    return app


def state_of(app: Starlette) -> ReferenceState:
    """The state object of an app made by ``create_app`` (for tests and the recorder)."""
    state: Any = app.state.reference_state
    assert isinstance(state, ReferenceState)
    return state


def inventory(app: Starlette) -> dict[str, list[str]]:
    """Kind -> ids of every resource the app still stores (batches, files, invites, live
    workspaces and their members...), for tests; the seeded organization is not counted."""
    state = state_of(app)
    own = [plugin for plugin in PLUGINS if plugin.inventory is not None]
    found = {k: v for k, v in state.inventory().items() if k not in {p.name for p in own}}
    for plugin in own:
        assert plugin.inventory is not None  # for mypy: filtered above
        found.update(plugin.inventory(state))
    return found
