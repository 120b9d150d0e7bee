"""Cassette misses and corrupt cassettes are one line each, how to record is said once, and a
mistyped cassette directory is one usage error before any test (issue 12, point 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

SUITE = ("--pyargs", "conformance.suite", "-p", "no:cacheprovider", "--anthropic-report-dir=none")
README = (Path(__file__).parent.parent / "README.md").read_text()


def _failure_sections(out: str) -> list[list[str]]:
    """The lines of each ``____ ERROR at setup of ... ____`` / ``____ test ____`` section."""
    sections: list[list[str]] = []
    for line in out.splitlines():
        if line.startswith("_" * 5):
            sections.append([])
        elif line.startswith(("=" * 5, "anthropic cassettes:")):
            if sections and line.startswith("="):
                sections.append([])  # a section break ends the last failure
        elif sections and not line.startswith("[gw"):  # xdist's "[gw0] linux -- Python" line
            sections[-1].append(line)
    return [s for s in sections if s]


@pytest.mark.parametrize("mode", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_missing_cassettes_are_one_line_each_and_the_hint_once(
    pytester: pytest.Pytester, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    (tmp_path / "2023-06-01").mkdir()  # a cassette dir with nothing recorded yet
    result = pytester.runpytest(
        *SUITE,
        *mode,
        "-k",
        "test_models_list or test_streaming_async",
        f"--anthropic-cassette-dir={tmp_path}",
        "--record-mode=none",
    )
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    sections = _failure_sections(out.split("short test summary")[0])
    failures = [s for s in sections if any("CassetteMiss" in line for line in s)]
    assert len(failures) == 2, out
    assert all(len(s) == 1 for s in failures), failures  # no traceback around it
    assert "pytest_asyncio" not in out and "contextlib" not in out
    assert out.count("had no usable cassette") == 1
    assert "2 test(s) had no usable cassette" in out


def test_mistyped_cassette_dir_is_one_usage_error(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    wrong = tmp_path / "casettes"
    result = pytester.runpytest(*SUITE, f"--anthropic-cassette-dir={wrong}", "--record-mode=none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"--anthropic-cassette-dir {wrong}: no such directory" in err
    assert err.count("no such directory") == 1 and "CassetteMiss" not in result.stdout.str()


def test_version_folder_given_as_the_cassette_dir_is_named(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    (tmp_path / "test_models").mkdir()  # the user pointed at cassettes/2023-06-01 itself
    result = pytester.runpytest(
        *SUITE, f"--anthropic-cassette-dir={tmp_path}", "--record-mode=none"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{tmp_path}: it has no 2023-06-01/ folder*"])


def test_the_hint_points_at_a_readme_section_that_exists() -> None:
    from conformance.cassettes import RECORD_HINT

    section = RECORD_HINT.split("README: '")[1].rstrip("'")
    assert f"## {section}\n" in README
