"""The official ``anthropic`` SDK must parse every answer of the reference server.

SDK 2.x sends ``Authorization: Bearer`` and ``anthropic-version: 2026-10-21``; one test overrides
the version to 2023-06-01 to prove the older shapes parse too. Raw answers are also checked
against the project's JSON Schemas.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from sdk_support import assert_schema_valid

from conformance import catalog
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer

MODEL = catalog.DEFAULT_MODEL
TOOL: Any = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}
MESSAGES: Any = [{"role": "user", "content": "Weather in Paris? Use get_weather."}]


def test_create_text(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model=MODEL,
        max_tokens=64,
        messages=[{"role": "user", "content": "Reply with exactly: Hello from the SDK"}],
    )
    assert raw.headers["request-id"].startswith("req_")
    message = raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the SDK"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens == 4  # Hello from the SDK
    assert_schema_valid(raw.http_response.json(), "message.json")


def test_create_tool_use(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=128, messages=MESSAGES, tools=[TOOL]
    )
    message = raw.parse()
    assert message.stop_reason == "tool_use"
    block = message.content[-1]
    assert block.type == "tool_use"
    assert block.name == "get_weather" and block.input == {"city": "Paris", "days": 1}
    assert_schema_valid(raw.http_response.json(), "message.json")


def test_stream_text(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=64,
        messages=[{"role": "user", "content": "Reply with exactly: streamed words arrive here"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "streamed words arrive here"
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4
    assert_schema_valid(final.to_dict(mode="json"), "message.json")


def test_stream_tool_use(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=128, messages=MESSAGES, tools=[TOOL], tool_choice={"type": "any"}
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["tool_use"]
    block = final.content[0]
    assert block.type == "tool_use" and block.input == {"city": "Paris", "days": 1}


def test_count_tokens_matches_usage(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model=MODEL, messages=MESSAGES, tools=[TOOL])
    billed = client.messages.create(model=MODEL, max_tokens=128, messages=MESSAGES, tools=[TOOL])
    assert counted.input_tokens == billed.usage.input_tokens
    assert_schema_valid(counted.to_dict(mode="json"), "count_tokens.json")


def test_models_list_all_pages_and_retrieve_alias(client: anthropic.Anthropic) -> None:
    listed = list(client.models.list(limit=2))
    assert [m.id for m in listed] == [
        m.id for m in sorted(catalog.MODELS, key=lambda m: m.created_at, reverse=True)
    ]
    assert all(m.lifecycle == "active" for m in listed)
    first_page = client.models.with_raw_response.list(limit=2).http_response.json()
    assert_schema_valid(first_page, "model_list.json")
    model = next(m for m in catalog.MODELS if m.alias != m.id)
    info = client.models.retrieve(model.alias)
    assert info.id == model.id and info.capabilities is not None
    assert_schema_valid(info.to_dict(mode="json"), "model_info.json")


def test_errors_parse_as_sdk_exceptions(
    client: anthropic.Anthropic, server: EmbeddedServer
) -> None:
    with pytest.raises(anthropic.NotFoundError) as not_found:
        client.messages.create(model="claude-nope", max_tokens=8, messages=MESSAGES)
    assert not_found.value.request_id is not None
    assert_schema_valid(not_found.value.body, "error.json")
    wrong = anthropic.Anthropic(api_key="wrong", base_url=server.url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        wrong.models.list()


def test_older_api_version(server: EmbeddedServer) -> None:
    client = anthropic.Anthropic(
        api_key=DEFAULT_API_KEY,
        base_url=server.url,
        max_retries=0,
        default_headers={"anthropic-version": "2023-06-01"},
    )
    message = client.messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, tools=[TOOL], extra_body={"temperature": 0.2}
    )
    assert message.stop_reason == "tool_use"
    with client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        assert stream.get_final_message().content
    raw = client.models.with_raw_response.retrieve(MODEL)
    assert "lifecycle" not in raw.http_response.json()
    assert_schema_valid(raw.http_response.json(), "model_info.json")


def test_prefill_continues_and_trailing_whitespace_is_rejected(client: anthropic.Anthropic) -> None:
    prompt: Any = [
        {"role": "user", "content": "Reply with exactly: one two three four"},
        {"role": "assistant", "content": "one two"},
    ]
    message = client.messages.create(model=MODEL, max_tokens=16, messages=prompt)
    assert message.content[0].type == "text" and message.content[0].text == " three four"
    with client.messages.stream(model=MODEL, max_tokens=16, messages=prompt) as stream:
        assert stream.get_final_text() == " three four"
    prompt[1]["content"] = "one two "
    with pytest.raises(anthropic.BadRequestError, match="trailing whitespace"):
        client.messages.create(model=MODEL, max_tokens=16, messages=prompt)
