"""Settings: precedence of option > env > ini, and usage errors that name the source."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import catalog
from conformance.settings import (
    OPTIONS,
    ConfigError,
    Option,
    RecordMode,
    load_settings,
)
from conformance.target import TargetKind, kind_of


def getter(values: dict[str, Any]) -> Any:
    return lambda opt: values.get(opt.field)


def test_defaults_target_the_embedded_reference_server() -> None:
    s = load_settings(environ={})
    assert kind_of(s) is TargetKind.REFERENCE
    assert s.api_version == catalog.DEFAULT_API_VERSION
    assert s.model == catalog.CHEAPEST_MODEL.alias
    assert s.features == {f.name for f in catalog.FEATURES if f.default}
    assert s.record_mode is None


def test_option_beats_env_beats_ini() -> None:
    env = {"ANTHROPIC_MODEL": "from-env", "ANTHROPIC_VERSION": "2026-10-21"}
    s = load_settings(
        option=getter({"model": "from-option"}),
        ini=getter({"model": "from-ini", "auth": "bearer"}),
        environ=env,
    )
    assert s.model == "from-option"
    assert s.api_version == "2026-10-21"
    assert s.auth == "bearer"


def test_key_or_url_means_live_and_replay_wins() -> None:
    assert kind_of(load_settings(environ={"ANTHROPIC_API_KEY": "k" * 10})) is TargetKind.LIVE
    s = load_settings(environ={"ANTHROPIC_BASE_URL": "http://127.0.0.1:1/anthropic/"})
    assert kind_of(s) is TargetKind.PROXY and s.live_url == "http://127.0.0.1:1/anthropic"
    s = load_settings(environ={"ANTHROPIC_ADMIN_API_KEY": "k" * 10})
    assert kind_of(s) is TargetKind.LIVE and s.live_url == catalog.REAL_API_URL
    s = load_settings(
        environ={"ANTHROPIC_API_KEY": "k" * 10, "ANTHROPIC_CONFORMANCE_RECORD_MODE": "none"}
    )
    assert kind_of(s) is TargetKind.REPLAY and s.record_mode is RecordMode.NONE


def test_features_parse_all_and_lists() -> None:
    env = {catalog.FEATURES_ENV: "messages, streaming"}
    assert load_settings(environ=env).features == {"messages", "streaming"}
    env = {catalog.FEATURES_ENV: "all"}
    assert load_settings(environ=env).features == {f.name for f in catalog.FEATURES if f.default}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (
            {catalog.FEATURES_ENV: "messages,telepathy"},
            ["ANTHROPIC_CONFORMANCE_FEATURES", "'telepathy'", "streaming"],
        ),
        ({"ANTHROPIC_BASE_URL": "ftp://example"}, ["ANTHROPIC_BASE_URL", "http(s) URL"]),
        ({"ANTHROPIC_VERSION": "2020-01-01"}, ["ANTHROPIC_VERSION", "2023-06-01", "2026-10-21"]),
        (
            {"ANTHROPIC_CONFORMANCE_RECORD_MODE": "sometimes"},
            ["ANTHROPIC_CONFORMANCE_RECORD_MODE", "new_episodes", "rewrite"],
        ),
        ({"ANTHROPIC_CONFORMANCE_AUTH": "basic"}, ["ANTHROPIC_CONFORMANCE_AUTH", "bearer"]),
        ({"ANTHROPIC_CONFORMANCE_MAX_RETRIES": "-1"}, ["ANTHROPIC_CONFORMANCE_MAX_RETRIES"]),
    ],
)
def test_bad_values_name_the_variable_and_the_allowed_values(
    env: dict[str, str], names: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    for name in names:
        assert name in str(info.value)


def test_bad_option_is_named_by_its_flag() -> None:
    with pytest.raises(ConfigError, match="--anthropic-version"):
        load_settings(option=getter({"api_version": "nope"}), environ={})


def test_secret_values_are_never_echoed() -> None:
    opt = next(o for o in OPTIONS if o.secret)
    assert isinstance(opt, Option) and opt.field == "api_key"
    s = load_settings(environ={"ANTHROPIC_API_KEY": "sk-ant-api03-secret-abcdef"})
    assert "secret-abcdef" not in repr(s) and "secret-abcdef" not in str(s)


def test_every_option_has_an_env_variable_and_an_ini_key() -> None:
    assert all(o.env and o.ini.startswith(("anthropic_", "conformance_")) for o in OPTIONS)


def test_readme_options_table_lists_every_option() -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for opt in OPTIONS:
        assert f"| `{opt.flag}` | `{opt.env}` | `{opt.ini}` |" in readme, opt.flag


@pytest.mark.parametrize(
    "url",
    [
        "http://user:hunter2-secret@127.0.0.1:8080",
        "https://gateway.example/anthropic?key=hunter2-secret",
    ],
)
def test_urls_with_secrets_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ANTHROPIC_BASE_URL": url})
    assert "ANTHROPIC_BASE_URL" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
@pytest.mark.parametrize(
    "variable",
    [
        "ANTHROPIC_CONFORMANCE_TIMEOUT",
        "ANTHROPIC_CONFORMANCE_RETRY_DEADLINE",
        "ANTHROPIC_CONFORMANCE_BATCH_DEADLINE",
    ],
)
def test_durations_must_be_positive_seconds(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{variable}: must be a positive number of seconds"):
        load_settings(environ={variable: value})


def test_every_credential_is_a_secret_of_the_run() -> None:
    s = load_settings(
        environ={
            "ANTHROPIC_API_KEY": "key-one-123456",
            "ANTHROPIC_ADMIN_API_KEY": "key-two-123456",
            "ANTHROPIC_CONFORMANCE_UPSTREAM_API_KEY": "key-three-123456",
        }
    )
    assert sorted(s.secrets()) == ["key-one-123456", "key-three-123456", "key-two-123456"]
