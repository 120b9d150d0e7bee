"""Safe, faithful recording: secret scanner, readable byte-exact SSE, provenance, overwrites."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from suite_args import SUITE
from vcr.request import Request
from vcr.serialize import deserialize as vcr_deserialize
from vcr.serialize import serialize as vcr_serialize

from conformance import cassettes
from conformance.cassettes import lint, secrets, serializer
from conformance.cassettes.interactions import read_cassette
from conformance.exchange import Exchange
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer
from conformance.runlog import RunLog
from conformance.settings import RecordMode

KEY = "sk-ant-api03-PLANTEDsecretKEY0123456789"
ADMIN = "sk-ant-admin01-PLANTEDadminKEY0123456789"


def raw_interaction(
    *,
    uri: str = "https://api.anthropic.com/v1/messages",
    req_headers: dict[str, list[str]] | None = None,
    req_body: Any = "{}",
    resp_headers: dict[str, list[str]] | None = None,
    resp_body: Any = '{"type":"message"}',
) -> dict[str, Any]:
    return {
        "request": {
            "method": "POST",
            "uri": uri,
            "body": req_body,
            "headers": req_headers or {"anthropic-version": ["2023-06-01"]},
        },
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": resp_headers or {"content-type": ["application/json"]},
            "body": {"string": resp_body},
        },
    }


def write(path: Path, *interactions: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "interactions": list(interactions)}))
    return path


# --- the secret scanner ---------------------------------------------------------------------------


def test_scanner_finds_keys_in_headers_bodies_and_urls(tmp_path: Path) -> None:
    path = write(
        tmp_path / "leaky.yaml",
        raw_interaction(req_headers={"x-api-key": [KEY]}),
        raw_interaction(req_body=json.dumps({"metadata": {"user_id": KEY}})),
        raw_interaction(resp_body=json.dumps({"echo": ADMIN})),
        raw_interaction(uri=f"https://api.anthropic.com/v1/messages?key={KEY}"),
        raw_interaction(req_headers={"authorization": ["Bearer abc123def456ghi789jkl"]}),
        raw_interaction(
            resp_headers={
                "set-cookie": ["session=abc123; Path=/"],
                "anthropic-organization-id": ["b320df16-c1a2-4b3c-9d8e-0123456789ab"],
            }
        ),
    )
    hits = secrets.scan_file(path, hide_org_ids=True)
    found = {(h.index, h.where, h.kind) for h in hits}
    assert (0, "request.headers.x-api-key", "credential header") in found
    assert (1, "request.body", "api key") in found
    assert (2, "response.body", "admin key") in found
    assert (3, "request.uri", "api key") in found
    assert (4, "request.headers.authorization", "credential header") in found
    assert (5, "response.headers.set-cookie", "cookie") in found
    assert (5, "response.headers.anthropic-organization-id", "organization id") in found
    for hit in hits:  # every line names the file and never prints the whole key
        assert hit.format().startswith(str(path)) and KEY not in hit.format()
    assert not any(h.kind == "organization id" for h in secrets.scan_file(path, hide_org_ids=False))


def test_scanner_decodes_base64_and_gzip_bodies(tmp_path: Path) -> None:
    packed = gzip.compress(json.dumps({"leak": KEY}).encode())
    path = tmp_path / "packed.yaml"
    doc = {"interactions": [raw_interaction(resp_body=packed)]}
    path.write_text(yaml.safe_dump(doc))  # bytes become !!binary base64
    assert base64.b64encode(packed).decode()[:20] in path.read_text()
    assert [(h.where, h.kind) for h in secrets.scan_file(path)] == [("response.body", "api key")]


def test_masked_values_are_not_secrets(tmp_path: Path) -> None:
    path = write(
        tmp_path / "clean.yaml",
        raw_interaction(
            req_headers={"x-api-key": ["<redacted>"], "authorization": ["Bearer <redacted>"]},
            req_body=json.dumps({"note": "sk-ant-*** and Bearer tokens"}),
        ),
    )
    assert secrets.scan_file(path) == []


def test_scanner_reads_a_corrupt_file_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(f"interactions: [\n  x-api-key: {KEY}\n")
    [hit] = secrets.scan_file(path)
    assert (hit.index, hit.where, hit.kind) == (None, "line 2", "api key")


def test_check_cassettes_secrets_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conformance import cli

    write(tmp_path / "a.yaml", raw_interaction(req_headers={"x-api-key": [KEY]}))
    assert cli.main(["check-cassettes", "--secrets", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "request.headers.x-api-key: credential header" in out and KEY not in out


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as s:
        yield s


def test_scanner_catches_what_vcrpy_wrote_outside_the_filters(
    tmp_path: Path, server: EmbeddedServer
) -> None:
    """A VCR with no filters (someone else's config) writes the key; the file scan still sees it."""
    recorder = cassettes.make_vcr(RecordMode.ONCE)
    recorder.filter_headers = []
    recorder.before_record_request = None
    recorder.before_record_response = None
    path = tmp_path / "unfiltered.yaml"
    with recorder.use_cassette(str(path)):
        httpx.post(
            f"{server.url}/v1/messages",
            headers={"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"},
            json={
                "model": "claude-haiku-4-5",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": KEY}],
            },
        )
    hits = secrets.scan_file(path, extra=[DEFAULT_API_KEY])
    kinds = {(h.where, h.kind) for h in hits}
    assert ("request.headers.x-api-key", "credential header") in kinds
    assert ("request.body", "api key") in kinds


def test_recording_run_fails_loudly_when_a_secret_was_written(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makeconftest("""
        import pytest
        from conformance.cassettes import vcr as cassettes

        _real = cassettes.make_vcr

        def _leaky(mode):
            recorder = _real(mode)
            recorder.filter_headers = []
            recorder.before_record_request = None
            return recorder

        @pytest.fixture(autouse=True)
        def leaky_vcr(monkeypatch):  # in-process pytester: undone after the test
            monkeypatch.setattr(cassettes, "make_vcr", _leaky)
    """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.feature("models")
        def test_list(api):
            api.expect(api.call("models.list"))
    """)
    result = pytester.runpytest("-q", f"--anthropic-cassette-dir={tmp_path}", "--record-mode=once")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*SECRETS IN RECORDED CASSETTES*", "*request.headers.x-api-key: credential header*"]
    )
    assert DEFAULT_API_KEY not in result.stdout.str()


# --- readable, byte-exact SSE ---------------------------------------------------------------------

SSE_CRLF = (
    'event: message_start\r\ndata: {"type":"message_start","message":{"id":"msg_1"}}   \r\n\r\n'
    'event: ping\r\ndata: {"type": "ping"}          \r\n\r\n'
    'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":0,'
    '"delta":{"type":"text_delta","text":"héllo\\nworld"}}\r\n\r\n'
    'event: message_stop\r\ndata: {"type":"message_stop"}\r\n\r\n'
).encode()


def _round_trip(body: bytes) -> tuple[str, bytes]:
    request = Request("POST", "https://api.anthropic.com/v1/messages", b"{}", {})
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["text/event-stream; charset=utf-8"]},
        "body": {"string": body},
    }
    text = vcr_serialize(
        {"requests": [request], "responses": [response]}, serializer.ReadableSerializer
    )
    _, responses, *_ = vcr_deserialize(text, serializer.ReadableSerializer)
    return text, responses[0]["body"]["string"]


@pytest.mark.parametrize(
    "body", [SSE_CRLF, SSE_CRLF.replace(b"\r\n", b"\n")], ids=["crlf-padded", "lf"]
)
def test_sse_body_is_readable_and_replays_byte_exact(body: bytes) -> None:
    text, replayed = _round_trip(body)
    assert replayed == body
    assert "string: |" in text
    # one event per paragraph: each event line sits on its own line of the cassette
    assert '\n        event: ping\n        data: {"type": "ping"}          \n' in text
    assert ("sse_line_ending" in text) == (b"\r\n" in body)


def test_unreadable_sse_falls_back_to_quoting_and_stays_exact() -> None:
    odd = b'event: ping\rdata: {"type":"ping"}\r\n\x07\n\n'  # bare CR and a control character
    text, replayed = _round_trip(odd)
    assert replayed == odd and "string: |" not in text


def test_readable_sse_is_read_by_the_cassette_reader(tmp_path: Path) -> None:
    text, _ = _round_trip(SSE_CRLF)
    path = tmp_path / "sse.yaml"
    path.write_text(text)
    [it] = read_cassette(path)
    assert it.exchange is not None and it.exchange.body == SSE_CRLF
    assert [e.type for e in it.exchange.events or []][:2] == ["message_start", "ping"]


# --- provenance and overwrite protection ----------------------------------------------------------


def _call(server: EmbeddedServer) -> None:
    httpx.get(
        f"{server.url}/v1/models",
        headers={"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"},
    )


def test_cassette_records_its_provenance(tmp_path: Path, server: EmbeddedServer) -> None:
    path = tmp_path / "v" / "m" / "t.yaml"
    prov = serializer.make_provenance(serializer.REFERENCE_TARGET, "claude-haiku-4-5", "2023-06-01")
    with cassettes.use_cassette(path, RecordMode.ONCE, prov):
        _call(server)
    document = yaml.safe_load(path.read_text())
    assert document["metadata"]["provenance"] == prov
    assert set(prov) == {"target", "recorded", "suite_version", "model", "api_version"}
    result = lint.lint_paths([path])  # stamped: checked whatever the host
    assert result.checked == 1
    assert "recorded against the reference server" in result.provenance[str(path)]
    with cassettes.use_cassette(path, RecordMode.NONE, prov):  # and it replays
        _call(server)


def test_live_target_provenance_names_the_host() -> None:
    assert serializer.target_of("https://api.anthropic.com", False) == "api.anthropic.com"
    assert serializer.target_of("http://127.0.0.1:1234", True) == serializer.REFERENCE_TARGET


@pytest.mark.parametrize("mode", [RecordMode.ALL, RecordMode.NEW_EPISODES])
def test_overwriting_needs_rewrite(
    tmp_path: Path, server: EmbeddedServer, mode: RecordMode
) -> None:
    path = tmp_path / "t.yaml"
    with cassettes.use_cassette(path, RecordMode.ONCE):
        _call(server)
    before = path.read_text()
    with (
        pytest.raises(cassettes.CassetteOverwrite, match="--record-mode=rewrite"),
        cassettes.use_cassette(path, mode),
    ):
        _call(server)
    with cassettes.use_cassette(path, RecordMode.ONCE):  # once never overwrites
        _call(server)
    assert path.read_text() == before
    with cassettes.use_cassette(path, RecordMode.REWRITE):
        _call(server)


def test_recording_run_over_existing_cassettes_is_a_usage_error(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    args = (*SUITE, f"--anthropic-cassette-dir={tmp_path}", "-k", "test_models_list")
    assert pytester.runpytest(*args, "--record-mode=once").ret == 0
    result = pytester.runpytest(*args, "--record-mode=all")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*would write over 1 existing cassette*--record-mode=rewrite*"])


# --- drift in a suite run -------------------------------------------------------------------------


def test_runlog_collects_unknown_headers_and_betas() -> None:
    log = RunLog()
    log.current = "t"
    ex = Exchange(
        "GET",
        "/v1/models",
        200,
        response_headers={
            "request-id": "req_1",
            "anthropic-shiny-new": "1",
            "anthropic-ratelimit-requests-limit": "50",
            "cf-ray": "x",
        },
        request_headers={"anthropic-beta": "files-api-2025-04-14, future-2031-01-01"},
    )
    log.record(ex)
    assert log.drift == {
        ("models.list", "header anthropic-shiny-new"): 1,
        ("models.list", "beta header future-2031-01-01"): 1,
    }


def test_unreadable_cassette_is_a_clear_failure_but_test_errors_pass_through(
    tmp_path: Path,
) -> None:
    """Only loading is translated: an error raised by the test body must reach pytest as is."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("just a string\n")
    unreadable = r"broken\.yaml is unreadable: TypeError"
    with (
        pytest.raises(cassettes.CassetteUnreadable, match=unreadable),
        cassettes.use_cassette(broken, RecordMode.NONE),
    ):
        pass
    fine = tmp_path / "fine.yaml"
    fine.write_text("interactions: []\nversion: 1\n")
    with (
        pytest.raises(KeyError, match="from the test body"),
        cassettes.use_cassette(fine, RecordMode.NONE),
    ):
        raise KeyError("from the test body")
