"""The example profile's one check, registered in the core registry."""

from __future__ import annotations

from conformance.checks import Guard, check, success
from conformance.exchange import Exchange, Finding
from conformance.profiles import PROFILE_ONLY

ECHO = Guard("echo", lambda e: e.path.split("?", 1)[0] == "/echo")


@check("echo-length", endpoints=PROFILE_ONLY, applies=ECHO & success)
def check_length(exchange: Exchange) -> list[Finding]:
    """length is the number of characters of text."""
    body = exchange.json or {}
    if body.get("length") != len(str(body.get("text", ""))):
        return [Finding("echo-length", "length is not len(text)", pointer="/length")]
    return []


@check("echo-shouting", endpoints=PROFILE_ONLY, applies=ECHO & success)
def check_shouting(exchange: Exchange) -> list[Finding]:
    """The echo keeps the case of the text (a known deviation of shouting deployments)."""
    text = str((exchange.json or {}).get("text", ""))
    if text and text.isupper():
        return [Finding("echo-shouting", "the echo is in upper case", pointer="/text")]
    return []
