"""``anthropic-ratelimit-*`` headers: what a client reads to pace itself before it gets a 429.

The real API sends, with every messages answer, a limit, what remains and when it resets for
requests, tokens, input tokens and output tokens (api-contract.md §1). A proxy that drops them
leaves clients to find their limits by hitting them. The suite calls ``ratelimit_findings`` on a
messages answer (``test_headers.py``): findings are warnings, which the test turns into errors
where the headers are part of the contract (the real API, and the reference server that plays
it), so a proxy gets a warning and the API a failure.
"""

from __future__ import annotations

from datetime import datetime

from conformance.checks._registry import on_demand
from conformance.checks.common import finding
from conformance.exchange import Exchange, Finding

RATELIMIT_HEADERS = "ratelimit-headers"

#: The kinds every messages answer states; the priority-tier variants are optional.
KINDS = ("requests", "tokens", "input-tokens", "output-tokens")
PARTS = ("limit", "remaining", "reset")


def _rfc3339(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in text


@on_demand(RATELIMIT_HEADERS, severity="warning")
def ratelimit_findings(exchange: Exchange) -> list[Finding]:
    """The answer states each rate limit: limit and remaining as integers (remaining at most
    the limit), reset as an RFC 3339 time."""
    headers = exchange.response_headers
    rid = exchange.request_id
    out: list[Finding] = []
    rule = "anthropic-ratelimit-<kind>-<limit|remaining|reset> on every messages answer"
    for kind in KINDS:
        names = {part: f"anthropic-ratelimit-{kind}-{part}" for part in PARTS}
        missing = [n for n in names.values() if n not in headers]
        if missing:
            out.append(
                finding(
                    RATELIMIT_HEADERS,
                    f"no {', '.join(missing)} header(s): a "
                    "client cannot see its rate limit before it hits it",
                    pointer="/headers",
                    rule=rule,
                    request_id=rid,
                )
            )
            continue
        limit, left, reset = (headers[names[p]] for p in PARTS)
        for name, value in ((names["limit"], limit), (names["remaining"], left)):
            if not value.isdigit():
                out.append(
                    finding(
                        RATELIMIT_HEADERS,
                        f"{name} should be a whole number, got {value!r}",
                        pointer=f"/headers/{name}",
                        rule=rule,
                        value=value,
                        request_id=rid,
                    )
                )
        if limit.isdigit() and left.isdigit() and int(left) > int(limit):
            out.append(
                finding(
                    RATELIMIT_HEADERS,
                    f"{names['remaining']} {left} is more than the limit {limit}",
                    pointer=f"/headers/{names['remaining']}",
                    rule="remaining <= limit",
                    value=left,
                    request_id=rid,
                )
            )
        if not _rfc3339(reset):
            out.append(
                finding(
                    RATELIMIT_HEADERS,
                    f"{names['reset']} should be an RFC 3339 time, got {reset!r}",
                    pointer=f"/headers/{names['reset']}",
                    rule=rule,
                    value=reset,
                    request_id=rid,
                )
            )
    return out
