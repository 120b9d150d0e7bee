"""Fixtures the tests that drive the official ``anthropic`` SDK share: one reference server per
module and a client of it (a module that defines its own ``server`` or ``client`` overrides
them)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from conformance.reference import DEFAULT_API_KEY, EmbeddedServer


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as running:
        yield running


@pytest.fixture
def client(server: EmbeddedServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=DEFAULT_API_KEY, base_url=server.url, max_retries=0)
