"""Bounded polling for what a shared list shows late or loses mid-walk.

Two races, neither a violation, both seen when several runs or xdist workers share a target:

* a resource just created may not be listed yet (eventual consistency; whether and for how long
  the real API's batch and file lists lag a create is not documented: unknown);
* the object a page cursor names (``after_id``, a ``next_page`` token) may be deleted by someone
  else between two pages, and the next page is then refused (the reference server answers 400;
  what the real API answers is not documented: unknown).

So a test that looks for what it created walks the list again, with backoff, until everything
shows or ``LISTED_DEADLINE`` passes, and only then calls a missing resource a violation; a page
refused because its cursor's object is gone (its retrieve answers 404) starts the walk again
instead of failing. Every page answered 200 is judged as usual, and a refused page whose cursor
still exists is judged (and fails) as before. On a target that lists at once and that nobody
else changes (the embedded reference server) the first walk is the only one.
"""

from __future__ import annotations

import time
from collections.abc import Set
from typing import Any

from conformance import catalog
from conformance.api import MAX_PAGES, Api, next_page_params
from conformance.exchange import Exchange

#: Seconds a created resource may take to appear in its list before its absence fails a test.
LISTED_DEADLINE = 30.0
#: The first pause between two walks (doubled after each, up to ``_MAX_PAUSE``).
_FIRST_PAUSE = 0.25
_MAX_PAUSE = 5.0
#: List endpoint -> (its retrieve endpoint, that endpoint's id parameter): to ask whether the
#: object a refused cursor named is gone.
RETRIEVE = {
    "batches.list": ("batches.retrieve", "batch_id"),
    "files.list": ("files.retrieve", "file_id"),
}


def walk_until_listed(
    api: Api,
    endpoint: str,
    wanted: Set[str],
    *,
    limit: int,
    deadline: float = LISTED_DEADLINE,
) -> tuple[list[Exchange], int]:
    """Walk ``endpoint`` (``limit`` items a page) until every id of ``wanted`` was listed, again
    with backoff for up to ``deadline`` seconds; ``(pages of the last walk, walks)``.

    The caller asserts on the last walk (each id once, ``wanted`` all seen): a resource still
    missing after the deadline is a finding, not a race.
    """
    give_up = time.monotonic() + deadline
    pause, walks = _FIRST_PAUSE, 0
    while True:
        walks += 1
        last_try = time.monotonic() + pause > give_up
        pages = _walk(api, endpoint, wanted, limit, judge_refusal=last_try)
        if pages is not None:
            seen = {item["id"] for p in pages for item in _data(p)}
            if wanted <= seen or last_try:
                return pages, walks
        time.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE)


def _walk(
    api: Api, endpoint: str, wanted: Set[str], limit: int, *, judge_refusal: bool
) -> list[Exchange] | None:
    """One walk (as ``Api.walk``: ID cursors or page tokens), stopping once ``wanted`` is seen;
    None when a page was refused because its cursor's object is gone (walk again)."""
    method, path = catalog.endpoint(endpoint).method, catalog.endpoint(endpoint).url_path()
    pages: list[Exchange] = []
    params: dict[str, Any] = {"limit": limit}
    seen: set[str] = set()
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        ex = api.client.request(method, path, params=params)
        refused = cursor is not None and 400 <= ex.status < 500 and not judge_refusal
        if refused and cursor is not None and _gone(api, endpoint, cursor):
            return None
        page = api.expect(ex)
        pages.append(ex)
        items = _data(ex)
        seen |= {item["id"] for item in items}
        if wanted <= seen or not items:
            break
        cursor = items[-1]["id"]
        following = next_page_params(page, limit)
        if following is None:
            break
        params = following
    return pages


def _gone(api: Api, endpoint: str, object_id: str) -> bool:
    """Whether the object a cursor named is deleted (its retrieve answers 404)."""
    found = RETRIEVE.get(endpoint)
    if found is None:
        return False
    retrieve, param = found
    path = catalog.endpoint(retrieve).url_path(**{param: object_id})
    return api.client.request(catalog.endpoint(retrieve).method, path).status == 404


def _data(page: Exchange) -> list[dict[str, Any]]:
    body = page.json
    data = body.get("data") if isinstance(body, dict) else None
    return [item for item in data or [] if isinstance(item, dict) and "id" in item]


__all__ = ["LISTED_DEADLINE", "RETRIEVE", "walk_until_listed"]
