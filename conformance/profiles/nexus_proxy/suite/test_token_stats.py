"""GET /token-stats: its shape, its sums, and its growth by exactly the suite's own requests."""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.nexus_proxy import NexusSettings, checks, spec

from .conftest import SYSTEM, Sender, add, usage_of

pytestmark = pytest.mark.conformance_profile("nexus-proxy", "token-stats")


def test_token_stats(nexus: ProfileClient, settings: NexusSettings) -> None:
    body = nexus.expect(nexus.get(spec.TOKEN_STATS))
    nexus.require(
        checks.tenant_fields(body, settings.tenant_by, spec.TOKEN_STATS), spec.TOKEN_STATS
    )


def test_stats_grow_by_the_suites_requests(
    nexus: ProfileClient, sender: Sender, tenant: str
) -> None:
    """Measured before and after: a JSON and a streamed request (an inference and a query
    evaluation) under the test's tenant add exactly their requests and tokens."""
    before = nexus.expect(nexus.get(spec.TOKEN_STATS))
    used = []
    for answer in (
        sender.message("Reply with exactly: one", system=SYSTEM),
        sender.message("Reply with exactly: two", stream=True),
    ):
        nexus.expect(answer)
        used.append(usage_of(answer))
    after = nexus.expect(nexus.get(spec.TOKEN_STATS))
    nexus.require(checks.stats_growth(before, after, tenant, add(*used)), spec.TOKEN_STATS)
