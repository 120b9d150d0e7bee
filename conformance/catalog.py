"""The single tables of facts about the Anthropic API.

Every other module (settings, client, checks, reference server, suite) reads these tables instead
of repeating a path, a model id, a price or a header. Adding an endpoint starts with a row here.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from conformance.exceptions import ConformanceToolError

# --- API versions -------------------------------------------------------------------------------

API_VERSIONS: tuple[str, ...] = ("2023-06-01", "2026-10-21")
DEFAULT_API_VERSION = "2023-06-01"
#: The two versions by name, for code whose behaviour differs between them.
VERSION_2023, VERSION_2026 = API_VERSIONS

#: Request parameters a version rejects with 400 (api-contract.md §0).
REMOVED_PARAMETERS: dict[str, frozenset[str]] = {
    "2023-06-01": frozenset(),
    "2026-10-21": frozenset({"temperature", "top_p", "top_k"}),
}

# --- Models ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """One model the suite knows: its id, its alias and its list price (USD per million tokens)."""

    id: str
    alias: str
    display_name: str
    created_at: str
    max_input_tokens: int
    max_tokens: int
    input_price: float
    output_price: float
    line: str


MODELS: tuple[Model, ...] = (
    Model(
        "claude-opus-4-6",
        "claude-opus-4-6",
        "Claude Opus 4.6",
        "2026-02-05T00:00:00Z",
        200_000,
        128_000,
        5.0,
        25.0,
        "opus",
    ),
    Model(
        "claude-sonnet-4-6",
        "claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        "2026-02-17T00:00:00Z",
        200_000,
        64_000,
        3.0,
        15.0,
        "sonnet",
    ),
    Model(
        "claude-opus-4-5-20251101",
        "claude-opus-4-5",
        "Claude Opus 4.5",
        "2025-11-24T00:00:00Z",
        200_000,
        64_000,
        5.0,
        25.0,
        "opus",
    ),
    Model(
        "claude-haiku-4-5-20251001",
        "claude-haiku-4-5",
        "Claude Haiku 4.5",
        "2025-10-15T00:00:00Z",
        200_000,
        64_000,
        1.0,
        5.0,
        "haiku",
    ),
    Model(
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
        200_000,
        64_000,
        3.0,
        15.0,
        "sonnet",
    ),
    Model(
        "claude-opus-4-1-20250805",
        "claude-opus-4-1",
        "Claude Opus 4.1",
        "2025-08-05T00:00:00Z",
        200_000,
        32_000,
        15.0,
        75.0,
        "opus",
    ),
    Model(
        "claude-sonnet-4-20250514",
        "claude-sonnet-4-0",
        "Claude Sonnet 4",
        "2025-05-22T00:00:00Z",
        200_000,
        64_000,
        3.0,
        15.0,
        "sonnet",
    ),
)

#: Model id -> the fewest prompt tokens a cache breakpoint's prefix needs to be cached; shorter
#: prefixes are processed without caching and both cache counts stay 0 (prompt caching docs,
#: "cache limitations", 2026). Sonnet 4.6: the docs say 1,024, a user measured 2,048
#: (anthropic-sdk-python issue 1194); unknown models get the largest value.
MIN_CACHEABLE_TOKENS: dict[str, int] = {
    "claude-opus-4-6": 4096,
    "claude-sonnet-4-6": 1024,
    "claude-opus-4-5-20251101": 4096,
    "claude-haiku-4-5-20251001": 4096,
    "claude-sonnet-4-5-20250929": 1024,
    "claude-opus-4-1-20250805": 1024,
    "claude-sonnet-4-20250514": 1024,
}


def min_cacheable_tokens(model: str) -> int:
    """The minimum cacheable prefix of ``model`` (id or alias)."""
    found = find_model(model)
    return MIN_CACHEABLE_TOKENS.get(found.id if found else "", max(MIN_CACHEABLE_TOKENS.values()))


#: Model id -> the tokens of the tool-use system prompt the API adds to every request with
#: ``tools``, billed as input: (under ``tool_choice`` auto or none, under any or tool). The
#: figures are the tool use docs' pricing table ("tool use system prompt token count") as
#: README's coverage section records them: 496 / 588 for Claude Haiku 4.5, 346 / 313 for the
#: other Claude 4 models (older pages of the docs list 346 / 313 for Haiku 4.5 too). They are
#: the docs' figures, not measured here (no traffic leaves this machine); api-contract.md does
#: not state them. Unknown models get the largest figure, so a cost estimate errs high.
TOOL_USE_PROMPT_TOKENS: dict[str, tuple[int, int]] = {
    "claude-opus-4-6": (346, 313),
    "claude-sonnet-4-6": (346, 313),
    "claude-opus-4-5-20251101": (346, 313),
    "claude-haiku-4-5-20251001": (496, 588),
    "claude-sonnet-4-5-20250929": (346, 313),
    "claude-opus-4-1-20250805": (346, 313),
    "claude-sonnet-4-20250514": (346, 313),
}
#: The ``tool_choice`` types billed at the second figure of ``TOOL_USE_PROMPT_TOKENS``.
FORCED_TOOL_CHOICES: frozenset[str] = frozenset({"any", "tool"})


def tool_use_prompt_tokens(model: str, tool_choice: object) -> int:
    """The tool-use system prompt's tokens for a request with tools to ``model`` (id or alias)
    under ``tool_choice`` (the request's object; absent means ``auto``)."""
    found = find_model(model)
    figures = TOOL_USE_PROMPT_TOKENS.get(found.id if found else "") or max(
        TOOL_USE_PROMPT_TOKENS.values(), key=max
    )
    kind = tool_choice.get("type") if isinstance(tool_choice, dict) else None
    return figures[1] if kind in FORCED_TOOL_CHOICES else figures[0]


#: The default model of a live run: the cheapest one, so that a run costs next to nothing.
CHEAPEST_MODEL: Model = min(MODELS, key=lambda m: (m.input_price + m.output_price, m.created_at))
DEFAULT_MODEL: str = CHEAPEST_MODEL.alias


def find_model(name: str) -> Model | None:
    """The model whose id or alias is ``name``."""
    return next((m for m in MODELS if name in (m.id, m.alias)), None)


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """What a call costs at list price; unknown models are priced as the cheapest known one."""
    m = find_model(model) or CHEAPEST_MODEL
    return (input_tokens * m.input_price + output_tokens * m.output_price) / 1_000_000


#: Usage token type (dotted path into a usage row) -> (multiplier, which list price it applies
#: to): how the cost report prices each kind of token. Read by the reference server and checks.
TOKEN_PRICES: dict[str, tuple[Decimal, Literal["input", "output"]]] = {
    "uncached_input_tokens": (Decimal(1), "input"),
    "output_tokens": (Decimal(1), "output"),
    "cache_read_input_tokens": (Decimal("0.1"), "input"),
    "cache_creation.ephemeral_5m_input_tokens": (Decimal("1.25"), "input"),
    "cache_creation.ephemeral_1h_input_tokens": (Decimal(2), "input"),
}


def cache_cost_usd(model: str, usage: dict[str, object]) -> float:
    """What the cache part of a message's ``usage`` costs at list price: writes at 1.25x (5m) or
    2x (1h) and reads at 0.1x of the input price (``TOKEN_PRICES``)."""
    m = find_model(model) or CHEAPEST_MODEL
    parts = usage.get("cache_creation")
    counts: dict[str, object] = {"cache_read_input_tokens": usage.get("cache_read_input_tokens")}
    if isinstance(parts, dict):
        counts.update({f"cache_creation.{k}": v for k, v in parts.items()})
    else:  # no breakdown: price every written token as a 5-minute write
        counts["cache_creation.ephemeral_5m_input_tokens"] = usage.get(
            "cache_creation_input_tokens"
        )
    total = Decimal(0)
    for key, value in counts.items():
        if key in TOKEN_PRICES and isinstance(value, int) and not isinstance(value, bool):
            factor, price = TOKEN_PRICES[key]
            total += (
                factor
                * Decimal(value)
                * Decimal(str(m.input_price if price == "input" else m.output_price))
            )
    return float(total / 1_000_000)


# --- Features and toggles -------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """A toggle the user can switch on or off; every conformance test is marked with one."""

    name: str
    family: str
    description: str
    default: bool = True


FEATURES: tuple[Feature, ...] = (
    Feature("messages", "messages", "POST /v1/messages: JSON answers, parameters, stop reasons"),
    Feature("streaming", "messages", "POST /v1/messages with stream=true: SSE grammar and deltas"),
    Feature("tools", "messages", "tool_use / tool_result round trips, tool_choice, streamed tools"),
    Feature("vision", "messages", "image content blocks"),
    Feature("errors", "messages", "bad input gets the right status and error envelope"),
    Feature("count_tokens", "count_tokens", "POST /v1/messages/count_tokens"),
    Feature("models", "models", "GET /v1/models and /v1/models/{id}, pagination, aliases"),
    Feature(
        "batches", "batches", "Message Batches: create, retrieve, list, cancel, delete, results"
    ),
    Feature(
        "batches_slow",
        "batches",
        "the full batch lifecycle polled to `ended` on a live target (can take hours)",
        default=False,
    ),
    Feature(
        "files", "files", "Files API: upload, list, metadata, download, delete, use in a message"
    ),
    Feature("files_large", "files", "Files API with a multi-megabyte upload", default=False),
    Feature(
        "admin",
        "admin",
        "Admin API, read only: organization, users, invites, workspaces, "
        "members, API keys, usage / Claude Code / cost reports (needs an admin key)",
    ),
    Feature(
        "admin_write",
        "admin",
        "Admin API writes: invites, workspaces, members, a no-op API key rename (only what "
        "the run created, or the key named by --anthropic-admin-rename-key-id)",
        default=False,
    ),
    Feature(
        "prompt_tools",
        "prompt_tools",
        "experimental generate / improve / templatize prompt (closed research preview)",
    ),
    Feature(
        "headers",
        "messages",
        "request-id, anthropic-version and anthropic-beta handling, "
        "the error envelope, retry-after on 429, the SSE content type",
    ),
    # Today's Messages features (issue 13). A ``*_live`` toggle is off by default and only
    # matters for a live target: the reference server and cassette replay run those tests under
    # the base toggle alone, because they cost nothing there (see conformance/suite/_live.py).
    Feature(
        "caching",
        "messages",
        "prompt caching: cache_control on system, tools and message "
        "blocks, the cache usage fields on every answer, the breakpoint limit",
    ),
    Feature(
        "caching_live",
        "messages",
        "prompt caching with a prefix above the model's minimum cacheable length, written "
        "then read, on a live target (about 5,000 input tokens written per test at 1.25x or "
        "2x: about $0.02 for the three tests on claude-haiku-4-5 at list price)",
        default=False,
    ),
    Feature(
        "thinking",
        "messages",
        "extended thinking: thinking / redacted_thinking blocks, "
        "signatures, signature_delta, passing thinking back, the budget rules",
    ),
    Feature(
        "thinking_live",
        "messages",
        "extended thinking that generates on a live target (the model may spend its whole "
        "budget_tokens of 1,024 output tokens per call: up to about $0.03 for the module on "
        "claude-haiku-4-5 at list price)",
        default=False,
    ),
    Feature(
        "tool_modes",
        "messages",
        "tool_choice none, disable_parallel_tool_use, parallel "
        "calls, is_error results, images in tool results, strict tools, fine-grained "
        "tool streaming",
    ),
    Feature(
        "tool_modes_live",
        "messages",
        "every tool mode on a live target (ten small tool calls, each billed the tool-use "
        "system prompt of about 500-600 input tokens: about $0.008 for the module on "
        "claude-haiku-4-5 at list price)",
        default=False,
    ),
    Feature(
        "tools_live",
        "messages",
        "the tool checks that repeat the default run's in other combinations on a live "
        "target (tool_choice auto, any and tool each alone, auto answering with text: four "
        "calls, each billed the tool-use system prompt of about 500-600 input tokens: about "
        "$0.003 on claude-haiku-4-5 at list price)",
        default=False,
    ),
    Feature(
        "documents",
        "messages",
        "plain-text documents with citations: char_location "
        "citations whose cited_text is in the document at their indexes, citations_delta",
    ),
    Feature(
        "documents_live",
        "messages",
        "PDF documents with page_location citations on a live target (each PDF page is "
        "billed as text plus a page image, about 1,500-3,000 input tokens: about $0.006 "
        "for the two one-page PDF calls on claude-haiku-4-5 at list price)",
        default=False,
    ),
    Feature(
        "stop_reasons",
        "messages",
        "the stop reasons of today: refusal with stop_details, "
        "model_context_window_exceeded, pause_turn and its continuation (reference-server "
        "triggers: skipped on the real API, which cannot be made to give them on demand)",
    ),
    Feature(
        "request_fields",
        "messages",
        "request fields of today: service_tier requested and "
        "reported in usage, metadata.user_id, context_management (count_tokens reports "
        "original_input_tokens), what anthropic-version 2026-10-21 refuses",
    ),
    Feature(
        "server_tools",
        "messages",
        "server tools: web search (server_tool_use, "
        "web_search_tool_result, web_search_result_location citations, "
        "usage.server_tool_use.web_search_requests, max_uses_exceeded errors), web fetch, "
        "code execution in a reused container with output files; the tests that run a "
        "tool need server_tools_live on a live target",
    ),
    Feature(
        "server_tools_live",
        "messages",
        "server tools run on a live target: four web searches ($10 per 1,000 plus about "
        "10,000 input tokens of results each), two fetches, six code execution calls (each "
        "carries a ~4,700-token tool prompt); about $0.13 for the module on claude-haiku-4-5 "
        "at list price (an estimate; container time past the free hours is extra)",
        default=False,
    ),
    Feature(
        "structured_outputs",
        "messages",
        "structured outputs: output_config.format "
        "json_schema (and the beta output_format), the answer is JSON valid against the "
        "schema, streamed and not",
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURES_ENV = "ANTHROPIC_CONFORMANCE_FEATURES"


def find_feature(name: str) -> Feature | None:
    return next((f for f in FEATURES if f.name == name), None)


# --- Test-only triggers of the reference server ---------------------------------------------------

#: Stop reason -> the prompt that makes the reference server stop with it. The real API cannot be
#: made to refuse, to fill its context window or to pause a turn on demand (none is documented),
#: so the suite sends these only to a target that honours the reference server's test-only
#: triggers (``RunTarget.can_force_status``) and skips elsewhere, saying why.
STOP_TRIGGERS: dict[str, str] = {
    "refusal": "CONFORMANCE_TRIGGER_STOP_REFUSAL",
    "model_context_window_exceeded": "CONFORMANCE_TRIGGER_STOP_MODEL_CONTEXT_WINDOW_EXCEEDED",
    "pause_turn": "CONFORMANCE_TRIGGER_STOP_PAUSE_TURN",
}


# --- Beta headers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Beta:
    """An ``anthropic-beta`` value a feature needs, and the API versions that still need it."""

    feature: str
    header: str
    versions: tuple[str, ...]


BETAS: tuple[Beta, ...] = (
    Beta("files", "files-api-2025-04-14", ("2023-06-01",)),
    Beta("prompt_tools", "prompt-tools-2025-04-02", API_VERSIONS),
    # A beta-only request field (``context_management``), used to prove a proxy forwards betas.
    Beta("context_management", "context-management-2025-06-27", API_VERSIONS),
    # The beta surface of structured outputs (``output_format``); the GA field
    # ``output_config.format`` needs no beta (recorded answers of 2026 send none). Whether the
    # beta field is still accepted under 2026-10-21 is not documented: assumed so.
    Beta("structured_outputs", "structured-outputs-2025-11-13", API_VERSIONS),
    # Web fetch and code execution launched as betas (docs of 2025-09 name these headers); the
    # SDK's GA types now hold both tools, so today's API may not need them any more. Sent by the
    # server_tools tests; the reference server does not require them (not known).
    Beta("server_tools", "web-fetch-2025-09-10", API_VERSIONS),
    Beta("server_tools", "code-execution-2025-08-25", API_VERSIONS),
)


def betas_for(features: tuple[str, ...] | list[str], version: str) -> list[str]:
    """The anthropic-beta values to send for ``features`` under API ``version``."""
    return [b.header for b in BETAS if b.feature in features and version in b.versions]


# --- Endpoints ------------------------------------------------------------------------------------

Family = Literal["messages", "count_tokens", "models", "batches", "files", "prompt_tools", "admin"]


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API: the schema its answer must match, and the family it belongs to."""

    name: str
    method: str
    path: str
    family: Family
    schema: str
    #: What a successful answer's body is: JSON, JSON lines (one ``schema`` object per line) or
    #: raw bytes (no schema applies).
    body: Literal["json", "jsonl", "bytes"] = "json"

    def url_path(self, **params: str) -> str:
        """The path with its ``{placeholders}`` filled in."""
        return self.path.format(**params)

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        """The path as a regular expression (made once: every answer's endpoint is looked up)."""
        return re.compile("^" + re.sub(r"\{[a-z_]+\}", r"[^/]+", self.path) + "$")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "messages.count_tokens",
        "POST",
        "/v1/messages/count_tokens",
        "count_tokens",
        "count_tokens.json",
    ),
    Endpoint("messages.create", "POST", "/v1/messages", "messages", "message.json"),
    Endpoint("models.list", "GET", "/v1/models", "models", "model_list.json"),
    Endpoint("models.retrieve", "GET", "/v1/models/{model_id}", "models", "model_info.json"),
    Endpoint("batches.create", "POST", "/v1/messages/batches", "batches", "message_batch.json"),
    Endpoint("batches.list", "GET", "/v1/messages/batches", "batches", "message_batch_list.json"),
    Endpoint(
        "batches.retrieve",
        "GET",
        "/v1/messages/batches/{batch_id}",
        "batches",
        "message_batch.json",
    ),
    Endpoint(
        "batches.cancel",
        "POST",
        "/v1/messages/batches/{batch_id}/cancel",
        "batches",
        "message_batch.json",
    ),
    Endpoint(
        "batches.delete",
        "DELETE",
        "/v1/messages/batches/{batch_id}",
        "batches",
        "message_batch_deleted.json",
    ),
    Endpoint(
        "batches.results",
        "GET",
        "/v1/messages/batches/{batch_id}/results",
        "batches",
        "message_batch_result.json",
        body="jsonl",
    ),
    Endpoint("files.upload", "POST", "/v1/files", "files", "file_metadata.json"),
    Endpoint("files.list", "GET", "/v1/files", "files", "file_list.json"),
    Endpoint("files.retrieve", "GET", "/v1/files/{file_id}", "files", "file_metadata.json"),
    Endpoint(
        "files.download",
        "GET",
        "/v1/files/{file_id}/content",
        "files",
        "file_content.json",
        body="bytes",
    ),
    Endpoint("files.delete", "DELETE", "/v1/files/{file_id}", "files", "file_deleted.json"),
    Endpoint("admin.organizations.me", "GET", "/v1/organizations/me", "admin", "organization.json"),
    Endpoint("admin.users.list", "GET", "/v1/organizations/users", "admin", "user_list.json"),
    Endpoint(
        "admin.users.retrieve", "GET", "/v1/organizations/users/{user_id}", "admin", "user.json"
    ),
    Endpoint(
        "admin.users.update", "POST", "/v1/organizations/users/{user_id}", "admin", "user.json"
    ),
    Endpoint(
        "admin.users.delete",
        "DELETE",
        "/v1/organizations/users/{user_id}",
        "admin",
        "user_deleted.json",
    ),
    Endpoint("admin.invites.create", "POST", "/v1/organizations/invites", "admin", "invite.json"),
    Endpoint("admin.invites.list", "GET", "/v1/organizations/invites", "admin", "invite_list.json"),
    Endpoint(
        "admin.invites.retrieve",
        "GET",
        "/v1/organizations/invites/{invite_id}",
        "admin",
        "invite.json",
    ),
    Endpoint(
        "admin.invites.delete",
        "DELETE",
        "/v1/organizations/invites/{invite_id}",
        "admin",
        "invite_deleted.json",
    ),
    Endpoint(
        "admin.workspaces.create", "POST", "/v1/organizations/workspaces", "admin", "workspace.json"
    ),
    Endpoint(
        "admin.workspaces.list",
        "GET",
        "/v1/organizations/workspaces",
        "admin",
        "workspace_list.json",
    ),
    Endpoint(
        "admin.workspaces.retrieve",
        "GET",
        "/v1/organizations/workspaces/{workspace_id}",
        "admin",
        "workspace.json",
    ),
    Endpoint(
        "admin.workspaces.update",
        "POST",
        "/v1/organizations/workspaces/{workspace_id}",
        "admin",
        "workspace.json",
    ),
    Endpoint(
        "admin.workspaces.archive",
        "POST",
        "/v1/organizations/workspaces/{workspace_id}/archive",
        "admin",
        "workspace.json",
    ),
    Endpoint(
        "admin.workspace_members.create",
        "POST",
        "/v1/organizations/workspaces/{workspace_id}/members",
        "admin",
        "workspace_member.json",
    ),
    Endpoint(
        "admin.workspace_members.list",
        "GET",
        "/v1/organizations/workspaces/{workspace_id}/members",
        "admin",
        "workspace_member_list.json",
    ),
    Endpoint(
        "admin.workspace_members.retrieve",
        "GET",
        "/v1/organizations/workspaces/{workspace_id}/members/{user_id}",
        "admin",
        "workspace_member.json",
    ),
    Endpoint(
        "admin.workspace_members.update",
        "POST",
        "/v1/organizations/workspaces/{workspace_id}/members/{user_id}",
        "admin",
        "workspace_member.json",
    ),
    Endpoint(
        "admin.workspace_members.delete",
        "DELETE",
        "/v1/organizations/workspaces/{workspace_id}/members/{user_id}",
        "admin",
        "workspace_member_deleted.json",
    ),
    Endpoint(
        "admin.api_keys.list", "GET", "/v1/organizations/api_keys", "admin", "api_key_list.json"
    ),
    Endpoint(
        "admin.api_keys.retrieve",
        "GET",
        "/v1/organizations/api_keys/{api_key_id}",
        "admin",
        "api_key.json",
    ),
    Endpoint(
        "admin.api_keys.update",
        "POST",
        "/v1/organizations/api_keys/{api_key_id}",
        "admin",
        "api_key.json",
    ),
    Endpoint(
        "admin.usage_report.messages",
        "GET",
        "/v1/organizations/usage_report/messages",
        "admin",
        "usage_report.json",
    ),
    Endpoint(
        "admin.usage_report.claude_code",
        "GET",
        "/v1/organizations/usage_report/claude_code",
        "admin",
        "claude_code_report.json",
    ),
    Endpoint(
        "admin.cost_report", "GET", "/v1/organizations/cost_report", "admin", "cost_report.json"
    ),
    Endpoint(
        "prompt_tools.generate",
        "POST",
        "/v1/experimental/generate_prompt",
        "prompt_tools",
        "prompt_tool.json",
    ),
    Endpoint(
        "prompt_tools.improve",
        "POST",
        "/v1/experimental/improve_prompt",
        "prompt_tools",
        "prompt_tool.json",
    ),
    Endpoint(
        "prompt_tools.templatize",
        "POST",
        "/v1/experimental/templatize_prompt",
        "prompt_tools",
        "templatized_prompt.json",
    ),
)

#: Schema of every answer with a status >= 400, whatever the endpoint.
ERROR_SCHEMA = "error.json"
#: Schema of one SSE event of a streamed message (dispatches on the event type).
STREAM_EVENT_SCHEMA = "stream_event.json"


class UnknownEndpoint(ConformanceToolError, KeyError):
    """An endpoint name ``ENDPOINTS`` lacks; the message names the row to add and where."""

    def __str__(self) -> str:  # KeyError's own str() is the repr of the message
        return str(self.args[0]) if self.args else ""


def endpoint(name: str) -> Endpoint:
    """The endpoint called ``name`` (e.g. ``"messages.create"``)."""
    for e in ENDPOINTS:
        if e.name == name:
            return e
    close = difflib.get_close_matches(name, [e.name for e in ENDPOINTS], n=3)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    raise UnknownEndpoint(
        f"unknown endpoint {name!r}{hint}: add its row to ENDPOINTS in conformance/catalog.py, "
        f'e.g. Endpoint({name!r}, "POST", "/v1/...", family, "schema.json")'
    )


def match_endpoint(method: str, path: str) -> Endpoint | None:
    """The endpoint a request goes to; ``path`` may carry a base prefix and a query string."""
    path = path.split("?", 1)[0].rstrip("/")
    idx = path.find("/v1/")
    if idx > 0:
        path = path[idx:]
    return _matched(method.upper(), path, id(ENDPOINTS))


@functools.lru_cache(maxsize=4096)
def _matched(method: str, path: str, table: int) -> Endpoint | None:
    """Cached: every answer's endpoint is looked up, often more than once. ``table`` (the
    identity of ``ENDPOINTS``) is part of the key, so a table swapped at run time (a test's
    monkeypatch) is another entry."""
    for e in ENDPOINTS:
        if e.method == method and e.pattern.match(path):
            return e
    return None


# --- Errors, retries and identifiers --------------------------------------------------------------

#: HTTP status -> the ``error.type`` the API uses for it (api-contract.md §1).
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

#: Statuses worth another try: everything else is the server's final word.
TRANSIENT_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504, 529})

#: Object kind -> the prefix its id starts with. Docs say formats may change: check prefixes only.
ID_PREFIXES: dict[str, str] = {
    "message": "msg_",
    "tool_use": "toolu_",
    "server_tool_use": "srvtoolu_",
    "request": "req_",
    "batch": "msgbatch_",
    "file": "file_",
    "api_key": "apikey_",
    "workspace": "wrkspc_",
    "user": "user_",
    "invite": "invite_",
    # recorded code execution answers (2026): container_011C...
    "container": "container_",
}

#: Request headers whose values are secrets: never logged, never written to a cassette.
SECRET_HEADERS: frozenset[str] = frozenset(
    {
        "x-api-key",
        "authorization",
        "cookie",
        "set-cookie",
        "proxy-authorization",
        "anthropic-admin-api-key",
        "x-admin-api-key",
    }
)

#: Anything that looks like an Anthropic key, wherever it appears.
SECRET_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]{4,}")

#: API response headers the suite knows (api-contract.md §1). Any other ``anthropic-*`` /
#: ``x-anthropic-*`` response header is drift: the API added it since this table was written.
RESPONSE_HEADERS: frozenset[str] = frozenset(
    {"request-id", "anthropic-organization-id", "retry-after", "retry-after-ms", "x-should-retry"}
)
#: The rate-limit headers, ``anthropic-ratelimit-<kind>-<limit|remaining|reset>``.
RATELIMIT_HEADER = re.compile(
    r"anthropic-ratelimit-(requests|tokens|input-tokens|output-tokens|"
    r"priority-input-tokens|priority-output-tokens)-(limit|remaining|reset)"
)

#: The host of the real API, and the header values a run under it sends.
REAL_API_URL = "https://api.anthropic.com"
REAL_API_HOST: str = urlsplit(REAL_API_URL).hostname or ""


# --- Request bodies and streaming (read by the OpenAPI export) ----------------------------------


@dataclass(frozen=True)
class RequestBody:
    """The body an endpoint takes: the schema file describing it and its media type.

    The schemas state the shape only: the API refuses more than they do (content rules, limits
    per model), so an answer of 400 to a body that matches them is no contradiction.
    """

    endpoint: str
    schema: str
    media_type: str = "application/json"


REQUEST_BODIES: tuple[RequestBody, ...] = (
    RequestBody("messages.create", "message_create_request.json"),
    RequestBody("messages.count_tokens", "count_tokens_request.json"),
    RequestBody("batches.create", "message_batch_create_request.json"),
    RequestBody("files.upload", "file_upload_request.json", "multipart/form-data"),
    RequestBody("admin.users.update", "user_update_request.json"),
    RequestBody("admin.invites.create", "invite_create_request.json"),
    RequestBody("admin.workspaces.create", "workspace_create_request.json"),
    RequestBody("admin.workspaces.update", "workspace_update_request.json"),
    RequestBody("admin.workspace_members.create", "workspace_member_create_request.json"),
    RequestBody("admin.workspace_members.update", "workspace_member_update_request.json"),
    RequestBody("admin.api_keys.update", "api_key_update_request.json"),
    RequestBody("prompt_tools.generate", "generate_prompt_request.json"),
    RequestBody("prompt_tools.improve", "improve_prompt_request.json"),
    RequestBody("prompt_tools.templatize", "templatize_prompt_request.json"),
)

#: Endpoints that answer ``text/event-stream`` (events of STREAM_EVENT_SCHEMA) when the body
#: says ``"stream": true``.
STREAMING_ENDPOINTS: frozenset[str] = frozenset({"messages.create"})

#: POST endpoints that change nothing on the target (a message, a token count, a prompt tool's
#: answer): a retry of one cannot meet its own first try. Every other non-GET call has an
#: effect, and a retry of it after a fault that may have come after the work is reconciled
#: (``conformance.client.Uncertain``, ``conformance.resources.reconcile``).
PURE_ENDPOINTS: frozenset[str] = frozenset(
    {
        "messages.create",
        "messages.count_tokens",
        "prompt_tools.generate",
        "prompt_tools.improve",
        "prompt_tools.templatize",
    }
)


# --- Timeouts per family --------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerTimeout:
    """How long one answer of a family may take, first byte to last (``--anthropic-timeout``
    replaces every row with one value). A batch poll is metadata, not generation; a stream
    carries a whole generation; an upload carries the file. Past it, the call is "could not
    judge" (``conformance.client.AnswerTooSlow``), reported with the family and request-id."""

    family: str
    seconds: float
    what: str


#: Not documented by the API (it states no per-endpoint latency): our own bounds, generous
#: for the suite's small requests.
ANSWER_TIMEOUTS: tuple[AnswerTimeout, ...] = (
    AnswerTimeout("messages", 60.0, "a message generated and answered as one JSON body"),
    AnswerTimeout("stream", 120.0, "a streamed message, first byte to the end of the stream"),
    AnswerTimeout("count_tokens", 30.0, "a token count"),
    AnswerTimeout("models", 30.0, "a model or a page of models"),
    AnswerTimeout("batch_poll", 30.0, "a batch's create, retrieve, list, cancel or delete"),
    AnswerTimeout("batch_results", 120.0, "a batch's JSONL results"),
    AnswerTimeout("file_upload", 300.0, "a file upload (the suite's largest is 8 MiB)"),
    AnswerTimeout("files", 60.0, "a file's metadata, list, download or delete"),
    AnswerTimeout("admin", 30.0, "an Admin API call"),
    AnswerTimeout("prompt_tools", 60.0, "a prompt tool's generated answer"),
    AnswerTimeout("other", 60.0, "any other request (capability probes of unknown paths)"),
)
#: Endpoint name -> its timeout family, where it is not the endpoint's API family.
_TIMEOUT_FAMILY: dict[str, str] = {
    "messages.create": "messages",
    "batches.results": "batch_results",
    "files.upload": "file_upload",
}
_BY_API_FAMILY: dict[str, str] = {"batches": "batch_poll"}


def answer_timeout(method: str, path: str, streamed: bool = False) -> AnswerTimeout:
    """The ``ANSWER_TIMEOUTS`` row of a request (``streamed``: its body asks for a stream)."""
    found = match_endpoint(method, path)
    if found is None:
        family = "other"
    elif found.name in STREAMING_ENDPOINTS and streamed:
        family = "stream"
    else:
        family = _TIMEOUT_FAMILY.get(found.name) or _BY_API_FAMILY.get(found.family, found.family)
    return next(t for t in ANSWER_TIMEOUTS if t.family == family)


#: The longest answer timeout (httpx's own per-read bound must not cut before ours).
LONGEST_ANSWER_TIMEOUT: float = max(t.seconds for t in ANSWER_TIMEOUTS)


def request_body(name: str) -> RequestBody | None:
    """The request body endpoint ``name`` takes, or ``None`` for one that takes none."""
    return next((r for r in REQUEST_BODIES if r.endpoint == name), None)


def output_schema(request: Any) -> dict[str, Any] | None:
    """The JSON Schema a messages request asks its answer to follow, if any: today's
    ``output_config.format``, else the beta ``output_format`` (the ``structured_outputs`` beta)."""
    if not isinstance(request, dict):
        return None
    config = request.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if not isinstance(fmt, dict):
        fmt = request.get("output_format")
    if (
        isinstance(fmt, dict)
        and fmt.get("type") == "json_schema"
        and isinstance(fmt.get("schema"), dict)
    ):
        schema: dict[str, Any] = fmt["schema"]
        return schema
    return None
