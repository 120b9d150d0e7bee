"""The same user's e-mail attribution across Claude Code analytics and Cursor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from conformance.checks.admin import walk_report
from conformance.profiles.usage_analytics import checks, spec
from conformance.profiles.usage_analytics.sources import SourceClient, Sources, cursor_range

pytestmark = pytest.mark.conformance_profile("usage-analytics", "cross-source")


def test_one_spelling_of_each_email_across_sources(
    admin: SourceClient, cursor: SourceClient, sources: Sources
) -> None:
    day = sources.day.isoformat()

    def fetch(token: str | None) -> Any:
        query: dict[str, Any] = {"starting_at": day, "limit": 100}
        if token:
            query["page"] = token
        return admin.expect(admin.query(spec.CLAUDE_CODE_PATH, query))

    pages, _ = walk_report(fetch)
    claude = [
        r["actor"]["email_address"]
        for p in pages
        for r in p["data"]
        if r["actor"].get("type") == "user_actor"
    ]
    body = cursor.expect(
        cursor.post(
            spec.CURSOR_DAILY_PATH, cursor_range(sources.day - timedelta(days=1), sources.day)
        )
    )
    used = [r["email"] for r in body["data"]]
    found = checks.attribution_findings({"claude_code": claude, "cursor": used})
    admin.require(found, f"e-mail attribution of {day}: Claude Code vs Cursor")
    if sources.seeded:
        shared = {e.casefold() for e in claude} & {e.casefold() for e in used}
        assert shared, "the seeded developers use both tools"
