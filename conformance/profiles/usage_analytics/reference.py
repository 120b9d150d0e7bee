"""The reference implementation of the usage-analytics sources: one ASGI app on loopback.

The Admin API part (Claude Code analytics, the usage and cost reports) is the core reference
server itself (``conformance.reference``: its seeded organization, usage ledger and fixed
clock), not a second copy. The Cursor part (``POST /teams/daily-usage-data``) is implemented
here: deterministic rows for a small team whose developers are the same people, with the same
e-mail addresses, as the organization's Claude Code users, so cross-source attribution has
something to agree on. ``create_app(mutants=(...))`` plants named bugs (``MUTANTS``); the
Admin ones rewrite the core server's answers (or queries) on their way through.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.profiles.usage_analytics import spec
from conformance.profiles.usage_analytics.mutants import MUTANTS as MUTANTS
from conformance.reference import DEFAULT_ADMIN_API_KEY, ReferenceConfig
from conformance.reference import create_app as create_reference_app
from conformance.reference.admin import REFERENCE_NOW, SEEDED_USERS
from conformance.reference.admin.org import number

#: The key the reference takes for the Admin API (the core reference server's admin key).
ADMIN_KEY = DEFAULT_ADMIN_API_KEY
#: The key the reference's Cursor part takes, as ``Bearer`` or as the Basic-auth user name.
CURSOR_KEY = "reference-cursor-key-local"
#: The reference clock: Cursor has rows up to this day (the core reference server's "now").
TODAY: date = REFERENCE_NOW.date()
#: The seeded day the suite asks the reports for (inside the core server's usage history).
REPORT_DAY: date = TODAY - timedelta(days=1)
#: The Cursor team: the organization's Claude Code users, and one who uses Cursor only.
CURSOR_TEAM: tuple[str, ...] = (
    *(email for _, email, role in SEEDED_USERS if role in ("developer", "claude_code_user")),
    "designer@example.com",
)


# --- Cursor -----------------------------------------------------------------------------------


def cursor_row(email: str, day: date) -> dict[str, Any]:
    """One user's day: deterministic in (email, day); an inactive day counts nothing."""

    def n(what: str, hi: int, lo: int = 0) -> int:
        return number("cursor", email, day.isoformat(), what, lo=lo, hi=max(lo, hi))

    active = n("active", 4) != 0
    row: dict[str, Any] = {"email": email, "date": spec.epoch_ms(day), "isActive": active}
    if not active:
        row.update(dict.fromkeys(spec.CURSOR_COUNTERS, 0))
        row.update(
            mostUsedModel=None,
            clientVersion=None,
            applyMostUsedExtension=None,
            tabMostUsedExtension=None,
        )
        return row
    added, deleted, shown, applies = n("la", 900), n("ld", 300), n("ts", 400), n("ap", 40)
    accepts = n("acc", applies)
    requests = {k: n(k, 30) for k in ("composer", "chat", "agent", "cmdk")}
    row.update(
        totalLinesAdded=added,
        totalLinesDeleted=deleted,
        acceptedLinesAdded=n("ala", added),
        acceptedLinesDeleted=n("ald", deleted),
        totalApplies=applies,
        totalAccepts=accepts,
        totalRejects=n("rej", applies - accepts),
        totalTabsShown=shown,
        totalTabsAccepted=n("ta", shown),
        composerRequests=requests["composer"],
        chatRequests=requests["chat"],
        agentRequests=requests["agent"],
        cmdkUsages=requests["cmdk"],
        subscriptionIncludedReqs=min(spec.SUBSCRIPTION_INCLUDED_MAX, sum(requests.values())),
        usageBasedReqs=n("ub", 10),
        apiKeyReqs=n("ak", 5),
        mostUsedModel=("claude-sonnet-4", "claude-opus-4", "gpt-4.1")[n("m", 2)],
        clientVersion="1.4.2",
        applyMostUsedExtension=(".py", ".ts", ".go")[n("ae", 2)],
        tabMostUsedExtension=(".ts", ".py", ".rs")[n("te", 2)],
    )
    return row


def _authorized(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() == CURSOR_KEY
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(value.strip()).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == CURSOR_KEY
    return False


def _cursor_app(m: frozenset[str]) -> Starlette:
    def error(status: int, message: str) -> JSONResponse:
        # Cursor's error body is not documented; this shape is the reference's choice.
        return JSONResponse({"error": message}, status)

    async def daily_usage(request: Request) -> JSONResponse:
        if not _authorized(request) and "cursor-auth-unchecked" not in m:
            return error(401, "Unauthorized: give the Admin API key (Bearer or Basic auth)")
        try:
            body = await request.json()
        except ValueError:
            body = None
        start = body.get("startDate") if isinstance(body, dict) else None
        end = body.get("endDate") if isinstance(body, dict) else None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            return error(400, "startDate and endDate are required (epoch milliseconds)")
        assert isinstance(start, int) and isinstance(end, int)
        if end < start:
            return error(400, "endDate must not be before startDate")
        span = timedelta(milliseconds=end - start)
        too_long = (
            span >= spec.CURSOR_MAX_RANGE
            if "cursor-range-off-by-one" in m
            else span > spec.CURSOR_MAX_RANGE
        )
        if too_long and "cursor-range-unchecked" not in m:
            return error(400, "Date range cannot exceed 90 days")
        first, last = spec.day_of(start), spec.day_of(end)
        assert first is not None and last is not None
        rows: list[dict[str, Any]] = []
        day = first
        while day <= min(last, TODAY):
            rows += [cursor_row(email, day) for email in CURSOR_TEAM]
            day += timedelta(days=1)
        _mutate_cursor(m, rows, first)
        shown_end = last + timedelta(days=1) if "cursor-period-wrong" in m else last
        return JSONResponse(
            {"data": rows, "period": {"start": first.isoformat(), "end": shown_end.isoformat()}}
        )

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return error(404, "Not Found")

    return Starlette(
        routes=[Route(spec.CURSOR_DAILY_PATH, daily_usage, methods=[spec.CURSOR_METHOD])],
        exception_handlers={404: not_found},
    )


def _mutate_cursor(m: frozenset[str], rows: list[dict[str, Any]], first: date) -> None:
    if "cursor-date-outside" in m:
        rows.insert(0, cursor_row(CURSOR_TEAM[0], first - timedelta(days=1)))
    if "cursor-duplicate-row" in m and rows:
        rows.append(dict(rows[0]))
    active = [r for r in rows if r["isActive"]]
    if "cursor-accepted-over-total" in m and active:
        active[0]["acceptedLinesAdded"] = active[0]["totalLinesAdded"] + 1
    if "cursor-subscription-over" in m and active:
        active[0]["subscriptionIncludedReqs"] = spec.SUBSCRIPTION_INCLUDED_MAX + 1
    if "cursor-email-case" in m:
        for r in rows:
            local, _, domain = r["email"].partition("@")
            r["email"] = f"{local.capitalize()}@{domain.capitalize()}"


# --- the Admin API: the core reference server, with the Admin mutants on the way through --------


def _query(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)


def _page_token(offset: int) -> str:
    """The core reference server's Claude Code page token for ``offset``."""
    return "page_" + base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _rewrite_answer(m: frozenset[str], path: str, query: list[tuple[str, str]], body: Any) -> Any:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return body
    if path == spec.CLAUDE_CODE_PATH:
        if "cc-wrong-day" in m:
            for rec in data:
                day = date.fromisoformat(str(rec["date"])[:10]) - timedelta(days=1)
                rec["date"] = f"{day.isoformat()}T00:00:00Z"
        if "cc-page-loops" in m and body.get("has_more"):
            body["next_page"] = _page_token(0)
    elif path == spec.USAGE_REPORT_PATH and "usage-bucket-early" in m:
        for bucket in data:
            for key in ("starting_at", "ending_at"):
                day = date.fromisoformat(bucket[key][:10]) - timedelta(days=1)
                bucket[key] = day.isoformat() + bucket[key][10:]
    elif path == spec.COST_REPORT_PATH:
        grouped = any(k in ("group_by", "group_by[]") for k, _ in query)
        for bucket in data:
            for row in bucket.get("results", []):
                if "cost-total-drift" in m and not grouped:
                    row["amount"] = str(Decimal(row["amount"]) * Decimal("1.1"))
                if "cost-amount-number" in m:
                    row["amount"] = float(row["amount"])
    return body


def _admin_app(m: frozenset[str]) -> ASGIApp:
    core = create_reference_app(ReferenceConfig())
    if not m:
        return core

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in {e.path for e in spec.ADMIN_ENDPOINTS}:
            await core(scope, receive, send)
            return
        query = _query(scope)
        if "cc-limit-ignored" in m and scope["path"] == spec.CLAUDE_CODE_PATH:
            scope = dict(scope)
            kept = [(k, v) for k, v in query if k != "limit"]
            scope["query_string"] = urlencode([*kept, ("limit", "1000")]).encode()
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await core(scope, receive, capture)
        body = b"".join(chunks)
        if start.get("status") == 200:
            answer = _rewrite_answer(m, scope["path"], query, json.loads(body))
            body = json.dumps(answer).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def create_app(mutants: Iterable[str] = ()) -> ASGIApp:
    """Both sources on one app (the Admin API under /v1, Cursor under /teams), with ``mutants``."""
    unknown = sorted(set(mutants) - set(MUTANTS))
    if unknown:
        raise ValueError(f"unknown mutant(s) {', '.join(unknown)}; known: {', '.join(MUTANTS)}")
    m = frozenset(mutants)
    admin, cursor = _admin_app(m), _cursor_app(m)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/teams/"):
            await cursor(scope, receive, send)
        else:
            await admin(scope, receive, send)

    return app
