"""Checks of the Admin API and of the usage / Claude Code / cost reports.

What the schemas cannot say: report buckets are ordered, non-overlapping, as wide as asked and
inside the requested range; a ``next_page`` walk ends without repeats; grouped dimensions are
filled in; amounts are decimal strings (a float loses cents); invites expire after they were
sent. ``cross_check_usage_cost`` (on demand) compares a usage report with a cost report of the
same range and returns a finding, never raises. ID-cursor admin lists get the generic
``checks.pagination`` checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conformance import catalog
from conformance.checks._registry import check, json_body, on_demand, success
from conformance.checks.common import describe_type, escape, finding, is_count
from conformance.exchange import Exchange, Finding
from conformance.timestamps import parse_rfc3339

REPORT_BUCKETS = "report-buckets"
REPORT_WALK = "report-walk"
GROUP_BY = "group-by"
DECIMAL_AMOUNT = "decimal-amount"
TOKEN_COUNTS = "token-counts"
INVITE_EXPIRY = "invite-expiry"
MEMBER_CURSORS = "member-cursors"
USAGE_COST = "usage-cost"
CLAUDE_CODE_DAY = "claude-code-day"

#: A successful JSON answer: what every admin check judges.
_OK_JSON = success & json_body
#: The reports with time buckets (the Claude Code report has daily records instead).
_BUCKET_REPORTS = ("admin.usage_report.messages", "admin.cost_report")
_INVITES = ("admin.invites.create", "admin.invites.list", "admin.invites.retrieve")

BUCKET_WIDTHS = {"1d": timedelta(days=1), "1h": timedelta(hours=1), "1m": timedelta(minutes=1)}
#: Dimensions documented as null for the default workspace / Console usage even when grouped.
NULLABLE_DIMENSIONS = frozenset({"workspace_id", "api_key_id"})
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
#: Upper bound of pages a report walk fetches before it calls the walk endless.
MAX_REPORT_PAGES = 50


def all_query(exchange: Exchange) -> dict[str, list[str]]:
    """Every query parameter with all its values; ``name[]`` and ``name`` are one parameter."""
    for target in (exchange.url, exchange.path):
        query = urlsplit(target).query
        if query:
            out: dict[str, list[str]] = {}
            for key, values in parse_qs(query, keep_blank_values=True).items():
                out.setdefault(key.removesuffix("[]"), []).extend(values)
            return out
    return {}


# --- report-buckets -------------------------------------------------------------------------------


@on_demand(REPORT_BUCKETS)
def bucket_findings(
    body: Any, query: dict[str, list[str]], *, request_id: str | None = None
) -> list[Finding]:
    """Buckets are ordered, non-overlapping, ``bucket_width`` wide and inside the range asked."""
    out: list[Finding] = []
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []

    def bad(message: str, at: str, rule: str, value: Any) -> None:
        out.append(
            finding(
                REPORT_BUCKETS, message, pointer=at, rule=rule, value=value, request_id=request_id
            )
        )

    start = parse_rfc3339(next(iter(query.get("starting_at", [])), None))
    end = parse_rfc3339(next(iter(query.get("ending_at", [])), None))
    width = BUCKET_WIDTHS.get((query.get("bucket_width") or ["1d"])[0])
    limit = (query.get("limit") or [""])[0]
    if limit.isdigit() and len(data) > int(limit):
        bad(
            f"the page has {len(data)} buckets but limit={limit} was asked",
            "/data",
            "len(data) <= limit",
            len(data),
        )
    previous_end: datetime | None = None
    for i, bucket in enumerate(data):
        if not isinstance(bucket, dict):
            continue
        b_start = parse_rfc3339(bucket.get("starting_at"))
        b_end = parse_rfc3339(bucket.get("ending_at"))
        if b_start is None or b_end is None:
            continue  # the schema reports a missing or malformed timestamp
        at = f"/data/{i}"
        if b_end <= b_start:
            bad(
                f"bucket {i} ends ({bucket['ending_at']}) before it starts "
                f"({bucket['starting_at']})",
                f"{at}/ending_at",
                "starting_at < ending_at",
                bucket["ending_at"],
            )
        elif width is not None and b_end - b_start != width:
            bad(
                f"bucket {i} is {b_end - b_start} wide but bucket_width asks for {width}",
                at,
                "every bucket is bucket_width wide",
                [bucket["starting_at"], bucket["ending_at"]],
            )
        if previous_end is not None and b_start < previous_end:
            bad(
                f"bucket {i} starts at {bucket['starting_at']}, before the previous bucket "
                f"ends ({previous_end.isoformat()}): buckets overlap or are out of order",
                f"{at}/starting_at",
                "buckets are ascending and do not overlap",
                bucket["starting_at"],
            )
        if start is not None and b_end <= start:
            bad(
                f"bucket {i} ends at {bucket['ending_at']}, before the requested starting_at",
                f"{at}/ending_at",
                "buckets lie inside [starting_at, ending_at)",
                bucket["ending_at"],
            )
        if end is not None and b_start >= end:
            bad(
                f"bucket {i} starts at {bucket['starting_at']}, at or after the requested "
                "ending_at",
                f"{at}/starting_at",
                "buckets lie inside [starting_at, ending_at)",
                bucket["starting_at"],
            )
        previous_end = max(previous_end or b_end, b_end)
    if body.get("has_more") is True and not isinstance(body.get("next_page"), str):
        bad(
            "has_more is true but next_page is not a page token",
            "/next_page",
            "has_more true comes with a next_page token",
            body.get("next_page"),
        )
    if body.get("has_more") is False and body.get("next_page") is not None:
        bad(
            "has_more is false but next_page is set",
            "/next_page",
            "the last page has next_page null",
            body.get("next_page"),
        )
    return out


@check(REPORT_BUCKETS, endpoints=_BUCKET_REPORTS, applies=_OK_JSON)
def check_report_buckets(exchange: Exchange) -> list[Finding]:
    """``bucket_findings`` on a report page, with the range and width of its query."""
    return bucket_findings(exchange.json, all_query(exchange), request_id=exchange.request_id)


# --- group-by and token counts --------------------------------------------------------------------


def _rows(body: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, bucket in enumerate(body.get("data") or [] if isinstance(body, dict) else []):
        if isinstance(bucket, dict) and isinstance(bucket.get("results"), list):
            for j, row in enumerate(bucket["results"]):
                if isinstance(row, dict):
                    yield f"/data/{i}/results/{j}", row


@on_demand(GROUP_BY)
def group_by_findings(
    body: Any, groups: Sequence[str], *, request_id: str | None = None
) -> list[Finding]:
    """Each row of a grouped report carries every grouped dimension, filled in."""
    out: list[Finding] = []
    for at, row in _rows(body):
        for dim in groups:
            # cost report: grouping by description fills these
            wanted: tuple[str, ...] = (
                ("description", "model", "token_type", "cost_type")
                if dim == "description"
                else (dim,)
            )
            for key in wanted:
                if key not in row:
                    out.append(
                        finding(
                            GROUP_BY,
                            f"grouped by {dim} but the row has no {key!r} key",
                            pointer=at,
                            rule="grouped dimensions appear in every row",
                            value=sorted(row),
                            request_id=request_id,
                        )
                    )
                elif (
                    row[key] is None
                    and key in (dim, "description")
                    and (key not in NULLABLE_DIMENSIONS)
                ):
                    out.append(
                        finding(
                            GROUP_BY,
                            f"grouped by {dim} but {key} is null",
                            pointer=f"{at}/{escape(key)}",
                            rule="a grouped dimension is filled in",
                            value=None,
                            request_id=request_id,
                        )
                    )
    return out


@check(GROUP_BY, endpoints=_BUCKET_REPORTS, applies=_OK_JSON)
def check_group_by(exchange: Exchange) -> list[Finding]:
    """``group_by_findings`` on a report page asked with ``group_by[]``."""
    groups = all_query(exchange).get("group_by", [])
    if not groups:
        return []
    return group_by_findings(exchange.json, groups, request_id=exchange.request_id)


def _counts(node: Any, at: str) -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{at}/{escape(key)}"
            if isinstance(value, dict | list):
                yield from _counts(value, child)
            elif key.endswith(("_tokens", "_requests")) or key in (
                "input",
                "output",
                "cache_read",
                "cache_creation",
                "accepted",
                "rejected",
                "added",
                "removed",
                "num_sessions",
                "commits_by_claude_code",
                "pull_requests_by_claude_code",
            ):
                yield child, key, value
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _counts(value, f"{at}/{i}")


@check(TOKEN_COUNTS, endpoints=("admin.usage_report.*", "prompt_tools.*"), applies=_OK_JSON)
def check_token_counts(exchange: Exchange) -> list[Finding]:
    """Every token count (and Claude Code counter) is a non-negative integer."""
    body = exchange.json
    return [
        finding(
            TOKEN_COUNTS,
            f"{key} should be a non-negative integer, got {describe_type(value)} {value!r}",
            pointer=at,
            rule="token counts are non-negative integers",
            value=value,
            request_id=exchange.request_id,
        )
        for at, key, value in _counts(body, "")
        if not is_count(value)
    ]


# --- decimal-amount -------------------------------------------------------------------------------


@on_demand(DECIMAL_AMOUNT)
def amount_findings(body: Any, *, request_id: str | None = None) -> list[Finding]:
    """Every cost ``amount`` is a decimal string in cents (a JSON number loses precision)."""
    out = []
    for at, row in _rows(body):
        amount = row.get("amount")
        if isinstance(amount, str) and DECIMAL.match(amount):
            continue
        what = (
            f"a number ({amount!r})"
            if isinstance(amount, int | float) and not isinstance(amount, bool)
            else describe_type(amount)
        )
        out.append(
            finding(
                DECIMAL_AMOUNT,
                f'amount should be a decimal string in cents such as "123.45", got {what}',
                pointer=f"{at}/amount",
                rule="amount is a decimal string",
                value=amount,
                request_id=request_id,
            )
        )
    return out


@check(DECIMAL_AMOUNT, endpoints="admin.cost_report", applies=_OK_JSON)
def check_cost_amounts(exchange: Exchange) -> list[Finding]:
    """``amount_findings`` on a cost report page."""
    return amount_findings(exchange.json, request_id=exchange.request_id)


# --- invite-expiry --------------------------------------------------------------------------------


@on_demand(INVITE_EXPIRY)
def invite_findings(
    invite: Any, *, pointer: str = "", request_id: str | None = None
) -> list[Finding]:
    """An invite has an ``expires_at`` later than its ``invited_at``."""
    if not isinstance(invite, dict) or invite.get("type") != "invite":
        return []
    rule = "an invite has expires_at after invited_at"
    sent, expires = parse_rfc3339(invite.get("invited_at")), parse_rfc3339(invite.get("expires_at"))
    if invite.get("expires_at") is None:
        return [
            finding(
                INVITE_EXPIRY,
                "the invite has no expires_at: invites expire (21 days after they are sent)",
                pointer=f"{pointer}/expires_at",
                rule=rule,
                value=None,
                request_id=request_id,
            )
        ]
    if sent is not None and expires is not None and expires <= sent:
        return [
            finding(
                INVITE_EXPIRY,
                f"the invite expires ({invite['expires_at']}) before it "
                f"was sent ({invite['invited_at']})",
                pointer=f"{pointer}/expires_at",
                rule=rule,
                value=invite["expires_at"],
                request_id=request_id,
            )
        ]
    return []


@check(INVITE_EXPIRY, endpoints=_INVITES, applies=_OK_JSON)
def check_invite_expiry(exchange: Exchange) -> list[Finding]:
    """``invite_findings`` on an invite, or on each invite of a page."""
    body = exchange.json
    if isinstance(body.get("data"), list):
        return [
            f
            for i, item in enumerate(body["data"])
            for f in invite_findings(item, pointer=f"/data/{i}", request_id=exchange.request_id)
        ]
    return invite_findings(body, request_id=exchange.request_id)


# --- member-cursors -------------------------------------------------------------------------------


@check(MEMBER_CURSORS, endpoints="admin.workspace_members.list", applies=_OK_JSON)
def check_member_cursors(exchange: Exchange) -> list[Finding]:
    """A members page's first_id/last_id are the user_ids of its first and last member."""
    body = exchange.json
    if not isinstance(body.get("data"), list):
        return []
    ids = [m.get("user_id") if isinstance(m, dict) else None for m in body["data"]]
    out = []
    for key, want in (("first_id", ids[0] if ids else None), ("last_id", ids[-1] if ids else None)):
        if body.get(key) != want:
            out.append(
                finding(
                    MEMBER_CURSORS,
                    f"{key} is {body.get(key)!r} but the page's member user_id is {want!r}",
                    pointer=f"/{key}",
                    rule=f"{key} is the user_id at that end of data",
                    value=body.get(key),
                    request_id=exchange.request_id,
                )
            )
    return out


# --- claude-code day ------------------------------------------------------------------------------


@check(CLAUDE_CODE_DAY, endpoints="admin.usage_report.claude_code", applies=_OK_JSON)
def check_claude_code_day(exchange: Exchange) -> list[Finding]:
    """Claude Code records are for the one UTC day asked for in ``starting_at``."""
    body = exchange.json
    day = next(iter(all_query(exchange).get("starting_at", [])), "")[:10]
    if not day or not isinstance(body.get("data"), list):
        return []
    return [
        finding(
            CLAUDE_CODE_DAY,
            f"record {i} is for {rec.get('date')!r} but the report was asked for {day}",
            pointer=f"/data/{i}/date",
            rule="records are for the requested day",
            value=rec.get("date"),
            request_id=exchange.request_id,
        )
        for i, rec in enumerate(body["data"])
        if isinstance(rec, dict)
        and isinstance(rec.get("date"), str)
        and not rec["date"].startswith(day)
    ]


# --- report walk ----------------------------------------------------------------------------------


@on_demand(REPORT_WALK)
def report_walk_findings(pages: Sequence[Any], *, stopped_early: bool = False) -> list[Finding]:
    """The pages of one ``next_page`` walk: no bucket twice, no token twice, an end.

    ``pages`` are report bodies in fetch order; ``stopped_early`` means the walker gave up at
    its page bound while the last page still said has_more.
    """
    out: list[Finding] = []
    seen_buckets: dict[tuple[Any, Any], str] = {}
    seen_tokens: dict[str, int] = {}
    for k, body in enumerate(pages):
        if not isinstance(body, dict):
            continue
        for i, bucket in enumerate(body.get("data") or []):
            if not isinstance(bucket, dict):
                continue
            # A report bucket is its time range; a Claude Code record is its day and actor.
            key = (
                (bucket.get("starting_at"), bucket.get("ending_at"))
                if "starting_at" in bucket
                else (bucket.get("date"), repr(bucket.get("actor")))
            )
            if key in seen_buckets:
                out.append(
                    finding(
                        REPORT_WALK,
                        f"page {k} repeats the entry served at {seen_buckets[key]}",
                        pointer=f"/pages/{k}/data/{i}",
                        rule="a next_page walk serves each bucket once",
                        value=bucket.get("starting_at") or bucket.get("date"),
                    )
                )
            else:
                seen_buckets[key] = f"/pages/{k}/data/{i}"
        token = body.get("next_page")
        if isinstance(token, str):
            if token in seen_tokens:
                out.append(
                    finding(
                        REPORT_WALK,
                        f"page {k} hands out next_page {token!r} again "
                        f"(first on page {seen_tokens[token]}): the walk loops",
                        pointer=f"/pages/{k}/next_page",
                        rule="next_page never repeats",
                        value=token,
                    )
                )
            seen_tokens.setdefault(token, k)
    if stopped_early:
        out.append(
            finding(
                REPORT_WALK,
                f"the next_page walk did not end after {len(pages)} pages",
                pointer=f"/pages/{len(pages) - 1}/has_more",
                rule="a next_page walk terminates",
                value=len(pages),
            )
        )
    return out


@on_demand(REPORT_WALK)
def walk_report(
    fetch: Callable[[str | None], Any], max_pages: int = MAX_REPORT_PAGES
) -> tuple[list[Any], list[Finding]]:
    """Fetch pages with ``fetch(page_token)`` until has_more is false, a token repeats or
    ``max_pages`` is reached; return the bodies and the walk's findings (never loops forever)."""
    pages: list[Any] = []
    tokens: set[str] = set()
    token: str | None = None
    for _ in range(max_pages):
        body = fetch(token)
        pages.append(body)
        nxt = body.get("next_page") if isinstance(body, dict) else None
        if (
            not (isinstance(body, dict) and body.get("has_more") is True and isinstance(nxt, str))
            or nxt in tokens
        ):
            return pages, report_walk_findings(pages)
        tokens.add(nxt)
        token = nxt
    return pages, report_walk_findings(pages, stopped_early=True)


# --- usage-cost -----------------------------------------------------------------------------------

#: Usage row field path -> (price multiplier, which list price): the catalog's token pricing.
_TOKEN_PRICING: tuple[tuple[tuple[str, ...], Decimal, str], ...] = tuple(
    (tuple(token_type.split(".")), multiplier, which)
    for token_type, (multiplier, which) in catalog.TOKEN_PRICES.items()
)


def _dig(row: dict[str, Any], path: tuple[str, ...]) -> int:
    node: Any = row
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if is_count(node) else 0


def expected_cents(usage_pages: Sequence[Any]) -> tuple[dict[str, Decimal], set[str]]:
    """Cents per model the usage rows cost at catalog list price, and the unpriced models.

    Rows must be grouped by model (and service_tier, for the batch discount); priority-tier rows
    are skipped because the cost report excludes them.
    """
    per_model: dict[str, Decimal] = {}
    unknown: set[str] = set()
    for body in usage_pages:
        for _, row in _rows(body):
            name = row.get("model")
            model = catalog.find_model(name) if isinstance(name, str) else None
            if model is None:
                unknown.add(str(name))
                continue
            tier = row.get("service_tier")
            if tier == "priority":
                continue
            total = Decimal(0)
            for path, multiplier, which in _TOKEN_PRICING:
                price = Decimal(str(model.input_price if which == "input" else model.output_price))
                total += Decimal(_dig(row, path)) * price * multiplier / Decimal(10_000)
            if tier == "batch":
                total *= Decimal("0.5")
            per_model[model.id] = per_model.get(model.id, Decimal(0)) + total
    return per_model, unknown


def reported_cents(cost_pages: Sequence[Any]) -> dict[str, Decimal]:
    """Token cents per model in cost report bodies grouped by description."""
    per_model: dict[str, Decimal] = {}
    for body in cost_pages:
        for _, row in _rows(body):
            if row.get("cost_type") not in (None, "tokens") or not isinstance(
                row.get("model"), str
            ):
                continue
            try:
                amount = Decimal(str(row.get("amount")))
            except InvalidOperation:
                continue  # decimal-amount reports it
            model = catalog.find_model(row["model"])
            key = model.id if model else row["model"]
            per_model[key] = per_model.get(key, Decimal(0)) + amount
    return per_model


@on_demand(USAGE_COST)
def cross_check_usage_cost(
    usage_pages: Sequence[Any],
    cost_pages: Sequence[Any],
    *,
    tolerance: float = 0.02,
    absolute_cents: float = 1.0,
) -> list[Finding]:
    """The token cost the usage report implies matches the cost report, per model.

    ``usage_pages``: usage report bodies grouped by model and service_tier; ``cost_pages``: cost
    report bodies grouped by description, both for the same days. A model differing by more than
    ``tolerance`` (relative) and ``absolute_cents`` is one finding; models the catalog cannot
    price are left out, never guessed.
    """
    want, unknown = expected_cents(usage_pages)
    got = reported_cents(cost_pages)
    out = []
    for model in sorted(set(want) | (set(got) - unknown)):
        if catalog.find_model(model) is None:
            continue
        w, g = want.get(model, Decimal(0)), got.get(model, Decimal(0))
        diff = abs(w - g)
        if diff > Decimal(str(absolute_cents)) and diff > Decimal(str(tolerance)) * max(w, g):
            out.append(
                finding(
                    USAGE_COST,
                    f"{model}: the usage report's tokens cost "
                    f"{w:.4f} cents at list price but the cost report says "
                    f"{g:.4f} cents (off by {diff:.4f}, more than "
                    f"{tolerance:.0%})",
                    pointer=f"/models/{escape(model)}",
                    rule="usage tokens x list price == cost report token costs",
                    value={"usage_cents": f"{w:.4f}", "cost_cents": f"{g:.4f}"},
                )
            )
    return out
