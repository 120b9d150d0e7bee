"""Parallel runs (issue 14): ``-n N`` in every mode, xdist groups, the latency target, races
judged honestly. Speed is measured in bench/bench_parallel.py, never asserted here."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conformance import runner, schemas
from conformance.api import Api
from conformance.client import ApiClient
from conformance.exchange import Exchange
from conformance.judgement import Judgement
from conformance.reference import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    EmbeddedServer,
    ReferenceConfig,
    create_app,
    latency,
)
from conformance.suite import _polling, test_batches
from conformance.target import Target, TargetKind
from tests.suite_args import suite, with_conftest

SHIPPED = Path(__file__).parent.parent / "cassettes"
NO_REPORT = "--anthropic-report-dir=none"


def _out(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


# --- how -n spreads the suite ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["-n", "4"],
        ["-n4"],
        ["-nauto"],
        ["--numprocesses=2"],
        ["--numprocesses", "8", "-q"],
        ["--tx", "2*popen"],
    ],
)
def test_workers_are_spread_by_group(args: list[str]) -> None:
    assert runner.dist_args(args) == ["--dist", "loadgroup"]
    full = runner.suite_args(args)
    assert full[full.index("--dist") + 1] == "loadgroup"
    assert full.index("--dist") < full.index(args[0]), "the user's arguments come last"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["-q"],
        ["-n", "0"],
        ["-n", "4", "--dist", "load"],
        ["-n", "2", "--dist=each"],
        ["-n", "2", "-d"],
        ["-n", "2", "-p", "no:xdist"],
        ["-pno:xdist", "-n2"],
    ],
)
def test_no_dist_of_ours_where_it_does_not_apply(args: list[str]) -> None:
    assert runner.dist_args(args) == []
    assert "loadgroup" not in runner.suite_args(args)


def test_grouped_admin_writes_run_on_one_worker(pytester: pytest.Pytester) -> None:
    """The tests that change the organization share one worker under ``-n``; the others are
    spread (the run's command line is ``anthropic-conformance run``'s)."""
    result = pytester.runpytest(
        *runner.suite_args(
            ["-p", "no:cacheprovider", NO_REPORT, "-n", "3", "-v"], modules=["test_admin"]
        ),
        "--anthropic-features=admin,admin_write,errors,messages",
    )
    assert result.ret == 0, _out(result)
    where: dict[str, str] = {}
    for line in result.stdout.lines:
        found = re.search(r"\[(gw\d+)\] .*(PASSED|SKIPPED|FAILED) .*::(test_\w+)", line)
        if found:
            where[found.group(3)] = found.group(1)
    writes = [
        "test_invite_lifecycle",
        "test_workspace_and_members_lifecycle",
        "test_api_key_rename_is_a_noop_round_trip",
        "test_update_unknown_user_is_not_found",
    ]
    assert set(writes) <= set(where), where
    assert len({where[t] for t in writes}) == 1, f"the org writes were split: {where}"
    assert len(set(where.values())) > 1, f"the other tests were not spread: {where}"


# --- every mode under -n --------------------------------------------------------------------------


def test_recording_under_xdist_writes_each_cassette_once(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """``-n 2`` recording into an empty directory: one cassette per test, each written by one
    worker (its interactions are that test's only), then replayed under ``-n 2`` as well."""
    cassettes = tmp_path / "cassettes"
    args = ["-p", "no:cacheprovider", NO_REPORT, "-n", "2", f"--anthropic-cassette-dir={cassettes}"]
    picked = ["-k", "test_models or test_batch_create_and_retrieve or test_upload_text"]
    modules = ["test_models", "test_batches", "test_files"]
    recorded = pytester.runpytest(
        *runner.suite_args([*args, "--record-mode=once", *picked], modules=modules)
    )
    assert recorded.ret == 0, _out(recorded)
    outcomes = recorded.parseoutcomes()
    written = sorted(cassettes.rglob("*.yaml"))
    assert len(written) == outcomes["passed"] >= 4, written
    for path in written:  # a cassette holds its own test's calls only
        text = path.read_text()
        test = path.stem
        assert text.count("interactions:") == 1, path
        assert "custom_id" not in text or test.startswith("test_batch"), path
    replayed = pytester.runpytest(
        *runner.suite_args([*args, "--record-mode=none", *picked], modules=modules)
    )
    assert replayed.ret == 0, _out(replayed)
    assert replayed.parseoutcomes()["passed"] == outcomes["passed"]


def test_shared_target_under_xdist_leaves_nothing(pytester: pytest.Pytester) -> None:
    """A live-like run (a base URL every worker shares): each worker's teardown removes what
    it created, so the target's inventory is empty after ``-n 3``."""
    with EmbeddedServer(ReferenceConfig(batch_seconds=0.0)) as server:
        result = pytester.runpytest(
            *suite("test_batches", "test_files"),
            NO_REPORT,
            "-n",
            "3",
            f"--anthropic-base-url={server.url}",
            f"--anthropic-api-key={DEFAULT_API_KEY}",
            f"--anthropic-admin-api-key={DEFAULT_ADMIN_API_KEY}",
            "--anthropic-features=batches,files,errors,messages",
        )
        assert result.ret == 0, _out(result)
        assert result.parseoutcomes()["passed"] >= 8
        assert {k: v for k, v in server.inventory().items() if v} == {}


def test_overwrite_refusal_under_xdist_is_the_usage_error(tmp_path: Path) -> None:
    """``anthropic-conformance run -n 2 --record-mode=all`` over existing cassettes: the one
    usage line and exit code 4, as serially, never xdist's INTERNALERROR."""
    cassettes = tmp_path / "cassettes"
    shutil.copytree(
        SHIPPED / "2023-06-01" / "test_models", cassettes / "2023-06-01" / "test_models"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "-q",
            "-p",
            "no:cacheprovider",
            NO_REPORT,
            "-n",
            "2",
            "-k",
            "test_models_list",
            f"--anthropic-cassette-dir={cassettes}",
            "--record-mode=all",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 4, out
    assert "INTERNALERROR" not in out and "Traceback" not in out
    errors = [line for line in out.splitlines() if "would write over" in line]
    assert len(errors) == 1, out
    assert errors[0].startswith("ERROR: --record-mode=all would write over 1 existing cassette")


# --- the latency target ---------------------------------------------------------------------------


def test_latency_waits_before_each_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def count(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(latency, "_sleep", count)
    headers = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
    slow = TestClient(create_app(ReferenceConfig(latency=0.25)))
    assert slow.get("/v1/models", headers=headers).status_code == 200
    assert slow.get("/v1/models/nope", headers=headers).status_code == 404
    assert waits == [0.25, 0.25]
    waits.clear()
    fast = TestClient(create_app(ReferenceConfig()))
    assert fast.get("/v1/models", headers=headers).status_code == 200
    assert waits == []


def test_latency_keeps_a_batch_in_progress_for_its_cancel() -> None:
    assert latency.batch_seconds(0.0, 0.3) == 0.3
    assert latency.batch_seconds(0.3, 0.3) > 2 * 0.3  # a round trip and some


@pytest.mark.parametrize("bad", [-0.1, float("inf"), float("nan")])
def test_bad_latency_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="latency must be 0 or more seconds"):
        ReferenceConfig(latency=bad)


def test_bad_latency_option_is_one_usage_line(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        *suite("test_models"), NO_REPORT, "--anthropic-reference-latency=-1"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "reference-latency" in result.stderr.str() and "0 or more seconds" in result.stderr.str()
    assert "Traceback" not in _out(result)


def test_serve_refuses_a_negative_latency() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "serve", "--port", "0", "--latency", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "anthropic-conformance serve: the latency must be 0 or more seconds (0.3: 300 ms), got -1.0"
    ]


def test_embedded_latency_runs_the_suite(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        *suite("test_batches"),
        NO_REPORT,
        "-rs",
        "-k",
        "cancel or lifecycle",
        "--anthropic-reference-latency=0.05",
    )
    assert result.ret == 0, _out(result)
    outcomes = result.parseoutcomes()
    # a loaded machine may still end the batch before its cancel: judged as the race it is
    assert outcomes["passed"] + outcomes.get("skipped", 0) == 2, outcomes
    assert outcomes.get("skipped", 0) == result.stdout.str().count("batch-cancel-race")


# --- races judged honestly ------------------------------------------------------------------------


def test_a_batch_ended_before_its_cancel_is_not_judged(pytester: pytest.Pytester) -> None:
    """A target whose batches end at once: the cancel arrives too late to be seen, so the test
    is skipped as inconclusive with the evidence (status, ended_at), not failed."""
    with EmbeddedServer(ReferenceConfig(batch_seconds=0.0)) as server:
        result = pytester.runpytest(
            *suite("test_batches"),
            NO_REPORT,
            "-rs",
            "-k",
            "test_batch_cancel",
            f"--anthropic-base-url={server.url}",
            f"--anthropic-api-key={DEFAULT_API_KEY}",
        )
        assert server.inventory().get("batch", []) == []
    assert result.ret == 0, _out(result)
    assert result.parseoutcomes()["skipped"] == 1 and "passed" not in result.parseoutcomes()
    result.stdout.fnmatch_lines(
        [
            "*inconclusive: [[]batch-cancel-race, inconclusive] /cancel_initiated_at: could not "
            "judge the cancel: the batch had ended before the cancel arrived (processing_status "
            "'ended', ended_at '20*"
        ]
    )


def _batch(status: str, initiated: str | None) -> dict[str, Any]:
    return {
        "processing_status": status,
        "cancel_initiated_at": initiated,
        "ended_at": "2026-12-01T00:00:01Z",
        "request_counts": {"succeeded": 2},
    }


def test_only_an_ended_batch_excuses_a_missing_cancel_time() -> None:
    raced = test_batches.cancel_race(_batch("ended", None), "req_1")
    assert raced is not None and raced.severity == "inconclusive"
    assert raced.request_id == "req_1" and "2026-12-01T00:00:01Z" in raced.message
    # still canceling without cancel_initiated_at: a violation the test fails on
    assert test_batches.cancel_race(_batch("canceling", None), "req_2") is None
    assert test_batches.cancel_race(_batch("ended", "2026-12-01T00:00:00Z"), "req_3") is None


# --- start-up: the schemas are checked once per run -----------------------------------------------


def test_trusted_schemas_skip_only_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "schemas"
    shutil.copytree(schemas.SCHEMA_DIR, good)
    checked: list[str] = []
    real = schemas._check_schema  # the metaschema check every untrusted file goes through

    def counting(doc: Any) -> None:
        checked.append(doc["$id"])
        real(doc)

    monkeypatch.setattr(schemas, "_check_schema", counting)
    monkeypatch.setattr(schemas, "_TRUSTED", set())
    schemas.trust(schemas._digest(good))
    schemas._load_documents(good)
    assert checked == []
    one = sorted(good.glob("*.json"))[0]
    one.write_text(one.read_text().replace('"type"', '"type" ', 1))  # other bytes
    schemas._load_documents(good)
    assert len(checked) == len(list(good.glob("*.json")))


def test_workers_trust_the_controllers_check(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from conformance import schemas
        def pytest_sessionfinish(session):
            wi = getattr(session.config, "workerinput", None)
            if wi is not None:
                assert wi.get("anthropic_schemas_checked") in schemas._TRUSTED
                assert wi["anthropic_schemas_checked"] == schemas._digest(schemas.SCHEMA_DIR)
        """
    )
    result = pytester.runpytest(
        *with_conftest(pytester, "test_models"), NO_REPORT, "-n", "2", "-k", "test_models_list"
    )
    assert result.ret == 0, _out(result)


def test_xdist_own_workers_by_tx(pytester: pytest.Pytester) -> None:
    """``--tx`` (how a run is spread over machines; here local processes, the same code path):
    ``run``'s command line adds the distribution mode, and the workers run the suite."""
    result = pytester.runpytest(
        *runner.suite_args(
            ["-p", "no:cacheprovider", NO_REPORT, "--tx", f"2*popen//python={sys.executable}"],
            modules=["test_models"],
        ),
    )
    assert result.ret == 0, _out(result)
    assert result.parseoutcomes()["passed"] >= 3
    result.stdout.fnmatch_lines(["*2 workers [[]*items[]]*"])


class _DeletesCursorOnce(ApiClient):
    """Another worker's teardown, at the worst moment: the object the next page's cursor names
    is deleted just before that page is asked for (once)."""

    deleted: list[str]

    def request(self, method: str, path: str, **kw: Any) -> Exchange:
        params = kw.get("params") or {}
        if method == "GET" and path == "/v1/files" and "after_id" in params and not self.deleted:
            self.deleted.append(params["after_id"])
            super().request("DELETE", f"/v1/files/{params['after_id']}")
        return super().request(method, path, **kw)


def test_a_cursor_deleted_mid_walk_walks_again() -> None:
    with EmbeddedServer(ReferenceConfig()) as server:
        target = Target(TargetKind.PROXY, server.url, DEFAULT_API_KEY, "2023-06-01")
        client = _DeletesCursorOnce(target, features=["files"])
        client.deleted = []
        judgement = Judgement()
        api = Api(client, "claude-haiku-4-5", judgement=judgement)
        ids = [
            api.expect(api.call("files.upload", files={"file": (f"f{i}.txt", b"x", "text/plain")}))[
                "id"
            ]
            for i in range(3)
        ]
        pages, walks = _polling.walk_until_listed(api, "files.list", {ids[0]}, limit=1)
        client.close()
    assert client.deleted == [ids[2]], "the newest file, page one's cursor, was deleted"
    assert walks == 2 and judgement.errors == [], judgement.findings
    assert [p.json["data"][0]["id"] for p in pages] == [ids[1], ids[0]]


# --- what a worker does not repeat: the probes, the imports, the collector's walks ------------


def _probes_answered(server: EmbeddedServer) -> int:
    """How many capability probes of the prompt tools family (``{}`` to generate_prompt, which
    no test of the models family sends) the server answered."""
    from conformance.reference.app import state_of

    return sum(
        e.path == "/v1/experimental/generate_prompt" and e.status == 400
        for e in state_of(server.app).journal
    )


@pytest.mark.parametrize("workers", [["-n", "2"], []])
def test_the_probes_are_sent_once_per_run(pytester: pytest.Pytester, workers: list[str]) -> None:
    """Under xdist the controller probes (in a thread, while the workers start) and every
    worker reads its result; serially the one process probes: once either way."""
    with EmbeddedServer() as server:
        result = pytester.runpytest(
            *suite("test_models"),
            NO_REPORT,
            *workers,
            f"--anthropic-base-url={server.url}",
            f"--anthropic-api-key={DEFAULT_API_KEY}",
        )
        assert result.ret == 0, _out(result)
        assert result.parseoutcomes()["passed"] >= 3
        assert _probes_answered(server) == 1


def test_a_worker_probes_itself_when_it_cannot_read_the_controllers_probe(tmp_path: Path) -> None:
    """A remote ``--tx`` worker has no such directory: it probes itself, at once."""
    from conformance import capabilities

    assert capabilities.read_shared(tmp_path / "elsewhere" / "capabilities.json") is None
    broken = tmp_path / "capabilities.json"
    broken.write_text("{not json", encoding="utf-8")
    assert capabilities.read_shared(broken, wait=0) is None
    assert capabilities.read_shared(tmp_path / "never.json", wait=0) is None


def test_a_shared_probe_is_the_probe(tmp_path: Path) -> None:
    """What a worker reads is what the controller found, fatal verdicts included."""
    from conformance import capabilities
    from conformance.settings import load_settings
    from conformance.target import resolve

    with EmbeddedServer() as server:
        settings = load_settings(
            option=lambda o: {"base_url": server.url, "api_key": DEFAULT_API_KEY}.get(o.field),
            ini=lambda o: None,
            environ={},
        )
        target = resolve(settings)
        path = tmp_path / "capabilities.json"
        capabilities.probe_into(target, path).join(timeout=30)
        shared = capabilities.read_shared(path, wait=0)
        again = capabilities.for_target(target)

    def verdicts(caps: capabilities.Capabilities | None) -> dict[str, tuple[bool, int | None]]:
        assert caps is not None
        return {n: (c.supported, c.status) for n, c in caps.by_name.items()}

    assert shared is not None and shared.probed and not shared.fatal
    assert verdicts(shared) == verdicts(again) and len(shared.by_name) == len(again.by_name)
    dead = capabilities.failed("http://127.0.0.1:9", RuntimeError("boom"))
    assert capabilities.Capabilities.from_json(dead.to_json()) == dead and dead.fatal


def test_a_run_against_a_base_url_never_imports_a_server() -> None:
    """The reference server and the profiles' reference implementations (starlette, uvicorn)
    are imported by a run that starts one, and vcrpy by a run that records or replays, not by
    every xdist worker of a run against a base URL (a tenth of a second or more each)."""
    code = (
        "import sys\n"
        "import conformance.plugin, conformance.profiles.plugin, conformance.profiles\n"
        "from conformance.settings import load_settings\n"
        "from conformance.target import resolve\n"
        "for p in conformance.profiles.available().values(): p.all_options()\n"
        "s = load_settings(option=lambda o: {'base_url': 'http://127.0.0.1:9', "
        "'api_key': 'k'}.get(o.field), ini=lambda o: None, environ={})\n"
        "t = resolve(s); t.now(); t.force_status_headers\n"
        "heavy = ('starlette', 'uvicorn', 'vcr')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or m.endswith('.reference.app') or m.endswith('.reference'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['conformance.reference']", done.stdout


FREEZE_PROBE = """
import gc
def pytest_unconfigure(config):
    print(f"frozen={gc.get_freeze_count() > 0}")
"""


def test_only_a_run_that_owns_its_process_freezes_it(pytester: pytest.Pytester) -> None:
    """The console script's run (a process of its own) freezes what it keeps alive
    (``gc.freeze``); the same run in a process that goes on (``cli.main`` called by a
    program, a project's test) does not: what is frozen is never collected."""
    import gc

    from conformance import cli

    pytester.makepyfile(freeze_probe=FREEZE_PROBE)
    args = ["run", "-q", "-p", "freeze_probe", NO_REPORT, "-k", "test_models_list"]
    env = {**dict(__import__("os").environ), "PYTHONPATH": str(pytester.path)}
    env = {k: v for k, v in env.items() if not k.startswith("ANTHROPIC_")}
    owned = subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=pytester.path,
    )
    assert owned.returncode == 0, owned.stdout + owned.stderr
    assert "frozen=True" in owned.stdout, owned.stdout
    before = gc.get_freeze_count()
    sys.path.insert(0, str(pytester.path))
    try:
        assert cli.main(args) == 0
    finally:
        sys.path.remove(str(pytester.path))
    assert gc.get_freeze_count() == before


def test_workers_run_the_tests_that_send_most_first(pytester: pytest.Pytester) -> None:
    """An xdist worker orders the suite's tests by the requests their cassettes hold, most
    first (a long test handed out last keeps one worker busy alone); serially, file order."""
    pytester.makeconftest(
        """
        def pytest_collection_finish(session):
            # the config's, not $PYTEST_XDIST_WORKER: the project's own run may be a worker
            worker = getattr(session.config, "workerinput", None)
            who = worker["workerid"] if worker else "serial"
            with open(f"order-{who}.txt", "w") as f:
                f.write("\\n".join(item.nodeid for item in session.items))
        """
    )
    args = [*with_conftest(pytester, "test_batches", "test_models"), NO_REPORT]
    for extra in (["--co"], ["-n", "2"]):  # xdist runs no worker under --collect-only
        result = pytester.runpytest(*args, *extra, "-q")
        assert result.ret == 0, _out(result)

    def order(who: str) -> list[str]:
        lines = Path(pytester.path, f"order-{who}.txt").read_text().splitlines()
        return [line.split("@")[0] for line in lines]  # without an xdist group's suffix

    serial, worker = order("serial"), order("gw0")
    assert order("gw1") == worker  # every worker the same order, as xdist requires
    assert sorted(serial) == sorted(worker) and serial != worker
    assert serial == sorted(serial, key=lambda nodeid: "test_models" in nodeid)  # file order

    def calls(nodeid: str) -> int:
        module, name = nodeid.split("::")
        path = SHIPPED / "2023-06-01" / Path(module).stem / f"{name}.yaml"
        return path.read_text().count("\n- request:") if path.exists() else 0

    weights = [calls(n) for n in worker]
    assert weights == sorted(weights, reverse=True) and weights[0] > weights[-1], weights


def test_a_worker_stops_waiting_when_the_run_removed_the_probes_directory(
    tmp_path: Path,
) -> None:
    """The controller removes its directory at the run's end: a worker still waiting for the
    probe's file gives up at once, not after ``SHARED_PROBE_WAIT``."""
    from conformance import capabilities

    shared = tmp_path / "run" / "capabilities.json"
    shared.parent.mkdir()
    polls: list[float] = []  # the waits between looks

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        assert len(polls) < 5, "still waiting for a file whose directory is gone"
        shutil.rmtree(shared.parent, ignore_errors=True)

    assert capabilities.read_shared(shared, wait=1e9, sleep=sleep) is None
    assert len(polls) == 1
