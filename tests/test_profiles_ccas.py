"""The claude-code-api-service profile: schemas against the seed's examples, each semantic check
against a broken answer, the deviation policy, the routing rules, and the as-built option."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from suite_args import run_profile

from conformance import profiles
from conformance.checks import names
from conformance.exchange import Exchange, Finding
from conformance.profiles import ProfileClient, SchemaSet, apply_policy, profile_checks
from conformance.profiles.claude_code_api_service import PROFILE, checks, spec
from conformance.profiles.claude_code_api_service.reference import MUTANTS, create_app
from conformance.reference import EmbeddedServer

CCAS = "claude-code-api-service"
assert PROFILE.schemas_dir is not None
SCHEMAS = SchemaSet(PROFILE.schemas_dir, CCAS)

# The seed's own examples (docs/API_REFERENCE.md of the service), request and response.
SEED: dict[str, Any] = {
    "chat_completion_request.json": {
        "messages": [{"role": "user", "content": "Your prompt here"}],
        "model": "haiku",
        "project_id": "my-project",
        "timeout": 30.0,
        "max_tokens": 5000,
    },
    "chat_completion_response.json": {
        "id": "abc123...",
        "model": "haiku",
        "content": "Response from Claude...",
        "usage": {"input_tokens": 10, "output_tokens": 25, "total_tokens": 35},
        "cost": 0.0001,
        "project_id": "my-project",
    },
    "batch_request.json": {
        "prompts": [
            {"prompt": "First task", "id": "task1"},
            {"prompt": "Second task", "id": "task2"},
        ],
        "model": "haiku",
        "project_id": "my-project",
        "timeout": 30.0,
    },
    "batch_response.json": {
        "total": 2,
        "completed": 2,
        "failed": 0,
        "results": [
            {
                "id": "task1",
                "prompt": "First task",
                "status": "completed",
                "content": "Response...",
                "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30},
                "cost": 0.0001,
            },
            {
                "id": "task2",
                "prompt": "Second task",
                "status": "completed",
                "content": "Response...",
                "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30},
                "cost": 0.0001,
            },
        ],
        "total_cost": 0.0002,
        "total_tokens": 60,
    },
    "usage_query.json": {"project_id": "my-project", "period": "month"},
    "usage_response.json": {
        "project_id": "my-project",
        "period": "month",
        "total_tokens": 5000,
        "total_cost": 0.25,
        "by_model": {
            "haiku": {"tokens": 2000, "cost": 0.05},
            "sonnet": {"tokens": 3000, "cost": 0.20},
        },
        "limit": 100000,
        "remaining": 95000,
    },
    "route_request.json": {
        "prompt": "Analyze this codebase",
        "context_size": 5000,
        "project_id": "my-project",
    },
    "route_response.json": {
        "recommended_model": "sonnet",
        "reasoning": "Complex reasoning keywords with sufficient budget → Sonnet",
        "budget_status": {
            "total_tokens": 1000,
            "total_cost": 0.05,
            "limit": 100000,
            "remaining": 99000,
        },
    },
    "health_response.json": {
        "status": "ok",
        "version": "0.1.0",
        "services": {"worker_pool": "running", "budget_manager": "initialized"},
    },
    "root_response.json": {
        "name": "Claude Code API Service",
        "version": "0.1.0",
        "docs": "/docs",
        "health": "/health",
        "endpoints": {
            "chat": "/v1/chat/completions",
            "batch": "/v1/batch",
            "usage": "/v1/usage",
            "route": "/v1/route",
        },
    },
    "error.json": {"detail": "Error description here"},
}


def _declared(schema: dict[str, Any], instance: Any, where: str) -> Iterator[str]:
    """Pointers of instance keys the schema (following $ref) does not declare."""
    if "$ref" in schema:
        schema = SCHEMAS.documents[schema["$ref"]]
    if "anyOf" in schema and isinstance(instance, dict):
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
        yield from _declared(schema, instance, where)
        return
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, value in instance.items():
            if key in props:
                yield from _declared(props[key], value, f"{where}/{key}")
            elif isinstance(extra, dict):
                yield from _declared(extra, value, f"{where}/{key}")
            else:
                yield f"{where}/{key}"
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(instance):
            yield from _declared(schema["items"], value, f"{where}/{i}")


@pytest.mark.parametrize("name", sorted(SEED))
def test_seed_example_is_valid_and_every_field_has_a_schema(name: str) -> None:
    assert SCHEMAS.validate(SEED[name], name) == []
    assert list(_declared(SCHEMAS.documents[name], SEED[name], "")) == []


def test_every_operation_has_its_schemas() -> None:
    for endpoint in PROFILE.endpoints:
        assert endpoint.response_schema in SCHEMAS.documents
        assert endpoint.request_schema is None or endpoint.request_schema in SCHEMAS.documents
    assert {e.request_schema for e in PROFILE.endpoints if e.request_schema} | {
        e.response_schema for e in PROFILE.endpoints
    } | {"error.json", "token_usage.json", "batch_result.json", "budget_status.json"} == set(
        SCHEMAS.documents
    )


def test_schemas_reject_broken_answers() -> None:
    broken = copy.deepcopy(SEED["chat_completion_response.json"])
    del broken["cost"]
    broken["usage"]["total_tokens"] = "35"
    rules = {f.rule for f in SCHEMAS.validate(broken, "chat_completion_response.json")}
    assert rules == {"required: 'cost'", "type: integer"}
    assert (
        SCHEMAS.validate({"error": {"message": "x"}}, "error.json")[0].rule == "required: 'detail'"
    )


# --- each semantic check against a broken answer ---------------------------------------------


def _ex(method: str, path: str, body: Any, request: Any = None, status: int = 200) -> Exchange:
    import json

    return Exchange(
        method,
        path,
        status,
        {"content-type": "application/json"},
        json.dumps(body).encode(),
        request_json=request,
    )


def _chat(model: str = "haiku", i: int = 10, o: int = 25, **over: Any) -> dict[str, Any]:
    body = {
        "id": "x",
        "model": model,
        "content": "c",
        "usage": {"input_tokens": i, "output_tokens": o, "total_tokens": i + o},
        "cost": spec.cost_of(model, i, o),
        "project_id": "p",
    }
    return {**body, **over}


CHAT_REQ = {"messages": [{"role": "user", "content": "hi"}], "project_id": "p"}
BATCH_REQ = {
    "prompts": [{"prompt": "a", "id": "1"}, {"prompt": "b", "id": "2"}],
    "model": "sonnet",
    "project_id": "p",
}


def _result(pid: str, prompt: str, i: int = 3, o: int = 4, model: str = "sonnet") -> Any:
    return {
        "id": pid,
        "prompt": prompt,
        "status": "completed",
        "content": "c",
        "error": None,
        "usage": {"input_tokens": i, "output_tokens": o, "total_tokens": i + o},
        "cost": spec.cost_of(model, i, o),
    }


def _batch(**over: Any) -> dict[str, Any]:
    results = [_result("1", "a"), _result("2", "b")]
    body = {
        "total": 2,
        "completed": 2,
        "failed": 0,
        "results": results,
        "total_cost": sum(r["cost"] for r in results),
        "total_tokens": 14,
    }
    return {**body, **over}


def _usage(**over: Any) -> dict[str, Any]:
    body = {
        "project_id": "p",
        "period": "month",
        "total_tokens": 5000,
        "total_cost": 0.25,
        "by_model": {
            "haiku": {"tokens": 2000, "cost": 0.05},
            "sonnet": {"tokens": 3000, "cost": 0.20},
        },
        "limit": 100000,
        "remaining": 95000,
    }
    return {**body, **over}


def _route(model: str, prompt: str, context: int = 0, remaining: int | None = 99000) -> Exchange:
    limit = None if remaining is None else 100000
    total = 0 if remaining is None else 100000 - remaining
    return _ex(
        "POST",
        "/v1/route",
        {
            "recommended_model": model,
            "reasoning": "r",
            "budget_status": {
                "total_tokens": total,
                "total_cost": 0.0,
                "limit": limit,
                "remaining": remaining,
            },
        },
        {"prompt": prompt, "context_size": context, "project_id": "p"},
    )


def _failed() -> dict[str, Any]:
    bad = _batch()
    bad["results"][1] = {
        "id": "2",
        "prompt": "b",
        "status": "failed",
        "content": None,
        "usage": None,
        "cost": None,
        "error": "Task failed: x",
    }
    return {
        **bad,
        "completed": 1,
        "failed": 1,
        "total_cost": bad["results"][0]["cost"],
        "total_tokens": 7,
    }


# check -> (a faithful answer, a broken answer it must reject)
CASES: dict[str, tuple[Exchange, Exchange]] = {
    "ccas-usage-total": (
        _ex("POST", "/v1/chat/completions", _chat(), CHAT_REQ),
        _ex(
            "POST",
            "/v1/chat/completions",
            _chat(usage={"input_tokens": 10, "output_tokens": 25, "total_tokens": 10}),
            CHAT_REQ,
        ),
    ),
    "ccas-cost": (
        _ex("POST", "/v1/chat/completions", _chat("opus"), CHAT_REQ),
        _ex("POST", "/v1/chat/completions", _chat("opus", cost=0.0001), CHAT_REQ),
    ),
    "ccas-model": (
        _ex("POST", "/v1/chat/completions", _chat("sonnet"), {**CHAT_REQ, "model": "sonnet"}),
        _ex("POST", "/v1/chat/completions", _chat("haiku"), {**CHAT_REQ, "model": "sonnet"}),
    ),
    "ccas-project": (
        _ex(
            "POST",
            "/v1/chat/completions",
            _chat(project_id="default"),
            {"messages": CHAT_REQ["messages"]},
        ),
        _ex("POST", "/v1/chat/completions", _chat(project_id="other"), CHAT_REQ),
    ),
    "ccas-unknown-model-accepted": (
        _ex(
            "POST",
            "/v1/chat/completions",
            {"detail": "Invalid model"},
            {**CHAT_REQ, "model": "gpt-4o"},
            status=400,
        ),
        _ex("POST", "/v1/chat/completions", _chat(), {**CHAT_REQ, "model": "gpt-4o"}),
    ),
    "ccas-empty-messages-accepted": (
        _ex("POST", "/v1/chat/completions", {"detail": "empty"}, {"messages": []}, 400),
        _ex("POST", "/v1/chat/completions", _chat(), {"messages": []}),
    ),
    "ccas-detail-list": (
        _ex(
            "POST",
            "/v1/chat/completions",
            {"detail": "Budget exceeded for project p"},
            CHAT_REQ,
            429,
        ),
        _ex(
            "POST",
            "/v1/chat/completions",
            {"detail": [{"loc": ["body", "messages"], "msg": "Field required", "type": "missing"}]},
            {},
            422,
        ),
    ),
    "ccas-batch-totals": (
        _ex("POST", "/v1/batch", _failed(), BATCH_REQ),
        _ex("POST", "/v1/batch", {**_failed(), "total": 1}, BATCH_REQ),
    ),
    "ccas-batch-results": (
        _ex("POST", "/v1/batch", _batch(), BATCH_REQ),
        _ex("POST", "/v1/batch", _batch(results=[_result("2", "b"), _result("1", "a")]), BATCH_REQ),
    ),
    "ccas-usage-sums": (
        _ex("GET", "/v1/usage?project_id=p", _usage()),
        _ex("GET", "/v1/usage?project_id=p", _usage(total_cost=0.3)),
    ),
    "ccas-remaining": (
        _ex("GET", "/v1/usage?project_id=p", _usage()),
        _ex("GET", "/v1/usage?project_id=p", _usage(remaining=100000)),
    ),
    "ccas-unbudgeted-null": (
        _ex("GET", "/v1/usage", _usage()),
        _ex("GET", "/v1/usage", _usage(limit=None, remaining=None)),
    ),
    "ccas-budget-overrun": (
        _ex("GET", "/v1/usage", _usage(total_tokens=5000, limit=5000, remaining=0)),
        _ex("GET", "/v1/usage", _usage(limit=4000, remaining=-1000)),
    ),
    "ccas-period": (
        _ex("GET", "/v1/usage?period=week", _usage(period="week")),
        _ex("GET", "/v1/usage?period=year", _usage()),
    ),
    "ccas-route-rules": (_route("haiku", "list the files"), _route("sonnet", "list the files")),
}


#: Finding names a check reports besides its own (known deviations keep names of their own).
EMITTED_BY = {"ccas-unbudgeted-null": "ccas-remaining", "ccas-budget-overrun": "ccas-remaining"}


def test_every_check_of_the_profile_has_a_case() -> None:
    registered = {c.name for c in profile_checks(PROFILE)}
    assert registered | set(EMITTED_BY) == set(CASES)
    assert set(EMITTED_BY) <= set(names())


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_accepts_the_faithful_answer_and_rejects_the_broken_one(name: str) -> None:
    good, bad = CASES[name]
    by_name = {c.name: c for c in profile_checks(PROFILE)}
    emitter = by_name[EMITTED_BY.get(name, name)]
    assert emitter(good) == []
    found = emitter(bad)
    assert found and {f.check for f in found} == {name}, found
    assert all(f.message and f.rule for f in found)


def test_period_also_rejects_a_wrong_echo() -> None:
    wrong = _ex("GET", "/v1/usage?period=day", _usage(period="month"))
    [finding] = checks.check_period(wrong)
    assert "'month', the request asked for 'day'" in finding.message
    assert (
        checks.check_period(_ex("GET", "/v1/usage?period=year", {"detail": "x"}, status=400)) == []
    )


@pytest.mark.parametrize(
    ("prompt", "context", "remaining", "model"),
    [
        ("Analyze it", 0, 999, "haiku"),
        ("Analyze it", 0, 1000, "sonnet"),
        ("plain words", 10_001, None, "opus"),
        ("plain words", 10_000, None, "sonnet"),
        ("list " + "x" * 94, 0, None, "haiku"),
        ("list " + "x" * 95, 0, None, "sonnet"),
        ("list and analyze", 0, None, "haiku"),
        ("debug this", 0, None, "sonnet"),
        ("list it", 20_000, None, "opus"),
        ("plain", 20_000, 10, "haiku"),
    ],
)
def test_route_rules_in_the_seeds_order(
    prompt: str, context: int, remaining: int | None, model: str
) -> None:
    assert spec.route(prompt, context, remaining).model == model
    assert checks.check_route_rules(_route(model, prompt, context, remaining)) == []
    other = "opus" if model != "opus" else "haiku"
    assert checks.check_route_rules(_route(other, prompt, context, remaining))


def test_budget_untouched_is_an_on_demand_check() -> None:
    before = {"total_tokens": 1000, "total_cost": 0.1}
    assert checks.budget_untouched(before, dict(before)) == []
    [finding] = checks.budget_untouched(before, {"total_tokens": 1042, "total_cost": 0.2})
    assert finding.check == "ccas-budget-before-work"


def test_profile_checks_never_run_on_anthropic_answers() -> None:
    from conformance import catalog
    from conformance.checks import checks_for

    assert profile_checks(PROFILE)  # imported and registered
    for endpoint in (None, *(e.name for e in catalog.ENDPOINTS)):
        assert not [c.name for c in checks_for(endpoint) if c.name.startswith("ccas-")]
    anthropic = _ex("GET", "/v1/models", {"data": [], "has_more": False})
    assert all(c(anthropic) == [] for c in profile_checks(PROFILE))  # the guards too


# --- the deviation policy --------------------------------------------------------------------


def test_deviations_take_the_profiles_severity_in_each_mode() -> None:
    found = [
        Finding("ccas-budget-overrun", "m"),
        Finding("ccas-unbudgeted-null", "m"),
        Finding("ccas-cost", "m"),
    ]
    strict = apply_policy(PROFILE, False, found)
    assert [(f.check, f.severity) for f in strict] == [
        ("ccas-budget-overrun", "error"),
        ("ccas-unbudgeted-null", "warning"),
        ("ccas-cost", "error"),
    ]
    assert "--ccas-as-built" in strict[0].message
    built = apply_policy(PROFILE, True, found)
    assert [(f.check, f.severity) for f in built] == [
        ("ccas-budget-overrun", "warning"),
        ("ccas-cost", "error"),
    ]
    assert {d.check for d in PROFILE.deviations} <= set(names())


# --- against the reference implementation and its as-built twin ------------------------------


def test_reference_refuses_unknown_mutants() -> None:
    with pytest.raises(ValueError, match="unknown mutant"):
        create_app(["nope"])
    assert set(PROFILE.mutants) == set(MUTANTS)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_profile(pytester, CCAS, *args)


def test_as_built_deployment_fails_strict_and_passes_as_built(pytester: pytest.Pytester) -> None:
    """A deployment that answers any model and empty messages (as the real one does) fails the
    strict run with the deviation named, and passes --ccas-as-built with warnings."""
    app = create_app(["unknown-model-accepted", "empty-messages-accepted"])
    with EmbeddedServer(app=app) as server:
        args = ("--ccas-base-url", server.url, "--ccas-features", "chat", "-k", "invalid_request")
        strict = _run(pytester, *args)
        strict.assert_outcomes(failed=2, deselected=34)
        strict.stdout.fnmatch_lines(
            [
                "*[[]ccas-unknown-model-accepted[]] /model: model 'gpt-4o'"
                "*known as-built shape: --ccas-as-built*"
            ]
        )
        built = _run(pytester, *args, "--ccas-as-built", "true")
        built.assert_outcomes(passed=2, deselected=34, warnings=2)
        built.stdout.fnmatch_lines(["*ccas-empty-messages-accepted, warning*"])


def test_deployment_run_skips_what_needs_the_seeded_state(pytester: pytest.Pytester) -> None:
    with EmbeddedServer(app=create_app()) as server:
        result = _run(pytester, "--ccas-base-url", server.url, "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] >= 15 and result.ret == 0
    result.stdout.fnmatch_lines(
        ["*needs a project whose budget is used up (or give --ccas-exhausted-project)*"]
    )
    with EmbeddedServer(app=create_app()) as server:
        given = _run(
            pytester,
            "--ccas-base-url",
            server.url,
            "--ccas-exhausted-project",
            "budget-exhausted",
            "-k",
            "exhausted or 429",
        )
    given.assert_outcomes(passed=2, deselected=34)


# --- the mutation score of the profile -------------------------------------------------------

#: The toggle whose tests catch each mutant (so a run stays short): by the mutant's name.
_TOGGLE = {
    "cost": "chat",
    "usage-total": "chat",
    "model": "chat",
    "unknown": "chat",
    "empty": "chat",
    "budget": "chat",
    "error": "chat",
    "batch": "batch",
    "period": "usage",
    "remaining": "usage",
    "usage-sum": "usage",
    "route": "route",
    "root": "info",
    "health": "info",
}


def _toggle(mutant: str) -> str:
    return next(t for prefix, t in _TOGGLE.items() if mutant.startswith(prefix))


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_profile_kills_the_mutant(pytester: pytest.Pytester, mutant: str) -> None:
    result = _run(pytester, "--ccas-mutant", mutant, "--ccas-features", _toggle(mutant), "-x")
    assert result.parseoutcomes().get("failed") == 1, f"mutant {mutant} SURVIVED"


def test_faithful_reference_passes_the_profile(pytester: pytest.Pytester) -> None:
    _run(pytester).assert_outcomes(passed=36)


def test_profile_client_records_the_exchange() -> None:
    seen: list[Exchange] = []
    target = profiles.ProfileTarget(PROFILE, PROFILE.settings_model(), "reference", None)
    with target.started() as running, ProfileClient(running, on_exchange=seen.append) as client:
        body = client.expect(client.get("/v1/usage", project_id="history", period="week"))
    assert body["period"] == "week" and seen[0].path == "/v1/usage?project_id=history&period=week"
