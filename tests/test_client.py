"""The client: headers it injects, retries (and when it must not retry), redaction, Exchanges."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest

from conformance import catalog
from conformance.client import (
    ApiClient,
    AsyncApiClient,
    RetryPolicy,
    StillTransient,
    Target,
    TargetUnreachable,
)
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
    return httpx.Response(
        200, json={"seen": dict(request.headers)}, headers={"request-id": "req_1"}
    )


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
        if len(calls) < 3:  # a different body each try: a repeated 500 is not retried
            return httpx.Response(
                status, headers={"retry-after": "0"}, json={"type": "error", "try": len(calls)}
            )
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


def test_retries_are_bounded_and_the_last_transient_answer_is_inconclusive() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(529, json={"type": "error"})

    with pytest.raises(StillTransient) as caught:
        client_for(handler).get("/v1/models")
    assert caught.value.exchange.status == 529 and len(calls) == FAST.max_retries + 1
    assert caught.value.exchange.retries == FAST.max_retries
    assert "after 3 retries" in str(caught.value)


def test_without_retries_the_transient_answer_is_the_result() -> None:
    """A test of the 429 itself sets no retries: it gets the answer, to judge."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, json={"type": "error"}, headers={"retry-after": "1"})

    t = target()
    http = httpx.Client(base_url=t.base_url, transport=httpx.MockTransport(handler))
    ex = ApiClient(t, http=http, retry=RetryPolicy(max_retries=0)).get("/v1/models")
    assert ex.status == 429 and len(calls) == 1 and ex.retries == 0


def test_connection_errors_are_retried_then_reported_without_the_key() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError(f"refused while sending {KEY}")

    with pytest.raises(TargetUnreachable) as info:
        client_for(handler).get("/v1/models")
    assert len(calls) == FAST.max_retries + 1
    assert KEY not in str(info.value) and "--anthropic-base-url" in str(info.value)


def _wait_for(headers: dict[str, str], policy: RetryPolicy | None = None) -> float:
    from tenacity import RetryCallState

    from conformance.client import _Transient
    from conformance.exchange import Exchange

    policy = policy or RetryPolicy(max_retries=2, deadline=30.0, base=0.001, cap=0.001)
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.set_exception((_Transient, _Transient(Exchange("GET", "/", 429, headers)), None))
    return policy.wait(state)


def test_retry_after_is_honoured() -> None:
    assert _wait_for({"retry-after": "2"}) == pytest.approx(2.0, abs=0.01)


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert _wait_for({"retry-after-ms": "1500", "retry-after": "9"}) == pytest.approx(1.5, abs=0.01)


def test_retry_after_as_an_http_date() -> None:
    from conformance.client import retry_after

    assert retry_after(
        {"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, now=lambda: 1445412500.0
    ) == pytest.approx(10.0)
    assert retry_after({"retry-after": "whenever"}) is None
    assert retry_after({}) is None


@pytest.mark.parametrize("value", ["0", "61", "-3"])
def test_retry_after_outside_the_sdks_bounds_falls_back_to_backoff(value: str) -> None:
    """The SDK only obeys 0 < retry-after <= 60; else it backs off (here: at most 1 ms)."""
    assert _wait_for({"retry-after": value}) <= 0.001


def test_backoff_doubles_with_the_sdks_jitter() -> None:
    from tenacity import RetryCallState

    from conformance.client import _Transient
    from conformance.exchange import Exchange

    policy = RetryPolicy(max_retries=5, deadline=60.0, base=0.5, cap=8.0)
    for attempt, full in ((1, 0.5), (2, 1.0), (3, 2.0), (6, 8.0)):
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.attempt_number = attempt
        state.set_exception((_Transient, _Transient(Exchange("GET", "/", 503)), None))
        assert 0.75 * full <= policy.wait(state) <= full, attempt


def test_the_default_is_two_retries_like_the_sdk() -> None:
    from conformance.settings import Settings

    assert RetryPolicy().max_retries == 2 and Settings().max_retries == 2
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(529, json={"type": "error"})

    t = target()
    http = httpx.Client(base_url=t.base_url, transport=httpx.MockTransport(handler))
    waits: list[float] = []
    client = ApiClient(t, http=http, retry=RetryPolicy(base=0.001, sleep=waits.append))
    with pytest.raises(StillTransient) as caught:
        client.get("/v1/x")
    ex = caught.value.exchange
    assert ex.status == 529 and len(calls) == 3 and ex.retries == 2 and len(waits) == 2


def test_the_wait_asked_for_is_the_wait_slept() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after-ms": "1250"})
        return ok(request)

    t = target()
    http = httpx.Client(base_url=t.base_url, transport=httpx.MockTransport(handler))
    waits: list[float] = []
    ex = ApiClient(t, http=http, retry=RetryPolicy(sleep=waits.append)).get("/v1/x")
    assert ex.status == 200 and waits == [pytest.approx(1.25, abs=0.01)]


@pytest.mark.parametrize(
    ("status", "header", "tries"),
    [
        (400, "true", 4),  # the server asks for a retry of an answer that is otherwise final
        (529, "false", 1),  # ... or forbids one of an answer that is otherwise retried
        (503, "maybe", 4),  # any other value: the status decides
    ],
)
def test_x_should_retry_decides_when_present(status: int, header: str, tries: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            status, headers={"x-should-retry": header}, json={"type": "error", "try": len(calls)}
        )

    if tries == 1:
        ex = client_for(handler).get("/v1/models")
    else:  # retried to the limit, and still asked to retry: not judged
        with pytest.raises(StillTransient) as caught:
            client_for(handler).get("/v1/models")
        ex = caught.value.exchange
    assert ex.status == status and len(calls) == tries and ex.retries == tries - 1


def test_a_500_that_repeats_identically_is_reported_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        # the same envelope each time, only its request-id differs
        return httpx.Response(
            500,
            headers={"request-id": f"req_{len(calls)}"},
            json={
                "type": "error",
                "error": {"type": "api_error", "message": "boom"},
                "request_id": f"req_{len(calls)}",
            },
        )

    with caplog.at_level(logging.WARNING, logger="conformance.client"):
        ex = client_for(handler).get("/v1/models")
    assert ex.status == 500 and len(calls) == 2 and ex.retries == 1
    assert "the same 500 answer as the try before" in caplog.text


def test_a_500_that_changes_is_retried_to_the_limit() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            500,
            json={"type": "error", "error": {"type": "api_error", "message": f"boom {len(calls)}"}},
        )

    with pytest.raises(StillTransient) as caught:
        client_for(handler).get("/v1/models")
    ex = caught.value.exchange
    assert ex.status == 500 and len(calls) == FAST.max_retries + 1
    assert ex.faults == ("500 api_error",) * FAST.max_retries


async def test_async_client_stops_on_a_repeated_500() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500, content=b"Internal Server Error")

    t = target()
    http = httpx.AsyncClient(base_url=t.base_url, transport=httpx.MockTransport(handler))
    ex = await AsyncApiClient(t, http=http, retry=FAST).get("/v1/models")
    assert ex.status == 500 and len(calls) == 2


def test_sse_answers_are_parsed_and_logged_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = b'event: ping\r\ndata: {"type": "ping"}   \r\n\r\n'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=body,
            headers={"content-type": "text/event-stream; charset=utf-8", "request-id": "req_9"},
        )

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
