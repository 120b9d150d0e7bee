"""Slow or unreachable upstreams are diagnosed as what they are (issue 12, point 9): a slow
stream is one "too slow" failure, not five retries and a "dead target"; an unreachable
``--anthropic-upstream-url`` stops the run once, naming the URL, exit 4."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from conformance.client import AnswerTooSlow, ApiClient, RetryPolicy, transport
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer, ReferenceConfig
from conformance.target import Target, TargetKind


class Counting(httpx.BaseTransport):
    """Counts the requests that reach the wire (each retry is one)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.sent = inner, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return self.inner.handle_request(request)


@pytest.fixture
def dead_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


def test_slow_stream_is_one_too_slow_failure_not_a_dead_target() -> None:
    with EmbeddedServer(ReferenceConfig(stream_delay=0.4)) as server:
        counting = Counting(transport(1.0))
        target = Target(TargetKind.PROXY, server.url, DEFAULT_API_KEY, "2023-06-01")
        client = ApiClient(
            target,
            timeout=1.0,
            retry=RetryPolicy(4, 60.0),
            http=httpx.Client(base_url=server.url, transport=counting),
        )
        body = {
            "model": "claude-haiku-4-5",
            "max_tokens": 32,
            "stream": True,
            "messages": [{"role": "user", "content": "one two three four five six"}],
        }
        try:
            with pytest.raises(AnswerTooSlow) as info:
                client.request("POST", "/v1/messages", json=body)
        finally:
            client.close()
    assert counting.sent == 1  # not retried: a retry would be just as slow
    message = str(info.value)
    assert "--anthropic-timeout" in message and "slower than that" in message
    assert "no answer after" not in message and "Is the target running" not in message
    assert info.value.__cause__ is None


@pytest.mark.parametrize("mode", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_unreachable_upstream_stops_the_run_once(
    pytester: pytest.Pytester, dead_url: str, mode: tuple[str, ...]
) -> None:
    with EmbeddedServer() as proxy:  # a "proxy" that answers; its upstream is down
        result = pytester.runpytest(
            "--pyargs",
            "conformance.suite",
            "-p",
            "no:cacheprovider",
            *mode,
            "-k",
            "passthrough",
            "--anthropic-report-dir=none",
            f"--anthropic-base-url={proxy.url}",
            f"--anthropic-api-key={DEFAULT_API_KEY}",
            f"--anthropic-upstream-url={dead_url}",
        )
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out
    assert "INTERNALERROR" not in out and "httpcore" not in out
    line = f"the upstream {dead_url} (--anthropic-upstream-url) is unreachable"
    assert line in out
    assert out.count(line) == 1
