"""GET /v1/usage: periods (month, week, day; anything else 400), sums, remaining."""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.claude_code_api_service import spec

from .conftest import seeded_only, usage_of

pytestmark = pytest.mark.conformance_profile("claude-code-api-service", "usage")


@pytest.mark.parametrize("period", spec.PERIODS)
def test_usage_period(ccas: ProfileClient, project: str, period: str) -> None:
    assert usage_of(ccas, project, period)["period"] == period


def test_usage_default_period_is_month(ccas: ProfileClient, project: str) -> None:
    assert usage_of(ccas, project)["period"] == "month"


@pytest.mark.parametrize("period", ["year", "hour"])
def test_usage_invalid_period_is_400(ccas: ProfileClient, project: str, period: str) -> None:
    body = ccas.expect(ccas.get("/v1/usage", project_id=project, period=period), status=400)
    assert period in str(body["detail"])


def test_usage_periods_hold_each_other(ccas: ProfileClient) -> None:
    """A day's usage is part of the week's and the month's (whatever their exact windows)."""
    seeded_only(ccas, "a project with usage spread over several weeks")
    day, week, month = (usage_of(ccas, "history", p) for p in ("day", "week", "month"))
    assert day["total_tokens"] <= week["total_tokens"]
    assert day["total_tokens"] <= month["total_tokens"]
    assert day["total_tokens"] < month["total_tokens"], "the periods must differ"
