"""Pass-through: a proxy hands on exactly what its upstream (our reference server) sent.

Runs only against a proxy (``--anthropic-base-url``) whose upstream is the reference server named
by ``--anthropic-upstream-url``: the suite reads that server's record of each answer and compares
content blocks, tool_use ids and inputs, thinking signatures, stop fields, usage (cache fields
and message_start's included), every SSE event in order, statuses, error types and retry-after.
Each request carries a unique ``metadata.user_id`` so its upstream answer is found even when the
proxy mints its own request-ids (count_tokens takes no metadata: there the marker rides in a
tool's ``input_schema.examples``). GET requests (models) carry no body, hence no marker: they are
found by the request-id alone, and skipped when the proxy replaces the upstream's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.api import Api
from conformance.checks import passthrough
from conformance.client import RetryPolicy
from conformance.exchange import Exchange, raise_for_findings
from conformance.settings import Settings
from conformance.suite._data import WEATHER_PROMPT, WEATHER_TOOL
from conformance.target import RunTarget, Upstream
from conformance.upstream import UpstreamJournal, UpstreamLookupError, new_marker

pytestmark = pytest.mark.feature("messages")

THINKING = {"type": "enabled", "budget_tokens": 1024}
FORCE_WEATHER = {"type": "tool", "name": WEATHER_TOOL["name"]}


@pytest.fixture(autouse=True)
def _needs_upstream(conformance_settings: Settings, conformance_target: RunTarget) -> None:
    """Skip before any other fixture (a cassette, a client) is set up when there is no upstream."""
    if not conformance_settings.upstream_url:
        pytest.skip("pass-through checks need the proxy's upstream: run the reference server "
                    "(anthropic-conformance serve) behind the proxy and set "
                    "--anthropic-upstream-url (ANTHROPIC_CONFORMANCE_UPSTREAM_URL) to it")
    if conformance_target.upstream is None:
        pytest.skip("pass-through checks need a proxy to test: set --anthropic-base-url to it "
                    f"(this run is against the {conformance_target.describe()})")


@pytest.fixture
def upstream_server(conformance_target: RunTarget) -> Upstream:
    """The reference server the proxy forwards to (``_needs_upstream`` skipped without one)."""
    assert conformance_target.upstream is not None
    return conformance_target.upstream


@pytest.fixture
def upstream(upstream_server: Upstream,
             conformance_settings: Settings) -> Iterator[UpstreamJournal]:
    """The upstream reference server's record of its answers."""
    journal = UpstreamJournal(upstream_server.url, upstream_server.key,
                              timeout=conformance_settings.timeout)
    try:
        yield journal
    finally:
        journal.close()


def _faithful(upstream: UpstreamJournal, exchange: Exchange, marker: str) -> Exchange:
    """Fail with every difference between the proxy's answer and the upstream's."""
    sent = upstream.answer_for(exchange, marker)
    raise_for_findings(passthrough.compare(exchange, sent),
                       f"{exchange.describe()} compared with upstream {sent.describe()}")
    return sent


def _create(api: Api, upstream: UpstreamJournal, prompt: str | None = None,
            **body: Any) -> Exchange:
    marker = new_marker()
    ex = api.create_message(prompt, metadata={"user_id": marker}, **body)
    _faithful(upstream, ex, marker)
    return ex


def test_json_text(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(api, upstream, "Reply with exactly: passed through")
    api.expect(ex)


@pytest.mark.feature("streaming")
def test_streaming_text(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(api, upstream, "Reply with exactly: one two three four five six seven",
                 stream=True)
    api.expect(ex)


@pytest.mark.feature("tools")
def test_tool_use(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(api, upstream, WEATHER_PROMPT, max_tokens=128, tools=[WEATHER_TOOL],
                 tool_choice=FORCE_WEATHER)
    assert api.expect(ex)["stop_reason"] == "tool_use"


@pytest.mark.feature("tools", "streaming")
def test_streaming_tool_use(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(api, upstream, WEATHER_PROMPT, max_tokens=128, tools=[WEATHER_TOOL],
                 tool_choice=FORCE_WEATHER, stream=True)
    assert api.expect(ex)["stop_reason"] == "tool_use"


def test_thinking(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(api, upstream, "Reply with exactly: thought through", max_tokens=2048,
                 thinking=THINKING)
    assert [b["type"] for b in api.expect(ex)["content"]][:1] == ["thinking"]


@pytest.mark.feature("streaming")
def test_streaming_thinking(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(api, upstream, "Reply with exactly: thought through", max_tokens=2048,
                 thinking=THINKING, stream=True)
    deltas = {e.json["delta"]["type"] for e in ex.events or [] if e.type == "content_block_delta"}
    assert {"thinking_delta", "signature_delta"} <= deltas, deltas
    api.expect(ex)


@pytest.mark.parametrize(("body", "status"), [
    pytest.param({"messages": [{"role": "user", "content": "hi"}]}, 400, id="missing-max_tokens"),
    pytest.param({"max_tokens": 8, "messages": [{"role": "user", "content": "hi"}],
                  "model": "claude-does-not-exist"}, 404, id="unknown-model"),
])
def test_error(api: Api, upstream: UpstreamJournal, body: dict[str, Any], status: int) -> None:
    marker = new_marker()
    ex = api.call("messages.create", {"model": api.model, **body,
                                      "metadata": {"user_id": marker}})
    _faithful(upstream, ex, marker)
    api.expect_error(ex, status)


def test_rate_limit(api: Api, upstream: UpstreamJournal, upstream_server: Upstream) -> None:
    """A 429 (forced at the upstream, which only the reference server does) keeps retry-after."""
    api.client.retry = RetryPolicy(max_retries=0)  # the 429 itself is what is checked
    marker = new_marker()
    forced = upstream_server.force_status_headers(429)
    ex = api.call("messages.create", api.message_body("hi", metadata={"user_id": marker}),
                  headers=forced)
    if upstream.answer_for(ex, marker).status != 429:
        pytest.skip(f"the proxy does not forward the {', '.join(forced)} header, so no 429 "
                    "can be provoked at the upstream; nothing to compare")
    _faithful(upstream, ex, marker)
    api.expect_error(ex, 429)


# --- other families: count_tokens, models, a models error ----------------------------------------


def _marker_tool(marker: str) -> dict[str, Any]:
    """A tool that only carries ``marker``: count_tokens rejects ``metadata``, and the upstream
    reads the marker from any ``"user_id": "…"`` pair in the body (here a schema example)."""
    return {"name": "conformance_marker", "description": "Never called: a request marker.",
            "input_schema": {"type": "object", "properties": {"user_id": {"type": "string"}},
                             "examples": [{"user_id": marker}]}}


def _faithful_by_request_id(upstream: UpstreamJournal, exchange: Exchange) -> Exchange:
    """``_faithful`` for a bodiless request: found by request-id only, else skipped."""
    try:
        sent = upstream.answer_for(exchange)
    except UpstreamLookupError:
        pytest.skip(f"{exchange.method} {exchange.path} carries no body to mark, and the "
                    f"proxy's request-id {exchange.request_id!r} is not one the upstream sent "
                    "(the proxy mints its own request-ids, or did not forward the request): its "
                    "upstream answer cannot be found, so there is nothing to compare")
    raise_for_findings(passthrough.compare(exchange, sent),
                       f"{exchange.describe()} compared with upstream {sent.describe()}")
    return sent


@pytest.mark.feature("count_tokens")
def test_token_count(api: Api, upstream: UpstreamJournal) -> None:
    marker = new_marker()
    body = api.message_body("Reply with exactly: counted through", tools=[_marker_tool(marker)])
    body.pop("max_tokens")
    ex = api.call("messages.count_tokens", body)
    sent = _faithful(upstream, ex, marker)
    assert api.expect(ex)["input_tokens"] == sent.json["input_tokens"]


@pytest.mark.feature("models")
def test_model_list(api: Api, upstream: UpstreamJournal) -> None:
    ex = api.call("models.list", params={"limit": 3})
    _faithful_by_request_id(upstream, ex)
    assert api.expect(ex)["data"]


@pytest.mark.feature("models")
def test_model_retrieve(api: Api, upstream: UpstreamJournal) -> None:
    ex = api.call("models.retrieve", model_id=api.model)
    _faithful_by_request_id(upstream, ex)
    assert api.expect(ex)["type"] == "model"


@pytest.mark.feature("models")
def test_model_not_found(api: Api, upstream: UpstreamJournal) -> None:
    """An error of another family: status and error envelope passed through."""
    ex = api.call("models.retrieve", model_id="claude-does-not-exist")
    _faithful_by_request_id(upstream, ex)
    api.expect_error(ex, 404)
