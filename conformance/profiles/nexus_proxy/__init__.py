"""The nexus-proxy profile (seeds 002 and 003): the Claude Nexus Proxy, also shipped as Agent
Prompt Train, a proxy in front of the Claude API that keeps token statistics per tenant and a
dashboard API of the requests it stored.

``PROFILE`` is what ``conformance.profiles`` registers: the document's answers and their schemas
(``schemas/``), its semantic checks (``checks.py``), its suite (``suite/``: the Messages
pass-through against the upstream's own record, /token-stats, /health, the dashboard API), a
probe (``GET /health``), toggles, its options (``--nexus-*``; ``--nexus-tenant-by`` chooses
how tenants are told apart), the deviations real deployments are known to have
(``--nexus-as-built`` accepts them) and its reference implementation (``reference.py``) with
mutants.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr, field_validator

from conformance.profiles._model import Deviation, Probe, Profile, ProfileSettings, Toggle
from conformance.profiles.nexus_proxy import spec
from conformance.profiles.nexus_proxy.mutants import MUTANTS
from conformance.settings import Option

_HERE = Path(__file__).resolve().parent

__all__ = ["PROFILE", "NexusSettings"]


class NexusSettings(ProfileSettings):
    """The profile's options: the standard ones, how tenants are told apart, the tenant and
    account the suite's calls are counted under, the dashboard key, and the upstream."""

    tenant_by: spec.TenantBy = "domain"
    tenant: str | None = None
    account_id: str | None = None
    dashboard_key: SecretStr | None = None
    dashboard_url: str | None = None
    upstream_url: str | None = None
    upstream_api_key: SecretStr | None = None

    @field_validator("dashboard_url", "upstream_url")
    @classmethod
    def _check_urls(cls, value: str | None) -> str | None:
        from conformance.settings import Settings

        return Settings._check_url(value)  # the core rules for a base URL


def _reference(mutants: tuple[str, ...] = (), settings: Any = None) -> object:
    from conformance.profiles.nexus_proxy.reference import create_app

    return create_app(mutants, settings)


PROFILE = Profile(
    name="nexus-proxy",
    description="the Claude Nexus Proxy / Agent Prompt Train (seeds 002, 003): the Messages "
    "pass-through byte for byte against the upstream's record, /token-stats per tenant (domain "
    "or train id), /health, the dashboard API (stats, usage window, daily usage, conversations, "
    "request details with streaming chunks) and its error envelopes; sums, totals, "
    "percentages, pagination, identifiers, statistics growth",
    prefix="nexus",
    suite_dir=_HERE / "suite",
    schemas_dir=_HERE / "schemas",
    cassette_dir=_HERE / "cassettes",
    checks=("conformance.profiles.nexus_proxy.checks",),
    endpoints=spec.ENDPOINTS,
    error_schema=spec.ERROR_SCHEMA,
    probes=(Probe("GET", spec.HEALTH), Probe("GET", spec.TOKEN_STATS)),
    toggles=(
        Toggle(
            "messages",
            "POST /v1/messages through the proxy, compared with the upstream's answer "
            "(live calls; needs --nexus-upstream-url against a deployment)",
        ),
        Toggle("token-stats", "GET /token-stats and its growth by the suite's own calls"),
        Toggle("dashboard", "the dashboard API behind X-Dashboard-Key (a few live calls)"),
        Toggle("info", "GET /health (free)"),
    ),
    options=(
        Option(
            "nexus_tenant_by",
            "--nexus-tenant-by",
            "NEXUS_TENANT_BY",
            "How the proxy tells tenants apart and keys its statistics: domain (the Host "
            "header, Claude Nexus Proxy) or train-id (the MSL-Train-Id header, Agent Prompt "
            "Train). Default domain.",
            choices=spec.TENANT_MODES,
        ),
        Option(
            "nexus_tenant",
            "--nexus-tenant",
            "NEXUS_TENANT",
            "The tenant the suite's calls go under (a domain the proxy has credentials for, "
            "or a train id). Default: one per test, <test>.anthropic-conformance.example.",
        ),
        Option(
            "nexus_account_id",
            "--nexus-account-id",
            "NEXUS_ACCOUNT_ID",
            "The account the tenant's calls are billed to (the usage window and daily usage "
            "are per account). Default: the reference implementation's acc_<tenant>.",
        ),
        Option(
            "nexus_dashboard_key",
            "--nexus-dashboard-key",
            "NEXUS_DASHBOARD_KEY",
            "The dashboard API key, sent as X-Dashboard-Key (the dashboard tests need it "
            "against a deployment). Never printed.",
            secret=True,
        ),
        Option(
            "nexus_dashboard_url",
            "--nexus-dashboard-url",
            "NEXUS_DASHBOARD_URL",
            "Base URL of the dashboard API when it is served apart from the proxy (Claude "
            "Nexus Proxy's dashboard service). Default: the proxy's --nexus-base-url.",
        ),
        Option(
            "nexus_upstream_url",
            "--nexus-upstream-url",
            "NEXUS_UPSTREAM_URL",
            "Base URL of the reference server the deployment forwards /v1/messages to "
            "(`anthropic-conformance serve`): the pass-through tests read its record. Default: "
            "the reference implementation's own upstream.",
        ),
        Option(
            "nexus_upstream_api_key",
            "--nexus-upstream-api-key",
            "NEXUS_UPSTREAM_API_KEY",
            "A key of that reference server, sent as x-api-key with /v1/messages and to read "
            "its record. Default reference-key-local. Never printed.",
            secret=True,
        ),
    ),
    settings_model=NexusSettings,
    deviations=(
        Deviation(
            "nexus-token-stats-as-built",
            "/token-stats answers camelCase counters keyed by domain (train id), not the "
            "documented total_requests / by_domain shape",
            strict="error",
            as_built=None,
        ),
        Deviation(
            "nexus-dashboard-camelcase",
            "the dashboard API answers camelCase with pagination {total, limit, offset, hasMore}",
            strict="error",
            as_built=None,
        ),
        Deviation(
            "nexus-health-healthy",
            'GET /health says "healthy", not "ok"',
            strict="error",
            as_built=None,
        ),
        Deviation(
            "nexus-error-envelope",
            'the proxy\'s own 401s are {"error": {type, message}} without timestamp and without '
            'the top-level "type": "error"',
            strict="error",
            as_built=None,
        ),
        Deviation(
            "nexus-unstored-request",
            "requests with fewer than two system blocks are counted in /token-stats but not "
            "stored for the dashboard",
            strict="error",
            as_built="warning",
        ),
    ),
    reference=_reference,
    reference_description="conformance.profiles.nexus_proxy.reference (a proxy app started on "
    "loopback for the session, forwarding to the embedded Anthropic reference server it "
    "serves under /_upstream)",
    mutants=MUTANTS,
)
