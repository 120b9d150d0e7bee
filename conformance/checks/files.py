"""Checks of the Files endpoints: metadata that agrees with the upload, pages of both API
versions, byte-exact downloads and the ``file_deleted`` answer.

``upload_findings`` and ``download_findings`` compare an answer with what the test sent, so they
take plain values (on demand); ``check_*`` functions judge one exchange and are registered per
endpoint. ID-cursor pages and the delete answer get the generic ``checks.pagination`` checks.
"""

from __future__ import annotations

import hashlib
from typing import Any

from conformance.checks._registry import check, json_body, on_demand, success
from conformance.checks.common import finding, is_count
from conformance.exchange import Exchange, Finding

FILE_METADATA = "file-metadata"
FILE_PAGE = "file-page"
FILE_CONTENT = "file-content"


@on_demand(FILE_METADATA)
def upload_findings(
    metadata: Any,
    filename: str,
    content: bytes,
    mime_type: str | None = None,
    *,
    request_id: str | None = None,
) -> list[Finding]:
    """The metadata of an upload names the file sent: same filename, size and mime type."""
    if not isinstance(metadata, dict):
        return []
    out: list[Finding] = []
    for key, wanted in (
        ("filename", filename),
        ("size_bytes", len(content)),
        ("mime_type", mime_type),
    ):
        if wanted is not None and metadata.get(key) != wanted:
            out.append(
                finding(
                    FILE_METADATA,
                    f"{key} should be {wanted!r} (what was uploaded), got {metadata.get(key)!r}",
                    pointer=f"/{key}",
                    rule=f"{key} describes the uploaded file",
                    value=metadata.get(key),
                    request_id=request_id,
                )
            )
    return out


@check(FILE_METADATA, endpoints=("files.upload", "files.retrieve"), applies=success & json_body)
def check_file_metadata(exchange: Exchange) -> list[Finding]:
    """A FileMetadata answer: size_bytes is a count (the schema says int, this says >= 0 and
    not a boolean)."""
    meta = exchange.json
    if "size_bytes" in meta and not is_count(meta["size_bytes"]):
        return [
            finding(
                FILE_METADATA,
                "size_bytes should be a non-negative integer",
                pointer="/size_bytes",
                rule="size_bytes >= 0",
                value=meta["size_bytes"],
                request_id=exchange.request_id,
            )
        ]
    return []


@check(FILE_PAGE, endpoints="files.list", applies=success & json_body)
def check_file_page(exchange: Exchange) -> list[Finding]:
    """A page-token page (API 2026-10-21) has a next_page that is null or a non-empty string.

    ID-cursor pages (2023-06-01) get ``pagination.check_page_cursors`` instead.
    """
    page = exchange.json
    if "next_page" not in page:
        return []
    token = page["next_page"]
    if token is not None and (not isinstance(token, str) or not token):
        return [
            finding(
                FILE_PAGE,
                "next_page should be null or a non-empty page token",
                pointer="/next_page",
                rule="next_page is null or a token",
                value=token,
                request_id=exchange.request_id,
            )
        ]
    return []


@on_demand(FILE_CONTENT)
def download_findings(exchange: Exchange, content: bytes) -> list[Finding]:
    """The downloaded bytes are the uploaded bytes (compared by SHA-256)."""
    got, wanted = hashlib.sha256(exchange.body).hexdigest(), hashlib.sha256(content).hexdigest()
    if got == wanted:
        return []
    return [
        finding(
            FILE_CONTENT,
            f"downloaded {len(exchange.body)} bytes (sha256 {got[:12]}…) "
            f"differ from the {len(content)} uploaded (sha256 {wanted[:12]}…)",
            rule="download returns the file's bytes unchanged",
            request_id=exchange.request_id,
        )
    ]


@check(FILE_CONTENT, endpoints="files.download", applies=success)
def check_download(exchange: Exchange) -> list[Finding]:
    """A content answer is as long as its content-length says (a cut download is caught)."""
    length = exchange.response_headers.get("content-length")
    if length is None or not length.isdigit():
        return []
    if int(length) != len(exchange.body):
        return [
            finding(
                FILE_CONTENT,
                f"content-length says {length} bytes, the body has {len(exchange.body)}",
                pointer="/headers/content-length",
                rule="content-length == body length",
                value=length,
                request_id=exchange.request_id,
            )
        ]
    return []
