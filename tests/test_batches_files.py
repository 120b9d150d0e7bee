"""Batches and Files: the reference server's behaviour, the official SDK parsing it, the checks
on broken answers, JSONL validation and multipart cassette matching."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from starlette.testclient import TestClient
from vcr.request import Request as VcrRequest

from conformance import catalog, schemas
from conformance.cassettes.vcr import match_json_body
from conformance.checks import batches as batch_checks
from conformance.checks import files as file_checks
from conformance.checks import pagination
from conformance.exchange import Exchange
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer, ReferenceConfig, create_app
from conformance.reference.app import inventory
from conformance.suite._data import png
from conformance.validation import validate_exchange

V2023, V2026 = catalog.API_VERSIONS
FILES_BETA = catalog.betas_for(["files"], V2023)[0]
MODEL = catalog.DEFAULT_MODEL


def headers(version: str = V2023, beta: bool = True) -> dict[str, str]:
    out = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": version}
    if beta and version == V2023:
        out["anthropic-beta"] = FILES_BETA
    return out


def client_for(**config: Any) -> TestClient:
    return TestClient(create_app(ReferenceConfig(**config)))


def body(text: str, model: str = MODEL) -> dict[str, Any]:
    return {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": text}]}


REQUESTS = [
    {"custom_id": "a", "params": body("Reply with exactly: one")},
    {"custom_id": "b", "params": body("Reply with exactly: two")},
    {"custom_id": "bad", "params": body("hi", model="claude-no-such-model")},
]


def exchange_of(response: httpx.Response, request_json: Any = None) -> Exchange:
    return Exchange(
        response.request.method,
        response.request.url.path,
        response.status_code,
        {k.lower(): v for k, v in response.headers.items()},
        response.content,
        request_json=request_json,
    )


def assert_valid(ex: Exchange) -> None:
    result = validate_exchange(ex)
    assert result.ok, [f.format() for f in result.findings]


# --- reference server: batches -------------------------------------------------------------------


def test_batch_lifecycle_results_and_delete() -> None:
    client = client_for(batch_seconds=0.0)
    created = client.post("/v1/messages/batches", json={"requests": REQUESTS}, headers=headers())
    assert created.status_code == 200, created.text
    assert_valid(exchange_of(created, {"requests": REQUESTS}))
    batch_id = created.json()["id"]
    assert batch_id.startswith("msgbatch_")
    got = client.get(f"/v1/messages/batches/{batch_id}", headers=headers())
    batch = got.json()
    assert batch["processing_status"] == "ended"
    assert batch["request_counts"] == {
        "processing": 0,
        "succeeded": 2,
        "errored": 1,
        "canceled": 0,
        "expired": 0,
    }
    assert batch["results_url"].endswith(f"/v1/messages/batches/{batch_id}/results")
    results = client.get(f"/v1/messages/batches/{batch_id}/results", headers=headers())
    assert_valid(exchange_of(results))
    lines = {
        line["custom_id"]: line["result"] for line in map(json.loads, results.text.splitlines())
    }
    assert set(lines) == {"a", "b", "bad"}
    assert lines["a"]["message"]["content"][0]["text"] == "one"
    assert lines["bad"]["error"]["error"]["type"] == "not_found_error"
    deleted = client.delete(f"/v1/messages/batches/{batch_id}", headers=headers())
    assert deleted.json() == {"id": batch_id, "type": "message_batch_deleted"}
    assert client.get(f"/v1/messages/batches/{batch_id}", headers=headers()).status_code == 404
    assert inventory(client.app) == {}  # type: ignore[arg-type]


def test_batch_in_progress_cannot_be_deleted_and_cancel_ends_it() -> None:
    client = client_for(batch_seconds=30.0)  # in progress until canceled
    batch_id = client.post(
        "/v1/messages/batches", json={"requests": REQUESTS}, headers=headers()
    ).json()["id"]
    refused = client.delete(f"/v1/messages/batches/{batch_id}", headers=headers())
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    early = client.get(f"/v1/messages/batches/{batch_id}/results", headers=headers())
    assert early.status_code == 400
    canceled = client.post(f"/v1/messages/batches/{batch_id}/cancel", headers=headers()).json()
    assert canceled["processing_status"] == "canceling"
    assert canceled["cancel_initiated_at"] is not None
    time.sleep(0.15)  # canceling lasts at most batches.CANCEL_SECONDS
    ended = client.get(f"/v1/messages/batches/{batch_id}", headers=headers()).json()
    assert ended["processing_status"] == "ended"
    assert ended["request_counts"]["canceled"] == 3
    assert batch_checks.timeline_findings(ended) == []


@pytest.mark.parametrize(
    ("payload", "phrase"),
    [
        ({"requests": []}, "non-empty list"),
        ({"requests": REQUESTS, "metadata": {}}, "metadata: Extra inputs"),
        ({"requests": [REQUESTS[0], REQUESTS[0]]}, "unique"),
        ({"requests": [{"custom_id": "has space", "params": {}}]}, "custom_id"),
    ],
)
def test_batch_create_validation(payload: dict[str, Any], phrase: str) -> None:
    answer = client_for().post("/v1/messages/batches", json=payload, headers=headers())
    assert answer.status_code == 400
    assert phrase in answer.json()["error"]["message"]


def test_unknown_ids_are_not_found() -> None:
    client = client_for()
    for method, path in (
        ("GET", "/v1/messages/batches/msgbatch_nope"),
        ("POST", "/v1/messages/batches/msgbatch_nope/cancel"),
        ("DELETE", "/v1/messages/batches/msgbatch_nope"),
        ("GET", "/v1/files/file_nope"),
        ("DELETE", "/v1/files/file_nope"),
    ):
        answer = client.request(method, path, headers=headers())
        assert answer.status_code == 404, path
        assert answer.json()["error"]["type"] == "not_found_error"


# --- reference server: files ---------------------------------------------------------------------


def test_file_upload_metadata_download_and_versions() -> None:
    content = png(4, 4)
    for downloadable in (False, True):
        client = client_for(downloadable_uploads=downloadable)
        up = client.post(
            "/v1/files", files={"file": ("x.png", content, "image/png")}, headers=headers()
        )
        meta = up.json()
        assert_valid(exchange_of(up))
        assert (meta["size_bytes"], meta["mime_type"], meta["downloadable"]) == (
            len(content),
            "image/png",
            downloadable,
        )
        down = client.get(f"/v1/files/{meta['id']}/content", headers=headers())
        if downloadable:
            assert hashlib.sha256(down.content).digest() == hashlib.sha256(content).digest()
            assert_valid(exchange_of(down))
        else:
            assert down.status_code == 400
    no_beta = client_for().post(
        "/v1/files", files={"file": ("a.txt", b"a", "text/plain")}, headers=headers(beta=False)
    )
    assert no_beta.status_code == 400 and FILES_BETA in no_beta.json()["error"]["message"]
    ga = client_for().post(
        "/v1/files", files={"file": ("a.txt", b"a", "text/plain")}, headers=headers(V2026)
    )
    assert ga.status_code == 200 and "expires_at" in ga.json()


def test_file_list_shapes_per_version() -> None:
    for version in (V2023, V2026):
        client = client_for()
        ids = [
            client.post(
                "/v1/files",
                files={"file": (f"{i}.txt", b"x", "text/plain")},
                headers=headers(version),
            ).json()["id"]
            for i in range(3)
        ]
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 2}
        for _ in range(5):
            answer = client.get("/v1/files", params=params, headers=headers(version))
            assert_valid(exchange_of(answer))
            page = answer.json()
            seen += [f["id"] for f in page["data"]]
            if version == V2026:
                assert set(page) == {"data", "next_page"}
                if not page["next_page"]:
                    break
                params = {"limit": 2, "page": page["next_page"]}
            else:
                if not page["has_more"]:
                    break
                params = {"limit": 2, "after_id": page["last_id"]}
        assert seen == ids[::-1], version  # newest first, each once


def test_file_referenced_from_a_message() -> None:
    client = client_for()
    file_id = client.post(
        "/v1/files", files={"file": ("d.txt", b"hello", "text/plain")}, headers=headers()
    ).json()["id"]
    answer = client.post(
        "/v1/messages",
        headers=headers(),
        json={
            "model": MODEL,
            "max_tokens": 16,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "source": {"type": "file", "file_id": file_id}},
                        {"type": "text", "text": "Reply with exactly: read"},
                    ],
                }
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"][0]["text"] == "read"


def file_message(file_id: str, kind: str = "document") -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 16,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": kind, "source": {"type": "file", "file_id": file_id}},
                    {"type": "text", "text": "Reply with exactly: read"},
                ],
            }
        ],
    }


@pytest.mark.parametrize("kind", ["document", "image"])
@pytest.mark.parametrize("version", catalog.API_VERSIONS)
def test_message_with_unknown_or_deleted_file_is_refused(kind: str, version: str) -> None:
    client = client_for()
    file_id = client.post(
        "/v1/files", files={"file": ("p.png", png(), "image/png")}, headers=headers(version)
    ).json()["id"]
    assert client.delete(f"/v1/files/{file_id}", headers=headers(version)).status_code == 200
    for gone in (file_id, "file_011CConformanceNoSuchFile"):
        answer = client.post(
            "/v1/messages", headers=headers(version), json=file_message(gone, kind)
        )
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["type"] == "invalid_request_error" and gone in error["message"]
        assert_valid(exchange_of(answer))
        counted = client.post(
            "/v1/messages/count_tokens",
            headers=headers(version),
            json={k: v for k, v in file_message(gone, kind).items() if k != "max_tokens"},
        )
        assert counted.status_code == 400 and gone in counted.json()["error"]["message"]


def test_file_source_needs_the_files_beta_where_files_is_a_beta() -> None:
    client = client_for()
    file_id = client.post(
        "/v1/files", files={"file": ("d.txt", b"hello", "text/plain")}, headers=headers()
    ).json()["id"]
    refused = client.post(
        "/v1/messages", headers=headers(V2023, beta=False), json=file_message(file_id)
    )
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error" and FILES_BETA in error["message"]
    assert (
        client.post("/v1/messages", headers=headers(V2023), json=file_message(file_id)).status_code
        == 200
    )
    # Under 2026-10-21 Files is no beta: no header needed.
    assert (
        client.post("/v1/messages", headers=headers(V2026), json=file_message(file_id)).status_code
        == 200
    )


# --- the official SDK ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ReferenceConfig(batch_seconds=0.0, downloadable_uploads=True)) as running:
        yield running


def test_sdk_parses_batches(server: EmbeddedServer) -> None:
    sdk = anthropic.Anthropic(api_key=DEFAULT_API_KEY, base_url=server.url, max_retries=0)
    batch = sdk.messages.batches.create(requests=REQUESTS)  # type: ignore[arg-type]
    assert batch.id.startswith("msgbatch_")
    got = sdk.messages.batches.retrieve(batch.id)
    assert got.processing_status == "ended" and got.request_counts.errored == 1
    assert batch.id in [b.id for b in sdk.messages.batches.list(limit=10)]
    results = {r.custom_id: r.result for r in sdk.messages.batches.results(batch.id)}
    assert results["a"].type == "succeeded" and results["bad"].type == "errored"
    assert sdk.messages.batches.cancel(batch.id).processing_status == "ended"
    assert sdk.messages.batches.delete(batch.id).type == "message_batch_deleted"


def test_sdk_parses_files(server: EmbeddedServer) -> None:
    sdk = anthropic.Anthropic(api_key=DEFAULT_API_KEY, base_url=server.url, max_retries=0)
    meta = sdk.files.upload(file=("n.txt", b"sdk bytes", "text/plain"))
    assert meta.size_bytes == 9 and meta.filename == "n.txt"
    assert sdk.files.retrieve_metadata(meta.id).mime_type == "text/plain"
    assert meta.id in [f.id for f in sdk.files.list(limit=5)]
    assert sdk.files.download(meta.id).read() == b"sdk bytes"
    assert sdk.files.delete(meta.id).id == meta.id
    assert server.inventory().get("file", []) == []


# --- checks on broken answers ---------------------------------------------------------------------

RID = "req_011CTest"
JSON = {"request-id": RID, "content-type": "application/json"}


def batch_answer(**changes: Any) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "id": "msgbatch_01abc",
        "type": "message_batch",
        "processing_status": "ended",
        "request_counts": {
            "processing": 0,
            "succeeded": 2,
            "errored": 1,
            "canceled": 0,
            "expired": 0,
        },
        "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-02T00:00:00Z",
        "ended_at": "2026-01-01T00:01:00Z",
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": "https://api.anthropic.com/v1/messages/batches/msgbatch_01abc/results",
    }
    batch.update(changes)
    return batch


def create_exchange(batch: dict[str, Any]) -> Exchange:
    return Exchange(
        "POST",
        "/v1/messages/batches",
        200,
        JSON,
        json.dumps(batch).encode(),
        request_json={"requests": REQUESTS},
    )


def test_good_batch_passes_every_check() -> None:
    assert_valid(create_exchange(batch_answer()))


def test_counts_that_do_not_add_up_fail_readably() -> None:
    counts = {"processing": 0, "succeeded": 1, "errored": 1, "canceled": 0, "expired": 0}
    result = validate_exchange(create_exchange(batch_answer(request_counts=counts)))
    [f] = [f for f in result.findings if f.check == batch_checks.REQUEST_COUNTS]
    assert "add up to 2" in f.message and "3 request(s)" in f.message
    assert f.pointer == "/request_counts" and f.request_id == RID


def test_timeline_out_of_order_and_status_mismatch() -> None:
    bad = batch_answer(ended_at="2025-12-31T00:00:00Z", results_url=None)
    findings = batch_checks.timeline_findings(bad)
    messages = " ".join(f.message for f in findings)
    assert "before created_at" in messages and "results_url is None" in messages


def test_missing_and_duplicate_custom_ids() -> None:
    lines = [
        {"custom_id": "a", "result": {"type": "canceled"}},
        {"custom_id": "a", "result": {"type": "canceled"}},
    ]
    findings = batch_checks.results_coverage_findings(lines, ["a", "b"])
    text = [f.message for f in findings]
    assert any("'a' appears 2 times" in t for t in text)
    assert any("'b' was sent but has no result line" in t for t in text)


def test_results_lines_are_validated_one_by_one() -> None:
    good = json.dumps({"custom_id": "a", "result": {"type": "canceled"}})
    bad = json.dumps({"custom_id": "b", "result": {"type": "errored", "error": {"oops": 1}}})
    ex = Exchange(
        "GET",
        "/v1/messages/batches/msgbatch_1/results",
        200,
        {"request-id": RID, "content-type": "application/binary"},
        f"{good}\n{bad}\nnot json\n".encode(),
    )
    pointers = {f.pointer.split("/result")[0] for f in validate_exchange(ex).findings}
    assert pointers == {"/lines/1", "/lines/2"}


@pytest.mark.parametrize(
    ("status", "answer", "phrase"),
    [
        (204, None, "HTTP 204 with no body"),
        (
            200,
            {"id": "msgbatch_1", "type": "message_batch"},
            "type should be 'message_batch_deleted'",
        ),
        (200, {"id": "msgbatch_2", "type": "message_batch_deleted"}, "id should be the deleted"),
    ],
)
def test_wrong_delete_shape_fails_readably(status: int, answer: Any, phrase: str) -> None:
    ex = Exchange(
        "DELETE",
        "/v1/messages/batches/msgbatch_1",
        status,
        JSON,
        json.dumps(answer).encode() if answer is not None else b"",
    )
    findings = pagination.check_deleted(ex)
    assert any(phrase in f.message for f in findings), [f.format() for f in findings]


def test_file_checks() -> None:
    meta = {"id": "file_1", "filename": "a.txt", "size_bytes": 3, "mime_type": "text/plain"}
    assert file_checks.upload_findings(meta, "a.txt", b"abc", "text/plain") == []
    [f] = file_checks.upload_findings(meta, "a.txt", b"abcd", "text/plain")
    assert "size_bytes should be 4" in f.message
    ex = Exchange("GET", "/v1/files/file_1/content", 200, {"request-id": RID}, b"abd")
    [f] = file_checks.download_findings(ex, b"abc")
    assert "differ" in f.message
    page = Exchange("GET", "/v1/files", 200, JSON, b'{"data": [], "next_page": ""}')
    assert file_checks.check_file_page(page)[0].pointer == "/next_page"
    assert schemas.validate({"data": [], "next_page": None}, "file_list.json") == []


# --- cassettes: multipart uploads match on content, not on the boundary ---------------------------


def vcr_request(content: bytes) -> VcrRequest:
    built = httpx.Request(
        "POST", "http://h/v1/files", files={"file": ("a.png", content, "image/png")}
    )
    return VcrRequest("POST", str(built.url), built.read(), dict(built.headers))


def test_multipart_bodies_match_whatever_the_boundary() -> None:
    one, two = vcr_request(png()), vcr_request(png())
    assert one.headers["content-type"] != two.headers["content-type"]  # random boundaries
    match_json_body(one, two)
    with pytest.raises(AssertionError):
        match_json_body(one, vcr_request(png(rgb=(1, 2, 3))))
