"""The pytest command line that runs the shipped suite: defined once, for every caller.

``anthropic-conformance run``, the mutation score and the project's own tests all start the
suite through :func:`suite_args`, so a run gives the same test ids and the same configuration
from any directory: the configuration is the package's own ``run.ini`` (not whatever
``pytest.ini``/``pyproject.toml`` the current directory has), test ids are relative to the
directory that holds the ``conformance`` package (``conformance/suite/test_models.py::...``,
installed or editable), and no ``conftest.py`` above the package is loaded (a clone's own
test configuration stays out of a user's run). The cache stays in the current directory, so
``--lf``, ``--ff`` and ``--sw`` work as in any pytest run.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

#: The package of the shipped conformance tests.
SUITE = "conformance.suite"
_PACKAGE = Path(__file__).resolve().parent
RUN_INI = _PACKAGE / "run.ini"


def suite_args(extra: Sequence[str] = (), *, cwd: Path | None = None,
               modules: Sequence[str] = ()) -> list[str]:
    """Arguments for ``pytest.main`` that run the shipped suite (or only its ``modules``, e.g.
    ``["test_admin"]``), then ``extra``."""
    here = (cwd or Path.cwd()).resolve()
    # The suite's directory, not ``--pyargs``: with no path argument pytest would load the
    # current directory's conftest.py (confcutdir only cuts the package's ancestors).
    suite = _PACKAGE / "suite"
    paths = [str(suite / f"{name}.py") for name in modules] or [str(suite)]
    # Without the cache plugin, ``cache_dir`` is an unknown ini key and pytest warns about it.
    cache = [] if _cache_disabled(extra) else ["-o", f"cache_dir={here / '.pytest_cache'}"]
    return [*paths, "-c", str(RUN_INI), "--rootdir", str(_PACKAGE.parent),
            "--confcutdir", str(_PACKAGE), *cache, *extra]


def _cache_disabled(args: Sequence[str]) -> bool:
    """Whether ``args`` switch pytest's cache plugin off (``-p no:cacheprovider``, any spelling)."""
    words = [a.removeprefix("-p").lstrip("=") for a in args if a.startswith("-p") and a != "-p"]
    words += [b for a, b in itertools.pairwise(args) if a == "-p"]
    return "no:cacheprovider" in words


__all__ = ["RUN_INI", "SUITE", "suite_args"]
