"""Documents and citations: plain-text, PDF, custom content and Files API documents, and
``search_result`` blocks, each with ``citations: {enabled: true}``.

``api.expect`` runs the citation-location check: a ``char_location`` / ``content_block_location``
/ ``search_result_location`` citation's ``cited_text`` is the source's text at its indexes, a
``page_location`` citation names pages the PDF has. The tests also compare each ``cited_text``
with the text they put in the source (for a PDF, the text of the cited pages, which the check
cannot read). PDFs are costly on a live target (a page is billed as text plus an image), so
those run there only with ``documents_live``.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from conformance.api import Api
from conformance.resources import ResourceLedger
from conformance.settings import Settings
from conformance.suite._data import pdf
from conformance.suite._live import require_live_toggle
from conformance.suite.test_files import upload
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("documents")

DOCUMENT_TEXT = (
    "The lighthouse on Kestrel Point was built in 1871. Its lamp is visible for "
    "eighteen nautical miles. The keeper's cottage is now a small museum."
)
QUESTION = "According to the document, when was the lighthouse built? Cite the document."


def _request(api: Api, **extra: Any) -> dict[str, Any]:
    document = {
        "type": "document",
        "title": "Kestrel Point",
        "source": {"type": "text", "media_type": "text/plain", "data": DOCUMENT_TEXT},
        "citations": {"enabled": True},
    }
    return api.message_body(
        max_tokens=96,
        messages=[{"role": "user", "content": [document, {"type": "text", "text": QUESTION}]}],
        **extra,
    )


def _citations(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for b in message["content"] if b["type"] == "text" for c in b.get("citations") or []]


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
        kinds = {
            e.json["delta"]["type"] for e in ex.events or [] if e.type == "content_block_delta"
        }
        assert "citations_delta" in kinds, f"citations stream as citations_delta: {kinds}"


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _ask(
    api: Api, source_block: dict[str, Any], question: str = QUESTION, **extra: Any
) -> dict[str, Any]:
    return api.message_body(
        max_tokens=96,
        messages=[{"role": "user", "content": [source_block, {"type": "text", "text": question}]}],
        **extra,
    )


PDF_PAGES = ["The lighthouse on Kestrel Point was built in 1871 by the harbour board."]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_pdf_document_page_citations(
    api: Api, conformance_target: RunTarget, conformance_settings: Settings, stream: bool
) -> None:
    require_live_toggle(conformance_target, conformance_settings, "documents_live")
    document = {
        "type": "document",
        "title": "Kestrel Point",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(pdf(PDF_PAGES)).decode(),
        },
        "citations": {"enabled": True},
    }
    ex = api.call("messages.create", _ask(api, document, stream=stream))
    cites = _citations(api.expect(ex))
    assert cites, "citations were enabled and the answer quotes the PDF"
    for cite in cites:
        assert cite["type"] == "page_location" and cite["document_index"] == 0, cite
        start, end = cite["start_page_number"], cite["end_page_number"]
        pages = " ".join(PDF_PAGES[start - 1 : max(end - 1, start)])
        assert _squeeze(cite["cited_text"]) in _squeeze(pages), (cite, pages)
    if stream:
        kinds = {
            e.json["delta"]["type"] for e in ex.events or [] if e.type == "content_block_delta"
        }
        assert "citations_delta" in kinds, f"citations stream as citations_delta: {kinds}"


CONTENT_BLOCKS = [
    "The lighthouse on Kestrel Point was built in 1871.",
    "Its lamp is visible for eighteen nautical miles.",
]


def test_content_document_block_citations(api: Api) -> None:
    document = {
        "type": "document",
        "title": "Kestrel Point",
        "citations": {"enabled": True},
        "source": {
            "type": "content",
            "content": [{"type": "text", "text": t} for t in CONTENT_BLOCKS],
        },
    }
    cites = _citations(api.expect(api.call("messages.create", _ask(api, document))))
    assert cites, "citations were enabled and the answer quotes the document"
    for cite in cites:
        assert cite["type"] == "content_block_location" and cite["document_index"] == 0, cite
        cited = "".join(CONTENT_BLOCKS[cite["start_block_index"] : cite["end_block_index"]])
        assert _squeeze(cite["cited_text"]) in _squeeze(cited), (cite, cited)


@pytest.mark.feature("files")
def test_file_document_citations(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    meta = upload(
        api,
        resource_ledger,
        f"{conformance_run_id}-kestrel.txt",
        DOCUMENT_TEXT.encode(),
        "text/plain",
    )
    document = {
        "type": "document",
        "title": "Kestrel Point",
        "citations": {"enabled": True},
        "source": {"type": "file", "file_id": meta["id"]},
    }
    cites = _citations(api.expect(api.call("messages.create", _ask(api, document))))
    assert cites, "citations were enabled and the answer quotes the file"
    for cite in cites:
        assert cite["type"] == "char_location" and cite["document_index"] == 0, cite
        located = DOCUMENT_TEXT[cite["start_char_index"] : cite["end_char_index"]]
        assert cite["cited_text"].strip() == located.strip(), (cite, located)


SEARCH_RESULTS = [
    (
        "https://example.com/kestrel",
        "Kestrel Point lighthouse",
        ["The lighthouse on Kestrel Point was built in 1871."],
    ),
    (
        "https://example.com/lamps",
        "Lighthouse lamps",
        ["Its lamp is visible for eighteen nautical miles."],
    ),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_search_result_citations(api: Api, stream: bool) -> None:
    results = [
        {
            "type": "search_result",
            "source": source,
            "title": title,
            "citations": {"enabled": True},
            "content": [{"type": "text", "text": t} for t in texts],
        }
        for source, title, texts in SEARCH_RESULTS
    ]
    body = api.message_body(
        max_tokens=96,
        stream=stream,
        messages=[
            {
                "role": "user",
                "content": [
                    *results,
                    {
                        "type": "text",
                        "text": "When was the lighthouse on Kestrel Point built? "
                        "Cite the search results.",
                    },
                ],
            }
        ],
    )
    cites = _citations(api.expect(api.call("messages.create", body)))
    assert cites, "citations were enabled and the answer quotes a search result"
    for cite in cites:
        assert cite["type"] == "search_result_location", cite
        source, title, texts = SEARCH_RESULTS[cite["search_result_index"]]
        assert cite["source"] == source and cite["title"] == title, cite
        cited = "".join(texts[cite["start_block_index"] : cite["end_block_index"]])
        assert _squeeze(cite["cited_text"]) in _squeeze(cited), (cite, cited)
