"""Files API: multipart upload, metadata, list pages, download, use in a message, delete.

Files are made by the test (a text file, a PNG), named with the run marker and registered in the
resource ledger as soon as the upload answered. The real API only lets you download files it
created (``downloadable: true``): for an uploaded file the suite downloads and compares bytes
when the metadata says it is downloadable, and otherwise checks the refusal is a proper 4xx.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import catalog
from conformance.api import Api
from conformance.checks.files import download_findings, upload_findings
from conformance.exchange import raise_for_findings
from conformance.resources import ResourceLedger
from conformance.suite._data import png, text_of
from conformance.suite._polling import LISTED_DEADLINE, walk_until_listed

pytestmark = pytest.mark.feature("files")

UNKNOWN_FILE = catalog.ID_PREFIXES["file"] + "011CConformanceNoSuchFile"


def upload(
    api: Api, ledger: ResourceLedger, filename: str, content: bytes, mime_type: str
) -> dict[str, Any]:
    """Upload one file (multipart part ``file``); registered before its answer is judged."""
    ex = api.call("files.upload", files={"file": (filename, content, mime_type)})
    body = ex.json
    if ex.status == 200 and isinstance(body, dict) and isinstance(body.get("id"), str):
        ledger.register("file", body["id"], label=filename)
    meta: dict[str, Any] = api.expect(ex)
    findings = upload_findings(meta, filename, content, mime_type, request_id=ex.request_id)
    raise_for_findings(findings, ex.describe())
    return meta


def text_file(run_id: str, name: str = "note") -> tuple[str, bytes]:
    return f"{run_id}-{name}.txt", f"Conformance text file {name} of run {run_id}.\n".encode()


def test_upload_text_file_and_get(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    filename, content = text_file(conformance_run_id)
    meta = upload(api, resource_ledger, filename, content, "text/plain")
    assert meta["type"] == "file"
    got = api.expect(api.call("files.retrieve", file_id=meta["id"]))
    for key in ("id", "filename", "mime_type", "size_bytes", "created_at"):
        assert got[key] == meta[key], f"{key}: retrieve says {got[key]!r}, upload {meta[key]!r}"


def test_upload_png_and_download(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    content = png(16, 16, (30, 144, 255))
    meta = upload(api, resource_ledger, f"{conformance_run_id}-blue.png", content, "image/png")
    ex = api.call("files.download", file_id=meta["id"], headers={"accept": "application/binary"})
    if meta.get("downloadable"):
        api.expect(ex)
        raise_for_findings(download_findings(ex, content), ex.describe())
    else:  # uploaded files cannot be downloaded on the real API: a clean refusal
        assert 400 <= ex.status < 500, f"downloading a non-downloadable file: {ex.describe()}"
        api.expect(ex, ex.status)


def test_files_list_pagination(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    mine = set()
    for name in ("page-a", "page-b"):
        filename, content = text_file(conformance_run_id, name)
        mine.add(upload(api, resource_ledger, filename, content, "text/plain")["id"])
    # 2023-06-01 pages with ID cursors, 2026-10-21 with next_page tokens: walk follows both.
    # A file just uploaded may be listed late: walked again, bounded (suite/_polling.py).
    pages, _ = walk_until_listed(api, "files.list", mine, limit=1)
    assert all(len(p.json["data"]) <= 1 for p in pages)
    seen = [f["id"] for p in pages for f in p.json["data"]]
    assert len(seen) == len(set(seen)), f"a file came back twice while paging: {seen}"
    assert mine <= set(seen), (
        f"uploaded files {sorted(mine - set(seen))} not listed after {LISTED_DEADLINE:g}s"
    )


def test_file_in_message(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    filename, content = text_file(conformance_run_id, "doc")
    document = upload(api, resource_ledger, filename, content, "text/plain")
    image = upload(
        api, resource_ledger, f"{conformance_run_id}-red.png", png(200, 200), "image/png"
    )
    parts = {
        "document": {"type": "document", "source": {"type": "file", "file_id": document["id"]}},
        "image": {"type": "image", "source": {"type": "file", "file_id": image["id"]}},
    }
    ask = {"type": "text", "text": "Reply with exactly: files read"}

    def billed(*names: str) -> int:
        blocks = [*(parts[n] for n in names), ask]
        message = api.expect(
            api.create_message(messages=[{"role": "user", "content": blocks}], max_tokens=16)
        )
        assert text_of(message).strip()
        return int(message["usage"]["input_tokens"])

    # Each file reached the model only if it was billed: a proxy that drops document or image
    # blocks still gets an answer, but not their input tokens.
    both = billed("document", "image")
    for dropped, kept in (("document", "image"), ("image", "document")):
        without = billed(kept)
        assert both > without, (
            f"with the {dropped} file the request was billed {both} input tokens, without it "
            f"{without}: the {dropped} did not reach the model"
        )


def test_file_delete_then_not_found(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    filename, content = text_file(conformance_run_id, "gone")
    meta = upload(api, resource_ledger, filename, content, "text/plain")
    deleted = api.expect(api.call("files.delete", file_id=meta["id"]))
    assert deleted["id"] == meta["id"]
    api.expect_error(api.call("files.retrieve", file_id=meta["id"]), 404)


@pytest.mark.feature("errors")
def test_message_with_deleted_file_is_an_error(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    """A message may only reference a file that exists. The API's status for a gone file is
    not documented: 400 invalid_request_error or 404 not_found_error, with the envelope."""
    filename, content = text_file(conformance_run_id, "deleted-ref")
    meta = upload(api, resource_ledger, filename, content, "text/plain")
    api.expect(api.call("files.delete", file_id=meta["id"]))
    blocks = [
        {"type": "document", "source": {"type": "file", "file_id": meta["id"]}},
        {"type": "text", "text": "Reply with exactly: read"},
    ]
    ex = api.create_message(messages=[{"role": "user", "content": blocks}], max_tokens=16)
    assert ex.status in (400, 404), (
        f"a message referencing deleted file {meta['id']} must be refused, got {ex.describe()}"
    )
    api.expect_error(ex, ex.status)


@pytest.mark.feature("errors")
def test_unknown_file_not_found(api: Api) -> None:
    api.expect_error(api.call("files.retrieve", file_id=UNKNOWN_FILE), 404)
    api.expect_error(api.call("files.delete", file_id=UNKNOWN_FILE), 404)


@pytest.mark.feature("files_large")
def test_large_binary_upload(
    api: Api, resource_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    content = bytes(range(256)) * (8 * 4096)  # 8 MiB of every byte value
    meta = upload(
        api, resource_ledger, f"{conformance_run_id}-large.bin", content, "application/octet-stream"
    )
    assert meta["size_bytes"] == len(content)
