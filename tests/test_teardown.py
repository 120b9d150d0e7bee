"""Teardown: one run-wide deadline for polling, leftovers announced, under xdist too."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance import catalog
from conformance.client import ApiClient, Target
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer, ReferenceConfig
from conformance.resources import ResourceLedger, TeardownBudget
from conformance.target import TargetKind

KEY = "stuck-target-key-0123"


class StuckTarget:
    """A target whose batches never end and whose files cannot be deleted; it counts calls."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.files: dict[str, str] = {}  # id -> filename
        self.app = Starlette(
            routes=[
                Route("/v1/messages/batches", self.list_batches),
                Route("/v1/messages/batches/{id}", self.batch, methods=["GET", "DELETE"]),
                Route("/v1/messages/batches/{id}/cancel", self.cancel, methods=["POST"]),
                Route("/v1/files", self.list_files),
                Route("/v1/files/{id}", self.delete_file, methods=["DELETE"]),
                Route("/_stuck_file", self.stuck_file, methods=["POST"]),
            ]
        )

    async def list_batches(self, request: Request) -> Response:
        return JSONResponse({"data": [], "has_more": False, "first_id": None, "last_id": None})

    async def batch(self, request: Request) -> Response:
        batch_id = request.path_params["id"]
        self.calls[f"{request.method} {batch_id}"] += 1
        return JSONResponse(
            {"id": batch_id, "type": "message_batch", "processing_status": "in_progress"}
        )

    async def cancel(self, request: Request) -> Response:
        self.calls[f"cancel {request.path_params['id']}"] += 1
        return JSONResponse(
            {
                "id": request.path_params["id"],
                "type": "message_batch",
                "processing_status": "canceling",
            }
        )

    async def list_files(self, request: Request) -> Response:
        data = [{"id": i, "type": "file", "filename": n} for i, n in self.files.items()]
        return JSONResponse({"data": data, "has_more": False})

    async def delete_file(self, request: Request) -> Response:
        self.calls[f"DELETE {request.path_params['id']}"] += 1
        return JSONResponse(
            {
                "type": "error",
                "error": {"type": "permission_error", "message": "files are forever here"},
            },
            status_code=403,
        )

    async def stuck_file(self, request: Request) -> Response:
        body = await request.json()
        self.files[str(body["id"])] = str(body["filename"])
        return JSONResponse({"ok": True})

    def polls(self) -> dict[str, int]:
        return {k.split()[1]: v for k, v in self.calls.items() if k.startswith("GET ")}


@pytest.fixture
def stuck() -> Iterator[tuple[StuckTarget, EmbeddedServer]]:
    target = StuckTarget()
    with EmbeddedServer(app=target.app) as server:
        yield target, server


class FakeClock:
    """Time that passes only when teardown sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client(url: str, key: str = KEY) -> ApiClient:
    return ApiClient(
        Target(TargetKind.PROXY, url, key, catalog.API_VERSIONS[0]), features=catalog.FEATURE_NAMES
    )


def test_one_deadline_bounds_the_polls_of_every_batch_and_the_safety_net(
    stuck: tuple[StuckTarget, EmbeddedServer],
) -> None:
    target, server = stuck
    clock = FakeClock()
    session = ResourceLedger(budget=TeardownBudget(10.0, clock=clock, sleep=clock.sleep))
    test = ResourceLedger(parent=session)
    for i in range(3):
        test.register("batch", f"msgbatch_{i}")
    client = _client(server.url)
    failures = test.teardown(client)
    assert [f.resource.id for f in failures] == ["msgbatch_2", "msgbatch_1", "msgbatch_0"]
    assert all(f.timed_out and "teardown deadline 10s" in f.message for f in failures)
    # Newest first: the first batch polls with backoff until the run's 10 s are spent (8 polls
    # plus the in-progress check before its cancel); the others get one look each.
    assert target.polls() == {"msgbatch_2": 9, "msgbatch_1": 2, "msgbatch_0": 2}
    assert clock.now == pytest.approx(10.0)
    # The safety net does not try again what timed out: no call at all.
    assert len(session) == 0 and session.teardown(client) == []
    assert sum(target.polls().values()) == 13
    assert [f.resource.id for f in session.given_up] == ["msgbatch_2", "msgbatch_1", "msgbatch_0"]


def test_a_batch_that_answers_errors_as_200_is_not_polled() -> None:
    """The issue's case: an error envelope with status 200 will never say "ended"."""
    clock = FakeClock()
    ledger = ResourceLedger(budget=TeardownBudget(60.0, clock=clock, sleep=clock.sleep))
    ledger.register("batch", "msgbatch_011CConformanceNoSuchBatch")
    with EmbeddedServer(ReferenceConfig(mutants=("error-as-200",))) as server:
        failures = ledger.teardown(_client(server.url, DEFAULT_API_KEY))
    assert len(failures) == 1 and not failures[0].timed_out
    assert "will not end by waiting" in failures[0].message
    assert clock.sleeps == []  # one look, no backoff


def test_register_created_only_registers_what_the_answer_names() -> None:
    from conformance.exchange import Exchange

    def answer(status: int, body: bytes) -> Exchange:
        return Exchange(method="POST", path="/v1/x", status=status, body=body)

    ledger = ResourceLedger()
    assert (
        ledger.register_created("invite", answer(200, b'{"id": "invite_1", "x": 1}'), label="e")
        is not None
    )
    assert ledger.register_created("invite", answer(400, b'{"id": "invite_2"}')) is None
    assert ledger.register_created("invite", answer(200, b'{"id": 3}')) is None
    assert ledger.register_created("invite", answer(200, b"not json")) is None
    assert [(r.kind, r.id, r.label) for r in ledger] == [("invite", "invite_1", "e")]


# --- leftovers announced at the run's end -----------------------------------------------------

_INNER = """
    import os
    import pytest

    @pytest.mark.parametrize("n", range(2))
    def test_makes_things(resource_ledger, anthropic_client, conformance_run_id, n):
        resource_ledger.register("batch", f"msgbatch_{n}a", label=f"{conformance_run_id}-{n}")
        resource_ledger.register("batch", f"msgbatch_{n}b")
        resource_ledger.register("file", f"file_{n}", label=f"{conformance_run_id}-{n}.txt")
        if os.environ.get("DIE_AFTER_FILE") and n == 1:
            anthropic_client.post("/_stuck_file", json={
                "id": "file_orphan", "filename": f"{conformance_run_id}-orphan.txt"})
            os._exit(3)
"""


@pytest.mark.parametrize("xdist", [(), ("-n", "2")])
def test_leftovers_are_named_with_the_marker_and_the_cleanup_command(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    stuck: tuple[StuckTarget, EmbeddedServer],
    xdist: tuple[str, ...],
) -> None:
    target, server = stuck
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    pytester.makepyfile(_INNER)
    result = pytester.runpytest(
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        *xdist,
        "--anthropic-teardown-deadline=0.2",
        "--anthropic-report-dir=none",
    )
    out = result.stdout.str()
    assert result.ret == 0, out  # teardown never fails the tests
    match = re.search(
        r"LEFTOVERS: teardown could not remove 6 resource\(s\) of run marker "
        r"(conformance-\d{8}-[0-9a-f]{6}):",
        out,
    )
    assert match, out
    marker = match.group(1)
    for n in range(2):
        assert f"left: batch msgbatch_{n}a ({marker}-{n}) (teardown: " in out
        assert f"left: batch msgbatch_{n}b (teardown: " in out
        assert f"left: file file_{n} ({marker}-{n}.txt) (session: " in out  # net tried too
    assert (
        f"remove them with: anthropic-conformance cleanup --run {marker} "
        f"--anthropic-base-url {server.url}" in out
    )
    # Bounded polling: per process one deadline; each batch at most a look and a cancel check
    # beyond the backoff of the first (no 120 s per batch, no second round at session end).
    assert sum(target.polls().values()) <= 4 * 2 + 2 * 6, target.calls
    assert all(target.calls[f"DELETE file_{n}"] == 2 for n in range(2))  # test + safety net


def test_dead_worker_cleanup_names_what_it_could_not_remove(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    stuck: tuple[StuckTarget, EmbeddedServer],
) -> None:
    target, server = stuck
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("DIE_AFTER_FILE", "1")
    pytester.makepyfile(_INNER)
    result = pytester.runpytest(
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-n",
        "1",
        "--max-worker-restart=0",
        "--anthropic-teardown-deadline=0.2",
        "--anthropic-report-dir=none",
    )
    out = result.stdout.str()
    match = re.search(
        r"LEFTOVERS: teardown could not remove \d+ resource\(s\) of run marker "
        r"(conformance-\d{8}-[0-9a-f]{6}):",
        out,
    )
    assert match, out
    marker = match.group(1)
    assert (
        f"left: file file_orphan ({marker}-orphan.txt) (cleanup: files.delete: "
        "permission_error: files are forever here)" in out
    )
    assert f"remove them with: anthropic-conformance cleanup --run {marker}" in out
    assert target.calls["DELETE file_orphan"] == 1
    assert "cleanup removed" not in out  # it removed nothing


# --- created resources are registered before their answer is judged ---------------------------


def _break_invite(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "status": 7} if body.get("type") == "invite" else body


def _break_workspace(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "archived_at": 7} if body.get("type") == "workspace" else body


@pytest.mark.parametrize(
    ("test", "path", "alter"),
    [
        ("test_invite_lifecycle", "/v1/organizations/invites", _break_invite),
        ("test_workspace_and_members_lifecycle", "/v1/organizations/workspaces", _break_workspace),
    ],
)
def test_a_nonconforming_create_answer_leaks_nothing(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    test: str,
    path: str,
    alter: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """A proxy breaks the create answer: the test fails on it, and teardown still removes what
    the answer's id names (it was registered before ``expect`` judged the answer)."""
    from proxy_app import ProxyConfig, make_proxy

    from conformance.reference import DEFAULT_ADMIN_API_KEY
    from conformance.reference.admin import db_of
    from conformance.reference.app import state_of

    with (
        EmbeddedServer() as upstream,
        EmbeddedServer(
            app=make_proxy(ProxyConfig(upstream.url, alter_json=alter, alter_path=path))
        ) as proxy,
    ):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", proxy.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_API_KEY)
        monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", DEFAULT_ADMIN_API_KEY)
        monkeypatch.setenv("ANTHROPIC_CONFORMANCE_FEATURES", "admin,admin_write")
        result = pytester.runpytest(
            "--pyargs",
            "conformance.suite.test_admin",
            "-q",
            "-k",
            test,
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--anthropic-report-dir=none",
        )
        assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
        result.stdout.fnmatch_lines([f"*POST {path} -> 200*contract violation*"])
        db = db_of(state_of(upstream.app))
        left = [i["email"] for i in db.invites.values() if i["email"].startswith("conformance-")]
        left += [
            w["name"]
            for w in db.workspaces.values()
            if w["name"].startswith("conformance-") and w["archived_at"] is None
        ]
        assert left == [], result.stdout.str()
