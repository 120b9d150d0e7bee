"""How to send a failing test's request again: the request as text and as a ``curl`` line.

A failure says what was wrong with the answer; this says what was asked, so the user can ask
again outside the suite (as Schemathesis prints its "Reproduce with" line). Headers are the
already-redacted ones an ``Exchange`` holds; a credential header becomes a reference to the
environment variable that holds the key, never the key itself.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Sequence

from conformance import redact
from conformance.exchange import ConformanceError, Exchange, shorten

__all__ = ["BODY_LIMIT", "curl_command", "describe_request", "failing_exchange", "section"]

#: Characters of a body shown in the request description (the curl line has up to ``CURL_LIMIT``).
BODY_LIMIT = 300
CURL_LIMIT = 4000
#: Headers a curl line needs no copy of (curl or the server sets them).
_SKIPPED = frozenset({"content-length", "host", "accept-encoding", "connection", "user-agent"})
_ADMIN_PATH = "/v1/organizations"


def _key_variable(exchange: Exchange) -> str:
    return (
        "ANTHROPIC_ADMIN_API_KEY" if exchange.path.startswith(_ADMIN_PATH) else "ANTHROPIC_API_KEY"
    )


def _headers(exchange: Exchange) -> list[tuple[str, str]]:
    """The request headers for a curl line: credentials as ``$VARIABLE`` references."""
    shown = []
    for name, value in sorted(exchange.request_headers.items()):
        if name in _SKIPPED:
            continue
        if name == "x-api-key":
            value = f"${_key_variable(exchange)}"
        elif name == "authorization":
            value = f"Bearer ${_key_variable(exchange)}"
        shown.append((name, value))
    return shown


def _body(exchange: Exchange) -> str | None:
    if exchange.request_json is None:
        return None
    return redact.redact_text(
        json.dumps(exchange.request_json, ensure_ascii=False, separators=(",", ":"))
    )


def describe_request(exchange: Exchange) -> str:
    """Method and URL, the headers (secrets masked), the body shortened."""
    lines = [f"{exchange.method} {exchange.url or exchange.path}"]
    lines += [
        f"{name}: {value}"
        for name, value in sorted(exchange.request_headers.items())
        if name not in _SKIPPED
    ]
    body = _body(exchange)
    if body is not None:
        lines.append(f"body: {shorten(exchange.request_json, BODY_LIMIT)}")
    elif exchange.method not in ("GET", "DELETE", "HEAD"):
        lines.append("body: (not JSON: a multipart upload or raw bytes, not shown)")
    return "\n".join(lines)


def curl_command(exchange: Exchange) -> str:
    """A ``curl`` line that sends the request again (the key read from the environment)."""
    parts: list[str] = [
        "curl",
        "-sS",
        "-X",
        exchange.method,
        shlex.quote(exchange.url or exchange.path),
    ]
    for name, value in _headers(exchange):
        # double quotes, so that "$ANTHROPIC_API_KEY" expands; the rest has no $ of its own
        quoted = (
            f'"{name}: {value}"'
            if value.startswith(("$", "Bearer $"))
            else shlex.quote(f"{name}: {value}")
        )
        parts += ["-H", quoted]
    body = _body(exchange)
    if body is not None:
        if len(body) > CURL_LIMIT:
            return (
                " ".join(parts) + f" --data @request.json  # body of {len(body)} characters "
                "not shown: save the request's JSON as request.json"
            )
        parts += ["--data", shlex.quote(body)]
    return " ".join(parts)


def failing_exchange(exchanges: Sequence[Exchange], error: BaseException | None) -> Exchange | None:
    """The exchange a failure is about: the one whose request-id a finding names, else the
    test's last one."""
    if not exchanges:
        return None
    if isinstance(error, ConformanceError):
        ids = {f.request_id for f in error.findings if f.request_id}
        for exchange in reversed(exchanges):
            if exchange.request_id in ids:
                return exchange
    return exchanges[-1]


def section(exchanges: Iterable[Exchange], error: BaseException | None) -> str | None:
    """The "anthropic reproduce" report section of a failed test, or None without a call."""
    exchange = failing_exchange(list(exchanges), error)
    if exchange is None:
        return None
    return f"{describe_request(exchange)}\n\nreproduce with:\n{curl_command(exchange)}"
