"""Request fields of today: ``service_tier`` (requested, and reported in usage),
``metadata.user_id``, ``context_management`` (beta: clearing old tool results; count_tokens
reports ``original_input_tokens``) and what ``anthropic-version: 2026-10-21`` refuses
(api-contract.md §0).

All cheap: tiny answers, count_tokens (free) and refusals (400) before generation.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import catalog
from conformance.api import Api
from conformance.suite._data import WEATHER_TOOL

pytestmark = pytest.mark.feature("request_fields")

CONTEXT_BETA = {
    "anthropic-beta": ",".join(catalog.betas_for(["context_management"], catalog.VERSION_2026))
}
#: Clear every tool result but the last once the input reaches 50 tokens.
CLEAR_OLD_TOOL_USES = {
    "edits": [
        {
            "type": "clear_tool_uses_20250919",
            "trigger": {"type": "input_tokens", "value": 50},
            "keep": {"type": "tool_uses", "value": 1},
        }
    ]
}
SERVICE_TIERS = ("standard", "priority", "batch")


@pytest.mark.parametrize("tier", ["auto", "standard_only"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_service_tier_reported_in_usage(api: Api, tier: str, stream: bool) -> None:
    ex = api.create_message(
        "Reply with exactly: ok", max_tokens=8, service_tier=tier, stream=stream
    )
    message = api.expect(ex)
    reported = message["usage"].get("service_tier")
    assert reported in SERVICE_TIERS, f"usage.service_tier is {reported!r}: {message['usage']}"
    if tier == "standard_only":
        assert reported == "standard", f"standard_only was asked, {reported!r} reported"


@pytest.mark.feature("errors")
@pytest.mark.parametrize(
    "body",
    [{"service_tier": "priority"}, {"metadata": {"user_id": 42}}],
    ids=["unknown-tier", "user-id-not-a-string"],
)
def test_bad_request_field_rejected(api: Api, body: dict[str, Any]) -> None:
    body_ = api.expect_error(
        api.create_message("Reply with exactly: ok", max_tokens=8, **body), 400
    )
    assert next(iter(body)) in body_["error"]["message"], body_


def _tool_history(turns: int = 3) -> list[dict[str, Any]]:
    """A conversation of ``turns`` finished get_weather calls, then a question."""
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        tool_id = f"toolu_01ConformanceHistory{i}"
        messages += [
            {"role": "user", "content": f"What is the weather in city number {i}?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "get_weather",
                        "input": {"location": f"City {i}"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": f"City {i}: sunny, 2{i} degrees, light "
                        "wind from the west, no rain expected.",
                    }
                ],
            },
            {"role": "assistant", "content": f"It is sunny in City {i}."},
        ]
    messages.append({"role": "user", "content": "Reply with exactly: thanks"})
    return messages


@pytest.mark.feature("count_tokens")
def test_count_tokens_reports_original_input_tokens(api: Api) -> None:
    body = {
        "model": api.model,
        "messages": _tool_history(),
        "tools": [WEATHER_TOOL],
        "context_management": CLEAR_OLD_TOOL_USES,
    }
    counted = api.expect(api.call("messages.count_tokens", body, headers=CONTEXT_BETA))
    original = (counted.get("context_management") or {}).get("original_input_tokens")
    assert isinstance(original, int), f"no context_management.original_input_tokens: {counted}"
    assert original >= counted["input_tokens"] > 0, counted


def test_context_management_reports_applied_edits(api: Api) -> None:
    body = api.message_body(
        messages=_tool_history(),
        tools=[WEATHER_TOOL],
        max_tokens=16,
        context_management=CLEAR_OLD_TOOL_USES,
    )
    message = api.expect(api.call("messages.create", body, headers=CONTEXT_BETA))
    edits = (message.get("context_management") or {}).get("applied_edits")
    assert isinstance(edits, list), f"no context_management.applied_edits: {message}"
    for edit in edits:
        assert edit["type"] == "clear_tool_uses_20250919", edit
        assert edit["cleared_tool_uses"] >= 1 and edit["cleared_input_tokens"] >= 0, edit


# --- what anthropic-version 2026-10-21 refuses ----------------------------------------------------


@pytest.mark.feature("errors")
@pytest.mark.api_versions("2026-10-21")
@pytest.mark.parametrize("name", sorted(catalog.REMOVED_PARAMETERS[catalog.VERSION_2026]))
def test_removed_sampling_parameter_rejected(api: Api, name: str) -> None:
    value = 5 if name == "top_k" else 0.5
    body = api.expect_error(
        api.create_message("Reply with exactly: ok", max_tokens=8, **{name: value}), 400
    )
    assert name in body["error"]["message"], body


@pytest.mark.feature("errors")
@pytest.mark.api_versions("2026-10-21")
def test_document_in_assistant_message_rejected(api: Api) -> None:
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "A note."},
    }
    api.expect_error(
        api.create_message(
            max_tokens=8,
            messages=[
                {"role": "user", "content": "Read this."},
                {"role": "assistant", "content": [document]},
                {"role": "user", "content": "Reply with exactly: ok"},
            ],
        ),
        400,
    )


@pytest.mark.feature("errors")
@pytest.mark.api_versions("2026-10-21")
def test_citations_in_user_text_rejected(api: Api) -> None:
    citation = {
        "type": "char_location",
        "cited_text": "A",
        "document_index": 0,
        "document_title": None,
        "start_char_index": 0,
        "end_char_index": 1,
    }
    api.expect_error(
        api.create_message(
            max_tokens=8,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Reply with exactly: ok", "citations": [citation]}
                    ],
                }
            ],
        ),
        400,
    )
