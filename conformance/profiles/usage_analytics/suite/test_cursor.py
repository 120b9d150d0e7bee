"""POST /teams/daily-usage-data: credentials, the 90-day maximum, dates, counters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conformance.profiles.usage_analytics import checks, spec
from conformance.profiles.usage_analytics.reference import CURSOR_TEAM
from conformance.profiles.usage_analytics.sources import SourceClient, Sources, cursor_range

pytestmark = pytest.mark.conformance_profile("usage-analytics", "cursor")


def _refused(cursor: SourceClient, body: dict[str, int]) -> None:
    exchange = cursor.post(spec.CURSOR_DAILY_PATH, body)
    cursor.expect(exchange, status=exchange.status)  # the range check names an answered range
    assert 400 <= exchange.status < 500, f"HTTP {exchange.status}, expected a 4xx refusal"


def test_daily_usage_of_a_week(cursor: SourceClient, sources: Sources) -> None:
    body = cursor.expect(
        cursor.post(
            spec.CURSOR_DAILY_PATH, cursor_range(sources.day - timedelta(days=6), sources.day)
        )
    )
    if sources.seeded:
        assert len(body["data"]) == 7 * len(CURSOR_TEAM), "a row per user and day"


def test_daily_usage_of_exactly_90_days(cursor: SourceClient, sources: Sources) -> None:
    cursor.expect(
        cursor.post(
            spec.CURSOR_DAILY_PATH, cursor_range(sources.day - spec.CURSOR_MAX_RANGE, sources.day)
        )
    )


def test_daily_usage_over_90_days_is_refused(cursor: SourceClient, sources: Sources) -> None:
    first = sources.day - spec.CURSOR_MAX_RANGE - timedelta(days=1)
    _refused(cursor, cursor_range(first, sources.day))


def test_daily_usage_ending_before_it_starts_is_refused(
    cursor: SourceClient, sources: Sources
) -> None:
    _refused(cursor, cursor_range(sources.day, sources.day - timedelta(days=1)))


@pytest.mark.parametrize("credentials", ["none", "wrong-key"])
def test_daily_usage_needs_the_key(
    cursor: SourceClient, sources: Sources, credentials: str
) -> None:
    headers = {} if credentials == "none" else {"authorization": "Bearer wrong-key"}
    other = sources.cursor_with(headers)
    exchange = other.post(spec.CURSOR_DAILY_PATH, cursor_range(sources.day, sources.day))
    other.require(
        checks.unauthenticated_findings(exchange, f"credentials {credentials}"),
        exchange.describe(),
    )
