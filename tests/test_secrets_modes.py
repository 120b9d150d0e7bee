"""Secrets under every mode: echoed keys, xdist recording runs, logs, organization ids."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance import logredact, redact
from conformance.cassettes import session
from conformance.cassettes.vcr import CassetteRefused
from conformance.reference import EmbeddedServer
from conformance.settings import RecordMode

#: Not key-shaped on purpose: only "it is this run's credential" can mask it.
PLANTED = "proxy-PLANTED-7f3a9c2e1b5d"


def _key_of(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return request.headers.get("x-api-key") or auth.removeprefix("Bearer ")


async def _echo(request: Request) -> Response:
    """A target that echoes the key it was sent in a header and in its JSON body."""
    key = _key_of(request)
    return JSONResponse(
        {"type": "echo", "key": key, "note": f"you sent {key}"},
        headers={"x-echo-key": key, "x-echo-note": f"key={key};"},
    )


async def _echo_gzip(request: Request) -> Response:
    body = gzip.compress(json.dumps({"key": _key_of(request)}).encode())
    return Response(body, media_type="application/json", headers={"content-encoding": "gzip"})


async def _echo_compress(request: Request) -> Response:
    return Response(
        b"\x1f\x9d" + _key_of(request).encode(),
        media_type="application/json",
        headers={"content-encoding": "compress"},
    )


ECHO_APP = Starlette(
    routes=[
        Route("/v1/echo-gzip", _echo_gzip),
        Route("/v1/echo-compress", _echo_compress),
        Route("/v1/{path:path}", _echo, methods=["GET", "POST"]),
    ]
)


@pytest.fixture(scope="module")
def echo_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(app=ECHO_APP) as server:
        yield server


def _record(path: Path, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    with session.use_cassette(path, RecordMode.ONCE):
        return httpx.get(url, headers={"x-api-key": PLANTED, **(headers or {})})


# --- every credential masked in every header and body ---------------------------------------------


def test_echoed_key_is_masked_in_every_header_and_body(
    tmp_path: Path, echo_server: EmbeddedServer
) -> None:
    redact.register_secret(PLANTED)  # what the plugin does with each key of the run
    path = tmp_path / "echo.yaml"
    answer = _record(
        path, f"{echo_server.url}/v1/models?x=1", {"x-custom-forward": f"token {PLANTED}"}
    )
    assert answer.headers["x-echo-key"] == PLANTED  # the test talks to the real answer
    written = path.read_bytes()
    assert b"/v1/models" in written and b"x-echo-key" in written
    assert PLANTED.encode() not in written and b"PLANTED" not in written
    assert written.count(redact.MASK.encode()) >= 4  # two headers, two body places (+ request)


def test_gzip_answer_is_decoded_then_masked(tmp_path: Path, echo_server: EmbeddedServer) -> None:
    redact.register_secret(PLANTED)
    path = tmp_path / "gzip.yaml"
    _record(path, f"{echo_server.url}/v1/echo-gzip", {"accept-encoding": "gzip"})
    written = path.read_bytes()
    assert b"PLANTED" not in written and redact.MASK.encode() in written


def test_unreadable_encoding_is_refused_not_written(
    tmp_path: Path, echo_server: EmbeddedServer
) -> None:
    redact.register_secret(PLANTED)
    path = tmp_path / "compress.yaml"
    with pytest.raises(CassetteRefused, match="compress-encoded and cannot be scrubbed"):
        _record(path, f"{echo_server.url}/v1/echo-compress")
    assert not path.exists() or b"PLANTED" not in path.read_bytes()


def test_recording_run_masks_an_echoed_proxy_key(
    pytester: pytest.Pytester,
    tmp_path: Path,
    echo_server: EmbeddedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the plugin: the run's own key (given as ANTHROPIC_API_KEY) is masked everywhere,
    so the post-recording scan finds nothing and the run passes."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", echo_server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", PLANTED)
    pytester.makepyfile("""
        def test_echo(anthropic_client):
            for _ in range(3):
                assert anthropic_client.get("/v1/models").status == 200
    """)
    for auth in ("x-api-key", "bearer"):
        result = pytester.runpytest(
            "-q",
            "-p",
            "no:cacheprovider",
            "--record-mode=rewrite",
            f"--anthropic-cassette-dir={tmp_path}",
            f"--anthropic-auth={auth}",
        )
        assert result.ret == 0, result.stdout.str()
        files = list(tmp_path.rglob("*.yaml"))
        assert files
        for file in files:
            data = file.read_bytes()
            assert b"x-echo-key" in data and b"PLANTED" not in data, file


# --- xdist: the controller scans what every worker wrote ------------------------------------------

_LEAKY_CONFTEST = """
    import pytest
    from conformance.cassettes import vcr as cassettes

    _real = cassettes.make_vcr

    def _leaky(mode):
        recorder = _real(mode)
        recorder.filter_headers = []
        recorder.before_record_request = None
        return recorder

    @pytest.fixture(autouse=True)
    def leaky_vcr(monkeypatch):
        monkeypatch.setattr(cassettes, "make_vcr", _leaky)
"""


@pytest.mark.parametrize("leaky", [True, False])
def test_xdist_recording_run_with_a_secret_fails(
    pytester: pytest.Pytester, tmp_path: Path, leaky: bool
) -> None:
    if leaky:
        pytester.makeconftest(_LEAKY_CONFTEST)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_list(anthropic_client, n):
            assert anthropic_client.get("/v1/models").status == 200
    """)
    result = pytester.runpytest(
        "-q",
        "-n",
        "2",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        f"--anthropic-cassette-dir={tmp_path}",
        "--record-mode=once",
    )
    out = result.stdout.str()
    assert len(list(tmp_path.rglob("*.yaml"))) == 4
    if not leaky:  # the same run with the filters in place passes: the failure is the secret
        assert result.ret == 0, out
        return
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    result.stdout.fnmatch_lines(["*SECRETS IN RECORDED CASSETTES*"])
    flagged = {
        line.split(":", 1)[0]
        for line in out.splitlines()
        if "request.headers.x-api-key: credential header" in line
    }
    assert len(flagged) == 4, out  # every worker's files, not one process's


def test_cassettes_written_since_start_are_found(tmp_path: Path) -> None:
    """What a dead worker wrote is found by its modification time, older files are not."""
    import os

    run = session.RunCassettes(tmp_path, "2023-06-01", RecordMode.ONCE, "reference-server", "m")
    old = tmp_path / "2023-06-01" / "m" / "old.yaml"
    new = tmp_path / "2023-06-01" / "m" / "new.yaml"
    old.parent.mkdir(parents=True)
    old.write_text("x")
    new.write_text("y")
    os.utime(old, (run.started_at - 3600, run.started_at - 3600))
    assert run.written_since_start() == [new]


# --- logs: every record of the run, whoever the logger ----------------------------------------


class _Messages(logging.Handler):
    """Keeps what each record renders to, as any handler would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def httpcore_debug() -> Iterator[_Messages]:
    handler = _Messages()
    logger = logging.getLogger("httpcore")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_log_redaction_masks_httpcore_debug_headers(
    echo_server: EmbeddedServer, httpcore_debug: _Messages, caplog: pytest.LogCaptureFixture
) -> None:
    redact.register_secret(PLANTED)
    installed = logredact.install()
    try:
        with caplog.at_level(logging.DEBUG, logger="httpcore"):
            httpx.get(f"{echo_server.url}/v1/models", headers={"x-api-key": PLANTED})
            logging.getLogger("someone.else").warning("key is %s", PLANTED)
    finally:
        installed.remove()
    assert any("x-echo-key" in m for m in httpcore_debug.messages)  # headers were logged
    texts = [*httpcore_debug.messages, caplog.text, *(r.getMessage() for r in caplog.records)]
    assert any(redact.MASK in t for t in texts)
    assert not [t for t in texts if PLANTED in t]


def test_log_redaction_is_removed_again() -> None:
    redact.register_secret(PLANTED)
    before = logging.getLogRecordFactory()
    installed = logredact.install()
    assert logging.getLogRecordFactory() is not before
    installed.remove()
    assert logging.getLogRecordFactory() is before
    assert not installed.active


def test_plugin_redacts_every_log_record_of_the_run(
    pytester: pytest.Pytester, echo_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh process: only the plugin's installation can mask the key there."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", echo_server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", PLANTED)
    pytester.makepyfile("""
        import logging

        class Keep(logging.Handler):
            messages = []

            def emit(self, record):
                self.messages.append(record.getMessage())

        def test_logs(anthropic_client, caplog):
            logging.getLogger("httpcore").setLevel(logging.DEBUG)
            logging.getLogger("httpcore").addHandler(Keep())
            with caplog.at_level(logging.DEBUG):
                assert anthropic_client.get("/v1/models").status == 200
            assert any("x-echo-key" in m for m in Keep.messages)
            bad = [m for m in Keep.messages + [caplog.text] if "PLANTED" in m]
            assert not bad, bad
    """)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    assert "PLANTED" not in result.stdout.str()


# --- organization ids under any org_id-style key (--hide-org-ids) --------------------------------

ORG = "5f0c4a8e-3b1d-4c6e-9a2f-7d8e1b0c9a34"


def _cassette(path: Path, resp_headers: dict[str, list[str]], body: str) -> Path:
    import yaml

    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "interactions": [
                    {
                        "request": {
                            "method": "GET",
                            "uri": "https://api.example/v1/models",
                            "body": None,
                            "headers": {"anthropic-version": ["2023-06-01"]},
                        },
                        "response": {
                            "status": {"code": 200, "message": "OK"},
                            "headers": {"content-type": ["application/json"], **resp_headers},
                            "body": {"string": body},
                        },
                    }
                ],
            }
        )
    )
    return path


@pytest.mark.parametrize(
    ("headers", "body", "where"),
    [
        ({}, json.dumps({"org_id": ORG}), "response.body"),
        ({}, json.dumps({"data": [{"organization_id": "org_01HZX9ABCDEF"}]}), "response.body"),
        ({}, json.dumps({"organizationId": ORG}), "response.body"),
        ({}, json.dumps({"meta": {"orgId": ORG}}, indent=2), "response.body"),
        ({"x-org-id": [ORG]}, "{}", "response.headers.x-org-id"),
        ({"x-organization-id": ["org_01HZX9ABCDEF"]}, "{}", "response.headers.x-organization-id"),
        ({"anthropic-organization-id": [ORG]}, "{}", "response.headers.anthropic-organization-id"),
    ],
)
def test_hide_org_ids_flags_org_id_keys(
    tmp_path: Path, headers: dict[str, list[str]], body: str, where: str
) -> None:
    from conformance.cassettes import secrets

    path = _cassette(tmp_path / "org.yaml", headers, body)
    hits = secrets.scan_file(path, hide_org_ids=True)
    assert [(h.where, h.kind) for h in hits if h.index is not None] == [(where, "organization id")]
    assert not secrets.scan_file(path)  # only with --hide-org-ids


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"workspace_id": ORG, "id": ORG}),  # other ids are not organization ids
        json.dumps({"org_id": "<redacted>"}),
        json.dumps({"org_id": "org_short"}),
        json.dumps({"my_org_idx": ORG}),
    ],
)
def test_hide_org_ids_leaves_other_values(tmp_path: Path, body: str) -> None:
    from conformance.cassettes import secrets

    path = _cassette(tmp_path / "org.yaml", {"x-request-id": [ORG]}, body)
    assert secrets.scan_file(path, hide_org_ids=True) == []
