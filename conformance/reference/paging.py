"""ID-cursor pagination as the API does it, shared by every list route of the reference server.

``limit`` (default 20, 1..1000), ``after_id`` (the page after that object), ``before_id`` (the
page before it), never both; the answer is ``{data, has_more, first_id, last_id}``. Array query
parameters (filters) are read by ``listed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import QueryParams

from conformance.reference.errors import invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def parse_limit(raw: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """The ``limit`` query parameter, with the API's validation messages."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid("limit: Input should be a valid integer") from exc
    if value < 1:
        raise invalid("limit: Input should be greater than or equal to 1")
    if value > maximum:
        raise invalid(f"limit: Input should be less than or equal to {maximum}")
    return value


def listed(query: QueryParams, name: str) -> list[str]:
    """All values of an array query parameter, sent as ``name[]`` (SDKs) or ``name``."""
    return [v for key in (f"{name}[]", name) for v in query.getlist(key) if v != ""]


def id_page(
    items: list[dict[str, Any]],
    query: QueryParams,
    *,
    kind: str = "object",
    id_key: str = "id",
    resolve: Callable[[str], str] = str,
    limit: int | None = None,
) -> dict[str, Any]:
    """One page of ``items`` (already in list order) for the cursors in ``query``.

    ``resolve`` maps a cursor to an item id (models accept aliases); an unknown cursor is a 400
    naming the parameter and the ``kind`` of object.
    """
    size = parse_limit(query.get("limit")) if limit is None else limit
    after, before = query.get("after_id"), query.get("before_id")
    if after and before:
        raise invalid("after_id: cannot be combined with before_id")
    ids = [item[id_key] for item in items]

    def position(cursor: str, name: str) -> int:
        found = resolve(cursor)
        if found not in ids:
            raise invalid(f"{name}: no {kind} with id '{cursor}'")
        return ids.index(found)

    if before:
        end = position(before, "before_id")
        start = max(0, end - size)
        has_more = start > 0
    else:
        start = position(after, "after_id") + 1 if after else 0
        end = start + size
        has_more = end < len(items)
    data = items[start:end]
    return {
        "data": data,
        "has_more": has_more,
        "first_id": data[0][id_key] if data else None,
        "last_id": data[-1][id_key] if data else None,
    }
