"""Checks of the models endpoints and of ID-cursor pages in general.

``check_page_cursors`` judges one page (``{data, has_more, first_id, last_id}``) on its own; any
list endpoint with ID cursors (models, batches, admin lists) can use it. ``check_pagination_walk``
judges the pages of one walk together: what no single page can show, such as an item served
twice. Pointers of a walk are ``/pages/<k>/...`` into the sequence of pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from conformance import catalog
from conformance.checks.common import describe_type, finding
from conformance.exchange import Exchange, Finding

PAGE_CURSORS = "page-cursors"
PAGINATION_WALK = "pagination-walk"
MODEL_ALIAS = "model-alias"


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


def page_cursor_findings(
    page: Any, query: dict[str, str], *, pointer: str = "", request_id: str | None = None
) -> list[Finding]:
    """The cursors of one ID-cursor page agree with its items and with the request's query.

    Clients walk with ``after_id=last_id``: a last_id that is not the last item skips or repeats
    items silently.
    """
    out: list[Finding] = []

    def bad(message: str, at: str, rule: str, value: Any) -> None:
        out.append(finding(PAGE_CURSORS, message, pointer=pointer + at, rule=rule, value=value,
                           request_id=request_id))

    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        return []  # the schema says what is wrong with the envelope
    data: list[Any] = page["data"]
    ids = _ids(data)
    for key, expected, where in (("first_id", ids[0] if ids else None, "data[0].id"),
                                 ("last_id", ids[-1] if ids else None, "data[-1].id")):
        got = page.get(key)
        if got != expected:
            rule = f"{key} == {where}, null when data is empty"
            detail = "data is empty" if not ids else f"{where} is {expected!r}"
            bad(f"{key} is {got!r} but {detail}", f"/{key}", rule, got)
    has_more = page.get("has_more")
    if not isinstance(has_more, bool):
        bad(f"has_more should be a boolean, got {describe_type(has_more)}", "/has_more",
            "has_more is a boolean", has_more)
    limit = query.get("limit", "")
    if limit.isdigit() and len(data) > int(limit):
        bad(f"the page has {len(data)} items but the request asked for limit={limit}", "/data",
            "len(data) <= the limit query parameter", len(data))
    for cursor in ("after_id", "before_id"):
        if query.get(cursor) and query[cursor] in ids:
            i = ids.index(query[cursor])
            bad(f"the page includes {query[cursor]!r}, the {cursor} cursor itself; a page "
                f"starts strictly {'after' if cursor == 'after_id' else 'before'} it",
                f"/data/{i}/id", f"{cursor} is exclusive", query[cursor])
    return out


def check_page_cursors(exchange: Exchange) -> list[Finding]:
    """``page_cursor_findings`` on a successful list answer."""
    if exchange.status >= 400 or exchange.events is not None:
        return []
    return page_cursor_findings(exchange.json, query_params(exchange),
                                request_id=exchange.request_id)


# --- pagination-walk ------------------------------------------------------------------------------


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

        def bad(message: str, at: str, rule: str, value: Any, rid: str | None = rid,
                k: int = k) -> None:
            out.append(finding(PAGINATION_WALK, message, pointer=f"/pages/{k}{at}", rule=rule,
                               value=value, request_id=rid))

        data = body.get("data")
        data = data if isinstance(data, list) else []
        for i, item_id in enumerate(_ids(data)):
            if item_id is None:
                continue
            if item_id in seen:
                bad(f"id {item_id!r} on page {k} was already served at {seen[item_id]}",
                    f"/data/{i}/id", "no item appears twice in a walk", item_id)
            else:
                seen[item_id] = f"/pages/{k}/data/{i}/id"
        is_last = k == len(pages) - 1
        has_more = body.get("has_more")
        if is_last and has_more is not False:
            bad(f"the last page of the walk says has_more {has_more!r}; expected false",
                "/has_more", "the last page has has_more false", has_more)
        elif not is_last and has_more is False:
            bad(f"page {k} says has_more false, yet the walk went on to page {k + 1}",
                "/has_more", "only the last page has has_more false", has_more)
        if not is_last and not data:
            bad(f"page {k} is empty but the walk went on", "/data",
                "a page with has_more true has items", data)
        query = query_params(exchange)
        if previous is not None:
            for cursor, key in (("after_id", "last_id"), ("before_id", "first_id")):
                want = previous.get(key)
                if cursor in query and want is not None and query[cursor] != want:
                    bad(f"page {k} was requested with {cursor}={query[cursor]!r} but the "
                        f"previous page's {key} is {want!r}", f"/request/{cursor}",
                        f"the next page is requested with {cursor} = the previous {key}",
                        query[cursor])
        previous = body
    return out


# --- model-alias ----------------------------------------------------------------------------------


def check_alias_resolution(
    requested: str, model: Any, *, pointer: str = "", request_id: str | None = None
) -> list[Finding]:
    """``GET /v1/models/{requested}`` answered with the model ``requested`` names.

    An id answers with itself; an alias answers with the model the catalog knows for it, or
    with a dated snapshot of it (``claude-haiku-4-5`` -> ``claude-haiku-4-5-20251001``), since
    an alias may move on to a snapshot newer than this suite.
    """
    rule = "a model id or alias resolves to that model"
    if not isinstance(model, dict):
        return [finding(MODEL_ALIAS, f"expected a model object for {requested!r}, got "
                        f"{describe_type(model)}", pointer=pointer, rule=rule, value=model,
                        request_id=request_id)]
    got = model.get("id")
    known = catalog.find_model(requested)
    accepted = {requested} | ({known.id} if known else set())
    if isinstance(got, str) and (got in accepted or got.startswith(requested + "-")):
        return []
    want = " or ".join(repr(a) for a in sorted(accepted))
    return [finding(MODEL_ALIAS, f"asked for model {requested!r}, got id {got!r}; expected {want}"
                    f" or a dated snapshot {requested + '-YYYYMMDD'!r}",
                    pointer=f"{pointer}/id", rule=rule, value=got, request_id=request_id)]


def check_model_alias(exchange: Exchange) -> list[Finding]:
    """``check_alias_resolution`` with the model id taken from the request path."""
    if exchange.status >= 400:
        return []
    requested = unquote(urlsplit(exchange.path).path.rstrip("/").rsplit("/", 1)[-1])
    return check_alias_resolution(requested, exchange.json, request_id=exchange.request_id)
