"""A failure shows how to reproduce it: the request and a curl line, no secret, no facade frames
(issue 12, point 13)."""

from __future__ import annotations

import shlex

import pytest

from conformance import redact, reproduce
from conformance.exchange import ConformanceError, Exchange, Finding
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer, ReferenceConfig

KEY = "sk-ant-api03-REPRODUCEfakeKEY0123456789"


def _exchange(**kw: object) -> Exchange:
    redact.register_secret(KEY)
    base = dict(
        method="POST",
        path="/v1/messages",
        status=200,
        url="http://127.0.0.1:8080/anthropic/v1/messages",
        request_headers=redact.redact_headers(
            {
                "x-api-key": KEY,
                "anthropic-version": "2023-06-01",
                "content-type": "application/json",
                "content-length": "99",
            }
        ),
        request_json={
            "model": "claude-haiku-4-5",
            "max_tokens": 32,
            "messages": [{"role": "user", "content": "x" * 1000}],
        },
        response_headers={"request-id": "req_1"},
    )
    base.update(kw)
    return Exchange(**base)  # type: ignore[arg-type]


def test_curl_line_resends_the_request_with_the_key_from_the_environment() -> None:
    ex = _exchange(request_json={"model": "m", "max_tokens": 1})
    line = reproduce.curl_command(ex)
    words = shlex.split(line.replace('"x-api-key: $ANTHROPIC_API_KEY"', "KEYHEADER"))
    assert words[:5] == ["curl", "-sS", "-X", "POST", "http://127.0.0.1:8080/anthropic/v1/messages"]
    assert '-H "x-api-key: $ANTHROPIC_API_KEY"' in line and KEY not in line
    assert "anthropic-version: 2023-06-01" in words and "content-length: 99" not in words
    assert words[-2:] == ["--data", '{"model":"m","max_tokens":1}']


def test_request_description_masks_secrets_and_shortens_the_body() -> None:
    text = reproduce.describe_request(_exchange())
    assert text.splitlines()[0] == "POST http://127.0.0.1:8080/anthropic/v1/messages"
    assert KEY not in text and "x-api-key: " in text
    body = next(line for line in text.splitlines() if line.startswith("body: "))
    assert len(body) <= len("body: ") + reproduce.BODY_LIMIT and body.endswith("…")


def test_admin_and_bearer_requests_name_their_variable() -> None:
    ex = _exchange(
        path="/v1/organizations/users",
        method="GET",
        request_json=None,
        request_headers={"authorization": "Bearer ***"},
    )
    assert '-H "authorization: Bearer $ANTHROPIC_ADMIN_API_KEY"' in reproduce.curl_command(ex)


def test_the_exchange_a_finding_names_is_the_one_shown() -> None:
    first = _exchange(response_headers={"request-id": "req_first"})
    last = _exchange(response_headers={"request-id": "req_last"})
    error = ConformanceError([Finding("usage", "missing", request_id="req_first")])
    assert reproduce.failing_exchange([first, last], error) is first
    assert reproduce.failing_exchange([first, last], AssertionError("x")) is last
    assert reproduce.section([], None) is None


def test_failure_report_has_the_reproduce_section_and_no_facade_frames(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedServer(ReferenceConfig(mutants=("usage-missing",))) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_API_KEY)
        result = pytester.runpytest(
            "--pyargs",
            "conformance.suite",
            "-p",
            "no:cacheprovider",
            "-x",
            "-k",
            "test_basic_message",
            "--anthropic-report-dir=none",
        )
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    result.stdout.fnmatch_lines(
        [
            "*anthropic reproduce*",
            f"POST {server.url}/v1/messages",
            "*reproduce with:*",
            f"curl -sS -X POST {server.url}/v1/messages *"
            '-H "x-api-key: $ANTHROPIC_API_KEY"*--data *',
        ]
    )
    assert "conformance/api.py" not in out and DEFAULT_API_KEY not in out
