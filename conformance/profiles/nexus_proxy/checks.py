"""The semantic checks of the nexus-proxy profile: what its document promises and no schema can
state (sums, totals, percentages, pagination, identifiers, chunk order), the known deviations of
real deployments, and the on-demand checks of the suite's own traffic (statistics growth, the
tenant's field names, what is stored, the Messages pass-through, the dashboard key).

Registered in the core registry under names starting ``nexus-``, with ``endpoints=PROFILE_ONLY``
and a guard matching the profile's endpoint table, so the core validation never runs them on an
Anthropic answer. Which of them are known deviations, and how severe, is the profile's policy
(``Profile.deviations``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import parse_qs, urlsplit

from conformance.checks import Guard, check, errors, on_demand, success
from conformance.exchange import Exchange, Finding, shorten
from conformance.profiles import PROFILE_ONLY, answers_of
from conformance.profiles.nexus_proxy import spec


def on(*names: str) -> Guard:
    """An answer of one of the profile's endpoints ``names`` (method and path match)."""
    return answers_of("nexus", spec.ENDPOINTS, *names)


ANY = on(*(e.name for e in spec.ENDPOINTS))
_JSON = Guard("json_object", lambda e: isinstance(e.json, dict))


def _f(name: str, message: str, pointer: str, rule: str, value: Any = None) -> Finding:
    return Finding(
        name, message, pointer=pointer, rule=rule, value="" if value is None else shorten(value)
    )


def _query(exchange: Exchange) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(exchange.path).query).items()}


def _int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _num(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tenant_maps(body: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(mode, key, map) of the tenant breakdowns a /token-stats answer has."""
    return [
        (mode, names.by_tenant, body[names.by_tenant])
        for mode, names in spec.NAMES.items()
        if isinstance(body.get(names.by_tenant), dict)
    ]


def _as_built_stats(body: Mapping[str, Any]) -> bool:
    return "total_requests" not in body and any(
        isinstance(v, dict) and "requestCount" in v for v in body.values()
    )


# --- total = input + output -------------------------------------------------------------------


def _triple(counts: Any, where: str, keys: tuple[str, str, str]) -> list[Finding]:
    c = _dict(counts)
    i, o, t = (c.get(k) for k in keys)
    if _int(i) and _int(o) and _int(t) and t != i + o:
        return [
            _f(
                "nexus-token-totals",
                f"{keys[2]} {t} is not {keys[0]} {i} + {keys[1]} {o}",
                f"{where}/{keys[2]}",
                f"{keys[2]} = {keys[0]} + {keys[1]}",
                c,
            )
        ]
    return []


@check(
    "nexus-token-totals",
    endpoints=PROFILE_ONLY,
    applies=on("token-stats", "daily", "request") & success & _JSON,
)
def check_token_totals(exchange: Exchange) -> list[Finding]:
    """Every total is input + output: /token-stats counts, daily days and totals, a request."""
    body = exchange.json
    out: list[Finding] = []
    if on("token-stats")(exchange):
        short = ("input", "output", "total")
        out += _triple(body.get("total_tokens"), "/total_tokens", short)
        for _, key, rows in _tenant_maps(body):
            for name, row in rows.items():
                out += _triple(_dict(row).get("tokens"), f"/{key}/{name}/tokens", short)
        for name, row in _dict(body.get("by_model")).items():
            out += _triple(_dict(row).get("tokens"), f"/by_model/{name}/tokens", short)
        return out
    long = ("input_tokens", "output_tokens", "total_tokens")
    if on("daily")(exchange):
        for n, day in enumerate(body.get("days") or []):
            out += _triple(day, f"/days/{n}", long)
        return out + _triple(body.get("totals"), "/totals", long)
    return _triple(body, "", long)


# --- totals equal the sums of their breakdowns ------------------------------------------------


def _sum_finding(what: str, got: Any, parts: Iterable[Any], where: str, rule: str) -> list[Finding]:
    values = [p for p in parts if _int(p)]
    total = sum(values)
    if _int(got) and got != total:
        return [
            _f(
                "nexus-token-sums",
                f"{what} {got} is not the sum of its breakdown ({total})",
                where,
                rule,
            )
        ]
    return []


def _token_stats_sums(body: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    tokens = _dict(body.get("total_tokens"))
    breakdowns = [(key, rows) for _, key, rows in _tenant_maps(body)]
    breakdowns.append(("by_model", _dict(body.get("by_model"))))
    for key, rows in breakdowns:
        items = [_dict(r) for r in rows.values()]
        out += _sum_finding(
            "total_requests",
            body.get("total_requests"),
            (r.get("requests") for r in items),
            "/total_requests",
            f"total_requests = sum of {key}[].requests",
        )
        for part in ("input", "output", "total"):
            out += _sum_finding(
                f"total_tokens.{part}",
                tokens.get(part),
                (_dict(r.get("tokens")).get(part) for r in items),
                f"/total_tokens/{part}",
                f"total_tokens.{part} = sum of {key}[].tokens.{part}",
            )
    for _, key, rows in _tenant_maps(body):
        for name, row in rows.items():
            row = _dict(row)
            typed = [v for v in _dict(row.get("by_type")).values() if _int(v)]
            if _int(row.get("requests")) and sum(typed) > row["requests"]:
                out.append(
                    _f(
                        "nexus-token-sums",
                        f"{name}: by_type counts {sum(typed)} requests, more than its "
                        f"{row['requests']} requests",
                        f"/{key}/{name}/by_type",
                        "inference + query_evaluation <= requests",
                    )
                )
    return out


def _daily_sums(body: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    days = [_dict(d) for d in body.get("days") or []]
    totals = _dict(body.get("totals"))
    for key in ("requests", "input_tokens", "output_tokens", "total_tokens"):
        out += _sum_finding(
            f"totals.{key}",
            totals.get(key),
            (d.get(key) for d in days),
            f"/totals/{key}",
            f"totals.{key} = sum of days[].{key}",
        )
    for n, day in enumerate(days):
        models = [_dict(v) for v in _dict(day.get("by_model")).values()]
        out += _sum_finding(
            f"days[{n}].requests",
            day.get("requests"),
            (v.get("requests") for v in models),
            f"/days/{n}/requests",
            "a day's requests = sum of its by_model[].requests",
        )
        out += _sum_finding(
            f"days[{n}].total_tokens",
            day.get("total_tokens"),
            (v.get("tokens") for v in models),
            f"/days/{n}/total_tokens",
            "a day's total_tokens = sum of its by_model[].tokens",
        )
    return out


@check(
    "nexus-token-sums",
    endpoints=PROFILE_ONLY,
    applies=on("token-stats", "daily", "current") & success & _JSON,
)
def check_token_sums(exchange: Exchange) -> list[Finding]:
    """Totals are the sums of their breakdowns: /token-stats by tenant and by model, daily
    totals by day and each day by model, the current window's count by type."""
    body = exchange.json
    if on("token-stats")(exchange):
        return [] if _as_built_stats(body) else _token_stats_sums(body)
    if on("daily")(exchange):
        return _daily_sums(body)
    requests = _dict(body.get("requests"))
    return _sum_finding(
        "requests.count",
        requests.get("count"),
        _dict(requests.get("by_type")).values(),
        "/requests/count",
        "requests.count = inference + query_evaluation + quota",
    )


# --- percentages in 0-100 ---------------------------------------------------------------------


def _percent_range(value: Any, where: str) -> list[Finding]:
    if _num(value) and not 0 <= value <= 100:
        return [
            _f(
                "nexus-percentages",
                f"{value!r} is not a percentage (0-100)",
                where,
                "a percentage is in 0-100",
                value,
            )
        ]
    return []


@check(
    "nexus-percentages", endpoints=PROFILE_ONLY, applies=on("stats", "current") & success & _JSON
)
def check_percentages(exchange: Exchange) -> list[Finding]:
    """success_rate and the window's usage percentage are in 0-100; the percentage is
    100 x tokens_used / limit (capped at 100, to 2 decimals)."""
    body = exchange.json
    if on("stats")(exchange):
        return _percent_range(body.get("success_rate", body.get("successRate")), "/success_rate")
    usage = _dict(body.get("usage"))
    out = _percent_range(usage.get("percentage"), "/usage/percentage")
    used, limit, got = usage.get("tokens_used"), usage.get("limit"), usage.get("percentage")
    if not out and _int(used) and _int(limit) and _num(got):
        want = spec.percentage(used, limit)
        if abs(got - want) > spec.PERCENT_TOLERANCE:
            out.append(
                _f(
                    "nexus-percentages",
                    f"percentage {got!r} is not 100 x {used} / {limit} = {want:.2f}",
                    "/usage/percentage",
                    "percentage = 100 x tokens_used / limit (at most 100)",
                    got,
                )
            )
    return out


# --- pagination -------------------------------------------------------------------------------


def _asked(exchange: Exchange, name: str, default: int) -> int | None:
    raw = _query(exchange).get(name)
    if raw is None:
        return default
    return int(raw) if raw.isdigit() else None


def _documented_pages(exchange: Exchange, p: Mapping[str, Any], shown: int) -> list[Finding]:
    total, page, per, pages = (p.get(k) for k in ("total", "page", "per_page", "total_pages"))
    if not (_int(total) and _int(page) and _int(per) and _int(pages)) or per <= 0:
        return []
    out: list[Finding] = []

    def bad(message: str, pointer: str, rule: str) -> None:
        out.append(_f("nexus-pagination", message, pointer, rule, dict(p)))

    if pages != spec.total_pages(total, per):
        bad(
            f"total_pages {pages} is not ceil({total} / {per}) = {spec.total_pages(total, per)}",
            "/pagination/total_pages",
            "total_pages = ceil(total / per_page)",
        )
    want = max(0, min(per, total - (page - 1) * per))
    if shown != want:
        bad(
            f"page {page} of {per} per page holds {shown} conversations; {total} in all "
            f"leave {want} for it",
            "/conversations",
            "a page holds min(per_page, total - (page - 1) x per_page) items",
        )
    for name, value in (("page", page), ("per_page", per)):
        asked = _asked(exchange, name, 1 if name == "page" else spec.DEFAULT_PER_PAGE)
        if asked is not None and value != asked:
            bad(
                f"{name} {value}, the request asked for {asked}",
                f"/pagination/{name}",
                f"{name} echoes the request",
            )
    return out


def _as_built_pages(p: Mapping[str, Any], shown: int) -> list[Finding]:
    total, limit, offset, more = (p.get(k) for k in ("total", "limit", "offset", "hasMore"))
    if not (_int(total) and _int(limit) and _int(offset) and isinstance(more, bool)):
        return []
    out: list[Finding] = []
    if more != (offset + shown < total):
        out.append(
            _f(
                "nexus-pagination",
                f"hasMore {more} with offset {offset} + {shown} shown of {total}",
                "/pagination/hasMore",
                "hasMore = offset + items < total",
                dict(p),
            )
        )
    if shown != max(0, min(limit, total - offset)):
        out.append(
            _f(
                "nexus-pagination",
                f"{shown} conversations at offset {offset}, limit {limit}, total {total}",
                "/conversations",
                "a page holds min(limit, total - offset) items",
                dict(p),
            )
        )
    return out


@check("nexus-pagination", endpoints=PROFILE_ONLY, applies=on("conversations") & success & _JSON)
def check_pagination(exchange: Exchange) -> list[Finding]:
    """The pagination arithmetic: total_pages = ceil(total / per_page), the page holds what is
    left for it, page and per_page echo the request (as built: hasMore/offset/limit/total)."""
    body = exchange.json
    p = _dict(body.get("pagination"))
    shown = len(body.get("conversations") or [])
    if "hasMore" in p:
        return _as_built_pages(p, shown)
    return _documented_pages(exchange, p, shown)


# --- identifiers ------------------------------------------------------------------------------

#: Where an answer carries a UUID (the seed's ``UUID`` type), by endpoint: JSON pointers, with
#: ``*`` for every item of an array.
_UUIDS: Mapping[str, tuple[str, ...]] = {
    "request": ("/id", "/conversation_id", "/parent_task_request_id"),
    "conversations": ("/conversations/*/conversation_id", "/conversations/*/latest_request/id"),
}


def _at(body: Any, pointer: str) -> Iterable[tuple[str, Any]]:
    parts = pointer.strip("/").split("/")

    def walk(node: Any, rest: list[str], where: str) -> Iterable[tuple[str, Any]]:
        if not rest:
            yield where, node
            return
        head, tail = rest[0], rest[1:]
        if head == "*" and isinstance(node, list):
            for n, item in enumerate(node):
                yield from walk(item, tail, f"{where}/{n}")
        elif isinstance(node, dict) and head in node:
            yield from walk(node[head], tail, f"{where}/{head}")

    yield from walk(body, parts, "")


def _tenant_findings(mode: str, value: Any, where: str) -> list[Finding]:
    if isinstance(value, str) and not spec.tenant_valid(mode, value):
        helper = "isValidDomain" if mode == "domain" else "isValidTrainId"
        return [
            _f(
                "nexus-identifiers",
                f"{value!r} is not a valid {'domain' if mode == 'domain' else 'train id'}",
                where,
                f"{helper}: {spec.TENANT_PATTERN[mode].pattern}",
                value,
            )
        ]
    return []


@check(
    "nexus-identifiers",
    endpoints=PROFILE_ONLY,
    applies=on("token-stats", "conversations", "request") & success & _JSON,
)
def check_identifiers(exchange: Exchange) -> list[Finding]:
    """Ids are UUID v4 and tenants valid domains / train ids, by the seed's validation helpers."""
    body = exchange.json
    out: list[Finding] = []
    name = next(e.name for e in spec.ENDPOINTS if e.matches(exchange.method, exchange.path))
    for pointer in _UUIDS.get(name, ()):
        for where, value in _at(body, pointer):
            if isinstance(value, str) and not spec.UUID_V4.match(value):
                out.append(
                    _f(
                        "nexus-identifiers",
                        f"{value!r} is not a UUID v4",
                        where,
                        "isValidUUID: " + spec.UUID_V4.pattern,
                        value,
                    )
                )
    if name == "token-stats":
        for mode, key, rows in _tenant_maps(body):
            for tenant in rows:
                out += _tenant_findings(mode, tenant, f"/{key}/{tenant}")
    items = body.get("conversations") if name == "conversations" else [body]
    for n, item in enumerate(items if isinstance(items, list) else []):
        prefix = f"/conversations/{n}" if name == "conversations" else ""
        for mode, names in spec.NAMES.items():
            if isinstance(item, dict) and names.field in item:
                out += _tenant_findings(mode, item[names.field], f"{prefix}/{names.field}")
    return out


# --- streaming chunks -------------------------------------------------------------------------


@check("nexus-chunks", endpoints=PROFILE_ONLY, applies=on("request") & success & _JSON)
def check_chunks(exchange: Exchange) -> list[Finding]:
    """A request's streaming chunks are numbered 0, 1, 2, ... in order."""
    chunks = exchange.json.get("streaming_chunks")
    if not isinstance(chunks, list):
        return []
    got = [_dict(c).get("chunk_index") for c in chunks]
    if got != list(range(len(chunks))):
        return [
            _f(
                "nexus-chunks",
                f"chunk_index runs {got[:8]}{'...' if len(got) > 8 else ''}, not 0..{len(got) - 1}",
                "/streaming_chunks",
                "streaming_chunks in order, chunk_index 0, 1, 2, ...",
            )
        ]
    return []


# --- known deviations of real deployments ----------------------------------------------------


@check(
    "nexus-token-stats-as-built",
    endpoints=PROFILE_ONLY,
    applies=on("token-stats") & success & _JSON,
)
def check_token_stats_as_built(exchange: Exchange) -> list[Finding]:
    """/token-stats has the documented shape, not camelCase counters keyed by tenant."""
    if _as_built_stats(exchange.json):
        return [
            _f(
                "nexus-token-stats-as-built",
                "/token-stats answers camelCase counters keyed by tenant (inputTokens, "
                "requestCount, ...), not the documented total_requests / by_domain shape",
                "",
                "TokenStatsResponse: total_requests, total_tokens, by_train | by_domain, by_model",
                list(exchange.json)[:5],
            )
        ]
    return []


_CAMEL = ("totalRequests", "conversationId", "hasMore")


@check(
    "nexus-dashboard-camelcase",
    endpoints=PROFILE_ONLY,
    applies=on("stats", "conversations") & success & _JSON,
)
def check_dashboard_camelcase(exchange: Exchange) -> list[Finding]:
    """The dashboard answers the documented snake_case, page-numbered shapes."""
    body = exchange.json
    first = (body.get("conversations") or [{}])[0] if on("conversations")(exchange) else {}
    seen = [
        k for k in _CAMEL if k in body or k in _dict(first) or k in _dict(body.get("pagination"))
    ]
    if seen:
        return [
            _f(
                "nexus-dashboard-camelcase",
                f"the dashboard answers camelCase ({', '.join(seen)}), not the documented "
                "snake_case with page / per_page / total_pages",
                "",
                "the document's dashboard answers are snake_case",
                seen,
            )
        ]
    return []


@check("nexus-health-healthy", endpoints=PROFILE_ONLY, applies=on("health") & success & _JSON)
def check_health(exchange: Exchange) -> list[Finding]:
    """GET /health says ok (or error), as documented."""
    status = exchange.json.get("status")
    if status == "healthy":
        return [
            _f(
                "nexus-health-healthy",
                'status is "healthy", not the documented "ok"',
                "/status",
                "status: ok | error",
                status,
            )
        ]
    return []


@check("nexus-error-envelope", endpoints=PROFILE_ONLY, applies=ANY & errors & _JSON)
def check_error_envelope(exchange: Exchange) -> list[Finding]:
    """The proxy's own errors are the standard error (with timestamp) or the Claude error."""
    body = exchange.json
    if (
        isinstance(body.get("error"), dict)
        and "timestamp" not in body
        and body.get("type") != "error"
    ):
        return [
            _f(
                "nexus-error-envelope",
                f'HTTP {exchange.status}: {{"error": {{type, message}}}} without timestamp '
                'and without the top-level "type": "error"',
                "",
                "ErrorResponse {error, request_id?, timestamp} or "
                "ClaudeErrorResponse {type: error, error}",
                body,
            )
        ]
    return []


# --- on demand: the suite's own traffic -------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What some requests through the proxy used, by the upstream's answers."""

    requests: int
    input_tokens: int
    output_tokens: int


def tenant_row(stats: Mapping[str, Any], tenant: str) -> tuple[int, int, int] | None:
    """(requests, input, output) of ``tenant`` in a /token-stats answer, either shape."""
    for _, _, rows in _tenant_maps(stats):
        if tenant in rows:
            row = _dict(rows[tenant])
            tokens = _dict(row.get("tokens"))
            return (
                int(row.get("requests") or 0),
                int(tokens.get("input") or 0),
                int(tokens.get("output") or 0),
            )
    camel = _dict(stats.get("stats")) or stats
    if isinstance(camel.get(tenant), dict) and "requestCount" in camel[tenant]:
        row = camel[tenant]
        return (
            int(row["requestCount"]),
            int(row.get("inputTokens") or 0),
            int(row.get("outputTokens") or 0),
        )
    return None


@on_demand("nexus-stats-growth")
def stats_growth(
    before: Mapping[str, Any], after: Mapping[str, Any], tenant: str, used: Usage
) -> list[Finding]:
    """/token-stats of the tenant grew by exactly what the suite's requests used."""
    was = tenant_row(before, tenant) or (0, 0, 0)
    now = tenant_row(after, tenant)
    if now is None:
        return [
            _f(
                "nexus-stats-growth",
                f"/token-stats has no row for tenant {tenant!r} after "
                f"{used.requests} requests under it",
                "",
                "statistics are kept per tenant",
            )
        ]
    grown = tuple(b - a for a, b in zip(was, now, strict=True))
    want = (used.requests, used.input_tokens, used.output_tokens)
    if grown == want:
        return []
    return [
        _f(
            "nexus-stats-growth",
            f"tenant {tenant!r} grew by (requests, input, output) {grown}; the suite's "
            f"requests used {want}",
            "",
            "the statistics grow by exactly what the requests through the proxy used",
        )
    ]


@on_demand("nexus-tenant-fields")
def tenant_fields(body: Mapping[str, Any], mode: str, where: str) -> list[Finding]:
    """An answer names its tenants the way the mode's document does (by_domain / by_train,
    active_domains / active_trains, domain / trainId)."""
    mine, other = spec.NAMES[mode], spec.NAMES["train-id" if mode == "domain" else "domain"]
    listed = body.get("conversations")
    items: list[Any] = listed if isinstance(listed, list) else [body]
    keys = set(body) | {k for c in items if isinstance(c, dict) for k in c}
    wrong = sorted(keys & {other.by_tenant, other.active, other.field})
    if wrong:
        return [
            _f(
                "nexus-tenant-fields",
                f"{where} names tenants with {', '.join(wrong)}: the {mode} mode's "
                f"document says {mine.by_tenant} / {mine.active} / {mine.field}",
                "",
                f"--nexus-tenant-by {mode}",
                wrong,
            )
        ]
    return []


@on_demand("nexus-unstored-request")
def stored(found: bool, request_type: str) -> list[Finding]:
    """Every request through the proxy is stored for the dashboard, whatever its type."""
    if found:
        return []
    return [
        _f(
            "nexus-unstored-request",
            f"a {request_type} request (fewer than two system blocks) was counted in "
            "/token-stats but is not in the dashboard's conversations",
            "",
            "the document's request details have request_type inference | query_evaluation | quota",
        )
    ]


@on_demand("nexus-passthrough")
def passthrough(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """/v1/messages hands on the upstream's status, content type and body bytes (SSE too)."""
    out: list[Finding] = []
    if proxy.status != upstream.status:
        out.append(
            _f(
                "nexus-passthrough",
                f"HTTP {proxy.status}, the upstream answered {upstream.status}",
                "",
                "the proxy hands on the upstream's status",
                proxy.body.decode("utf-8", "replace"),
            )
        )
    ptype = proxy.response_headers.get("content-type", "")
    utype = upstream.response_headers.get("content-type", "")
    if ptype.split(";")[0] != utype.split(";")[0]:
        out.append(
            _f(
                "nexus-passthrough",
                f"content-type {ptype!r}, the upstream sent {utype!r}",
                "",
                "same content type",
            )
        )
    if proxy.body != upstream.body:
        at = next(
            (n for n, (a, b) in enumerate(zip(proxy.body, upstream.body, strict=False)) if a != b),
            min(len(proxy.body), len(upstream.body)),
        )
        out.append(
            _f(
                "nexus-passthrough",
                f"the body differs from the upstream's from byte {at} ({len(proxy.body)} "
                f"bytes handed on, {len(upstream.body)} sent)",
                "",
                "bodies and SSE are passed through byte for byte",
                proxy.body[at : at + 60].decode("utf-8", "replace"),
            )
        )
    return out


@on_demand("nexus-dashboard-auth")
def dashboard_refused(exchange: Exchange, why: str) -> list[Finding]:
    """The dashboard API refuses a request without a valid X-Dashboard-Key with 401."""
    if exchange.status == 401:
        return []
    return [
        _f(
            "nexus-dashboard-auth",
            f"{exchange.describe()} {why}, answered HTTP {exchange.status}, not 401",
            "",
            f"the dashboard API is behind {spec.DASHBOARD_KEY_HEADER}",
        )
    ]
