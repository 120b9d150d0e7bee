"""Fixtures of the usage-analytics suite: the sources of the profile's target (the profile
plugin supplies the target, the cassettes and the probe of the Admin API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.plugin import NOT_SERVED
from conformance.profiles.usage_analytics import spec
from conformance.profiles.usage_analytics.sources import SourceClient, Sources, open_sources
from conformance.stash import SETTINGS

NAME = "usage-analytics"


@pytest.fixture
def sources(request: pytest.FixtureRequest, profile_client: ProfileClient) -> Iterator[Sources]:
    """The test's clients, inside the cassette ``profile_client`` opened."""
    core = request.config.stash[SETTINGS]
    with open_sources(profile_client.target, core.timeout) as found:
        yield found


@pytest.fixture
def admin(sources: Sources) -> SourceClient:
    return sources.admin


def _not_served(client: SourceClient) -> str | None:
    """The evidence that a Cursor deployment does not serve the daily-usage endpoint."""
    if client.target.kind != "deployment":
        return None
    url = f"{client.target.base_url}{spec.CURSOR_DAILY_PATH}"
    try:
        answer = httpx.request(spec.CURSOR_METHOD, url, json={}, timeout=10.0)
    except httpx.TransportError as exc:
        pytest.exit(
            f"anthropic-conformance: profile {NAME}: nothing answers at {url} "
            f"({type(exc).__name__}: {exc}); check --analytics-cursor-base-url",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    if answer.status_code in NOT_SERVED:
        return f"{spec.CURSOR_METHOD} {spec.CURSOR_DAILY_PATH} answered {answer.status_code}"
    return None


_PROBED: pytest.StashKey[dict[str, str | None]] = pytest.StashKey()


@pytest.fixture
def cursor(request: pytest.FixtureRequest, sources: Sources) -> SourceClient:
    """The Cursor client; the test skips (or fails, with --anthropic-require) without one."""
    if sources.cursor is None:
        pytest.skip(f"Cursor source {sources.cursor_missing}")
    probed = request.config.stash.setdefault(_PROBED, {})
    url = str(sources.cursor.target.base_url)
    if url not in probed:
        probed[url] = _not_served(sources.cursor)
    evidence = probed[url]
    if evidence is not None:
        if NAME in request.config.stash[SETTINGS].require:
            pytest.fail(f"required profile {NAME} (--anthropic-require): {evidence}", False)
        pytest.skip(f"not supported by the target: Cursor ({evidence})")
    return sources.cursor


def seeded_only(sources: Sources, what: str) -> None:
    """Skip unless the target is (or replays) the reference implementation."""
    if not sources.seeded:
        pytest.skip(f"needs {what}: only the reference implementation seeds it")


def data_of(body: Any) -> list[Any]:
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, list) else []
