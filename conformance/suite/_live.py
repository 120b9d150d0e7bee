"""Costly toggles: tests that run free against the reference server and replay, but spend real
money on a live target, run there only when their ``*_live`` toggle is named.

The test is marked with its base feature (``caching``, ``thinking``), so the reference server and
cassette replay always run it; ``require_live_toggle`` skips it on a live target unless the
costly toggle is switched on too, with a reason that says what it would cost. This mirrors the
``batches``/``batches_slow`` pair.
"""

from __future__ import annotations

import pytest

from conformance import catalog
from conformance.settings import Settings
from conformance.target import RunTarget


def require_live_toggle(target: RunTarget, settings: Settings, toggle: str) -> None:
    """Skip the calling test on a target that bills tokens unless ``toggle`` is switched on."""
    if not target.bills_tokens or settings.enabled(toggle):
        return
    feature = catalog.find_feature(toggle)
    what = feature.description if feature else toggle
    pytest.skip(
        f"costs money on a live target: {what}; add {toggle} to "
        f"{catalog.FEATURES_ENV} (or --anthropic-features) to run it"
    )
