"""The pytest arguments with which the project's tests run the shipped suite, defined once.

They are :func:`conformance.runner.suite_args`, the command line of ``anthropic-conformance
run`` (the suite's directory, its own ``run.ini``, no conftest.py from above the package), plus
``-p no:cacheprovider``: the in-process pytester runs share one process and need no cache.
They also leave out the pytest plugins of Hypothesis and Schemathesis (installed with
``.[bench]``), which the suite does not use: seconds of imports per run, and Hypothesis' plugin
changes the process's Hypothesis state.

``run.ini`` replaces pytester's ini, so a test that writes a ``conftest.py`` into its pytester
directory passes that directory too (:func:`with_conftest`): the suite's command line loads no
conftest.py of the current directory, the way ``anthropic-conformance run`` does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.runner import suite_args

_NO_CACHE = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:schemathesis")

#: The whole shipped suite.
SUITE: tuple[str, ...] = tuple(suite_args(_NO_CACHE))


def suite(*modules: str) -> tuple[str, ...]:
    """Only these modules of the suite (``suite("test_admin")``)."""
    return tuple(suite_args(_NO_CACHE, modules=modules))


def with_conftest(pytester: pytest.Pytester, *modules: str) -> tuple[str, ...]:
    """The suite plus the pytester directory, so the ``conftest.py`` written there loads."""
    return (*suite(*modules), str(Path(pytester.path)))


def run_profile(pytester: pytest.Pytester, profile: str, *args: str) -> pytest.RunResult:
    """One profile's suite in-process, as ``anthropic-conformance run --conformance-profile``
    gives it (no report, no random order: the tests count outcomes)."""
    return pytester.runpytest(
        *suite_args(
            [
                *_NO_CACHE,
                "-p",
                "no:randomly",
                "--anthropic-report-dir",
                "none",
                "--conformance-profile",
                profile,
                *args,
            ]
        )
    )


__all__ = ["SUITE", "run_profile", "suite", "with_conftest"]
