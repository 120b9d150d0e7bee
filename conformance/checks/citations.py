"""Checks of citations: a citation points at the source it quotes.

A ``char_location`` citation's ``cited_text`` is the document's text between
``start_char_index`` (inclusive) and ``end_char_index`` (exclusive), and a
``content_block_location`` citation's lies within the cited content blocks; both only where the
request is at hand and holds that document's text (a PDF's pages cannot be read here). The
comparison ignores surrounding whitespace, since the docs do not say whether the API trims it.
"""

from __future__ import annotations

from typing import Any

from conformance.checks._registry import check, success
from conformance.checks.common import finding
from conformance.checks.messages import final_message
from conformance.exchange import Exchange, Finding

CITATION_LOCATION = "citation-location"
_RULE = ("a citation's cited_text is the text of its document at the citation's indexes "
         "(document_index counts the request's document blocks, 0-based)")


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
            return "".join(str(b.get("text", "")) for b in content[start:end]
                           if isinstance(b, dict))
    return None


@check(CITATION_LOCATION, endpoints=("messages.create",), applies=success)
def check_citation_locations(exchange: Exchange) -> list[Finding]:
    """Every char_location / content_block_location citation quotes its source at its place."""
    final = final_message(exchange)
    docs = _documents(exchange.request_json)
    if final is None or not docs:
        return []
    content = final.message.get("content")
    out: list[Finding] = []
    for i, block in enumerate(content if isinstance(content, list) else []):
        cites = block.get("citations") if isinstance(block, dict) else None
        for j, cite in enumerate(cites if isinstance(cites, list) else []):
            if not isinstance(cite, dict) or cite.get("type") not in (
                    "char_location", "content_block_location"):
                continue
            ptr = final.pointer("content", i, "citations", j)
            index = cite.get("document_index")
            if not isinstance(index, int) or not 0 <= index < len(docs):
                out.append(finding(CITATION_LOCATION, f"document_index {index!r} names no "
                                   f"document of the request ({len(docs)} sent)",
                                   pointer=f"{ptr}/document_index", rule=_RULE, value=index,
                                   request_id=exchange.request_id))
                continue
            located = _located(cite, docs[index])
            cited = cite.get("cited_text")
            if located is None or not isinstance(cited, str):
                continue
            if cited.strip() != located.strip() and not (cite.get("type") ==
                                                         "content_block_location"
                                                         and cited.strip() in located):
                out.append(finding(
                    CITATION_LOCATION, f"cited_text {cited!r} is not what document {index} "
                    f"holds at those indexes ({located!r})", pointer=f"{ptr}/cited_text",
                    rule=_RULE, value=cited, request_id=exchange.request_id))
    return out
