"""POST /v1/chat/completions: priced answers, model selection, usage tracking, budgets."""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.claude_code_api_service import checks, spec
from conformance.profiles.claude_code_api_service.reference import FAIL_MARKER

from .conftest import seeded_only, usage_of

pytestmark = pytest.mark.conformance_profile("claude-code-api-service", "chat")


def _chat(prompt: str, **extra: object) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": prompt}], **extra}


@pytest.mark.parametrize("model", spec.MODELS)
def test_chat_with_model(ccas: ProfileClient, project: str, model: str) -> None:
    body = ccas.expect(
        ccas.post(
            "/v1/chat/completions",
            _chat("Reply with one word: ok", model=model, project_id=project),
        )
    )
    assert body["model"] == model and body["project_id"] == project


def test_chat_default_project(ccas: ProfileClient) -> None:
    body = ccas.expect(ccas.post("/v1/chat/completions", _chat("Reply: ok", model="haiku")))
    assert body["project_id"] == spec.DEFAULT_PROJECT


def test_chat_auto_selects_like_route(ccas: ProfileClient, project: str) -> None:
    """Without a model the service picks the one /v1/route recommends."""
    prompt = "list three colours"
    routed = ccas.expect(
        ccas.post("/v1/route", {"prompt": prompt, "context_size": 100, "project_id": project})
    )
    body = ccas.expect(
        ccas.post("/v1/chat/completions", _chat(prompt, project_id=project, max_tokens=100))
    )
    assert body["model"] == routed["recommended_model"]


def test_chat_counts_in_usage(ccas: ProfileClient, project: str) -> None:
    before = usage_of(ccas, project)
    body = ccas.expect(
        ccas.post("/v1/chat/completions", _chat("Reply: ok", model="sonnet", project_id=project))
    )
    after = usage_of(ccas, project)
    assert after["total_tokens"] - before["total_tokens"] == body["usage"]["total_tokens"]
    assert spec.cost_matches(after["total_cost"] - before["total_cost"], body["cost"])


def test_budget_exceeded_is_429_before_any_work(
    ccas: ProfileClient, exhausted_project: str
) -> None:
    before = usage_of(ccas, exhausted_project)
    answer = ccas.post(
        "/v1/chat/completions", _chat("Reply: ok", model="haiku", project_id=exhausted_project)
    )
    ccas.expect(answer, status=429)
    after = usage_of(ccas, exhausted_project)
    ccas.require(checks.budget_untouched(before, after), "usage after the 429")


def test_budget_that_would_be_exceeded(ccas: ProfileClient) -> None:
    """30 tokens left, a call that costs more: refused, or at least never ends above the limit."""
    seeded_only(ccas, "a project with 30 tokens of budget left")
    prompt = "Summarise in one sentence why a budget check must happen before the call runs"
    answer = ccas.post("/v1/chat/completions", _chat(prompt, project_id="budget-tight"))
    ccas.expect(answer, status=answer.status if answer.status in (200, 429) else 429)
    usage_of(ccas, "budget-tight")  # ccas-budget-overrun: remaining must not go below 0


def test_missing_messages_rejected(ccas: ProfileClient) -> None:
    answer = ccas.post("/v1/chat/completions", {"model": "haiku"})
    ccas.expect(answer, status=answer.status if answer.status in (400, 422) else 400)


@pytest.mark.parametrize(
    "body",
    [_chat("Reply: ok", model="gpt-4o"), {"messages": [], "model": "haiku"}],
    ids=["unknown-model", "empty-messages"],
)
def test_invalid_request_refused(
    ccas: ProfileClient, project: str, body: dict[str, object]
) -> None:
    """Refused with 400/422; a 200 is a known deviation (--ccas-as-built makes it a warning)."""
    answer = ccas.post("/v1/chat/completions", {**body, "project_id": project})
    if answer.status == 200:
        ccas.require(ccas.raw_findings(answer), answer.describe())
        return
    ccas.expect(answer, status=answer.status if answer.status in (400, 422) else 400)


def test_task_failure_is_500(ccas: ProfileClient, project: str) -> None:
    seeded_only(ccas, "a prompt that fails (the reference implementation's test trigger)")
    answer = ccas.post(
        "/v1/chat/completions", _chat(f"{FAIL_MARKER} please", model="haiku", project_id=project)
    )
    body = ccas.expect(answer, status=500)
    assert str(body["detail"]).startswith("Task failed")
