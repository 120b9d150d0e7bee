"""The command line: `serve` answers on loopback and says where and with which keys; bad input
gets a clean error."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time

import httpx
import pytest

from conformance.cli import main
from conformance.reference import DEFAULT_ADMIN_API_KEY, DEFAULT_API_KEY


def start_serve(*args: str) -> tuple[subprocess.Popen[bytes], list[str]]:
    """``serve`` in a subprocess, and the three banner lines it prints before serving."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + 20
    while out.count(b"\n") < 3:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        if not chunk:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise AssertionError(f"serve printed no banner: {out!r} {err!r}")
        out += chunk
    return proc, out.decode().splitlines()[:3]


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.communicate(timeout=10)


def port_of(banner: list[str]) -> int:
    found = re.fullmatch(r"reference server on http://127\.0\.0\.1:(\d+)", banner[0])
    assert found, banner
    return int(found[1])


def get(port: int, path: str, key: str) -> httpx.Response:
    return httpx.get(
        f"http://127.0.0.1:{port}{path}",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
    )


def test_serve_prints_the_real_port_and_its_default_keys() -> None:
    proc, banner = start_serve("--port", "0")
    try:
        port = port_of(banner)
        assert port != 0, "--port 0 must print the port the system chose"
        assert banner[1:] == [
            f"  API keys:   {DEFAULT_API_KEY} (the default)",
            f"  admin keys: {DEFAULT_ADMIN_API_KEY} (the default)",
        ]
        answer = get(port, "/v1/models", DEFAULT_API_KEY)  # the banner came after the bind
        assert answer.status_code == 200 and answer.json()["data"]
        assert answer.headers["request-id"].startswith("req_")
        assert get(port, "/v1/organizations/me", DEFAULT_ADMIN_API_KEY).status_code == 200
    finally:
        stop(proc)


def test_serve_accepts_the_keys_given_and_masks_them() -> None:
    api_key, admin_key = "local-api-key-1111", "local-admin-key-2222"
    proc, banner = start_serve("--port", "0", "--api-key", api_key, "--admin-api-key", admin_key)
    try:
        port = port_of(banner)
        assert banner[1:] == [
            "  API keys:   ****1111 (given, masked)",
            "  admin keys: ****2222 (given, masked)",
        ]
        assert get(port, "/v1/organizations/me", admin_key).status_code == 200
        assert get(port, "/v1/organizations/me", DEFAULT_ADMIN_API_KEY).status_code == 401
        assert get(port, "/v1/organizations/me", api_key).status_code == 403  # not an admin key
        assert get(port, "/v1/models", api_key).status_code == 200
    finally:
        stop(proc)


def test_serve_on_a_port_in_use_is_one_line_and_serves_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert out == "", "it must not claim to be serving"
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "--port 0" in err
    assert "in use" in err


def test_serve_on_an_address_of_another_machine_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--host", "192.0.2.1", "--port", "0"]) == 2  # TEST-NET-1, not ours
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "--host must be an address" in err


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_serve_refuses_a_port_that_is_none(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", port])
    assert info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "argument --port" in errors[0] and "Traceback" not in err


def test_serve_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, words in (
        ("--host HOST", "address to listen on"),
        ("--port PORT", "free port"),
        ("--admin-api-key ADMIN_API_KEY", "Admin API key"),
    ):
        own_help = text.split(f" {option} ", 1)[1].split(" --", 1)[0]
        assert words in own_help, (option, own_help)


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
