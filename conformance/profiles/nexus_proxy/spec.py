"""The facts of the Claude Nexus Proxy / Agent Prompt Train API document (seeds 002 and 003: one
proxy under two names), in one place.

The checks, the reference implementation and the profile's tests all read these tables; where
the document leaves something open, the assumption is stated next to the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from conformance.profiles._model import Endpoint

#: How the proxy tells its tenants apart, and keys its statistics: by the request's Host header
#: (Claude Nexus Proxy, seed 003: ``by_domain``, ``active_domains``, ``domain``) or by its
#: ``MSL-Train-Id`` header (Agent Prompt Train, seed 002: ``by_train``, ``active_trains``,
#: ``trainId``). The profile option ``--nexus-tenant-by`` picks one.
TenantBy = Literal["domain", "train-id"]
TENANT_MODES: tuple[TenantBy, ...] = ("domain", "train-id")
TRAIN_ID_HEADER = "MSL-Train-Id"
DASHBOARD_KEY_HEADER = "X-Dashboard-Key"


@dataclass(frozen=True)
class TenantNames:
    """The field names one tenant mode uses in the document's answers."""

    by_tenant: str  # /token-stats
    active: str  # dashboard stats
    field: str  # conversations and request details


NAMES: Mapping[str, TenantNames] = {
    "domain": TenantNames("by_domain", "active_domains", "domain"),
    "train-id": TenantNames("by_train", "active_trains", "trainId"),
}

#: The seed's validation helpers (``isValidUUID``, ``isValidTrainId``, ``isValidDomain``).
UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
TRAIN_ID = re.compile(r"^[a-zA-Z0-9._:-]+$")
DOMAIN = re.compile(r"^([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}$", re.I)
TENANT_PATTERN: Mapping[str, re.Pattern[str]] = {"domain": DOMAIN, "train-id": TRAIN_ID}
REQUEST_TYPES: tuple[str, ...] = ("inference", "query_evaluation", "quota")

#: "Usually 300 (5 hours)".
WINDOW_MINUTES = 300
#: How far a percentage may be from 100 x used / limit. The document does not say how it is
#: rounded; the profile assumes at most to 2 decimals.
PERCENT_TOLERANCE = 0.01

# The document names the dashboard answers but not their paths: these are the project's own API
# reference's (docs/02-User-Guide/api-reference.md of claude-nexus-proxy); an assumption.
MESSAGES = "/v1/messages"
TOKEN_STATS = "/token-stats"
HEALTH = "/health"
STATS = "/api/stats"
CURRENT = "/api/token-usage/current"
DAILY = "/api/token-usage/daily"
CONVERSATIONS = "/api/conversations"
REQUESTS = "/api/requests"
#: Query parameters (also the project's API reference): ``accountId`` for the usage answers,
#: ``page`` / ``per_page`` for conversations (the document's pagination fields).
ACCOUNT_PARAM = "accountId"
DEFAULT_PER_PAGE = 20


def percentage(used: int, limit: int) -> float:
    """The usage percentage the document implies: 100 x used / limit, within 0-100 (assumed:
    capped at 100 once the limit is passed, 0 without a limit)."""
    if limit <= 0:
        return 0.0
    return min(100.0, 100.0 * used / limit)


def total_pages(total: int, per_page: int) -> int:
    return math.ceil(total / per_page) if per_page > 0 else 0


def tenant_valid(mode: str, value: str) -> bool:
    return bool(TENANT_PATTERN[mode].match(value))


def request_type(body: object) -> str:
    """How the proxy classifies a Messages request (the document lists the types, not the rule;
    assumed, as the real proxy does: two or more system blocks is Claude Code's inference, a
    single user message "quota" with max_tokens 1 its quota probe, anything else a query
    evaluation)."""
    if not isinstance(body, dict):
        return "query_evaluation"
    system = body.get("system")
    if isinstance(system, list) and len(system) >= 2:
        return "inference"
    messages = body.get("messages")
    if (
        body.get("max_tokens") == 1
        and isinstance(messages, list)
        and len(messages) == 1
        and isinstance(messages[0], dict)
        and messages[0].get("content") == "quota"
    ):
        return "quota"
    return "query_evaluation"


class PathEndpoint(Endpoint):
    """An operation whose path ends in an id (``/api/requests/{id}``)."""

    def matches(self, method: str, path: str) -> bool:
        prefix = self.path.split("{", 1)[0]
        bare = path.split("?", 1)[0]
        rest = bare[len(prefix) :]
        return method.upper() == self.method and bare.startswith(prefix) and "/" not in rest


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("token-stats", "GET", TOKEN_STATS, "token_stats_response.json"),
    Endpoint("health", "GET", HEALTH, "health_response.json"),
    Endpoint("stats", "GET", STATS, "stats_response.json"),
    Endpoint("current", "GET", CURRENT, "current_usage_response.json"),
    Endpoint("daily", "GET", DAILY, "daily_usage_response.json"),
    Endpoint("conversations", "GET", CONVERSATIONS, "conversations_response.json"),
    PathEndpoint("request", "GET", REQUESTS + "/{id}", "request_details_response.json"),
)
#: Every error answer: the standard error, the Claude error (passed through from upstream) or
#: the OAuth error; the as-built 401 envelope too (deviation ``nexus-error-envelope``).
ERROR_SCHEMA = "error.json"
#: The Messages pass-through is judged against what the upstream sent, not a schema of its own
#: (the seed's Messages shapes are an older API's: ``messages_*.json`` hold them).
DASHBOARD = frozenset({"stats", "current", "daily", "conversations", "request"})
