"""pytest wiring of the resource ledger (loaded by ``conformance.plugin``): fixtures and hooks only.

* ``conformance_run_id``: the run marker of this session (shared by xdist workers; fixed while
  recording or replaying cassettes so request bodies match).
* ``resource_ledger``: per test; its teardown runs whatever the test did (pass, fail, error, and
  after a KeyboardInterrupt, when pytest tears the session down). Failures go to the test's
  "anthropic teardown" report section and the terminal summary, never into the test's outcome.
* the session ledger: what a test's teardown did not remove is retried when the session ends;
  when an xdist worker died, the controller runs ``cleanup`` for the run's marker (live targets).
  Both use one client per credential (``resources.Clients``): admin kinds (invites, workspaces,
  members) go to a client holding the admin key, when there is one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from conformance import catalog, resources
from conformance.client import ApiClient
from conformance.resources import ResourceLedger, TeardownFailure
from conformance.stash import SETTINGS, TARGET
from conformance.target import ADMIN_KEY, API_KEY, RunTarget

RUN_ID = pytest.StashKey[str]()
FAILURES = pytest.StashKey[list[tuple[str, TeardownFailure]]]()
#: What the run could not remove in the end (``where``, the last failure): announced with the
#: run marker and the cleanup command.
LEFTOVERS = pytest.StashKey[list[tuple[str, TeardownFailure]]]()
WORKER_DIED = pytest.StashKey[bool]()
#: What a dead-worker cleanup on the xdist controller removed.
CLEANED = pytest.StashKey[list[resources.Resource]]()
_ITEM_FAILURES = pytest.StashKey[list[TeardownFailure]]()
WORKER_INPUT_KEY = "conformance_run_id"
#: ``workeroutput`` keys: a worker's teardown failures and leftovers, for the controller.
FAILURES_KEY = "conformance_teardown_failures"
LEFTOVERS_KEY = "conformance_leftovers"


@pytest.hookimpl(trylast=True)  # after conformance.plugin has parsed the settings
def pytest_configure(config: pytest.Config) -> None:
    worker_input: dict[str, Any] | None = getattr(config, "workerinput", None)
    if worker_input and WORKER_INPUT_KEY in worker_input:
        run_id = str(worker_input[WORKER_INPUT_KEY])
    elif config.stash[SETTINGS].record_mode is not None:
        run_id = resources.CASSETTE_RUN_ID
    else:
        run_id = resources.new_run_id()
    config.stash[RUN_ID] = run_id
    config.stash[FAILURES] = []
    config.stash[LEFTOVERS] = []
    config.stash[CLEANED] = []
    config.stash[WORKER_DIED] = False


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker uses the controller's run marker."""
    node.workerinput[WORKER_INPUT_KEY] = node.config.stash[RUN_ID]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: gather a worker's teardown failures and leftovers; a worker that went
    down with an error tore nothing down (``pytest_sessionfinish`` cleans up after it)."""
    if error:
        node.config.stash[WORKER_DIED] = True
    output: dict[str, Any] = getattr(node, "workeroutput", None) or {}
    for key, stash_key in ((FAILURES_KEY, FAILURES), (LEFTOVERS_KEY, LEFTOVERS)):
        node.config.stash[stash_key] += [
            (str(where), TeardownFailure.from_json(data)) for where, data in output.get(key) or ()
        ]


def _cleanup_clients(target: RunTarget) -> dict[str, ApiClient]:
    """A client per credential the run has: the API key, and the admin key if any."""
    return target.clients(features=catalog.FEATURE_NAMES)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker ships its failures and leftovers to the controller; the controller,
    after a worker died, deletes whatever carries this run's marker (live targets)."""
    config = session.config
    output: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if output is not None:
        output[FAILURES_KEY] = [(w, f.to_json()) for w, f in config.stash.get(FAILURES, [])]
        output[LEFTOVERS_KEY] = [(w, f.to_json()) for w, f in config.stash.get(LEFTOVERS, [])]
        return
    if config.stash.get(WORKER_DIED, False):
        _clean_up_after_dead_worker(config)


def _clean_up_after_dead_worker(config: pytest.Config) -> None:
    target = config.stash[TARGET]
    if not target.keeps_resources:  # the embedded server died with the worker; replay: none
        return
    run_id = config.stash[RUN_ID]
    clients = _cleanup_clients(target)
    failures: list[TeardownFailure] = []
    try:
        found = resources.cleanup(clients, run_id, dry_run=False, failures=failures)
        failed = {f.resource for f in failures}
        config.stash[CLEANED] += [r for r in found if r not in failed]
    except Exception as exc:  # never mask the run's result; what is left is unknown
        config.stash[LEFTOVERS].append(
            (
                "cleanup",
                TeardownFailure(
                    resources.Resource("run", run_id), None, None, f"{type(exc).__name__}: {exc}"
                ),
            )
        )
    finally:
        for client in clients.values():
            client.close()
    config.stash[FAILURES] += [("cleanup", f) for f in failures]
    config.stash[LEFTOVERS] += [("cleanup", f) for f in failures]


@pytest.fixture(scope="session")
def conformance_run_id(pytestconfig: pytest.Config) -> str:
    """The run marker every created resource carries (file name / custom_id prefix)."""
    return pytestconfig.stash[RUN_ID]


def _no_wait(seconds: float) -> None:
    """``sleep`` of a replay's polls."""


@pytest.fixture(scope="session")
def conformance_session_ledger(
    pytestconfig: pytest.Config, conformance_target: RunTarget
) -> Iterator[ResourceLedger]:
    """The safety net: resources no test teardown removed are removed at session end, each
    kind with its own key (admin kinds with the admin key)."""
    settings = pytestconfig.stash[SETTINGS]
    # A replayed poll answers what was recorded whenever it is asked: waiting between them is
    # time for nothing (the cassette holds every poll the recording made).
    sleep = _no_wait if conformance_target.offline else time.sleep
    ledger = ResourceLedger(
        budget=resources.TeardownBudget(settings.teardown_deadline, sleep=sleep)
    )
    yield ledger
    if conformance_target.offline:  # replay: nothing was created, outside a cassette no answer
        return
    # What timed out in a test's teardown is not tried again (the deadline is the run's).
    pytestconfig.stash[LEFTOVERS] += [("teardown", f) for f in ledger.given_up]
    if not len(ledger):
        return
    clients = _cleanup_clients(conformance_target)
    try:
        failures = ledger.teardown(clients)
    finally:
        for client in clients.values():
            client.close()
    pytestconfig.stash[FAILURES] += [("session", f) for f in failures]
    pytestconfig.stash[LEFTOVERS] += [("session", f) for f in failures]


@pytest.fixture
def resource_ledger(
    request: pytest.FixtureRequest,
    anthropic_client: ApiClient,
    conformance_session_ledger: ResourceLedger,
) -> Iterator[ResourceLedger]:
    """Register each created resource at once; all are deleted newest first after the test."""
    ledger = ResourceLedger(parent=conformance_session_ledger)
    try:
        yield ledger
    finally:
        _tear_down(request, ledger, {API_KEY: anthropic_client})


@pytest.fixture
def admin_ledger(
    request: pytest.FixtureRequest,
    admin_client: ApiClient,
    anthropic_client: ApiClient,
    conformance_session_ledger: ResourceLedger,
) -> Iterator[ResourceLedger]:
    """Invites, workspaces and memberships a test created; removed (archived) after it with the
    admin client, whatever the outcome. What that misses, the session's safety net removes."""
    ledger = ResourceLedger(parent=conformance_session_ledger)
    try:
        yield ledger
    finally:
        _tear_down(request, ledger, {API_KEY: anthropic_client, ADMIN_KEY: admin_client})


def _tear_down(
    request: pytest.FixtureRequest, ledger: ResourceLedger, clients: dict[str, ApiClient]
) -> None:
    """Remove what ``ledger`` holds; failures go to the test's report section and the summary."""
    failures = ledger.teardown(clients)
    request.node.stash[_ITEM_FAILURES] = [*request.node.stash.get(_ITEM_FAILURES, []), *failures]
    request.config.stash[FAILURES] += [(request.node.nodeid, f) for f in failures]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "teardown":
        failures = item.stash.get(_ITEM_FAILURES, [])
        if failures:
            report.sections.append(("anthropic teardown", "\n".join(f.format() for f in failures)))
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    failures = config.stash.get(FAILURES, [])
    if failures:
        terminalreporter.section("anthropic teardown failures")
        for where, failure in failures:
            terminalreporter.write_line(f"{where}: {failure.format()}")
    cleaned = config.stash.get(CLEANED, [])
    if cleaned:
        terminalreporter.write_line(
            f"anthropic-conformance: a worker died; cleanup removed {len(cleaned)} resource(s) "
            f"of run {config.stash[RUN_ID]}: " + ", ".join(r.describe() for r in cleaned)
        )
    for line in leftover_lines(config):
        terminalreporter.write_line(line, red=True)


def leftover_lines(config: pytest.Config) -> list[str]:
    """The run's end names each leftover (kind, id, name), the run marker and the exact
    command that removes them; nothing when teardown removed everything."""
    leftovers = config.stash.get(LEFTOVERS, [])
    if not leftovers:
        return []
    run_id = config.stash[RUN_ID]
    unique: dict[resources.Resource, tuple[str, TeardownFailure]] = {}
    for where, failure in leftovers:  # first place, last word
        unique[failure.resource] = (where, failure)
    lines = [
        f"anthropic LEFTOVERS: teardown could not remove {len(unique)} resource(s) "
        f"of run marker {run_id}:"
    ]
    for where, failure in unique.values():
        lines.append(f"  left: {failure.resource.describe()} ({where}: {failure.message})")
    target: RunTarget = config.stash[TARGET]
    if target.keeps_resources:
        url = config.stash[SETTINGS].base_url
        where_flag = f" --anthropic-base-url {url}" if url else ""
        lines.append(
            f"  remove them with: anthropic-conformance cleanup --run {run_id}{where_flag}"
        )
    else:
        lines.append(
            "  (the embedded reference server keeps nothing after the run: they are gone with it)"
        )
    return lines
