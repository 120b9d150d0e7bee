"""Targets that would hang a run or make it meaninglessly green must end it quickly and clearly.

* a body that never ends (an SSE stream of pings): the answer's overall deadline (timing.py);
* an unreachable or silent target: the probes use the run's retries and end the session once;
* a wrong base URL (an HTML 404 for everything): the session ends non-zero, not "85 skipped".

Each target is a tiny local server on 127.0.0.1 written here. No test times itself: the
deadline's arithmetic is proven on a fake clock (tests/test_cassettes_deadline.py); here the
effect is counted (requests and connections the target saw, probes sent) and read from the
message that names the bound that cut the answer.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from suite_args import SUITE, with_conftest

from conformance import capabilities, catalog
from conformance.client import (
    AnswerTooSlow,
    ApiClient,
    AsyncApiClient,
    RetryPolicy,
    Target,
)
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer
from conformance.settings import Settings
from conformance.target import TargetKind

#: Requests the endless server got, per path: one per attempt of the client.
endless_requests: list[str] = []


async def _pings(request: Request) -> AsyncIterator[bytes]:
    """An event stream that never finishes (bounded at 10 s so a broken test cannot hang)."""
    endless_requests.append(request.url.path)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        yield b'event: ping\ndata: {"type": "ping"}\n\n'
        await asyncio.sleep(0.2)


async def _endless_sse(request: Request) -> Response:
    return StreamingResponse(_pings(request), media_type="text/event-stream")


async def _endless_json(request: Request) -> Response:
    return StreamingResponse(_pings(request), media_type="application/json")


async def _html_404(request: Request) -> Response:
    return HTMLResponse("<html><body><h1>404 Not Found</h1></body></html>", status_code=404)


_METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH"]


@pytest.fixture(scope="module")
def endless() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/json/{rest:path}", _endless_json, methods=_METHODS),
            Route("/{rest:path}", _endless_sse, methods=_METHODS),
        ]
    )
    with EmbeddedServer(app=app) as server:
        yield server.url


@pytest.fixture(scope="module")
def html404() -> Iterator[str]:
    app = Starlette(routes=[Route("/{rest:path}", _html_404, methods=_METHODS)])
    with EmbeddedServer(app=app) as server:
        yield server.url


@pytest.fixture
def dead_url() -> str:
    """A port nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Silent(str):
    """The URL of a target that accepts connections and never answers a byte, and the
    connections it accepted (one per attempt)."""

    held: list[socket.socket]


@pytest.fixture
def silent_url() -> Iterator[Silent]:
    """Accepts connections and never answers a byte."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = Silent(f"http://127.0.0.1:{sock.getsockname()[1]}")
    url.held = held
    yield url
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    sock.close()


def _target(url: str) -> Target:
    return Target(TargetKind.LIVE, url, DEFAULT_API_KEY, catalog.DEFAULT_API_VERSION)


# --- 1. a body that never ends --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/json/v1/messages"])
def test_endless_body_is_cut_at_the_timeout(endless: str, path: str) -> None:
    endless_requests.clear()
    client = ApiClient(_target(endless), retry=RetryPolicy(max_retries=0), timeout=1.0)
    try:
        with pytest.raises(AnswerTooSlow) as info:  # it answered: slow, not unreachable
            client.post(path, json={"stream": True})
    finally:
        client.close()
    assert endless_requests == [path]  # one attempt, cut by the deadline, not retried
    message = str(info.value)
    assert "past the 1s timeout" in message and "raise --anthropic-timeout" in message, message
    assert "never ends" in message


async def test_endless_stream_is_cut_at_the_timeout_async(endless: str) -> None:
    endless_requests.clear()
    client = AsyncApiClient(_target(endless), retry=RetryPolicy(max_retries=0), timeout=1.0)
    try:
        with pytest.raises(AnswerTooSlow, match="past the 1s timeout"):
            await client.post("/v1/messages", json={"stream": True})
    finally:
        await client.aclose()
    assert endless_requests == ["/v1/messages"]


def test_a_stream_that_ends_in_time_is_untouched() -> None:
    """The deadline only cuts what overruns: a normal stream keeps every event and its timing."""
    with EmbeddedServer() as ref:
        client = ApiClient(_target(ref.url), retry=RetryPolicy(max_retries=0), timeout=1.0)
        try:
            ex = client.post(
                "/v1/messages",
                json={
                    "model": catalog.DEFAULT_MODEL,
                    "max_tokens": 8,
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
        finally:
            client.close()
    assert ex.status == 200 and ex.events and ex.event_times
    assert len(ex.event_times) == len(ex.events)


# --- 2. unreachable or silent target --------------------------------------------------------------


def _settings(url: str, **kw: object) -> Settings:
    return Settings.model_validate({"base_url": url, "api_key": DEFAULT_API_KEY, **kw})


def _probing_clients(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, int]]:
    """(timeout, max_retries) of every client the probes are sent with."""
    seen: list[tuple[float, int]] = []
    real = capabilities.probe_clients

    def spy(clients: dict[str, Any]) -> capabilities.Capabilities:
        seen.extend((c.timeout, c.retry.max_retries) for c in clients.values())
        return real(clients)

    monkeypatch.setattr(capabilities, "probe_clients", spy)
    return seen


def test_unreachable_target_is_fatal_after_one_probe(dead_url: str) -> None:
    caps = capabilities.for_settings(_settings(dead_url, max_retries=0, timeout=1.0))
    assert caps.fatal and dead_url in caps.fatal and "did not answer any" in caps.fatal
    assert "ConnectError" in caps.fatal, caps.fatal
    details = [c.detail for c in caps.by_name.values()]
    assert details[0].startswith("no answer to the probe")
    assert all(d.startswith("not sent: an earlier probe got no answer") for d in details[1:])


def test_silent_target_probes_use_the_run_timeout_and_retries(
    silent_url: Silent, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = _probing_clients(monkeypatch)
    caps = capabilities.for_settings(_settings(silent_url, max_retries=1, timeout=0.5))
    assert clients and set(clients) == {(0.5, 1)}  # the run's timeout and retries
    # two attempts (two connections) for the first probe, none for the rest
    assert len(silent_url.held) == 2, silent_url.held
    assert caps.fatal and silent_url in caps.fatal and "ReadTimeout" in caps.fatal
    assert "2 attempt(s)" in caps.fatal


def test_unreachable_target_ends_the_session_once(pytester: pytest.Pytester, dead_url: str) -> None:
    result = pytester.runpytest(
        *SUITE,
        f"--anthropic-base-url={dead_url}",
        f"--anthropic-api-key={DEFAULT_API_KEY}",
        "--anthropic-max-retries=0",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str()
    assert f"the target at {dead_url} did not answer any capability probe" in out
    assert out.count("did not answer any capability probe") == 1


def test_probing_that_raises_is_stored_and_ends_the_session(
    pytester: pytest.Pytester, html404: str
) -> None:
    pytester.makeconftest("""
import conformance.capabilities as caps

CALLS = []
_real = caps.for_target

def _boom(target):
    CALLS.append(1)
    raise RuntimeError(f"boom {len(CALLS)}")

def pytest_configure(config):
    caps.for_target = _boom

def pytest_unconfigure(config):
    caps.for_target = _real
""")
    result = pytester.runpytest(
        *with_conftest(pytester),
        f"--anthropic-base-url={html404}",
        f"--anthropic-api-key={DEFAULT_API_KEY}",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str()
    assert f"probing the capabilities of the target at {html404} failed" in out
    assert "RuntimeError: boom 1" in out and "boom 2" not in out


# --- 3. a wrong base URL --------------------------------------------------------------------------


def test_html_404_everywhere_is_fatal(html404: str) -> None:
    caps = capabilities.probe_target(_target(html404), timeout=2.0)
    assert not any(c.supported for c in caps.by_name.values())
    assert caps.fatal.startswith(
        f"nothing at {html404} answers like the Anthropic API "
        "(every probe got 404 without an Anthropic error envelope): "
        "is the base URL right"
    ), caps.fatal


def test_wrong_base_url_is_not_a_green_run(pytester: pytest.Pytester, html404: str) -> None:
    result = pytester.runpytest(
        *SUITE, f"--anthropic-base-url={html404}", f"--anthropic-api-key={DEFAULT_API_KEY}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [
            "*nothing at * answers like the Anthropic API (every probe got "
            "404 without an Anthropic error envelope): is the base URL right*"
        ]
    )
    assert "skipped" not in result.stdout.lines[-1]


def test_narrow_target_is_not_fatal() -> None:
    """Only messages served (the narrow-proxy case): the others are skipped, the run goes on."""
    served = capabilities.Capability(
        "messages", True, "POST /v1/messages", 400, detail="the route exists"
    )
    missing = capabilities.Capability(
        "models",
        False,
        "GET /v1/models",
        404,
        detail="the route is not served (404 with no Anthropic error envelope)",
    )
    assert capabilities.fatal_reason("http://x", [served, missing]) == ""
    assert "every probe got 404 without" in capabilities.fatal_reason("http://x", [missing])
