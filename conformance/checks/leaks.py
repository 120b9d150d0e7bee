"""Security warnings: error answers that show the server's insides.

The real API's error messages name the request's fault and nothing of its implementation. A
proxy or gateway that puts an exception's traceback or a server file path into the message tells
every client which code, versions and directories it runs: useful to an attacker, never to a
client. Reported as a warning (``error-leak``): it breaks no client, but it should be fixed.
"""

from __future__ import annotations

import re
from typing import Any

from conformance.checks._registry import check, errors
from conformance.checks.common import finding
from conformance.exchange import Exchange, Finding

ERROR_LEAK = "error-leak"

#: What gives a stack trace or a server path away, by the runtime that writes it.
LEAK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Python traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("a Python stack frame", re.compile(r'File "[^"\n]+", line \d+')),
    (
        "a JavaScript stack frame",
        re.compile(
            r"\bat [\w$.<>\[\] ]+ \(?(?:/|[A-Za-z]:\\|file:)"
            r"[^()\s]+:\d+:\d+\)?"
        ),
    ),
    (
        "a Java stack frame",
        re.compile(r"\bat [\w$]+(?:\.[\w$<>]+)+\([\w$]+\.(?:java|kt|scala):\d+\)"),
    ),
    ("a Go panic", re.compile(r"goroutine \d+ \[running\]|\.go:\d+ \+0x[0-9a-f]+")),
    ("a .NET stack frame", re.compile(r"\bin [A-Za-z]:\\[^:\n]+:line \d+")),
    (
        "a server file path",
        re.compile(
            r"(?:/usr/(?:local/)?lib/python\d[\w.]*/|/site-packages/|/dist-packages/|/node_modules/"
            r"|/home/[\w.-]+/|/var/www/|/srv/[\w.-]+/|/opt/[\w.-]+/|/app/[\w./-]+\.(?:py|js|ts|rb|go)"
            r"|[A-Za-z]:\\(?:Users|inetpub|Program Files)\\)"
        ),
    ),
)


def _strings(node: Any) -> list[str]:
    """Every string inside a decoded JSON value (escapes undone, so patterns see real text)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def leaks(text: str) -> list[tuple[str, str]]:
    """Each kind of leak found in ``text``, with the matching excerpt."""
    return [
        (what, m.group(0))
        for what, pattern in LEAK_PATTERNS
        if (m := pattern.search(text)) is not None
    ]


@check(ERROR_LEAK, applies=errors, severity="warning")
def check_error_leak(exchange: Exchange) -> list[Finding]:
    """An error answer carries no stack trace and no server file path."""
    body = exchange.json
    if isinstance(body, dict):
        text = "\n".join(_strings(body))
    else:
        text = exchange.body[:20_000].decode("utf-8", "replace")
    return [
        finding(
            ERROR_LEAK,
            f"the error answer shows {what} of the server: {excerpt!r}",
            pointer="/error/message" if isinstance(body, dict) else "/",
            rule="errors name the request's fault, never the server's code or files",
            value=excerpt,
            request_id=exchange.request_id,
        )
        for what, excerpt in leaks(text)
    ]
