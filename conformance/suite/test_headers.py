"""Header behaviour, checked rather than assumed: what a proxy most often gets wrong.

request-id on every answer, anthropic-version enforced, anthropic-beta forwarded (a beta-only
field is accepted with its beta and rejected without), errors in the Anthropic envelope rather
than another vendor's, retry-after on 429 (a forced 429 that comes back as another error fails),
the ``anthropic-ratelimit-*`` headers, and ``text/event-stream`` for streams.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from conformance import catalog
from conformance.api import Api
from conformance.checks.ratelimit import ratelimit_findings
from conformance.exchange import raise_for_findings
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("headers")

REQUEST_ID_PREFIX = catalog.ID_PREFIXES["request"]
CONTEXT_MANAGEMENT_BETA = next(b.header for b in catalog.BETAS if b.feature == "context_management")
#: A beta-only count_tokens field: accepted with its anthropic-beta, unknown without it.
CONTEXT_MANAGEMENT = {"edits": [{"type": "clear_tool_uses_20250919"}]}


def _invalid(api: Api, **headers: str | None) -> Any:
    """A request every version rejects before generating anything (no max_tokens)."""
    return api.call(
        "messages.create",
        {"model": api.model, "messages": [{"role": "user", "content": "hi"}]},
        headers=headers or None,
    )


def test_request_id_on_success(api: Api) -> None:
    ex = api.create_message("Reply with exactly: ok", max_tokens=8)
    api.expect(ex)
    assert (ex.request_id or "").startswith(REQUEST_ID_PREFIX), ex.response_headers


def test_request_id_on_error_matches_body(api: Api) -> None:
    ex = _invalid(api)
    body = api.expect_error(ex, 400)
    assert (ex.request_id or "").startswith(REQUEST_ID_PREFIX), ex.response_headers
    if "request_id" in body:  # documented as present; the SDK types mark it optional
        assert body["request_id"] == ex.request_id, (body["request_id"], ex.request_id)


def test_error_body_is_the_anthropic_envelope(api: Api) -> None:
    body = api.expect_error(_invalid(api), 400)
    assert body.get("type") == "error", f"not the Anthropic envelope: {body}"
    assert body["error"].get("type") in catalog.ERROR_TYPES.values(), body
    assert isinstance(body["error"].get("message"), str) and body["error"]["message"], body


@pytest.mark.parametrize("version", [None, "1999-01-01"], ids=["missing", "unknown"])
def test_anthropic_version_enforced(api: Api, version: str | None) -> None:
    ex = api.call(
        "messages.create",
        api.message_body("hi", max_tokens=1),
        headers={"anthropic-version": version},
    )
    api.expect_error(ex, 400)


@pytest.mark.feature("count_tokens")
def test_anthropic_beta_forwarded(api: Api) -> None:
    body = {"model": api.model, "context_management": CONTEXT_MANAGEMENT}
    with_beta = api.call(
        "messages.count_tokens",
        {**body, "messages": [{"role": "user", "content": "with the beta"}]},
        headers={"anthropic-beta": CONTEXT_MANAGEMENT_BETA},
    )
    assert api.expect(with_beta)["input_tokens"] > 0
    without = api.call(
        "messages.count_tokens",
        {**body, "messages": [{"role": "user", "content": "without the beta"}]},
        headers={"anthropic-beta": None},
    )
    api.expect_error(without, 400)


def test_retry_after_on_429(api: Api, conformance_target: RunTarget) -> None:
    """Only the reference server can be made to answer 429 on demand (a test-only header)."""
    if not conformance_target.can_force_status:
        pytest.skip(
            f"a 429 cannot be provoked for free on {conformance_target.describe()}: "
            "only the reference server answers a forced status"
        )
    # The 429 itself is what is checked: never retried, while a fault on the way (a 5xx, a
    # reset) still is, so a flaky network is not taken for a 429 turned into something else.
    api.client.retry = dataclasses.replace(api.client.retry, final=frozenset({429}))
    forced = conformance_target.force_status_headers(429)
    ex = api.call("messages.create", api.message_body("hi", max_tokens=1), headers=forced)
    if ex.status < 400:  # a success: nothing behind the target honoured the test-only header
        pytest.skip(
            f"a 429 cannot be provoked for free here: only the reference server "
            f"honours {', '.join(forced)} (got {ex.status})"
        )
    # Any other error means the 429 was provoked and then turned into something else on the
    # way (a 500, a 503): a client would not back off. That is a failure, not a skip.
    api.expect_error(ex, 429)
    assert "retry-after" in ex.response_headers, ex.response_headers


def test_ratelimit_headers(api: Api, conformance_target: RunTarget) -> None:
    """A messages answer states the rate limits (``anthropic-ratelimit-*``). Required where the
    headers are the contract (the real API, the reference server, what a replay recorded); a
    warning for a proxy, which may have reasons to hide them."""
    ex = api.create_message("Reply with exactly: ok", max_tokens=8)
    api.expect(ex)
    findings = ratelimit_findings(ex)
    if conformance_target.requires_rate_limit_headers:
        findings = [dataclasses.replace(f, severity="error") for f in findings]
    raise_for_findings(findings, ex.describe())


@pytest.mark.feature("streaming")
def test_stream_content_type(api: Api) -> None:
    ex = api.create_message("Reply with exactly: streamed", max_tokens=8, stream=True)
    api.expect(ex)
    assert ex.content_type == "text/event-stream", ex.response_headers.get("content-type")
    assert ex.events, "no events"
