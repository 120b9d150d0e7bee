"""A run killed at any point leaves nothing behind (issue 14): real signals sent to a real
``anthropic-conformance run`` (a subprocess in its own process group) against the reference
server in this process, then the server's inventory is read.

Each signal lands at a known point, not after a guessed sleep: a ``Gate`` in front of the
reference server holds one chosen request (its answer, once the server has created the resource:
the signal then cuts off a create whose answer the run never gets; or the request itself), the
test sends the signal while it is held, then lets it go.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.reference import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    EmbeddedServer,
    ReferenceConfig,
    create_app,
)
from conformance.reference.app import inventory

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="process groups, and /proc to find a worker"
)

#: Seconds any one wait may take before the test gives up (a safety net, never asserted).
PATIENCE = 120.0
FEATURES = "files,batches,admin,admin_write"


@dataclass
class Hold:
    """One request to hold the first time it comes: ``method`` and a path pattern; ``after``:
    hold its answer (the server has done the work), else hold it before the server sees it;
    ``swallow``: then never pass it on (as if the network lost it)."""

    method: str
    path: str
    after: bool = True
    swallow: bool = False
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    client_port: int | None = None

    def matches(self, scope: dict[str, Any]) -> bool:
        return (
            not self.reached.is_set()
            and scope.get("method") == self.method
            and re.fullmatch(self.path, str(scope.get("path"))) is not None
        )

    def wait(self, proc: subprocess.Popen[bytes]) -> None:
        """Until the run sent the request; a run that ends first fails the test with its
        output."""
        while not self.reached.wait(0.05):
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"the run ended before {self.method} {self.path}:\n{out}")
        assert self.client_port is not None


class Gate:
    """An ASGI app in front of the reference server that holds each ``Hold`` once."""

    def __init__(self, app: Any, *holds: Hold) -> None:
        self.app = app
        self.holds = list(holds)
        self._lock = threading.Lock()

    def _claim(self, scope: dict[str, Any]) -> Hold | None:
        with self._lock:
            for hold in self.holds:
                if hold.matches(scope):
                    hold.client_port = (scope.get("client") or (None, None))[1]
                    if not hold.after:
                        hold.reached.set()
                    return hold
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        hold = self._claim(scope) if scope["type"] == "http" else None
        if hold is None:
            await self.app(scope, receive, send)
            return
        if not hold.after:
            await asyncio.to_thread(hold.release.wait, PATIENCE)
            if not hold.swallow:
                await self.app(scope, receive, send)
            return
        held: list[dict[str, Any]] = []

        async def keep(message: dict[str, Any]) -> None:
            held.append(message)

        await self.app(scope, receive, keep)
        hold.reached.set()  # the resource exists now; its answer waits
        await asyncio.to_thread(hold.release.wait, PATIENCE)
        try:
            for message in held:
                await send(message)
        except Exception:  # the run is gone: nobody reads the answer
            pass


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    cwd: Path

    def signal(self, signum: int, *, group: bool) -> None:
        """To the whole process group (Ctrl-C in a terminal) or to the run's process alone
        (``kill PID``)."""
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def finish(self) -> str:
        """The run's output, once its every process (xdist workers too) is gone."""
        out, _ = self.proc.communicate(timeout=PATIENCE)
        for _ in range(int(PATIENCE / 0.02)):
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            threading.Event().wait(0.02)
        return out.decode()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Target:
    """The reference server behind a ``Gate``, and runs of the suite pointed at it."""

    def __init__(self, server: EmbeddedServer, reference: Any, gate: Gate, tmp: Path) -> None:
        self.server, self.reference, self.gate, self.tmp = server, reference, gate, tmp

    def inventory(self) -> dict[str, list[str]]:
        return inventory(self.reference)

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANTHROPIC_", "PYTEST_", "COV_CORE"))
        }
        env.update(
            ANTHROPIC_BASE_URL=self.server.url,
            ANTHROPIC_API_KEY=DEFAULT_API_KEY,
            ANTHROPIC_ADMIN_API_KEY=DEFAULT_ADMIN_API_KEY,
            ANTHROPIC_CONFORMANCE_FEATURES=FEATURES,
            PYTHONUNBUFFERED="1",
        )
        return env

    def run(self, select: str, *args: str) -> Run:
        """``anthropic-conformance run -k select``: only the tests a case needs, to be quick."""
        env = self.env()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "conformance",
                "run",
                "-p",
                "no:randomly",
                "-p",
                "no:cacheprovider",
                "--anthropic-report-dir=none",
                "-k",
                select,
                *args,
            ],
            env=env,
            cwd=self.tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: signals reach it, not us
            # A shell starts a background job with SIGINT ignored, and a child inherits that
            # (a run keeps an ignored signal ignored, as under nohup): these runs are a
            # terminal's, where Ctrl-C interrupts, however the project's tests were started.
            preexec_fn=_default_sigint,
        )
        return Run(proc, env, self.tmp)

    def cleanup(self, command: str, env: dict[str, str]) -> str:
        """Run the cleanup command the run printed, word for word."""
        words = command.split()
        assert words[:2] == ["anthropic-conformance", "cleanup"], command
        done = subprocess.run(
            [sys.executable, "-m", "conformance", *words[1:]],
            env=env,
            cwd=self.tmp,
            capture_output=True,
            timeout=PATIENCE,
        )
        out = done.stdout.decode() + done.stderr.decode()
        assert done.returncode == 0, out
        return out


@pytest.fixture
def reference_config(request: pytest.FixtureRequest) -> ReferenceConfig:
    config: ReferenceConfig = getattr(request, "param", ReferenceConfig())
    return config


@pytest.fixture
def target(
    request: pytest.FixtureRequest, tmp_path: Path, reference_config: ReferenceConfig
) -> Iterator[Target]:
    given: tuple[Hold, ...] = request.param if hasattr(request, "param") else ()
    # fresh events for each test
    holds = [Hold(h.method, h.path, h.after, h.swallow) for h in given]
    reference = create_app(reference_config)
    gate = Gate(reference, *holds)
    with EmbeddedServer(app=gate) as server:
        yield Target(server, reference, gate, tmp_path)
        for hold in holds:  # never leave the server's thread waiting
            hold.release.set()


def _held(target: Target) -> list[Hold]:
    return target.gate.holds


FILE_CREATE = ("POST", r"/v1/files")
BATCH_RETRIEVE = ("GET", r"/v1/messages/batches/msgbatch_[^/]+")
INVITE_CREATE = ("POST", r"/v1/organizations/invites")
WORKSPACE_CREATE = ("POST", r"/v1/organizations/workspaces")
MEMBER_ADD = ("POST", r"/v1/organizations/workspaces/[^/]+/members")
#: The kind the inventory must hold while each request is held (proof the point was reached).
HELD_KIND = {
    FILE_CREATE: "file",
    BATCH_RETRIEVE: "batch",
    INVITE_CREATE: "invite",
    WORKSPACE_CREATE: "workspace",
    MEMBER_ADD: "workspace_member",
}


ADMIN_WRITES = "test_invite_lifecycle or test_workspace_and_members_lifecycle"


@pytest.mark.parametrize(
    ("target", "select", "signum", "group"),
    [
        # a create whose answer the signal cuts off: in no ledger, found by the run marker
        pytest.param(
            (Hold(*FILE_CREATE),), "test_files", signal.SIGINT, True, id="SIGINT-mid-file-create"
        ),
        pytest.param(
            (Hold(*WORKSPACE_CREATE),),
            ADMIN_WRITES,
            signal.SIGTERM,
            False,
            id="SIGTERM-mid-workspace-create",
        ),
        pytest.param(
            (Hold(*INVITE_CREATE),),
            ADMIN_WRITES,
            signal.SIGTERM,
            True,
            id="SIGTERM-mid-invite-create",
        ),
        # a workspace registered, its member's answer cut off
        pytest.param(
            (Hold(*MEMBER_ADD),), ADMIN_WRITES, signal.SIGINT, False, id="SIGINT-mid-member-add"
        ),
        # a registered batch, in the middle of its test
        pytest.param(
            (Hold(*BATCH_RETRIEVE, after=False),),
            "test_batch_create_and_retrieve",
            signal.SIGTERM,
            False,
            id="SIGTERM-mid-batch-test",
        ),
    ],
    indirect=["target"],
)
def test_a_signal_at_any_point_leaves_nothing(
    target: Target, select: str, signum: signal.Signals, group: bool
) -> None:
    (hold,) = _held(target)
    run = target.run(select)
    hold.wait(run.proc)
    assert HELD_KIND[(hold.method, hold.path)] in target.inventory()
    run.signal(signum, group=group)
    hold.release.set()
    out = run.finish()
    assert run.proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out and "Traceback" not in out, out
    assert target.inventory() == {}, out
    assert "LEFTOVERS" not in out, out


@pytest.mark.parametrize(
    ("target", "signum", "group"),
    [
        pytest.param((Hold(*WORKSPACE_CREATE),), signal.SIGINT, True, id="SIGINT-to-the-group"),
        pytest.param((Hold(*FILE_CREATE),), signal.SIGTERM, False, id="SIGTERM-to-the-controller"),
    ],
    indirect=["target"],
)
def test_a_signal_under_xdist_leaves_nothing(
    target: Target, signum: signal.Signals, group: bool
) -> None:
    """SIGTERM to the controller alone reaches the workers too (it passes it on)."""
    (hold,) = _held(target)
    run = target.run(f"test_files or {ADMIN_WRITES}", "-n", "2")
    hold.wait(run.proc)
    run.signal(signum, group=group)
    hold.release.set()
    out = run.finish()
    assert run.proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert target.inventory() == {}, out
    assert "LEFTOVERS" not in out, out


def _pid_with_port(port: int) -> int:
    """The process (other than this one) that holds the TCP socket bound to local ``port``."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            return int(proc.name)
    raise AssertionError(f"no process holds port {port}")


@pytest.mark.parametrize("target", [(Hold(*MEMBER_ADD),)], indirect=True)
def test_a_killed_worker_is_cleaned_up_by_the_controller(target: Target) -> None:
    """SIGKILL of the worker that is adding a member to the workspace it just created: the
    controller replaces it, the run goes on, and at its end the controller removes what carries
    the run's marker, and says so."""
    (hold,) = _held(target)
    run = target.run(ADMIN_WRITES, "-n", "2")
    hold.wait(run.proc)
    assert hold.client_port is not None
    worker = _pid_with_port(hold.client_port)
    assert worker != run.proc.pid  # a worker, not the controller
    os.kill(worker, signal.SIGKILL)
    hold.release.set()
    out = run.finish()
    assert run.proc.returncode == pytest.ExitCode.TESTS_FAILED, out  # the crashed test
    assert "worker 'gw" in out and "crashed" in out, out
    cleaned = re.search(r"a worker died; cleanup removed \d+ resource\(s\) of run (.*)", out)
    assert cleaned, out
    assert "workspace_member user_" in cleaned.group(1), out
    assert "workspace wrkspc_" in cleaned.group(1), out
    assert target.inventory() == {}, out


_KILLED_HINT = re.compile(r"run marker (conformance-\S+) \(if this run is killed: ([^)]+)\)")


@pytest.mark.parametrize("target", [(Hold(*MEMBER_ADD),)], indirect=True)
def test_a_killed_run_is_cleaned_up_by_the_command_it_printed(target: Target) -> None:
    """SIGKILL of the whole run: nothing of it can run. Its header named the marker and the
    cleanup command; that command, run as printed, removes everything it created."""
    (hold,) = _held(target)
    run = target.run(ADMIN_WRITES)
    hold.wait(run.proc)
    run.signal(signal.SIGKILL, group=True)
    hold.release.set()
    out = run.finish()
    assert run.proc.returncode == -signal.SIGKILL
    left = target.inventory()
    assert set(left) == {"workspace", "workspace_member"}, (left, out)  # what the kill left
    match = _KILLED_HINT.search(out)
    assert match, out
    marker, command = match.groups()
    assert command == f"anthropic-conformance cleanup --run {marker} --anthropic-base-url " + (
        target.server.url
    )
    said = target.cleanup(command, run.env)
    assert "deleted workspace_member" in said and "deleted workspace wrkspc_" in said, said
    assert target.inventory() == {}, said


@pytest.mark.parametrize(
    "target",
    [(Hold(*FILE_CREATE), Hold("DELETE", r"/v1/files/file_[^/]+", after=False, swallow=True))],
    indirect=True,
)
@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_second_signal_during_teardown_names_what_is_left_and_exits(
    target: Target, xdist: tuple[str, ...]
) -> None:
    """The first SIGINT lands mid-create, the second while teardown deletes that file: the run
    stops at once (the controller kills its workers), names the marker and the cleanup
    command, which then removes the file."""
    create, delete = _held(target)
    run = target.run("test_files", *xdist)
    create.wait(run.proc)
    run.signal(signal.SIGINT, group=False)
    create.release.set()
    delete.wait(run.proc)
    run.signal(signal.SIGINT, group=False)
    delete.release.set()
    out = run.finish()
    assert run.proc.returncode == 128 + signal.SIGINT, out
    assert "anthropic-conformance: SIGINT again during teardown: stopping now" in out, out
    marker = re.search(r"resources carrying run marker (conformance-\S+) may be left", out)
    assert marker, out
    assert "file" in target.inventory()  # the second signal stopped its deletion
    command = re.search(r"remove them with: (anthropic-conformance cleanup [^\n]+)", out)
    assert command and f"--run {marker.group(1)} " in command.group(1), out
    said = target.cleanup(command.group(1), run.env)
    assert "deleted file file_" in said, said
    assert target.inventory() == {}, said


BATCH_CREATE = ("POST", r"/v1/messages/batches")


def _cancel_and_wait(target: Target, batch_id: str) -> None:
    """Cancel the batch, then poll the reference server (as a client would) until it ended."""
    import httpx

    headers = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
    url = f"{target.server.url}/v1/messages/batches/{batch_id}"
    assert httpx.post(f"{url}/cancel", headers=headers).status_code == 200
    for _ in range(int(PATIENCE / 0.05)):
        if httpx.get(url, headers=headers).json().get("processing_status") == "ended":
            return
        threading.Event().wait(0.05)
    pytest.fail(f"batch {batch_id} did not end")


@pytest.mark.parametrize("reference_config", [ReferenceConfig(batch_seconds=3600)], indirect=True)
@pytest.mark.parametrize("target", [(Hold(*BATCH_CREATE),)], indirect=True)
@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_cut_off_batch_create_is_named_and_removed_once_it_ended(
    target: Target, reference_config: ReferenceConfig, xdist: tuple[str, ...]
) -> None:
    """A batch cannot be judged before it ended (only its results carry the marker): the run
    says which create the interrupt cut off and the command to run once the batch ended."""
    (hold,) = _held(target)
    run = target.run("test_batch_create_and_retrieve", *xdist)
    hold.wait(run.proc)
    run.signal(signal.SIGINT, group=True)
    hold.release.set()
    out = run.finish()
    assert run.proc.returncode == pytest.ExitCode.INTERRUPTED, out
    said = re.search(
        r"the interrupt cut off POST /v1/messages/batches: .* has ended; then: "
        r"(anthropic-conformance cleanup [^\n]+)",
        out,
    )
    assert said, out
    (batch_id,) = target.inventory()["batch"]  # in progress: the run's cleanup left it alone
    _cancel_and_wait(target, batch_id)
    cleaned = target.cleanup(said.group(1), run.env)
    assert f"deleted batch {batch_id}" in cleaned, cleaned
    assert target.inventory() == {}, cleaned
