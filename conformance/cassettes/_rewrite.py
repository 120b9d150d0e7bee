"""Imported first by the package: vcrpy's matchers are registered for pytest's assertion rewriting
before anything imports vcr.

pytest-recording asks pytest to rewrite ``vcr.matchers`` and warns (in every run, unrelated
projects' included) when the module was imported before it asked. Asking here, before our
cassettes import vcrpy, keeps both plugins quiet in one environment; outside pytest it does
nothing.
"""

import pytest

pytest.register_assert_rewrite("vcr.matchers")
