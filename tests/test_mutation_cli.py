"""The mutation-score command's manners: progress as it goes, its options' names and bounds, and
output piped into a reader that stops early (``| head``) without a traceback."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from conformance import cli, mutation
from conformance.mutation import FAITHFUL, Outcome, Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _outcomes() -> list[Outcome]:
    return [
        Outcome(FAITHFUL, (), 0, passed=3, seconds=1.0),
        Outcome("sse-reordered", ("streaming",), 0, passed=1, seconds=0.5),
    ]


def test_progress_prints_a_plain_line_per_run_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(2, out)
    for o in _outcomes():
        progress.step(o)
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("mutation-score [1/2] control: ")
    assert lines[1].startswith("mutation-score [2/2] sse-reordered: ")
    assert "\r" not in out.getvalue()


def test_progress_redraws_a_bar_on_a_terminal() -> None:
    out = _Tty()
    progress = Progress(2, out)
    for o in _outcomes():
        progress.step(o)
    progress.close()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert "[####################] [2/2] sse-reordered" in text


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_jobs_must_be_positive(jobs: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["mutation-score", "--jobs", jobs])
    assert info.value.code == 2
    assert "--jobs: expected a whole number of 1 or more" in capsys.readouterr().err


def test_old_option_name_is_refused_with_the_new_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["mutation-score", "--api-version", "2023-06-01"])
    assert "--api-version is now --anthropic-version" in capsys.readouterr().err


def test_anthropic_version_reaches_the_score(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []

    def fake(names: object, *, jobs: object, api_version: object, profiles: object) -> object:
        seen.append(api_version)
        raise ValueError("stop here")

    monkeypatch.setattr(mutation, "mutation_score", fake)
    assert cli.main(["mutation-score", "--anthropic-version", "2026-10-21"]) == 2
    assert seen == ["2026-10-21"]


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    code = (
        "import sys\n"
        "from conformance import cli, mutation\n"
        "mutation.command = lambda args: (print('x' * 2_000_000), 0)[1]\n"
        "sys.exit(cli.main(['mutation-score']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10) == b"x" * 10
    proc.stdout.close()  # the reader (head) goes away
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
