"""Pass-through: a proxy hands on exactly what it was sent, both ways.

Runs only against a proxy (``--anthropic-base-url``) whose upstream is the reference server named
by ``--anthropic-upstream-url``: the suite reads that server's record of each request and answer
and compares, on the way up, what the suite sent with what arrived there (``checks.fidelity``:
fields dropped or added, values changed, the model, ``anthropic-version``, betas, the query)
and, on the way back, content blocks, tool_use ids and inputs, thinking signatures, stop fields,
usage (cache fields and message_start's included), every SSE event in order, statuses, error
types, retry-after and request-id (``checks.passthrough``). Each request carries a unique
marker in ``metadata.user_id`` and a copy in its system prompt, so its upstream record is found
even when the proxy mints its own request-ids or drops ``metadata`` (count_tokens takes no
metadata: there the marker rides in a tool's ``input_schema.examples``). GET requests (models)
carry no body, hence no marker: they are found by the request-id alone, and skipped when the
proxy replaces the upstream's. A request whose record cannot be found (the proxy answered it
itself, which is allowed) cannot be judged: the test is skipped with the evidence.

Faults (429 with retry-after, 529 overloaded_error, 500 api_error, a stream that ends with an
``error`` event) are forced at the upstream by a directive in the system prompt, which every
proxy forwards (``conformance.reference.faults``; the target says whether it can).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance import catalog
from conformance.api import Api
from conformance.checks import fidelity, passthrough
from conformance.client import RetryPolicy
from conformance.exchange import Exchange, raise_for_findings
from conformance.settings import Settings
from conformance.suite._data import WEATHER_PROMPT, WEATHER_TOOL
from conformance.target import RunTarget, Upstream
from conformance.upstream import (
    UpstreamJournal,
    UpstreamLookupError,
    UpstreamUnreadable,
    marker_text,
    new_marker,
)

pytestmark = pytest.mark.feature("messages")

THINKING = {"type": "enabled", "budget_tokens": 1024}
CONTEXT_BETA = next(b.header for b in catalog.BETAS if b.feature == "context_management")
CONTEXT_MANAGEMENT = {"edits": [{"type": "clear_tool_uses_20250919"}]}
FORCE_WEATHER = {"type": "tool", "name": WEATHER_TOOL["name"]}


@pytest.fixture(autouse=True)
def _needs_upstream(conformance_settings: Settings, conformance_target: RunTarget) -> None:
    """Skip before any other fixture (a cassette, a client) is set up when there is no upstream."""
    if not conformance_settings.upstream_url:
        pytest.skip(
            "pass-through checks need the proxy's upstream: run the reference server "
            "(anthropic-conformance serve) behind the proxy and set "
            "--anthropic-upstream-url (ANTHROPIC_CONFORMANCE_UPSTREAM_URL) to it"
        )
    if conformance_target.upstream is None:
        pytest.skip(
            "pass-through checks need a proxy to test: set --anthropic-base-url to it "
            f"(this run is against the {conformance_target.describe()})"
        )


@pytest.fixture
def upstream_server(conformance_target: RunTarget) -> Upstream:
    """The reference server the proxy forwards to (``_needs_upstream`` skipped without one)."""
    assert conformance_target.upstream is not None
    return conformance_target.upstream


@pytest.fixture
def upstream(
    upstream_server: Upstream, conformance_settings: Settings
) -> Iterator[UpstreamJournal]:
    """The upstream reference server's record of its answers."""
    journal = UpstreamJournal(
        upstream_server.url, upstream_server.key, timeout=conformance_settings.timeout
    )
    try:
        yield journal
    finally:
        journal.close()


def _record(upstream: UpstreamJournal, exchange: Exchange, marker: str | None) -> Exchange:
    """The upstream's record of ``exchange``; skipped (cannot be judged) when it has none."""
    try:
        return upstream.answer_for(exchange, marker)
    except UpstreamUnreadable:
        raise  # a setting to fix (URL, key): the message names it
    except UpstreamLookupError as exc:
        pytest.skip(f"could not judge: {exc}")


def _judge(exchange: Exchange, sent: Exchange) -> None:
    """Fail with every way the request or the answer changed on its way through the proxy."""
    raise_for_findings(
        fidelity.compare(exchange, sent) + passthrough.compare(exchange, sent),
        f"{exchange.describe()} compared with upstream {sent.describe()}",
    )


def _faithful(upstream: UpstreamJournal, exchange: Exchange, marker: str | None) -> Exchange:
    """Fail with every difference between the proxy's request and answer and the upstream's."""
    sent = _record(upstream, exchange, marker)
    _judge(exchange, sent)
    return sent


def _marked(body: dict[str, Any], marker: str, *directives: str) -> dict[str, Any]:
    """``body`` carrying ``marker`` twice (metadata.user_id, and the system prompt, which a
    proxy that drops metadata still forwards), plus any fault ``directives``."""
    system = " ".join((marker_text(marker), *directives))
    return {**body, "metadata": {"user_id": marker}, "system": system}


def _create(
    api: Api, upstream: UpstreamJournal, prompt: str | None = None, **body: Any
) -> Exchange:
    marker = new_marker()
    ex = api.call("messages.create", _marked(api.message_body(prompt, **body), marker))
    _faithful(upstream, ex, marker)
    return ex


def test_json_text(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(api, upstream, "Reply with exactly: passed through")
    api.expect(ex)


@pytest.mark.feature("streaming")
def test_streaming_text(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(
        api, upstream, "Reply with exactly: one two three four five six seven", stream=True
    )
    api.expect(ex)


@pytest.mark.feature("tools")
def test_tool_use(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(
        api,
        upstream,
        WEATHER_PROMPT,
        max_tokens=128,
        tools=[WEATHER_TOOL],
        tool_choice=FORCE_WEATHER,
    )
    assert api.expect(ex)["stop_reason"] == "tool_use"


@pytest.mark.feature("tools", "streaming")
def test_streaming_tool_use(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(
        api,
        upstream,
        WEATHER_PROMPT,
        max_tokens=128,
        tools=[WEATHER_TOOL],
        tool_choice=FORCE_WEATHER,
        stream=True,
    )
    assert api.expect(ex)["stop_reason"] == "tool_use"


def test_thinking(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(
        api, upstream, "Reply with exactly: thought through", max_tokens=2048, thinking=THINKING
    )
    assert [b["type"] for b in api.expect(ex)["content"]][:1] == ["thinking"]


@pytest.mark.feature("streaming")
def test_streaming_thinking(api: Api, upstream: UpstreamJournal) -> None:
    ex = _create(
        api,
        upstream,
        "Reply with exactly: thought through",
        max_tokens=2048,
        thinking=THINKING,
        stream=True,
    )
    deltas = {e.json["delta"]["type"] for e in ex.events or [] if e.type == "content_block_delta"}
    assert {"thinking_delta", "signature_delta"} <= deltas, deltas
    api.expect(ex)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(
            {"messages": [{"role": "user", "content": "hi"}]}, 400, id="missing-max_tokens"
        ),
        pytest.param(
            {
                "max_tokens": 8,
                "messages": [{"role": "user", "content": "hi"}],
                "model": "claude-does-not-exist",
            },
            404,
            id="unknown-model",
        ),
    ],
)
def test_error(api: Api, upstream: UpstreamJournal, body: dict[str, Any], status: int) -> None:
    marker = new_marker()
    ex = api.call("messages.create", _marked({"model": api.model, **body}, marker))
    _faithful(upstream, ex, marker)
    api.expect_error(ex, status)


def test_rate_limit(api: Api, upstream: UpstreamJournal, upstream_server: Upstream) -> None:
    """A 429 (forced at the upstream, which only the reference server does) keeps retry-after."""
    api.client.retry = RetryPolicy(max_retries=0)  # the 429 itself is what is checked
    marker = new_marker()
    forced = upstream_server.force_status_headers(429)
    ex = api.call("messages.create", _marked(api.message_body("hi"), marker), headers=forced)
    if _record(upstream, ex, marker).status != 429:
        pytest.skip(
            f"the proxy does not forward the {', '.join(forced)} header, so no 429 "
            "can be provoked at the upstream; nothing to compare"
        )
    _faithful(upstream, ex, marker)
    api.expect_error(ex, 429)


# --- request fidelity: fields a translating proxy tends to lose -----------------------------------


def test_request_fields_passed_through(api: Api, upstream: UpstreamJournal) -> None:
    """metadata, service_tier and stop_sequences reach the upstream as sent (the marked
    requests above already prove model, max_tokens, messages, system, tools and thinking)."""
    ex = _create(
        api,
        upstream,
        "Reply with exactly: fields through",
        service_tier="auto",
        stop_sequences=["never-said"],
    )
    api.expect(ex)


@pytest.mark.api_versions("2023-06-01")  # temperature is gone in later versions
def test_temperature_with_thinking_passed_through(api: Api, upstream: UpstreamJournal) -> None:
    """A proxy must not drop temperature because thinking is on (1.0 is what thinking allows)."""
    ex = _create(
        api,
        upstream,
        "Reply with exactly: warm thoughts",
        max_tokens=2048,
        thinking=THINKING,
        temperature=1.0,
    )
    api.expect(ex)


@pytest.mark.feature("count_tokens")
def test_counting_keeps_context_management(api: Api, upstream: UpstreamJournal) -> None:
    """A beta-only count_tokens field and its beta both reach the upstream."""
    marker = new_marker()
    body = {
        "model": api.model,
        "tools": [_marker_tool(marker)],
        "messages": [{"role": "user", "content": "Reply with exactly: managed"}],
        "context_management": CONTEXT_MANAGEMENT,
    }
    ex = api.call("messages.count_tokens", body, headers={"anthropic-beta": CONTEXT_BETA})
    _faithful(upstream, ex, marker)
    api.expect(ex)


def test_missing_version_is_not_invented(api: Api, upstream: UpstreamJournal) -> None:
    """No anthropic-version: the API answers 400. A proxy may answer that itself (then there
    is nothing upstream to judge), but must not fill in a version of its own."""
    marker = new_marker()
    ex = api.call(
        "messages.create",
        _marked(api.message_body("hi", max_tokens=1), marker),
        headers={"anthropic-version": None},
    )
    _faithful(upstream, ex, marker)
    api.expect_error(ex, 400)


# --- faults forced at the upstream through the proxy ---------------------------------------------


@pytest.fixture
def faults(conformance_target: RunTarget, api: Api) -> RunTarget:
    """The target, when it can force faults by content; the fault itself is what is checked,
    so the client does not retry it."""
    if not conformance_target.can_force_faults:
        pytest.skip(conformance_target.why_no_faults())
    api.client.retry = RetryPolicy(max_retries=0)
    return conformance_target


@pytest.mark.parametrize(
    ("fault", "status"),
    [("429", 429), ("529", 529), ("500", 500)],
    ids=["rate-limit-429", "overloaded-529", "api-error-500"],
)
def test_forced_fault_handed_on(
    api: Api, upstream: UpstreamJournal, faults: RunTarget, fault: str, status: int
) -> None:
    """The upstream's error reaches the client as it was: status, error type, the envelope's
    request_id, retry-after (429, 529) and the request-id header."""
    marker = new_marker()
    body = _marked(
        api.message_body("Reply with exactly: faulty"), marker, faults.fault_directive(fault)
    )
    ex = api.call("messages.create", body)
    sent = _faithful(upstream, ex, marker)
    assert sent.status == status, f"the upstream answered {sent.describe()}, not the fault"
    api.expect_error(ex, status)


@pytest.mark.feature("streaming")
def test_forced_stream_error_handed_on(
    api: Api, upstream: UpstreamJournal, faults: RunTarget
) -> None:
    """A stream that fails after its first delta ends, through the proxy too, with the
    upstream's ``error`` event (an overloaded_error), not with a made-up end or a 200 lie."""
    marker = new_marker()
    body = _marked(
        api.message_body("Reply with exactly: one two three four five six seven", stream=True),
        marker,
        faults.fault_directive("stream-error"),
    )
    ex = api.call("messages.create", body)
    sent = _faithful(upstream, ex, marker)
    kinds = [e.type for e in sent.events or []]
    assert kinds[-1:] == ["error"] and "content_block_delta" in kinds, kinds
    api.expect(ex)
    last = (ex.events or [])[-1]
    assert last.json["error"]["type"] == "overloaded_error", last.data


# --- other families: count_tokens, models, a models error ----------------------------------------


def _marker_tool(marker: str) -> dict[str, Any]:
    """A tool that only carries ``marker``: count_tokens rejects ``metadata``, and the upstream
    reads the marker from any ``"user_id": "…"`` pair in the body (here a schema example)."""
    return {
        "name": "conformance_marker",
        "description": "Never called: a request marker.",
        "input_schema": {
            "type": "object",
            "properties": {"user_id": {"type": "string"}},
            "examples": [{"user_id": marker}],
        },
    }


def _faithful_by_request_id(upstream: UpstreamJournal, exchange: Exchange) -> Exchange:
    """``_faithful`` for a bodiless request: found by request-id only, else skipped."""
    try:
        sent = upstream.answer_for(exchange)
    except UpstreamUnreadable:
        raise
    except UpstreamLookupError:
        pytest.skip(
            f"could not judge: {exchange.method} {exchange.path} carries no body to "
            f"mark, and the proxy's request-id {exchange.request_id!r} is not one the "
            "upstream sent (the proxy mints its own request-ids, or did not forward the "
            "request): its upstream answer cannot be found, so there is nothing to "
            "compare"
        )
    _judge(exchange, sent)
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
