"""GET /health."""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.nexus_proxy import spec

pytestmark = pytest.mark.conformance_profile("nexus-proxy", "info")


def test_health(nexus: ProfileClient) -> None:
    body = nexus.expect(nexus.get(spec.HEALTH))
    assert body["status"] in ("ok", "healthy")  # "healthy": nexus-health-healthy says so
