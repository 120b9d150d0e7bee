"""Benchmarks of the hot paths, printed as figures (not asserted: targets live here, not in tests).

    python bench/bench_core.py

Targets (2-core CI machine): validating a message well under 1 ms; folding a 1,000-event stream
under 20 ms; the reference server answering over 200 requests/s on loopback; the whole offline
suite (replayed from cassettes) in a few seconds; memory for validation under 1 MiB.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx

from conformance import reference, sse
from conformance.exchange import Exchange
from conformance.validation import validate_exchange


def timed(label: str, fn: Callable[[], object], repeat: int) -> None:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    med = statistics.median(samples)
    print(f"{label:<48} median {med * 1000:8.3f} ms   ({1 / med:,.0f}/s over {repeat} runs)")


def main() -> None:
    with reference.EmbeddedServer() as server, httpx.Client(base_url=server.url) as http:
        headers = {"x-api-key": reference.DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
        body = {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "Reply with exactly: " + "word " * 40}],
        }
        json_answer = http.post("/v1/messages", json=body, headers=headers)
        stream_answer = http.post("/v1/messages", json={**body, "stream": True}, headers=headers)

        message = Exchange(
            "POST", "/v1/messages", 200, dict(json_answer.headers), json_answer.content, body
        )
        events = sse.parse_sse(stream_answer.content)
        stream = Exchange(
            "POST",
            "/v1/messages",
            200,
            dict(stream_answer.headers),
            stream_answer.content,
            body,
            events=events,
        )
        validate_exchange(message)  # warm the validator cache

        timed("validate_exchange(message)", lambda: validate_exchange(message), 500)
        timed(
            f"validate_exchange(stream of {len(events)} events)",
            lambda: validate_exchange(stream),
            100,
        )
        long_stream = stream_answer.content * 1  # one stream, then a synthetic long one
        many = [("message_start", events[0].json)] + [
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "x"},
                },
            )
        ] * 1000
        del long_stream
        raw_many = sse.format_sse(many)
        timed("parse_sse(1,000 events)", lambda: sse.parse_sse(raw_many), 50)
        timed(
            "reference server POST /v1/messages (loopback)",
            lambda: http.post("/v1/messages", json=body, headers=headers),
            200,
        )
        timed(
            "reference server streamed POST /v1/messages",
            lambda: http.post("/v1/messages", json={**body, "stream": True}, headers=headers),
            100,
        )

        corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
        if corpus.is_dir():
            from conformance.cassettes import lint

            start = time.perf_counter()
            result = lint.lint_paths([corpus], hosts=None)
            took = time.perf_counter() - start
            print(
                f"{'check-cassettes over the shared corpus':<48} {took:8.2f} s    "
                f"({len(result.summary)} endpoints, {len(result.problems)} problems)"
            )
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "conformance",
                "run",
                "-q",
                "--record-mode=none",
                "--anthropic-report-dir=none",
            ],
            check=True,
            capture_output=True,
        )
        print(
            f"{'whole suite replayed from cassettes (offline)':<48} "
            f"{time.perf_counter() - start:8.2f} s    (wall clock, incl. start-up)"
        )

        tracemalloc.start()
        for _ in range(1000):
            validate_exchange(
                Exchange(
                    "POST",
                    "/v1/messages",
                    200,
                    dict(json_answer.headers),
                    json_answer.content,
                    body,
                )
            )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{'peak memory validating 1,000 messages':<48} {peak / 1024:8.0f} KiB")


if __name__ == "__main__":
    main()
