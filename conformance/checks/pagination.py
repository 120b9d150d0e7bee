"""Generic checks of list pages and deletes, whatever the endpoint family.

``check_page_cursors`` judges one ID-cursor page (``{data, has_more, first_id, last_id}``) on
its own, for every list endpoint with ID cursors; ``check_pagination_walk`` (on demand) judges
the pages of one walk together: what no single page can show, such as an item served twice.
Pointers of a walk are ``/pages/<k>/...`` into the sequence of pages. ``check_deleted`` judges
the ``{id, type: <kind>_deleted}`` answer of a DELETE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conformance.checks._registry import Guard, check, json_body, on_demand, success
from conformance.checks.common import describe_type, finding
from conformance.exchange import Exchange, Finding

PAGE_CURSORS = "page-cursors"
PAGINATION_WALK = "pagination-walk"
DELETED_SHAPE = "deleted-shape"

#: List endpoints whose pages carry ID cursors and items with an ``id``.
ID_PAGE_ENDPOINTS: tuple[str, ...] = (
    "models.list",
    "batches.list",
    "files.list",
    "admin.users.list",
    "admin.workspaces.list",
    "admin.api_keys.list",
    "admin.invites.list",
)
#: A JSON page of ID cursors; a ``next_page`` token page (files, API 2026-10-21) is not one.
id_cursor_page = json_body & Guard("id_cursor_page", lambda e: "next_page" not in e.json)


def query_params(exchange: Exchange) -> dict[str, str]:
    """The query parameters of the request (first value of each), from its URL or its path."""
    for target in (exchange.url, exchange.path):
        query = urlsplit(target).query
        if query:
            return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    return {}


def _ids(data: list[Any]) -> list[Any]:
    return [item.get("id") if isinstance(item, dict) else None for item in data]


# --- page-cursors ---------------------------------------------------------------------------------


@on_demand(PAGE_CURSORS)
def page_cursor_findings(
    page: Any, query: dict[str, str], *, pointer: str = "", request_id: str | None = None
) -> list[Finding]:
    """The cursors of one ID-cursor page agree with its items and with the request's query.

    Clients walk with ``after_id=last_id``: a last_id that is not the last item skips or repeats
    items silently.
    """
    out: list[Finding] = []

    def bad(message: str, at: str, rule: str, value: Any) -> None:
        out.append(
            finding(
                PAGE_CURSORS,
                message,
                pointer=pointer + at,
                rule=rule,
                value=value,
                request_id=request_id,
            )
        )

    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        return []  # the schema says what is wrong with the envelope
    data: list[Any] = page["data"]
    ids = _ids(data)
    for key, expected, where in (
        ("first_id", ids[0] if ids else None, "data[0].id"),
        ("last_id", ids[-1] if ids else None, "data[-1].id"),
    ):
        got = page.get(key)
        if got != expected:
            rule = f"{key} == {where}, null when data is empty"
            detail = "data is empty" if not ids else f"{where} is {expected!r}"
            bad(f"{key} is {got!r} but {detail}", f"/{key}", rule, got)
    has_more = page.get("has_more")
    if not isinstance(has_more, bool):
        bad(
            f"has_more should be a boolean, got {describe_type(has_more)}",
            "/has_more",
            "has_more is a boolean",
            has_more,
        )
    limit = query.get("limit", "")
    if limit.isdigit() and len(data) > int(limit):
        bad(
            f"the page has {len(data)} items but the request asked for limit={limit}",
            "/data",
            "len(data) <= the limit query parameter",
            len(data),
        )
    for cursor in ("after_id", "before_id"):
        if query.get(cursor) and query[cursor] in ids:
            i = ids.index(query[cursor])
            bad(
                f"the page includes {query[cursor]!r}, the {cursor} cursor itself; a page "
                f"starts strictly {'after' if cursor == 'after_id' else 'before'} it",
                f"/data/{i}/id",
                f"{cursor} is exclusive",
                query[cursor],
            )
    return out


@check(PAGE_CURSORS, endpoints=ID_PAGE_ENDPOINTS, applies=success & id_cursor_page)
def check_page_cursors(exchange: Exchange) -> list[Finding]:
    """``page_cursor_findings`` on a successful list answer."""
    return page_cursor_findings(
        exchange.json, query_params(exchange), request_id=exchange.request_id
    )


# --- pagination-walk ------------------------------------------------------------------------------


@on_demand(PAGINATION_WALK)
def check_pagination_walk(pages: Sequence[Exchange]) -> list[Finding]:
    """The pages of one walk, in the order they were fetched, make one list with no repeats.

    Checks that no id appears twice (on one page or across pages), that each page but the last
    says has_more true and the last says false, and that a page requested with after_id (or
    before_id) used the previous page's last_id (or first_id).
    """
    out: list[Finding] = []
    seen: dict[Any, str] = {}
    previous: dict[str, Any] | None = None
    bodies = [p.json if isinstance(p.json, dict) else {} for p in pages]
    for k, (exchange, body) in enumerate(zip(pages, bodies, strict=True)):
        rid = exchange.request_id

        def bad(
            message: str, at: str, rule: str, value: Any, rid: str | None = rid, k: int = k
        ) -> None:
            out.append(
                finding(
                    PAGINATION_WALK,
                    message,
                    pointer=f"/pages/{k}{at}",
                    rule=rule,
                    value=value,
                    request_id=rid,
                )
            )

        data = body.get("data")
        data = data if isinstance(data, list) else []
        for i, item_id in enumerate(_ids(data)):
            if item_id is None:
                continue
            if item_id in seen:
                bad(
                    f"id {item_id!r} on page {k} was already served at {seen[item_id]}",
                    f"/data/{i}/id",
                    "no item appears twice in a walk",
                    item_id,
                )
            else:
                seen[item_id] = f"/pages/{k}/data/{i}/id"
        is_last = k == len(pages) - 1
        has_more = body.get("has_more")
        if is_last and has_more is not False:
            bad(
                f"the last page of the walk says has_more {has_more!r}; expected false",
                "/has_more",
                "the last page has has_more false",
                has_more,
            )
        elif not is_last and has_more is False:
            bad(
                f"page {k} says has_more false, yet the walk went on to page {k + 1}",
                "/has_more",
                "only the last page has has_more false",
                has_more,
            )
        if not is_last and not data:
            bad(
                f"page {k} is empty but the walk went on",
                "/data",
                "a page with has_more true has items",
                data,
            )
        query = query_params(exchange)
        if previous is not None:
            for cursor, key in (("after_id", "last_id"), ("before_id", "first_id")):
                want = previous.get(key)
                if cursor in query and want is not None and query[cursor] != want:
                    bad(
                        f"page {k} was requested with {cursor}={query[cursor]!r} but the "
                        f"previous page's {key} is {want!r}",
                        f"/request/{cursor}",
                        f"the next page is requested with {cursor} = the previous {key}",
                        query[cursor],
                    )
        previous = body
    return out


# --- deleted-shape --------------------------------------------------------------------------------


@on_demand(DELETED_SHAPE)
def deleted_findings(
    body: Any,
    kind: str,
    resource_id: str | None,
    *,
    type_optional: bool = False,
    request_id: str | None = None,
    status: int = 200,
) -> list[Finding]:
    """A delete answers 200 ``{id: <the deleted id>, type: "<kind>_deleted"}``, not a 204."""
    wanted = f"{kind}_deleted"
    rule = f'DELETE answers 200 with {{"id": ..., "type": "{wanted}"}}'
    if status == 204 or not isinstance(body, dict):
        return [
            finding(
                DELETED_SHAPE,
                f"the delete answered HTTP {status} with "
                f"{'no body' if body is None else 'a non-object body'}; the API answers "
                f"200 with {{id, type: {wanted!r}}}",
                rule=rule,
                value=body,
                request_id=request_id,
            )
        ]
    out: list[Finding] = []
    if body.get("type") != wanted and not (type_optional and "type" not in body):
        out.append(
            finding(
                DELETED_SHAPE,
                f"type should be {wanted!r}, got {body.get('type')!r}",
                pointer="/type",
                rule=rule,
                value=body.get("type"),
                request_id=request_id,
            )
        )
    if resource_id is not None and body.get("id") != resource_id:
        out.append(
            finding(
                DELETED_SHAPE,
                f"id should be the deleted {kind} {resource_id!r}, got {body.get('id')!r}",
                pointer="/id",
                rule="the answer names the id that was deleted",
                value=body.get("id"),
                request_id=request_id,
            )
        )
    return out


#: DELETE endpoints -> whether the answer may leave out ``type`` (files: seen without it).
_DELETES: dict[str, bool] = {"batches.delete": False, "files.delete": True}


@check(DELETED_SHAPE, endpoints=tuple(_DELETES), applies=success)
def check_deleted(exchange: Exchange) -> list[Finding]:
    """DELETE of a resource: 200 ``{id, type: <kind>_deleted}`` naming the path's id.

    The kind comes from the endpoint's schema in the catalog (``file_deleted.json``: ``file``).
    """
    endpoint = exchange.endpoint
    if endpoint is None:
        return []
    kind = endpoint.schema.removesuffix(".json").removesuffix("_deleted")
    resource_id = exchange.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or None
    return deleted_findings(
        exchange.json,
        kind,
        resource_id,
        type_optional=_DELETES.get(endpoint.name, False),
        request_id=exchange.request_id,
        status=exchange.status,
    )
