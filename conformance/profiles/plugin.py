"""pytest wiring of the profiles: their options, targets, probes, gating and the client fixture.

Loaded by the core plugin (``conformance.plugin`` lists it in ``pytest_plugins``), so every
profile's options are pytest options, and a test marked
``@pytest.mark.conformance_profile(NAME, TOGGLE, ...)`` runs only when profile ``NAME`` is
selected (``--conformance-profile``), its toggles are on and its target serves the surface. The
Anthropic profile is the core plugin's own business; nothing here touches it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance import redact
from conformance.cassettes import SecretHit, scan_paths, use_cassette
from conformance.cassettes.serializer import REFERENCE_TARGET, make_provenance, target_of
from conformance.profiles import _registry
from conformance.profiles._client import (
    ProfileClient,
    ProfileTarget,
    ProfileTargetUnreachable,
    resolve,
)
from conformance.profiles._model import Profile, ProfileError, ProfileSettings
from conformance.settings import ConfigError, RecordMode, load_options
from conformance.stash import SETTINGS

MARKER = "conformance_profile"
#: Statuses that say "this surface is not served here" (the core probes' rule).
NOT_SERVED = frozenset({404, 405, 501})


@dataclass
class ProfileRun:
    """One selected profile in this session: its target, what probing found, its cassettes."""

    profile: Profile
    settings: ProfileSettings
    target: ProfileTarget
    features: frozenset[str]
    record_mode: RecordMode | None
    not_served: str | None = None  # the probe's evidence, once probed
    probed: bool = False
    opened: set[Path] = field(default_factory=set)

    def cassette(self, module: str | None, test_name: str) -> Path | None:
        if self.profile.cassette_dir is None:
            return None
        folder = module.rsplit(".", 1)[-1] if module else "tests"
        safe = "".join(c if c.isalnum() or c in "_.-[]" else "_" for c in test_name)
        return self.profile.cassette_dir / folder / f"{safe}.yaml"


_RUNS = pytest.StashKey[dict[str, ProfileRun]]()
_LOAD_ERROR = pytest.StashKey[str]()
_SECRETS = pytest.StashKey[list[SecretHit]]()


def _profiles() -> dict[str, Profile]:
    return {n: p for n, p in _registry.available().items() if not p.native}


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        profiles = _profiles()
    except ProfileError:
        return  # reported as a usage error by the core settings (the profile selection)
    for profile in profiles.values():
        group = parser.getgroup(f"conformance profile {profile.name}")
        for opt in profile.all_options():
            env = f" Env: {opt.env}." if opt.env else ""
            group.addoption(
                opt.flag, dest=opt.ini, default=None, help=f"{opt.help}{env} Ini: {opt.ini}."
            )
            parser.addini(opt.ini, help=opt.help, default=None)


def load_profile_settings(
    profile: Profile, config: pytest.Config | None = None, environ: Any = None
) -> ProfileSettings:
    """The profile's settings from its option rows (flag > env > ini), validated."""
    opts = {o.ini for o in profile.all_options()}

    def option(o: Any) -> Any:
        return config.getoption(o.ini, default=None) if config is not None else None

    def ini(o: Any) -> Any:
        if config is None or o.ini not in opts:
            return None
        try:
            return config.getini(o.ini) or None
        except ValueError:
            return None

    settings = load_options(
        profile.all_options(),
        profile.settings_model,
        option=option,
        ini=ini,
        environ=environ,
        key=profile.option_key,
    )
    toggles = {t.name for t in profile.toggles}
    unknown = sorted((settings.features or frozenset()) - toggles)
    if unknown:
        raise ConfigError(
            f"invalid anthropic-conformance setting: --{profile.prefix}-features: "
            f"unknown toggle(s) {', '.join(map(repr, unknown))} of profile "
            f"{profile.name}; allowed values: {', '.join(sorted(toggles))}"
        )
    bad = sorted(set(settings.mutant) - set(profile.mutants))
    if bad:
        raise ConfigError(
            f"invalid anthropic-conformance setting: --{profile.prefix}-mutant: "
            f"unknown mutant(s) {', '.join(map(repr, bad))} of profile "
            f"{profile.name}; allowed values: {', '.join(profile.mutants)}"
        )
    if settings.mutant and settings.base_url:
        raise ConfigError(
            f"invalid anthropic-conformance setting: --{profile.prefix}-mutant "
            "switches on bugs in the reference implementation; it cannot apply "
            f"to the deployment given by --{profile.prefix}-base-url"
        )
    return settings


@pytest.hookimpl(trylast=True)  # after the core plugin parsed its settings
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(name, toggle, ...): the profile a test belongs to, and the "
        "profile toggles it needs",
    )
    core = config.stash.get(SETTINGS, None)
    if core is None:
        return
    runs: dict[str, ProfileRun] = {}
    for name in core.profile:
        profile = _registry.get(name)
        if profile.native:
            continue
        try:
            settings = load_profile_settings(profile, config)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        if settings.api_key is not None:
            redact.register_secret(settings.api_key.get_secret_value())
        default_on = frozenset(t.name for t in profile.toggles if t.default)
        runs[name] = ProfileRun(
            profile,
            settings,
            resolve(profile, settings, core.record_mode is RecordMode.NONE),
            settings.features if settings.features is not None else default_on,
            core.record_mode,
        )
    config.stash[_RUNS] = runs


def selected_runs(config: pytest.Config) -> dict[str, ProfileRun]:
    """The selected profiles of this session (the Anthropic one not included)."""
    return config.stash.get(_RUNS, {})


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    for run in selected_runs(config).values():
        mode = "as-built shapes accepted" if run.settings.as_built else "strict"
        lines.append(
            f"profile {run.profile.name}: target {run.target.describe()}, {mode}, "
            f"toggles {','.join(sorted(run.features)) or '(none)'}"
        )
    return lines


def _profile_marker(item: pytest.Item) -> tuple[str, list[str]] | None:
    mark = item.get_closest_marker(MARKER)
    if mark is None or not mark.args:
        return None
    return str(mark.args[0]), [str(a) for a in mark.args[1:]]


_REQUIRED_MISSING = pytest.StashKey[str]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    marked = _profile_marker(item)
    if marked is None:
        return
    name, toggles = marked
    run = selected_runs(item.config).get(name)
    if run is None:
        pytest.skip(f"profile {name} is not selected: add --conformance-profile {name}")
    off = [t for t in toggles if t not in run.features]
    if off:
        pytest.skip(
            f"toggle {','.join(off)} of profile {name} is off: add it to "
            f"--{run.profile.prefix}-features"
        )
    evidence = _probe(item.config, run)
    if evidence is None:
        return
    require = item.config.stash[SETTINGS].require
    if name in require:
        item.stash[_REQUIRED_MISSING] = (
            f"required profile {name} (--anthropic-require) not served by the target: {evidence}"
        )
    else:
        pytest.skip(
            f"not supported by the target: profile {name} ({evidence}); add "
            f"--anthropic-require={name} to fail instead"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    message = pyfuncitem.stash.get(_REQUIRED_MISSING, None)
    if message is not None:
        pytest.fail(message, pytrace=False)


def probe(target: ProfileTarget) -> str | None:
    """None when the target serves the profile's surface, else the evidence that it does not
    (the probe, its status and body). Raises ``ProfileTargetUnreachable`` when nothing answers."""
    import httpx

    assert target.base_url is not None
    for p in target.profile.probes:
        try:
            response = httpx.request(p.method, target.base_url + p.path, timeout=10.0)
        except httpx.TransportError as exc:
            raise ProfileTargetUnreachable(
                f"profile {target.profile.name}: nothing answers at {target.base_url} "
                f"({p.method} {p.path}: {type(exc).__name__}: {exc}); check "
                f"--{target.profile.prefix}-base-url"
            ) from None
        if response.status_code in NOT_SERVED:
            body = redact.redact_text(response.text[:120].replace("\n", " "))
            return f"{p.method} {p.path} answered {response.status_code} {body!r}"
    return None


def _probe(config: pytest.Config, run: ProfileRun) -> str | None:
    if not run.probed:
        run.probed = True
        if run.target.probed:
            try:
                run.not_served = probe(run.target)
            except ProfileTargetUnreachable as exc:
                pytest.exit(f"anthropic-conformance: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    return run.not_served


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse, before anything runs, a record mode that would write over profile cassettes."""
    from conformance.cassettes import overwrite_error

    paths = []
    for item in session.items:
        marked = _profile_marker(item)
        run = selected_runs(session.config).get(marked[0]) if marked else None
        if run is not None and "profile_client" in getattr(item, "fixturenames", ()):
            path = run.cassette(getattr(getattr(item, "module", None), "__name__", None), item.name)
            if path is not None:
                paths.append(path)
    runs = list(selected_runs(session.config).values())
    if runs:
        problem = overwrite_error(runs[0].record_mode, paths)
        if problem:
            raise pytest.UsageError(problem)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After a recording run, scan the profile cassettes it wrote for secrets."""
    written = sorted(
        p
        for run in selected_runs(session.config).values()
        if run.record_mode not in (None, RecordMode.NONE)
        for p in run.opened
        if p.exists()
    )
    hits = scan_paths(written, hide_org_ids=True, extra=redact.known_secrets()) if written else []
    if hits:
        session.config.stash[_SECRETS] = hits
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    hits = config.stash.get(_SECRETS, [])
    if hits:
        terminalreporter.section("profile cassettes: SECRETS IN RECORDED CASSETTES", red=True)
        for hit in hits:
            terminalreporter.write_line(hit.format(), red=True)


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _profile_targets(pytestconfig: pytest.Config) -> Iterator[dict[str, ProfileTarget]]:
    """The selected profiles' targets, each started on first use, stopped at session end."""
    with contextlib.ExitStack() as stack:
        started: dict[str, ProfileTarget] = {}

        class Lazy(dict[str, ProfileTarget]):
            def __missing__(self, name: str) -> ProfileTarget:
                run = selected_runs(pytestconfig)[name]
                started[name] = stack.enter_context(run.target.started())
                self[name] = started[name]
                return started[name]

        yield Lazy()


@pytest.fixture
def profile_target(
    request: pytest.FixtureRequest, _profile_targets: dict[str, ProfileTarget]
) -> ProfileTarget:
    """The running target of the profile the test is marked with."""
    marked = _profile_marker(request.node)
    if marked is None:
        raise pytest.UsageError(
            f"{request.node.nodeid} uses profile_target without @pytest.mark.{MARKER}(NAME)"
        )
    return _profile_targets[marked[0]]


@pytest.fixture
def profile_client(
    request: pytest.FixtureRequest, profile_target: ProfileTarget
) -> Iterator[ProfileClient]:
    """A client of the test's profile target, inside the test's cassette when recording or
    replaying (the core record mode and the profile's cassette directory)."""
    run = selected_runs(request.config)[profile_target.profile.name]
    module = getattr(request.node, "module", None)
    path = run.cassette(module.__name__ if module is not None else None, request.node.name)
    context: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if run.record_mode is not None and path is not None:
        run.opened.add(path)
        where = (
            REFERENCE_TARGET
            if profile_target.kind == "reference"
            else target_of(profile_target.base_url or "", False)
        )
        context = use_cassette(
            path, run.record_mode, make_provenance(where, f"profile {run.profile.name}", "n/a")
        )
    timeout = request.config.stash[SETTINGS].timeout
    with context, ProfileClient(profile_target, timeout=timeout) as client:
        yield client
