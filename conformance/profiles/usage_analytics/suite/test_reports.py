"""GET usage_report/messages and cost_report over a few days: buckets inside the range asked,
cost totals equal to their breakdown, usage priced at list price equal to the cost report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from conformance.checks.admin import cross_check_usage_cost, walk_report
from conformance.profiles.usage_analytics import checks, spec
from conformance.profiles.usage_analytics.sources import SourceClient, Sources

pytestmark = pytest.mark.conformance_profile("usage-analytics", "reports")

DAYS = 3


def _range(sources: Sources) -> dict[str, Any]:
    first = sources.day - timedelta(days=DAYS - 1)
    last = sources.day + timedelta(days=1)
    return {"starting_at": f"{first}T00:00:00Z", "ending_at": f"{last}T00:00:00Z"}


def _pages(admin: SourceClient, path: str, query: dict[str, Any]) -> list[Any]:
    def fetch(token: str | None) -> Any:
        return admin.expect(admin.query(path, {**query, **({"page": token} if token else {})}))

    pages, found = walk_report(fetch)
    admin.require(found, f"the next_page walk of {path}")
    return pages


def test_usage_report_buckets_lie_in_the_range(admin: SourceClient, sources: Sources) -> None:
    query = {**_range(sources), "bucket_width": "1d", "group_by[]": ["model", "service_tier"]}
    pages = _pages(admin, spec.USAGE_REPORT_PATH, query)
    assert sum(len(p["data"]) for p in pages) == DAYS


def test_cost_totals_equal_their_breakdown(admin: SourceClient, sources: Sources) -> None:
    totals = _pages(admin, spec.COST_REPORT_PATH, _range(sources))
    parts = _pages(admin, spec.COST_REPORT_PATH, {**_range(sources), "group_by[]": "description"})
    admin.require(checks.cost_totals_findings(totals, parts), "cost report totals vs breakdown")
    if sources.seeded:
        assert any(b["results"] for p in totals for b in p["data"]), "the seeded days cost"


def test_usage_priced_equals_the_cost_report(admin: SourceClient, sources: Sources) -> None:
    usage = _pages(
        admin,
        spec.USAGE_REPORT_PATH,
        {**_range(sources), "bucket_width": "1d", "group_by[]": ["model", "service_tier"]},
    )
    cost = _pages(admin, spec.COST_REPORT_PATH, {**_range(sources), "group_by[]": "description"})
    admin.require(cross_check_usage_cost(usage, cost), "usage report x list price vs cost report")
