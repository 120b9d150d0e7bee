"""The resource ledger, teardown and cleanup, against the reference server's inventory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import catalog, cli
from conformance.client import ApiClient, Target
from conformance.reference import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    EmbeddedServer,
    ReferenceConfig,
)
from conformance.resources import (
    ADMIN_KEY,
    API_KEY,
    RUN_MARKER_PREFIX,
    ResourceLedger,
    cleanup,
    new_run_id,
)
from conformance.settings import OPTIONS
from conformance.target import TargetKind

V2023 = catalog.API_VERSIONS[0]
MARKER = "conformance-20260101-abcdef"


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
    params = {
        "model": catalog.DEFAULT_MODEL,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
    }
    ex = client.post(
        "/v1/messages/batches", json={"requests": [{"custom_id": custom_id, "params": params}]}
    )
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
    deletes = [
        e.path
        for e in list(server.app.state.reference_state.journal)[before:]
        if e.method == "DELETE"
    ]
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


def test_cleanup_command(
    server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_interrupted_and_failed_runs_leave_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedServer(ReferenceConfig(batch_seconds=60.0)) as server:  # still in progress
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_API_KEY)
        pytester.makepyfile(INTERRUPTED)
        failed = pytester.runpytest_subprocess("-k", "fails", "-rA")
        failed.assert_outcomes(failed=1)  # the teardown failure does not mask the test's
        failed.stdout.fnmatch_lines(
            [
                "*the test's own failure*",
                "*- anthropic teardown -*",
                "*no deletion known for kind 'gizmo'*",
            ]
        )
        assert server.inventory() == {}
        interrupted = pytester.runpytest_subprocess("-k", "interrupted")
        assert interrupted.ret == pytest.ExitCode.INTERRUPTED
        # the batch was in progress: teardown canceled it, waited for it to end, deleted it
        assert server.inventory() == {}


# --- admin kinds: one cleanup pass with both keys, and the session's safety net -------------------

CRASHED = """
import os

import pytest

@pytest.mark.feature("files", "admin", "admin_write")
def test_crashes_hard(api, admin_api, resource_ledger, admin_ledger, conformance_run_id):
    up = api.call("files.upload", files={"file": (conformance_run_id + "-z.txt", b"z",
                                                  "text/plain")})
    resource_ledger.register("file", up.json["id"])
    inv = admin_api.expect(admin_api.call("admin.invites.create",
        {"email": conformance_run_id + "+crash@example.com", "role": "user"}))
    admin_ledger.register("invite", inv["id"])
    ws = admin_api.expect(admin_api.call("admin.workspaces.create",
                                         {"name": conformance_run_id + " crash"}))
    admin_ledger.register("workspace", ws["id"])
    users = admin_api.expect(admin_api.call("admin.users.list"))["data"]
    uid = next(u["id"] for u in users if u["role"] == "user")
    admin_api.expect(admin_api.call("admin.workspace_members.create",
        {"user_id": uid, "workspace_role": "workspace_user"}, workspace_id=ws["id"]))
    admin_ledger.register("workspace_member", uid, parent=ws["id"])
    os._exit(3)  # killed: no teardown, no safety net
"""

SUBPROCESS_ARGS = ("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")


def cli_command() -> list[str]:
    """The installed ``anthropic-conformance`` script (or ``python -m conformance``)."""
    script = Path(sys.executable).with_name("anthropic-conformance")
    return [str(script)] if script.exists() else [sys.executable, "-m", "conformance"]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {o.env for o in OPTIONS if o.env}}
    return subprocess.run(
        [*cli_command(), "cleanup", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def admin_client(server: EmbeddedServer) -> ApiClient:
    return make_client(server, key=DEFAULT_ADMIN_API_KEY)


def test_cleanup_cli_removes_leftovers_of_every_kind_in_one_pass(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedServer(ReferenceConfig(batch_seconds=0.0)) as server:
        keys = {
            "ANTHROPIC_BASE_URL": server.url,
            "ANTHROPIC_API_KEY": DEFAULT_API_KEY,
            "ANTHROPIC_ADMIN_API_KEY": DEFAULT_ADMIN_API_KEY,
        }
        for name, value in keys.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ANTHROPIC_CONFORMANCE_FEATURES", "files,admin,admin_write")
        pytester.makepyfile(CRASHED)
        crashed = pytester.runpytest_subprocess(*SUBPROCESS_ARGS)
        assert crashed.ret == 3, crashed.stdout.str()
        # unmarked resources of the user's own, which cleanup must never touch
        own_file = upload(make_client(server), "users-own-file.txt")
        admin = admin_client(server)
        own_ws = admin.post("/v1/organizations/workspaces", json={"name": "someone else's"})
        own_invite = admin.post(
            "/v1/organizations/invites", json={"email": "someone@example.com", "role": "user"}
        )
        assert own_ws.status == own_invite.status == 200
        left = server.inventory()
        assert {k: len(v) for k, v in left.items()} == {
            "file": 2,
            "invite": 2,
            "workspace": 2,
            "workspace_member": 1,
        }, left

        listed = run_cli("--dry-run", env=keys)
        assert listed.returncode == 0, listed.stderr
        for kind in ("file", "invite", "workspace", "workspace_member"):
            assert f"would delete {kind} " in listed.stdout, listed.stdout
        assert "skipped" not in listed.stdout
        assert server.inventory() == left, "a dry run deletes nothing"

        done = run_cli(env=keys)
        assert done.returncode == 0, done.stderr
        assert "4 marked resources deleted" in done.stdout, done.stdout
        assert server.inventory() == {
            "file": [own_file],
            "invite": [own_invite.json["id"]],
            "workspace": [own_ws.json["id"]],
        }


def test_cleanup_cli_says_which_kinds_it_skipped(server: EmbeddedServer) -> None:
    marked = upload(make_client(server), f"{MARKER}-e.txt")
    only_api = run_cli(env={"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": DEFAULT_API_KEY})
    assert only_api.returncode == 0, only_api.stderr
    assert (
        "admin kinds skipped (invite, workspace, workspace_member): set ANTHROPIC_ADMIN_API_KEY"
    ) in only_api.stdout
    assert server.inventory() == {}, f"{marked} is removed with the API key alone"
    only_admin = run_cli(
        "--dry-run",
        env={"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_ADMIN_API_KEY": DEFAULT_ADMIN_API_KEY},
    )
    assert only_admin.returncode == 0, only_admin.stderr
    assert "api kinds skipped (file, batch): set ANTHROPIC_API_KEY" in only_admin.stdout


def test_teardown_uses_the_client_of_each_kind(server: EmbeddedServer) -> None:
    admin = admin_client(server)
    invite = admin.post(
        "/v1/organizations/invites", json={"email": f"{MARKER}+t@example.com", "role": "user"}
    ).json["id"]
    file_id = upload(make_client(server), f"{MARKER}-f.txt")
    ledger = ResourceLedger()
    ledger.register("file", file_id)
    ledger.register("invite", invite)
    failures = ledger.teardown(make_client(server))  # the normal key only
    assert [f.message for f in failures] == ["needs the admin key: set ANTHROPIC_ADMIN_API_KEY"]
    assert server.inventory() == {"invite": [invite]}
    ledger.register("invite", invite)
    assert ledger.teardown({API_KEY: make_client(server), ADMIN_KEY: admin}) == []
    assert server.inventory() == {}


SAFETY_NET = """
import pytest

@pytest.mark.feature("admin", "admin_write")
def test_admin_kind_in_the_normal_ledger(admin_api, resource_ledger, conformance_run_id):
    inv = admin_api.expect(admin_api.call("admin.invites.create",
        {"email": conformance_run_id + "+net@example.com", "role": "user"}))
    # the per-test ledger only holds the normal key: the session's net must remove it
    resource_ledger.register("invite", inv["id"])
    raise KeyboardInterrupt
"""


def test_session_safety_net_removes_admin_kinds(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedServer() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_API_KEY)
        monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", DEFAULT_ADMIN_API_KEY)
        monkeypatch.setenv("ANTHROPIC_CONFORMANCE_FEATURES", "admin,admin_write")
        pytester.makepyfile(SAFETY_NET)
        result = pytester.runpytest_subprocess(*SUBPROCESS_ARGS, "-rA")
        assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
        result.stdout.fnmatch_lines(["*needs the admin key*"])  # the test's teardown said so
        assert server.inventory() == {}, "the session's safety net holds the admin key"
