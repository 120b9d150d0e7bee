"""Citations from plain-text documents: the reference model quotes the first sentence of the
first document that has ``citations: {enabled: true}``, with a ``char_location`` citation whose
indexes locate ``cited_text`` in the document's text.

Shapes follow api-contract.md §2 and recorded answers: a cited answer is several text blocks, the
cited one carrying ``citations``; a stream starts such a block with ``citations: []`` and sends
each citation as a ``citations_delta`` before the text. ``document_index`` counts the request's
document blocks in order, 0-based. PDFs (``page_location``), custom content documents
(``content_block_location``) and ``search_result`` blocks are not cited by this server (not
implemented yet: their documents are accepted and answered without citations).
"""

from __future__ import annotations

import re
from typing import Any

from conformance.reference.errors import invalid

_SENTENCE = re.compile(r"\S[^.!?]*[.!?]?")


def documents(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every document block of the request, in order (their position is document_index)."""
    out: list[dict[str, Any]] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        out += [b for b in content if isinstance(b, dict) and b.get("type") == "document"] \
            if isinstance(content, list) else []
    return out


def check_document(block: dict[str, Any], path: str) -> None:
    """``citations`` is ``{enabled: bool}``; a text source carries its text as ``data``."""
    config = block.get("citations")
    if config is not None and not (isinstance(config, dict)
                                   and isinstance(config.get("enabled"), bool)):
        raise invalid(f"{path}.citations.enabled: Input should be a valid boolean")
    source = block.get("source") or {}
    if isinstance(source, dict) and source.get("type") == "text":
        if not isinstance(source.get("data"), str):
            raise invalid(f"{path}.source.text.data: Input should be a valid string")
        if source.get("media_type", "text/plain") != "text/plain":
            raise invalid(f"{path}.source.text.media_type: Input should be 'text/plain'")


def cited_answer(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The text blocks of a cited answer, or None when no text document enables citations."""
    for index, doc in enumerate(documents(body)):
        source = doc.get("source") or {}
        if not ((doc.get("citations") or {}).get("enabled") and source.get("type") == "text"):
            continue
        text = str(source.get("data", ""))
        match = _SENTENCE.search(text)
        if match is None:
            continue
        citation = {"type": "char_location", "cited_text": match.group(0),
                    "document_index": index, "document_title": doc.get("title"),
                    "start_char_index": match.start(), "end_char_index": match.end(),
                    "file_id": None}
        return [{"type": "text", "text": "According to the document, "},
                {"type": "text", "text": match.group(0), "citations": [citation]}]
    return None
