"""Pass-through checks: did a proxy hand on exactly what its upstream sent?

Each check is a pure function of two ``Exchange``\\ s, the proxy's answer and the upstream's
(read from the reference server's record, ``conformance.upstream``), to a list of ``Finding``.
Unlike the per-answer checks they need both sides, so they are on-demand checks (their names are
in the registry, ``checks.names()``); ``compare`` runs them all. JSON is compared as data (key
order and whitespace may change in a proxy), everything else must be equal: content blocks,
tool_use ids and inputs, thinking text and signatures, stop fields, usage with its cache fields,
every SSE event in order, status, error type and the headers that matter (content type,
retry-after, request-id). Answers that are not messages (count_tokens' token count, a model, a
page of models) are compared whole. What the proxy forwarded *upstream* is
``checks.fidelity``'s.

One deviation is one finding: a status remapped along with the error type that goes with it
(529 ``overloaded_error`` handed on as 500 ``api_error``) is reported by ``passthrough-status``
alone; a stream's message fields are covered by ``passthrough-events``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from conformance import catalog
from conformance.checks._registry import on_demand
from conformance.checks.common import escape, finding
from conformance.checks.effects import same_model
from conformance.exchange import Exchange, Finding, shorten
from conformance.sse import AccumulationError, accumulate

STATUS = "passthrough-status"
ERROR = "passthrough-error"
HEADERS = "passthrough-headers"
CONTENT = "passthrough-content"
TOOL_USE = "passthrough-tool-use"
THINKING = "passthrough-thinking"
STOP_REASON = "passthrough-stop-reason"
USAGE = "passthrough-usage"
EVENTS = "passthrough-events"
BODY = "passthrough-body"
MESSAGE = "passthrough-message-fields"
REQUEST_ID = "passthrough-request-id"

PassthroughCheck = Callable[[Exchange, Exchange], list[Finding]]

_MISSING: Any = type("Missing", (), {"__repr__": lambda self: "(missing)"})()
_LIMIT = 8  # findings per check: past that, more lines only hide the first divergence


def diff(proxy: Any, upstream: Any, pointer: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(JSON pointer, proxy value, upstream value) for every place the two values differ."""
    if isinstance(proxy, dict) and isinstance(upstream, dict):
        for key in list(upstream) + [k for k in proxy if k not in upstream]:
            yield from diff(
                proxy.get(key, _MISSING), upstream.get(key, _MISSING), f"{pointer}/{escape(key)}"
            )
    elif isinstance(proxy, list) and isinstance(upstream, list) and len(proxy) == len(upstream):
        for i, (p, u) in enumerate(zip(proxy, upstream, strict=True)):
            yield from diff(p, u, f"{pointer}/{i}")
    elif proxy != upstream or type(proxy) is not type(upstream):
        yield pointer, proxy, upstream


def _show(value: Any) -> Any:
    return "(missing)" if value is _MISSING else value


def _findings(
    check: str,
    what: str,
    proxy: Exchange,
    upstream: Exchange,
    pairs: Iterator[tuple[str, Any, Any]],
) -> list[Finding]:
    out = []
    for pointer, mine, theirs in pairs:
        out.append(
            finding(
                check,
                f"the proxy's {what} differs from what the upstream sent "
                f"(proxy: {_short(mine)}; upstream: {_short(theirs)})",
                pointer=pointer,
                rule=f"{what} passed through unchanged (upstream "
                f"{upstream.request_id or upstream.source})",
                value=_show(mine),
                request_id=proxy.request_id,
            )
        )
        if len(out) >= _LIMIT:
            break
    return out


def _short(value: Any) -> str:
    return shorten(_show(value), 60)


def message_of(exchange: Exchange) -> dict[str, Any] | None:
    """The message an answer carries: its JSON, or the message its stream folds into."""
    if exchange.events is not None:
        try:
            return accumulate(exchange.events)
        except AccumulationError:
            return None  # check_events reports the broken stream itself
    body = exchange.json
    return body if isinstance(body, dict) and body.get("type") == "message" else None


def _both_messages(
    proxy: Exchange, upstream: Exchange
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    if upstream.status >= 400 or proxy.status != upstream.status:
        return None
    mine, theirs = message_of(proxy), message_of(upstream)
    if mine is None or theirs is None:
        return None
    return mine, theirs


def _blocks(message: dict[str, Any], kinds: tuple[str, ...]) -> list[tuple[int, Any]]:
    return [
        (i, b)
        for i, b in enumerate(message.get("content") or [])
        if isinstance(b, dict) and b.get("type") in kinds
    ]


# --- the checks -----------------------------------------------------------------------------------


@on_demand(STATUS)
def check_status(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """The proxy answers with the upstream's status code."""
    if proxy.status == upstream.status:
        return []
    return [
        finding(
            STATUS,
            f"the proxy answered {proxy.status}{_typed(proxy)}, the upstream "
            f"sent {upstream.status}{_typed(upstream)}",
            pointer="/status",
            rule="status passed through unchanged",
            value=proxy.status,
            request_id=proxy.request_id,
        )
    ]


def _error_type(exchange: Exchange) -> Any:
    return _envelope(exchange.json)["error"]["type"]


def _typed(exchange: Exchange) -> str:
    kind = _error_type(exchange) if exchange.status >= 400 else _MISSING
    return f" {kind}" if isinstance(kind, str) else ""


@on_demand(ERROR)
def check_error(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """An upstream error reaches the client as the same envelope: same error type and message."""
    if upstream.status < 400:
        return []
    theirs = _envelope(upstream.json)
    mine = _envelope(proxy.json, with_request_id="request_id" in theirs)
    pairs = diff(mine, theirs)
    if proxy.status != upstream.status and _error_type(proxy) == catalog.ERROR_TYPES.get(
        proxy.status
    ):  # the type follows the remapped status: check_status says it
        pairs = (p for p in pairs if p[0] != "/error/type")
    return _findings(ERROR, "error envelope", proxy, upstream, pairs)


def _envelope(body: Any, *, with_request_id: bool = True) -> dict[str, Any]:
    """The parts of an error body a client reads: the top-level type, error.type/message, and
    the ``request_id`` the API puts in the body (when there is one to compare)."""
    body = body if isinstance(body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    out = {
        "type": body.get("type", _MISSING),
        "error": {k: error.get(k, _MISSING) for k in ("type", "message")},
    }
    if with_request_id and "request_id" in body:
        out["request_id"] = body["request_id"]
    return out


@on_demand(HEADERS)
def check_headers(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """The content type (JSON or event stream) and, on 429/529, ``retry-after`` survive."""
    pairs: list[tuple[str, Any, Any]] = []
    if proxy.content_type != upstream.content_type:
        pairs.append(
            ("/headers/content-type", proxy.content_type or _MISSING, upstream.content_type)
        )
    for name in ("retry-after", "retry-after-ms"):
        theirs = upstream.response_headers.get(name)
        if theirs is not None and proxy.response_headers.get(name) != theirs:
            pairs.append((f"/headers/{name}", proxy.response_headers.get(name, _MISSING), theirs))
    return _findings(HEADERS, "headers", proxy, upstream, iter(pairs))


@on_demand(REQUEST_ID, severity="warning")
def check_request_id(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """The proxy hands on the upstream's ``request-id``, which Anthropic's support and logs
    know the request by. Warning only: a gateway's own id is not against the contract (the
    per-answer ``request-id`` check still wants one there); a missing one is that check's."""
    theirs = upstream.request_id
    if not proxy.request_id or not theirs or proxy.request_id == theirs:
        return []
    return [
        finding(
            REQUEST_ID,
            f"the proxy answered with request-id {proxy.request_id!r}, "
            f"not the upstream's {theirs!r}",
            pointer="/headers/request-id",
            rule="request-id passed through unchanged",
            value=proxy.request_id,
            request_id=proxy.request_id,
        )
    ]


@on_demand(MESSAGE)
def check_message_fields(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """A JSON message keeps its ``id``, ``type``, ``role`` and ``model`` (a proxy mapping the
    model back to an alias of its own, say). Streams: ``check_events`` compares every field."""
    if proxy.events is not None or upstream.events is not None:
        return []
    both = _both_messages(proxy, upstream)
    if both is None:
        return []
    fields = ["id", "type", "role", "model"]
    asked = (
        (proxy.request_json or {}).get("model") if isinstance(proxy.request_json, dict) else None
    )
    answered = both[0].get("model")
    if isinstance(asked, str) and isinstance(answered, str) and not same_model(asked, answered):
        fields.remove("model")  # model-echo names this cause already: one cause, one finding
    mine, theirs = ({k: m.get(k, _MISSING) for k in fields} for m in both)
    return _findings(MESSAGE, "message", proxy, upstream, diff(mine, theirs))


@on_demand(CONTENT)
def check_content_blocks(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """Same blocks in the same order; text blocks equal (tool_use and thinking: their checks)."""
    both = _both_messages(proxy, upstream)
    if both is None:
        return []
    mine, theirs = both
    kinds = [b.get("type") for b in mine.get("content") or []]
    wanted = [b.get("type") for b in theirs.get("content") or []]
    if kinds != wanted:
        return _findings(
            CONTENT, "content block types", proxy, upstream, iter([("/content", kinds, wanted)])
        )
    other = ("tool_use", "thinking", "redacted_thinking")
    pairs = (
        (f"/content/{i}{p}", a, b)
        for i, (x, y) in enumerate(zip(mine["content"] or [], theirs["content"] or [], strict=True))
        if x.get("type") not in other
        for p, a, b in diff(x, y)
    )
    return _findings(CONTENT, "content", proxy, upstream, pairs)


def _kind_check(check: str, what: str, kinds: tuple[str, ...], name: str) -> PassthroughCheck:
    def run(proxy: Exchange, upstream: Exchange) -> list[Finding]:
        both = _both_messages(proxy, upstream)
        if both is None:
            return []
        mine, theirs = (dict(_blocks(m, kinds)) for m in both)
        pairs = (
            (f"/content/{i}{p}", a, b)
            for i in sorted(set(mine) | set(theirs))
            for p, a, b in diff(mine.get(i, _MISSING), theirs.get(i, _MISSING))
        )
        return _findings(check, what, proxy, upstream, pairs)

    run.__name__ = run.__qualname__ = name
    return on_demand(check, description=f"{what}s passed through unchanged")(run)


#: tool_use blocks: the same ``id`` (the client sends it back in tool_result), name and input.
check_tool_use = _kind_check(
    TOOL_USE, "tool_use block", ("tool_use", "server_tool_use"), "check_tool_use"
)
#: thinking blocks with their signatures (the API rejects a changed one on the next turn).
check_thinking = _kind_check(
    THINKING, "thinking block", ("thinking", "redacted_thinking"), "check_thinking"
)


@on_demand(STOP_REASON)
def check_stop_reason(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """``stop_reason`` and ``stop_sequence`` passed through."""
    both = _both_messages(proxy, upstream)
    if both is None:
        return []
    mine, theirs = ({k: m.get(k, _MISSING) for k in ("stop_reason", "stop_sequence")} for m in both)
    return _findings(STOP_REASON, "stop fields", proxy, upstream, diff(mine, theirs))


@on_demand(USAGE)
def check_usage(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """Usage equal, cache fields included; for streams also message_start's and message_delta's.

    Billing and cache accounting downstream of a proxy read exactly these numbers.
    """
    both = _both_messages(proxy, upstream)
    if both is None:
        return []
    pairs = list(diff(both[0].get("usage", _MISSING), both[1].get("usage", _MISSING), "/usage"))
    if proxy.events is not None and upstream.events is not None:
        for kind, path in (("message_start", ("message", "usage")), ("message_delta", ("usage",))):
            mine = next((e for e in proxy.events if e.type == kind), None)
            theirs = next((e for e in upstream.events if e.type == kind), None)
            if mine is not None and theirs is not None:
                pairs += diff(
                    _dig(mine.json, path),
                    _dig(theirs.json, path),
                    f"/events/{kind}/{'/'.join(path)}",
                )
    return _findings(USAGE, "usage", proxy, upstream, iter(pairs))


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
    return value


@on_demand(EVENTS)
def check_events(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """Every SSE event, in order: the same ``event:`` name and the same data (as JSON)."""
    if upstream.events is None and proxy.events is None:
        return []
    if upstream.events is None or proxy.events is None:
        side = "the proxy" if proxy.events is not None else "the upstream"
        return [
            finding(
                EVENTS,
                f"only {side} answered with an event stream",
                pointer="/events",
                rule="a stream passed through as a stream",
                request_id=proxy.request_id,
            )
        ]
    mine = [(e.event, e.json if e.json is not None else e.data) for e in proxy.events]
    theirs = [(e.event, e.json if e.json is not None else e.data) for e in upstream.events]
    out = []
    for i in range(max(len(mine), len(theirs))):
        a = mine[i] if i < len(mine) else _MISSING
        b = theirs[i] if i < len(theirs) else _MISSING
        if a == b:
            continue
        name_a = a[0] if a is not _MISSING else "(no event)"
        name_b = b[0] if b is not _MISSING else "(no event)"
        pointer, shown = f"/events/{i}", f"proxy: {name_a}; upstream: {name_b}"
        if name_a == name_b:  # same event, other data: point at the first differing field
            where, got, wanted = next(diff(a[1], b[1]))
            pointer += where
            shown = f"proxy: {_short(got)}; upstream: {_short(wanted)}"
        out.append(
            finding(
                EVENTS,
                f"event {i} ({name_b}) differs from what the upstream sent "
                f"({shown}; the proxy sent {len(mine)} events, the upstream "
                f"{len(theirs)})",
                pointer=pointer,
                rule="every SSE event passed through, in order",
                value=_show(a[1] if a is not _MISSING else a),
                request_id=proxy.request_id,
            )
        )
        if len(out) >= _LIMIT:
            break
    return out


def _kind_of_body(body: dict[str, Any]) -> str:
    """What a non-message answer is, in words, for the finding's message."""
    if body.get("type") == "model":
        return "model"
    if isinstance(body.get("data"), list):
        return "list page"
    if "input_tokens" in body:
        return "token count"
    return "body"


@on_demand(BODY)
def check_body(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """A successful JSON answer that is not a message (count_tokens' ``input_tokens``, a model,
    a page of models) reaches the client whole: every field, same values, nothing added.

    Messages have their own, finer checks above; errors ``check_error``; streams ``check_events``.
    """
    if upstream.status >= 400 or proxy.status != upstream.status:
        return []
    if upstream.events is not None or proxy.events is not None:
        return []
    theirs = upstream.json
    if not isinstance(theirs, dict) or theirs.get("type") == "message":
        return []
    mine = proxy.json
    return _findings(
        BODY,
        _kind_of_body(theirs),
        proxy,
        upstream,
        diff(mine if mine is not None else _MISSING, theirs),
    )


PASSTHROUGH_CHECKS: tuple[PassthroughCheck, ...] = (
    check_status,
    check_error,
    check_headers,
    check_request_id,
    check_events,
    check_message_fields,
    check_content_blocks,
    check_tool_use,
    check_thinking,
    check_stop_reason,
    check_usage,
    check_body,
)


def compare(proxy: Exchange, upstream: Exchange) -> list[Finding]:
    """Every way ``proxy`` differs from what ``upstream`` sent (empty: passed through intact)."""
    out: list[Finding] = []
    for check in PASSTHROUGH_CHECKS:
        out += check(proxy, upstream)
    return out
