"""Checks of server tools: a server tool call gets its result (of its own kind) in the same
message, web search citations cite a search result the conversation holds, fetched-page
citations quote the page at their indexes, usage counts the searches and fetches, and a code
execution answer reports its container (the one the request asked for, when it named one).

A ``server_tool_use`` block is run by the API within the turn, so its ``*_tool_result`` (same
``tool_use_id``) follows in the same message, unless the turn stopped before it could
(``pause_turn``, ``max_tokens``). A ``web_search_result_location`` citation's ``url`` is one of
the ``web_search_result`` urls of the message or of the request's earlier turns.
``usage.server_tool_use.web_search_requests`` is at least the number of web_search calls of the
message that got a result that is not an error (a recorded paused turn counts its unanswered
last call out; the docs say a failed search is not billed, and whether it counts is not said, so
more is not a finding); ``web_fetch_requests`` likewise for web_fetch. A result's kind follows
its call's name (``web_search`` -> ``web_search_tool_result``, ``bash_code_execution`` ->
``bash_code_execution_tool_result``, ...). A ``char_location`` citation in an answer that
fetched text pages, of a request without documents of its own, quotes one of those pages at its
indexes (which ``document_index`` the API gives a fetched page is not documented, so any
fetched page of the message may match). A message holding code execution results has
``container: {id, expires_at}``, and its id is the request's ``container`` when one was passed.
"""

from __future__ import annotations

from typing import Any

from conformance.checks._registry import check, success
from conformance.checks.common import finding
from conformance.checks.messages import final_message
from conformance.exchange import Exchange, Finding

SERVER_TOOL_RESULTS = "server-tool-results"
_RULE = (
    "a server_tool_use gets its *_tool_result (of its kind) in the same message; web search "
    "citations cite a search result url; fetched-page citations quote the page; "
    "usage.server_tool_use counts the searches and fetches; code execution reports its "
    "container, the requested one when reused"
)
#: Server tool name -> the type of its result block (api-contract.md §2).
RESULT_KINDS = {
    "web_search": "web_search_tool_result",
    "web_fetch": "web_fetch_tool_result",
    "code_execution": "code_execution_tool_result",
    "bash_code_execution": "bash_code_execution_tool_result",
    "text_editor_code_execution": "text_editor_code_execution_tool_result",
}
_CODE_RESULTS = (
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
)
_COUNTED = {"web_search": "web_search_requests", "web_fetch": "web_fetch_requests"}


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
    results = {
        str(b.get("tool_use_id")): b
        for b in content
        if str(b.get("type", "")).endswith("_tool_result")
    }
    answered = set(results)
    out += _kind_findings(exchange, final, calls, results)
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
    out += _fetch_citation_findings(exchange, final, content)
    out += _container_findings(exchange, final, content)
    usage = final.message.get("usage")
    counts = (usage.get("server_tool_use") or {}) if isinstance(usage, dict) else {}
    for name, key in _COUNTED.items():
        # a call without a result (a paused turn) has not run yet, an error is not billed
        ran = sum(
            1
            for _, b in calls
            if b.get("name") == name and not _failed(results.get(str(b.get("id"))))
        )
        counted = counts.get(key) if isinstance(counts, dict) else None
        if ran and not (isinstance(counted, int) and counted >= ran):
            out.append(
                finding(
                    SERVER_TOOL_RESULTS,
                    f"the message ran {name} {ran} time(s) but "
                    f"usage.server_tool_use.{key} is {counted!r}",
                    pointer=final.pointer("usage", "server_tool_use"),
                    rule=_RULE,
                    value=counted,
                    request_id=exchange.request_id,
                )
            )
    return out


def _failed(result: dict[str, Any] | None) -> bool:
    """No result yet, or an error result (``*_error`` content)."""
    if result is None:
        return True
    content = result.get("content")
    return isinstance(content, dict) and str(content.get("type", "")).endswith("_error")


def _kind_findings(
    exchange: Exchange,
    final: Any,
    calls: list[tuple[int, dict[str, Any]]],
    results: dict[str, dict[str, Any]],
) -> list[Finding]:
    out: list[Finding] = []
    index = {id(b): i for i, b in enumerate(_blocks(final.message.get("content")))}
    for _, call in calls:
        wanted = RESULT_KINDS.get(str(call.get("name")))
        got = results.get(str(call.get("id")))
        if wanted is None or got is None or got.get("type") == wanted:
            continue
        out.append(
            finding(
                SERVER_TOOL_RESULTS,
                f"the {call.get('name')} call {call.get('id')!r} is answered by a "
                f"{got.get('type')} block, not {wanted}",
                pointer=final.pointer("content", index.get(id(got), 0), "type"),
                rule=_RULE,
                value=got.get("type"),
                request_id=exchange.request_id,
            )
        )
    return out


def _fetched_texts(content: list[dict[str, Any]]) -> list[str]:
    texts = []
    for block in content:
        fetched = block.get("content") if block.get("type") == "web_fetch_tool_result" else None
        document = fetched.get("content") if isinstance(fetched, dict) else None
        source = document.get("source") if isinstance(document, dict) else None
        if isinstance(source, dict) and source.get("type") == "text":
            texts.append(str(source.get("data", "")))
    return texts


def _has_documents(request: Any) -> bool:
    return any(b.get("type") == "document" for b in _request_blocks(request))


def _fetch_citation_findings(
    exchange: Exchange, final: Any, content: list[dict[str, Any]]
) -> list[Finding]:
    texts = _fetched_texts(content)
    if not texts or _has_documents(exchange.request_json):
        return []
    out: list[Finding] = []
    for i, block in enumerate(content):
        for j, cite in enumerate(_blocks(block.get("citations"))):
            start, end = cite.get("start_char_index"), cite.get("end_char_index")
            cited = cite.get("cited_text")
            if cite.get("type") != "char_location" or not (
                isinstance(start, int) and isinstance(end, int) and isinstance(cited, str)
            ):
                continue
            if any(t[start:end].strip() == cited.strip() for t in texts):
                continue
            out.append(
                finding(
                    SERVER_TOOL_RESULTS,
                    f"cited_text {cited[:80]!r} is not what any fetched page of the "
                    f"message holds at [{start}:{end}]",
                    pointer=final.pointer("content", i, "citations", j, "cited_text"),
                    rule=_RULE,
                    value=cited,
                    request_id=exchange.request_id,
                )
            )
    return out


def _container_findings(
    exchange: Exchange, final: Any, content: list[dict[str, Any]]
) -> list[Finding]:
    if not any(b.get("type") in _CODE_RESULTS for b in content):
        return []
    container = final.message.get("container")
    if not (
        isinstance(container, dict)
        and isinstance(container.get("id"), str)
        and isinstance(container.get("expires_at"), str)
    ):
        return [
            finding(
                SERVER_TOOL_RESULTS,
                f"code ran but the message's container is {container!r}, not {{id, expires_at}}",
                pointer=final.pointer("container"),
                rule=_RULE,
                value=container,
                request_id=exchange.request_id,
            )
        ]
    request = exchange.request_json
    asked = request.get("container") if isinstance(request, dict) else None
    asked = asked.get("id") if isinstance(asked, dict) else asked
    if isinstance(asked, str) and container["id"] != asked:
        return [
            finding(
                SERVER_TOOL_RESULTS,
                f"the request asked for container {asked!r} but the code ran in "
                f"{container['id']!r}",
                pointer=final.pointer("container", "id"),
                rule=_RULE,
                value=container["id"],
                request_id=exchange.request_id,
            )
        ]
    return []
