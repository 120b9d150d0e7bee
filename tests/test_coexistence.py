"""Good manners inside someone else's pytest: silent and inert when unused, and loadable next to
pytest-recording (issue 12, point 1)."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

SUITE = ("--pyargs", "conformance.suite", "-p", "no:cacheprovider")
needs_recording = pytest.mark.skipif(
    importlib.util.find_spec("pytest_recording") is None,
    reason="pytest-recording is not installed (the test extra)",
)

#: A vcrpy project of the kind pytest-recording serves: one replayed request.
VCR_TEST = """
import httpx
import pytest

@pytest.mark.vcr
def test_fetch():
    assert httpx.get("http://vcr-project.invalid/hello").text == "recorded hello"
"""
VCR_CASSETTE = """interactions:
- request:
    body: null
    headers: {}
    method: GET
    uri: http://vcr-project.invalid/hello
  response:
    body: {string: recorded hello}
    headers: {}
    status: {code: 200, message: OK}
version: 1
"""


def _our_lines(out: str) -> list[str]:
    """Lines the plugin printed (pytest's own "plugins:" line names every installed plugin)."""
    return [
        line
        for line in out.splitlines()
        if "anthropic" in line.lower() and not line.startswith("plugins:")
    ]


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


def test_unrelated_run_is_silent_and_inert(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, dead_url: str
) -> None:
    # Exported as for most SDK users: an active plugin would probe it and stop the run.
    monkeypatch.setenv("ANTHROPIC_BASE_URL", dead_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "x" * 20)
    pytester.makepyfile("def test_plain(): assert 1 + 1 == 2")
    for args in ((), ("-q",), ("-n", "2")):
        result = pytester.runpytest(*args)
        assert result.ret == 0, result.stdout.str()
        assert not _our_lines(result.stdout.str()), args
    assert not (pytester.path / "anthropic-conformance-report").exists()


def test_a_test_using_the_fixtures_gets_the_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest

@pytest.mark.feature("models")
def test_models(api):
    api.expect(api.call("models.list", params={"limit": 1}))
""")
    result = pytester.runpytest("-q", "--anthropic-report-dir=none")
    assert result.ret == 0, result.stdout.str()
    # -q keeps the one line that says where the run goes
    result.stdout.fnmatch_lines(["anthropic-conformance *: target embedded reference server*"])


@needs_recording
def test_vcrpy_project_runs_with_both_plugins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_project=VCR_TEST)
    cassette = pytester.path / "cassettes" / "test_project" / "test_fetch.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text(VCR_CASSETTE)
    result = pytester.runpytest("--record-mode=none", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
    assert not _our_lines(result.stdout.str())


@needs_recording
@pytest.mark.parametrize("flag", ["--record-mode=none", "--anthropic-record-mode=none"])
def test_suite_replays_with_pytest_recording_loaded(pytester: pytest.Pytester, flag: str) -> None:
    """pytest-recording owns --record-mode here: the suite reads that same option."""
    result = pytester.runpytest(
        *SUITE, "-q", "-k", "test_models_list", flag, "--anthropic-report-dir=none"
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*target cassette replay*network blocked*"])


@pytest.mark.parametrize("flag", ["--record-mode=none", "--anthropic-record-mode=none"])
def test_suite_replays_without_pytest_recording(pytester: pytest.Pytester, flag: str) -> None:
    """Without pytest-recording, --record-mode is the suite's own alias."""
    result = pytester.runpytest(
        *SUITE,
        "-q",
        "-p",
        "no:recording",
        "-k",
        "test_models_list",
        flag,
        "--anthropic-report-dir=none",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*target cassette replay*network blocked*"])


def test_both_record_mode_flags_are_documented() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "`--anthropic-record-mode`" in readme and "pytest-recording" in readme
