"""Project-wide test configuration (tests of anthropic-conformance itself)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _pytester_ini(request: pytest.FixtureRequest) -> None:
    """Give every pytester run the ini a real project would have, so inner runs stay quiet."""
    if "pytester" in request.fixturenames:
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
