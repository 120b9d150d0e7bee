"""The command line: `serve` answers on loopback; bad input gets a clean error."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from conformance.cli import main
from conformance.reference import DEFAULT_API_KEY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_on_loopback() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/v1/models",
                                   headers={"x-api-key": DEFAULT_API_KEY,
                                            "anthropic-version": "2023-06-01"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["data"]
        assert answer.headers["request-id"].startswith("req_")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_rejects_an_unknown_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--mutant", "no-such-mutant"]) == 2
    err = capsys.readouterr().err
    assert "no-such-mutant" in err and "sse-reordered" in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_serve_rejects_a_negative_stream_delay(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--stream-delay", "-1"]) == 2
    assert "stream delay must be 0 or more" in capsys.readouterr().err
