"""Request fidelity: did the request a proxy forwarded say what the client sent?

The other half of pass-through (``checks.passthrough`` judges the answer on its way back). Each
check is a pure function of two ``Exchange``\\ s: the suite's own (``request_json``,
``request_headers``, ``url`` are what it sent) and the upstream reference server's record
(``conformance.upstream.entry_exchange``: the same fields hold what arrived there). JSON bodies
are compared as data (key order, whitespace and ``1`` vs ``1.0`` may change in a proxy);
``anthropic-beta`` as a set (re-sorting is fine). Headers the client library adds on its own
(``user-agent``, ``accept-encoding``, ...) are not the suite's words and are not compared.

Severities, decided per deviation:

* ``error`` whenever the upstream is asked something other than what the client asked: a field
  dropped (``metadata``: Anthropic's end-user id for abuse detection; ``temperature``,
  ``service_tier``, ``context_management``: each changes the answer), a field added with a
  value of the proxy's own, a value changed, the model rewritten, ``anthropic-version``
  changed, dropped or invented (inventing one hides a client bug the API answers with a 400),
  a beta dropped, the method, path or query changed;
* ``warning`` for what the API treats the same: a field added with its documented default
  (``"stream": false``), and a beta added (it opts the client into behaviour it did not ask
  for, but adds to the contract rather than changing it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from conformance.checks._registry import on_demand
from conformance.checks.common import escape, finding
from conformance.exchange import Exchange, Finding, shorten

REQUEST_LINE = "fidelity-request-line"
FIELD_DROPPED = "fidelity-field-dropped"
FIELD_ADDED = "fidelity-field-added"
DEFAULT_ADDED = "fidelity-default-added"
VALUE_CHANGED = "fidelity-value-changed"
MODEL_REWRITTEN = "fidelity-model-rewritten"
VERSION = "fidelity-version"
BETA_DROPPED = "fidelity-beta-dropped"
BETA_ADDED = "fidelity-beta-added"

FidelityCheck = Callable[[Exchange, Exchange], list[Finding]]

#: Top-level request fields whose documented default a proxy may spell out without changing
#: what the API does (API reference: ``stream`` defaults to false, ``temperature`` to 1.0).
DEFAULTS: dict[str, Any] = {"stream": False, "temperature": 1.0}
_LIMIT = 8  # findings per check
_ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "(absent)"})()


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON data: numbers by value (a proxy may write 1 as 1.0), bool never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def walk(sent: Any, received: Any, pointer: str = "") -> Iterator[tuple[str, str, Any, Any]]:
    """(kind, JSON pointer, sent, received) for each difference; kind is ``dropped`` (only
    sent), ``added`` (only received) or ``changed``."""
    if isinstance(sent, dict) and isinstance(received, dict):
        for key in sent:
            where = f"{pointer}/{escape(key)}"
            if key not in received:
                yield "dropped", where, sent[key], _ABSENT
            else:
                yield from walk(sent[key], received[key], where)
        for key in received:
            if key not in sent:
                yield "added", f"{pointer}/{escape(key)}", _ABSENT, received[key]
    elif isinstance(sent, list) and isinstance(received, list) and len(sent) == len(received):
        for i, (a, b) in enumerate(zip(sent, received, strict=True)):
            yield from walk(a, b, f"{pointer}/{i}")
    elif not _same(sent, received):
        yield "changed", pointer, sent, received


def _bodies(mine: Exchange, upstream: Exchange) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Both JSON request bodies, or None when either side has none to compare (a GET, a
    multipart upload, a body the upstream recorded only in part)."""
    sent, received = mine.request_json, upstream.request_json
    if isinstance(sent, dict) and isinstance(received, dict):
        return sent, received
    return None


def _finding(
    check: str,
    message: str,
    pointer: str,
    mine: Exchange,
    upstream: Exchange,
    value: Any,
    rule: str,
) -> Finding:
    return finding(
        check,
        message,
        pointer=f"/request{pointer}",
        value=value,
        rule=f"{rule} (the upstream's record {upstream.request_id or upstream.source})",
        request_id=mine.request_id,
    )


def _show(value: Any) -> str:
    return "(absent)" if value is _ABSENT else shorten(value, 60)


def _located(received: Any, text: str, pointer: str = "") -> str | None:
    """The JSON pointer of the first string in ``received`` that contains ``text``."""
    if isinstance(received, str):
        return pointer if text in received else None
    items = (
        received.items()
        if isinstance(received, dict)
        else enumerate(received)
        if isinstance(received, list)
        else ()
    )
    for key, value in items:
        found = _located(value, text, f"{pointer}/{escape(key)}")
        if found is not None:
            return found
    return None


def _body_findings(
    check: str,
    kinds: tuple[str, ...],
    mine: Exchange,
    upstream: Exchange,
    keep: Callable[[str, str, Any], bool],
) -> list[Finding]:
    both = _bodies(mine, upstream)
    if both is None:
        return []
    sent, received = both
    out: list[Finding] = []
    for kind, pointer, a, b in walk(sent, received):
        if kind not in kinds or not keep(kind, pointer, b):
            continue
        if kind == "dropped":
            message = (
                f"the proxy dropped {pointer[1:]!r} (sent: {_show(a)}); it never "
                "reached the upstream"
            )
            if pointer.startswith("/metadata"):
                message += _metadata_note(sent, received)
        elif kind == "added":
            message = f"the proxy added {pointer[1:]!r} ({_show(b)}), which the client did not send"
        else:
            message = f"the proxy changed {pointer[1:]!r} from {_show(a)} to {_show(b)}"
        out.append(
            _finding(
                check,
                message,
                f"/body{pointer}",
                mine,
                upstream,
                a if kind != "added" else b,
                "the request body reaches the upstream as the client sent it",
            )
        )
        if len(out) >= _LIMIT:
            break
    return out


def _metadata_note(sent: dict[str, Any], received: dict[str, Any]) -> str:
    """Why a dropped ``metadata`` matters, and where the marker that found the request was."""
    user_id = (
        (sent.get("metadata") or {}).get("user_id")
        if isinstance(sent.get("metadata"), dict)
        else None
    )
    note = " (metadata.user_id is the end-user id Anthropic uses against abuse"
    where = _located(received, user_id) if isinstance(user_id, str) and user_id else None
    if where is not None:
        note += f"; the request was found by the copy of the marker at {where}"
    return note + ")"


# --- the checks -----------------------------------------------------------------------------------


@on_demand(REQUEST_LINE)
def check_request_line(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """The method, the path (below the API root) and the query parameters arrive unchanged."""
    out = []
    if mine.method.upper() != upstream.method.upper() or mine.path != upstream.path:
        out.append(
            _finding(
                REQUEST_LINE,
                f"the upstream received {upstream.method} "
                f"{upstream.path}, the client sent {mine.method} "
                f"{mine.path}",
                "/path",
                mine,
                upstream,
                f"{upstream.method} {upstream.path}",
                "method and path forwarded",
            )
        )
    sent = sorted(parse_qsl(urlsplit(mine.url).query, keep_blank_values=True))
    received = sorted(parse_qsl(urlsplit(upstream.url).query, keep_blank_values=True))
    if sent != received:
        out.append(
            _finding(
                REQUEST_LINE,
                f"the query reached the upstream as {received}, the client sent {sent}",
                "/query",
                mine,
                upstream,
                received,
                "query parameters forwarded (order aside)",
            )
        )
    return out


def _not_model(kind: str, pointer: str, value: Any) -> bool:
    return pointer != "/model"


def _not_default(kind: str, pointer: str, value: Any) -> bool:
    key = pointer[1:]
    return not (key in DEFAULTS and _same(DEFAULTS[key], value))


@on_demand(FIELD_DROPPED)
def check_field_dropped(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """Every request field the client sent reaches the upstream."""
    return _body_findings(FIELD_DROPPED, ("dropped",), mine, upstream, _not_model)


@on_demand(FIELD_ADDED)
def check_field_added(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """The proxy adds no request field of its own (a documented default: ``DEFAULT_ADDED``)."""
    return _body_findings(
        FIELD_ADDED,
        ("added",),
        mine,
        upstream,
        lambda k, p, v: _not_model(k, p, v) and _not_default(k, p, v),
    )


@on_demand(DEFAULT_ADDED, severity="warning")
def check_default_added(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """A field the client left out arrives with its documented default (``"stream": false``):
    the API does the same, but the request is no longer the client's."""
    return _body_findings(
        DEFAULT_ADDED, ("added",), mine, upstream, lambda k, p, v: not _not_default(k, p, v)
    )


@on_demand(VALUE_CHANGED)
def check_value_changed(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """Every value the client sent arrives unchanged (the model: ``MODEL_REWRITTEN``)."""
    return _body_findings(VALUE_CHANGED, ("changed",), mine, upstream, _not_model)


@on_demand(MODEL_REWRITTEN)
def check_model_rewritten(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """The upstream is asked for the model the client asked for (no alias or route rewrite)."""
    both = _bodies(mine, upstream)
    if both is None or "model" not in both[0]:
        return []
    sent, received = both[0]["model"], both[1].get("model", _ABSENT)
    if _same(sent, received):
        return []
    return [
        _finding(
            MODEL_REWRITTEN,
            f"the proxy asked the upstream for model "
            f"{_show(received)}, the client asked for {_show(sent)}",
            "/body/model",
            mine,
            upstream,
            received,
            "the model reaches the upstream as the client named it",
        )
    ]


def _header(exchange: Exchange, name: str) -> str | None:
    return next((v for k, v in exchange.request_headers.items() if k.lower() == name), None)


@on_demand(VERSION)
def check_version(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """``anthropic-version`` arrives as sent: not changed, not dropped, not invented."""
    sent, received = _header(mine, "anthropic-version"), _header(upstream, "anthropic-version")
    if sent == received:
        return []
    if sent is None:
        what = (
            f"the proxy invented anthropic-version {received!r}: the client sent none, "
            "which the API answers with a 400"
        )
    elif received is None:
        what = f"the proxy dropped anthropic-version {sent!r}"
    else:
        what = f"the proxy changed anthropic-version from {sent!r} to {received!r}"
    return [
        _finding(
            VERSION,
            what,
            "/headers/anthropic-version",
            mine,
            upstream,
            received if received is not None else "(absent)",
            "anthropic-version forwarded as sent",
        )
    ]


def _betas(exchange: Exchange) -> set[str]:
    value = _header(exchange, "anthropic-beta") or ""
    return {b.strip() for b in value.split(",") if b.strip()}


@on_demand(BETA_DROPPED)
def check_beta_dropped(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """Every ``anthropic-beta`` value the client sent arrives (in any order)."""
    lost = sorted(_betas(mine) - _betas(upstream))
    if not lost:
        return []
    return [
        _finding(
            BETA_DROPPED,
            f"the proxy dropped the beta(s) {', '.join(lost)} from anthropic-beta",
            "/headers/anthropic-beta",
            mine,
            upstream,
            _header(upstream, "anthropic-beta") or "(absent)",
            "every anthropic-beta value forwarded (order aside)",
        )
    ]


@on_demand(BETA_ADDED, severity="warning")
def check_beta_added(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """The proxy turns on no beta the client did not ask for."""
    extra = sorted(_betas(upstream) - _betas(mine))
    if not extra:
        return []
    return [
        _finding(
            BETA_ADDED,
            f"the proxy added the beta(s) {', '.join(extra)} to anthropic-beta",
            "/headers/anthropic-beta",
            mine,
            upstream,
            _header(upstream, "anthropic-beta"),
            "no anthropic-beta value the client did not send",
        )
    ]


FIDELITY_CHECKS: tuple[FidelityCheck, ...] = (
    check_request_line,
    check_field_dropped,
    check_field_added,
    check_default_added,
    check_value_changed,
    check_model_rewritten,
    check_version,
    check_beta_dropped,
    check_beta_added,
)


def compare(mine: Exchange, upstream: Exchange) -> list[Finding]:
    """Every way the request the upstream received differs from the one the client sent."""
    out: list[Finding] = []
    for check in FIDELITY_CHECKS:
        out += check(mine, upstream)
    return out
