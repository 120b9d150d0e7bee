"""The smaller manners of issue 12, point 14: one naming scheme for ini keys, `run --help` and
`--version` that say what they are, refused empty and mistyped values, cleanup's wording."""

from __future__ import annotations

import pytest

import conformance
from conformance import catalog, cli
from conformance.settings import OPTIONS, ConfigError, load_settings


def _option(values: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda opt: values.get(opt.flag)


def test_ini_keys_follow_the_flags() -> None:
    for opt in OPTIONS:
        assert opt.ini == opt.flag.removeprefix("--").replace("-", "_")
    assert next(o for o in OPTIONS if o.field == "api_version").ini == "anthropic_version"


def test_new_ini_key_is_read_and_the_old_one_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_v(conformance_settings):\n"
        "    assert conformance_settings.api_version == '2026-10-21'\n"
    )
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nanthropic_version = 2026-10-21\n"
    )
    assert pytester.runpytest().ret == 0
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "anthropic_api_version = 2026-10-21\n"
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key anthropic_api_version was renamed anthropic_version*"])


def test_empty_feature_flag_is_refused_not_all() -> None:
    with pytest.raises(ConfigError, match="--anthropic-features: empty value; allowed values: "):
        load_settings(option=_option({"--anthropic-features": ""}), environ={})


def test_unknown_feature_gets_did_you_mean_and_all_in_the_list() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={catalog.FEATURES_ENV: "mesages"})
    message = str(info.value)
    assert "unknown feature(s) 'mesages' (did you mean 'messages'?)" in message
    assert message.rstrip().endswith(", all")


@pytest.mark.parametrize("value", ["sk-ant-api03-abc", "wrkspc_01", "apikey_", "my key"])
def test_rename_key_id_must_be_a_key_id(value: str) -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_ADMIN_RENAME_KEY_ID: not an API key id"):
        load_settings(environ={"ANTHROPIC_ADMIN_RENAME_KEY_ID": value})
    assert (
        load_settings(environ={"ANTHROPIC_ADMIN_RENAME_KEY_ID": "apikey_01Ab"}).admin_rename_key_id
        == "apikey_01Ab"
    )


def test_run_help_leads_with_the_suite_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: anthropic-conformance run")
    assert len(out.splitlines()) < 80  # not pytest's 170-line help
    for opt in OPTIONS:
        assert opt.flag in out
    assert ", ".join(catalog.API_VERSIONS) in out and "admin_write" in out


def test_version_says_what_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    out = capsys.readouterr().out
    assert out.startswith(f"anthropic-conformance {conformance.__version__} (pytest ")


def test_cleanup_with_nothing_found_says_so() -> None:
    from conformance.reference import DEFAULT_ADMIN_API_KEY, DEFAULT_API_KEY, EmbeddedServer
    from tests.test_resources import run_cli

    with EmbeddedServer() as server:
        env = {
            "ANTHROPIC_BASE_URL": server.url,
            "ANTHROPIC_API_KEY": DEFAULT_API_KEY,
            "ANTHROPIC_ADMIN_API_KEY": DEFAULT_ADMIN_API_KEY,
        }
        listed = run_cli("--dry-run", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "would delete" not in listed.stdout
    assert "nothing to delete: no resource carries the marker" in listed.stdout


def test_plain_pytest_of_the_suite_has_no_loop_scope_warning(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")  # a user's project that never heard of pytest-asyncio's key
    result = pytester.runpytest_subprocess(
        "--pyargs",
        "conformance.suite",
        "-p",
        "no:cacheprovider",
        "-k",
        "test_models_list",
        "--anthropic-report-dir=none",
    )
    assert result.ret == 0, result.stdout.str()
    out = result.stdout.str() + result.stderr.str()
    assert "asyncio_default_fixture_loop_scope=function" in out
    assert "is unset" not in out
