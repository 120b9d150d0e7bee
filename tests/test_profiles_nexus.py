"""The nexus-proxy profile: schemas against examples of every seed interface, each semantic check
against a faithful and a broken answer, the deviation policy, each mutant of the reference
implementation killed by the profile's suite, both tenant modes, as-built deployments, probing,
replay, and the core Anthropic suite run through the reference proxy (pass-through mode)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from suite_args import run_profile

from conformance.checks import names
from conformance.exchange import Exchange, Finding
from conformance.profiles import SchemaSet, apply_policy, profile_checks
from conformance.profiles.nexus_proxy import PROFILE, NexusSettings, checks, spec
from conformance.profiles.nexus_proxy.reference import (
    DASHBOARD_KEY,
    MUTANTS,
    UPSTREAM_PREFIX,
    create_app,
)
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer
from conformance.reference import create_app as anthropic_app
from conformance.runner import suite_args

NEXUS = "nexus-proxy"
assert PROFILE.schemas_dir is not None
SCHEMAS = SchemaSet(PROFILE.schemas_dir, NEXUS)
#: The profile's suite against its reference implementation: every test.
SUITE_TESTS = 21

T = "2024-01-15T10:00:00Z"
UUID1 = "3f2b8c1e-9d4a-4b7e-8f1a-2c3d4e5f6a7b"
UUID2 = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
COUNTS = {"input": 100, "output": 200, "total": 300}


def _tenant_stats() -> dict[str, Any]:
    return {
        "requests": 3,
        "tokens": COUNTS,
        "by_type": {"inference": 2, "query_evaluation": 1},
    }


def _stats(mode: str) -> dict[str, Any]:
    key = spec.NAMES[mode].by_tenant
    tenant = "example.com" if mode == "domain" else "train-1"
    return {
        "total_requests": 3,
        "total_tokens": COUNTS,
        key: {tenant: _tenant_stats()},
        "by_model": {"claude-3-opus-20240229": {"requests": 3, "tokens": COUNTS}},
    }


def _conversation(mode: str) -> dict[str, Any]:
    return {
        "conversation_id": UUID1,
        "account_id": "acc_123",
        spec.NAMES[mode].field: "example.com" if mode == "domain" else "train-1",
        "first_message_at": T,
        "last_message_at": T,
        "message_count": 2,
        "total_tokens": 300,
        "branches": [
            {"branch_id": "main", "parent_hash": "abc", "created_at": T, "message_count": 2}
        ],
        "latest_request": {
            "id": UUID2,
            "status_code": 200,
            "model": "claude-3-opus-20240229",
            "created_at": T,
        },
        "has_subtasks": True,
        "subtask_count": 1,
    }


def _details(mode: str) -> dict[str, Any]:
    return {
        "id": UUID2,
        spec.NAMES[mode].field: "example.com" if mode == "domain" else "train-1",
        "account_id": "acc_123",
        "method": "POST",
        "path": "/v1/messages",
        "status_code": 200,
        "error_type": "api_error",
        "error_message": "x",
        "model": "claude-3-opus-20240229",
        "request_type": "inference",
        "input_tokens": 100,
        "output_tokens": 200,
        "total_tokens": 300,
        "response_time_ms": 1500,
        "created_at": T,
        "updated_at": T,
        "conversation_id": UUID1,
        "branch_id": "main",
        "current_message_hash": "abc",
        "parent_message_hash": "def",
        "is_subtask": True,
        "parent_task_request_id": UUID1,
        "request_body": {"model": "claude-3-opus-20240229"},
        "response_body": {"type": "message"},
        "streaming_chunks": [
            {"chunk_index": 0, "content": "event: message_start\n", "created_at": T},
            {"chunk_index": 1, "content": "event: message_stop\n", "created_at": T},
        ],
    }


USAGE = {
    "input_tokens": 10,
    "output_tokens": 15,
    "cache_creation_input_tokens": 1,
    "cache_read_input_tokens": 2,
}
# Every interface of the seeds (002 and 003), each field filled in: (schema, instance).
SEED: list[tuple[str, Any]] = [
    (
        "messages_request.json",
        {
            "model": "claude-3-opus-20240229",
            "messages": [
                {"role": "user", "content": "Hello, Claude!"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                        },
                    ],
                },
            ],
            "max_tokens": 1000,
            "temperature": 0.5,
            "top_p": 1.0,
            "top_k": 5,
            "metadata": {"user_id": "u1"},
            "stop_sequences": ["\n\nHuman:"],
            "stream": False,
            "system": "You are helpful.",
        },
    ),
    (
        "messages_response.json",
        {
            "id": "msg_123",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "Hello!"}],
            "model": "claude-3-opus-20240229",
            "stop_reason": "stop_sequence",
            "stop_sequence": "\n\nHuman:",
            "usage": USAGE,
        },
    ),
    ("stream_event.json", {"event": "message_start", "data": '{"type":"message_start"}'}),
    (
        "message_start_event.json",
        {
            "type": "message_start",
            "message": {
                "id": "msg_123",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-3-opus-20240229",
                "usage": USAGE,
            },
        },
    ),
    (
        "content_block_delta_event.json",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    ),
    (
        "message_stop_event.json",
        {"type": "message_stop", "stop_reason": "end_turn", "stop_sequence": "x", "usage": USAGE},
    ),
    ("token_stats_response.json", _stats("domain")),
    ("token_stats_response.json", _stats("train-id")),
    (
        "health_response.json",
        {"status": "ok", "timestamp": T, "version": "2.0.0", "database": "connected"},
    ),
    *(
        (
            "stats_response.json",
            {
                "total_requests": 150,
                "total_tokens": 107000,
                spec.NAMES[mode].active: 2,
                "total_subtasks": 3,
                "success_rate": 99.5,
                "average_latency": 1500,
                "period": {"start": T, "end": T},
            },
        )
        for mode in spec.TENANT_MODES
    ),
    (
        "current_usage_response.json",
        {
            "account_id": "acc_123",
            "window_minutes": 300,
            "usage": {"tokens_used": 70000, "limit": 140000, "percentage": 50.0, "reset_at": T},
            "requests": {
                "count": 6,
                "by_type": {"inference": 3, "query_evaluation": 2, "quota": 1},
            },
        },
    ),
    (
        "daily_usage_response.json",
        {
            "account_id": "acc_123",
            "period": {"start": T, "end": T},
            "days": [
                {
                    "date": "2024-01-15",
                    "requests": 5,
                    "input_tokens": 100,
                    "output_tokens": 200,
                    "total_tokens": 300,
                    "by_model": {"claude-3-opus-20240229": {"requests": 5, "tokens": 300}},
                }
            ],
            "totals": {
                "requests": 5,
                "input_tokens": 100,
                "output_tokens": 200,
                "total_tokens": 300,
                "estimated_cost": 0.0033,
            },
        },
    ),
    *(
        (
            "conversations_response.json",
            {
                "conversations": [_conversation(mode)],
                "pagination": {"total": 1, "page": 1, "per_page": 20, "total_pages": 1},
            },
        )
        for mode in spec.TENANT_MODES
    ),
    *(("request_details_response.json", _details(mode)) for mode in spec.TENANT_MODES),
    (
        "error.json",
        {
            "error": {"type": "invalid_request_error", "message": "bad", "details": {"x": 1}},
            "request_id": UUID1,
            "timestamp": T,
        },
    ),
    (
        "error.json",
        {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}},
    ),
    ("error.json", {"error": "invalid_grant", "error_description": "Refresh token expired"}),
    (
        "slack_webhook_payload.json",
        {
            "text": "Proxy alert",
            "blocks": [
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "*hi*"},
                    "fields": [{"type": "plain_text", "text": "a"}],
                }
            ],
            "attachments": [
                {
                    "color": "danger",
                    "title": "t",
                    "text": "x",
                    "fields": [{"title": "a", "value": "b", "short": True}],
                    "footer": "f",
                    "ts": 1705315200,
                }
            ],
        },
    ),
]
AS_BUILT: list[tuple[str, Any]] = [
    (
        "token_stats_response.json",
        {
            "example.com": {
                "inputTokens": 45000,
                "outputTokens": 62000,
                "requestCount": 150,
                "queryEvaluationCount": 5,
                "inferenceCount": 145,
                "toolCallCount": 3,
                "lastUpdated": T,
            }
        },
    ),
    ("health_response.json", {"status": "healthy"}),
    ("error.json", {"error": {"type": "authentication_error", "message": "Invalid API key"}}),
    (
        "conversations_response.json",
        {
            "conversations": [{"conversationId": UUID1, "domain": "example.com"}],
            "pagination": {"total": 1, "limit": 20, "offset": 0, "hasMore": False},
        },
    ),
    ("stats_response.json", {"totalRequests": 1, "activeDomains": 1}),
]


def _resolve(schema: dict[str, Any], instance: Any) -> dict[str, Any]:
    """The schema that judges ``instance``: $ref followed, the anyOf branch it is valid under."""
    while True:
        if "$ref" in schema:
            schema = SCHEMAS.documents[schema["$ref"]]
        elif "anyOf" in schema and all("$ref" in s for s in schema["anyOf"]):
            schema = next(
                SCHEMAS.documents[s["$ref"]]
                for s in schema["anyOf"]
                if not SCHEMAS.validate(instance, s["$ref"])
            )
        else:
            return schema


def _undeclared(schema: dict[str, Any], instance: Any, where: str) -> Iterator[str]:
    """Pointers of instance keys the schema (following $ref and anyOf) does not declare."""
    schema = _resolve(schema, instance)
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, value in instance.items():
            if key in props:
                if props[key]:  # {} (any value) declares the field and nothing below it
                    yield from _undeclared(props[key], value, f"{where}/{key}")
            elif isinstance(extra, dict):
                yield from _undeclared(extra, value, f"{where}/{key}")
            else:
                yield f"{where}/{key}"
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(instance):
            yield from _undeclared(schema["items"], value, f"{where}/{i}")


@pytest.mark.parametrize(("name", "instance"), SEED + AS_BUILT)
def test_seed_example_is_valid_and_every_field_has_a_schema(name: str, instance: Any) -> None:
    assert SCHEMAS.validate(instance, name) == []
    if name not in ("request_details_response.json",):  # request/response bodies: any JSON
        assert list(_undeclared(SCHEMAS.documents[name], instance, "")) == []


def test_every_schema_is_used_and_every_answer_has_one() -> None:
    for endpoint in PROFILE.endpoints:
        assert endpoint.response_schema in SCHEMAS.documents
    used = {e.response_schema for e in PROFILE.endpoints} | {n for n, _ in SEED}
    referenced = {
        ref
        for doc in SCHEMAS.documents.values()
        for ref in json.dumps(doc).split('"$ref": "')[1:]
        for ref in [ref.split('"', 1)[0]]
    }
    assert used | referenced == set(SCHEMAS.documents)


def test_schemas_reject_broken_answers() -> None:
    broken = copy.deepcopy(_stats("domain"))
    del broken["total_requests"]
    assert SCHEMAS.validate(broken, "token_stats_response.json")
    both = {**_stats("domain"), "by_train": {}}
    assert SCHEMAS.validate(both, "token_stats_response.json")  # one tenant key, not both
    assert SCHEMAS.validate({"status": "degraded"}, "health_response.json")
    bad_window = {"account_id": "a", "window_minutes": 300, "usage": {}, "requests": {}}
    assert SCHEMAS.validate(bad_window, "current_usage_response.json")
    assert SCHEMAS.validate({"message": "x"}, "error.json")
    detail = _details("domain")
    detail["request_type"] = "chat"
    assert SCHEMAS.validate(detail, "request_details_response.json")[0].rule.startswith("enum")


# --- each semantic check against a faithful and a broken answer ----------------------------------


def _ex(path: str, body: Any, status: int = 200) -> Exchange:
    return Exchange(
        "GET", path, status, {"content-type": "application/json"}, json.dumps(body).encode()
    )


def _window(used: int, limit: int, percentage: float, count: int = 6) -> dict[str, Any]:
    return {
        "account_id": "acc",
        "window_minutes": 300,
        "usage": {"tokens_used": used, "limit": limit, "percentage": percentage, "reset_at": T},
        "requests": {
            "count": count,
            "by_type": {"inference": 3, "query_evaluation": 2, "quota": 1},
        },
    }


def _page(total: int, page: int, per_page: int, shown: int, pages: int | None = None) -> Any:
    return {
        "conversations": [_conversation("domain")] * shown,
        "pagination": {
            "total": total,
            "page": page,
            "per_page": per_page,
            "total_pages": spec.total_pages(total, per_page) if pages is None else pages,
        },
    }


def _daily(**totals: int) -> dict[str, Any]:
    body = copy.deepcopy(dict(SEED)["daily_usage_response.json"])
    body["totals"].update(totals)
    return body


CONV = spec.CONVERSATIONS + "?page=2&per_page=3"
_STANDARD = {"error": {"type": "authentication_error", "message": "x"}, "timestamp": T}
_AS_BUILT_STATS = dict(AS_BUILT)["token_stats_response.json"]

# check -> (a faithful answer, a broken answer it must reject)
CASES: dict[str, tuple[Exchange, Exchange]] = {
    "nexus-token-totals": (
        _ex(spec.TOKEN_STATS, _stats("domain")),
        _ex(spec.TOKEN_STATS, {**_stats("domain"), "total_tokens": {**COUNTS, "total": 100}}),
    ),
    "nexus-token-sums": (
        _ex(spec.TOKEN_STATS, _stats("train-id")),
        _ex(spec.TOKEN_STATS, {**_stats("train-id"), "total_requests": 4}),
    ),
    "nexus-percentages": (
        _ex(spec.CURRENT, _window(150_000, 140_000, 100.0)),
        _ex(spec.CURRENT, _window(150_000, 140_000, 107.14)),
    ),
    "nexus-pagination": (
        _ex(CONV, _page(7, 2, 3, 3)),
        _ex(CONV, _page(7, 2, 3, 3, pages=2)),
    ),
    "nexus-identifiers": (
        _ex(f"{spec.REQUESTS}/{UUID2}", _details("domain")),
        _ex(f"{spec.REQUESTS}/req_1", {**_details("domain"), "id": "req_1"}),
    ),
    "nexus-chunks": (
        _ex(f"{spec.REQUESTS}/{UUID2}", _details("train-id")),
        _ex(
            f"{spec.REQUESTS}/{UUID2}",
            {
                **_details("train-id"),
                "streaming_chunks": list(reversed(_details("train-id")["streaming_chunks"])),
            },
        ),
    ),
    "nexus-token-stats-as-built": (
        _ex(spec.TOKEN_STATS, _stats("domain")),
        _ex(spec.TOKEN_STATS, _AS_BUILT_STATS),
    ),
    "nexus-dashboard-camelcase": (
        _ex(CONV, _page(7, 2, 3, 3)),
        _ex(spec.CONVERSATIONS, dict(AS_BUILT)["conversations_response.json"]),
    ),
    "nexus-health-healthy": (
        _ex(spec.HEALTH, {"status": "ok"}),
        _ex(spec.HEALTH, {"status": "healthy"}),
    ),
    "nexus-error-envelope": (
        _ex(spec.STATS, _STANDARD, 401),
        _ex(spec.STATS, {"error": {"type": "authentication_error", "message": "x"}}, 401),
    ),
}


def test_every_check_of_the_profile_has_a_case() -> None:
    assert {c.name for c in profile_checks(PROFILE)} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_accepts_the_faithful_answer_and_rejects_the_broken_one(name: str) -> None:
    good, bad = CASES[name]
    check = {c.name: c for c in profile_checks(PROFILE)}[name]
    assert check(good) == []
    found = check(bad)
    assert found and {f.check for f in found} == {name}, found
    assert all(f.message and f.rule for f in found)


# More broken answers each check must reject (one per rule it states).
MORE_BROKEN: list[tuple[str, Exchange]] = [
    ("nexus-token-totals", _ex(spec.DAILY, _daily(total_tokens=299))),
    ("nexus-token-totals", _ex(f"{spec.REQUESTS}/x", {**_details("domain"), "total_tokens": 100})),
    ("nexus-token-sums", _ex(spec.DAILY, _daily(requests=6))),
    ("nexus-token-sums", _ex(spec.CURRENT, _window(10, 140_000, 0.01, count=5))),
    (
        "nexus-token-sums",
        _ex(
            spec.TOKEN_STATS,
            {
                **_stats("domain"),
                "by_domain": {
                    "example.com": {**_tenant_stats(), "by_type": {"inference": 4}},
                },
            },
        ),
    ),
    ("nexus-percentages", _ex(spec.CURRENT, _window(70_000, 140_000, 0.5))),
    (
        "nexus-percentages",
        _ex(spec.STATS, {**dict(SEED)["stats_response.json"], "success_rate": 118}),
    ),
    ("nexus-pagination", _ex(CONV, _page(7, 2, 3, 1))),
    ("nexus-pagination", _ex(spec.CONVERSATIONS + "?page=3&per_page=3", _page(7, 2, 3, 3))),
    (
        "nexus-pagination",
        _ex(
            spec.CONVERSATIONS,
            {
                "conversations": [{"conversationId": UUID1}],
                "pagination": {"total": 3, "limit": 1, "offset": 2, "hasMore": True},
            },
        ),
    ),
    (
        "nexus-identifiers",
        _ex(spec.TOKEN_STATS, {**_stats("domain"), "by_domain": {"not_a_domain": _tenant_stats()}}),
    ),
    (
        "nexus-identifiers",
        _ex(
            spec.CONVERSATIONS,
            {**_page(1, 1, 20, 0), "conversations": [{**_conversation("domain"), "domain": "a_b"}]},
        ),
    ),
]


@pytest.mark.parametrize(("name", "bad"), MORE_BROKEN)
def test_check_rejects_each_broken_rule(name: str, bad: Exchange) -> None:
    check = {c.name: c for c in profile_checks(PROFILE)}[name]
    found = check(bad)
    assert found and {f.check for f in found} == {name}, found


def test_identifiers_judge_tenants_by_their_modes_rule() -> None:
    train = _ex(
        spec.TOKEN_STATS,
        {**_stats("train-id"), "by_train": {"train:a_1": _tenant_stats()}},
    )
    assert checks.check_identifiers(train) == []  # valid as a train id, not as a domain
    domain = _ex(spec.TOKEN_STATS, {**_stats("domain"), "by_domain": {"train:a_1": {}}})
    assert [f.check for f in checks.check_identifiers(domain)] == ["nexus-identifiers"]


def test_checks_accept_the_as_built_shapes_they_do_not_own() -> None:
    stats = _ex(spec.TOKEN_STATS, _AS_BUILT_STATS)
    for name in ("nexus-token-totals", "nexus-token-sums", "nexus-identifiers"):
        check = {c.name: c for c in profile_checks(PROFILE)}[name]
        assert check(stats) == []


# --- the on-demand checks --------------------------------------------------------------------


def test_stats_growth() -> None:
    before, after = _stats("domain"), copy.deepcopy(_stats("domain"))
    row = after["by_domain"]["example.com"]
    row["requests"] += 2
    row["tokens"] = {"input": 110, "output": 220, "total": 330}
    used = checks.Usage(2, 10, 20)
    assert checks.stats_growth(before, after, "example.com", used) == []
    [wrong] = checks.stats_growth(before, after, "example.com", checks.Usage(2, 10, 0))
    assert wrong.check == "nexus-stats-growth" and "(2, 10, 20)" in wrong.message
    [missing] = checks.stats_growth(before, after, "other.example.com", used)
    assert "no row for tenant" in missing.message
    camel = {"t.example": {"inputTokens": 5, "outputTokens": 6, "requestCount": 1}}
    assert checks.stats_growth({}, camel, "t.example", checks.Usage(1, 5, 6)) == []


def test_tenant_fields() -> None:
    assert checks.tenant_fields(_stats("domain"), "domain", "x") == []
    assert checks.tenant_fields(_page(1, 1, 20, 1), "domain", "x") == []
    [found] = checks.tenant_fields(_stats("train-id"), "domain", "x")
    assert found.check == "nexus-tenant-fields" and "by_train" in found.message
    conversations = {"conversations": [_conversation("domain")], "pagination": {}}
    assert checks.tenant_fields(conversations, "train-id", "x")


def test_stored() -> None:
    assert checks.stored(True, "query_evaluation") == []
    assert checks.stored(False, "query_evaluation")[0].check == "nexus-unstored-request"


def _sse(text: str) -> Exchange:
    return Exchange(
        "POST", "/v1/messages", 200, {"content-type": "text/event-stream"}, text.encode()
    )


def test_passthrough() -> None:
    body = 'event: ping\ndata: {"type":"ping"}\n\n'
    assert checks.passthrough(_sse(body), _sse(body)) == []
    [found] = checks.passthrough(_sse(body.replace('":"', '": "')), _sse(body))
    assert found.check == "nexus-passthrough" and "from byte 26" in found.message
    error = _ex("/v1/messages", {"type": "error"}, 529)
    assert {f.rule for f in checks.passthrough(_ex("/v1/messages", {"type": "error"}, 502), error)}
    kinds = {f.rule for f in checks.passthrough(_ex("/v1/messages", {"a": 1}), _sse(body))}
    assert kinds == {"same content type", "bodies and SSE are passed through byte for byte"}


def test_dashboard_refused() -> None:
    assert checks.dashboard_refused(_ex(spec.STATS, _STANDARD, 401), "without a key") == []
    [found] = checks.dashboard_refused(_ex(spec.STATS, {}), "without a key")
    assert found.check == "nexus-dashboard-auth" and "not 401" in found.message


def test_profile_checks_never_run_on_anthropic_answers() -> None:
    from conformance import catalog
    from conformance.checks import checks_for

    for endpoint in (None, *(e.name for e in catalog.ENDPOINTS)):
        assert not [c.name for c in checks_for(endpoint) if c.name.startswith("nexus-")]
    anthropic = _ex("/v1/models", {"data": [], "has_more": False})
    assert all(c(anthropic) == [] for c in profile_checks(PROFILE))


def test_request_types_and_percentages_as_assumed() -> None:
    two = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert spec.request_type({"system": two, "messages": []}) == "inference"
    assert spec.request_type({"system": two[:1], "messages": []}) == "query_evaluation"
    quota = {"max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]}
    assert spec.request_type(quota) == "quota"
    assert spec.percentage(150, 100) == 100.0 and spec.percentage(1, 0) == 0.0
    assert spec.total_pages(7, 3) == 3 and spec.total_pages(6, 3) == 2


# --- the deviation policy --------------------------------------------------------------------


def test_deviations_take_the_profiles_severity_in_each_mode() -> None:
    found = [
        Finding("nexus-unstored-request", "m"),
        Finding("nexus-health-healthy", "m"),
        Finding("nexus-token-sums", "m"),
    ]
    strict = apply_policy(PROFILE, False, found)
    assert [(f.check, f.severity) for f in strict] == [
        ("nexus-unstored-request", "error"),
        ("nexus-health-healthy", "error"),
        ("nexus-token-sums", "error"),
    ]
    assert "--nexus-as-built" in strict[0].message
    built = apply_policy(PROFILE, True, found)
    assert [(f.check, f.severity) for f in built] == [
        ("nexus-unstored-request", "warning"),
        ("nexus-token-sums", "error"),
    ]
    assert {d.check for d in PROFILE.deviations} <= set(names())


# --- the reference implementation ------------------------------------------------------------


def test_reference_refuses_unknown_mutants_and_modes() -> None:
    with pytest.raises(ValueError, match="unknown mutant"):
        create_app(["nope"])
    with pytest.raises(ValueError, match="tenant_by 'host'"):
        create_app(tenant_by="host")
    assert set(PROFILE.mutants) == set(MUTANTS)


def test_settings_choose_the_tenant_mode() -> None:
    from conformance.profiles.plugin import load_profile_settings
    from conformance.settings import ConfigError

    settings = load_profile_settings(PROFILE, environ={"NEXUS_TENANT_BY": "train-id"})
    assert isinstance(settings, NexusSettings) and settings.tenant_by == "train-id"
    assert load_profile_settings(PROFILE, environ={}).tenant_by == "domain"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="NEXUS_TENANT_BY"):
        load_profile_settings(PROFILE, environ={"NEXUS_TENANT_BY": "host"})


@pytest.mark.parametrize("mode", spec.TENANT_MODES)
def test_reference_keys_statistics_by_the_modes_header(mode: str) -> None:
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
    }
    headers = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
    with EmbeddedServer(app=create_app(tenant_by=mode)) as server:
        sent = httpx.post(
            server.url + spec.MESSAGES,
            json=body,
            headers={**headers, "host": "by-host.example", spec.TRAIN_ID_HEADER: "by-train:1"},
        )
        stats = httpx.get(server.url + spec.TOKEN_STATS).json()
        journal = httpx.get(
            server.url + UPSTREAM_PREFIX + "/_reference/answers",
            params={"request_id": sent.headers["request-id"]},
            headers={"x-api-key": DEFAULT_API_KEY},
        ).json()
    assert sent.status_code == 200
    rows = stats[spec.NAMES[mode].by_tenant]
    wanted = "by-host.example" if mode == "domain" else "by-train:1"
    assert rows[wanted]["requests"] == 1 and ("by-train:1" in rows) is (mode == "train-id")
    [entry] = journal["data"]
    assert entry["body"].encode() == sent.content
    assert "anthropic-organization-id" not in {k.lower() for k in entry["headers"]}


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_profile(pytester, NEXUS, *args)


@pytest.mark.parametrize("mode", spec.TENANT_MODES)
def test_faithful_reference_passes_the_profile(pytester: pytest.Pytester, mode: str) -> None:
    _run(pytester, "--nexus-tenant-by", mode).assert_outcomes(passed=SUITE_TESTS)


def test_cassettes_replay(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--record-mode=none")
    result.assert_outcomes(passed=SUITE_TESTS)
    result.stdout.fnmatch_lines(["*profile nexus-proxy: target cassette replay*"])


#: The toggle whose tests catch each mutant (so a run stays short).
_TOGGLE = {
    "stats-": "token-stats",
    "stream-": "token-stats",
    "tenant-": "token-stats",
    "health-": "info",
    "json-": "messages",
    "sse-": "messages",
    "error-remapped": "messages",
}


def _toggle(mutant: str) -> str:
    return next((t for prefix, t in _TOGGLE.items() if mutant.startswith(prefix)), "dashboard")


#: The check whose finding kills each mutant (the first failing test names it).
KILLED_BY: dict[str, str] = {
    "stats-total-input-only": "nexus-token-totals",
    "request-total-input-only": "nexus-token-totals",
    "stats-tenant-sum-short": "nexus-token-sums",
    "daily-totals-stale": "nexus-token-sums",
    "window-count-inference-only": "nexus-token-sums",
    "percentage-uncapped": "nexus-percentages",
    "success-rate-count": "nexus-percentages",
    "pages-floor": "nexus-pagination",
    "page-offset-off-by-one": "nexus-pagination",
    "request-id-not-uuid": "nexus-identifiers",
    "tenant-other-header": "nexus-identifiers",  # "default" is no domain; train-id: growth
    "chunks-reversed": "nexus-chunks",
    "stats-as-built": "nexus-token-stats-as-built",
    "dashboard-as-built": "nexus-dashboard-camelcase",
    "health-healthy": "nexus-health-healthy",
    "error-as-built": "nexus-error-envelope",
    "store-inference-only": "nexus-unstored-request",
    "stream-output-not-counted": "nexus-stats-growth",
    "tenant-names-swapped": "nexus-tenant-fields",
    "json-reserialized": "nexus-passthrough",
    "sse-reserialized": "nexus-passthrough",
    "error-remapped": "nexus-passthrough",
    "dashboard-key-unchecked": "nexus-dashboard-auth",
}


def test_every_check_has_a_mutant_it_kills() -> None:
    on_demand = {
        "nexus-stats-growth",
        "nexus-tenant-fields",
        "nexus-unstored-request",
        "nexus-passthrough",
        "nexus-dashboard-auth",
    }
    assert set(KILLED_BY) == set(MUTANTS)
    assert set(KILLED_BY.values()) == set(CASES) | on_demand
    assert on_demand <= set(names())


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_profile_kills_the_mutant(pytester: pytest.Pytester, mutant: str) -> None:
    result = _run(pytester, "--nexus-mutant", mutant, "--nexus-features", _toggle(mutant), "-x")
    assert result.parseoutcomes().get("failed") == 1, f"mutant {mutant} SURVIVED"
    result.stdout.fnmatch_lines([f"*[[]{KILLED_BY[mutant]}[]]*"])


@pytest.mark.parametrize("mutant", ["tenant-other-header", "tenant-names-swapped"])
def test_tenant_mutants_die_in_train_id_mode_too(pytester: pytest.Pytester, mutant: str) -> None:
    result = _run(
        pytester,
        "--nexus-mutant",
        mutant,
        "--nexus-tenant-by",
        "train-id",
        "--nexus-features",
        "token-stats",
        "-x",
    )
    assert result.parseoutcomes().get("failed") == 1, f"mutant {mutant} SURVIVED"
    killer = "nexus-stats-growth" if mutant == "tenant-other-header" else KILLED_BY[mutant]
    result.stdout.fnmatch_lines([f"*[[]{killer}[]]*"])


AS_BUILT_MUTANTS = (
    "stats-as-built",
    "dashboard-as-built",
    "health-healthy",
    "error-as-built",
    "store-inference-only",
)


@pytest.fixture
def as_built_deployment() -> Iterator[tuple[str, ...]]:
    """A deployment that does what the real ones do, and the options to run against it."""
    with EmbeddedServer(app=create_app(AS_BUILT_MUTANTS)) as server:
        yield (
            "--nexus-base-url",
            server.url,
            "--nexus-dashboard-key",
            DASHBOARD_KEY,
            "--nexus-upstream-url",
            server.url + UPSTREAM_PREFIX,
            "--nexus-tenant",
            "as-built.example.com",
            "--nexus-account-id",
            "acc_as-built.example.com",
        )


def test_as_built_deployment_fails_strict_and_passes_as_built(
    pytester: pytest.Pytester, as_built_deployment: tuple[str, ...]
) -> None:
    strict = _run(pytester, *as_built_deployment)
    outcomes = strict.parseoutcomes()
    assert outcomes.get("failed", 0) >= 5, outcomes
    # (nexus-unstored-request is not reached there: the camelCase conversations fail first;
    # the store-inference-only mutant alone shows it)
    for name in (d.check for d in PROFILE.deviations if d.check != "nexus-unstored-request"):
        strict.stdout.fnmatch_lines([f"*[[]{name}[]]*known as-built shape: --nexus-as-built*"])
    built = _run(pytester, *as_built_deployment, "--nexus-as-built", "true", "-rs")
    outcomes = built.parseoutcomes()
    assert "failed" not in outcomes and outcomes["passed"] >= 14, outcomes
    built.stdout.fnmatch_lines(["*nexus-unstored-request, warning*"])


def test_deployment_run_skips_what_needs_the_seeded_state(pytester: pytest.Pytester) -> None:
    with EmbeddedServer(app=create_app()) as server:
        bare = _run(pytester, "--nexus-base-url", server.url, "-rs")
        full = _run(
            pytester,
            "--nexus-base-url",
            server.url,
            "--nexus-dashboard-key",
            DASHBOARD_KEY,
            "--nexus-upstream-url",
            server.url + UPSTREAM_PREFIX,
            "--nexus-account-id",
            "acc_deployment.example.com",
            "--nexus-tenant",
            "deployment.example.com",
            "-rs",
        )
    assert bare.ret == 0
    bare.stdout.fnmatch_lines(
        [
            "*the dashboard API needs its key: give --nexus-dashboard-key*",
            "*needs the upstream's record*give --nexus-upstream-url*",
        ]
    )
    outcomes = full.parseoutcomes()
    assert full.ret == 0 and outcomes["passed"] == SUITE_TESTS - 3, outcomes
    full.stdout.fnmatch_lines(["*only the reference implementation seeds it*"])


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[str]:
    """A server that does not serve the profile's surface: /health is a 404 there."""
    with EmbeddedServer(app=anthropic_app()) as server:
        yield server.url


def test_not_served_skips_with_evidence_and_require_fails(
    pytester: pytest.Pytester, anthropic_server: str
) -> None:
    args = ("--nexus-base-url", anthropic_server, "--nexus-features", "info", "-rs")
    skipped = _run(pytester, *args)
    skipped.assert_outcomes(skipped=SUITE_TESTS)
    skipped.stdout.fnmatch_lines(
        [
            f"*not supported by the target: profile {NEXUS} (GET /health "
            f"answered 404*add --anthropic-require={NEXUS} to fail*"
        ]
    )
    required = _run(pytester, *args, "--anthropic-require", NEXUS)
    required.assert_outcomes(failed=1, skipped=SUITE_TESTS - 1)
    required.stdout.fnmatch_lines(
        [f"*required profile {NEXUS} (--anthropic-require) not served by the target*"]
    )


# --- the Anthropic profile's own tests through the reference proxy ----------------------------


def test_anthropic_suite_passes_through_the_reference_proxy(pytester: pytest.Pytester) -> None:
    """Pass-through mode: the core suite against the proxy, with its upstream's record; what the
    proxy does not serve (count_tokens, models, ...) is skipped as not supported."""
    with EmbeddedServer(app=create_app()) as server:
        result = pytester.runpytest(
            *suite_args(
                [
                    "-p",
                    "no:randomly",
                    "-p",
                    "no:cacheprovider",
                    "--anthropic-report-dir",
                    "none",
                    f"--anthropic-base-url={server.url}",
                    f"--anthropic-api-key={DEFAULT_API_KEY}",
                    f"--anthropic-upstream-url={server.url}{UPSTREAM_PREFIX}",
                ],
                modules=["test_passthrough", "test_messages", "test_streaming", "test_errors"],
            )
        )
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and outcomes["passed"] >= 30 and "failed" not in outcomes, outcomes


def test_dashboard_url_sends_the_dashboard_calls_elsewhere(pytester: pytest.Pytester) -> None:
    """With --nexus-dashboard-url the dashboard calls go there: a dashboard that answers
    without a key fails the key tests, while the proxy itself refuses."""
    with (
        EmbeddedServer(app=create_app()) as proxy,
        EmbeddedServer(app=create_app(["dashboard-key-unchecked"])) as board,
    ):
        args = ("--nexus-base-url", proxy.url, "-k", "needs_its_key")
        _run(pytester, *args).assert_outcomes(passed=2, deselected=SUITE_TESTS - 2)
        elsewhere = _run(pytester, *args, "--nexus-dashboard-url", board.url)
    elsewhere.assert_outcomes(failed=2, deselected=SUITE_TESTS - 2)
    elsewhere.stdout.fnmatch_lines(["*[[]nexus-dashboard-auth[]]*not 401*"])
