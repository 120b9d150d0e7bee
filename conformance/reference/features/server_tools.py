"""Server tools: the web search tool (``web_search_20250305`` and its later dated types), run by
the "API" itself within one turn.

Shapes follow api-contract.md §2 and a recorded real web search stream: a ``server_tool_use``
block (``srvtoolu_`` id, ``name: "web_search"``, ``input: {query}``; streamed as
``input_json_delta`` pieces like a client tool call), then a ``web_search_tool_result`` whose
``content`` is a list of ``web_search_result`` ``{url, title, encrypted_content, page_age}``
(streamed whole in its ``content_block_start``), then text blocks, the quoting ones with
``web_search_result_location`` citations ``{cited_text, url, title, encrypted_index}``;
``usage.server_tool_use.web_search_requests`` counts the searches. The reference model searches
once, for the last user text, whenever a web search tool is offered and ``tool_choice`` is not
``none``; its results are fictitious pages under ``https://search.example/``.

Not modelled: web fetch, code execution, the other server tools (accepted, never run), the
search error results (``max_uses_exceeded`` and the rest), ``user_location`` and domain
filtering beyond the documented rule that ``allowed_domains`` and ``blocked_domains`` exclude
each other; the price of a search is not reported here (it is $10 per 1,000 searches on the
real API's bill, not in the answer).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from conformance import catalog
from conformance.reference.errors import invalid

WEB_SEARCH = "web_search"
SERVER_BLOCKS = ("server_tool_use", "web_search_tool_result")


def _web_search(body: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (
            t
            for t in body.get("tools") or []
            if isinstance(t, dict) and str(t.get("type", "")).startswith("web_search_")
        ),
        None,
    )


def check_tool(tool: dict[str, Any], path: str) -> None:
    """A web search tool: named ``web_search``, ``max_uses`` a positive integer, and not both
    ``allowed_domains`` and ``blocked_domains``."""
    if not str(tool.get("type", "")).startswith("web_search_"):
        return
    if tool.get("name") != WEB_SEARCH:
        raise invalid(f"{path}.name: Input should be '{WEB_SEARCH}'")
    uses = tool.get("max_uses")
    if uses is not None and (not isinstance(uses, int) or isinstance(uses, bool) or uses < 1):
        raise invalid(f"{path}.max_uses: Input should be greater than or equal to 1")
    if tool.get("allowed_domains") and tool.get("blocked_domains"):
        raise invalid(f"{path}: allowed_domains and blocked_domains cannot be used together")


def _opaque(value: Any) -> str:
    return base64.b64encode(json.dumps(value, sort_keys=True).encode()).decode()


def search_turn(
    body: dict[str, Any], query: str, tool_id: Callable[[int], str]
) -> list[dict[str, Any]] | None:
    """The blocks of a turn that searches the web for ``query``, or None when no search runs.

    ``tool_id(i)`` mints the client tool id of block i; a server tool id is the same with the
    ``srvtoolu_`` prefix."""
    if _web_search(body) is None or (body.get("tool_choice") or {}).get("type") == "none":
        return None
    query = " ".join(query.split())[:200] or "search"
    digest = hashlib.sha256(query.encode()).hexdigest()[:8]
    server_id = catalog.ID_PREFIXES["server_tool_use"] + tool_id(0).split("_", 1)[1]
    pages = [
        (
            f"https://search.example/{digest}/{n}",
            f"Result {n} for: {query}"[:120],
            f"Page {n} is about {query.rstrip('?.!')[:180]}.",
        )
        for n in (1, 2)
    ]
    results = [
        {
            "type": "web_search_result",
            "url": url,
            "title": title,
            "encrypted_content": _opaque({"url": url, "text": text}),
            "page_age": None,
        }
        for url, title, text in pages
    ]
    url, title, text = pages[0]
    citation = {
        "type": "web_search_result_location",
        "cited_text": text,
        "url": url,
        "title": title,
        "encrypted_index": _opaque({"url": url, "index": 0}),
    }
    return [
        {"type": "server_tool_use", "id": server_id, "name": WEB_SEARCH, "input": {"query": query}},
        {"type": "web_search_tool_result", "tool_use_id": server_id, "content": results},
        {"type": "text", "text": "According to the search results, "},
        {"type": "text", "text": text, "citations": [citation]},
    ]


def usage(content: list[dict[str, Any]]) -> dict[str, int] | None:
    """``usage.server_tool_use`` of a turn: its web search count (None without any)."""
    searches = sum(
        1 for b in content if b.get("type") == "server_tool_use" and b.get("name") == WEB_SEARCH
    )
    return {"web_search_requests": searches} if searches else None
