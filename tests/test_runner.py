"""`anthropic-conformance run` gives the same ids and configuration from any directory.

Run in a subprocess from a directory whose own pytest configuration would change the run (a
pyproject with asyncio AUTO and a conftest that fails every test it can reach), and from the
repository clone itself: the collected ids are identical, the foreign conftest never loads, and
pytest's cache works (``--lf``), as in any pytest run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.runner import RUN_INI, suite_args

REPO = Path(__file__).resolve().parent.parent

_HOSTILE_CONFTEST = """
import pytest

def pytest_configure(config):
    print("FOREIGN CONFTEST LOADED")

@pytest.fixture(autouse=True)
def _foreign():
    raise RuntimeError("foreign fixture ran")
"""


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return subprocess.run(
        [sys.executable, "-m", "conformance", "run", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _ids(out: str) -> list[str]:
    return [line for line in out.splitlines() if "::" in line]


def test_ids_and_config_do_not_depend_on_the_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\nasyncio_mode = 'auto'\naddopts = '-p no:anthropic_x'\n"
    )
    (tmp_path / "conftest.py").write_text(_HOSTILE_CONFTEST)
    foreign = _run(tmp_path, "--collect-only", "-q")
    clone = _run(REPO, "--collect-only", "-q")
    assert foreign.returncode == 0, foreign.stdout[-2000:] + foreign.stderr[-2000:]
    assert clone.returncode == 0, clone.stdout[-2000:] + clone.stderr[-2000:]
    assert "FOREIGN CONFTEST LOADED" not in foreign.stdout
    ids = _ids(foreign.stdout)
    assert ids and ids == _ids(clone.stdout)
    assert all(i.startswith("conformance/suite/test_") for i in ids), ids[:3]


def test_last_failed_works(tmp_path: Path) -> None:
    """The cache lives in the current directory: --lf re-runs (here: everything, none failed)."""
    first = _run(tmp_path, "-q", "-k", "test_models_list", "--anthropic-report-dir=none")
    assert first.returncode == 0, first.stdout[-2000:]
    assert (tmp_path / ".pytest_cache").is_dir()
    again = _run(tmp_path, "-q", "--lf", "-k", "test_models_list", "--anthropic-report-dir=none")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "passed" in again.stdout.splitlines()[-1]


def test_suite_args_name_the_shipped_ini(tmp_path: Path) -> None:
    args = suite_args(["-x"], cwd=tmp_path)
    assert args[-1] == "-x" and str(RUN_INI) in args and RUN_INI.is_file()
    assert f"cache_dir={tmp_path.resolve() / '.pytest_cache'}" in args


@pytest.mark.parametrize("flag", ["--lf", "--ff", "--sw"])
def test_cache_flags_are_not_refused(flag: str) -> None:
    assert "no:cacheprovider" not in suite_args([flag])


@pytest.mark.parametrize(
    "flags", [["-p", "no:cacheprovider"], ["-pno:cacheprovider"], ["-p=no:cacheprovider"]]
)
def test_no_cache_dir_override_without_the_cache_plugin(flags: list[str]) -> None:
    """``-o cache_dir`` with the cache plugin off would be an "unknown config option" warning."""
    assert not any(a.startswith("cache_dir=") for a in suite_args(flags))
    assert any(a.startswith("cache_dir=") for a in suite_args(["-p", "no:randomly"]))


def test_modules_narrow_the_run() -> None:
    args = suite_args(modules=["test_admin", "test_models"])
    paths = [a for a in args if a.endswith(".py")]
    assert [Path(p).name for p in paths] == ["test_admin.py", "test_models.py"]
    assert all(Path(p).is_file() for p in paths)
    assert not any(Path(a).name == "suite" for a in args)
