"""Project-wide test configuration (tests of anthropic-conformance itself)."""

from __future__ import annotations

import httpcore  # noqa: F401  (see below)
import pytest

# httpx imports httpcore lazily and caches its exception classes on first use. Imported first
# inside an in-process pytester run, httpcore would be dropped from sys.modules after it and
# re-imported with new classes: httpx then lets raw httpcore errors escape in later tests.
# Importing it here keeps one httpcore for the whole session.


@pytest.fixture(autouse=True)
def _pytester_ini(request: pytest.FixtureRequest) -> None:
    """Give every pytester run the ini a real project would have, so inner runs stay quiet."""
    if "pytester" in request.fixturenames:
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's tests must not see the developer's real settings (keys, base URL, toggles)."""
    from conformance.settings import OPTIONS

    for opt in OPTIONS:
        if opt.env:
            monkeypatch.delenv(opt.env, raising=False)
