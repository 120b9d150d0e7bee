"""Checks of prompt caching: the cache usage fields, and what a cache write or read reports.

``check_cache_fields`` is not run on every answer: recordings from before 2024 lack the cache
fields and are not wrong for their time (api-contract.md §2, "older responses may omit the newer
usage keys"). The suite asks for it on answers of today's API, where every recorded answer
carries them; ``check-cassettes`` does not.
"""

from __future__ import annotations

from typing import Any

from conformance.checks._registry import on_demand
from conformance.checks.common import describe_type, finding, is_count
from conformance.exchange import Exchange, Finding

CACHE_FIELDS = "cache-usage-fields"
CACHE_ACCOUNTING = "cache-accounting"

#: Where each cache usage field appears in today's answers (the recorded ones): the full set in a
#: message and in message_start, the two counts in message_delta.
_MESSAGE_KEYS = ("cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation")
_DELTA_KEYS = ("cache_creation_input_tokens", "cache_read_input_tokens")
_FIELDS_RULE = (
    "today's answers carry cache_creation_input_tokens, cache_read_input_tokens and "
    "cache_creation in message usage and message_start, the two counts in "
    "message_delta"
)


def _missing(
    usage: Any, keys: tuple[str, ...], pointer: str, where: str, rid: str | None
) -> list[Finding]:
    if not isinstance(usage, dict):
        return [
            finding(
                CACHE_FIELDS,
                f"{where} has no usage object",
                pointer=pointer,
                rule=_FIELDS_RULE,
                value=usage,
                request_id=rid,
            )
        ]
    out: list[Finding] = []
    for key in keys:
        value = usage.get(key)
        ok = isinstance(value, dict) if key == "cache_creation" else is_count(value)
        if not ok:
            what = "is missing" if key not in usage else f"is {describe_type(value)}"
            out.append(
                finding(
                    CACHE_FIELDS,
                    f"{where}: usage.{key} {what}",
                    pointer=f"{pointer}/{key}",
                    rule=_FIELDS_RULE,
                    value=value,
                    request_id=rid,
                )
            )
    return out


@on_demand(CACHE_FIELDS)
def check_cache_fields(exchange: Exchange) -> list[Finding]:
    """The cache usage fields are where today's API puts them (a proxy may drop them)."""
    if exchange.status >= 400:
        return []
    rid = exchange.request_id
    if exchange.events is None:
        body = exchange.json
        if not (isinstance(body, dict) and body.get("type") == "message"):
            return []
        return _missing(body.get("usage"), _MESSAGE_KEYS, "/usage", "the message", rid)
    out: list[Finding] = []
    for i, ev in enumerate(exchange.events):
        data = ev.json if isinstance(ev.json, dict) else {}
        if ev.type == "message_start":
            message = data.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            out += _missing(
                usage, _MESSAGE_KEYS, f"/events/{i}/message/usage", "message_start", rid
            )
        elif ev.type == "message_delta":
            out += _missing(
                data.get("usage"), _DELTA_KEYS, f"/events/{i}/usage", "message_delta", rid
            )
    return out


@on_demand(CACHE_ACCOUNTING)
def cache_accounting_findings(
    usage: dict[str, Any],
    *,
    written: int | None = None,
    read: int | None = None,
    ttl: str | None = None,
    request_id: str | None = None,
) -> list[Finding]:
    """A write or read reports what the request cached: ``written`` tokens (at least that many,
    all under ``ttl``) or ``read`` tokens (exactly those written before)."""
    out: list[Finding] = []

    def bad(message: str, key: str, rule: str) -> None:
        out.append(
            finding(
                CACHE_ACCOUNTING,
                message,
                pointer=f"/usage/{key}",
                rule=rule,
                value=usage.get(key),
                request_id=request_id,
            )
        )

    created = usage.get("cache_creation_input_tokens")
    got_read = usage.get("cache_read_input_tokens")
    if written is not None:
        if not is_count(created) or created < written:
            bad(
                f"a prefix of at least {written} tokens behind a breakpoint should be written to "
                f"the cache; cache_creation_input_tokens is {created!r}",
                "cache_creation_input_tokens",
                "a first request with a cacheable prefix reports the tokens it wrote",
            )
        parts = usage.get("cache_creation")
        if ttl is not None and isinstance(parts, dict) and is_count(created):
            key = f"ephemeral_{ttl}_input_tokens"
            if parts.get(key) != created:
                bad(
                    f"the breakpoint asked for ttl {ttl}, so cache_creation.{key} should hold "
                    f"all {created} written tokens; got {parts.get(key)!r}",
                    "cache_creation",
                    "the cache_creation breakdown puts written tokens under the breakpoint's ttl",
                )
    if read is not None:
        if got_read != read:
            bad(
                f"the same prefix was written before ({read} tokens), so the second request "
                f"should read it: cache_read_input_tokens is {got_read!r}",
                "cache_read_input_tokens",
                "a repeated cacheable prefix is read from the cache",
            )
        if is_count(created) and created != 0:
            bad(
                f"a prefix read from the cache is not written again; cache_creation_input_tokens"
                f" is {created}",
                "cache_creation_input_tokens",
                "a cache hit writes nothing new when nothing follows the breakpoint",
            )
    return out
