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

A prompt asking several questions (sentences ending in ``?``) gets one search per question; a
search past the tool's ``max_uses`` gets a ``web_search_tool_result`` whose content is
``{type: web_search_tool_result_error, error_code: max_uses_exceeded}`` and is not counted in
usage (the docs: a search that errs is not billed). Web fetch (``features.web_fetch``) and code
execution (``features.code_execution``) run from here too; ``turn`` picks the one the prompt
asks for. Not modelled: the other server tools (accepted, never run), the other search error
codes, ``user_location`` and domain filtering of searches beyond the documented rule that
``allowed_domains`` and ``blocked_domains`` exclude each other; the price of a search is not
reported here (it is $10 per 1,000 searches on the real API's bill, not in the answer).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from conformance import catalog
from conformance.reference.errors import invalid
from conformance.reference.features import code_execution, web_fetch
from conformance.reference.features.code_execution import Sandbox

WEB_SEARCH = "web_search"
#: Blocks the server runs within the turn: never cut by max_tokens or a stop sequence.
SERVER_BLOCKS = (
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "bash_code_execution_tool_result",
)


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
    """A server tool: web search named ``web_search``, not both ``allowed_domains`` and
    ``blocked_domains``; ``max_uses`` (search, fetch) a positive integer."""
    web_fetch.check_tool(tool, path)
    code_execution.check_tool(tool, path)
    uses = tool.get("max_uses")
    if uses is not None and (not isinstance(uses, int) or isinstance(uses, bool) or uses < 1):
        raise invalid(f"{path}.max_uses: Input should be greater than or equal to 1")
    if not str(tool.get("type", "")).startswith("web_search_"):
        return
    if tool.get("name") != WEB_SEARCH:
        raise invalid(f"{path}.name: Input should be '{WEB_SEARCH}'")
    if uses is not None and (not isinstance(uses, int) or isinstance(uses, bool) or uses < 1):
        raise invalid(f"{path}.max_uses: Input should be greater than or equal to 1")
    if tool.get("allowed_domains") and tool.get("blocked_domains"):
        raise invalid(f"{path}: allowed_domains and blocked_domains cannot be used together")


def _opaque(value: Any) -> str:
    return base64.b64encode(json.dumps(value, sort_keys=True).encode()).decode()


def _server_id(tool_id: Callable[[int], str], index: int) -> str:
    return catalog.ID_PREFIXES["server_tool_use"] + tool_id(index).split("_", 1)[1]


def _over(tool: dict[str, Any], used: int) -> bool:
    limit = tool.get("max_uses")
    return isinstance(limit, int) and used >= limit


def questions(text: str) -> list[str]:
    """The questions of the user's text (sentences ending in ``?``); the whole text when it
    asks at most one."""
    found = [q.strip() for q in re.findall(r"[^.?!:\n]+\?", text)]
    return found if len(found) > 1 else [text]


def _search_results(query: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """The results of searching ``query``, the citation of the first one and its text."""
    digest = hashlib.sha256(query.encode()).hexdigest()[:8]
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
    return results, citation, text


def search_turn(
    body: dict[str, Any], query: str, tool_id: Callable[[int], str]
) -> list[dict[str, Any]] | None:
    """The blocks of a turn that searches the web once per question of ``query``, or None when
    no search runs. ``tool_id(i)`` mints the client tool id of block i; a server tool id is the
    same with the ``srvtoolu_`` prefix. Searches past ``max_uses`` get the error result."""
    tool = _web_search(body)
    if tool is None or (body.get("tool_choice") or {}).get("type") == "none":
        return None
    blocks: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for n, asked in enumerate(questions(query)):
        asked = " ".join(asked.split())[:200] or "search"
        server_id = _server_id(tool_id, len(blocks))
        blocks.append(
            {
                "type": "server_tool_use",
                "id": server_id,
                "name": WEB_SEARCH,
                "input": {"query": asked},
            }
        )
        if _over(tool, n):
            error = {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}
            blocks.append(
                {"type": "web_search_tool_result", "tool_use_id": server_id, "content": error}
            )
            answers.append(
                {"type": "text", "text": "I could not search again (max_uses_exceeded)."}
            )
            continue
        results, citation, text = _search_results(asked)
        blocks.append(
            {"type": "web_search_tool_result", "tool_use_id": server_id, "content": results}
        )
        answers += [
            {"type": "text", "text": "According to the search results, "},
            {"type": "text", "text": text, "citations": [citation]},
        ]
    return blocks + answers


def fetch_turn(
    body: dict[str, Any], text: str, tool_id: Callable[[int], str], now: datetime
) -> list[dict[str, Any]] | None:
    """The blocks of a turn that fetches every URL of the user's text (``features.web_fetch``),
    or None when no fetch runs."""
    tool = web_fetch.tool(body)
    wanted = web_fetch.urls(text)
    if tool is None or not wanted or (body.get("tool_choice") or {}).get("type") == "none":
        return None
    blocks: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    documents = citations_documents(body)
    fetched = 0
    for n, url in enumerate(wanted):
        server_id = _server_id(tool_id, len(blocks))
        blocks.append(
            {
                "type": "server_tool_use",
                "id": server_id,
                "name": web_fetch.WEB_FETCH,
                "input": {"url": url},
            }
        )
        done = web_fetch.result(tool, url, server_id, now, _over(tool, n))
        blocks.append(done)
        if done["content"]["type"] != "web_fetch_result":
            answers.append(
                {
                    "type": "text",
                    "text": f"I could not fetch {url} ({done['content']['error_code']}).",
                }
            )
            continue
        quoted = web_fetch.quote(done, documents + fetched)
        fetched += 1
        if not web_fetch.cites(tool):
            quoted.pop("citations")
        answers.append(quoted)
    return blocks + answers


def citations_documents(body: dict[str, Any]) -> int:
    """How many document blocks the request's messages hold."""
    return sum(
        1
        for m in body.get("messages") or []
        if isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "document"
    )


def turn(
    body: dict[str, Any], text: str, tool_id: Callable[[int], str], sandbox: Sandbox | None
) -> list[dict[str, Any]] | None:
    """The blocks of a turn some server tool runs in, or None when the model runs none: code
    execution when the text holds a backquoted command, web fetch when it holds a URL, else a
    web search."""
    if sandbox is not None:
        ran = code_execution.turn(body, text, tool_id, sandbox)
        if ran is not None:
            return ran
    fetched = fetch_turn(body, text, tool_id, sandbox.now if sandbox else datetime.now(UTC))
    return fetched if fetched is not None else search_turn(body, text, tool_id)


def _succeeded(content: list[dict[str, Any]], kind: str) -> set[str]:
    return {
        str(b.get("tool_use_id"))
        for b in content
        if b.get("type") == kind
        and not (
            isinstance(b.get("content"), dict)
            and str(b["content"].get("type", "")).endswith("_error")
        )
    }


def usage(content: list[dict[str, Any]]) -> dict[str, int] | None:
    """``usage.server_tool_use`` of a turn: its successful web searches and fetches (None when
    no server tool ran; recorded answers then carry both counts, zeros included)."""
    calls = [b for b in content if b.get("type") == "server_tool_use"]
    if not calls:
        return None
    searched = _succeeded(content, "web_search_tool_result")
    fetched = _succeeded(content, "web_fetch_tool_result")
    return {
        "web_search_requests": sum(
            1 for b in calls if b.get("name") == WEB_SEARCH and b.get("id") in searched
        ),
        "web_fetch_requests": sum(
            1 for b in calls if b.get("name") == web_fetch.WEB_FETCH and b.get("id") in fetched
        ),
    }
