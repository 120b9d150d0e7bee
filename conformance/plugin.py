"""pytest wiring only: options, ini keys, markers, fixtures and hooks. The logic lives elsewhere."""

from __future__ import annotations

import contextlib
import gc
import importlib.metadata
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import pytest_asyncio

from conformance import (
    banner,
    capabilities,
    cassettes,
    cost,
    gating,
    logredact,
    redact,
    reproduce,
    resources_plugin,
    schemas,
)
from conformance.api import Api, AsyncApi
from conformance.cassettes import CassetteMiss, CassetteUnreadable, RunCassettes, SecretHit
from conformance.client import ApiClient, AsyncApiClient
from conformance.judgement import Judgement
from conformance.report import collect
from conformance.runlog import RunLog
from conformance.runner import SUITE, owns_the_process
from conformance.settings import (
    CAPABILITY_NAMES,
    OPTIONS,
    RENAMED_INI,
    ConfigError,
    Option,
    Settings,
    load_settings,
)
from conformance.stash import CAPABILITIES as CAPABILITIES  # re-exported: reports read
from conformance.stash import RUNLOG as RUNLOG  # config.stash[conformance.plugin.CAPABILITIES]
from conformance.stash import SETTINGS as SETTINGS
from conformance.stash import TARGET as TARGET
from conformance.target import ADMIN_KEY, API_KEY, RunTarget, Target, resolve
from conformance.upstream import UpstreamLookupError, UpstreamUnreachable

_REQUIRED_MISSING = pytest.StashKey[str]()
#: The test's sink of findings (conformance.judgement), shared by its api and admin_api.
JUDGEMENT = pytest.StashKey[Judgement]()
#: The resource ledger's fixtures and hooks (resource_ledger, conformance_run_id, safety net).
#: The profiles' options, targets, probes and fixtures (conformance/profiles/plugin.py).
pytest_plugins = ("conformance.resources_plugin", "conformance.profiles.plugin")


#: pytest-recording's plugin names (entry point, module): when it is loaded, ``--record-mode``
#: is its option, and the suite reads that same option (one flag, one meaning, both plugins).
_RECORDING_PLUGINS = ("recording", "pytest_recording")
#: ``--record-mode``'s dest, pytest-recording's or ours: the same, so reading it is one line.
_RECORD_MODE_DEST = "record_mode"


def _recording_defines_record_mode(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether pytest-recording registers ``--record-mode`` in this run, before or after us
    (entry points load in no fixed order, so "installed and not blocked" counts too)."""
    if any(pluginmanager.has_plugin(name) for name in _RECORDING_PLUGINS):
        return True
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") or any(
        pluginmanager.is_blocked(name) for name in _RECORDING_PLUGINS
    ):
        return False
    return any(
        ep.name in _RECORDING_PLUGINS for ep in importlib.metadata.entry_points(group="pytest11")
    )


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("anthropic-conformance")
    for opt in OPTIONS:
        help_text = opt.help + (f" Env: {opt.env}." if opt.env else "") + f" Ini: {opt.ini}."
        group.addoption(
            opt.flag,
            dest=f"anthropic_{opt.field}",
            default=None,
            help=help_text,
            **({"action": "append"} if opt.repeatable else {}),
        )
        parser.addini(opt.ini, help=opt.help, default=None)
    if not _recording_defines_record_mode(pluginmanager):
        group.addoption(
            "--record-mode",
            dest=_RECORD_MODE_DEST,
            default=None,
            help="Same as --anthropic-record-mode (pytest-recording's flag: when "
            "that plugin is loaded, its --record-mode is read instead).",
        )
    for old, new in RENAMED_INI.items():
        parser.addini(old, help=f"renamed {new}", default=None)


def _option(config: pytest.Config, opt: Option) -> Any:
    value = config.getoption(f"anthropic_{opt.field}", default=None)
    if value is None and opt.field == "record_mode":
        value = config.getoption(_RECORD_MODE_DEST, default=None)
    return value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "feature(name, ...): the feature toggles a conformance test needs"
    )
    config.addinivalue_line(
        "markers", "api_versions(v, ...): the anthropic-version values a test applies to"
    )
    # pytest-xdist registers it too; here so the suite's marks are known without xdist
    config.addinivalue_line(
        "markers", "xdist_group(name): tests that share a resource, run on one xdist worker"
    )
    for old, new in RENAMED_INI.items():
        if config.getini(old):
            raise pytest.UsageError(
                f"ini key {old} was renamed {new}: rename it in {config.inipath or 'your ini file'}"
            )
    try:
        settings = load_settings(
            option=lambda o: _option(config, o),
            ini=lambda o: config.getini(o.ini) or None,
        )
        target = resolve(settings)  # a setting that cannot make an honest run: a usage error
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS] = settings
    config.stash[TARGET] = target
    _trust_checked_schemas(config)
    _register_run_secrets(settings, target)
    _install_log_redaction(config)
    config.stash[RUNLOG] = RunLog()
    if settings.max_cost is not None:
        workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
        config.stash[_BUDGET] = cost.Budget(settings.max_cost, workers)
    config.pluginmanager.register(CassetteMisses(), "anthropic-conformance-cassette-misses")
    # the compatibility report: collects every test report, writes the files at session end
    config.pluginmanager.register(
        collect.ReportHooks(
            config,
            settings,
            config.stash[TARGET],
            config.stash[RUNLOG],
            lambda: collect.unsupported_of(config.stash.get(CAPABILITIES, None)),
        ),
        "anthropic-conformance-report",
    )


_BUDGET = pytest.StashKey[cost.Budget]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """``--anthropic-max-cost``: a test that could take the run over its cap does not start.

    The session stops cleanly (``shouldstop``): the fixtures of the tests that ran are torn down
    and the session's safety net runs, as at any end of a run; the report says where.
    """
    budget = item.config.stash.get(_BUDGET, None)
    if budget is None:
        return None
    stopped = budget.check(item.config.stash[RUNLOG], item.nodeid)
    if stopped is None:
        return None
    item.session.shouldstop = stopped.message
    hooks = _report_hooks(item.config)
    if hooks is not None and hooks.collector.stopped_at is None:
        hooks.collector.stopped_at = stopped
    return True  # the test is not run (the line is in the terminal summary)


def _report_hooks(config: pytest.Config) -> collect.ReportHooks | None:
    hooks = config.pluginmanager.get_plugin("anthropic-conformance-report")
    return hooks if isinstance(hooks, collect.ReportHooks) else None


def _register_run_secrets(settings: Settings, target: RunTarget) -> None:
    """Every credential of the run, given or defaulted (the reference server's keys, the
    upstream's), is scrubbed from logs, messages, cassette headers and bodies alike."""
    upstream = target.upstream.key if target.upstream else None
    for secret in (*settings.secrets(), *target.keys.values(), upstream):
        redact.register_secret(secret)


_LOG_REDACTION = pytest.StashKey[logredact.LogRedaction]()


def _install_log_redaction(config: pytest.Config) -> None:
    """Every log record of the run, whoever the logger (httpcore's DEBUG lines print raw
    headers), has the run's credentials masked; removed again at unconfigure."""
    config.stash[_LOG_REDACTION] = logredact.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    installed = config.stash.get(_LOG_REDACTION, None)
    if installed is not None:
        installed.remove()
    shared = config.stash.get(_SHARED_PROBE, None)
    if shared is not None:
        capabilities.remove_shared(shared)


_LOOP_SCOPE_INI = "asyncio_default_fixture_loop_scope"


@pytest.hookimpl(tryfirst=True, specname="pytest_configure")
def pytest_configure_loop_scope(config: pytest.Config) -> None:
    """A plain ``pytest --pyargs conformance.suite``, without the suite's run.ini, would get
    pytest-asyncio's deprecation warning about this unset key in every run: the suite's async
    fixtures are function-scoped, so say so (before pytest-asyncio reads it; only when the
    command line names the suite and the user's ini leaves the key unset)."""
    if not _args_name_suite(config):
        return
    try:
        if config.getini(_LOOP_SCOPE_INI):
            return
    except ValueError:  # pytest-asyncio is not loaded: nothing reads the key
        return
    cache = getattr(config, "_inicache", None)  # pytest has no public way to default an ini key
    if isinstance(cache, dict):
        cache[_LOOP_SCOPE_INI] = "function"


# --- is the suite in this run? --------------------------------------------------------------------
#
# The plugin is installed for every pytest run of the environment, unrelated projects' included.
# It says nothing and does nothing (no header, no probe, no report) unless the run collects a test
# that uses it: one of conformance.suite, or one requesting its fixtures or carrying its markers.

#: Fixtures a test of the suite's kind requests (directly or through another fixture).
_OUR_FIXTURES = frozenset(
    {
        "api",
        "async_api",
        "admin_api",
        "anthropic_client",
        "anthropic_async_client",
        "admin_client",
        "conformance_target",
        "conformance_settings",
        "anthropic_target",
    }
)
_HEADER_SHOWN = pytest.StashKey[bool]()


def uses_suite(item: pytest.Item) -> bool:
    """Whether ``item`` is a conformance test: it uses the plugin's fixtures or markers."""
    module = getattr(item, "module", None)
    if module is not None and module.__name__.startswith(SUITE + "."):
        return True
    if _OUR_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    return item.get_closest_marker("feature") is not None


def _show_header(config: pytest.Config) -> None:
    """The target line (and its details unless ``-q``), once, before any request is sent."""
    if config.stash.get(_HEADER_SHOWN, False) or hasattr(config, "workerinput"):
        return
    config.stash[_HEADER_SHOWN] = True
    config.stash[resources_plugin.USES_SUITE] = True  # an interrupt then cleans up by marker
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is None:
        return
    settings, target = config.stash[SETTINGS], config.stash[TARGET]
    for line in banner.lines(settings, target, verbose=config.get_verbosity() >= 0):
        terminal.write_line(line)
    for line in banner.warnings(settings, target):
        terminal.write_line(line, red=True, bold=True)
    if target.keeps_resources:
        # Also under -q: a run killed where nothing can run (SIGKILL, a lost machine) is cleaned
        # up by this line alone.
        terminal.write_line(
            f"  run marker {config.stash[resources_plugin.RUN_ID]} (if this run is killed: "
            f"{resources_plugin.cleanup_command(config)})"
        )


def _args_name_suite(config: pytest.Config) -> bool:
    """Whether the command line names the shipped suite (a path in it, or ``--pyargs``)."""
    suite_dir = Path(__file__).resolve().parent / "suite"
    for arg in config.args:
        name = arg.split("::", 1)[0]
        if name == SUITE or name.startswith(SUITE + "."):
            return True
        path = Path(config.invocation_params.dir, name).resolve()
        if path == suite_dir or suite_dir in path.parents:
            return True
    return False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """xdist controller (which collects nothing itself): the header, when the command line
    names the shipped suite and a worker collected tests. Tests are scheduled only after every
    worker collected, so this is still before any request. (A project's own tests that use the
    fixtures get no header under xdist: the controller cannot see their fixtures.)"""
    if ids and _args_name_suite(node.config):
        _show_header(node.config)


#: ``workerinput`` key: the digest of the schemas the xdist controller checked (``schemas.trust``).
SCHEMAS_CHECKED_KEY = "anthropic_schemas_checked"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: check the schemas once, here, and let every worker trust that check
    instead of repeating it (most of a worker's start-up CPU after the imports); only when the
    command line names the shipped suite (an unrelated project's run loads no schema)."""
    if _args_name_suite(node.config):
        node.workerinput[SCHEMAS_CHECKED_KEY] = schemas.checked_digest()
        shared = _shared_probe(node.config)
        if shared is not None:
            node.workerinput[CAPABILITIES_FILE_KEY] = str(shared)


#: ``workerinput`` key: the file the xdist controller's capability probe writes its result to.
CAPABILITIES_FILE_KEY = "anthropic_capabilities_file"
_SHARED_PROBE = pytest.StashKey[Path | None]()


def _shared_probe(config: pytest.Config) -> Path | None:
    """xdist controller: the file of the one capability probe of the run, started (in a
    thread) for the first worker; None when the target is not probed (embedded, replay)."""
    if _SHARED_PROBE not in config.stash:
        target = config.stash[TARGET]
        probed = not target.assumed_capabilities
        config.stash[_SHARED_PROBE] = capabilities.start_shared_probe(target) if probed else None
    return config.stash[_SHARED_PROBE]


def _trust_checked_schemas(config: pytest.Config) -> None:
    """xdist worker: the schemas its controller checked (the same files) are not checked again."""
    worker_input: dict[str, Any] = getattr(config, "workerinput", None) or {}
    schemas.trust(str(worker_input.get(SCHEMAS_CHECKED_KEY) or ""))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """xdist worker under ``--dist loadgroup``: each grouped test's node id carries its group
    (``...::test_invite_lifecycle@admin-org-writes``), which is how the controller keeps a
    group on one worker. pytest-xdist 3.8 writes it to ``item._nodeid``, which pytest 9.2's
    structured node ids no longer read, so groups are silently split (pytest-dev/pytest-xdist
    #1386); set it where pytest reads it, once xdist has tried (a fixed xdist: nothing to do)."""
    if not getattr(config, "workerinput", None) or not config.getvalue("loadgroup"):
        return
    try:
        from _pytest.nodeid import coerce_node_id  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # an older pytest: xdist's own suffix works there
        return
    for item in filter(uses_suite, items):  # another project's tests are xdist's business
        names = sorted(
            {
                str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                for m in item.iter_markers("xdist_group")
            }
        )
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            item._id = coerce_node_id(item.nodeid + suffix)


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_slowest_first(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """xdist worker: the suite's tests that send the most requests (by their cassettes) first.
    xdist hands tests out in collection order, so a long test handed out last keeps one worker
    busy while the others are done; longest first leaves only short ones for the end. Every
    worker reads the same files, so they collect the same order, as xdist requires. A serial
    run keeps the file order."""
    if not getattr(config, "workerinput", None):
        return
    cassettes = _run_cassettes(config)
    weight = {
        item.nodeid: cassettes.recorded_calls(*_cassette_test(item)) if uses_suite(item) else 0
        for item in items
    }
    items.sort(key=lambda item: -weight[item.nodeid])


# --- cassette misses: one line per test, how to record once per run ------------------------------

#: ``user_properties`` key of a test that failed for want of a usable cassette (travels to an
#: xdist controller with the report).
CASSETTE_MISS_KEY = "anthropic_cassette_miss"


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_cassette_miss(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A missing, unmatched or unreadable cassette is one line naming it: the traceback through
    pytest-asyncio, contextlib and vcrpy around it says nothing more."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance((CassetteMiss, CassetteUnreadable)):
        report.longrepr = f"{call.excinfo.typename}: {call.excinfo.value}"
        report.user_properties.append((CASSETTE_MISS_KEY, True))
    return report


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_reproduce(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test shows how to send its request again (conformance.reproduce)."""
    report = yield
    if (
        call.when == "call"
        and report.failed
        and call.excinfo is not None
        and not call.excinfo.errisinstance((CassetteMiss, CassetteUnreadable))
    ):
        text = reproduce.section(
            item.config.stash[RUNLOG].for_test(item.nodeid), call.excinfo.value
        )
        if text:
            report.sections.append(("anthropic reproduce", text))
    return report


class CassetteMisses:
    """Counts the tests that had no usable cassette; says how to record once, at the end."""

    def __init__(self) -> None:
        self.count = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and any(k == CASSETTE_MISS_KEY for k, _ in report.user_properties):
            self.count += 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.count:
            terminalreporter.write_line(
                f"anthropic cassettes: {self.count} test(s) had no usable cassette: "
                f"{cassettes.RECORD_HINT}",
                yellow=True,
            )


# --- stops: once, the same one line and exit code serially and under xdist ------------------------

#: ``workeroutput`` key: the stop a worker hit, for the controller to end the run with.
STOP_KEY = "anthropic_stop"


def stop(config: pytest.Config, message: str, *, usage: bool = False) -> NoReturn:
    """End the session with ``message`` and exit code 4: a usage error (``usage``: the run's
    configuration) or an exit (the target cannot be tested).

    On an xdist worker the stop is also put in ``workeroutput``: the controller then ends the
    run with it (``pytest_testnodedown``), instead of xdist's INTERNALERROR for a worker that
    ended with tests left.
    """
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[STOP_KEY] = {"message": message, "usage": usage}
    if usage:
        raise pytest.UsageError(message)
    pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: a worker that stopped the run stops it here, with its message."""
    found = getattr(node, "workeroutput", {}).get(STOP_KEY)
    if not found:
        return
    if found["usage"]:
        raise pytest.UsageError(found["message"])
    pytest.exit(found["message"], returncode=pytest.ExitCode.USAGE_ERROR)


def _markers(item: pytest.Item, name: str) -> list[str]:
    return [str(arg) for mark in item.iter_markers(name) for arg in mark.args]


def _judgement(item: pytest.Item) -> Judgement:
    """The test's ``Judgement``, made on first use. A missing upstream record means the suite
    cannot judge (inconclusive); an unreachable upstream is a setting to fix, and fails."""
    if JUDGEMENT not in item.stash:
        item.stash[JUDGEMENT] = Judgement(
            inconclusive_errors=(UpstreamLookupError,), not_inconclusive=(UpstreamUnreachable,)
        )
    return item.stash[JUDGEMENT]


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[RUNLOG].current = item.nodeid
    _judgement(item)
    features = _markers(item, "feature")
    if not features:
        return
    settings = item.config.stash[SETTINGS]
    reason = gating.skip_reason(
        settings, item.config.stash[TARGET], features, _markers(item, "api_versions") or None
    )
    if reason:
        pytest.skip(reason)
    verdict = capabilities.verdict(target_capabilities(item.config), features, settings.require)
    if verdict is not None and verdict.fail:
        item.stash[_REQUIRED_MISSING] = verdict.message  # failed in the call phase, below
    elif verdict is not None:
        pytest.skip(verdict.message)


def target_capabilities(config: pytest.Config) -> capabilities.Capabilities:
    """The target's capabilities, probed on first use (once per session).

    An xdist worker reads what its controller probed (``CAPABILITIES_FILE_KEY``), and probes
    itself only when it cannot. The result is stored even when probing raised, so it never
    re-runs per test; when it says the run cannot learn anything (``fatal``: nothing answered,
    nothing looks like the API), the session ends here once, with that message, rather than
    after hours of per-test retries or as a green run of skips.
    """
    if CAPABILITIES not in config.stash:
        target = config.stash[TARGET]
        shared = (getattr(config, "workerinput", None) or {}).get(CAPABILITIES_FILE_KEY)
        found = capabilities.read_shared(Path(shared)) if shared else None
        if found is None:  # reported once, below, as the session's end when fatal
            found = capabilities.for_target_or_failure(target)
        config.stash[CAPABILITIES] = found
    caps = config.stash[CAPABILITIES]
    if caps.fatal:
        stop(config, f"anthropic-conformance: {caps.fatal}")
    return caps


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    """A test of a required family the target does not serve fails (not errors) with evidence."""
    message = pyfuncitem.stash.get(_REQUIRED_MISSING, None)
    if message is not None:
        pytest.fail(message, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """The test's verdict, at its end, from everything its answers broke (``Judgement``): its
    own failure with the recorded errors added, a failure for those errors alone, or a skip
    with the evidence when only inconclusive findings were left. An unreachable upstream
    stops the run instead."""
    __tracebackhide__ = True
    judgement = item.stash.get(JUDGEMENT, None)
    try:
        result = yield
    except BaseException as exc:
        if isinstance(exc, UpstreamUnreachable):
            # a setting to fix, the same for every pass-through test: the run stops at the
            # first, once, like a dead target
            stop(item.config, f"anthropic-conformance: {exc}")
        if judgement is None:
            raise
        outcome = judgement.conclude(exc)
        if outcome is exc:
            raise
        if outcome is None:
            return None
        raise outcome from outcome.__cause__
    if judgement is not None:
        outcome = judgement.conclude(None)
        if outcome is not None:
            raise outcome
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    judgement = item.stash.get(JUDGEMENT, None)
    if call.when == "call":
        calls = item.config.stash[RUNLOG].describe_test(item.nodeid)
        if calls:
            report.sections.append(("anthropic calls", calls))
        if judgement is not None and judgement.warnings:
            report.sections.append(
                ("anthropic warnings", "\n".join(f.format() for f in judgement.warnings))
            )
    spent = item.config.stash[RUNLOG].cost_of(item.nodeid)
    if call.when == "teardown" and spent is not None:  # the last phase: every call counted
        report.user_properties.append((collect.COST_KEY, spent.as_dict()))
    features = _markers(item, "feature")
    if features:  # what the report needs travels with the test report (to an xdist controller)
        # teardown: every call of the test, teardown's too (junit.xml reads the last phase)
        runlog = item.config.stash[RUNLOG]
        exchanges = runlog.for_test(item.nodeid) if call.when != "setup" else []
        report.user_properties.extend(
            collect.properties(
                features, call.excinfo, exchanges, judgement if call.when == "call" else None
            )
        )
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    hits = config.stash.get(_SECRETS, [])
    if hits:
        terminalreporter.section("anthropic SECRETS IN RECORDED CASSETTES: run failed", red=True)
        for hit in hits:
            terminalreporter.write_line(hit.format(), red=True)
    unsupported = _unsupported(config)
    if unsupported:
        terminalreporter.section("anthropic capabilities: not supported by the target")
        for name, evidence in unsupported.items():
            terminalreporter.write_line(f"{name}: {evidence}")
    _cost_summary(terminalreporter, config)
    log = config.stash[RUNLOG]
    if log.drift:
        terminalreporter.section(
            "anthropic drift: fields, types, headers and betas the schemas do not know"
        )
        for (where, pointer), count in sorted(log.drift.items()):
            terminalreporter.write_line(f"{where} {pointer} (seen {count}x)")


def _cost_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The run's total and its most expensive tests, gathered from every worker's reports:
    for a target that bills tokens, and for any run with a cap (the figures the cap counted;
    the embedded server reports usage like the real API but bills nothing)."""
    hooks = _report_hooks(config)
    if hooks is None:
        return
    c = hooks.collector
    billed = config.stash[TARGET].bills_tokens
    if c.stopped_at is not None:
        terminalreporter.write_line(c.stopped_at.message, yellow=True, bold=True)
    if not c.input_tokens or not (billed or config.stash[SETTINGS].max_cost is not None):
        return
    for line in cost.summary_lines(
        c.costs, c.cost_usd, c.input_tokens, c.output_tokens, billed=billed
    ):
        terminalreporter.write_line(line)


def _unsupported(config: pytest.Config) -> dict[str, str]:
    """Family -> evidence for what the target does not serve, in probe order: this process's
    probe plus, under xdist, what each worker's probe found (shipped in ``workeroutput`` and
    gathered by the report hooks; the controller runs no test, so it probes nothing itself)."""
    found = collect.unsupported_of(config.stash.get(CAPABILITIES, None))
    hooks = config.pluginmanager.get_plugin("anthropic-conformance-report")
    if isinstance(hooks, collect.ReportHooks):
        found = {**hooks.collector.unsupported, **found}
    order = {name: i for i, name in enumerate(CAPABILITY_NAMES)}
    return dict(sorted(found.items(), key=lambda item: order.get(item[0], len(order))))


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def conformance_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's parsed settings."""
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def conformance_target(pytestconfig: pytest.Config) -> Iterator[RunTarget]:
    """The run's target, running (the embedded reference server is started for the session
    when no target was given): its keys, clients and what it supports (``can_force_status``,
    ``now()``, ``batches_end_quickly``, ``upstream``, ...)."""
    with pytestconfig.stash[TARGET].started() as target:
        yield target


@pytest.fixture(scope="session")
def anthropic_target(conformance_target: RunTarget) -> Target:
    """Where requests go, with the API key: what ``ApiClient`` takes."""
    return conformance_target.endpoint()


@pytest.fixture
def anthropic_model(conformance_settings: Settings) -> str:
    return conformance_settings.model


def _client_kwargs(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {
        "features": _markers(request.node, "feature"),
        "on_exchange": request.config.stash[RUNLOG].record,
        "translate_error": cassettes.translate_error,
    }


def _cassette(
    request: pytest.FixtureRequest, settings: Settings
) -> contextlib.AbstractContextManager[None]:
    """This test's cassette (conformance.cassettes.session), or nothing without a record mode."""
    return _run_cassettes(request.config).open(*_cassette_test(request.node))


def _cassette_test(node: pytest.Item) -> tuple[str | None, str]:
    """``(dotted module name, test name)``: what names a test's cassette."""
    module = getattr(node, "module", None)
    return (module.__name__ if module is not None else None), node.name


def _run_cassettes(config: pytest.Config) -> RunCassettes:
    """The run's cassettes, made from the settings on first use."""
    if _CASSETTES not in config.stash:
        config.stash[_CASSETTES] = RunCassettes.from_settings(
            config.stash[SETTINGS], config.stash[TARGET].recorded_as
        )
    return config.stash[_CASSETTES]


_CLIENT_FIXTURES = frozenset({"anthropic_client", "anthropic_async_client"})
_CASSETTES = pytest.StashKey[RunCassettes]()
_SECRETS = pytest.StashKey[list[SecretHit]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """When the run uses the suite: the header, and, before anything runs, the refusal of a
    record mode that would write over existing cassettes."""
    if not any(uses_suite(item) for item in session.items):
        return
    _show_header(session.config)
    problem = _run_cassettes(session.config).replay_dir_error()
    if problem:
        stop(session.config, problem, usage=True)
    problem = _run_cassettes(session.config).overwrite_error(
        _cassette_test(item)
        for item in session.items
        if _CLIENT_FIXTURES & set(getattr(item, "fixturenames", ()))
    )
    if problem:
        stop(session.config, problem, usage=True)


@pytest.hookimpl(trylast=True, specname="pytest_collection_finish")
def pytest_collection_finish_freeze(session: pytest.Session) -> None:
    """A run of the suite in a process of its own (``runner.owns_the_process``): what is alive
    after imports and collection (modules, schemas, compiled validators, the catalog) lives as
    long as the process, so ``gc.freeze()`` takes it out of the cyclic collector's walks. Each
    full collection then walks only what the tests made, and so do pytest's collections at its
    end and the interpreter's (with four xdist workers on two cores, their end took 0.7 s)."""
    if owns_the_process(session.config) and any(map(uses_suite, session.items)):
        gc.freeze()


@pytest.hookimpl(trylast=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_freeze(session: pytest.Session) -> None:
    """... and at its end, what is left (an xdist controller, which collects no test, too)."""
    if owns_the_process(session.config) and _args_name_suite(session.config):
        gc.freeze()


#: ``workeroutput`` key: the cassette files an xdist worker wrote (the controller scans them).
CASSETTES_WRITTEN_KEY = "anthropic_cassettes_written"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After a recording run, scan the cassettes it wrote (the files, not the filters).

    Under xdist a worker's exit status is lost, so a worker only ships the paths it wrote and
    the controller scans every worker's files and fails the run (``_gather_cassettes``).
    """
    config = session.config
    cassettes_of_run = _run_cassettes(config)
    output: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if output is not None:
        output[CASSETTES_WRITTEN_KEY] = [str(p) for p in sorted(cassettes_of_run.opened)]
        return
    hits = cassettes_of_run.scan_recorded(extra=redact.known_secrets())
    if hits:
        config.stash[_SECRETS] = hits
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True, specname="pytest_testnodedown")
def pytest_testnodedown_cassettes(node: Any, error: Any) -> None:
    """xdist controller: gather the cassettes a worker wrote; a worker that died sent nothing,
    so every cassette written since the run started is scanned instead."""
    _gather_cassettes(node.config, getattr(node, "workeroutput", {}) or {}, died=bool(error))


def _gather_cassettes(config: pytest.Config, output: dict[str, Any], died: bool) -> None:
    run = _run_cassettes(config)
    run.opened.update(Path(p) for p in output.get(CASSETTES_WRITTEN_KEY) or ())
    if died or CASSETTES_WRITTEN_KEY not in output:
        run.opened.update(run.written_since_start())


@pytest.fixture
def anthropic_client(
    request: pytest.FixtureRequest, conformance_target: RunTarget, conformance_settings: Settings
) -> Iterator[ApiClient]:
    """A sync client for the target, inside this test's cassette when recording or replaying."""
    with _cassette(request, conformance_settings):
        client = conformance_target.client(**_client_kwargs(request))
        try:
            yield client
        finally:
            client.close()


@pytest_asyncio.fixture
async def anthropic_async_client(
    request: pytest.FixtureRequest, conformance_target: RunTarget, conformance_settings: Settings
) -> AsyncIterator[AsyncApiClient]:
    """The asyncio twin of ``anthropic_client``."""
    with _cassette(request, conformance_settings):
        client = conformance_target.async_client(**_client_kwargs(request))
        try:
            yield client
        finally:
            await client.aclose()


def _needs_api_key(config: pytest.Config) -> None:
    """An admin test that also sends normal calls (``api``) skips on a run with only an admin
    key (the feature gate asked for the admin key only)."""
    reason = gating.key_missing(config.stash[TARGET], API_KEY)
    if reason:
        pytest.skip(reason)


@pytest.fixture
def api(
    request: pytest.FixtureRequest,
    anthropic_client: ApiClient,
    anthropic_model: str,
    pytestconfig: pytest.Config,
) -> Api:
    """The facade conformance tests use: ``api.call(...)`` then ``api.expect(...)``; its
    findings go to the test's ``Judgement``, which decides the test at its end."""
    _needs_api_key(pytestconfig)
    return Api(
        anthropic_client, anthropic_model, pytestconfig.stash[RUNLOG], _judgement(request.node)
    )


@pytest.fixture
def async_api(
    request: pytest.FixtureRequest,
    anthropic_async_client: AsyncApiClient,
    anthropic_model: str,
    pytestconfig: pytest.Config,
) -> AsyncApi:
    _needs_api_key(pytestconfig)
    return AsyncApi(
        anthropic_async_client,
        anthropic_model,
        pytestconfig.stash[RUNLOG],
        _judgement(request.node),
    )


# --- Admin API ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(
    request: pytest.FixtureRequest,
    anthropic_client: ApiClient,
    conformance_target: RunTarget,
) -> Iterator[ApiClient]:
    """A client that sends the admin key (never the normal one), in the test's cassette.

    It depends on ``anthropic_client`` only for the cassette that fixture opens: both clients'
    calls land in the one cassette of the test.
    """
    client = conformance_target.client(ADMIN_KEY, **_client_kwargs(request))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def admin_api(
    request: pytest.FixtureRequest,
    admin_client: ApiClient,
    anthropic_model: str,
    pytestconfig: pytest.Config,
) -> Api:
    """The ``Api`` facade over the admin client, for ``/v1/organizations/...`` endpoints; it
    shares the test's ``Judgement`` with ``api``."""
    return Api(admin_client, anthropic_model, pytestconfig.stash[RUNLOG], _judgement(request.node))


@pytest.fixture
def admin_rename_key_id(conformance_target: RunTarget) -> str | None:
    """The one API key the admin_write tests may rename (to its own name): the user's choice on
    a live target, the reference server's seeded key otherwise."""
    return conformance_target.rename_key_id
