"""pytest wiring only: options, ini keys, markers, fixtures and hooks. The logic lives elsewhere."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

import conformance
from conformance import cassettes, gating, reference
from conformance.api import Api, AsyncApi
from conformance.client import ApiClient, AsyncApiClient, RetryPolicy, Target
from conformance.runlog import RunLog
from conformance.settings import OPTIONS, ConfigError, Settings, TargetKind, load_settings

SETTINGS = pytest.StashKey[Settings]()
RUNLOG = pytest.StashKey[RunLog]()
REPLAY_KEY = "replay-no-key"  # sent nowhere: replay never touches the network


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("anthropic-conformance")
    for opt in OPTIONS:
        help_text = opt.help + (f" Env: {opt.env}." if opt.env else "") + f" Ini: {opt.ini}."
        with contextlib.suppress(ValueError):  # another plugin (pytest-recording) owns the flag
            group.addoption(opt.flag, dest=f"anthropic_{opt.field}", default=None, help=help_text)
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
    config.stash[RUNLOG] = RunLog()


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash[SETTINGS]
    target = {
        TargetKind.REFERENCE: "embedded reference server (the default: no key, no network)",
        TargetKind.LIVE: f"live {s.live_url}",
        TargetKind.REPLAY: f"cassette replay from {s.cassette_dir}, network blocked",
    }[s.target_kind]
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
    reason = gating.skip_reason(item.config.stash[SETTINGS], features,
                                _markers(item, "api_versions") or None)
    if reason:
        pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "call":
        calls = item.config.stash[RUNLOG].describe_test(item.nodeid)
        if calls:
            report.sections.append(("anthropic calls", calls))
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    log = config.stash[RUNLOG]
    if config.stash[SETTINGS].target_kind is TargetKind.LIVE and log.input_tokens:
        terminalreporter.write_line(
            f"anthropic-conformance: {log.input_tokens} input + {log.output_tokens} output "
            f"tokens, about ${log.cost_usd:.4f} at list price")
    if log.drift:
        terminalreporter.section("anthropic drift: fields the schemas do not know")
        for (where, pointer), count in sorted(log.drift.items()):
            terminalreporter.write_line(f"{where} {pointer} (seen {count}x)")


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def conformance_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's parsed settings."""
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def anthropic_target(conformance_settings: Settings) -> Iterator[Target]:
    """Where requests go; starts the embedded reference server when no target was given."""
    s = conformance_settings
    if s.target_kind is TargetKind.REFERENCE:
        with reference.EmbeddedServer() as server:
            yield Target.from_settings(s, server.url, reference.DEFAULT_API_KEY)
        return
    key = s.api_key.get_secret_value() if s.api_key else None
    yield Target.from_settings(s, s.live_url, REPLAY_KEY if s.target_kind is TargetKind.REPLAY
                               else key)


@pytest.fixture
def anthropic_model(conformance_settings: Settings) -> str:
    return conformance_settings.model


def _client_kwargs(request: pytest.FixtureRequest, settings: Settings) -> dict[str, Any]:
    return {
        "features": _markers(request.node, "feature"),
        "retry": RetryPolicy(settings.max_retries, settings.retry_deadline),
        "timeout": settings.timeout,
        "on_exchange": request.config.stash[RUNLOG].record,
        "translate_error": cassettes.translate_error,
    }


def _cassette(
    request: pytest.FixtureRequest, settings: Settings
) -> contextlib.AbstractContextManager[None]:
    if settings.record_mode is None:
        return contextlib.nullcontext()
    module = request.node.module.__name__.rsplit(".", 1)[-1] if request.node.module else "tests"
    path = cassettes.cassette_path(settings.cassette_dir, settings.api_version, module,
                                   request.node.name)
    return cassettes.use_cassette(path, settings.record_mode)


@pytest.fixture
def anthropic_client(
    request: pytest.FixtureRequest, anthropic_target: Target, conformance_settings: Settings
) -> Iterator[ApiClient]:
    """A sync client for the target, inside this test's cassette when recording or replaying."""
    with _cassette(request, conformance_settings):
        client = ApiClient(anthropic_target, **_client_kwargs(request, conformance_settings))
        try:
            yield client
        finally:
            client.close()


@pytest_asyncio.fixture
async def anthropic_async_client(
    request: pytest.FixtureRequest, anthropic_target: Target, conformance_settings: Settings
) -> AsyncIterator[AsyncApiClient]:
    """The asyncio twin of ``anthropic_client``."""
    with _cassette(request, conformance_settings):
        client = AsyncApiClient(anthropic_target, **_client_kwargs(request, conformance_settings))
        try:
            yield client
        finally:
            await client.aclose()


@pytest.fixture
def api(anthropic_client: ApiClient, anthropic_model: str, pytestconfig: pytest.Config) -> Api:
    """The facade conformance tests use: ``api.call(...)`` then ``api.expect(...)``."""
    return Api(anthropic_client, anthropic_model, pytestconfig.stash[RUNLOG])


@pytest.fixture
def async_api(
    anthropic_async_client: AsyncApiClient, anthropic_model: str, pytestconfig: pytest.Config
) -> AsyncApi:
    return AsyncApi(anthropic_async_client, anthropic_model, pytestconfig.stash[RUNLOG])
