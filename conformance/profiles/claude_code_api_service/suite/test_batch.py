"""POST /v1/batch: aggregate counts and sums, per-prompt results, partial failures."""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.claude_code_api_service.reference import FAIL_MARKER

from .conftest import seeded_only

pytestmark = pytest.mark.conformance_profile("claude-code-api-service", "batch")


def test_batch_totals(ccas: ProfileClient, project: str) -> None:
    body = ccas.expect(
        ccas.post(
            "/v1/batch",
            {
                "prompts": [
                    {"prompt": "Reply: one", "id": "task1"},
                    {"prompt": "Reply: two", "id": "task2"},
                ],
                "model": "sonnet",
                "project_id": project,
            },
        )
    )
    assert body["total"] == 2 and body["completed"] == 2


def test_batch_auto_model(ccas: ProfileClient, project: str) -> None:
    body = ccas.expect(
        ccas.post(
            "/v1/batch",
            {
                "prompts": [
                    {"prompt": "count to three", "id": "a"},
                    {"prompt": "analyze this short sentence", "id": "b"},
                    {"prompt": "Reply: ok", "id": "c"},
                ],
                "project_id": project,
            },
        )
    )
    assert [r["id"] for r in body["results"]] == ["a", "b", "c"]


def test_batch_partial_failure_is_200(ccas: ProfileClient, project: str) -> None:
    seeded_only(ccas, "a prompt that fails (the reference implementation's test trigger)")
    body = ccas.expect(
        ccas.post(
            "/v1/batch",
            {
                "prompts": [
                    {"prompt": "Reply: fine", "id": "ok"},
                    {"prompt": f"{FAIL_MARKER} now", "id": "bad"},
                ],
                "model": "haiku",
                "project_id": project,
            },
        )
    )
    assert (body["completed"], body["failed"]) == (1, 1)
    assert body["results"][1]["status"] == "failed"
