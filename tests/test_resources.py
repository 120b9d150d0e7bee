"""The resource ledger, teardown and cleanup, against the reference server's inventory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance import catalog, cli
from conformance.client import ApiClient, Target
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer, ReferenceConfig
from conformance.resources import (
    RUN_MARKER_PREFIX,
    ResourceLedger,
    cleanup,
    new_run_id,
)
from conformance.settings import OPTIONS, TargetKind

V2023 = catalog.API_VERSIONS[0]
MARKER = "conformance-20260101-abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for opt in OPTIONS:
        if opt.env:
            monkeypatch.delenv(opt.env, raising=False)


@pytest.fixture
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ReferenceConfig(batch_seconds=0.0)) as running:
        yield running


def make_client(server: EmbeddedServer, key: str = DEFAULT_API_KEY) -> ApiClient:
    target = Target(TargetKind.LIVE, server.url, key, V2023)
    return ApiClient(target, features=catalog.FEATURE_NAMES)


def upload(client: ApiClient, name: str) -> str:
    ex = client.request("POST", "/v1/files", files={"file": (name, b"data", "text/plain")})
    assert ex.status == 200, ex.describe()
    return str(ex.json["id"])


def create_batch(client: ApiClient, custom_id: str) -> str:
    params = {"model": catalog.DEFAULT_MODEL, "max_tokens": 8,
              "messages": [{"role": "user", "content": "hi"}]}
    ex = client.post("/v1/messages/batches",
                     json={"requests": [{"custom_id": custom_id, "params": params}]})
    assert ex.status == 200, ex.describe()
    return str(ex.json["id"])


def test_run_ids_carry_the_marker() -> None:
    run_id = new_run_id()
    assert run_id.startswith(RUN_MARKER_PREFIX) and run_id != new_run_id()


def test_teardown_removes_newest_first(server: EmbeddedServer) -> None:
    client = make_client(server)
    ledger = ResourceLedger()
    file_id = upload(client, f"{MARKER}-a.txt")
    ledger.register("file", file_id)
    batch_id = create_batch(client, f"{MARKER}-1")
    ledger.register("batch", batch_id)
    before = len(server.app.state.reference_state.journal)
    assert ledger.teardown(client) == []
    deletes = [e.path for e in list(server.app.state.reference_state.journal)[before:]
               if e.method == "DELETE"]
    assert deletes == [f"/v1/messages/batches/{batch_id}", f"/v1/files/{file_id}"]
    assert server.inventory() == {}
    assert len(ledger) == 0


def test_teardown_failures_are_reported_not_raised(server: EmbeddedServer) -> None:
    good = make_client(server)
    file_id = upload(good, f"{MARKER}-b.txt")
    ledger = ResourceLedger()
    ledger.register("file", file_id)
    ledger.register("gizmo", "gizmo_1")
    failures = ledger.teardown(make_client(server, key="wrong-key"))
    assert [f.resource.kind for f in failures] == ["gizmo", "file"]
    assert "no deletion known" in failures[0].message
    assert failures[1].status == 401 and failures[1].request_id.startswith("req_")
    assert "authentication_error" in failures[1].format()
    assert server.inventory() == {"file": [file_id]}


def test_already_deleted_counts_as_removed(server: EmbeddedServer) -> None:
    ledger = ResourceLedger()
    ledger.register("file", "file_never_existed")
    assert ledger.teardown(make_client(server)) == []


def test_cleanup_touches_only_marked_resources(server: EmbeddedServer) -> None:
    client = make_client(server)
    marked_file = upload(client, f"{MARKER}-c.txt")
    other_file = upload(client, "users-own-file.txt")
    marked_batch = create_batch(client, f"{MARKER}-2")
    other_batch = create_batch(client, "users-own-batch")
    listed = cleanup(client, dry_run=True)
    assert {r.id for r in listed} == {marked_file, marked_batch}
    assert len(server.inventory()["file"]) == 2  # a dry run deletes nothing
    other_run = cleanup(client, "conformance-20991231-000000", dry_run=False)
    assert other_run == []
    assert {r.id for r in cleanup(client, MARKER, dry_run=False)} == {marked_file, marked_batch}
    assert server.inventory() == {"file": [other_file], "batch": [other_batch]}
    with pytest.raises(ValueError, match="never touches"):
        cleanup(client, "users-", dry_run=True)


def test_cleanup_command(server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    marked = upload(make_client(server), f"{MARKER}-d.txt")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_API_KEY)
    assert cli.main(["cleanup", "--dry-run"]) == 0
    assert f"would delete file {marked}" in capsys.readouterr().out
    assert server.inventory() == {"file": [marked]}
    assert cli.main(["cleanup"]) == 0
    assert server.inventory() == {}
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    assert cli.main(["cleanup"]) == 2


INTERRUPTED = """
import pytest

@pytest.mark.feature("files", "batches")
def test_creates_then_interrupted(api, resource_ledger, conformance_run_id):
    up = api.call("files.upload", files={"file": (conformance_run_id + "-x.txt", b"x",
                                                  "text/plain")})
    resource_ledger.register("file", up.json["id"])
    params = api.message_body("hi")
    made = api.call("batches.create", {"requests": [
        {"custom_id": conformance_run_id + "-1", "params": params}]})
    resource_ledger.register("batch", made.json["id"])
    raise KeyboardInterrupt

@pytest.mark.feature("files")
def test_creates_then_fails(api, resource_ledger, conformance_run_id):
    up = api.call("files.upload", files={"file": (conformance_run_id + "-y.txt", b"y",
                                                  "text/plain")})
    resource_ledger.register("file", up.json["id"])
    resource_ledger.register("gizmo", "gizmo_1")
    assert False, "the test's own failure"
"""


def test_interrupted_and_failed_runs_leave_nothing(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddedServer(ReferenceConfig(batch_seconds=60.0)) as server:  # still in progress
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_API_KEY)
        pytester.makepyfile(INTERRUPTED)
        failed = pytester.runpytest_subprocess("-k", "fails", "-rA")
        failed.assert_outcomes(failed=1)  # the teardown failure does not mask the test's
        failed.stdout.fnmatch_lines(["*the test's own failure*", "*- anthropic teardown -*",
                                     "*no deletion known for kind 'gizmo'*"])
        assert server.inventory() == {}
        interrupted = pytester.runpytest_subprocess("-k", "interrupted")
        assert interrupted.ret == pytest.ExitCode.INTERRUPTED
        # the batch was in progress: teardown canceled it, waited for it to end, deleted it
        assert server.inventory() == {}
