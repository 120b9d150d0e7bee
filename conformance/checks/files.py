"""Checks of the Files endpoints: metadata that agrees with the upload, pages of both API
versions, byte-exact downloads and the ``file_deleted`` answer.

``upload_findings`` and ``download_findings`` compare an answer with what the test sent, so they
take plain values; ``check_*`` functions judge one exchange and are registered in ``CHECKS``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from conformance.checks.batches import deleted_check
from conformance.checks.common import finding, is_count
from conformance.checks.models import page_cursor_findings, query_params
from conformance.exchange import Exchange, Finding

FILE_METADATA = "file-metadata"
FILE_PAGE = "file-page"
FILE_CONTENT = "file-content"


def upload_findings(metadata: Any, filename: str, content: bytes, mime_type: str | None = None,
                    *, request_id: str | None = None) -> list[Finding]:
    """The metadata of an upload names the file sent: same filename, size and mime type."""
    if not isinstance(metadata, dict):
        return []
    out: list[Finding] = []
    for key, wanted in (("filename", filename), ("size_bytes", len(content)),
                        ("mime_type", mime_type)):
        if wanted is not None and metadata.get(key) != wanted:
            out.append(finding(FILE_METADATA, f"{key} should be {wanted!r} (what was uploaded), "
                               f"got {metadata.get(key)!r}", pointer=f"/{key}",
                               rule=f"{key} describes the uploaded file", value=metadata.get(key),
                               request_id=request_id))
    return out


def check_file_metadata(exchange: Exchange) -> list[Finding]:
    """A FileMetadata answer: size_bytes is a count (the schema says int, this says >= 0 and
    not a boolean) and a non-downloadable file is never described as downloadable content."""
    meta = exchange.json
    if exchange.status >= 400 or not isinstance(meta, dict):
        return []
    if "size_bytes" in meta and not is_count(meta["size_bytes"]):
        return [finding(FILE_METADATA, "size_bytes should be a non-negative integer",
                        pointer="/size_bytes", rule="size_bytes >= 0", value=meta["size_bytes"],
                        request_id=exchange.request_id)]
    return []


def check_file_page(exchange: Exchange) -> list[Finding]:
    """Either page shape: ID cursors (2023-06-01) agree with the items; a page token
    (2026-10-21) is null or a non-empty string."""
    page = exchange.json
    if exchange.status >= 400 or not isinstance(page, dict):
        return []
    rid = exchange.request_id
    if "next_page" in page:
        token = page["next_page"]
        if token is not None and (not isinstance(token, str) or not token):
            return [finding(FILE_PAGE, "next_page should be null or a non-empty page token",
                            pointer="/next_page", rule="next_page is null or a token",
                            value=token, request_id=rid)]
        return []
    return page_cursor_findings(page, query_params(exchange), request_id=rid)


def download_findings(exchange: Exchange, content: bytes) -> list[Finding]:
    """The downloaded bytes are the uploaded bytes (compared by SHA-256)."""
    got, wanted = hashlib.sha256(exchange.body).hexdigest(), hashlib.sha256(content).hexdigest()
    if got == wanted:
        return []
    return [finding(FILE_CONTENT, f"downloaded {len(exchange.body)} bytes (sha256 {got[:12]}…) "
                    f"differ from the {len(content)} uploaded (sha256 {wanted[:12]}…)",
                    rule="download returns the file's bytes unchanged",
                    request_id=exchange.request_id)]


def check_download(exchange: Exchange) -> list[Finding]:
    """A content answer is as long as its content-length says (a cut download is caught)."""
    length = exchange.response_headers.get("content-length")
    if exchange.status >= 400 or length is None or not length.isdigit():
        return []
    if int(length) != len(exchange.body):
        return [finding(FILE_CONTENT, f"content-length says {length} bytes, the body has "
                        f"{len(exchange.body)}", pointer="/headers/content-length",
                        rule="content-length == body length", value=length,
                        request_id=exchange.request_id)]
    return []


check_file_deleted = deleted_check("file", type_optional=True)
