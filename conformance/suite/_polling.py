"""Bounded polling for what the API may show late: a resource just created, not yet listed.

A list endpoint may be served from a replica that has not seen a create yet (eventual
consistency; whether and for how long the real API's batch and file lists lag a create is not
documented: unknown). So a test that looks for what it created walks the list again, with
backoff, until everything shows or ``LISTED_DEADLINE`` passes, and only then calls a missing
resource a violation. Every walk's pages are judged as usual; on a target that lists at once
(the reference server) the first walk finds everything and nothing is repeated.
"""

from __future__ import annotations

import time
from collections.abc import Set
from typing import Any

from conformance.api import Api
from conformance.exchange import Exchange

#: Seconds a created resource may take to appear in its list before its absence fails a test.
LISTED_DEADLINE = 30.0
#: The first pause between two walks (doubled after each, up to ``_MAX_PAUSE``).
_FIRST_PAUSE = 0.25
_MAX_PAUSE = 5.0


def walk_until_listed(
    api: Api,
    endpoint: str,
    wanted: Set[str],
    *,
    limit: int,
    deadline: float = LISTED_DEADLINE,
) -> tuple[list[Exchange], int]:
    """Walk ``endpoint`` (``limit`` items a page) until every id of ``wanted`` was listed, again
    and again with backoff for up to ``deadline`` seconds; ``(pages of the last walk, walks)``.

    The caller asserts on the last walk (each id once, ``wanted`` all seen): a resource still
    missing after the deadline is a finding, not a race.
    """
    give_up = time.monotonic() + deadline
    pause, walks = _FIRST_PAUSE, 0
    while True:
        walks += 1
        pages = api.walk(endpoint, limit=limit, until=lambda items: wanted <= _ids(items))
        seen = {item["id"] for p in pages for item in _data(p)}
        if wanted <= seen or time.monotonic() + pause > give_up:
            return pages, walks
        time.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE)


def _data(page: Exchange) -> list[dict[str, Any]]:
    body = page.json
    data = body.get("data") if isinstance(body, dict) else None
    return [item for item in data or [] if isinstance(item, dict) and "id" in item]


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in items if isinstance(item, dict) and "id" in item}


__all__ = ["LISTED_DEADLINE", "walk_until_listed"]
