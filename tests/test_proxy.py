"""Testing a proxy: capability probes, --anthropic-require, the upstream record, pass-through.

A tiny proxy (``proxy_app``) runs in front of an embedded reference server, both on 127.0.0.1;
the suite runs through it with pytester, faithful, narrow (only /v1/messages) and buggy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from proxy_app import (
    ProxyConfig,
    count_one_more,
    drop_cache_fields_events,
    drop_cache_fields_json,
    drop_display_name,
    invent_version,
    make_proxy,
    rewrite_tool_id_events,
    rewrite_tool_id_json,
    strip_metadata,
    strip_signature_events,
    strip_signature_json,
    swap_first_deltas,
)
from suite_args import SUITE

from conformance import capabilities, catalog
from conformance.checks import passthrough
from conformance.client import Target
from conformance.exchange import Exchange
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer
from conformance.reference.app import ROUTES
from conformance.reference.wire import ANSWERS_PATH, FORCE_STATUS_HEADER
from conformance.target import TargetKind
from conformance.upstream import UpstreamJournal, entry_exchange

HEADERS = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": catalog.DEFAULT_API_VERSION}
HELLO = {
    "model": catalog.DEFAULT_MODEL,
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "Reply with exactly: hi"}],
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as server:
        yield server


ProxyFactory = Callable[..., str]


@pytest.fixture
def proxy(upstream: EmbeddedServer) -> Iterator[ProxyFactory]:
    """Start a proxy in front of ``upstream``; returns its base URL (prefix included)."""
    servers: list[EmbeddedServer] = []

    def start(prefix: str = "/anthropic", **kw: Any) -> str:
        server = EmbeddedServer(app=make_proxy(ProxyConfig(upstream.url, prefix=prefix, **kw)))
        servers.append(server.start())
        return server.url + prefix

    yield start
    for server in servers:
        server.stop()


def _run(
    pytester: pytest.Pytester, base_url: str, *args: str, upstream_url: str | None = None
) -> pytest.RunResult:
    extra = (f"--anthropic-upstream-url={upstream_url}",) if upstream_url else ()
    return pytester.runpytest(
        *SUITE,
        f"--anthropic-base-url={base_url}",
        f"--anthropic-api-key={DEFAULT_API_KEY}",
        *extra,
        *args,
    )


# --- capability probes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "served"),
    [
        (200, {"data": []}, True),
        (400, {"type": "error", "error": {"type": "invalid_request_error", "message": "x"}}, True),
        (403, {"type": "error", "error": {"type": "permission_error", "message": "x"}}, True),
        (400, {"error": {"message": "x", "type": "invalid_request_error", "code": None}}, True),
        (500, None, True),
        (
            404,
            {"type": "error", "error": {"type": "not_found_error", "message": "Not Found"}},
            False,
        ),
        (404, None, False),
        (405, None, False),
        (501, None, False),
    ],
)
def test_classify(status: int, body: Any, served: bool) -> None:
    assert capabilities.classify(status, body)[0] is served


def test_every_probe_names_a_catalog_endpoint_and_a_capability() -> None:
    from conformance.settings import CAPABILITY_NAMES

    assert [p.name for p in capabilities.PROBES] == list(CAPABILITY_NAMES)
    for probe in capabilities.PROBES:
        ep = catalog.endpoint(probe.endpoint)
        assert probe.name in (ep.family, "streaming"), probe


def test_probing_the_reference_server_finds_what_it_serves(upstream: EmbeddedServer) -> None:
    caps = capabilities.probe_target(
        Target(TargetKind.LIVE, upstream.url, DEFAULT_API_KEY, catalog.DEFAULT_API_VERSION)
    )
    served = {catalog.endpoint(r.endpoint).family for r in ROUTES} | {"streaming"}
    assert caps.probed
    for name, cap in caps.by_name.items():
        assert cap.supported is (name in served), cap.evidence()
        assert cap.status is not None and cap.request_id, cap


def test_narrow_proxy_probes_as_not_supported(proxy: ProxyFactory) -> None:
    url = proxy(only_messages=True)
    caps = capabilities.probe_target(
        Target(TargetKind.LIVE, url, DEFAULT_API_KEY, catalog.DEFAULT_API_VERSION)
    )
    assert caps.supported("messages") and caps.supported("streaming")
    models = caps.by_name["models"]
    assert not models.supported and models.status == 404
    assert "GET /v1/models -> 404" in models.evidence() and "404 page not found" in models.body
    assert caps.as_dict()["families"]["models"]["supported"] is False


def test_verdict_skips_or_fails_with_the_evidence() -> None:
    caps = capabilities.Capabilities(
        {
            "models": capabilities.Capability(
                "models", False, "GET /v1/models", 404, "404 page not found", None, "not served"
            )
        },
        probed=True,
    )
    assert capabilities.verdict(caps, ["messages"], ()) is None
    skip = capabilities.verdict(caps, ["models"], ())
    assert skip is not None and not skip.fail and "GET /v1/models -> 404" in skip.message
    fail = capabilities.verdict(caps, ["models"], {"models"})
    assert fail is not None and fail.fail and "--anthropic-require" in fail.message
    assert capabilities.needed(["tools", "streaming", "models"]) == [
        "messages",
        "streaming",
        "models",
    ]


# --- the reference server's record and test-only trigger ------------------------------------------


def test_answers_record_exact_bytes_by_request_id_and_marker(upstream: EmbeddedServer) -> None:
    with httpx.Client(base_url=upstream.url) as http:
        marker = "conformance-marker-json"
        sent = http.post(
            "/v1/messages", headers=HEADERS, json={**HELLO, "metadata": {"user_id": marker}}
        )
        streamed = http.post("/v1/messages", headers=HEADERS, json={**HELLO, "stream": True})
        assert http.get(ANSWERS_PATH, params={"marker": marker}).status_code == 401
        journal = UpstreamJournal(upstream.url, DEFAULT_API_KEY, http=http)
        by_marker = journal.entries(marker=marker)
        by_id = journal.entries(request_id=sent.headers["request-id"])
        assert len(by_marker) == len(by_id) == 1
        assert by_marker[0].body == sent.content and by_marker[0].status == 200
        stream = journal.entries(request_id=streamed.headers["request-id"])[0]
        assert stream.body == streamed.content and stream.events
        assert stream.content_type == "text/event-stream"


def test_forced_status_only_with_the_header(upstream: EmbeddedServer) -> None:
    with httpx.Client(base_url=upstream.url) as http:
        forced = http.post(
            "/v1/messages", headers={**HEADERS, FORCE_STATUS_HEADER: "429"}, json=HELLO
        )
        assert forced.status_code == 429 and forced.headers["retry-after"]
        assert forced.json()["error"]["type"] == "rate_limit_error"
        bad = http.post(
            "/v1/messages", headers={**HEADERS, FORCE_STATUS_HEADER: "soon"}, json=HELLO
        )
        assert bad.status_code == 400
        unauthenticated = http.post(
            "/v1/messages",
            json=HELLO,
            headers={"anthropic-version": catalog.DEFAULT_API_VERSION, FORCE_STATUS_HEADER: "429"},
        )
        assert unauthenticated.status_code == 401  # the key is checked first


def test_beta_only_field_needs_its_beta(upstream: EmbeddedServer) -> None:
    body = {
        "model": catalog.DEFAULT_MODEL,
        "messages": HELLO["messages"],
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
    }
    beta = next(b.header for b in catalog.BETAS if b.feature == "context_management")
    with httpx.Client(base_url=upstream.url) as http:
        without = http.post("/v1/messages/count_tokens", headers=HEADERS, json=body)
        assert without.status_code == 400 and "context_management" in without.text
        with_beta = http.post(
            "/v1/messages/count_tokens", headers={**HEADERS, "anthropic-beta": beta}, json=body
        )
        assert with_beta.status_code == 200, with_beta.text


def test_compare_names_the_difference_readably() -> None:
    entry = {
        "method": "POST",
        "path": "/v1/messages",
        "status": 200,
        "request_id": "req_1",
        "headers": {"content-type": "application/json", "request-id": "req_1"},
        "body": '{"type":"message","content":[{"type":"tool_use","id":"toolu_1",'
        '"name":"f","input":{"a":1}}],"stop_reason":"tool_use",'
        '"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2,'
        '"cache_read_input_tokens":0}}',
    }
    sent = entry_exchange(entry)
    same = Exchange("POST", "/v1/messages", 200, sent.response_headers, sent.body)
    assert passthrough.compare(same, sent) == []
    altered = Exchange(
        "POST",
        "/v1/messages",
        200,
        sent.response_headers,
        sent.body.replace(b'"toolu_1"', b'"toolu_X"').replace(b',"cache_read_input_tokens":0', b""),
    )
    found = {f.check: f.format() for f in passthrough.compare(altered, sent)}
    assert set(found) == {passthrough.TOOL_USE, passthrough.USAGE}, found
    assert (
        "/content/0/id" in found[passthrough.TOOL_USE] and "toolu_X" in found[passthrough.TOOL_USE]
    )
    assert "/usage/cache_read_input_tokens" in found[passthrough.USAGE]
    assert "(missing)" in found[passthrough.USAGE]


def test_compare_whole_bodies_that_are_not_messages() -> None:
    def answer(body: str) -> Exchange:
        return Exchange(
            "GET", "/v1/models", 200, {"content-type": "application/json"}, body.encode()
        )

    page = '{"data":[{"type":"model","id":"m","display_name":"M"}],"has_more":false}'
    assert passthrough.compare(answer(page), answer(page)) == []
    found = passthrough.compare(answer(page.replace(',"display_name":"M"', "")), answer(page))
    assert [(f.check, f.pointer) for f in found] == [(passthrough.BODY, "/data/0/display_name")], (
        found
    )
    assert "list page differs" in found[0].message and "(missing)" in found[0].message
    counted = passthrough.compare(answer('{"input_tokens":8}'), answer('{"input_tokens":7}'))
    assert [f.pointer for f in counted] == ["/input_tokens"]
    assert (
        "token count differs" in counted[0].message
        and "proxy: 8; upstream: 7" in counted[0].message
    )


# --- the suite through a proxy --------------------------------------------------------------------


def test_suite_through_a_faithful_proxy_passes(
    pytester: pytest.Pytester, proxy: ProxyFactory, upstream: EmbeddedServer
) -> None:
    result = _run(pytester, proxy(), "-v", upstream_url=upstream.url)
    assert result.ret == 0, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 35 and not outcomes.get("failed"), outcomes
    for name in (
        "test_json_text",
        "test_streaming_tool_use",
        "test_streaming_thinking",
        "test_rate_limit",
        "test_error?unknown-model?",
        "test_token_count",
        "test_model_list",
        "test_model_retrieve",
        "test_model_not_found",
        "test_request_fields_passed_through",
        "test_missing_version_is_not_invented",
        "test_counting_keeps_context_management",
        "test_forced_fault_handed_on?overloaded-529?",
        "test_forced_stream_error_handed_on",
    ):
        result.stdout.fnmatch_lines([f"*test_passthrough.py::{name} PASSED*"])
    out = result.stdout.str()  # not even a warning: a faithful proxy is faithful both ways
    assert "fidelity-" not in out and "passthrough-" not in out and "warning" not in out, out
    result.stdout.fnmatch_lines(
        [
            "*test_headers.py::test_anthropic_beta_forwarded PASSED*",
            "*test_headers.py::test_retry_after_on_429 PASSED*",
        ]
    )


def test_passthrough_found_by_marker_when_the_proxy_mints_request_ids(
    pytester: pytest.Pytester, proxy: ProxyFactory, upstream: EmbeddedServer
) -> None:
    result = _run(
        pytester,
        proxy(prefix="", own_request_ids=True),
        "-k",
        "test_passthrough",
        "-rs",
        "-v",
        upstream_url=upstream.url,
    )
    assert result.ret == 0, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 10 and outcomes.get("skipped") == 3, outcomes
    result.stdout.fnmatch_lines(["*test_passthrough.py::test_token_count PASSED*"])
    # models calls are GETs: no body marker, and the proxy's request-ids are its own
    result.stdout.fnmatch_lines(
        [
            "*GET /v1/models* carries no body to mark, and the proxy's "
            "request-id 'req_proxy*' is not one the upstream sent*"
        ]
    )


def test_narrow_proxy_skips_what_it_does_not_serve(
    pytester: pytest.Pytester, proxy: ProxyFactory
) -> None:
    result = _run(pytester, proxy(only_messages=True), "-rs")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert not outcomes.get("failed") and not outcomes.get("errors"), outcomes
    assert outcomes.get("passed", 0) >= 10 and outcomes.get("skipped", 0) >= 5
    result.stdout.fnmatch_lines(
        ["*not supported by the target: models (models: GET /v1/models -> 404*"]
    )
    result.stdout.fnmatch_lines(
        [  # the summary names each missing family once, with evidence
            "*anthropic capabilities: not supported by the target*",
            "count_tokens: POST /v1/messages/count_tokens -> 404*404 page not found*",
            "models: GET /v1/models -> 404*",
        ]
    )
    assert result.stdout.str().count("models: GET /v1/models -> 404") >= 2  # skips + summary


def test_required_family_fails_with_the_evidence(
    pytester: pytest.Pytester, proxy: ProxyFactory
) -> None:
    result = _run(
        pytester,
        proxy(only_messages=True),
        "--anthropic-require=models",
        "-k",
        "test_models or test_messages",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1 and not outcomes.get("errors"), outcomes
    assert outcomes.get("passed", 0) >= 1
    result.stdout.fnmatch_lines(
        [
            "*required family models (--anthropic-require) not served by "
            "the target: models: GET /v1/models -> 404*"
        ]
    )


@pytest.mark.parametrize(
    ("alteration", "check"),
    [
        (
            {"alter_json": drop_cache_fields_json, "alter_events": drop_cache_fields_events},
            passthrough.USAGE,
        ),
        (
            {"alter_json": rewrite_tool_id_json, "alter_events": rewrite_tool_id_events},
            passthrough.TOOL_USE,
        ),
        ({"alter_events": swap_first_deltas}, passthrough.EVENTS),
        (
            {"alter_json": strip_signature_json, "alter_events": strip_signature_events},
            passthrough.THINKING,
        ),
    ],
    ids=[
        "usage-cache-fields-dropped",
        "tool-use-id-rewritten",
        "sse-reordered",
        "thinking-signature-stripped",
    ],
)
def test_an_altering_proxy_fails_the_passthrough_checks(
    pytester: pytest.Pytester,
    proxy: ProxyFactory,
    upstream: EmbeddedServer,
    alteration: dict[str, Any],
    check: str,
) -> None:
    result = _run(
        pytester, proxy(**alteration), "-k", "test_passthrough", upstream_url=upstream.url
    )
    assert result.parseoutcomes().get("failed", 0) >= 1, result.stdout.str()
    result.stdout.fnmatch_lines([f"*[[]{check}[]] /*differs from what the upstream sent*"])


@pytest.mark.parametrize(
    ("config", "test", "line"),
    [
        (
            {"alter_request": strip_metadata},
            "test_json_text",
            "*[[]fidelity-field-dropped[]] /request/body/metadata: the proxy dropped "
            "'metadata'*found by the copy of the marker at /system*",
        ),
        (
            {"remap_overloaded": True},
            "test_forced_fault_handed_on and 529",
            "*[[]passthrough-status[]] /status: the proxy answered 500 api_error, the upstream "
            "sent 529 overloaded_error*",
        ),
        (
            {"alter_request_headers": invent_version},
            "test_missing_version",
            "*[[]fidelity-version[]] /request/headers/anthropic-version: the proxy invented "
            "anthropic-version '2023-06-01'*",
        ),
    ],
    ids=["metadata-stripped", "529-as-500", "version-invented"],
)
def test_a_rewriting_proxy_fails_with_the_deviation_named(
    pytester: pytest.Pytester,
    proxy: ProxyFactory,
    upstream: EmbeddedServer,
    config: dict[str, Any],
    test: str,
    line: str,
) -> None:
    result = _run(
        pytester, proxy(**config), "-k", f"test_passthrough and {test}", upstream_url=upstream.url
    )
    assert result.parseoutcomes().get("failed", 0) == 1, result.stdout.str()
    result.stdout.fnmatch_lines([line])


def test_a_proxy_answering_itself_cannot_be_judged(
    pytester: pytest.Pytester, proxy: ProxyFactory, upstream: EmbeddedServer
) -> None:
    """Nothing reached the upstream (here: another upstream entirely): skipped, not failed."""
    with EmbeddedServer() as elsewhere:
        result = _run(
            pytester,
            proxy(),
            "-k",
            "test_passthrough and test_json_text",
            "-rs",
            upstream_url=elsewhere.url,
        )
    assert result.parseoutcomes().get("skipped") == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*could not judge: the upstream * has no record of the answer*"])


@pytest.mark.parametrize(
    ("alteration", "line"),
    [
        (
            {"alter_path": "/v1/messages/count_tokens", "alter_json": count_one_more},
            "*[[]passthrough-body[]] /input_tokens*token count differs*",
        ),
        (
            {"alter_path": "/v1/models", "alter_json": drop_display_name},
            "*[[]passthrough-body[]] /data/0/display_name*list page differs*(missing)*",
        ),
    ],
    ids=["count-tokens-plus-one", "model-field-dropped"],
)
def test_an_altering_proxy_fails_the_passthrough_checks_of_other_families(
    pytester: pytest.Pytester,
    proxy: ProxyFactory,
    upstream: EmbeddedServer,
    alteration: dict[str, Any],
    line: str,
) -> None:
    result = _run(
        pytester,
        proxy(**alteration),
        "-k",
        "test_passthrough and (test_token_count or test_model_)",
        upstream_url=upstream.url,
    )
    assert result.parseoutcomes().get("failed", 0) == 1, result.stdout.str()
    result.stdout.fnmatch_lines([line])


def test_narrow_proxy_summary_under_xdist_is_printed_once(
    pytester: pytest.Pytester, proxy: ProxyFactory
) -> None:
    """Each xdist worker probes on its own; the controller prints what they found, once."""
    result = _run(
        pytester,
        proxy(only_messages=True),
        "-n",
        "2",
        "-k",
        "test_basic_message or test_models_list or test_count_tokens",
    )
    assert result.ret == 0, result.stdout.str()
    out = result.stdout.str()
    assert out.count("anthropic capabilities: not supported by the target") == 1, out
    result.stdout.fnmatch_lines(
        [
            "*anthropic capabilities: not supported by the target*",
            "count_tokens: POST /v1/messages/count_tokens -> 404*404 page not found*",
            "models: GET /v1/models -> 404*",
        ]
    )
    assert out.count("models: GET /v1/models -> 404") == 1, out
