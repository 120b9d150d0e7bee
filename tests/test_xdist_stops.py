"""Every stop, skip and usage error behaves the same under xdist as serially (issue 12, point 2):
the same one line and exit code, never xdist's INTERNALERROR."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.reference import DEFAULT_API_KEY

SUITE = ("--pyargs", "conformance.suite", "-p", "no:cacheprovider", "--anthropic-report-dir=none")
SHIPPED = Path(__file__).parent.parent / "cassettes"
MODES = [(), ("-n", "2")]


@pytest.fixture
def dead_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


def _out(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("mode", MODES, ids=["serial", "xdist"])
def test_dead_target_stops_once_with_exit_4(
    pytester: pytest.Pytester, dead_url: str, mode: tuple[str, ...]
) -> None:
    result = pytester.runpytest(
        *SUITE,
        *mode,
        "-k",
        "messages",
        f"--anthropic-base-url={dead_url}",
        f"--anthropic-api-key={DEFAULT_API_KEY}",
        "--anthropic-max-retries=0",
    )
    out = _out(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out
    assert "INTERNALERROR" not in out
    assert f"anthropic-conformance: the target at {dead_url} did not answer" in out


@pytest.mark.parametrize("mode", MODES, ids=["serial", "xdist"])
def test_collection_usage_error_is_the_same_line(
    pytester: pytest.Pytester, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    """A record mode that would overwrite cassettes: found at collection, on the workers."""
    cassettes = tmp_path / "cassettes"
    shutil.copytree(
        SHIPPED / "2023-06-01" / "test_models", cassettes / "2023-06-01" / "test_models"
    )
    result = pytester.runpytest(
        *SUITE,
        *mode,
        "-k",
        "test_models_list",
        f"--anthropic-cassette-dir={cassettes}",
        "--record-mode=all",
    )
    out = _out(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out
    assert "INTERNALERROR" not in out
    assert "--record-mode=all would write over 1 existing cassette(s)" in out


@pytest.mark.parametrize("mode", MODES, ids=["serial", "xdist"])
def test_settings_usage_error_is_the_same_line(
    pytester: pytest.Pytester, mode: tuple[str, ...]
) -> None:
    result = pytester.runpytest(*SUITE, *mode, "--anthropic-features=mesages")
    out = _out(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out
    assert "INTERNALERROR" not in out
    assert "unknown feature(s) 'mesages' (did you mean 'messages'?)" in out


@pytest.mark.parametrize("mode", MODES, ids=["serial", "xdist"])
def test_skips_are_the_same(pytester: pytest.Pytester, mode: tuple[str, ...]) -> None:
    result = pytester.runpytest(
        *SUITE,
        *mode,
        "-rs",
        "-k",
        "test_models_list or test_basic_message",
        "--anthropic-features=models",
    )
    assert result.ret == 0, _out(result)
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["anthropic-conformance *: target embedded reference server*"])
    result.stdout.fnmatch_lines(["*feature messages is switched off*"])
