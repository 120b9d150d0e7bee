"""The semantic checks of the usage-analytics profile: what seed 004's pipeline relies on and no
schema can state (dates inside the asked range, one row per day, the 90-day maximum, page
arithmetic, parts never above their totals, cost totals equal to their breakdowns, one spelling
of a user's e-mail across sources).

Registered in the core registry under names starting ``analytics-``, with ``endpoints=PROFILE_ONLY``
and a guard on the profile's own paths. The Admin API answers are judged with what the core
already has (``conformance.schemas`` for their shapes, ``conformance.checks.admin`` for report
buckets, group-by, decimal amounts, the Claude Code day and page walks): those findings keep the
core's names (``schema:claude_code_report.json``, ``report-buckets``, ``claude-code-day``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from conformance import schemas as core_schemas
from conformance.checks import Guard, check, on_demand, success
from conformance.checks import admin as core_admin
from conformance.checks.common import finding, is_count
from conformance.exchange import Exchange, Finding
from conformance.profiles import PROFILE_ONLY, answers_of
from conformance.profiles.usage_analytics import spec

_ALL = (*spec.ADMIN_ENDPOINTS, *spec.ENDPOINTS)


def on(*names: str) -> Guard:
    """An answer of one of the profile's operations ``names`` (method and path match)."""
    return answers_of("usage", _ALL, *names)


_JSON = Guard("json_object", lambda e: isinstance(e.json, dict))
ADMIN = on(*(e.name for e in spec.ADMIN_ENDPOINTS))
CURSOR = on("cursor_daily")

ADMIN_SCHEMA = "analytics-admin-schema"
CC_DAY = "analytics-cc-day"
CC_PAGE = "analytics-cc-page"
REPORT_ROWS = "analytics-report-rows"
CURSOR_RANGE = "analytics-cursor-range"
CURSOR_DATES = "analytics-cursor-dates"
CURSOR_PERIOD = "analytics-cursor-period"
CURSOR_COUNTERS = "analytics-cursor-counters"
CURSOR_AUTH = "analytics-cursor-auth"
COST_TOTALS = "analytics-cost-totals"
ATTRIBUTION = "analytics-email-attribution"
#: How far an ungrouped cost amount may be from the sum of its breakdown, in cents. Amounts are
#: decimal strings; the API does not say how it rounds them, so each row may be off by up to
#: half a unit of its last place (the reference: 6 places); a cent is far above that noise.
COST_TOLERANCE_CENTS = Decimal("0.01")


def _endpoint(exchange: Exchange) -> Any:
    return next((e for e in _ALL if e.matches(exchange.method, exchange.path)), None)


def _request(exchange: Exchange) -> Mapping[str, Any]:
    body = exchange.request_json
    return body if isinstance(body, dict) else {}


# --- the Admin API ------------------------------------------------------------------------------


@check(ADMIN_SCHEMA, endpoints=PROFILE_ONLY, applies=ADMIN & _JSON)
def check_admin_schema(exchange: Exchange) -> list[Finding]:
    """An Admin answer has the core schema of its operation (an error, the core error.json)."""
    endpoint = _endpoint(exchange)
    name = "error.json" if exchange.status >= 400 else endpoint.response_schema
    return core_schemas.validate(exchange.json, name, request_id=exchange.request_id)


@check(CC_DAY, endpoints=PROFILE_ONLY, applies=on("claude_code") & success & _JSON)
def check_claude_code_day(exchange: Exchange) -> list[Finding]:
    """Claude Code records are for the one UTC day asked (the core check ``claude-code-day``)."""
    return core_admin.check_claude_code_day(exchange)


@check(CC_PAGE, endpoints=PROFILE_ONLY, applies=on("claude_code") & success & _JSON)
def check_claude_code_page(exchange: Exchange) -> list[Finding]:
    """A Claude Code page holds at most ``limit`` records (default 20), one per actor, and
    has_more comes with a next_page token, the last page with none."""
    body, out = exchange.json, []
    data = body.get("data")
    raw = (core_admin.all_query(exchange).get("limit") or ["20"])[0]
    limit = int(raw) if raw.isdigit() else None
    if isinstance(data, list) and limit is not None and len(data) > limit:
        out.append(
            finding(
                CC_PAGE,
                f"the page has {len(data)} records but limit={limit} was asked",
                pointer="/data",
                rule="len(data) <= limit (default 20, at most 1000)",
                value=len(data),
            )
        )
    more, token = body.get("has_more"), body.get("next_page")
    if more is True and not isinstance(token, str):
        out.append(
            finding(
                CC_PAGE,
                "has_more is true but next_page is not a page token",
                pointer="/next_page",
                rule="has_more true comes with a next_page token",
                value=token,
            )
        )
    if more is False and token is not None:
        out.append(
            finding(
                CC_PAGE,
                "has_more is false but next_page is set",
                pointer="/next_page",
                rule="the last page has next_page null",
                value=token,
            )
        )
    seen: dict[str, int] = {}
    for i, rec in enumerate(data if isinstance(data, list) else []):
        if not isinstance(rec, dict):
            continue
        actor = repr(sorted((rec.get("actor") or {}).items())) + str(rec.get("date"))[:10]
        if actor in seen:
            out.append(
                finding(
                    CC_PAGE,
                    f"record {i} repeats the actor and day of record {seen[actor]}",
                    pointer=f"/data/{i}/actor",
                    rule="one record per actor and day",
                    value=rec.get("actor"),
                )
            )
        seen.setdefault(actor, i)
    return out


@check(
    REPORT_ROWS, endpoints=PROFILE_ONLY, applies=on("usage_report", "cost_report") & success & _JSON
)
def check_report_rows(exchange: Exchange) -> list[Finding]:
    """Usage and cost report pages: buckets inside the asked range, ordered and as wide as
    asked; grouped dimensions filled in; cost amounts decimal strings (the core checks
    ``report-buckets``, ``group-by``, ``decimal-amount``)."""
    query, body = core_admin.all_query(exchange), exchange.json
    out = core_admin.bucket_findings(body, query, request_id=exchange.request_id)
    if query.get("group_by"):
        out += core_admin.group_by_findings(body, query["group_by"], request_id=exchange.request_id)
    if on("cost_report")(exchange):
        out += core_admin.amount_findings(body, request_id=exchange.request_id)
    return out


def _amounts(pages: Iterable[Any]) -> dict[str, Decimal]:
    """Cents per bucket (its starting_at) over report pages; unreadable amounts left out (the
    schema and ``decimal-amount`` report them)."""
    out: dict[str, Decimal] = {}
    for body in pages:
        for bucket in body.get("data") or [] if isinstance(body, dict) else []:
            if not isinstance(bucket, dict):
                continue
            key = str(bucket.get("starting_at"))
            total = out.setdefault(key, Decimal(0))
            for row in bucket.get("results") or []:
                amount = row.get("amount") if isinstance(row, dict) else None
                if isinstance(amount, str):
                    try:
                        total += Decimal(amount)
                    except InvalidOperation:
                        continue
            out[key] = total
    return out


@on_demand(COST_TOTALS)
def cost_totals_findings(totals: Sequence[Any], breakdown: Sequence[Any]) -> list[Finding]:
    """Each day's cost in an ungrouped cost report (``totals`` pages) is the sum of that day's
    rows grouped by description (``breakdown`` pages of the same range)."""
    want, got = _amounts(totals), _amounts(breakdown)
    out = []
    for day in sorted(set(want) | set(got)):
        total, parts = want.get(day, Decimal(0)), got.get(day, Decimal(0))
        if abs(total - parts) > COST_TOLERANCE_CENTS:
            out.append(
                finding(
                    COST_TOTALS,
                    f"the bucket starting {day} costs {total} cents in total but its rows "
                    f"grouped by description add up to {parts} cents",
                    pointer=f"/buckets/{day}",
                    rule="a cost total equals the sum of its breakdown (within 0.01 cent)",
                    value={"total": str(total), "breakdown": str(parts)},
                )
            )
    return out


# --- Cursor -------------------------------------------------------------------------------------


def _asked(exchange: Exchange) -> tuple[int, int] | None:
    body = _request(exchange)
    start, end = body.get("startDate"), body.get("endDate")
    if is_count(start) and is_count(end):
        return start, end
    return None


@check(CURSOR_RANGE, endpoints=PROFILE_ONLY, applies=CURSOR)
def check_cursor_range(exchange: Exchange) -> list[Finding]:
    """A range longer than 90 days, or ending before it starts, is refused (4xx)."""
    asked = _asked(exchange)
    if asked is None or exchange.status >= 400:
        return []
    start, end = asked
    days = (end - start) / spec.DAY_MS
    if end < start:
        problem = "endDate is before startDate"
    elif end - start > spec.CURSOR_MAX_RANGE.total_seconds() * 1000:
        problem = f"the range is {days:g} days"
    else:
        return []
    return [
        finding(
            CURSOR_RANGE,
            f"{problem}, yet it was answered with HTTP {exchange.status}",
            pointer="/endDate",
            rule="startDate <= endDate <= startDate + 90 days, else a 4xx",
            value={"startDate": start, "endDate": end},
        )
    ]


@check(CURSOR_DATES, endpoints=PROFILE_ONLY, applies=CURSOR & success & _JSON)
def check_cursor_dates(exchange: Exchange) -> list[Finding]:
    """Every row's date lies inside the asked range, and one user has one row per day."""
    asked = _asked(exchange)
    data = exchange.json.get("data")
    if asked is None or not isinstance(data, list):
        return []
    first, last = spec.day_of(asked[0]), spec.day_of(asked[1])
    out: list[Finding] = []
    seen: dict[tuple[str, date], int] = {}
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            continue
        day = spec.day_of(row.get("date"))
        if day is None:
            continue  # the schema reports it
        if first is not None and last is not None and not first <= day <= last:
            out.append(
                finding(
                    CURSOR_DATES,
                    f"row {i} is for {day}, outside the range asked ({first} to {last})",
                    pointer=f"/data/{i}/date",
                    rule="rows lie inside [startDate, endDate]",
                    value=row.get("date"),
                )
            )
        email = row.get("email")
        if isinstance(email, str):
            key = (spec.normalized_email(email), day)
            if key in seen:
                out.append(
                    finding(
                        CURSOR_DATES,
                        f"row {i} is a second row for {email} on {day} (first: row {seen[key]})",
                        pointer=f"/data/{i}",
                        rule="one row per user and day",
                        value=email,
                    )
                )
            seen.setdefault(key, i)
    return out


@check(CURSOR_PERIOD, endpoints=PROFILE_ONLY, applies=CURSOR & success & _JSON)
def check_cursor_period(exchange: Exchange) -> list[Finding]:
    """``period`` is the range asked for (by day)."""
    asked, period = _asked(exchange), exchange.json.get("period")
    if asked is None or not isinstance(period, dict):
        return []
    out = []
    for i, (seed_key, doc_key) in enumerate((("start", "startDate"), ("end", "endDate"))):
        key = seed_key if seed_key in period else doc_key
        got, want = spec.day_of(period.get(key)), spec.day_of(asked[i])
        if got is not None and got != want:
            out.append(
                finding(
                    CURSOR_PERIOD,
                    f"period.{key} is {got}, but {doc_key} asked for {want}",
                    pointer=f"/period/{key}",
                    rule="period is the range asked for",
                    value=period.get(key),
                )
            )
    return out


@check(CURSOR_COUNTERS, endpoints=PROFILE_ONLY, applies=CURSOR & success & _JSON)
def check_cursor_counters(exchange: Exchange) -> list[Finding]:
    """Accepted lines and tabs never exceed those added, deleted or shown."""
    data = exchange.json.get("data")
    out = []
    for i, row in enumerate(data if isinstance(data, list) else []):
        if not isinstance(row, dict):
            continue
        for part, whole in spec.CURSOR_PARTS:
            p, w = row.get(part), row.get(whole)
            if is_count(p) and is_count(w) and p > w:
                out.append(
                    finding(
                        CURSOR_COUNTERS,
                        f"row {i} ({row.get('email')}): {part} {p} is more than {whole} {w}",
                        pointer=f"/data/{i}/{part}",
                        rule=f"{part} <= {whole}",
                        value=p,
                    )
                )
    return out


@on_demand(CURSOR_AUTH)
def unauthenticated_findings(exchange: Exchange, what: str) -> list[Finding]:
    """A request without valid credentials (``what`` says which) is refused with 401 or 403."""
    if exchange.status in (401, 403):
        return []
    return [
        finding(
            CURSOR_AUTH,
            f"a request with {what} was answered with HTTP {exchange.status}, not 401/403",
            pointer="",
            rule="the Admin API needs its key (Authorization: Bearer, or Basic)",
            value=exchange.status,
        )
    ]


# --- across sources -------------------------------------------------------------------------------


@on_demand(ATTRIBUTION)
def attribution_findings(sources: Mapping[str, Iterable[str]]) -> list[Finding]:
    """One user's e-mail is spelled one way in every source (``sources``: name -> the e-mail
    addresses it attributes to). The pipeline joins sources on the address; two spellings of
    one address (case, spaces) split one person in two."""
    spellings: dict[str, dict[str, set[str]]] = {}
    for source, emails in sources.items():
        for email in emails:
            spellings.setdefault(spec.normalized_email(email), {}).setdefault(email, set()).add(
                source
            )
    out = []
    for key, forms in sorted(spellings.items()):
        if len(forms) > 1:
            shown = "; ".join(f"{e!r} in {', '.join(sorted(s))}" for e, s in sorted(forms.items()))
            out.append(
                finding(
                    ATTRIBUTION,
                    f"{key} is spelled {len(forms)} ways: {shown}",
                    pointer=f"/emails/{key}",
                    rule="one spelling of a user's e-mail address across sources",
                    value=sorted(forms),
                )
            )
    return out
