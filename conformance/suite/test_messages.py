"""POST /v1/messages, JSON answers: the parameters a client relies on and the stop reasons."""

from __future__ import annotations

import json

import pytest

from conformance.api import Api
from conformance.suite._data import assert_said, input_tokens, text_of

pytestmark = pytest.mark.feature("messages")


def test_basic_message(api: Api) -> None:
    ex = api.create_message("Reply with exactly: hello")
    message = api.expect(ex)
    assert message["role"] == "assistant" and message["type"] == "message"
    assert_said(message, "hello")
    assert message["stop_reason"] == "end_turn"


def test_system_prompt_string_and_blocks(api: Api) -> None:
    # Every part of a request is billed: a system prompt that reached the model adds input
    # tokens, so one dropped on the way shows in usage, whatever the answer says.
    bare = input_tokens(api.expect(api.create_message("Reply with exactly: ok")))
    for system in ("You are terse.", [{"type": "text", "text": "You are terse."}]):
        message = api.expect(api.create_message("Reply with exactly: ok", system=system))
        assert_said(message, "ok")
        assert input_tokens(message) > bare, (
            f"with system prompt {system!r} the request was billed {input_tokens(message)} "
            f"input tokens, without it {bare}: the system prompt did not reach the model"
        )


def test_multi_turn(api: Api) -> None:
    last = {"role": "user", "content": "Reply with exactly: kestrel"}
    messages = [
        {"role": "user", "content": "Remember the word: kestrel."},
        {"role": "assistant", "content": "Noted."},
        last,
    ]
    message = api.expect(api.create_message(messages=messages))
    assert_said(message, "kestrel")
    alone = input_tokens(api.expect(api.create_message(messages=[last])))
    assert input_tokens(message) > alone, (
        f"three turns were billed {input_tokens(message)} input tokens, the last turn alone "
        f"{alone}: the earlier turns did not reach the model"
    )


def test_prefill_is_continued(api: Api) -> None:
    # A final assistant message is a prefill: the answer continues it and does not repeat it.
    messages = [
        {"role": "user", "content": 'Reply with exactly: {"ok": true}'},
        {"role": "assistant", "content": "{"},
    ]
    message = api.expect(api.create_message(messages=messages, max_tokens=20))
    text = text_of(message)
    assert not text.lstrip().startswith("{"), f"the prefill was repeated: {text!r}"
    assert json.loads("{" + text) == {"ok": True}, f"prefill + answer is not the JSON: {text!r}"


def test_stop_sequence(api: Api) -> None:
    ex = api.create_message(
        "Reply with exactly: one two three four five", max_tokens=20, stop_sequences=["four"]
    )
    message = api.expect(ex)
    assert message["stop_reason"] == "stop_sequence", message["stop_reason"]
    assert message["stop_sequence"] == "four"
    assert "four" not in text_of(message)


def test_max_tokens_cut_off(api: Api) -> None:
    ex = api.create_message(
        "Reply with exactly: alpha beta gamma delta epsilon zeta eta theta iota kappa", max_tokens=3
    )
    message = api.expect(ex)
    assert message["stop_reason"] == "max_tokens"
    assert 0 < message["usage"]["output_tokens"] <= 3


@pytest.mark.api_versions("2023-06-01")
def test_sampling_parameters_and_metadata_accepted(api: Api) -> None:
    ex = api.create_message(
        "Reply with exactly: ok",
        temperature=0.0,
        top_p=0.9,
        top_k=5,
        metadata={"user_id": "conformance-suite"},
    )
    api.expect(ex)


@pytest.mark.api_versions("2026-10-21")
def test_metadata_accepted(api: Api) -> None:
    api.expect(
        api.create_message("Reply with exactly: ok", metadata={"user_id": "conformance-suite"})
    )
