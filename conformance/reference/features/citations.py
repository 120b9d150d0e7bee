"""Citations: the reference model quotes the first sentence (or first content block) of the first
source that has ``citations: {enabled: true}``, with a citation whose location fields point at
``cited_text`` in that source.

Shapes follow api-contract.md §2, the SDK's citation types and recorded answers: a cited answer
is several text blocks, the cited one carrying ``citations``; a stream starts such a block with
``citations: []`` and sends each citation as a ``citations_delta`` before the text.

* plain-text documents (``source.type: text``, or a Files API ``file`` of ``text/plain``):
  ``char_location``, 0-based character indexes, end exclusive;
* PDFs (``base64`` ``application/pdf``, or a ``file`` of that type): ``page_location``, 1-based
  page numbers, end exclusive (the citations guide's convention). The server reads only what a
  tiny uncompressed PDF holds: the ``(...) Tj`` strings of each content stream, one stream per
  page in file order; a PDF it cannot read so is answered without citations;
* custom content documents (``source.type: content``): ``content_block_location``, 0-based
  block indexes, end exclusive;
* ``search_result`` blocks (in user messages or tool results): ``search_result_location``,
  ``search_result_index`` counting the request's search_result blocks 0-based, separately
  from ``document_index`` (which counts document blocks).

A citation of a Files API document carries its ``file_id`` (assumed: the SDK types have the
field, no recording shows its value).
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Mapping
from typing import Any

from conformance.reference.errors import invalid

_SENTENCE = re.compile(r"\S[^.!?]*[.!?]?")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_SHOW = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj")
_PAGE = re.compile(rb"/Type\s*/Page(?![a-z])")
_INTRO = {"type": "text", "text": "According to the document, "}


def _blocks_of(content: Any) -> list[dict[str, Any]]:
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _walk(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Every block of ``kind`` in the request's messages, tool results included, in order."""
    out: list[dict[str, Any]] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in _blocks_of(content):
            if block.get("type") == kind:
                out.append(block)
            elif block.get("type") == "tool_result":
                out += [b for b in _blocks_of(block.get("content")) if b.get("type") == kind]
    return out


def documents(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every document block of the request, in order (their position is document_index)."""
    out: list[dict[str, Any]] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        out += (
            [b for b in content if isinstance(b, dict) and b.get("type") == "document"]
            if isinstance(content, list)
            else []
        )
    return out


def search_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every search_result block of the request, in order (search_result_index)."""
    return _walk(body, "search_result")


def _check_config(block: dict[str, Any], path: str) -> None:
    config = block.get("citations")
    if config is not None and not (
        isinstance(config, dict) and isinstance(config.get("enabled"), bool)
    ):
        raise invalid(f"{path}.citations.enabled: Input should be a valid boolean")


def _check_text_blocks(content: Any, path: str) -> None:
    if not isinstance(content, list) or not content:
        raise invalid(f"{path}: Input should be a non-empty list of text blocks")
    for i, block in enumerate(content):
        if not (
            isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
        ):
            raise invalid(f"{path}.{i}: Input should be a text block")


def check_document(block: dict[str, Any], path: str) -> None:
    """``citations`` is ``{enabled: bool}``; a text source carries its text as ``data``; a PDF
    is base64 data starting with ``%PDF-``; a content source holds text blocks (or a string)."""
    _check_config(block, path)
    source = block.get("source") or {}
    if not isinstance(source, dict):
        return
    kind = source.get("type")
    if kind == "text":
        if not isinstance(source.get("data"), str):
            raise invalid(f"{path}.source.text.data: Input should be a valid string")
        if source.get("media_type", "text/plain") != "text/plain":
            raise invalid(f"{path}.source.text.media_type: Input should be 'text/plain'")
    elif kind == "base64":
        if source.get("media_type") != "application/pdf":
            raise invalid(f"{path}.source.base64.media_type: Input should be 'application/pdf'")
        try:
            raw = base64.b64decode(str(source.get("data", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid(f"{path}.source.base64.data: The PDF data is not valid base64") from exc
        if not raw.startswith(b"%PDF-"):
            raise invalid(f"{path}.source.base64.data: The PDF specified was not valid.")
    elif kind == "content" and not isinstance(source.get("content"), str):
        _check_text_blocks(source.get("content"), f"{path}.source.content.content")


def check_search_result(block: dict[str, Any], path: str) -> None:
    """A search_result block: ``source`` and ``title`` strings, text-block ``content``."""
    for key in ("source", "title"):
        if not isinstance(block.get(key), str):
            raise invalid(
                f"{path}.{key}: "
                + ("Field required" if key not in block else "Input should be a valid string")
            )
    _check_text_blocks(block.get("content"), f"{path}.content")
    _check_config(block, path)


def pdf_pages(raw: bytes) -> list[str] | None:
    """The text of each page of a tiny uncompressed PDF, or None when it cannot be read so."""
    streams = _STREAM.findall(raw)
    if not streams or len(streams) != len(_PAGE.findall(raw)):
        return None
    pages = []
    for stream in streams:
        shown = [re.sub(rb"\\(.)", rb"\1", s).decode("latin-1") for s in _SHOW.findall(stream)]
        pages.append(" ".join(shown))
    return pages


def resolve_files(body: dict[str, Any], files: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with each Files API document source replaced by the inline source of the file's
    content (text or PDF), keeping its ``file_id``: what the model reads. The original body
    stays the one that is billed and validated."""
    if not any((d.get("source") or {}).get("type") == "file" for d in documents(body)):
        return body
    resolved = copy.deepcopy(body)
    for doc in documents(resolved):
        source = doc.get("source") or {}
        stored = files.get(str(source.get("file_id"))) if source.get("type") == "file" else None
        if stored is None:
            continue
        if stored.mime_type == "application/pdf":
            doc["source"] = {
                "type": "base64",
                "media_type": "application/pdf",
                "data": base64.b64encode(stored.content).decode(),
            }
        elif stored.mime_type.startswith("text/"):
            doc["source"] = {
                "type": "text",
                "media_type": "text/plain",
                "data": stored.content.decode("utf-8", "replace"),
            }
        else:
            continue
        doc["source"]["file_id"] = source["file_id"]
    return resolved


def _enabled(block: dict[str, Any]) -> bool:
    return bool((block.get("citations") or {}).get("enabled"))


def _cite_document(doc: dict[str, Any], index: int) -> dict[str, Any] | None:
    source = doc.get("source") or {}
    head = {"document_index": index, "document_title": doc.get("title")}
    kind = source.get("type")
    if kind == "text":
        text = str(source.get("data", ""))
        match = _SENTENCE.search(text)
        if match is None:
            return None
        return {
            "type": "char_location",
            "cited_text": match.group(0),
            **head,
            "start_char_index": match.start(),
            "end_char_index": match.end(),
            "file_id": source.get("file_id"),
        }
    if kind == "base64" and source.get("media_type") == "application/pdf":
        pages = pdf_pages(base64.b64decode(str(source.get("data", ""))))
        for number, page in enumerate(pages or [], start=1):
            match = _SENTENCE.search(page)
            if match is not None:
                return {
                    "type": "page_location",
                    "cited_text": match.group(0),
                    **head,
                    "start_page_number": number,
                    "end_page_number": number + 1,
                    "file_id": source.get("file_id"),
                }
        return None
    if kind == "content":
        content = source.get("content")
        first = (
            content
            if isinstance(content, str)
            else str(_blocks_of(content)[0].get("text", ""))
            if _blocks_of(content)
            else ""
        )
        if not first.strip():
            return None
        return {
            "type": "content_block_location",
            "cited_text": first,
            **head,
            "start_block_index": 0,
            "end_block_index": 1,
            "file_id": None,
        }
    return None


def cited_answer(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The text blocks of a cited answer, or None when no source enables citations."""
    cite: dict[str, Any] | None = None
    for index, doc in enumerate(documents(body)):
        cite = _cite_document(doc, index) if _enabled(doc) else None
        if cite is not None:
            break
    if cite is None:
        for index, result in enumerate(search_results(body)):
            first = (
                str(_blocks_of(result.get("content"))[0].get("text", ""))
                if _enabled(result) and _blocks_of(result.get("content"))
                else ""
            )
            if first.strip():
                cite = {
                    "type": "search_result_location",
                    "cited_text": first,
                    "source": result.get("source"),
                    "title": result.get("title"),
                    "search_result_index": index,
                    "start_block_index": 0,
                    "end_block_index": 1,
                }
                break
    if cite is None:
        return None
    return [dict(_INTRO), {"type": "text", "text": cite["cited_text"].strip(), "citations": [cite]}]
