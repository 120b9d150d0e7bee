"""``validate_exchange``: which schema and which checks run for an answer, and what comes back."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conformance import catalog, schemas
from conformance.exchange import Exchange, Finding
from conformance.validation import Validation, validate_exchange
from tests.test_checks import (
    GOOD_EVENTS,
    GOOD_MESSAGE,
    JSON_HEADERS,
    REAL_STREAM,
    REQUEST,
    answer,
    error,
    message_with,
    models_page,
    page,
    stream,
)

MODEL = {
    "type": "model",
    "id": "claude-haiku-4-5-20251001",
    "display_name": "Claude Haiku 4.5",
    "created_at": "2025-10-15T00:00:00Z",
}


@pytest.mark.parametrize(
    "exchange",
    [
        pytest.param(answer(GOOD_MESSAGE), id="message"),
        pytest.param(stream(GOOD_EVENTS), id="stream"),
        pytest.param(stream([], raw=REAL_STREAM.encode()), id="real-stream"),
        pytest.param(answer({"input_tokens": 12}, path="/v1/messages/count_tokens"), id="count"),
        pytest.param(models_page(page([MODEL["id"]])), id="models-list"),
        pytest.param(
            answer(MODEL, method="GET", path="/v1/models/claude-haiku-4-5", request={}),
            id="models-retrieve",
        ),
        pytest.param(answer(error(404, "not_found_error"), status=404), id="error"),
    ],
)
def test_good_answers_validate(exchange: Exchange) -> None:
    result = validate_exchange(exchange)
    assert result.ok, "\n".join(f.format() for f in result.findings)
    assert result.unknown == []


def _checks(result: Validation) -> set[str]:
    return {f.check for f in result.findings}


def test_schema_and_semantic_findings_both_come_back() -> None:
    bad = message_with(role="user", id="chatcmpl-1")
    result = validate_exchange(answer(bad))
    assert not result.ok
    assert "schema:message.json" in _checks(result)
    assert any(f.pointer == "/role" for f in result.findings)
    assert any(f.check == "id-prefix" and f.pointer == "/id" for f in result.findings)


def test_unknown_fields_are_drift_not_findings() -> None:
    result = validate_exchange(answer(message_with(brand_new_field=1)))
    assert result.ok
    assert result.unknown == ["/brand_new_field"]


def test_error_answers_use_the_error_schema_whatever_the_endpoint() -> None:
    broken = {"type": "error", "error": {"type": "not_found_error"}}
    result = validate_exchange(answer(broken, status=404, path="/v1/models/x", method="GET"))
    assert "schema:error.json" in _checks(result)
    assert any(
        f.check == "error-envelope" and f.pointer == "/error/message" for f in result.findings
    )
    assert not any(f.check.startswith("schema:model") for f in result.findings)


def test_unknown_endpoint_gets_common_checks_and_no_body_schema() -> None:
    ex = answer(
        {"anything": True},
        method="GET",
        path="/v1/not_in_catalog",
        headers={"content-type": "application/json"},
    )
    result = validate_exchange(ex)
    assert _checks(result) == {"request-id"}
    err = validate_exchange(answer({"oops": 1}, status=400, path="/v1/not_in_catalog"))
    assert "schema:error.json" in _checks(err)
    assert "error-envelope" in _checks(err)


def test_stream_events_are_validated_one_by_one() -> None:
    events = copy.deepcopy(GOOD_EVENTS)
    del events[1][1]["content_block"]
    result = validate_exchange(stream(events))
    # The event dispatches to its own schema file, which the finding names.
    schema_hits = [f for f in result.findings if f.check == "schema:content_block_start.json"]
    assert schema_hits and all(f.pointer.startswith("/events/1") for f in schema_hits)


def test_unknown_event_types_are_drift() -> None:
    events = [*GOOD_EVENTS[:3], ("future_event", {"type": "future_event"}), *GOOD_EVENTS[3:]]
    result = validate_exchange(stream(events))
    assert result.ok, [f.format() for f in result.findings]
    assert result.unknown == ["/events/3/type=future_event"]


def test_stream_runs_the_message_checks() -> None:
    events = copy.deepcopy(GOOD_EVENTS)
    events[9], events[10] = events[10], events[9]
    assert "sse-grammar" in _checks(validate_exchange(stream(events)))


def test_request_argument_overrides_the_recorded_request() -> None:
    ex = answer(GOOD_MESSAGE)  # output_tokens 30, recorded max_tokens 256
    assert validate_exchange(ex).ok
    result = validate_exchange(ex, request={**REQUEST, "max_tokens": 10})
    assert [f.check for f in result.findings] == ["max-tokens"]
    assert ex.request_json == REQUEST  # the caller's exchange is untouched


def test_body_that_is_not_json_is_a_finding() -> None:
    result = validate_exchange(answer(b"not json at all"))
    assert "json-body" in _checks(result)


def test_schema_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which schema each part of an answer goes to, with the pointer prefix it gets."""
    calls: list[tuple[str, str]] = []

    def spy(
        instance: Any, schema: str, *, request_id: str | None = None, pointer: str = ""
    ) -> list[Finding]:
        calls.append((schema, pointer))
        return []

    monkeypatch.setattr(schemas, "validate", spy)
    validate_exchange(stream(GOOD_EVENTS[:3]))  # cut short: no message to fold
    assert calls == [(catalog.STREAM_EVENT_SCHEMA, f"/events/{i}") for i in range(3)]
    calls.clear()
    validate_exchange(stream(GOOD_EVENTS))
    assert calls[-1] == ("message.json", "/accumulated")
    assert len(calls) == len(GOOD_EVENTS) + 1
    calls.clear()
    validate_exchange(models_page(page(["m"])))
    assert calls == [("model_list.json", "")]
    calls.clear()
    validate_exchange(
        answer(
            error(429, "rate_limit_error"), status=429, headers={**JSON_HEADERS, "retry-after": "1"}
        )
    )
    assert calls == [(catalog.ERROR_SCHEMA, "")]
