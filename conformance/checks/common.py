"""Checks that apply to every answer of the API, whatever the endpoint.

Each check is a pure function of an ``Exchange`` to a list of ``Finding``, registered for every
endpoint: headers every answer carries (``request-id``, ``content-type``, ``retry-after``), the
error envelope of a failed call and the prefixes of the ids an answer hands out. The lower-level
helpers (``error_envelope_findings``, ``check_id_prefix``) take plain values so the stream checks
can reuse them on one SSE event. The names the plumbing emits (``schema``, ``status``, ...) are
declared here too, so the registry lists every name a finding can carry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any, TypeGuard

from conformance import catalog
from conformance.checks._registry import check, declare, errors, severity_of, status_in, success
from conformance.exchange import Exchange, Finding, Severity, shorten

_MISSING: Any = object()

#: Findings of ``schemas.validate`` are named ``schema:<file>``.
SCHEMA = declare("schema", "the answer matches the JSON Schema of its endpoint and status")
#: A successful answer of a JSON endpoint (or a line of a JSON-lines one) whose body is not JSON.
JSON_BODY = declare("json-body", "a JSON endpoint answers JSON")
#: ``api.expect``: the answer has the status the test expected.
STATUS = declare(
    "status",
    "the answer has the HTTP status the test expected",
    fix="answer with the status the API answers for this request",
)
#: ``api.expect_error``: the error has the type the test expected.
ERROR_TYPE = declare("error-type", "the error has the error.type the test expected")


def finding(
    check: str,
    message: str,
    *,
    pointer: str = "",
    rule: str = "",
    value: Any = _MISSING,
    request_id: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    """A ``Finding`` with ``value`` shortened; ``value`` omitted means "nothing to show".

    ``severity`` defaults to the one the check ``check`` is registered with.
    """
    shown = "" if value is _MISSING else shorten(value)
    return Finding(
        check,
        message,
        pointer=pointer,
        rule=rule,
        value=shown,
        request_id=request_id,
        severity=severity or severity_of(check),
    )


def escape(token: str | int) -> str:
    """One RFC 6901 reference token (``~`` and ``/`` escaped)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def is_count(value: Any) -> TypeGuard[int]:
    """True for a non-negative integer (``bool`` is not a count, though Python calls it an int)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def describe_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages ("expected an object, got an array")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --- request-id -----------------------------------------------------------------------------------

REQUEST_ID = "request-id"


@check(
    REQUEST_ID,
    scope="run",
    fix="send the upstream's request-id header (req_...) on every answer, unchanged",
)
def check_request_id(exchange: Exchange) -> list[Finding]:
    """Every answer carries a ``request-id`` header: users quote it to Anthropic support."""
    prefix = catalog.ID_PREFIXES["request"]
    rule = f"every answer has a request-id header starting with {prefix!r}"
    rid = exchange.request_id
    if rid is None:
        return [
            finding(
                REQUEST_ID,
                "the answer has no request-id header",
                pointer="/headers/request-id",
                rule=rule,
            )
        ]
    if not rid.startswith(prefix):
        return [
            finding(
                REQUEST_ID,
                f"the request-id header should start with {prefix!r}",
                pointer="/headers/request-id",
                rule=rule,
                value=rid,
                request_id=rid,
            )
        ]
    return []


# --- content-type ---------------------------------------------------------------------------------

CONTENT_TYPE = "content-type"


def _wants_stream(exchange: Exchange) -> bool:
    req = exchange.request_json
    return isinstance(req, dict) and req.get("stream") is True


@check(
    CONTENT_TYPE,
    scope="run",
    fix="hand on the upstream's content-type header (application/json for JSON, "
    "text/event-stream for streams)",
)
def check_content_type(exchange: Exchange) -> list[Finding]:
    """JSON answers say ``application/json``, streams ``text/event-stream``.

    The SDKs pick their parser from this header, so a wrong one breaks clients even when the body
    is fine. Successful answers of endpoints the catalog does not know are skipped: they may be
    raw bytes (file content) or JSON lines (batch results).
    """
    got = exchange.content_type
    ptr = "/headers/content-type"
    rid = exchange.request_id
    if exchange.status >= 400:
        expected, why = "application/json", f"an error answer (HTTP {exchange.status})"
    elif exchange.is_stream or _wants_stream(exchange):
        expected = "text/event-stream"
        why = "a stream (the request set stream: true)" if _wants_stream(exchange) else "a stream"
    elif exchange.endpoint is not None and exchange.endpoint.body == "json" and exchange.body:
        expected, why = "application/json", f"a JSON answer of {exchange.endpoint.name}"
    else:
        return []
    if got == expected:
        return []
    return [
        finding(
            CONTENT_TYPE,
            f"expected content-type {expected} for {why}, got {got or 'no content-type header'}",
            pointer=ptr,
            rule=f"{why} has content-type {expected}",
            value=exchange.response_headers.get("content-type", ""),
            request_id=rid,
        )
    ]


# --- error-envelope -------------------------------------------------------------------------------

ERROR_ENVELOPE = "error-envelope"
_ENVELOPE_RULE = 'an error is {"type":"error","error":{"type":<error type>,"message":<text>}}'
_SERVER_TYPES = frozenset(t for s, t in catalog.ERROR_TYPES.items() if s >= 500)
_KNOWN_TYPES = frozenset(catalog.ERROR_TYPES.values())


def accepted_error_types(status: int | None) -> frozenset[str] | None:
    """The ``error.type`` values acceptable for ``status`` (``None``: any string will do).

    A status with its own type in the catalog needs exactly that type. Other 4xx statuses may use
    ``invalid_request_error`` (api-contract.md §1) or a type the catalog does not know yet (the
    API may add some); other 5xx statuses may use any server-side type.
    """
    if status is None or status < 400:
        return None
    if status in catalog.ERROR_TYPES:
        return frozenset({catalog.ERROR_TYPES[status]})
    if status < 500:
        return frozenset({"invalid_request_error"})
    return _SERVER_TYPES


def _foreign_shape(body: Any) -> str | None:
    """A name for the vendor whose error shape ``body`` looks like, when it is not Anthropic's."""
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict) and body.get("type") != "error" and ("code" in err or "param" in err):
        return 'an OpenAI-style error ({"error":{"message","type","code"}})'
    if isinstance(err, str):
        return 'an error with a bare string in "error"'
    if "detail" in body and "error" not in body:
        return 'a FastAPI/Starlette-style error ({"detail": ...})'
    if "errors" in body and "error" not in body:
        return 'a JSON:API/GraphQL-style error ({"errors": [...]})'
    return None


def error_envelope_findings(
    body: Any, status: int | None, *, pointer: str = "", request_id: str | None = None
) -> list[Finding]:
    """The ways ``body`` is not an Anthropic error envelope; ``status`` None skips the type match.

    Used on the body of a >= 400 answer and on the data of an ``error`` SSE event (which arrives
    after HTTP 200, hence no status to compare with).
    """

    def f(message: str, at: str, value: Any = _MISSING) -> Finding:
        return finding(
            ERROR_ENVELOPE,
            message,
            pointer=pointer + at,
            rule=_ENVELOPE_RULE,
            value=value,
            request_id=request_id,
        )

    foreign = _foreign_shape(body)
    if foreign is not None:
        return [
            f(
                f"the error is {foreign}, not the Anthropic envelope "
                '{"type":"error","error":{"type","message"}}',
                "",
                body,
            )
        ]
    if not isinstance(body, dict):
        return [f(f"expected a JSON object error envelope, got {describe_type(body)}", "", body)]
    out: list[Finding] = []
    if body.get("type") != "error":
        got = json.dumps(body["type"]) if "type" in body else "no type key"
        out.append(
            f(f'expected "type": "error" at the top level, got {got}', "/type", body.get("type"))
        )
    err = body.get("error")
    if not isinstance(err, dict):
        out.append(f(f'expected an "error" object, got {describe_type(err)}', "/error", err))
        return out
    etype = err.get("type")
    accepted = accepted_error_types(status)
    if not isinstance(etype, str) or not etype:
        out.append(
            f(f"expected error.type to be a non-empty string, got {etype!r}", "/error/type", etype)
        )
    elif accepted is not None and etype not in accepted:
        lenient = status is not None and status < 500 and status not in catalog.ERROR_TYPES
        if not (lenient and etype not in _KNOWN_TYPES):
            want = " or ".join(sorted(accepted))
            out.append(
                f(
                    f"HTTP {status} should carry error.type {want}, got {etype!r}",
                    "/error/type",
                    etype,
                )
            )
    msg = err.get("message")
    if not isinstance(msg, str) or not msg.strip():
        out.append(
            f(
                f"expected error.message to be a non-empty string, got {msg!r}",
                "/error/message",
                msg,
            )
        )
    rid = body.get("request_id")
    if rid is not None and not isinstance(rid, str):
        out.append(
            f(f"expected request_id to be a string, got {describe_type(rid)}", "/request_id", rid)
        )
    return out


@check(ERROR_ENVELOPE, applies=errors)
def check_error_envelope(exchange: Exchange) -> list[Finding]:
    """An answer with status >= 400 carries the Anthropic error envelope with the status's type.

    The SDKs map ``error.type`` to an exception class, so a wrong type or a foreign shape turns
    a clean ``NotFoundError`` into a confusing generic one.
    """
    rid = exchange.request_id
    body = exchange.json
    if body is None:
        text = exchange.body.decode("utf-8", "replace") if exchange.body else ""
        what = "an empty body" if not text.strip() else "a body that is not JSON"
        return [
            finding(
                ERROR_ENVELOPE,
                f"HTTP {exchange.status} came with {what}; expected "
                'the JSON error envelope {"type":"error","error":{"type","message"}}',
                rule=_ENVELOPE_RULE,
                value=text,
                request_id=rid,
            )
        ]
    return error_envelope_findings(body, exchange.status, request_id=rid)


# --- id-prefix ------------------------------------------------------------------------------------

ID_PREFIX = "id-prefix"

#: JSON ``type`` of an object -> its kind in catalog.ID_PREFIXES (``<kind>_deleted`` works too).
_KIND_OF_TYPE: dict[str, str] = {
    "message": "message",
    "tool_use": "tool_use",
    "server_tool_use": "server_tool_use",
    "message_batch": "batch",
    "file": "file",
    "api_key": "api_key",
    "workspace": "workspace",
    "user": "user",
    "invite": "invite",
}


def check_id_prefix(
    value: Any, kind: str, pointer: str, request_id: str | None = None
) -> list[Finding]:
    """``value`` is an id of ``kind`` (a key of catalog.ID_PREFIXES): a string with its prefix.

    Only the prefix is checked: the docs say id formats may change.
    """
    prefix = catalog.ID_PREFIXES[kind]
    rule = f"a {kind.replace('_', ' ')} id starts with {prefix!r}"
    if not isinstance(value, str):
        return [
            finding(
                ID_PREFIX,
                f"expected a {kind} id string starting with {prefix!r}, got {describe_type(value)}",
                pointer=pointer,
                rule=rule,
                value=value,
                request_id=request_id,
            )
        ]
    if not value.startswith(prefix):
        return [
            finding(
                ID_PREFIX,
                f"expected a {kind} id starting with {prefix!r}, got {value!r}",
                pointer=pointer,
                rule=rule,
                value=value,
                request_id=request_id,
            )
        ]
    return []


def _kind_of(obj: dict[str, Any]) -> str | None:
    t = obj.get("type")
    if not isinstance(t, str):
        return None
    if t.endswith("_deleted"):
        t = t[: -len("_deleted")]
    return _KIND_OF_TYPE.get(t)


def _typed_ids(node: Any, pointer: str) -> Iterator[tuple[str, Any, str]]:
    """Every ``(kind, id, pointer)`` of an object with a known ``type`` and an ``id`` key."""
    if isinstance(node, dict):
        kind = _kind_of(node)
        if kind is not None and "id" in node:
            yield kind, node["id"], f"{pointer}/id"
        for key, child in node.items():
            if key == "input" and kind in ("tool_use", "server_tool_use"):
                continue  # a tool's input is the model's free-form JSON, not an API object
            yield from _typed_ids(child, f"{pointer}/{escape(key)}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _typed_ids(child, f"{pointer}/{i}")


@check(ID_PREFIX, applies=success)
def check_ids(exchange: Exchange) -> list[Finding]:
    """Every object in the answer whose ``type`` has a known id prefix has an id with it.

    Covers message ids (``msg_``), tool_use (``toolu_``) and server_tool_use (``srvtoolu_``)
    blocks, in a JSON body or in the events of a stream, and batch, file and admin objects.
    """
    rid = exchange.request_id
    out: list[Finding] = []
    if exchange.events is not None:
        for i, ev in enumerate(exchange.events):
            for kind, value, ptr in _typed_ids(ev.json, f"/events/{i}"):
                out += check_id_prefix(value, kind, ptr, rid)
    else:
        for kind, value, ptr in _typed_ids(exchange.json, ""):
            out += check_id_prefix(value, kind, ptr, rid)
    return out


# --- retry-after ----------------------------------------------------------------------------------

RETRY_AFTER = "retry-after"
_RETRY_STATUSES = frozenset({429, 529})


def _non_negative_number(text: str) -> bool:
    try:
        number = float(text.strip())
    except ValueError:
        return False
    return math.isfinite(number) and number >= 0


@check(RETRY_AFTER, applies=status_in(*_RETRY_STATUSES))
def check_retry_after(exchange: Exchange) -> list[Finding]:
    """On 429/529, ``retry-after`` (and ``retry-after-ms``), when sent, is a number of seconds.

    The SDKs sleep for that long before retrying; a date or a negative value makes them fall
    back to their own backoff or, worse, fail to parse.
    """
    out: list[Finding] = []
    for header, unit in (("retry-after", "seconds"), ("retry-after-ms", "milliseconds")):
        value = exchange.response_headers.get(header)
        if value is not None and not _non_negative_number(value):
            out.append(
                finding(
                    RETRY_AFTER,
                    f"the {header} header of a {exchange.status} answer should be a non-negative "
                    f"number of {unit}, got {value!r}",
                    pointer=f"/headers/{header}",
                    rule=f"{header} is a non-negative number of {unit}",
                    value=value,
                    request_id=exchange.request_id,
                )
            )
    return out
