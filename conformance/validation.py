"""``validate_exchange``: everything the suite knows about one answer, in one call.

Two layers, both returning ``Finding``\\ s: the JSON Schema of the answer (chosen from the
catalog by endpoint and status; for streams every event and the folded message) and the named
semantic checks of ``conformance.checks``. Keys the schemas do not declare are not findings but
drift, listed in ``Validation.unknown``: the API may add output fields within a version.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from conformance import catalog, schemas
from conformance.checks import checks_for
from conformance.checks.common import JSON_BODY, finding
from conformance.exchange import Exchange, Finding
from conformance.sse import AccumulationError, accumulate

#: Pointer prefix of the message folded from a stream (see conformance.checks.messages).
ACCUMULATED = "/accumulated"


@dataclass
class Validation:
    """The verdict on one exchange: contract violations, and drift (unknown field pointers)."""

    findings: list[Finding] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the answer breaks no rule; drift alone does not make it wrong."""
        return not self.findings


def _schema_layer(exchange: Exchange, schema: str | None) -> Validation:
    """Schema findings and drift for the answer (``schema`` None: no schema to apply)."""
    result = Validation()
    rid = exchange.request_id
    if exchange.events is not None and exchange.status < 400:
        for i, ev in enumerate(exchange.events):
            if ev.json is None:
                continue  # sse-grammar reports data that is not JSON
            ptr = f"/events/{i}"
            result.findings += schemas.validate(
                ev.json, catalog.STREAM_EVENT_SCHEMA, request_id=rid, pointer=ptr
            )
            result.unknown += schemas.unknown_fields(ev.json, catalog.STREAM_EVENT_SCHEMA, ptr)
        folded = _folded(exchange)
        if folded is not None and schema is not None:
            result.findings += schemas.validate(folded, schema, request_id=rid, pointer=ACCUMULATED)
        return result
    if schema is None:
        return result
    body = exchange.json
    if body is None:
        if exchange.status < 400 and exchange.body:
            result.findings.append(
                finding(
                    JSON_BODY,
                    "the answer body is not JSON",
                    rule="a JSON endpoint answers JSON",
                    value=exchange.body.decode("utf-8", "replace"),
                    request_id=rid,
                )
            )
        return result  # error-envelope reports a non-JSON error body
    result.findings += schemas.validate(body, schema, request_id=rid)
    result.unknown += schemas.unknown_fields(body, schema)
    return result


def _folded(exchange: Exchange) -> dict[str, Any] | None:
    """The message a complete stream folds into; None for a cut or unfoldable stream.

    A stream that ended with ``error`` or without ``message_stop`` leaves an unfinished message
    (stop_reason null), which the semantic checks already report in plainer words.
    """
    events = exchange.events or []
    if not any(ev.type == "message_stop" for ev in events):
        return None
    if any(ev.type == "error" for ev in events):
        return None
    try:
        return accumulate(events)
    except AccumulationError:
        return None


def _jsonl_layer(exchange: Exchange, schema: str, unknown: list[str]) -> list[Finding]:
    """Each line of a JSON-lines answer (batch results) against ``schema``; pointers /lines/<i>."""
    out: list[Finding] = []
    rid = exchange.request_id
    for i, line in enumerate(exchange.body.splitlines()):
        if not line.strip():
            continue
        ptr = f"/lines/{i}"
        try:
            item = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            out.append(
                finding(
                    JSON_BODY,
                    "a line of the JSON-lines answer is not JSON",
                    pointer=ptr,
                    rule="every line of a JSONL answer is a JSON object",
                    value=line.decode("utf-8", "replace"),
                    request_id=rid,
                )
            )
            continue
        out += schemas.validate(item, schema, request_id=rid, pointer=ptr)
        unknown += schemas.unknown_fields(item, schema, ptr)
    return out


def validate_exchange(exchange: Exchange, *, request: Any = None) -> Validation:
    """Schema and semantic findings for ``exchange``, plus the drift pointers.

    ``request`` is the JSON body that was sent (default: ``exchange.request_json``); checks that
    compare the answer with the request (max_tokens, stop_sequences) read it. An endpoint the
    catalog does not know gets the checks registered for every answer and, for status >= 400,
    the error schema.
    """
    if request is not None and request is not exchange.request_json:
        exchange = dataclasses.replace(exchange, request_json=request)
    endpoint = exchange.endpoint
    body_kind = endpoint.body if endpoint is not None and exchange.status < 400 else "json"
    if exchange.status >= 400:
        schema: str | None = catalog.ERROR_SCHEMA
    else:
        schema = endpoint.schema if endpoint is not None and body_kind == "json" else None
    result = _schema_layer(exchange, schema)
    if body_kind == "jsonl" and endpoint is not None:
        result.findings += _jsonl_layer(exchange, endpoint.schema, result.unknown)
    for check in checks_for(endpoint.name if endpoint is not None else None):
        result.findings += check(exchange)
    return result
