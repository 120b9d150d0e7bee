"""The dashboard API behind X-Dashboard-Key: stats, the current usage window, daily usage,
conversations with pagination, request details with streaming chunks, and its errors."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.nexus_proxy import NexusSettings, checks, spec
from conformance.profiles.nexus_proxy.reference import OVER_LIMIT_TENANT, account_of

from .conftest import SYSTEM, Sender, seeded_only, usage_of

pytestmark = pytest.mark.conformance_profile("nexus-proxy", "dashboard")


def _get(nexus: ProfileClient, path: str, key: dict[str, str], **params: Any) -> Any:
    answer = nexus.call(
        "GET", path, params={k: v for k, v in params.items() if v is not None}, headers=key
    )
    return nexus.expect(answer)


def _conversations(
    board: ProfileClient, key: dict[str, str], settings: NexusSettings, tenant: str, **kw: Any
) -> Any:
    field = spec.NAMES[settings.tenant_by].field
    return _get(board, spec.CONVERSATIONS, key, **{field: tenant}, **kw)


@pytest.mark.parametrize("given", ["none", "wrong"])
def test_dashboard_needs_its_key(board: ProfileClient, given: str) -> None:
    headers = {} if given == "none" else {spec.DASHBOARD_KEY_HEADER: "not-the-dashboard-key"}
    answer = board.call("GET", spec.STATS, headers=headers)
    why = "without X-Dashboard-Key" if given == "none" else "with a wrong X-Dashboard-Key"
    board.require(checks.dashboard_refused(answer, why), answer.describe())
    board.expect(answer, status=401)


def test_unknown_request_is_404(board: ProfileClient, dashboard: dict[str, str]) -> None:
    missing = "00000000-0000-4000-8000-00000000dead"
    answer = board.call("GET", f"{spec.REQUESTS}/{missing}", headers=dashboard)
    board.expect(answer, status=404)


def test_stats(
    nexus: ProfileClient, board: ProfileClient, dashboard: dict[str, str], settings: NexusSettings
) -> None:
    body = _get(board, spec.STATS, dashboard)
    nexus.require(checks.tenant_fields(body, settings.tenant_by, spec.STATS), spec.STATS)


def test_current_window_grows(
    nexus: ProfileClient,
    board: ProfileClient,
    dashboard: dict[str, str],
    account: str,
    sender: Sender,
) -> None:
    before = _get(board, spec.CURRENT, dashboard, accountId=account)
    answer = sender.message("Reply with exactly: window", system=SYSTEM)
    nexus.expect(answer)
    used = usage_of(answer)
    after = _get(board, spec.CURRENT, dashboard, accountId=account)
    assert after["requests"]["count"] - before["requests"]["count"] == 1
    grown = after["usage"]["tokens_used"] - before["usage"]["tokens_used"]
    assert grown == used.input_tokens + used.output_tokens


@pytest.mark.parametrize("tenant_name", ["seed-one.example.com", OVER_LIMIT_TENANT])
def test_current_window_of_a_seeded_account(
    nexus: ProfileClient, board: ProfileClient, dashboard: dict[str, str], tenant_name: str
) -> None:
    """A window with every request type, and one above its limit (the percentage stays 100)."""
    seeded_only(nexus, "accounts with a seeded usage history")
    body = _get(board, spec.CURRENT, dashboard, accountId=account_of(tenant_name))
    assert body["requests"]["count"] >= 1


def test_daily_usage(
    nexus: ProfileClient,
    board: ProfileClient,
    dashboard: dict[str, str],
    account: str,
    sender: Sender,
) -> None:
    nexus.expect(sender.message("Reply with exactly: daily", system=SYSTEM))
    body = _get(board, spec.DAILY, dashboard, accountId=account, days=30)
    assert body["days"], "a request was just made: today has usage"


def test_daily_usage_of_a_seeded_account(
    nexus: ProfileClient, board: ProfileClient, dashboard: dict[str, str]
) -> None:
    seeded_only(nexus, "an account with a seeded usage history over several days")
    body = _get(board, spec.DAILY, dashboard, accountId=account_of("seed-one.example.com"))
    assert len(body["days"]) >= 2


def test_conversations_pagination(
    nexus: ProfileClient,
    board: ProfileClient,
    dashboard: dict[str, str],
    settings: NexusSettings,
    tenant: str,
    sender: Sender,
) -> None:
    """Three conversations of the tenant, paged two at a time: each page is checked."""
    for n in range(3):
        nexus.expect(sender.message(f"Conversation {n}: reply with exactly: ok", system=SYSTEM))
    seen: list[str] = []
    for page in (1, 2, 3):
        body = _conversations(board, dashboard, settings, tenant, page=page, per_page=2)
        seen += [c.get("conversation_id") or c.get("conversationId") for c in body["conversations"]]
        nexus.require(
            checks.tenant_fields(body, settings.tenant_by, spec.CONVERSATIONS), spec.CONVERSATIONS
        )
    assert len(seen) >= 3 and len(set(seen)) == len(seen), seen


def test_request_details_of_a_streamed_request(
    nexus: ProfileClient,
    board: ProfileClient,
    dashboard: dict[str, str],
    settings: NexusSettings,
    tenant: str,
    sender: Sender,
) -> None:
    body = sender.body("Reply with exactly: streamed", system=SYSTEM, stream=True)
    answer = sender.send(body)
    nexus.expect(answer)
    found = _conversations(board, dashboard, settings, tenant, page=1, per_page=1)
    first = found["conversations"][0]
    if "latest_request" not in first:
        pytest.skip(
            "the conversations answer names no latest_request (the as-built shape): its "
            "request cannot be found to read its details"
        )
    latest = first["latest_request"]["id"]
    details = _get(board, f"{spec.REQUESTS}/{latest}", dashboard)
    nexus.require(checks.tenant_fields(details, settings.tenant_by, spec.REQUESTS), spec.REQUESTS)
    assert details["request_body"] == body
    assert details[spec.NAMES[settings.tenant_by].field] == tenant
    chunks = "".join(c["content"] for c in details["streaming_chunks"])
    assert chunks.encode() == answer.body, "the chunks put together are the stream handed on"
    used = usage_of(answer)
    assert (details["input_tokens"], details["output_tokens"]) == (
        used.input_tokens,
        used.output_tokens,
    )


def test_query_evaluation_is_stored(
    nexus: ProfileClient,
    board: ProfileClient,
    dashboard: dict[str, str],
    settings: NexusSettings,
    tenant: str,
    sender: Sender,
) -> None:
    """A request with one system block is a query evaluation: stored like any other."""
    before = _conversations(board, dashboard, settings, tenant)["pagination"]["total"]
    one = [{"type": "text", "text": "You are a conformance probe."}]
    nexus.expect(sender.message("Query evaluation: reply with exactly: ok", system=one))
    after = _conversations(board, dashboard, settings, tenant)["pagination"]["total"]
    nexus.require(checks.stored(after == before + 1, "query_evaluation"), spec.CONVERSATIONS)
