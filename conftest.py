"""Project-wide test configuration (tests of anthropic-conformance itself)."""

from __future__ import annotations

import httpcore  # noqa: F401 - see below
import pytest

# httpx imports httpcore on first use, and pytester's in-process runs drop from sys.modules every
# module first imported inside them: without this import, the next test would get a second
# httpcore whose exceptions httpx no longer maps (a raw httpcore.ConnectError escapes the
# client's retries instead of httpx.ConnectError).


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
