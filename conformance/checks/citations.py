"""Checks of citations: a citation points at the source it quotes.

A ``char_location`` citation's ``cited_text`` is the document's text between
``start_char_index`` (inclusive) and ``end_char_index`` (exclusive), and a
``content_block_location`` citation's lies within the cited content blocks; both only where the
request is at hand and holds that document's text. A PDF's text is not read here, but a
``page_location`` citation's pages must exist: ``start_page_number`` counts from 1 and
``end_page_number`` is not before it (nor past the PDF's last page + 1 where its page count can
be read). A ``search_result_location`` citation's ``cited_text`` is the text of the cited blocks
of the request's search_result block number ``search_result_index`` (counted over the request's
search_result blocks, tool results included, separately from documents). The comparison ignores
whitespace, since the docs do not say how the API joins or trims it.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from conformance.checks._registry import check, success
from conformance.checks.common import finding
from conformance.checks.messages import final_message
from conformance.exchange import Exchange, Finding

CITATION_LOCATION = "citation-location"
_RULE = (
    "a citation's cited_text is the text of its document at the citation's indexes "
    "(document_index counts the request's document blocks, 0-based)"
)


def _documents(request: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    messages = request.get("messages") if isinstance(request, dict) else None
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            out += [b for b in content if isinstance(b, dict) and b.get("type") == "document"]
    return out


def _located(citation: dict[str, Any], doc: dict[str, Any]) -> str | None:
    """The text the citation's indexes select in ``doc``; None when it cannot be known."""
    source = doc.get("source")
    if not isinstance(source, dict):
        return None
    kind = citation.get("type")
    if kind == "char_location" and source.get("type") == "text":
        start, end = citation.get("start_char_index"), citation.get("end_char_index")
        data = source.get("data")
        if isinstance(data, str) and isinstance(start, int) and isinstance(end, int):
            return data[start:end]
    if kind == "content_block_location" and source.get("type") == "content":
        start, end = citation.get("start_block_index"), citation.get("end_block_index")
        content = source.get("content")
        if isinstance(content, list) and isinstance(start, int) and isinstance(end, int):
            return "".join(
                str(b.get("text", "")) for b in content[start:end] if isinstance(b, dict)
            )
    return None


_PAGE = re.compile(rb"/Type\s*/Page(?![a-z])")


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _search_results(request: Any) -> list[dict[str, Any]]:
    """The request's search_result blocks, in order, tool results included."""
    out: list[dict[str, Any]] = []
    messages = request.get("messages") if isinstance(request, dict) else None
    for message in messages if isinstance(messages, list) else []:
        for block in _blocks(message.get("content") if isinstance(message, dict) else None):
            if block.get("type") == "search_result":
                out.append(block)
            elif block.get("type") == "tool_result":
                out += [
                    b for b in _blocks(block.get("content")) if b.get("type") == "search_result"
                ]
    return out


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pdf_page_count(doc: dict[str, Any]) -> int | None:
    source = doc.get("source")
    if not (
        isinstance(source, dict)
        and source.get("type") == "base64"
        and source.get("media_type") == "application/pdf"
    ):
        return None
    try:
        raw = base64.b64decode(str(source.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        return None
    return len(_PAGE.findall(raw)) or None


def _page_problem(cite: dict[str, Any], doc: dict[str, Any]) -> tuple[str, str] | None:
    start, end = cite.get("start_page_number"), cite.get("end_page_number")
    if not isinstance(start, int) or not isinstance(end, int):
        return None  # the schema reports a missing or mistyped field
    if start < 1:
        return (
            "start_page_number",
            f"start_page_number {start} is before page 1 (pages count from 1)",
        )
    if end < start:
        return "end_page_number", f"end_page_number {end} is before start_page_number {start}"
    pages = _pdf_page_count(doc)
    if pages is not None and (start > pages or end > pages + 1):
        return "start_page_number", f"pages {start}..{end} lie outside the PDF's {pages} pages"
    return None


def _search_result_findings(exchange: Exchange, cite: dict[str, Any], ptr: str) -> list[Finding]:
    results = _search_results(exchange.request_json)
    index = cite.get("search_result_index")
    if not isinstance(index, int) or not 0 <= index < len(results):
        return [
            finding(
                CITATION_LOCATION,
                f"search_result_index {index!r} names no "
                f"search_result block of the request ({len(results)} sent)",
                pointer=f"{ptr}/search_result_index",
                rule=_RULE,
                value=index,
                request_id=exchange.request_id,
            )
        ]
    start, end, cited = (
        cite.get("start_block_index"),
        cite.get("end_block_index"),
        cite.get("cited_text"),
    )
    if not (isinstance(start, int) and isinstance(end, int) and isinstance(cited, str)):
        return []
    located = "".join(
        str(b.get("text", "")) for b in _blocks(results[index].get("content"))[start:end]
    )
    if _squeeze(cited) and _squeeze(cited) in _squeeze(located):
        return []
    return [
        finding(
            CITATION_LOCATION,
            f"cited_text {cited!r} is not what search result "
            f"{index} holds in blocks {start}..{end} ({located!r})",
            pointer=f"{ptr}/cited_text",
            rule=_RULE,
            value=cited,
            request_id=exchange.request_id,
        )
    ]


@check(CITATION_LOCATION, endpoints=("messages.create",), applies=success)
def check_citation_locations(exchange: Exchange) -> list[Finding]:
    """Every char_location / content_block_location citation quotes its source at its place."""
    final = final_message(exchange)
    docs = _documents(exchange.request_json)
    if final is None or not (docs or _search_results(exchange.request_json)):
        return []
    content = final.message.get("content")
    out: list[Finding] = []
    for i, block in enumerate(content if isinstance(content, list) else []):
        cites = block.get("citations") if isinstance(block, dict) else None
        for j, cite in enumerate(cites if isinstance(cites, list) else []):
            if not isinstance(cite, dict) or cite.get("type") not in (
                "char_location",
                "content_block_location",
                "page_location",
                "search_result_location",
            ):
                continue
            ptr = final.pointer("content", i, "citations", j)
            if cite["type"] == "search_result_location":
                out += _search_result_findings(exchange, cite, ptr)
                continue
            index = cite.get("document_index")
            if not isinstance(index, int) or not 0 <= index < len(docs):
                out.append(
                    finding(
                        CITATION_LOCATION,
                        f"document_index {index!r} names no "
                        f"document of the request ({len(docs)} sent)",
                        pointer=f"{ptr}/document_index",
                        rule=_RULE,
                        value=index,
                        request_id=exchange.request_id,
                    )
                )
                continue
            if cite["type"] == "page_location":
                problem = _page_problem(cite, docs[index])
                if problem is not None:
                    out.append(
                        finding(
                            CITATION_LOCATION,
                            problem[1],
                            pointer=f"{ptr}/{problem[0]}",
                            rule=_RULE,
                            value=cite.get(problem[0]),
                            request_id=exchange.request_id,
                        )
                    )
                continue
            located = _located(cite, docs[index])
            cited = cite.get("cited_text")
            if located is None or not isinstance(cited, str):
                continue
            if cited.strip() != located.strip() and not (
                cite.get("type") == "content_block_location" and cited.strip() in located
            ):
                out.append(
                    finding(
                        CITATION_LOCATION,
                        f"cited_text {cited!r} is not what document {index} "
                        f"holds at those indexes ({located!r})",
                        pointer=f"{ptr}/cited_text",
                        rule=_RULE,
                        value=cited,
                        request_id=exchange.request_id,
                    )
                )
    return out
