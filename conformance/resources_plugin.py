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
* signals: SIGTERM is handled like SIGINT (``KeyboardInterrupt``, so pytest tears everything
  down); an interrupted run against a target that keeps resources then runs ``cleanup`` for its
  marker too (a create whose answer the interrupt cut off is in no ledger). The xdist controller
  passes its first signal on to its workers as SIGINT. A second signal, during that teardown,
  names what is left and the exact ``cleanup`` command, and exits at once (the controller kills
  its workers first).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

import pytest

from conformance import catalog, resources
from conformance.client import ApiClient, AsyncApiClient
from conformance.resources import ResourceLedger, TeardownFailure
from conformance.stash import SETTINGS, TARGET
from conformance.target import ADMIN_KEY, API_KEY, RunTarget

RUN_ID = pytest.StashKey[str]()
FAILURES = pytest.StashKey[list[tuple[str, TeardownFailure]]]()
#: What the run could not remove in the end (``where``, the last failure): announced with the
#: run marker and the cleanup command.
LEFTOVERS = pytest.StashKey[list[tuple[str, TeardownFailure]]]()
WORKER_DIED = pytest.StashKey[bool]()
#: What a cleanup by run marker on the xdist controller removed (after a dead worker or an
#: interrupt), and why it ran.
CLEANED = pytest.StashKey[list[resources.Resource]]()
_CLEANED_WHY = pytest.StashKey[str]()
#: Set by ``conformance.plugin`` when the session runs the suite (its header is shown).
USES_SUITE = pytest.StashKey[bool]()
#: The session's ledger (what is not removed yet), for the second signal's last word.
SESSION_LEDGER = pytest.StashKey[ResourceLedger]()
_ITEM_FAILURES = pytest.StashKey[list[TeardownFailure]]()
WORKER_INPUT_KEY = "conformance_run_id"
#: ``workeroutput`` keys: a worker's teardown failures and leftovers, for the controller.
FAILURES_KEY = "conformance_teardown_failures"
LEFTOVERS_KEY = "conformance_leftovers"
#: ``workeroutput`` key: the request an interrupt cut off in the worker (method, path).
CUT_OFF_KEY = "conformance_cut_off"
_GATHERED = pytest.StashKey[set[int]]()


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
    stopper = Stopper(config)
    stopper.install()
    config.stash[STOPPER] = stopper
    config.pluginmanager.register(stopper, "anthropic-conformance-stopper")


def pytest_unconfigure(config: pytest.Config) -> None:
    stopper = config.stash.get(STOPPER, None)
    if stopper is not None:
        stopper.restore()


# --- signals ------------------------------------------------------------------------------------

#: The signals that stop a run cleanly: Ctrl-C, and what ``kill``, CI runners and container
#: engines send. (SIGKILL cannot be caught: ``cleanup --run MARKER`` is the way then.)
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


class Stopper:
    """The run's handler of ``STOP_SIGNALS``, installed for the session in the process where
    pytest runs (the main thread only: Python delivers signals there), the old handlers restored
    at unconfigure. A signal ignored before the run (``SIG_IGN``, e.g. ``nohup``) stays ignored.

    The first signal raises ``KeyboardInterrupt``: pytest stops the test, tears every fixture
    down (each test's ledger, then the session's), and the session ends with a cleanup by the
    run marker. The xdist controller first passes it on as SIGINT to its local workers (a
    ``kill`` of the controller alone would otherwise reach them only through execnet's exit,
    seconds later). Later signals: a worker ignores them (it is tearing down; its controller
    decides), the controller or a serial run prints what is left and the cleanup command,
    kills its workers and exits with 128 + the signal's number.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.received: int | None = None
        self.workers: list[Any] = []  # the controller's xdist nodes (pytest_testnodeready)
        self._old: dict[int, Any] = {}

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal.signal works in the main thread only (e.g. an in-thread pytest)
        for signum in STOP_SIGNALS:
            try:
                old = signal.getsignal(signum)
                if old is signal.SIG_IGN:
                    continue
                signal.signal(signum, self.handle)
            except (ValueError, OSError):  # not a real main thread / not supported here
                continue
            self._old[signum] = old

    def restore(self) -> None:
        for signum, old in self._old.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, old if old is not None else signal.SIG_DFL)
        self._old.clear()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is None:
            self.received = signum
            self._signal_workers(signal.SIGINT)
            raise KeyboardInterrupt(f"{name}: the run stops, teardown runs")
        if self.is_worker:
            return
        self._signal_workers(signal.SIGKILL)
        message = "\n".join(second_signal_lines(self.config, name))
        with contextlib.suppress(OSError, ValueError):
            os.write(sys.stderr.fileno(), f"\n{message}\n".encode())
        os._exit(128 + signum)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Note the request the interrupt cut off (called before teardown, while the stack of
        the interrupt is known): its answer, and what it created, were lost."""
        request = cut_off_request(excinfo.tb)
        if request is not None:
            self.config.stash[CUT_OFF] = request

    def _signal_workers(self, signum: int) -> None:
        for node in self.workers:
            # execnet's popen gateway: a local worker process (remote --tx workers have none).
            popen = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)
            pid = getattr(popen, "pid", None)
            if isinstance(pid, int) and popen is not None and popen.poll() is None:
                with contextlib.suppress(OSError):
                    os.kill(pid, signum)


STOPPER = pytest.StashKey[Stopper]()
#: The request an interrupt cut off (method, path), read from the interrupt's traceback.
CUT_OFF = pytest.StashKey[tuple[str, str]]()


def cut_off_request(tb: TracebackType | None) -> tuple[str, str] | None:
    """The innermost ``ApiClient.request(method, path)`` on the interrupted stack, if any."""
    found: tuple[str, str] | None = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "request" and isinstance(frame.f_locals.get("self"), ApiClient):
            method, path = frame.f_locals.get("method"), frame.f_locals.get("path")
            if isinstance(method, str) and isinstance(path, str):
                found = (method.upper(), path)
        tb = tb.tb_next
    return found


def unjudged_lines(config: pytest.Config) -> list[str]:
    """A batch create the interrupt cut off: its batch (if the target made one) is in no ledger,
    and ``cleanup`` judges a batch only once it ended (its results carry the marker)."""
    request = config.stash.get(CUT_OFF, None)
    create = catalog.endpoint("batches.create")
    if request is None or request != (create.method, create.path):
        return []
    if not config.stash[TARGET].keeps_resources:
        return []
    return [
        f"anthropic-conformance: the interrupt cut off {request[0]} {request[1]}: a batch it "
        "may have created is in no ledger, and cleanup judges a batch only once it has ended; "
        f"then: {cleanup_command(config)}"
    ]


def second_signal_lines(config: pytest.Config, signal_name: str) -> list[str]:
    """What a second signal says before the run exits: what is known to be left (a serial
    run's session ledger; the xdist controller cannot see its workers' ledgers) and the command
    that removes everything carrying the run marker (a create whose answer the first signal cut
    off is in no ledger)."""
    run_id = config.stash[RUN_ID]
    lines = [f"anthropic-conformance: {signal_name} again during teardown: stopping now"]
    target: RunTarget = config.stash[TARGET]
    if not target.keeps_resources:
        lines.append("  nothing is left: the embedded reference server keeps nothing after the run")
        return lines
    ledger = config.stash.get(SESSION_LEDGER, None)
    if ledger is not None:
        left = [*ledger.resources, *(f.resource for f in ledger.given_up)]
        if left:
            lines.append(f"  left: {', '.join(r.describe() for r in left)}")
    lines.append(f"  resources carrying run marker {run_id} may be left")
    lines.append(f"  remove them with: {cleanup_command(config)}")
    return lines


def cleanup_command(config: pytest.Config) -> str:
    """The exact command that removes this run's leftovers from the run's target."""
    url = config.stash[SETTINGS].base_url
    where_flag = f" --anthropic-base-url {url}" if url else ""
    return f"anthropic-conformance cleanup --run {config.stash[RUN_ID]}{where_flag}"


@pytest.hookimpl(optionalhook=True)
def pytest_testnodeready(node: Any) -> None:
    """xdist controller: remember the worker, to pass a signal on to it."""
    stopper = node.config.stash.get(STOPPER, None)
    if stopper is not None:
        stopper.workers.append(node)


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
    _gather(node.config, node)


def _gather(config: pytest.Config, node: Any) -> None:
    """Take a worker's output once: from ``pytest_testnodedown``, or, after an interrupt (when
    the controller no longer reads its workers' events), from the node itself."""
    output: dict[str, Any] = getattr(node, "workeroutput", None) or {}
    gathered = config.stash.setdefault(_GATHERED, set())
    if not output or id(node) in gathered:
        return
    gathered.add(id(node))
    for key, stash_key in ((FAILURES_KEY, FAILURES), (LEFTOVERS_KEY, LEFTOVERS)):
        config.stash[stash_key] += [
            (str(where), TeardownFailure.from_json(data)) for where, data in output.get(key) or ()
        ]
    cut_off = output.get(CUT_OFF_KEY)
    if cut_off:
        config.stash[CUT_OFF] = (str(cut_off[0]), str(cut_off[1]))


def _cleanup_clients(target: RunTarget) -> dict[str, ApiClient]:
    """A client per credential the run has: the API key, and the admin key if any."""
    return target.clients(features=catalog.FEATURE_NAMES)


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of the fixtures, and xdist's nodes
def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker ships its failures and leftovers to the controller; the controller (or
    a serial run), after a worker died or an interrupt, deletes whatever carries this run's
    marker (live targets): what a dead worker created, and a create whose answer the interrupt
    cut off, are in no ledger it can see."""
    config = session.config
    output: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if output is not None:
        output[FAILURES_KEY] = [(w, f.to_json()) for w, f in config.stash.get(FAILURES, [])]
        output[LEFTOVERS_KEY] = [(w, f.to_json()) for w, f in config.stash.get(LEFTOVERS, [])]
        cut_off = config.stash.get(CUT_OFF, None)
        if cut_off is not None:
            output[CUT_OFF_KEY] = list(cut_off)
        return
    stopper = config.stash.get(STOPPER, None)
    for node in stopper.workers if stopper is not None else ():
        _gather(config, node)
    if config.stash.get(WORKER_DIED, False):
        _clean_up_by_marker(config, "a worker died")
    elif _interrupted(session) and _ran_the_suite(config):
        name = signal.Signals(stopper.received).name if stopper and stopper.received else ""
        _clean_up_by_marker(config, f"the run was interrupted{f' ({name})' if name else ''}")


def _interrupted(session: pytest.Session) -> bool:
    stopper = session.config.stash.get(STOPPER, None)
    return session.exitstatus == pytest.ExitCode.INTERRUPTED or bool(
        stopper is not None and stopper.received is not None
    )


def _ran_the_suite(config: pytest.Config) -> bool:
    """Whether this session may have created resources: a test used the ledger, or the suite
    ran (``USES_SUITE``: the xdist controller sees no fixtures). An unrelated test session that
    happens to load the plugin never calls the target."""
    return SESSION_LEDGER in config.stash or config.stash.get(USES_SUITE, False)


def _clean_up_by_marker(config: pytest.Config, why: str) -> None:
    target = config.stash[TARGET]
    if not target.keeps_resources:  # the embedded server died with the worker; replay: none
        return
    config.stash[_CLEANED_WHY] = why
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
    pytestconfig.stash[SESSION_LEDGER] = ledger
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


def _adopt_async_uncertain(request: pytest.FixtureRequest, client: ApiClient) -> None:
    """The test's asyncio client (``anthropic_async_client``, the API key's) notes its uncertain
    creates as the sync one does; they are reconciled with the sync client's, through it (the
    same key and target), whichever of the two fixtures is torn down first."""
    funcargs = getattr(request.node, "funcargs", None) or {}
    other = funcargs.get("anthropic_async_client")
    if isinstance(other, AsyncApiClient) and other.uncertain:
        client.uncertain += other.uncertain
        other.uncertain = []


def _tear_down(
    request: pytest.FixtureRequest, ledger: ResourceLedger, clients: dict[str, ApiClient]
) -> None:
    """Remove what ``ledger`` holds; failures go to the test's report section and the summary."""
    _adopt_async_uncertain(request, clients[API_KEY])
    # First what a retried create's lost first try made (conformance.client.Uncertain).
    failures = [*resources.reconcile(ledger, clients), *ledger.teardown(clients)]
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
        why = config.stash.get(_CLEANED_WHY, "a worker died")
        terminalreporter.write_line(
            f"anthropic-conformance: {why}; cleanup removed {len(cleaned)} resource(s) "
            f"of run {config.stash[RUN_ID]}: " + ", ".join(r.describe() for r in cleaned)
        )
    for line in [*leftover_lines(config), *unjudged_lines(config)]:
        terminalreporter.write_line(line, red=True)


def leftover_lines(config: pytest.Config) -> list[str]:
    """The run's end names each leftover (kind, id, name), the run marker and the exact
    command that removes them; nothing when teardown removed everything."""
    # What a later cleanup by marker removed is not left (a worker's leftover, after a crash).
    cleaned = {(r.kind, r.id) for r in config.stash.get(CLEANED, [])}
    leftovers = [
        (where, f)
        for where, f in config.stash.get(LEFTOVERS, [])
        if (f.resource.kind, f.resource.id) not in cleaned
    ]
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
        lines.append(f"  remove them with: {cleanup_command(config)}")
    else:
        lines.append(
            "  (the embedded reference server keeps nothing after the run: they are gone with it)"
        )
    return lines
