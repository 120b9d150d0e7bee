"""POST /v1/messages/count_tokens, and its drift against what the same request is billed."""

from __future__ import annotations

import logging

import pytest

from conformance.api import Api
from conformance.checks.count_tokens import TOLERANCE
from conformance.suite._data import WEATHER_TOOL

pytestmark = pytest.mark.feature("count_tokens")
log = logging.getLogger("conformance.suite")


def _counted(api: Api, **body: object) -> int:
    request = api.message_body("Reply with exactly: counting tokens", **body)
    request.pop("max_tokens")
    counted = api.expect(api.call("messages.count_tokens", request))
    assert counted["input_tokens"] > 0
    return int(counted["input_tokens"])


def test_count_tokens(api: Api) -> None:
    plain = _counted(api)
    with_system = _counted(api, system="You are a careful assistant who counts tokens.")
    with_tools = _counted(api, tools=[WEATHER_TOOL])
    with_turns = _counted(
        api,
        messages=[
            {"role": "user", "content": "Remember the word: kestrel."},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "Reply with exactly: counting tokens"},
        ],
    )
    assert with_system > plain, "a system prompt adds tokens"
    assert with_tools > plain, "a tool definition adds tokens"
    assert with_turns > plain, "earlier turns add tokens"


def test_count_tokens_matches_billed_input(api: Api) -> None:
    counted = _counted(api, tools=[WEATHER_TOOL])
    billed = api.expect(
        api.create_message(
            "Reply with exactly: counting tokens", max_tokens=8, tools=[WEATHER_TOOL]
        )
    )["usage"]["input_tokens"]
    drift = billed - counted
    log.info("count_tokens drift: counted %d, billed %d (%+d)", counted, billed, drift)
    allowed = TOLERANCE.allowed(billed)  # count_tokens is an estimate
    assert abs(drift) <= allowed, (
        f"count_tokens said {counted} input tokens, the same request was billed {billed} "
        f"(drift {drift:+d}, allowed ±{allowed:.0f})"
    )


@pytest.mark.feature("streaming")
def test_count_tokens_matches_streamed_input(api: Api) -> None:
    """The input_tokens a stream bills (message_start) agree with count_tokens of the same
    request, within the estimate's tolerance."""
    counted = _counted(api, tools=[WEATHER_TOOL])
    ex = api.create_message(
        "Reply with exactly: counting tokens", max_tokens=8, tools=[WEATHER_TOOL], stream=True
    )
    api.expect(ex)
    billed = int((ex.events or [])[0].json["message"]["usage"]["input_tokens"])
    allowed = TOLERANCE.allowed(billed)  # count_tokens is an estimate
    assert abs(billed - counted) <= allowed, (
        f"count_tokens said {counted} input tokens, the same request streamed was billed "
        f"{billed} (allowed ±{allowed:.0f})"
    )


@pytest.mark.feature("errors")
def test_count_tokens_unknown_model(api: Api) -> None:
    request = {"model": "claude-does-not-exist", "messages": [{"role": "user", "content": "hello"}]}
    api.expect_error(api.call("messages.count_tokens", request), 404)
