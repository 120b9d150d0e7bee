"""Timeouts per family (issue 14): a batch poll is not a message. One table
(``catalog.ANSWER_TIMEOUTS``) bounds each answer by its family; an answer past it is "could not
judge", reported with the family and the request-id. The clock is a fake one: counted, never
waited for."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conformance import catalog
from conformance.client import AnswerTooSlow, ApiClient, DeadlineTransport, RetryPolicy
from conformance.exchange import Inconclusive
from conformance.settings import load_settings
from conformance.target import Target, TargetKind, resolve


@pytest.mark.parametrize(
    ("method", "path", "streamed", "family"),
    [
        ("POST", "/v1/messages", False, "messages"),
        ("POST", "/v1/messages", True, "stream"),
        ("GET", "/v1/messages/batches/msgbatch_1", False, "batch_poll"),
        ("POST", "/v1/messages/batches", False, "batch_poll"),
        ("GET", "/v1/messages/batches/msgbatch_1/results", False, "batch_results"),
        ("POST", "/v1/files", False, "file_upload"),
        ("DELETE", "/v1/files/file_1", False, "files"),
        ("GET", "/v1/organizations/users", False, "admin"),
        ("GET", "/v1/nowhere", False, "other"),
    ],
)
def test_each_request_has_the_timeout_of_its_family(
    method: str, path: str, streamed: bool, family: str
) -> None:
    assert catalog.answer_timeout(method, path, streamed).family == family


def test_a_batch_poll_is_bounded_tighter_than_a_message() -> None:
    poll = catalog.answer_timeout("GET", "/v1/messages/batches/msgbatch_1")
    stream = catalog.answer_timeout("POST", "/v1/messages", streamed=True)
    upload = catalog.answer_timeout("POST", "/v1/files")
    assert poll.seconds < catalog.answer_timeout("POST", "/v1/messages").seconds
    assert stream.seconds <= upload.seconds == catalog.LONGEST_ANSWER_TIMEOUT


class Clock:
    """Each read of the clock is 20 s later: a body of n chunks takes 20·n seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 20.0
        return self.now


def client_of(timeout: float | None) -> ApiClient:
    def answer(request: httpx.Request) -> httpx.Response:
        def chunks() -> Iterator[bytes]:
            yield b'{"id": "x", '
            yield b'"type": "y"}'

        return httpx.Response(
            200,
            headers={"request-id": "req_slow01", "content-type": "application/json"},
            content=chunks(),
        )

    transport = DeadlineTransport(httpx.MockTransport(answer), timeout, clock=Clock())
    target = Target(TargetKind.LIVE, "http://127.0.0.1:9", "k", "2023-06-01", "x-api-key")
    http = httpx.Client(base_url=target.base_url, transport=transport)
    return ApiClient(target, http=http, retry=RetryPolicy(max_retries=0), timeout=timeout)


def test_a_slow_batch_poll_is_inconclusive_naming_its_family_and_request_id() -> None:
    with pytest.raises(AnswerTooSlow) as slow:
        client_of(None).get("/v1/messages/batches/msgbatch_1")
    assert isinstance(slow.value, Inconclusive)  # could not judge, not a violation
    message = str(slow.value)
    assert "batch_poll" in message and "req_slow01" in message, message
    assert "--anthropic-timeout" in message


def test_the_same_pace_is_in_time_for_a_message() -> None:
    ex = client_of(None).post("/v1/messages", json={"model": "m"})
    assert ex.status == 200 and ex.json == {"id": "x", "type": "y"}


def test_an_explicit_timeout_bounds_every_family() -> None:
    with pytest.raises(AnswerTooSlow, match="past the 30s timeout"):
        client_of(30.0).post("/v1/messages", json={"model": "m"})


def test_the_run_uses_the_table_unless_the_timeout_is_set() -> None:
    assert resolve(load_settings(environ={})).timeout is None
    given = load_settings(environ={"ANTHROPIC_CONFORMANCE_TIMEOUT": "5"})
    assert resolve(given).timeout == 5.0
