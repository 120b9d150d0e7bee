"""The plugin, driven by pytester: options, skips, usage errors, offline replay, scrubbing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from suite_args import SUITE

from conformance import catalog
from conformance.reference import EmbeddedServer, ReferenceConfig

PLANTED = "sk-ant-api03-PLANTEDfakeKEY0123456789abcdef"


@pytest.fixture
def server_with_planted_key() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ReferenceConfig(api_keys=(PLANTED,))) as server:
        yield server


#: A test that uses the plugin (an unrelated test makes the plugin print nothing at all).
USES_PLUGIN = "def test_settings(conformance_settings): assert conformance_settings"


def test_header_names_the_embedded_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_PLUGIN)
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        [
            "*anthropic-conformance*target embedded reference server*",
            f"*anthropic-version 2023-06-01, model {catalog.DEFAULT_MODEL}*",
        ]
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {catalog.FEATURES_ENV: "messages,telepathy"},
            "*ANTHROPIC_CONFORMANCE_FEATURES*telepathy*",
        ),
        ({"ANTHROPIC_CONFORMANCE_RECORD_MODE": "sometimes"}, "*RECORD_MODE*allowed values: none*"),
        ({"ANTHROPIC_BASE_URL": "not a url"}, "*ANTHROPIC_BASE_URL*http(s) URL*"),
    ],
)
def test_bad_settings_are_usage_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--anthropic-version=1999-01-01")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--anthropic-version*allowed values: 2023-06-01, 2026-10-21*"])


def test_ini_keys_are_read(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nanthropic_model = claude-from-ini\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(USES_PLUGIN)
    pytester.runpytest().stdout.fnmatch_lines(["*model claude-from-ini*"])


SKIPPABLE = """
import pytest

@pytest.mark.feature("vision")
def test_vision(api):
    raise AssertionError("must be skipped")

@pytest.mark.feature("messages")
@pytest.mark.api_versions("2026-10-21")
def test_new_version_only(api):
    raise AssertionError("must be skipped")
"""


def test_skips_say_what_to_set(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalog.FEATURES_ENV, "messages")
    pytester.makepyfile(SKIPPABLE)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*feature vision is switched off: add it to ANTHROPIC_CONFORMANCE_FEATURES*",
            "*applies to anthropic-version 2026-10-21 only*ANTHROPIC_VERSION*",
        ]
    )


def test_live_target_without_a_key_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a green run of skips (exit 0, even under --anthropic-require=all): now one usage
    error naming the variable, before any test."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    pytester.makepyfile(SKIPPABLE.replace('"vision"', '"messages"'))
    for extra in ((), ("--anthropic-require=all",)):
        result = pytester.runpytest("-rs", *extra)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
        result.stderr.fnmatch_lines(["*no API key for the target*set ANTHROPIC_API_KEY*"])


def test_suite_passes_against_the_reference_server(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*SUITE, "-q")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert outcomes.get("passed", 0) >= 25 and not outcomes.get("failed")


def test_suite_under_the_newer_api_version(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        *SUITE, "-q", "--anthropic-version=2026-10-21", "--anthropic-auth=bearer"
    )
    assert result.ret == 0, result.stdout.str()


def test_record_then_replay_offline(pytester: pytest.Pytester, tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    args = (*SUITE, f"--anthropic-cassette-dir={cassettes}", "-k", "streaming_text or models_list")
    recorded = pytester.runpytest(*args, "--record-mode=once")
    assert recorded.ret == 0, recorded.stdout.str()
    files = sorted(cassettes.rglob("*.yaml"))
    assert {f.stem for f in files} == {"test_streaming_text", "test_models_list"}
    assert all(f.parent.parent.name == "2023-06-01" for f in files)
    replayed = pytester.runpytest(*args, "--record-mode=none")
    assert replayed.ret == 0, replayed.stdout.str()
    replayed.stdout.fnmatch_lines(["*cassette replay*network blocked*"])


def test_replay_without_a_cassette_says_how_to_record(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    (tmp_path / "2023-06-01").mkdir()
    result = pytester.runpytest(
        *SUITE,
        "-q",
        "-k",
        "test_basic_message",
        f"--anthropic-cassette-dir={tmp_path}",
        "--record-mode=none",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no cassette*", "*had no usable cassette*--record-mode=once*"])


def test_replay_with_a_changed_request_says_how_to_rerecord(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    args = (*SUITE, "-q", "-k", "test_basic_message", f"--anthropic-cassette-dir={tmp_path}")
    assert pytester.runpytest(*args, "--record-mode=once").ret == 0
    result = pytester.runpytest(*args, "--record-mode=none", "--anthropic-model=claude-opus-4-6")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*CassetteMiss*no recorded answer for POST /v1/messages*",
            "*had no usable cassette*--record-mode=rewrite*",
        ]
    )


_SHIPPED = (
    Path(__file__).parent.parent
    / "cassettes"
    / "2023-06-01"
    / "test_messages"
    / "test_basic_message.yaml"
)
#: A response body that is an int: vcrpy fails with "'int' object has no attribute 'encode'".
_INT_BODY = re.sub(r"(?m)^      string: .*$", "      string: 12345", _SHIPPED.read_text(), count=1)


@pytest.mark.parametrize(
    "content",
    ["interactions: [unclosed\n  - {", "just a string\n", _INT_BODY],
    ids=["broken-yaml", "top-level-string", "int-body"],
)
def test_replay_of_a_corrupt_cassette_names_the_file(
    pytester: pytest.Pytester, tmp_path: Path, content: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # the summary line keeps its reason after a long id
    corrupt = tmp_path / "2023-06-01" / "test_messages" / "test_basic_message.yaml"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text(content)
    result = pytester.runpytest(
        *SUITE,
        "-q",
        "-rfE",
        "-k",
        "test_basic_message",
        f"--anthropic-cassette-dir={tmp_path}",
        "--record-mode=none",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            f"CassetteUnreadable: cassette {corrupt} is unreadable: *",
            "*had no usable cassette*re-record*--record-mode=rewrite*",
            "*short test summary*",
            "*::test_basic_message*",
        ]
    )
    assert "site-packages/vcr" not in result.stdout.str()  # no traceback through vcrpy


def test_planted_key_never_reaches_a_cassette(
    pytester: pytest.Pytester,
    tmp_path: Path,
    server_with_planted_key: EmbeddedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server_with_planted_key.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", PLANTED)
    pytester.makepyfile(f"""
        import pytest

        @pytest.mark.feature("messages")
        def test_key_in_body(api):
            ex = api.create_message("Reply with exactly: hi", metadata={{"user_id": "{PLANTED}"}})
            api.expect(ex)
    """)
    for auth in ("x-api-key", "bearer"):
        result = pytester.runpytest(
            "-q",
            f"--anthropic-cassette-dir={tmp_path}",
            "--record-mode=rewrite",
            f"--anthropic-auth={auth}",
        )
        assert result.ret == 0, result.stdout.str()
        written = "\n".join(p.read_text() for p in tmp_path.rglob("*.yaml"))
        assert "/v1/messages" in written
        assert PLANTED not in written and "PLANTEDfake" not in written
        assert "x-api-key" not in written.lower() and "bearer" not in written.lower()
        assert PLANTED not in result.stdout.str()


@pytest.mark.parametrize(
    ("mutant", "expected"),
    [
        ("sse-reordered", "*sse-grammar*"),
        ("usage-missing", "*usage*"),
        ("error-envelope-foreign", "*error-envelope*"),
    ],
)
def test_broken_server_fails_the_suite_readably(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mutant: str, expected: str
) -> None:
    from conformance.reference import DEFAULT_API_KEY

    with EmbeddedServer(ReferenceConfig(mutants=(mutant,))) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_API_KEY)
        result = pytester.runpytest(
            *SUITE, "-q", "-x", "-k", "streaming_text or basic or missing_key"
        )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*contract violation*", expected])
    result.stdout.fnmatch_lines(["*anthropic calls*", "*request-id req_*"])


@pytest.mark.parametrize("version", catalog.API_VERSIONS)
def test_shipped_cassettes_replay_offline(pytester: pytest.Pytester, version: str) -> None:
    """The cassettes in the repo cover the whole suite, under each API version."""
    result = pytester.runpytest(
        *SUITE, "-q", "--record-mode=none", f"--anthropic-version={version}"
    )
    assert result.ret == 0, result.stdout.str()
    assert result.parseoutcomes().get("passed", 0) >= 25
