"""The pytest stash keys the plugin's modules share.

``plugin`` fills them in ``pytest_configure`` (settings, run log, the resolved target) and on
first use (capabilities); ``resources_plugin`` and the report hooks read them. A module of its
own, so that neither plugin module imports the other.
"""

from __future__ import annotations

import pytest

from conformance.capabilities import Capabilities
from conformance.runlog import RunLog
from conformance.settings import Settings
from conformance.target import RunTarget

__all__ = ["CAPABILITIES", "RUNLOG", "SETTINGS", "TARGET"]

SETTINGS = pytest.StashKey[Settings]()
RUNLOG = pytest.StashKey[RunLog]()
#: The run's target, resolved once from the settings (not started: the ``conformance_target``
#: fixture starts the embedded reference server).
TARGET = pytest.StashKey[RunTarget]()
#: What the target serves (conformance.capabilities), probed once, lazily, before the first test
#: that needs it; absent when no conformance test ran. Reports read it.
CAPABILITIES = pytest.StashKey[Capabilities]()
