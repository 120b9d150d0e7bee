"""The answer's overall read deadline belongs to the client's own transport: it cuts a body that
never ends whether or not recorded timing or a cassette sits below it, and leaves a paced replay
alone. A fake clock stands in for time: each chunk the endless body yields advances it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from conformance import catalog
from conformance.cassettes import timing
from conformance.client import (
    AnswerTooSlow,
    ApiClient,
    AsyncApiClient,
    AsyncDeadlineTransport,
    DeadlineTransport,
    RetryPolicy,
    Target,
)
from conformance.target import TargetKind

PING = b'event: ping\ndata: {"type": "ping"}\n\n'
TARGET = Target(TargetKind.LIVE, "http://endless.invalid", "k", catalog.DEFAULT_API_VERSION)


class Clock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _endless(clock: Clock, step: float, sent: list[int]) -> Iterator[bytes]:
    """Pings for ever (bounded at 1000 so a broken deadline fails instead of hanging)."""
    for _ in range(1000):
        clock.now += step
        sent.append(1)
        yield PING


async def _aendless(clock: Clock, step: float, sent: list[int]) -> AsyncIterator[bytes]:
    for chunk in _endless(clock, step, sent):
        yield chunk


def _sse(content: Iterator[bytes] | AsyncIterator[bytes], **extensions: Any) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=content, extensions=extensions
    )


def test_an_endless_body_is_cut_at_the_deadline_without_timing_below() -> None:
    clock, sent = Clock(), list[int]()
    inner = httpx.MockTransport(lambda request: _sse(_endless(clock, 1.0, sent)))
    with (
        httpx.Client(transport=DeadlineTransport(inner, 5.0, clock)) as http,
        pytest.raises(httpx.ReadTimeout, match=r"past the 5s timeout \(--anthropic-timeout\)"),
    ):
        http.get("http://endless.invalid/v1/messages")
    assert len(sent) == 6  # five pings within the deadline, the sixth arrives past it


def test_a_body_that_ends_in_time_is_whole() -> None:
    clock, sent = Clock(), list[int]()
    inner = httpx.MockTransport(lambda request: _sse(iter([PING] * 3)))
    with httpx.Client(transport=DeadlineTransport(inner, 5.0, clock)) as http:
        assert http.get("http://x.invalid/").content == PING * 3
    assert sent == []


def test_the_client_reports_the_endless_target_once_without_retrying() -> None:
    clock, sent, requests = Clock(), list[int](), list[httpx.Request]()

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return _sse(_endless(clock, 1.0, sent))

    http = httpx.Client(
        base_url=TARGET.base_url,
        transport=DeadlineTransport(httpx.MockTransport(answer), 2.0, clock),
    )
    client = ApiClient(TARGET, http=http, retry=RetryPolicy(max_retries=1, base=0, cap=0))
    try:
        with pytest.raises(AnswerTooSlow, match="past the 2s timeout"):
            client.post("/v1/messages", json={"stream": True})
    finally:
        client.close()
    assert len(requests) == 1  # it answered, only too slowly: a retry would be as slow


def test_a_paced_replay_is_exempt() -> None:
    """A replay at recorded pace reads a cassette (it cannot hang; timing clamps its offsets)."""
    clock, sent = Clock(), list[int]()
    capture = timing.Capture(played={"events": []}, pace=True)

    def answer(request: httpx.Request) -> httpx.Response:
        return _sse(itertools.islice(_endless(clock, 4.0, sent), 3), **{timing.EXTENSION: capture})

    with httpx.Client(transport=DeadlineTransport(httpx.MockTransport(answer), 5.0, clock)) as http:
        assert http.get("http://x.invalid/").content == PING * 3  # 12 s of paced replay, whole
        capture.pace = False  # the same answer, not paced: it is bounded again
        with pytest.raises(httpx.ReadTimeout):
            http.get("http://x.invalid/")


async def test_the_async_deadline_cuts_an_endless_body() -> None:
    clock, sent = Clock(), list[int]()
    inner = httpx.MockTransport(lambda request: _sse(_aendless(clock, 1.0, sent)))
    http = httpx.AsyncClient(
        base_url=TARGET.base_url, transport=AsyncDeadlineTransport(inner, 3.0, clock)
    )
    client = AsyncApiClient(TARGET, http=http, retry=RetryPolicy(max_retries=0))
    try:
        with pytest.raises(AnswerTooSlow, match="past the 3s timeout"):
            await client.post("/v1/messages", json={"stream": True})
    finally:
        await client.aclose()
    assert len(sent) == 4
