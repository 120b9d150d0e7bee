"""Documents and citations: a plain-text document with ``citations: {enabled: true}``.

``api.expect`` runs the citation-location check: every ``char_location`` citation's
``cited_text`` must be the document's text at its indexes. Not covered yet: PDF documents
(``page_location``), custom content documents (``content_block_location``, checked when they
appear), Files API ``file_id`` sources with citations and ``search_result`` blocks.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.api import Api

pytestmark = pytest.mark.feature("documents")

DOCUMENT_TEXT = ("The lighthouse on Kestrel Point was built in 1871. Its lamp is visible for "
                 "eighteen nautical miles. The keeper's cottage is now a small museum.")
QUESTION = "According to the document, when was the lighthouse built? Cite the document."


def _request(api: Api, **extra: Any) -> dict[str, Any]:
    document = {"type": "document", "title": "Kestrel Point",
                "source": {"type": "text", "media_type": "text/plain", "data": DOCUMENT_TEXT},
                "citations": {"enabled": True}}
    return api.message_body(max_tokens=96, messages=[{"role": "user", "content": [
        document, {"type": "text", "text": QUESTION}]}], **extra)


def _citations(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for b in message["content"] if b["type"] == "text"
            for c in b.get("citations") or []]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_text_document_citations(api: Api, stream: bool) -> None:
    ex = api.call("messages.create", _request(api, stream=stream))
    message = api.expect(ex)
    cites = _citations(message)
    assert cites, f"citations were enabled and the answer quotes the document: {message}"
    for cite in cites:
        assert cite["type"] == "char_location", cite
        assert cite["document_index"] == 0 and cite["cited_text"].strip()
        assert cite["cited_text"].strip() in DOCUMENT_TEXT
    if stream:
        kinds = {e.json["delta"]["type"] for e in ex.events or []
                 if e.type == "content_block_delta"}
        assert "citations_delta" in kinds, f"citations stream as citations_delta: {kinds}"
