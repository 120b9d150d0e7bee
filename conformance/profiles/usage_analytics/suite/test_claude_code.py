"""GET /v1/organizations/usage_report/claude_code: the day asked, pages and their walk."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.checks.admin import walk_report
from conformance.profiles.usage_analytics import spec
from conformance.profiles.usage_analytics.sources import SourceClient, Sources

from .conftest import data_of

pytestmark = pytest.mark.conformance_profile("usage-analytics", "claude-code")


def test_claude_code_records_are_for_the_day_asked(admin: SourceClient, sources: Sources) -> None:
    day = sources.day.isoformat()
    body = admin.expect(admin.query(spec.CLAUDE_CODE_PATH, {"starting_at": day, "limit": 20}))
    if sources.seeded:
        assert data_of(body), "the seeded day has Claude Code records"
    assert all(str(r["date"]).startswith(day) for r in data_of(body))


def test_claude_code_walk_serves_every_record_once(admin: SourceClient, sources: Sources) -> None:
    day = sources.day.isoformat()

    def fetch(token: str | None) -> Any:
        query: dict[str, Any] = {"starting_at": day, "limit": 2}
        if token:
            query["page"] = token
        return admin.expect(admin.query(spec.CLAUDE_CODE_PATH, query))

    pages, found = walk_report(fetch)
    admin.require(found, f"the next_page walk of the Claude Code report for {day}")
    if sources.seeded:
        assert len(pages) > 1, "limit=2 over the seeded day's records takes several pages"


def test_claude_code_bad_day_is_400(admin: SourceClient) -> None:
    body = admin.expect(
        admin.query(spec.CLAUDE_CODE_PATH, {"starting_at": "not-a-day"}), status=400
    )
    assert body["error"]["type"] == "invalid_request_error"
