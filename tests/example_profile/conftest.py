"""Keep the example profile's suite out of the project's own test run (it runs when selected)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.stash import SETTINGS


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    settings = config.stash.get(SETTINGS, None)
    if (
        settings is not None
        and "example-echo" not in settings.profile
        and (Path(__file__).parent / "suite") in (collection_path, *collection_path.parents)
    ):
        return True
    return None
