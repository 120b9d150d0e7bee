"""A distant API on loopback: the reference server waits before each answer.

The real API is tens to hundreds of milliseconds away; the reference server on 127.0.0.1 answers
in about one. A run's wall time against a distant target is dominated by those waits, which is
what parallel runs (``-n N``) win back, and races (a batch that ends before its cancel arrives)
only show with them. ``ReferenceConfig.latency`` (``serve --latency 0.3``,
``--anthropic-reference-latency 0.3`` for the embedded server) makes every HTTP request wait
that long before the app sees it, as if the request had crossed a network; the wait does not
hold the server (other requests are answered meanwhile), as a network would not.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Latency", "batch_seconds", "check_seconds"]

#: An ASGI app: ``await app(scope, receive, send)``.
Asgi = Any
#: How a request waits (the project's tests count the waits instead of timing them).
_sleep = asyncio.sleep


def check_seconds(seconds: float) -> float:
    """``seconds`` when it is a usable latency (0 or more, finite), else ``ValueError``."""
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"the latency must be 0 or more seconds (0.3: 300 ms), got {seconds}")
    return seconds


def batch_seconds(latency: float, default: float) -> float:
    """How long a batch of a server ``latency`` away runs: long enough for a cancel sent on
    its create's answer to arrive while it is still in progress (a round trip and some), as on
    the real API, where a batch runs for minutes; ``default`` without latency."""
    return max(default, 4 * latency)


class Latency:
    """ASGI middleware: each HTTP request waits ``seconds`` before it reaches ``app``."""

    def __init__(self, app: Asgi, seconds: float) -> None:
        self.app = app
        self.seconds = check_seconds(seconds)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and self.seconds:
            await _sleep(self.seconds)
        await self.app(scope, receive, send)
