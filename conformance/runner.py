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
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The package of the shipped conformance tests.
SUITE = "conformance.suite"

#: Set by the console script (``conformance.cli.console``), never by a caller of
#: ``conformance.cli.main``: this process exists for one command and ends with it.
_OWNS_PROCESS = False


def own_the_process() -> None:
    """Say that this process exists for one command (the console script does)."""
    global _OWNS_PROCESS
    _OWNS_PROCESS = True


def owns_the_process(config: object) -> bool:
    """Whether the run of ``config`` ends its process: an xdist worker's, or the console
    script's. Only then may the run freeze what it keeps alive (``gc.freeze``): frozen objects
    are never collected, which a process that goes on after the run (a project's test that runs
    the suite in-process) would keep paying for."""
    return _OWNS_PROCESS or hasattr(config, "workerinput")


_PACKAGE = Path(__file__).resolve().parent
RUN_INI = _PACKAGE / "run.ini"


def selected_profiles(
    extra: Sequence[str], environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The profiles ``extra`` selects (``--conformance-profile``, else the environment), as the
    settings will parse them; unknown names are left to the settings' usage error."""
    from conformance import profiles

    given: list[str] = []
    args = list(extra)
    for i, arg in enumerate(args):
        if arg == "--conformance-profile" and i + 1 < len(args):
            given.append(args[i + 1])
        elif arg.startswith("--conformance-profile="):
            given.append(arg.split("=", 1)[1])
    if not given:
        env = os.environ if environ is None else environ
        given = [env.get("ANTHROPIC_CONFORMANCE_PROFILE", "")]
    try:
        return profiles.parse_names(given)
    except ValueError:  # an unknown name: pytest's configure reports it; collect the rest
        known = profiles.names()
        names = [n.strip() for g in given for n in g.split(",")]
        return tuple(n for n in known if n in names) or (profiles.DEFAULT_PROFILE,)


def suite_dirs(names: Sequence[str]) -> list[Path]:
    """The suite directory of each profile in ``names`` (the Anthropic suite for ``anthropic``)."""
    from conformance import profiles

    known = profiles.available()
    dirs = [known[n].suite_dir for n in names if n in known]
    return [d for d in dirs if d is not None] or [_PACKAGE / "suite"]


def suite_args(
    extra: Sequence[str] = (), *, cwd: Path | None = None, modules: Sequence[str] = ()
) -> list[str]:
    """Arguments for ``pytest.main`` that run the shipped suite of each selected profile (by
    default only the Anthropic one; or only the Anthropic suite's ``modules``, e.g.
    ``["test_admin"]``), then ``extra``."""
    here = (cwd or Path.cwd()).resolve()
    # The suite's directory, not ``--pyargs``: with no path argument pytest would load the
    # current directory's conftest.py (confcutdir only cuts the package's ancestors).
    suite = _PACKAGE / "suite"
    paths = [str(suite / f"{name}.py") for name in modules] or [
        str(d) for d in suite_dirs(selected_profiles(extra))
    ]
    # Without the cache plugin, ``cache_dir`` is an unknown ini key and pytest warns about it.
    cache = [] if _cache_disabled(extra) else ["-o", f"cache_dir={here / '.pytest_cache'}"]
    return [
        *paths,
        "-c",
        str(RUN_INI),
        "--rootdir",
        str(_PACKAGE.parent),
        "--confcutdir",
        str(_PACKAGE),
        *cache,
        *dist_args(extra),
        *extra,
    ]


#: How ``-n N`` spreads the suite: test by test, except the tests marked
#: ``@pytest.mark.xdist_group(name)`` (they share a resource), which run on one worker in turn.
DIST = "loadgroup"


def dist_args(args: Sequence[str]) -> list[str]:
    """``["--dist", DIST]`` when ``args`` ask pytest-xdist for workers (``-n 4``, ``-nauto``,
    ``--numprocesses=4``, ``--tx SPEC``; not ``-n 0``) and choose no ``--dist`` of their own;
    else nothing (with ``--tx`` and no ``--dist``, pytest-xdist would run nothing remotely).

    Without it pytest-xdist ignores ``xdist_group`` marks (its default is ``load``), so a group
    could be split over workers; with it the other tests are still spread one by one.
    """
    if _xdist_blocked(args) or any(a in ("-d", "--dist") or a.startswith("--dist=") for a in args):
        return []
    workers = _workers(args)
    remote = any(a == "--tx" or a.startswith("--tx=") for a in args)  # xdist's own workers
    return ["--dist", DIST] if workers not in (None, "0") or (remote and workers is None) else []


def _workers(args: Sequence[str]) -> str | None:
    """The value of the last ``-n``/``--numprocesses`` in ``args`` (None: not given)."""
    found: str | None = None
    for i, arg in enumerate(args):
        if arg in ("-n", "--numprocesses"):
            found = args[i + 1] if i + 1 < len(args) else None
        elif arg.startswith("--numprocesses="):
            found = arg.split("=", 1)[1]
        elif arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):
            found = arg[2:].lstrip("=")
    return found


def _xdist_blocked(args: Sequence[str]) -> bool:
    """Whether pytest-xdist is missing or switched off (``-p no:xdist``): ``--dist`` would then
    be an unknown option, and ``-n`` is pytest's own usage error to report."""
    import importlib.util

    if importlib.util.find_spec("xdist") is None:
        return True
    words = [a.removeprefix("-p").lstrip("=") for a in args if a.startswith("-p") and a != "-p"]
    words += [b for a, b in itertools.pairwise(args) if a == "-p"]
    return "no:xdist" in words


def _cache_disabled(args: Sequence[str]) -> bool:
    """Whether ``args`` switch pytest's cache plugin off (``-p no:cacheprovider``, any spelling)."""
    words = [a.removeprefix("-p").lstrip("=") for a in args if a.startswith("-p") and a != "-p"]
    words += [b for a, b in itertools.pairwise(args) if a == "-p"]
    return "no:cacheprovider" in words


__all__ = ["DIST", "RUN_INI", "SUITE", "dist_args", "selected_profiles", "suite_args", "suite_dirs"]
