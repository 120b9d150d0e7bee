"""GET /health and GET /: the service's status and its map of endpoints."""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileClient

pytestmark = pytest.mark.conformance_profile("claude-code-api-service", "info")


def test_health(ccas: ProfileClient) -> None:
    body = ccas.expect(ccas.get("/health"))
    assert body["status"] == "ok"


def test_root_lists_the_endpoints(ccas: ProfileClient) -> None:
    body = ccas.expect(ccas.get("/"))
    assert body["endpoints"]["usage"] == "/v1/usage"
