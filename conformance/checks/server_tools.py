"""Checks of server tools: a server tool call gets its result in the same message, web search
citations cite a search result the conversation holds, and usage counts the searches.

A ``server_tool_use`` block is run by the API within the turn, so its ``*_tool_result`` (same
``tool_use_id``) follows in the same message, unless the turn stopped before it could
(``pause_turn``, ``max_tokens``). A ``web_search_result_location`` citation's ``url`` is one of
the ``web_search_result`` urls of the message or of the request's earlier turns.
``usage.server_tool_use.web_search_requests`` is at least the number of web_search calls of the
message that got a result (a recorded paused turn counts its unanswered last call out; the docs
do not say whether a failed search counts, so more is not a finding).
"""

from __future__ import annotations

from typing import Any

from conformance.checks._registry import check, success
from conformance.checks.common import finding
from conformance.checks.messages import final_message
from conformance.exchange import Exchange, Finding

SERVER_TOOL_RESULTS = "server-tool-results"
_RULE = (
    "a server_tool_use gets its *_tool_result in the same message; web search citations "
    "cite a search result url; usage.server_tool_use.web_search_requests counts the "
    "searches"
)


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _result_urls(blocks: list[dict[str, Any]]) -> set[str]:
    return {
        str(r.get("url"))
        for b in blocks
        if b.get("type") == "web_search_tool_result"
        for r in _blocks(b.get("content"))
    }


def _request_blocks(request: Any) -> list[dict[str, Any]]:
    messages = request.get("messages") if isinstance(request, dict) else None
    return (
        [b for m in messages if isinstance(m, dict) for b in _blocks(m.get("content"))]
        if isinstance(messages, list)
        else []
    )


@check(SERVER_TOOL_RESULTS, endpoints=("messages.create",), applies=success)
def check_server_tool_results(exchange: Exchange) -> list[Finding]:
    """Server tool calls are answered in the message, cited urls exist, searches are counted."""
    final = final_message(exchange)
    if final is None:
        return []
    content = _blocks(final.message.get("content"))
    calls = [(i, b) for i, b in enumerate(content) if b.get("type") == "server_tool_use"]
    out: list[Finding] = []
    answered = {
        b.get("tool_use_id") for b in content if str(b.get("type", "")).endswith("_tool_result")
    }
    if final.message.get("stop_reason") not in ("pause_turn", "max_tokens"):
        out += [
            finding(
                SERVER_TOOL_RESULTS,
                f"server_tool_use {b.get('id')!r} "
                f"({b.get('name')}) has no result block in the message",
                pointer=final.pointer("content", i, "id"),
                rule=_RULE,
                value=b.get("id"),
                request_id=exchange.request_id,
            )
            for i, b in calls
            if b.get("id") not in answered
        ]
    urls = _result_urls(content) | _result_urls(_request_blocks(exchange.request_json))
    for i, block in enumerate(content):
        for j, cite in enumerate(_blocks(block.get("citations"))):
            if cite.get("type") == "web_search_result_location" and cite.get("url") not in urls:
                out.append(
                    finding(
                        SERVER_TOOL_RESULTS,
                        f"citation url {cite.get('url')!r} is "
                        "not among the conversation's web search results",
                        pointer=final.pointer("content", i, "citations", j, "url"),
                        rule=_RULE,
                        value=cite.get("url"),
                        request_id=exchange.request_id,
                    )
                )
    # a call without a result (a paused turn) has not run yet, so is not counted
    searches = sum(1 for _, b in calls if b.get("name") == "web_search" and b.get("id") in answered)
    usage = final.message.get("usage")
    counted = (
        (usage.get("server_tool_use") or {}).get("web_search_requests")
        if isinstance(usage, dict)
        else None
    )
    if searches and not (isinstance(counted, int) and counted >= searches):
        out.append(
            finding(
                SERVER_TOOL_RESULTS,
                f"the message searched the web {searches} "
                f"time(s) but usage.server_tool_use.web_search_requests is "
                f"{counted!r}",
                pointer=final.pointer("usage", "server_tool_use"),
                rule=_RULE,
                value=counted,
                request_id=exchange.request_id,
            )
        )
    return out
