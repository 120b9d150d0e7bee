"""The facts of the usage-analytics sources (seed 004), in one place.

Seed 004 is the integration document of an engineering-analytics pipeline that reads four
sources: the Anthropic Admin API's Claude Code analytics and its usage / cost reports, the Cursor
Admin API's daily usage data, and claude.ai Enterprise audit-log exports (a file, no API). Where
the seed and the real API differ the profile follows the real API (api-contract.md section 9 for
the Admin API; Cursor's own Admin API page for Cursor) and accepts the seed's extras as optional.
Where a source leaves behaviour open, the assumption is stated next to the value.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from conformance.profiles._model import Endpoint

# --- the Anthropic Admin API (schemas: the core's, schemas/*.json) --------------------------------

CLAUDE_CODE_PATH = "/v1/organizations/usage_report/claude_code"
USAGE_REPORT_PATH = "/v1/organizations/usage_report/messages"
COST_REPORT_PATH = "/v1/organizations/cost_report"
#: The Admin operations and the core schema of each answer. They are judged with the core
#: registry (``conformance.schemas``), not copied into the profile: one schema per object.
ADMIN_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("claude_code", "GET", CLAUDE_CODE_PATH, "claude_code_report.json"),
    Endpoint("usage_report", "GET", USAGE_REPORT_PATH, "usage_report.json"),
    Endpoint("cost_report", "GET", COST_REPORT_PATH, "cost_report.json"),
)

# --- the Cursor Admin API -------------------------------------------------------------------------

CURSOR_DAILY_PATH = "/teams/daily-usage-data"
#: The seed gives the URL only; Cursor's documentation says POST with a JSON body
#: ``{startDate, endDate}`` in epoch milliseconds (followed here).
CURSOR_METHOD = "POST"
#: "Rate Limits: 90-day maximum date range per request" (seed; Cursor's page: "cannot exceed 90
#: days"). Assumed: endDate - startDate may be exactly 90 days; one millisecond more is refused
#: with a 4xx (which status is not documented).
CURSOR_MAX_RANGE = timedelta(days=90)
#: "Within subscription limit (<=500)" (seed): no day of one user counts more included requests.
SUBSCRIPTION_INCLUDED_MAX = 500
#: The seed's counters of one row (all non-negative integers).
CURSOR_COUNTERS: tuple[str, ...] = (
    "totalLinesAdded",
    "totalLinesDeleted",
    "acceptedLinesAdded",
    "acceptedLinesDeleted",
    "totalApplies",
    "totalAccepts",
    "totalRejects",
    "totalTabsShown",
    "totalTabsAccepted",
    "composerRequests",
    "chatRequests",
    "agentRequests",
    "cmdkUsages",
    "subscriptionIncludedReqs",
    "usageBasedReqs",
    "apiKeyReqs",
)
#: What a part can never exceed (the seed's "accepted" lines and tabs are part of those shown).
CURSOR_PARTS: tuple[tuple[str, str], ...] = (
    ("acceptedLinesAdded", "totalLinesAdded"),
    ("acceptedLinesDeleted", "totalLinesDeleted"),
    ("totalTabsAccepted", "totalTabsShown"),
)
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "cursor_daily",
        CURSOR_METHOD,
        CURSOR_DAILY_PATH,
        "cursor_daily_usage_response.json",
        "cursor_daily_usage_request.json",
    ),
)

# --- claude.ai Enterprise audit-log exports -------------------------------------------------------

#: The seed's event types. Real exports surely have more (logins, settings changes, ...): an event
#: type outside these is a warning, not an error.
EVENT_TYPES: tuple[str, ...] = ("conversation_created", "project_created", "file_uploaded")
#: The metadata key each event type is assumed to carry (the seed marks them all optional).
EVENT_METADATA: dict[str, str] = {
    "conversation_created": "conversation_id",
    "project_created": "project_id",
    "file_uploaded": "file_name",
}
#: "Data Retention: 180 days": one export spans at most that long.
RETENTION = timedelta(days=180)

# --- shared ---------------------------------------------------------------------------------------

#: An e-mail address as attribution needs it: one @, a dot in the domain, no spaces.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DAY_MS = 86_400_000


def epoch_ms(day: date) -> int:
    """Midnight UTC of ``day`` in epoch milliseconds (Cursor's date unit)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def day_of(value: object) -> date | None:
    """A Cursor row's or period's date: epoch milliseconds (a number, or a string of digits) or an
    ISO date string (the seed says ``string | number``); None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC).date()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def normalized_email(email: str) -> str:
    """How attribution should compare addresses: trimmed, case-folded."""
    return email.strip().casefold()
