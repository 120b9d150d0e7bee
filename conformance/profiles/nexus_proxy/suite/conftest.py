"""Fixtures of the nexus-proxy suite (the profile plugin supplies the client): the test's tenant
and how it is sent, the dashboard key, the account, the upstream's record, and sending a
Messages request through the proxy."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from conformance import catalog
from conformance.exchange import Exchange
from conformance.profiles import ProfileClient
from conformance.profiles.nexus_proxy import NexusSettings, checks, spec
from conformance.profiles.nexus_proxy.reference import DASHBOARD_KEY, UPSTREAM_PREFIX, account_of
from conformance.reference import DEFAULT_API_KEY
from conformance.sse import parse_sse
from conformance.upstream import UpstreamJournal

NAME = "nexus-proxy"
#: Two system blocks: what the proxy classifies as inference (and always stores).
SYSTEM = [
    {"type": "text", "text": "You are a conformance probe."},
    {"type": "text", "text": "Answer in a few words."},
]


def seeded_only(nexus: ProfileClient, what: str) -> None:
    """Skip unless the target is (or replays) the reference implementation."""
    if not nexus.target.seeded:
        pytest.skip(f"needs {what}: only the reference implementation seeds it")


@pytest.fixture
def nexus(profile_client: ProfileClient) -> ProfileClient:
    return profile_client


@pytest.fixture
def settings(nexus: ProfileClient) -> NexusSettings:
    found = nexus.target.settings
    assert isinstance(found, NexusSettings)
    return found


def _slug(name: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", name.lower())).strip("-")[:50].strip("-")


@pytest.fixture
def tenant(request: pytest.FixtureRequest, settings: NexusSettings) -> str:
    """This test's tenant (statistics are kept per tenant): --nexus-tenant, else one of its own,
    the same in every run so that cassettes replay; valid as a domain and as a train id."""
    return settings.tenant or f"{_slug(request.node.name)}.anthropic-conformance.example"


def tenant_headers(settings: NexusSettings, tenant: str) -> dict[str, str]:
    if settings.tenant_by == "domain":
        return {"host": tenant}
    return {spec.TRAIN_ID_HEADER: tenant}


@pytest.fixture
def board(nexus: ProfileClient, settings: NexusSettings) -> Iterator[ProfileClient]:
    """A client of the dashboard API: the proxy's own, or --nexus-dashboard-url's."""
    if not settings.dashboard_url or nexus.target.kind != "deployment":
        yield nexus
        return
    target = dataclasses.replace(nexus.target, base_url=settings.dashboard_url)
    with ProfileClient(target) as client:
        yield client


@pytest.fixture
def dashboard(nexus: ProfileClient, settings: NexusSettings) -> dict[str, str]:
    """The dashboard key header."""
    if settings.dashboard_key is not None:
        return {spec.DASHBOARD_KEY_HEADER: settings.dashboard_key.get_secret_value()}
    if not nexus.target.seeded:
        pytest.skip("the dashboard API needs its key: give --nexus-dashboard-key")
    return {spec.DASHBOARD_KEY_HEADER: DASHBOARD_KEY}


@pytest.fixture
def account(nexus: ProfileClient, settings: NexusSettings, tenant: str) -> str:
    if settings.account_id:
        return settings.account_id
    seeded_only(nexus, "the account of the tenant (or give --nexus-account-id)")
    return account_of(tenant)


def upstream_key(settings: NexusSettings) -> str:
    key = settings.upstream_api_key
    return key.get_secret_value() if key is not None else DEFAULT_API_KEY


@pytest.fixture
def upstream(nexus: ProfileClient, settings: NexusSettings) -> Iterator[UpstreamJournal]:
    """The record of the reference server the proxy forwards to."""
    if settings.upstream_url:
        url = settings.upstream_url
    elif nexus.target.seeded and nexus.target.base_url:
        url = nexus.target.base_url + UPSTREAM_PREFIX
    else:
        pytest.skip(
            "needs the upstream's record: run the deployment in front of `anthropic-conformance "
            "serve` and give --nexus-upstream-url"
        )
    journal = UpstreamJournal(url, upstream_key(settings))
    yield journal
    journal.close()


@dataclass
class Sender:
    """Sends Messages requests through the proxy under the test's tenant."""

    nexus: ProfileClient
    settings: NexusSettings
    tenant: str
    name: str
    sent: int = 0

    def body(
        self, text: str, *, stream: bool = False, system: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        self.sent += 1
        body: dict[str, Any] = {
            "model": catalog.DEFAULT_MODEL,
            "max_tokens": 16,
            "metadata": {"user_id": f"conformance-nexus-{self.name}-{self.sent}"},
            "messages": [{"role": "user", "content": text}],
        }
        if system is not None:
            body["system"] = system
        if stream:
            body["stream"] = True
        return body

    def send(self, body: dict[str, Any]) -> Exchange:
        headers = {
            "x-api-key": upstream_key(self.settings),
            "anthropic-version": catalog.DEFAULT_API_VERSION,
            **tenant_headers(self.settings, self.tenant),
        }
        return self.nexus.call("POST", spec.MESSAGES, json_body=body, headers=headers)

    def message(self, text: str, **kw: Any) -> Exchange:
        return self.send(self.body(text, **kw))


@pytest.fixture
def sender(
    request: pytest.FixtureRequest, nexus: ProfileClient, settings: NexusSettings, tenant: str
) -> Sender:
    return Sender(nexus, settings, tenant, _slug(request.node.name))


def usage_of(answer: Exchange) -> checks.Usage:
    """What one answer of /v1/messages used (JSON or SSE), by its own usage."""
    if answer.response_headers.get("content-type", "").startswith("text/event-stream"):
        i = o = 0
        for event in parse_sse(answer.body):
            data = event.json if isinstance(event.json, dict) else {}
            if event.event == "message_start":
                i = int(data["message"]["usage"]["input_tokens"])
            elif event.event == "message_delta":
                o = int(data["usage"]["output_tokens"])
        return checks.Usage(1, i, o)
    usage = json.loads(answer.body)["usage"]
    return checks.Usage(1, int(usage["input_tokens"]), int(usage["output_tokens"]))


def add(*used: checks.Usage) -> checks.Usage:
    return checks.Usage(
        sum(u.requests for u in used),
        sum(u.input_tokens for u in used),
        sum(u.output_tokens for u in used),
    )
