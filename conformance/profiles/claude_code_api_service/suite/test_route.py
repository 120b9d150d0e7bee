"""POST /v1/route: the document's five routing rules, in order, and their boundaries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.claude_code_api_service import spec

from .conftest import seeded_only

pytestmark = pytest.mark.conformance_profile("claude-code-api-service", "route")

COMPLEX = "Please analyze the trade-offs of this caching design"
PLAIN = "Tell me about the history of this small town in a few sentences"


def _sized(n: int) -> str:
    """A simple prompt (keyword "list") of exactly ``n`` characters."""
    text = "list the files "
    return (text + "x" * n)[:n]


@dataclass(frozen=True)
class Case:
    prompt: str
    context: int
    project: str | None  # None: the test's own project (plenty of budget)
    model: str
    rule: int


CASES = {
    "budget-999-left-forces-haiku": Case(COMPLEX, 100, "budget-999", "haiku", 1),
    "budget-1000-left-is-not-low": Case(COMPLEX, 100, "budget-1000", "sonnet", 4),
    "low-budget-before-large-context": Case(PLAIN, 20_000, "budget-999", "haiku", 1),
    "context-10001-requires-opus": Case(PLAIN, 10_001, None, "opus", 2),
    "context-10000-is-not-large": Case(PLAIN, 10_000, None, "sonnet", 5),
    "large-context-before-simple-prompt": Case(_sized(40), 20_000, None, "opus", 2),
    "simple-99-chars-is-haiku": Case(_sized(99), 100, None, "haiku", 3),
    "simple-100-chars-is-not-short": Case(_sized(100), 100, None, "sonnet", 5),
    "simple-before-complex": Case("list and analyze the options", 100, None, "haiku", 3),
    "complex-is-sonnet": Case(COMPLEX, 100, None, "sonnet", 4),
    "default-is-sonnet": Case(PLAIN, 100, None, "sonnet", 5),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_route_rule(ccas: ProfileClient, project: str, case: Case) -> None:
    if case.project is not None:
        seeded_only(ccas, f"project {case.project} with its seeded budget")
    assert (
        spec.route(case.prompt, case.context, 999 if case.project == "budget-999" else None).rule
        == case.rule
    )  # the case tests the rule it names
    body = ccas.expect(
        ccas.post(
            "/v1/route",
            {
                "prompt": case.prompt,
                "context_size": case.context,
                "project_id": case.project or project,
            },
        )
    )
    assert body["recommended_model"] == case.model


def test_route_low_budget_on_exhausted_project(ccas: ProfileClient, exhausted_project: str) -> None:
    body = ccas.expect(
        ccas.post(
            "/v1/route", {"prompt": COMPLEX, "context_size": 100, "project_id": exhausted_project}
        )
    )
    assert body["recommended_model"] == "haiku"
