"""The Admin API's reports: messages usage and cost (from the usage ledger, in time buckets with
``page`` tokens) and the Claude Code report (deterministic per-actor records of seeded days).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from conformance import catalog
from conformance.reference.admin.org import (
    HISTORY_DAYS,
    REFERENCE_KEY_ID,
    REFERENCE_NOW,
    AdminDb,
    UsageRecord,
    db_of,
    iso,
    number,
)
from conformance.reference.auth import RequestContext
from conformance.reference.errors import ApiError, invalid
from conformance.reference.paging import listed, parse_limit
from conformance.reference.routing import Answer, JsonAnswer
from conformance.timestamps import parse_rfc3339

#: bucket width -> (length, default limit, max limit) (api-contract.md §9).
BUCKETS: dict[str, tuple[timedelta, int, int]] = {
    "1d": (timedelta(days=1), 7, 31),
    "1h": (timedelta(hours=1), 24, 168),
    "1m": (timedelta(minutes=1), 60, 1440),
}
USAGE_DIMENSIONS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
)
USAGE_GROUP_BY = (*USAGE_DIMENSIONS, "speed", "account_id", "service_account_id")
COST_GROUP_BY = ("workspace_id", "description")
#: Usage filters the reference understands: query key -> ledger dimension.
USAGE_FILTERS = {
    "api_key_ids": "api_key_id",
    "workspace_ids": "workspace_id",
    "models": "model",
    "service_tiers": "service_tier",
    "context_window": "context_window",
    "inference_geos": "inference_geo",
}

TOKEN_LABELS = {
    "uncached_input_tokens": "Input Tokens",
    "output_tokens": "Output Tokens",
    "cache_read_input_tokens": "Cache Read Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "Cache Write (5m) Tokens",
    "cache_creation.ephemeral_1h_input_tokens": "Cache Write (1h) Tokens",
}
BATCH_DISCOUNT = Decimal("0.5")


def parse_time(raw: str | None, name: str) -> datetime | None:
    """An RFC 3339 query value in UTC (``Z`` or an offset; a bare date means midnight UTC);
    the reading is the checks' own (``parse_rfc3339``), a bad value the API's 400."""
    if raw is None or raw == "":
        return None
    moment = parse_rfc3339(raw)
    if moment is None:
        raise invalid(f"{name}: Input should be a valid RFC 3339 datetime, got '{raw}'")
    return moment.astimezone(UTC)


def _page_token(moment: datetime) -> str:
    return "page_" + base64.urlsafe_b64encode(f"v1:{iso(moment)}".encode()).decode().rstrip("=")


def _from_token(token: str) -> datetime:
    try:
        raw = token.removeprefix("page_")
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        moment = parse_time(text.removeprefix("v1:"), "page") if text.startswith("v1:") else None
    except (binascii.Error, UnicodeDecodeError, ApiError):
        moment = None
    if moment is None:
        raise invalid("page: invalid page token")
    return moment


def _snap(moment: datetime, width: timedelta) -> datetime:
    seconds = int(width.total_seconds())
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


@dataclass(frozen=True)
class Window:
    """The buckets one report page covers, and where the next page starts."""

    buckets: list[tuple[datetime, datetime]]
    next_start: datetime | None


def report_window(
    query: QueryParams, *, widths: tuple[str, ...], now: datetime = REFERENCE_NOW
) -> Window:
    """Buckets of ``[starting_at, ending_at)`` for this page (``page`` = the next start)."""
    start = parse_time(query.get("starting_at"), "starting_at")
    if start is None:
        raise invalid("starting_at: Field required")
    end = parse_time(query.get("ending_at"), "ending_at")
    width_name = query.get("bucket_width") or "1d"
    if width_name not in widths:
        raise invalid(f"bucket_width: Input should be {' or '.join(map(repr, widths))}")
    width, default, maximum = BUCKETS[width_name]
    limit = parse_limit(query.get("limit"), default, maximum)
    if end is not None and end <= start:
        raise invalid("ending_at: must be after starting_at")
    first = _snap(start, width)
    token = query.get("page")
    if token:
        first = _from_token(token)
    last = end if end is not None else _snap(now, width) + width
    buckets: list[tuple[datetime, datetime]] = []
    cursor = first
    while cursor < last and len(buckets) < limit:
        buckets.append((cursor, cursor + width))
        cursor += width
    return Window(buckets, cursor if cursor < last else None)


def _envelope(window: Window, data: list[dict[str, Any]]) -> dict[str, Any]:
    nxt = window.next_start
    return {
        "data": data,
        "has_more": nxt is not None,
        "next_page": _page_token(nxt) if nxt is not None else None,
    }


def _group_by(query: QueryParams, allowed: tuple[str, ...]) -> list[str]:
    groups = listed(query, "group_by")
    for g in groups:
        if g not in allowed:
            raise invalid(f"group_by: Input should be {', '.join(map(repr, allowed))}")
    return groups


def _in_bucket(records: list[UsageRecord], bucket: tuple[datetime, datetime]) -> list[UsageRecord]:
    return [r for r in records if bucket[0] <= r.at < bucket[1]]


def _filtered_usage(db: AdminDb, query: QueryParams) -> list[UsageRecord]:
    records = db.usage
    for name, dim in USAGE_FILTERS.items():
        wanted = listed(query, name)
        if wanted:
            records = [r for r in records if getattr(r, dim) in wanted]
    return records


async def usage_report(request: Request, ctx: RequestContext) -> Answer:
    query = request.query_params
    window = report_window(query, widths=tuple(BUCKETS), now=db_of(ctx.state).now)
    groups = _group_by(query, USAGE_GROUP_BY)
    records = _filtered_usage(db_of(ctx.state), query)
    data = []
    for bucket in window.buckets:
        rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in _in_bucket(records, bucket):
            dims = {d: (getattr(r, d, None) if d in groups else None) for d in USAGE_DIMENSIONS}
            key = tuple(str(dims[d]) for d in USAGE_DIMENSIONS)
            row = rows.setdefault(
                key,
                {
                    "uncached_input_tokens": 0,
                    "cache_creation": {
                        "ephemeral_1h_input_tokens": 0,
                        "ephemeral_5m_input_tokens": 0,
                    },
                    "cache_read_input_tokens": 0,
                    "output_tokens": 0,
                    "server_tool_use": {"web_search_requests": 0},
                    **dims,
                },
            )
            row["uncached_input_tokens"] += r.uncached_input_tokens
            row["cache_read_input_tokens"] += r.cache_read_input_tokens
            row["cache_creation"]["ephemeral_1h_input_tokens"] += r.cache_creation_1h
            row["cache_creation"]["ephemeral_5m_input_tokens"] += r.cache_creation_5m
            row["output_tokens"] += r.output_tokens
            row["server_tool_use"]["web_search_requests"] += r.web_search_requests
        data.append(
            {
                "starting_at": iso(bucket[0]),
                "ending_at": iso(bucket[1]),
                "results": [rows[k] for k in sorted(rows)],
            }
        )
    return JsonAnswer(_envelope(window, data))


def cents(record: UsageRecord, token_type: str, count: int) -> Decimal:
    """What ``count`` tokens of ``token_type`` cost in cents at the catalog's list price."""
    model = catalog.find_model(record.model) or catalog.CHEAPEST_MODEL
    multiplier, which = catalog.TOKEN_PRICES[token_type]
    price = Decimal(str(model.input_price if which == "input" else model.output_price))
    amount = Decimal(count) * price * multiplier / Decimal(10_000)  # USD/Mtok -> cents/token
    return amount * BATCH_DISCOUNT if record.service_tier == "batch" else amount


def format_cents(amount: Decimal) -> str:
    """A decimal string like ``"12.3456"`` (up to 6 places, no exponent, no trailing zeros)."""
    text = f"{amount.quantize(Decimal('0.000001')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


async def cost_report(request: Request, ctx: RequestContext) -> Answer:
    query = request.query_params
    window = report_window(query, widths=("1d",), now=db_of(ctx.state).now)
    groups = _group_by(query, COST_GROUP_BY)
    by_desc = "description" in groups
    records = db_of(ctx.state).usage
    data = []
    for bucket in window.buckets:
        rows: dict[tuple[str, ...], dict[str, Any]] = {}
        amounts: dict[tuple[str, ...], Decimal] = {}
        for r in _in_bucket(records, bucket):
            for token_type, count in r.tokens().items():
                if count <= 0:
                    continue
                model = catalog.find_model(r.model)
                row: dict[str, Any] = {
                    "currency": "USD",
                    "cost_type": None,
                    "description": None,
                    "model": None,
                    "token_type": None,
                    "service_tier": None,
                    "context_window": None,
                    "inference_geo": None,
                    "workspace_id": r.workspace_id if "workspace_id" in groups else None,
                }
                if by_desc:
                    name = model.display_name if model else r.model
                    row.update(
                        cost_type="tokens",
                        model=r.model,
                        token_type=token_type,
                        service_tier=r.service_tier,
                        context_window=r.context_window,
                        inference_geo=r.inference_geo,
                        description=f"{name} Usage - {TOKEN_LABELS[token_type]}",
                    )
                key = tuple(str(row[k]) for k in sorted(row))
                rows.setdefault(key, row)
                amounts[key] = amounts.get(key, Decimal(0)) + cents(r, token_type, count)
        results = [{"amount": format_cents(amounts[k]), **rows[k]} for k in sorted(rows)]
        data.append(
            {"starting_at": iso(bucket[0]), "ending_at": iso(bucket[1]), "results": results}
        )
    return JsonAnswer(_envelope(window, data))


def _claude_code_records(db: AdminDb, day: date) -> list[dict[str, Any]]:
    """Deterministic per-actor records of one day inside the seeded history, else none."""
    today = db.now.date()
    if not today - timedelta(days=HISTORY_DAYS) <= day <= today:
        return []
    actors: list[dict[str, Any]] = [
        {"type": "user_actor", "email_address": u["email"]}
        for u in db.users.values()
        if u["role"] in ("developer", "claude_code_user")
    ]
    actors.append(
        {
            "type": "api_actor",
            "api_key_name": db.api_keys[REFERENCE_KEY_ID]["name"]
            if REFERENCE_KEY_ID in db.api_keys
            else "Reference key",
        }
    )
    out = []
    for n, actor in enumerate(actors):
        seed = (day.isoformat(), n)
        breakdown = []
        for model in catalog.MODELS[n % 2 : n % 2 + 2]:
            tokens = {
                "input": number(*seed, model.id, "i", lo=100, hi=90_000),
                "output": number(*seed, model.id, "o", lo=50, hi=20_000),
                "cache_read": number(*seed, model.id, "r", lo=0, hi=50_000),
                "cache_creation": number(*seed, model.id, "c", lo=0, hi=9_000),
            }
            usd = catalog.cost_usd(model.id, tokens["input"], tokens["output"])
            breakdown.append(
                {
                    "model": model.id,
                    "tokens": tokens,
                    "estimated_cost": {"currency": "USD", "amount": round(usd * 100, 2)},
                }
            )

        def accepted(tool: str, seed: tuple[str, int] = seed) -> dict[str, int]:
            return {
                "accepted": number(*seed, tool, "a", lo=0, hi=40),
                "rejected": number(*seed, tool, "r", lo=0, hi=6),
            }

        out.append(
            {
                # No organization_id: the real one is a UUID the cassette scanner (rightly) flags.
                "date": f"{day.isoformat()}T00:00:00Z",
                "customer_type": "api",
                "terminal_type": ("vscode", "iTerm.app", "ghostty")[n % 3],
                "actor": actor,
                "core_metrics": {
                    "num_sessions": number(*seed, "s", lo=1, hi=12),
                    "lines_of_code": {
                        "added": number(*seed, "la", lo=0, hi=900),
                        "removed": number(*seed, "lr", lo=0, hi=300),
                    },
                    "commits_by_claude_code": number(*seed, "c", lo=0, hi=9),
                    "pull_requests_by_claude_code": number(*seed, "p", lo=0, hi=3),
                },
                "tool_actions": {
                    t: accepted(t)
                    for t in ("edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool")
                },
                "model_breakdown": breakdown,
            }
        )
    return out


async def claude_code_report(request: Request, ctx: RequestContext) -> Answer:
    query = request.query_params
    raw = query.get("starting_at")
    if not raw:
        raise invalid("starting_at: Field required")
    try:
        day = date.fromisoformat(str(raw)[:10])
    except ValueError as exc:
        raise invalid(f"starting_at: Input should be a UTC day YYYY-MM-DD, got '{raw}'") from exc
    limit = parse_limit(query.get("limit"))
    token = query.get("page")
    offset = 0
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token.removeprefix("page_") + "==").decode())
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise invalid("page: invalid page token") from exc
    records = _claude_code_records(db_of(ctx.state), day)
    data = records[offset : offset + limit]
    more = offset + limit < len(records)
    nxt = (
        "page_" + base64.urlsafe_b64encode(str(offset + limit).encode()).decode().rstrip("=")
        if more
        else None
    )
    return JsonAnswer({"data": data, "has_more": more, "next_page": nxt})
