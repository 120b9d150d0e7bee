"""The example profile's suite."""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileClient

pytestmark = pytest.mark.conformance_profile("example-echo", "echo")


def test_echo(profile_client: ProfileClient) -> None:
    greeting = profile_client.target.settings.greeting  # type: ignore[attr-defined]
    body = profile_client.expect(profile_client.get("/echo", text=greeting))
    assert body["text"] == greeting
