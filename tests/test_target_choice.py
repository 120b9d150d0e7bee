"""The target is chosen knowingly (issue 12, point 4): an exported SDK key never redirects a run
that names the embedded server, the first line says where the run goes and with which key, and a
live run that changes an organization warns first."""

from __future__ import annotations

import pytest

from conformance import banner, catalog
from conformance.settings import ConfigError, load_settings
from conformance.target import TargetKind, kind_of, resolve

SDK_ENV = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-" + "u" * 24,
    "ANTHROPIC_BASE_URL": "https://api.anthropic.com",
    "ANTHROPIC_MODEL": "claude-opus-4-6",
}


def test_named_embedded_target_ignores_exported_sdk_variables() -> None:
    auto = load_settings(environ=SDK_ENV)
    assert kind_of(auto) is TargetKind.LIVE  # what "no key needed" did before: it went live
    named = load_settings(environ={**SDK_ENV, "ANTHROPIC_CONFORMANCE_TARGET": "embedded"})
    assert kind_of(named) is TargetKind.REFERENCE
    target = resolve(named)
    assert target.base_url is None and target.api_key != SDK_ENV["ANTHROPIC_API_KEY"]
    line = banner.lines(named, target, verbose=False, environ=SDK_ENV)[0]
    assert "target embedded reference server" in line
    assert "ignoring ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY (ANTHROPIC_CONFORMANCE_TARGET)" in line


def test_anthropic_model_is_not_read() -> None:
    s = load_settings(environ=SDK_ENV)
    assert s.model == catalog.DEFAULT_MODEL
    detail = banner.lines(s, resolve(s), environ=SDK_ENV)[1]
    assert "ANTHROPIC_MODEL is not read" in detail
    s = load_settings(environ={"ANTHROPIC_CONFORMANCE_MODEL": "claude-sonnet-4-5"})
    assert s.model == "claude-sonnet-4-5"


def test_first_line_names_the_key_variable_and_the_writes() -> None:
    s = load_settings(
        environ={
            **SDK_ENV,
            catalog.FEATURES_ENV: "messages,admin_write",
            "ANTHROPIC_ADMIN_API_KEY": "sk-ant-admin01-" + "a" * 24,
        }
    )
    line = banner.lines(s, resolve(s), verbose=False, environ=SDK_ENV)[0]
    assert "target live https://api.anthropic.com" in line
    assert "key from ANTHROPIC_API_KEY; admin key from ANTHROPIC_ADMIN_API_KEY" in line
    assert "creates admin_write" in line
    assert SDK_ENV["ANTHROPIC_API_KEY"] not in line


def test_live_admin_write_warns_and_nothing_else_does() -> None:
    admin = {
        "ANTHROPIC_ADMIN_API_KEY": "sk-ant-admin01-" + "a" * 24,
        "ANTHROPIC_ADMIN_RENAME_KEY_ID": "apikey_01abc",
    }
    live = load_settings(environ={**SDK_ENV, **admin, catalog.FEATURES_ENV: "all,admin_write"})
    (warning,) = banner.warnings(live, resolve(live))
    assert warning.startswith("WARNING: admin_write is on against https://api.anthropic.com")
    assert "apikey_01abc" in warning
    read_only = load_settings(environ={**SDK_ENV, **admin})
    assert banner.warnings(read_only, resolve(read_only)) == []
    embedded = load_settings(
        environ={
            **SDK_ENV,
            **admin,
            catalog.FEATURES_ENV: "admin_write",
            "ANTHROPIC_CONFORMANCE_TARGET": "embedded",
        }
    )
    assert banner.warnings(embedded, resolve(embedded)) == []


def test_quick_start_runs_embedded_with_sdk_variables_exported(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's quick start, in a shell where an SDK user's variables are exported (the
    base URL points at a dead port: had the run gone there, it would stop with exit 4)."""
    for name, value in {**SDK_ENV, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest(
        "--pyargs",
        "conformance.suite",
        "-q",
        "-p",
        "no:cacheprovider",
        "-k",
        "test_models_list or test_basic_message",
        "--anthropic-target=embedded",
        "--anthropic-report-dir=none",
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*target embedded reference server*ignoring ANTHROPIC_BASE_URL, "
            "ANTHROPIC_API_KEY (--anthropic-target)"
        ]
    )


def test_readme_quick_start_and_rerecord_loop_name_the_embedded_target() -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "anthropic-conformance run --anthropic-target=embedded\n" in readme
    assert "run --anthropic-target=embedded --record-mode=rewrite" in readme


@pytest.mark.parametrize("mode", ["none", "once"])
def test_named_embedded_target_replays_with_a_base_url_exported(mode: str) -> None:
    """The CI replay and the re-record loop name the embedded target: an exported base URL is
    not "a base URL given", so the shipped cassettes are the right ones (no usage error)."""
    env = {**SDK_ENV, "ANTHROPIC_CONFORMANCE_TARGET": "embedded"}
    named = load_settings(environ={**env, "ANTHROPIC_CONFORMANCE_RECORD_MODE": mode})
    resolve(named)  # raises a usage error when the shipped cassettes are refused
    with pytest.raises(ConfigError, match="would use the cassettes shipped with the suite"):
        resolve(load_settings(environ={**SDK_ENV, "ANTHROPIC_CONFORMANCE_RECORD_MODE": mode}))
