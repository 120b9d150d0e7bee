"""Faults are not failures: the reference server's random transient faults, the client's retries
of each of them (counted, never timed), and the run that lists what passed only after retries."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.client import (
    ApiClient,
    ConnectionLost,
    RetryPolicy,
    StillTransient,
    Target,
    TargetUnreachable,
)
from conformance.exchange import Inconclusive
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer, ReferenceConfig, faults
from conformance.reference.wire import FORCE_STATUS_HEADER
from conformance.target import TargetKind
from tests.suite_args import suite
from tests.test_cli import start_serve, stop

#: Retries that never wait: the tests count attempts, never the clock.
NO_WAIT = RetryPolicy(max_retries=2, base=0.001, cap=0.001, max_retry_after=0, sleep=lambda _: None)
MODEL = "claude-haiku-4-5"


class Counting(httpx.BaseTransport):
    """The network, counting the requests sent (each attempt of the client is one)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return self.inner.handle_request(request)


def client_of(server: EmbeddedServer, policy: RetryPolicy = NO_WAIT) -> tuple[ApiClient, Counting]:
    counting = Counting()
    target = Target(TargetKind.REFERENCE, server.url, DEFAULT_API_KEY, "2023-06-01", "x-api-key")
    http = httpx.Client(base_url=server.url, transport=counting, timeout=30)
    return ApiClient(target, http=http, retry=policy), counting


def message(stream: bool = False) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 32,
        "stream": stream,
        "messages": [{"role": "user", "content": "Reply with exactly: one two three four"}],
    }


@pytest.fixture
def faulty() -> Iterator[Callable[..., EmbeddedServer]]:
    """A reference server that fails every request with one kind of fault."""
    started: list[EmbeddedServer] = []

    def make(*kinds: str, rate: float = 1.0, seed: str = "conformance") -> EmbeddedServer:
        config = ReferenceConfig(faults=rate, fault_kinds=kinds, fault_seed=seed)
        started.append(EmbeddedServer(config).start())
        return started[-1]

    yield make
    for server in started:
        server.stop()


@pytest.mark.parametrize("kind", [*sorted(faults.STATUS_FAULTS), faults.PLAIN_503])
def test_each_status_fault_is_retried_then_inconclusive(
    faulty: Callable[..., EmbeddedServer], kind: str
) -> None:
    client, counting = client_of(faulty(kind))
    with pytest.raises(StillTransient) as caught:
        client.post("/v1/messages", json=message())
    ex = caught.value.exchange
    assert counting.sent == NO_WAIT.max_retries + 1
    assert ex.status == int(kind[:3]) and ex.retries == NO_WAIT.max_retries
    assert len(ex.faults) == NO_WAIT.max_retries
    if kind == faults.PLAIN_503:  # as the API's edge sends it: no JSON envelope
        assert ex.content_type == "text/plain" and ex.faults[0] == "503 text/plain"
    else:
        assert ex.faults[0] == f"{kind} {faults.STATUS_FAULTS[kind][1]}", ex.faults
    if kind in ("429", "529"):
        assert ex.response_headers["retry-after"] == faults.RETRY_AFTER


@pytest.mark.parametrize(("kind", "stream"), [(faults.RESET, False), (faults.STREAM_CUT, True)])
def test_a_dropped_connection_is_retried_as_a_whole_request(
    faulty: Callable[..., EmbeddedServer], kind: str, stream: bool
) -> None:
    client, counting = client_of(faulty(kind))
    with pytest.raises(ConnectionLost, match="connection was lost on every one of 3") as lost:
        client.post("/v1/messages", json=message(stream=stream))
    assert counting.sent == NO_WAIT.max_retries + 1
    # the target is there: "could not judge" (a skip), never "unreachable" (a failure)
    assert isinstance(lost.value, Inconclusive) and isinstance(lost.value, TargetUnreachable)


def test_a_stream_cut_happens_mid_way(faulty: Callable[..., EmbeddedServer]) -> None:
    """The cut stream really started: events up to a content delta, then the connection drops."""
    server = faulty(faults.STREAM_CUT)
    headers = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
    got = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", f"{server.url}/v1/messages", json=message(True), headers=headers) as r,
    ):
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            got += chunk
    assert b"content_block_delta" in got and b"message_stop" not in got and b"error" not in got


def test_a_slow_first_byte_is_no_fault_to_retry(faulty: Callable[..., EmbeddedServer]) -> None:
    client, counting = client_of(faulty(faults.SLOW))
    ex = client.post("/v1/messages", json=message())
    assert ex.status == 200 and counting.sent == 1 and ex.faults == ()


def test_a_stream_cut_mid_way_is_retried_whole_never_stitched() -> None:
    full = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_2"}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","n":2}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )

    class Cut(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"}}'
            yield b'\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","n":1}\n\n'
            raise httpx.RemoteProtocolError("peer closed connection")

    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        sse = {"content-type": "text/event-stream"}
        if len(calls) == 1:
            return httpx.Response(200, headers=sse, stream=Cut())
        return httpx.Response(200, headers=sse, content=full)

    target = Target(TargetKind.LIVE, "http://127.0.0.1:9", "k", "2023-06-01", "x-api-key")
    http = httpx.Client(base_url=target.base_url, transport=httpx.MockTransport(handler))
    ex = ApiClient(target, http=http, retry=NO_WAIT).post("/v1/messages", json=message(True))
    assert len(calls) == 2 and ex.retries == 1 and ex.faults == ("RemoteProtocolError",)
    assert [e.type for e in ex.events or []] == [
        "message_start",
        "content_block_delta",
        "message_stop",
    ]
    assert ex.body == full  # the second answer alone: nothing of the cut one kept


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_final_answers_are_never_retried_even_when_faults_are_about(status: int) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, json={"type": "error", "error": {"type": "x"}})

    target = Target(TargetKind.LIVE, "http://127.0.0.1:9", "k", "2023-06-01", "x-api-key")
    http = httpx.Client(base_url=target.base_url, transport=httpx.MockTransport(handler))
    ex = ApiClient(target, http=http, retry=NO_WAIT).post("/v1/messages", json=message())
    assert ex.status == status and len(calls) == 1 and ex.retries == 0 and ex.faults == ()


def test_a_wrong_key_is_answered_401_once_by_a_faulty_server(
    faulty: Callable[..., EmbeddedServer],
) -> None:
    """Authentication comes before any random fault, and a 401 is final."""
    server = faulty("500")
    counting = Counting()
    target = Target(TargetKind.REFERENCE, server.url, "wrong-key", "2023-06-01", "x-api-key")
    http = httpx.Client(base_url=server.url, transport=counting)
    ex = ApiClient(target, http=http, retry=NO_WAIT).post("/v1/messages", json=message())
    assert ex.status == 401 and counting.sent == 1


def test_a_flaky_server_passes_after_retries_and_says_so(
    faulty: Callable[..., EmbeddedServer],
) -> None:
    kinds = tuple(k for k in faults.RANDOM_FAULTS if k != faults.SLOW)
    server = faulty(*kinds, rate=0.5, seed="flaky")
    client, counting = client_of(server, RetryPolicy(8, base=0.001, cap=0.001, max_retry_after=0))
    results = [client.post("/v1/messages", json=message(stream=n % 2 == 1)) for n in range(12)]
    assert all(ex.status == 200 for ex in results)
    assert all(len(ex.faults) == ex.retries for ex in results)
    assert counting.sent == 12 + sum(ex.retries for ex in results) > 12


def test_the_same_seed_meets_the_same_faults() -> None:
    def rolls(seed: str) -> list[str | None]:
        dice = faults.FaultDice(0.5, seed)
        return [dice.roll("messages.create", b'{"stream": true}') for _ in range(40)]

    assert rolls("a") == rolls("a") != rolls("b")
    assert {r for r in rolls("a") if r} <= set(faults.RANDOM_FAULTS)
    never = faults.FaultDice(0.9, "a")  # a stream cut only for a streamed Messages request
    assert faults.STREAM_CUT not in {never.roll("models.list", b"") for _ in range(50)}


def test_a_forced_answer_is_never_replaced_by_a_random_fault(
    faulty: Callable[..., EmbeddedServer],
) -> None:
    server = faulty("500")
    client, counting = client_of(server, RetryPolicy(max_retries=0))
    ex = client.post("/v1/messages", json=message(), headers={FORCE_STATUS_HEADER: "429"})
    assert ex.status == 429 and counting.sent == 1


def test_the_servers_own_record_routes_never_fault(faulty: Callable[..., EmbeddedServer]) -> None:
    server = faulty("500", faults.RESET)
    for _ in range(5):
        answer = httpx.get(
            f"{server.url}/_reference/answers",
            params={"marker": "none-such"},
            headers={"x-api-key": DEFAULT_API_KEY},
        )
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"faults": 1.5}, "from 0 to 1"),
        ({"faults": -0.1}, "from 0 to 1"),
        ({"faults": 0.3, "fault_kinds": ("418",)}, "unknown fault kind"),
    ],
)
def test_a_bad_fault_setting_is_one_clear_error(config: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ReferenceConfig(**config)


def test_serve_faults_prints_its_rate_and_fails_some_requests() -> None:
    proc, banner = start_serve("--port", "0", "--faults", "0.5", "--fault-seed", "cli")
    try:
        assert banner[1].strip() == "faults:     50% of requests at random (seed 'cli')", banner
        port = int(banner[0].rsplit(":", 1)[1])
        statuses = []
        for _ in range(12):
            try:
                statuses.append(
                    httpx.get(
                        f"http://127.0.0.1:{port}/v1/models",
                        headers={"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"},
                    ).status_code
                )
            except httpx.TransportError:
                statuses.append(0)
        assert 200 in statuses and any(s != 200 for s in statuses), statuses
    finally:
        stop(proc)


def test_serve_refuses_a_fault_rate_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    from conformance.cli import main

    assert main(["serve", "--faults", "2"]) == 2
    assert "from 0 to 1" in capsys.readouterr().err


def test_the_suite_passes_against_a_flaky_server_and_lists_the_flaky_tests(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest(
        *suite("test_messages", "test_streaming", "test_models"),
        "--anthropic-reference-faults=0.3",
        "--anthropic-max-retries=6",
        "--anthropic-report-dir=report",
        "-rs",
    )
    text = result.stdout.str()
    assert result.ret == 0, text
    assert "still a transient answer" not in text
    summary = text.split("anthropic flaky: passed after retries", 1)[1]
    listed = [line for line in summary.splitlines() if line.startswith("conformance/suite/")]
    assert listed, summary
    assert " after " in summary
    report = json.loads(Path(pytester.path, "report", "report.json").read_text())
    flaky = {t["nodeid"] for t in report["tests"] if t.get("retried") and t["verdict"] == "pass"}
    assert flaky == {n.strip() for n in listed}


def test_only_a_calls_result_is_listed_with_the_faults_it_met() -> None:
    """The client records every try; the report lists the call once, by the try that counted."""
    from conformance.exchange import Exchange
    from conformance.report.collect import RETRIED_KEY, properties

    first = Exchange("POST", "/v1/messages", 529, superseded=True)
    second = Exchange("POST", "/v1/messages", 200, retries=1, faults=("529 overloaded_error",))
    untouched = Exchange("GET", "/v1/models", 200)
    props = dict(properties(["messages"], None, [first, second, untouched]))
    assert props[RETRIED_KEY] == ["POST /v1/messages -> 200 after 529 overloaded_error"]
