"""POST /v1/messages through the proxy: JSON, SSE and an upstream error, each compared with what
the upstream (the reference server) answered, byte for byte."""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.nexus_proxy import checks
from conformance.upstream import UpstreamJournal

from .conftest import SYSTEM, Sender

pytestmark = pytest.mark.conformance_profile("nexus-proxy", "messages")


def _compare(nexus: ProfileClient, upstream: UpstreamJournal, sender: Sender, **kw: object) -> None:
    body = sender.body(**kw)  # type: ignore[arg-type]
    answer = sender.send(body)
    sent = upstream.answer_for(answer, body["metadata"]["user_id"])
    nexus.require(checks.passthrough(answer, sent), answer.describe())
    if answer.status >= 400:
        nexus.require(nexus.raw_findings(answer), answer.describe())  # the Claude error


def test_json_passthrough(nexus: ProfileClient, upstream: UpstreamJournal, sender: Sender) -> None:
    _compare(nexus, upstream, sender, text="Reply with exactly: hi", system=SYSTEM)


def test_sse_passthrough(nexus: ProfileClient, upstream: UpstreamJournal, sender: Sender) -> None:
    _compare(nexus, upstream, sender, text="Reply with exactly: hi", system=SYSTEM, stream=True)


@pytest.mark.parametrize("fault", ["529", "429", "500"])
def test_upstream_error_passthrough(
    nexus: ProfileClient, upstream: UpstreamJournal, sender: Sender, fault: str
) -> None:
    """The reference upstream answers the fault directive with that error; the proxy hands it on
    with its status and exact body."""
    _compare(nexus, upstream, sender, text=f"[[conformance:fault={fault}]] hi", system=SYSTEM)


def test_upstream_invalid_request_passthrough(
    nexus: ProfileClient, upstream: UpstreamJournal, sender: Sender
) -> None:
    body = sender.body("hi")
    body["max_tokens"] = -1
    answer = sender.send(body)
    sent = upstream.answer_for(answer, body["metadata"]["user_id"])
    nexus.require(checks.passthrough(answer, sent), answer.describe())
    assert answer.status == 400
