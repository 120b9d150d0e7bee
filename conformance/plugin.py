"""pytest wiring only: options, ini keys, markers, fixtures and hooks. The logic lives elsewhere."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

import conformance
from conformance import capabilities, cassettes, gating, redact
from conformance.api import Api, AsyncApi
from conformance.cassettes import RunCassettes, SecretHit
from conformance.client import ApiClient, AsyncApiClient
from conformance.report import collect
from conformance.runlog import RunLog
from conformance.settings import (
    CAPABILITY_NAMES,
    OPTIONS,
    ConfigError,
    Settings,
    load_settings,
)
from conformance.stash import CAPABILITIES as CAPABILITIES  # re-exported: reports read
from conformance.stash import RUNLOG as RUNLOG  # config.stash[conformance.plugin.CAPABILITIES]
from conformance.stash import SETTINGS as SETTINGS
from conformance.stash import TARGET as TARGET
from conformance.target import ADMIN_KEY, API_KEY, RunTarget, Target, resolve

_REQUIRED_MISSING = pytest.StashKey[str]()
#: The resource ledger's fixtures and hooks (resource_ledger, conformance_run_id, safety net).
#: The profiles' options, targets, probes and fixtures (conformance/profiles/plugin.py).
pytest_plugins = ("conformance.resources_plugin", "conformance.profiles.plugin")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("anthropic-conformance")
    for opt in OPTIONS:
        help_text = opt.help + (f" Env: {opt.env}." if opt.env else "") + f" Ini: {opt.ini}."
        with contextlib.suppress(ValueError):  # another plugin (pytest-recording) owns the flag
            group.addoption(opt.flag, dest=f"anthropic_{opt.field}", default=None, help=help_text,
                            **({"action": "append"} if opt.repeatable else {}))
        parser.addini(opt.ini, help=opt.help, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "feature(name, ...): the feature toggles a conformance test needs")
    config.addinivalue_line(
        "markers", "api_versions(v, ...): the anthropic-version values a test applies to")
    try:
        settings = load_settings(
            option=lambda o: config.getoption(f"anthropic_{o.field}", default=None),
            ini=lambda o: config.getini(o.ini) or None,
        )
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS] = settings
    config.stash[TARGET] = resolve(settings)
    for secret in settings.secrets():  # scrubbed from logs, messages and cassettes alike
        redact.register_secret(secret)
    config.stash[RUNLOG] = RunLog()
    # the compatibility report: collects every test report, writes the files at session end
    config.pluginmanager.register(collect.ReportHooks(
        config, settings, config.stash[TARGET], config.stash[RUNLOG],
        lambda: collect.unsupported_of(config.stash.get(CAPABILITIES, None)),
    ), "anthropic-conformance-report")


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash[SETTINGS]
    target = config.stash[TARGET].describe()
    record = f", record mode {s.record_mode.value}" if s.record_mode else ""
    return [
        f"anthropic-conformance {conformance.__version__}: target {target}{record}",
        f"  anthropic-version {s.api_version}, model {s.model}, auth {s.auth}, "
        f"features {','.join(sorted(s.features))}",
    ]


def _markers(item: pytest.Item, name: str) -> list[str]:
    return [str(arg) for mark in item.iter_markers(name) for arg in mark.args]


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[RUNLOG].current = item.nodeid
    features = _markers(item, "feature")
    if not features:
        return
    settings = item.config.stash[SETTINGS]
    reason = gating.skip_reason(settings, item.config.stash[TARGET], features,
                                _markers(item, "api_versions") or None)
    if reason:
        pytest.skip(reason)
    verdict = capabilities.verdict(target_capabilities(item.config), features, settings.require)
    if verdict is not None and verdict.fail:
        item.stash[_REQUIRED_MISSING] = verdict.message  # failed in the call phase, below
    elif verdict is not None:
        pytest.skip(verdict.message)


def target_capabilities(config: pytest.Config) -> capabilities.Capabilities:
    """The target's capabilities, probed on first use (once per session).

    The result is stored even when probing raised, so it never re-runs per test; when it says
    the run cannot learn anything (``fatal``: nothing answered, nothing looks like the API), the
    session ends here once, with that message, rather than after hours of per-test retries or as
    a green run of skips.
    """
    if CAPABILITIES not in config.stash:
        target = config.stash[TARGET]
        try:
            found = capabilities.for_target(target)
        except Exception as exc:  # reported once, below, as the session's end
            found = capabilities.failed(target.base_url or target.describe(), exc)
        config.stash[CAPABILITIES] = found
    caps = config.stash[CAPABILITIES]
    if caps.fatal:
        pytest.exit(f"anthropic-conformance: {caps.fatal}", returncode=pytest.ExitCode.USAGE_ERROR)
    return caps


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    """A test of a required family the target does not serve fails (not errors) with evidence."""
    message = pyfuncitem.stash.get(_REQUIRED_MISSING, None)
    if message is not None:
        pytest.fail(message, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "call":
        calls = item.config.stash[RUNLOG].describe_test(item.nodeid)
        if calls:
            report.sections.append(("anthropic calls", calls))
    features = _markers(item, "feature")
    if features:  # what the report needs travels with the test report (to an xdist controller)
        exchanges = item.config.stash[RUNLOG].for_test(item.nodeid) if call.when == "call" else []
        report.user_properties.extend(collect.properties(features, call.excinfo, exchanges))
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
    log = config.stash[RUNLOG]
    if config.stash[TARGET].bills_tokens and log.input_tokens:
        terminalreporter.write_line(
            f"anthropic-conformance: {log.input_tokens} input + {log.output_tokens} output "
            f"tokens, about ${log.cost_usd:.4f} at list price")
    if log.drift:
        terminalreporter.section(
            "anthropic drift: fields, types, headers and betas the schemas do not know")
        for (where, pointer), count in sorted(log.drift.items()):
            terminalreporter.write_line(f"{where} {pointer} (seen {count}x)")


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
            config.stash[SETTINGS], config.stash[TARGET].recorded_as)
    return config.stash[_CASSETTES]


_CLIENT_FIXTURES = frozenset({"anthropic_client", "anthropic_async_client"})
_CASSETTES = pytest.StashKey[RunCassettes]()
_SECRETS = pytest.StashKey[list[SecretHit]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse, before anything runs, a record mode that would write over existing cassettes."""
    problem = _run_cassettes(session.config).overwrite_error(
        _cassette_test(item) for item in session.items
        if _CLIENT_FIXTURES & set(getattr(item, "fixturenames", ())))
    if problem:
        raise pytest.UsageError(problem)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After a recording run, scan the cassettes it wrote (the files, not the filters)."""
    hits = _run_cassettes(session.config).scan_recorded(extra=redact.known_secrets())
    if hits:
        session.config.stash[_SECRETS] = hits
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
def api(anthropic_client: ApiClient, anthropic_model: str, pytestconfig: pytest.Config) -> Api:
    """The facade conformance tests use: ``api.call(...)`` then ``api.expect(...)``."""
    _needs_api_key(pytestconfig)
    return Api(anthropic_client, anthropic_model, pytestconfig.stash[RUNLOG])


@pytest.fixture
def async_api(
    anthropic_async_client: AsyncApiClient, anthropic_model: str, pytestconfig: pytest.Config
) -> AsyncApi:
    _needs_api_key(pytestconfig)
    return AsyncApi(anthropic_async_client, anthropic_model, pytestconfig.stash[RUNLOG])


# --- Admin API ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(
    request: pytest.FixtureRequest, anthropic_client: ApiClient, conformance_target: RunTarget,
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
def admin_api(admin_client: ApiClient, anthropic_model: str, pytestconfig: pytest.Config) -> Api:
    """The ``Api`` facade over the admin client, for ``/v1/organizations/...`` endpoints."""
    return Api(admin_client, anthropic_model, pytestconfig.stash[RUNLOG])


@pytest.fixture
def admin_rename_key_id(conformance_target: RunTarget) -> str | None:
    """The one API key the admin_write tests may rename (to its own name): the user's choice on
    a live target, the reference server's seeded key otherwise."""
    return conformance_target.rename_key_id
