"""The client: headers it injects, retries (and when it must not retry), redaction, Exchanges."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest

from conformance import catalog
from conformance.client import ApiClient, AsyncApiClient, RetryPolicy, Target, TargetUnreachable
from conformance.target import TargetKind

KEY = "sk-ant-api03-test-secret-value-123456"
FAST = RetryPolicy(max_retries=3, deadline=5.0, base=0.001, cap=0.002)


def target(auth: str = "x-api-key", version: str = "2023-06-01") -> Target:
    return Target(TargetKind.LIVE, "http://127.0.0.1:9/prefix", KEY, version, auth)  # type: ignore[arg-type]


def client_for(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> ApiClient:
    t = kw.pop("target", None) or target()
    http = httpx.Client(base_url=t.base_url, transport=httpx.MockTransport(handler))  # type: ignore[union-attr]
    return ApiClient(t, http=http, retry=FAST, **kw)  # type: ignore[arg-type]


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"seen": dict(request.headers)},
                          headers={"request-id": "req_1"})


def test_injects_auth_version_and_betas() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(request)

    client_for(handler, features=["files", "messages"]).get("/v1/models")
    headers = seen[0].headers
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "files-api-2025-04-14"
    assert seen[0].url.path == "/prefix/v1/models", "a base URL path prefix is kept"


def test_bearer_auth_and_no_beta_when_the_version_does_not_need_it() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(request)

    client_for(handler, target=target("bearer", "2026-10-21"), features=["files"]).get("/v1/x")
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in seen[0].headers
    assert "anthropic-beta" not in seen[0].headers


def test_header_override_none_removes_a_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(request)

    client_for(handler).get("/v1/models", headers={"x-api-key": None})
    assert "x-api-key" not in seen[0].headers


@pytest.mark.parametrize("status", sorted(catalog.TRANSIENT_STATUSES))
def test_transient_statuses_are_retried(status: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(status, headers={"retry-after": "0"})
        return ok(request)

    ex = client_for(handler).get("/v1/models")
    assert ex.status == 200 and ex.retries == 2 and len(calls) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413])
def test_final_answers_are_never_retried(status: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, json={"type": "error"})

    ex = client_for(handler).get("/v1/models")
    assert ex.status == status and len(calls) == 1 and ex.retries == 0


def test_retries_are_bounded_and_return_the_last_answer() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(529, json={"type": "error"})

    ex = client_for(handler).get("/v1/models")
    assert ex.status == 529 and len(calls) == FAST.max_retries + 1


def test_connection_errors_are_retried_then_reported_without_the_key() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError(f"refused while sending {KEY}")

    with pytest.raises(TargetUnreachable) as info:
        client_for(handler).get("/v1/models")
    assert len(calls) == FAST.max_retries + 1
    assert KEY not in str(info.value) and "--anthropic-base-url" in str(info.value)


def test_retry_after_is_honoured() -> None:
    from tenacity import RetryCallState

    from conformance.client import _Transient
    from conformance.exchange import Exchange

    policy = RetryPolicy(max_retries=2, deadline=30.0, base=0.001, cap=0.001)
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.set_exception((_Transient, _Transient(Exchange("GET", "/", 429, {"retry-after": "2"})),
                         None))
    assert policy.wait(state) == pytest.approx(2.0, abs=0.01)


def test_sse_answers_are_parsed_and_logged_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = b'event: ping\r\ndata: {"type": "ping"}   \r\n\r\n'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={
            "content-type": "text/event-stream; charset=utf-8", "request-id": "req_9"})

    with caplog.at_level(logging.INFO, logger="conformance.client"):
        ex = client_for(handler).post("/v1/messages", json={"stream": True})
    assert ex.events is not None and ex.events[0].type == "ping"
    assert "POST /v1/messages -> 200 (request-id req_9)" in caplog.text
    assert KEY not in caplog.text
    assert KEY not in json.dumps(dict(ex.request_headers))


async def test_async_client_retries_and_parses() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503) if len(calls) == 1 else ok(request)

    t = target()
    http = httpx.AsyncClient(base_url=t.base_url, transport=httpx.MockTransport(handler))
    ex = await AsyncApiClient(t, http=http, retry=FAST).get("/v1/models")
    assert ex.status == 200 and ex.retries == 1


def test_finding_values_never_show_the_runs_key() -> None:
    from conformance import redact
    from conformance.exchange import shorten

    redact.register_secret("proxy-key-not-shaped-like-sk-ant-1234")
    shown = shorten({"echo": "proxy-key-not-shaped-like-sk-ant-1234", "other": KEY})
    assert "proxy-key-not-shaped" not in shown and KEY not in shown


def test_the_key_is_in_no_repr_and_no_header_dict() -> None:
    """A --showlocals traceback prints the target, the headers and the request kwargs."""
    client = client_for(ok)
    sent, kwargs = client._build("GET", "/v1/models", None, None, None)
    for shown in (repr(client.target), repr(sent), repr(kwargs)):
        assert KEY not in shown
    assert sent["x-api-key"] == "<redacted>"


def test_an_unreadable_answer_fails_readably() -> None:
    from conformance.client import UnreadableAnswer

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"not gzip")

    with pytest.raises(UnreadableAnswer, match="cannot be read: DecodingError"):
        client_for(handler).get("/v1/models")
