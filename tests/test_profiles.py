"""The profile mechanism: registry and entry points, selection, options, runner, probes, CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import profiles
from conformance.cli import main
from conformance.profiles import ProfileError
from conformance.reference import EmbeddedServer, create_app
from conformance.runner import selected_profiles, suite_args, suite_dirs
from conformance.settings import ConfigError, load_settings

HERE = Path(__file__).resolve().parent
CCAS = "claude-code-api-service"


@pytest.fixture
def example_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example profile installed the way a third party's is: a dist-info on sys.path whose
    entry_points.txt names it in the group ``anthropic_conformance.profiles``."""
    dist = tmp_path / "example_profile-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: example-profile\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{profiles.ENTRY_POINT_GROUP}]\nexample-echo = example_profile:PROFILE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(HERE))
    profiles.refresh()
    yield
    profiles.refresh()


def _entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    dist = tmp_path / "broken_profile-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-profile\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{profiles.ENTRY_POINT_GROUP}]\nbroken = {value}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    profiles.refresh()


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    profiles.refresh()
    yield
    profiles.refresh()


# --- registry and selection -------------------------------------------------------------------


def test_builtins_and_default() -> None:
    assert profiles.names()[:2] == ("anthropic", CCAS)
    assert profiles.parse_names(None) == ("anthropic",)
    assert profiles.parse_names([f"{CCAS},anthropic", CCAS]) == (CCAS, "anthropic")
    assert profiles.get("anthropic").native


def test_unknown_profile_is_a_usage_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ANTHROPIC_CONFORMANCE_PROFILE": "anthropic,nexus"})
    message = str(info.value)
    assert "ANTHROPIC_CONFORMANCE_PROFILE" in message and "'nexus'" in message
    assert f"known profiles: anthropic, {CCAS}" in message


def test_repeated_flag_and_require_take_profile_names() -> None:
    s = load_settings(
        option=lambda o: {"profile": ["anthropic", CCAS], "require": CCAS}.get(o.field), environ={}
    )
    assert s.profile == ("anthropic", CCAS) and s.require == {CCAS}
    assert CCAS in load_settings(environ={"ANTHROPIC_CONFORMANCE_REQUIRE": "all"}).require


def test_third_party_profile_through_the_entry_point(example_installed: None) -> None:
    assert profiles.get("example-echo").prefix == "echo"
    assert load_settings(environ={"ANTHROPIC_CONFORMANCE_PROFILE": "example-echo"}).profile == (
        "example-echo",
    )


def test_broken_entry_point_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _entry_point(tmp_path, monkeypatch, "no_such_module_anywhere:PROFILE")
    with pytest.raises(
        ProfileError,
        match=r"broken = 'no_such_module_anywhere:PROFILE'.*cannot "
        r"be loaded: ModuleNotFoundError",
    ):
        profiles.available()
    assert main(["profiles"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no_such_module_anywhere" in err


def test_entry_point_that_is_not_a_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_point(tmp_path, monkeypatch, "os:sep")
    with pytest.raises(ProfileError, match=r"gives str, not a conformance\.profiles\.Profile"):
        profiles.available()


def test_profile_names_and_prefixes_are_checked() -> None:
    with pytest.raises(ProfileError, match="not lower-case words"):
        profiles.Profile(name="Bad Name", description="", prefix="bad")
    with pytest.raises(ProfileError, match="prefix"):
        profiles.Profile(name="ok", description="", prefix="two-words")


# --- runner ----------------------------------------------------------------------------------


def test_runner_runs_the_selected_profiles_suites() -> None:
    anthropic_suite = str(Path(profiles.__file__).parent.parent / "suite")
    ccas_suite = str(profiles.get(CCAS).suite_dir)
    assert suite_args([])[0] == anthropic_suite and ccas_suite not in suite_args([])
    only = suite_args(["--conformance-profile", CCAS])
    assert ccas_suite in only and anthropic_suite not in only
    both = suite_args([f"--conformance-profile={CCAS}", "--conformance-profile", "anthropic"])
    assert both[:2] == [ccas_suite, anthropic_suite]
    assert selected_profiles([], {"ANTHROPIC_CONFORMANCE_PROFILE": f" {CCAS} "}) == (CCAS,)
    # an unknown name is collected around, and reported by the settings as a usage error
    assert selected_profiles(["--conformance-profile", f"nope,{CCAS}"], {}) == (CCAS,)
    assert suite_dirs(()) == [Path(anthropic_suite)]


def test_profiles_command_lists_name_checks_toggles_reference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "anthropic  (default)" in out and CCAS in out
    assert "toggles:   chat, batch, usage, route, info" in out
    assert "--ccas-base-url" in out and "ccas-budget-overrun" in out
    assert "reference: conformance.profiles.claude_code_api_service.reference" in out


# --- runs through pytest --------------------------------------------------------------------


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        *suite_args(["-p", "no:randomly", "--anthropic-report-dir", "none", *args])
    )


def test_example_profile_runs_from_its_entry_point(
    example_installed: None, pytester: pytest.Pytester
) -> None:
    result = _run(pytester, "--conformance-profile", "example-echo", "--echo-greeting", "hi", "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*profile example-echo: target its reference implementation*"])
    broken = _run(
        pytester, "--conformance-profile", "example-echo", "--echo-mutant", "length-off-by-one"
    )
    broken.assert_outcomes(failed=1)
    broken.stdout.fnmatch_lines(["*[[]echo-length[]] /length: length is not len(text)*"])


def test_profile_options_are_validated_like_core_ones(pytester: pytest.Pytester) -> None:
    for args, expected in (
        (["--ccas-features", "chat,nope"], "*--ccas-features: unknown toggle(s) 'nope'*"),
        (["--ccas-mutant", "nope"], "*--ccas-mutant: unknown mutant(s) 'nope'*"),
        (["--ccas-base-url", "ftp://x"], "*--ccas-base-url: not an http(s) URL*"),
        (
            ["--ccas-base-url", "http://127.0.0.1:9", "--ccas-mutant", "cost-rounded"],
            "*--ccas-mutant switches on bugs in the reference implementation*",
        ),
    ):
        result = _run(pytester, "--conformance-profile", CCAS, *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, args
        result.stderr.fnmatch_lines([expected])


def test_env_selects_the_profile_and_its_options(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_CONFORMANCE_PROFILE", CCAS)
    monkeypatch.setenv("CCAS_FEATURES", "info")
    result = _run(pytester)
    result.assert_outcomes(passed=2, skipped=34)
    result.stdout.fnmatch_lines(["*toggles info*"])


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[str]:
    """A server that does not serve the profile's surface: /health is a 404 there."""
    with EmbeddedServer(app=create_app()) as server:
        yield server.url


def test_not_served_skips_with_evidence_and_require_fails(
    pytester: pytest.Pytester, anthropic_server: str
) -> None:
    args = (
        "--conformance-profile",
        CCAS,
        "--ccas-base-url",
        anthropic_server,
        "--ccas-features",
        "info",
        "-rs",
    )
    skipped = _run(pytester, *args)
    skipped.assert_outcomes(skipped=36)
    skipped.stdout.fnmatch_lines(
        [
            f"*not supported by the target: profile {CCAS} (GET /health "
            f"answered 404*add --anthropic-require={CCAS} to fail*"
        ]
    )
    required = _run(pytester, *args, "--anthropic-require", CCAS)
    required.assert_outcomes(failed=2, skipped=34)
    required.stdout.fnmatch_lines(
        [
            f"*required profile {CCAS} (--anthropic-require) not "
            "served by the target: GET /health answered 404*"
        ]
    )


def test_dead_deployment_stops_the_run_once(pytester: pytest.Pytester) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _run(
        pytester, "--conformance-profile", CCAS, "--ccas-base-url", f"http://127.0.0.1:{port}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [f"*profile {CCAS}: nothing answers at http://127.0.0.1:{port}*check --ccas-base-url*"]
    )


def test_replay_is_offline_and_a_missing_cassette_says_how_to_record(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replayed = _run(pytester, "--conformance-profile", CCAS, "--record-mode=none")
    replayed.assert_outcomes(passed=36)
    replayed.stdout.fnmatch_lines(["*profile claude-code-api-service: target cassette replay*"])
    import dataclasses

    profile = profiles.get(CCAS)
    empty = dataclasses.replace(profile, cassette_dir=tmp_path)
    monkeypatch.setattr(profiles._registry, "_LOADED", {**profiles.available(), CCAS: empty})
    missing = _run(
        pytester, "--conformance-profile", CCAS, "--record-mode=none", "--ccas-features", "info"
    )
    missing.assert_outcomes(errors=2, skipped=34)
    missing.stdout.fnmatch_lines(
        [
            "*no cassette *test_health.yaml to replay*",
            "*had no usable cassette: record missing cassettes*",
        ]
    )


def test_recording_writes_the_profile_cassettes(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    profile = dataclasses.replace(profiles.get(CCAS), cassette_dir=tmp_path)
    monkeypatch.setattr(profiles._registry, "_LOADED", {**profiles.available(), CCAS: profile})
    recorded = _run(
        pytester, "--conformance-profile", CCAS, "--record-mode=once", "--ccas-features", "info"
    )
    recorded.assert_outcomes(passed=2, skipped=34)
    cassette = tmp_path / "test_info" / "test_health.yaml"
    assert "target: reference-server" in cassette.read_text()
    again = _run(
        pytester, "--conformance-profile", CCAS, "--record-mode=all", "--ccas-features", "info"
    )
    assert again.ret == pytest.ExitCode.USAGE_ERROR
    again.stderr.fnmatch_lines(["*--record-mode=all would write over 2 existing cassette(s)*"])


def test_anthropic_default_run_is_unchanged(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--collect-only", "-q")
    assert "claude_code_api_service" not in result.stdout.str()
    assert "conformance/suite/test_models.py" in result.stdout.str()


def test_readme_has_a_section_per_profile() -> None:
    readme = (HERE.parent / "README.md").read_text()
    assert "## Profiles" in readme
    for name in profiles.names():
        if not profiles.get(name).native:
            assert f"### Profile: {name}" in readme
            assert f"--conformance-profile {name}" in readme
