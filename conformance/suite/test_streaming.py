"""POST /v1/messages with ``stream: true``: SSE framing, event order and accumulation.

``api.expect`` checks the grammar, the delta types and the usage of every event and returns the
message the stream folds into.
"""

from __future__ import annotations

import pytest

from conformance.api import Api, AsyncApi
from conformance.suite._data import text_of

pytestmark = pytest.mark.feature("streaming")


def test_streaming_text(api: Api) -> None:
    ex = api.create_message("Reply with exactly: streaming works fine", stream=True)
    message = api.expect(ex)
    assert ex.content_type == "text/event-stream"
    assert ex.events and ex.events[0].type == "message_start"
    assert text_of(message).strip()
    assert message["stop_reason"] == "end_turn"


def test_streaming_max_tokens(api: Api) -> None:
    ex = api.create_message(
        "Reply with exactly: alpha beta gamma delta epsilon zeta eta theta iota kappa",
        max_tokens=3, stream=True)
    message = api.expect(ex)
    assert message["stop_reason"] == "max_tokens"
    assert 0 < message["usage"]["output_tokens"] <= 3


@pytest.mark.asyncio
async def test_streaming_async_client(async_api: AsyncApi) -> None:
    ex = await async_api.create_message("Reply with exactly: async stream", stream=True)
    message = async_api.expect(ex)
    assert text_of(message).strip()
