"""The reference implementation of the Claude Nexus Proxy / Agent Prompt Train: faithful to its
document, deterministic (a fixed clock, ids from a counter) and in one process.

``create_app(mutants, settings)`` is an ASGI app that

* proxies ``POST /v1/messages`` to its upstream, the embedded Anthropic reference server
  (``conformance.reference``), which it serves itself under ``/_upstream`` (so the suite can read
  the upstream's record of its answers at ``<base>/_upstream/_reference/answers``): status,
  headers and body bytes, SSE included, are handed on exactly as they come;
* keeps token statistics per tenant (the Host header or the ``MSL-Train-Id`` header, per
  ``--nexus-tenant-by``) and per model (``GET /token-stats``), and stores every request for the
  dashboard API behind ``X-Dashboard-Key`` (stats, current usage window, daily usage,
  conversations with pagination, request details with streaming chunks);
* plants the named bugs of ``MUTANTS``, so the project can prove the profile's tests catch them.

Where the document leaves behaviour open, this implementation picks the plain reading and the
profile's checks assume the same (README "Profile: nexus-proxy").
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.profiles.nexus_proxy import spec
from conformance.profiles.nexus_proxy.mutants import MUTANTS as MUTANTS
from conformance.reference.wire import ANSWERS_PATH
from conformance.sse import frames, parse_sse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

VERSION = "0.1.0"
#: The reference clock: windows and days are computed from it, so answers never depend on the day.
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
#: Where the embedded upstream (the Anthropic reference server) is served on the same port.
UPSTREAM_PREFIX = "/_upstream"
#: The dashboard key the reference implementation accepts (a deployment's: --nexus-dashboard-key).
DASHBOARD_KEY = "reference-dashboard-key"
#: "limit: Inferred from usage patterns": the reference has one fixed limit per account (assumed;
#: the project's rate-limit example's tokenLimit).
TOKEN_LIMIT = 140_000
#: Assumed flat price for ``estimated_cost`` ($ per million input / output tokens): the document
#: gives no price table, so the profile checks only that costs are not negative.
PRICE_PER_MTOK = (3.0, 15.0)

#: Seeded tenants: (tenant, days before NOW, model, input, output, request type).
SEEDED: tuple[tuple[str, int, str, int, int, str], ...] = (
    ("seed-one.example.com", 0, "claude-3-haiku-20240307", 100, 200, "inference"),
    ("seed-one.example.com", 0, "claude-3-sonnet-20240229", 300, 400, "query_evaluation"),
    ("seed-one.example.com", 1, "claude-3-sonnet-20240229", 70, 80, "inference"),
    ("seed-one.example.com", 2, "claude-3-haiku-20240307", 50, 60, "inference"),
    ("seed-two.example.com", 0, "claude-3-sonnet-20240229", 500, 600, "inference"),
    # an account above its limit in the current window (percentage capped at 100)
    ("over-limit.example.com", 0, "claude-3-opus-20240229", 100_000, 50_000, "inference"),
)
#: A busy tenant: this many small successful requests two days ago (success rates, sums).
BUSY_TENANT, BUSY_REQUESTS = "busy.example.com", 110
OVER_LIMIT_TENANT = "over-limit.example.com"


#: Headers a proxy does not copy from one connection to the next.
_HOP = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length"}
)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def account_of(tenant: str) -> str:
    """The account a tenant's requests are billed to (the reference has one per tenant)."""
    return f"acc_{tenant}"


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


@dataclass
class Record:
    """One request through the proxy: what the statistics count and the dashboard stores."""

    id: str
    tenant: str
    model: str
    request_type: str
    input_tokens: int
    output_tokens: int
    status: int
    at: datetime
    stored: bool = True
    request_body: Any = None
    response_body: Any = None
    chunks: list[str] = field(default_factory=list)
    conversation_id: str | None = None
    message_hash: str | None = None
    parent_hash: str | None = None
    latency_ms: int = 0
    error_type: str | None = None
    error_message: str | None = None

    @property
    def account(self) -> str:
        return account_of(self.tenant)

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class State:
    mutants: frozenset[str]
    mode: str
    records: list[Record] = field(default_factory=list)
    threads: dict[str, str] = field(default_factory=dict)  # first-message hash -> conversation
    ids: int = 0

    def __post_init__(self) -> None:
        for tenant, days, model, i, o, kind in SEEDED:
            self.add(tenant, model, kind, i, o, 200, NOW - timedelta(days=days), {"seeded": True})
        for n in range(BUSY_REQUESTS):
            body = {"messages": [{"role": "user", "content": f"busy {n}"}]}
            self.add(BUSY_TENANT, "claude-3-haiku-20240307", "inference", 1, 1, 200, NOW, body)

    def next_id(self) -> str:
        self.ids += 1  # deterministic
        if "request-id-not-uuid" in self.mutants:
            return f"req_{self.ids}"
        return str(uuid.UUID(int=self.ids, version=4))

    def add(
        self,
        tenant: str,
        model: str,
        kind: str,
        i: int,
        o: int,
        status: int,
        at: datetime,
        body: Any,
    ) -> Record:
        record = Record(self.next_id(), tenant, model, kind, i, o, status, at, request_body=body)
        record.stored = kind == "inference" or "store-inference-only" not in self.mutants
        messages = body.get("messages") if isinstance(body, dict) else None
        if isinstance(messages, list) and messages:
            # Conversations: the same tenant and first message (assumed; the document's hashes)
            first = _hash([tenant, messages[0]])
            if first not in self.threads:
                self.threads[first] = str(uuid.UUID(int=10**9 + len(self.threads), version=4))
            record.conversation_id = self.threads[first]
            record.message_hash = _hash(messages)
            record.parent_hash = _hash(messages[:-2]) if len(messages) > 2 else None
        self.records.append(record)
        return record

    # --- /token-stats --------------------------------------------------------------------------

    def token_stats(self) -> dict[str, Any]:
        m = self.mutants
        names = self.names()

        def counts(i: int, o: int) -> dict[str, int]:
            return {"input": i, "output": o, "total": i if "stats-total-input-only" in m else i + o}

        tenants: dict[str, list[Record]] = {}
        models: dict[str, list[Record]] = {}
        for r in self.records:
            tenants.setdefault(r.tenant, []).append(r)
            models.setdefault(r.model, []).append(r)
        if "stats-as-built" in m:
            return {
                t: {
                    "inputTokens": sum(r.input_tokens for r in rs),
                    "outputTokens": sum(r.output_tokens for r in rs),
                    "requestCount": len(rs),
                    "queryEvaluationCount": sum(r.request_type == "query_evaluation" for r in rs),
                    "inferenceCount": sum(r.request_type == "inference" for r in rs),
                    "toolCallCount": 0,
                    "lastUpdated": _iso(max(r.at for r in rs)),
                }
                for t, rs in tenants.items()
            }
        counted = list(self.records)
        if "stats-tenant-sum-short" in m and tenants:
            last = list(tenants)[-1]
            counted = [r for r in counted if r.tenant != last]
        return {
            "total_requests": len(counted),
            "total_tokens": counts(
                sum(r.input_tokens for r in self.records),
                sum(r.output_tokens for r in self.records),
            ),
            names.by_tenant: {
                t: {
                    "requests": len(rs),
                    "tokens": counts(
                        sum(r.input_tokens for r in rs), sum(r.output_tokens for r in rs)
                    ),
                    "by_type": {
                        k: sum(r.request_type == k for r in rs)
                        for k in ("inference", "query_evaluation")
                    },
                }
                for t, rs in tenants.items()
            },
            "by_model": {
                name: {
                    "requests": len(rs),
                    "tokens": counts(
                        sum(r.input_tokens for r in rs), sum(r.output_tokens for r in rs)
                    ),
                }
                for name, rs in models.items()
            },
        }

    def names(self) -> spec.TenantNames:
        mode = self.mode
        if "tenant-names-swapped" in self.mutants:
            mode = "domain" if mode == "train-id" else "train-id"
        return spec.NAMES[mode]

    # --- dashboard -----------------------------------------------------------------------------

    def stored(self, tenant: str | None = None, account: str | None = None) -> list[Record]:
        return [
            r
            for r in self.records
            if r.stored
            and (tenant is None or r.tenant == tenant)
            and (account is None or r.account == account)
        ]

    def stats(self, tenant: str | None) -> dict[str, Any]:
        rows = self.stored(tenant)
        ok = sum(200 <= r.status < 300 for r in rows)
        rate = (
            (ok if "success-rate-count" in self.mutants else 100.0 * ok / len(rows))
            if rows
            else 0.0
        )
        start = min((r.at for r in rows), default=NOW)
        active = len({r.tenant for r in rows})
        total_tokens = sum(r.total for r in rows)
        latency = sum(r.latency_ms for r in rows) / len(rows) if rows else 0.0
        if "dashboard-as-built" in self.mutants:
            return {
                "totalRequests": len(rows),
                "totalTokens": total_tokens,
                "activeDomains": active,
                "totalSubtasks": 0,
                "successRate": rate,
                "averageLatency": latency,
            }
        return {
            "total_requests": len(rows),
            "total_tokens": total_tokens,
            self.names().active: active,
            "total_subtasks": 0,
            "success_rate": rate,
            "average_latency": latency,
            "period": {"start": _iso(start), "end": _iso(NOW)},
        }

    def current(self, account: str, window: int) -> dict[str, Any]:
        since = NOW - timedelta(minutes=window)
        rows = [r for r in self.stored(account=account) if r.at > since]
        used = sum(r.total for r in rows)
        if "percentage-uncapped" in self.mutants:
            percent = 100.0 * used / TOKEN_LIMIT
        else:
            percent = spec.percentage(used, TOKEN_LIMIT)
        oldest = min((r.at for r in rows), default=NOW)
        by_type = {k: sum(r.request_type == k for r in rows) for k in spec.REQUEST_TYPES}
        count = by_type["inference"] if "window-count-inference-only" in self.mutants else len(rows)
        return {
            "account_id": account,
            "window_minutes": window,
            "usage": {
                "tokens_used": used,
                "limit": TOKEN_LIMIT,
                "percentage": round(percent, 2),
                "reset_at": _iso(oldest + timedelta(minutes=window)),
            },
            "requests": {"count": count, "by_type": by_type},
        }

    def daily(self, account: str, days: int) -> dict[str, Any]:
        first = NOW.date() - timedelta(days=days - 1)
        rows = [r for r in self.stored(account=account) if r.at.date() >= first]
        by_day: dict[str, list[Record]] = {}
        for r in sorted(rows, key=lambda r: r.at):
            by_day.setdefault(r.at.date().isoformat(), []).append(r)
        out: list[dict[str, Any]] = []
        for day, rs in by_day.items():
            models: dict[str, dict[str, int]] = {}
            for r in rs:
                row = models.setdefault(r.model, {"requests": 0, "tokens": 0})
                row["requests"] += 1
                row["tokens"] += r.total
            out.append(
                {
                    "date": day,
                    "requests": len(rs),
                    "input_tokens": sum(r.input_tokens for r in rs),
                    "output_tokens": sum(r.output_tokens for r in rs),
                    "total_tokens": sum(r.total for r in rs),
                    "by_model": models,
                }
            )
        summed = out[:-1] if "daily-totals-stale" in self.mutants else out
        i = sum(d["input_tokens"] for d in summed)
        o = sum(d["output_tokens"] for d in summed)
        return {
            "account_id": account,
            "period": {
                "start": _iso(datetime.combine(first, datetime.min.time(), UTC)),
                "end": _iso(NOW),
            },
            "days": out,
            "totals": {
                "requests": sum(d["requests"] for d in summed),
                "input_tokens": i,
                "output_tokens": o,
                "total_tokens": i + o,
                "estimated_cost": (i * PRICE_PER_MTOK[0] + o * PRICE_PER_MTOK[1]) / 1_000_000,
            },
        }

    def conversation_rows(self, tenant: str | None) -> list[dict[str, Any]]:
        groups: dict[str, list[Record]] = {}
        for r in self.stored(tenant):
            if r.conversation_id is not None:
                groups.setdefault(r.conversation_id, []).append(r)
        rows: list[dict[str, Any]] = []
        for cid, rs in groups.items():
            last = rs[-1]
            rows.append(
                {
                    "conversation_id": cid,
                    "account_id": last.account,
                    self.names().field: last.tenant,
                    "first_message_at": _iso(rs[0].at),
                    "last_message_at": _iso(last.at),
                    "message_count": len(rs),
                    "total_tokens": sum(r.total for r in rs),
                    "branches": [
                        {
                            "branch_id": "main",
                            "parent_hash": rs[0].parent_hash or "",
                            "created_at": _iso(rs[0].at),
                            "message_count": len(rs),
                        }
                    ],
                    "latest_request": {
                        "id": last.id,
                        "status_code": last.status,
                        "model": last.model,
                        "created_at": _iso(last.at),
                    },
                    "has_subtasks": False,
                    "subtask_count": 0,
                    "_order": self.records.index(last),
                }
            )
        rows.sort(key=lambda c: -int(c.pop("_order")))  # newest first
        return rows

    def conversations(self, tenant: str | None, page: int, per_page: int) -> dict[str, Any]:
        rows = self.conversation_rows(tenant)
        start = (page if "page-offset-off-by-one" in self.mutants else page - 1) * per_page
        shown = rows[start : start + per_page]
        total = len(rows)
        if "dashboard-as-built" in self.mutants:
            offset = (page - 1) * per_page
            return {
                "conversations": [
                    {
                        "conversationId": c["conversation_id"],
                        "domain": c[self.names().field],
                        "accountId": c["account_id"],
                        "firstMessageTime": c["first_message_at"],
                        "lastMessageTime": c["last_message_at"],
                        "messageCount": c["message_count"],
                        "totalTokens": c["total_tokens"],
                        "branchCount": 1,
                        "modelsUsed": [c["latest_request"]["model"]],
                    }
                    for c in shown
                ],
                "pagination": {
                    "total": total,
                    "limit": per_page,
                    "offset": offset,
                    "hasMore": offset + len(shown) < total,
                },
            }
        pages = (
            total // per_page
            if "pages-floor" in self.mutants
            else spec.total_pages(total, per_page)
        )
        return {
            "conversations": shown,
            "pagination": {
                "total": total,
                "page": page,
                "per_page": per_page,
                "total_pages": pages,
            },
        }

    def details(self, record: Record) -> dict[str, Any]:
        chunks = [
            {"chunk_index": n, "content": text, "created_at": _iso(record.at)}
            for n, text in enumerate(record.chunks)
        ]
        if "chunks-reversed" in self.mutants:
            chunks.reverse()
        body: dict[str, Any] = {
            "id": record.id,
            self.names().field: record.tenant,
            "account_id": record.account,
            "method": "POST",
            "path": spec.MESSAGES,
            "status_code": record.status,
            "model": record.model,
            "request_type": record.request_type,
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "total_tokens": record.input_tokens
            if "request-total-input-only" in self.mutants
            else record.total,
            "response_time_ms": record.latency_ms,
            "created_at": _iso(record.at),
            "updated_at": _iso(record.at),
            "branch_id": "main",
            "is_subtask": False,
            "request_body": record.request_body,
            "response_body": record.response_body,
        }
        if record.error_type:
            body["error_type"] = record.error_type
            body["error_message"] = record.error_message or ""
        if record.conversation_id:
            body["conversation_id"] = record.conversation_id
        if record.message_hash:
            body["current_message_hash"] = record.message_hash
        if record.parent_hash:
            body["parent_message_hash"] = record.parent_hash
        if record.chunks:
            body["streaming_chunks"] = chunks
        return body


def _usage_of(status: int, content_type: str, body: bytes) -> tuple[str, int, int, Any, list[str]]:
    """model, input and output tokens, the response as JSON, the SSE events as text."""
    if content_type.startswith("text/event-stream"):
        model, i, o = "", 0, 0
        # one chunk per event as it came, so the chunks put together are the stream's bytes
        cuts = [0, *(f.end for f in frames(body))]
        if cuts[-1] < len(body):
            cuts.append(len(body))
        chunks = [body[a:b].decode("utf-8", "replace") for a, b in itertools.pairwise(cuts)]
        for event in parse_sse(body):
            data = event.json if isinstance(event.json, dict) else {}
            if event.event == "message_start":
                message = data.get("message") or {}
                model = str(message.get("model") or "")
                i = int((message.get("usage") or {}).get("input_tokens") or 0)
            elif event.event == "message_delta":
                o = int((data.get("usage") or {}).get("output_tokens") or 0)
        return model, i, o, None, chunks
    try:
        data = json.loads(body)
    except ValueError:
        return "", 0, 0, None, []
    usage = data.get("usage") if isinstance(data, dict) and status < 400 else None
    usage = usage if isinstance(usage, dict) else {}
    model = str(data.get("model") or "") if isinstance(data, dict) else ""
    return (
        model,
        int(usage.get("input_tokens") or 0),
        int(usage.get("output_tokens") or 0),
        data,
        [],
    )


async def _journal_without_org_ids(
    upstream: Callable[[Scope, Receive, Send], Awaitable[None]],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """The upstream's record of its answers, without the organization id header of each: the
    suite's cassettes hold this record, and an organization id in a cassette is a secret."""
    start: Message = {}
    parts: list[bytes] = []

    async def keep(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        else:
            parts.append(message.get("body", b""))

    await upstream(scope, receive, keep)
    body = b"".join(parts)
    try:
        record = json.loads(body)
        for entry in record.get("data") or []:
            for name in list(entry.get("headers") or {}):
                if name.lower() == "anthropic-organization-id":
                    del entry["headers"][name]
        body = json.dumps(record).encode()
    except (ValueError, AttributeError, TypeError):
        pass  # not the record (an error answer): handed on as it is
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send(
        {"type": "http.response.start", "status": start.get("status", 500), "headers": headers}
    )
    await send({"type": "http.response.body", "body": body})


# One app with the proxy, its statistics and its dashboard over one state: the routes are
# closures over it, defined together so each reads as the document describes it.
def create_app(  # noqa: C901
    mutants: Iterable[str] = (), settings: Any = None, *, tenant_by: str | None = None
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The reference implementation as an ASGI app, with ``mutants`` switched on; it keys its
    statistics per ``tenant_by`` (else the settings' ``tenant_by``, else by domain)."""
    from conformance.reference import create_app as upstream_app

    unknown = sorted(set(mutants) - set(MUTANTS))
    if unknown:
        raise ValueError(f"unknown mutant(s) {', '.join(unknown)}; known: {', '.join(MUTANTS)}")
    mode = tenant_by or getattr(settings, "tenant_by", None) or "domain"
    if mode not in spec.TENANT_MODES:
        raise ValueError(f"tenant_by {mode!r} is not one of {', '.join(spec.TENANT_MODES)}")
    state = State(frozenset(mutants), mode)
    m = state.mutants
    upstream = upstream_app()

    def error(status: int, kind: str, message: str) -> JSONResponse:
        body: dict[str, Any] = {"error": {"type": kind, "message": message}}
        if "error-as-built" not in m:
            body["request_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{status}{message}"))
            body["timestamp"] = _iso(NOW)
        return JSONResponse(body, status)

    def authorized(request: Request) -> bool:
        given = request.headers.get(spec.DASHBOARD_KEY_HEADER)
        return "dashboard-key-unchecked" in m or given == DASHBOARD_KEY

    def refused() -> JSONResponse:
        return error(
            401, "authentication_error", f"a valid {spec.DASHBOARD_KEY_HEADER} is required"
        )

    def tenant_param(request: Request) -> str | None:
        return request.query_params.get(spec.NAMES[mode].field)

    def int_param(request: Request, name: str, default: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        return int(raw) if raw.isdigit() and int(raw) > 0 else None

    async def token_stats(request: Request) -> JSONResponse:
        return JSONResponse(state.token_stats())

    async def health(request: Request) -> JSONResponse:
        status = "healthy" if "health-healthy" in m else "ok"
        return JSONResponse(
            {"status": status, "timestamp": _iso(NOW), "version": VERSION, "database": "connected"}
        )

    def dashboard(
        handler: Callable[[Request], Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            return handler(request) if authorized(request) else refused()

        return route

    def stats(request: Request) -> Response:
        return JSONResponse(state.stats(tenant_param(request)))

    def account_query(request: Request, what: str) -> tuple[str | None, int | None]:
        account = request.query_params.get(spec.ACCOUNT_PARAM)
        return account, int_param(request, what, spec.WINDOW_MINUTES if what == "window" else 30)

    def current(request: Request) -> Response:
        account, window = account_query(request, "window")
        if not account or window is None:
            return error(400, "invalid_request_error", "accountId is required; window > 0")
        return JSONResponse(state.current(account, window))

    def daily(request: Request) -> Response:
        account, days = account_query(request, "days")
        if not account or days is None:
            return error(400, "invalid_request_error", "accountId is required; days > 0")
        return JSONResponse(state.daily(account, days))

    def conversations(request: Request) -> Response:
        page = int_param(request, "page", 1)
        per_page = int_param(request, "per_page", spec.DEFAULT_PER_PAGE)
        if page is None or per_page is None:
            return error(400, "invalid_request_error", "page and per_page are positive integers")
        return JSONResponse(state.conversations(tenant_param(request), page, per_page))

    def details(request: Request) -> Response:
        wanted = request.path_params["id"]
        found = next((r for r in state.records if r.id == wanted and r.stored), None)
        if found is None:
            return error(404, "not_found_error", f"request {wanted} not found")
        return JSONResponse(state.details(found))

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, "not_found_error", "Not Found")

    own = Starlette(
        routes=[
            Route(spec.TOKEN_STATS, token_stats, methods=["GET"]),
            Route(spec.HEALTH, health, methods=["GET"]),
            Route(spec.STATS, dashboard(stats), methods=["GET"]),
            Route(spec.CURRENT, dashboard(current), methods=["GET"]),
            Route(spec.DAILY, dashboard(daily), methods=["GET"]),
            Route(spec.CONVERSATIONS, dashboard(conversations), methods=["GET"]),
            Route(spec.REQUESTS + "/{id}", dashboard(details), methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_found},
    )

    def tenant_of(headers: Mapping[str, str]) -> str:
        host = headers.get("host", "").split(":", 1)[0]
        if (mode == "domain") != ("tenant-other-header" in m):
            return host
        # assumed: a request without the header is counted under "default"
        return headers.get(spec.TRAIN_ID_HEADER.lower(), "default")

    async def proxy(scope: Scope, receive: Receive, send: Send) -> None:  # noqa: C901
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        tenant = tenant_of(headers)
        forwarded = [
            (k, v)
            for k, v in scope["headers"]
            if k.decode().lower() not in _HOP and k.decode().lower() != "msl-train-id"
        ]
        up_scope = {
            **scope,
            "headers": [(b"host", b"upstream.invalid"), *forwarded],
        }
        sent = False

        async def up_receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        start: Message = {}
        chunks: list[bytes] = []
        buffer = bool(m & {"json-reserialized", "sse-reserialized", "error-remapped"})

        async def up_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if not buffer:
                    await send(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not buffer:
                    await send(message)

        await upstream(up_scope, up_receive, up_send)
        body = b"".join(chunks)
        status = int(start.get("status", 500))
        out_headers = [(k, v) for k, v in start.get("headers", [])]
        ctype = next((v.decode() for k, v in out_headers if k.lower() == b"content-type"), "")
        if buffer:
            if "error-remapped" in m and (status == 429 or status >= 500):
                status = 502
                body = json.dumps(
                    {
                        "error": {"type": "api_error", "message": "upstream error"},
                        "request_id": str(uuid.uuid4()),
                        "timestamp": _iso(NOW),
                    }
                ).encode()
                ctype = "application/json"
                out_headers = [(k, v) for k, v in out_headers if k.lower() != b"content-type"]
                out_headers.append((b"content-type", b"application/json"))
            elif "json-reserialized" in m and ctype.startswith("application/json"):
                body = json.dumps(json.loads(body), indent=1).encode()
            elif "sse-reserialized" in m and ctype.startswith("text/event-stream"):
                body = b"".join(
                    f"event: {e.event}\ndata: {json.dumps(e.json)}\n\n".encode()
                    for e in parse_sse(body)
                )
            out_headers = [(k, v) for k, v in out_headers if k.lower() != b"content-length"]
            out_headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": out_headers})
            await send({"type": "http.response.body", "body": body})
        try:
            sent_json = json.loads(raw)
        except ValueError:
            sent_json = None
        model, i, o, answer, events = _usage_of(status, ctype, body)
        if events and "stream-output-not-counted" in m:
            o = 0
        kind = spec.request_type(sent_json)
        asked = sent_json.get("model") if isinstance(sent_json, dict) else None
        record = state.add(tenant, model or str(asked or ""), kind, i, o, status, NOW, sent_json)
        record.response_body = answer
        record.chunks = events
        if status >= 400 and isinstance(answer, dict):
            found = answer.get("error")
            err: dict[str, Any] = found if isinstance(found, dict) else {}
            record.error_type = str(err.get("type") or "")
            record.error_message = str(err.get("message") or "")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == UPSTREAM_PREFIX or path.startswith(UPSTREAM_PREFIX + "/"):
            rest = path[len(UPSTREAM_PREFIX) :] or "/"
            inner = {**scope, "path": rest, "raw_path": rest.encode()}
            if rest == ANSWERS_PATH:
                await _journal_without_org_ids(upstream, inner, receive, send)
            else:
                await upstream(inner, receive, send)
        elif path == spec.MESSAGES and scope["method"] == "POST":
            await proxy(scope, receive, send)
        else:
            await own(scope, receive, send)

    return app
