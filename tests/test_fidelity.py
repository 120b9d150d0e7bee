"""Request fidelity and forced faults through a proxy: each deviation is found once, by name.

A tiny proxy (``proxy_app``) runs in front of an embedded reference server; one request goes
through it, and everything the suite would say about it (the per-answer checks, the request
fidelity checks and the pass-through checks) is collected. A faithful proxy gets nothing at all;
each realistic deviation (LiteLLM-like: metadata stripped, ``"stream": false`` added, a beta
dropped, the model rewritten, an anthropic-version invented, 529 handed on as 500, request-ids
dropped or minted) gets exactly one finding, with its check name and severity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import proxy_app
import pytest
from proxy_app import ProxyConfig, make_proxy

from conformance import catalog, checks
from conformance.checks import effects, fidelity, passthrough
from conformance.client import ApiClient, RetryPolicy, Target
from conformance.exchange import Exchange
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer
from conformance.reference.answers import ANSWERS_PATH
from conformance.reference.faults import FAULTS, directive, fault_of
from conformance.settings import Settings
from conformance.target import TargetKind, resolve
from conformance.upstream import UpstreamJournal, entry_exchange, marker_text, new_marker
from conformance.validation import validate_exchange

VERSION = catalog.DEFAULT_API_VERSION
#: Two betas, so that one can be dropped and the order changed.
FEATURES = ("messages", "prompt_tools", "context_management")
HEADERS = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": VERSION}


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as server:
        yield server


Through = Callable[..., list[tuple[str, str]]]


@pytest.fixture
def through(upstream: EmbeddedServer) -> Iterator[Through]:
    """``through(proxy options, fault=..., stream=..., headers=..., get=...)``: send one request
    through a proxy so configured; return (check, severity) of every finding about it."""
    servers: list[EmbeddedServer] = []
    journal = UpstreamJournal(upstream.url, DEFAULT_API_KEY)

    def run(
        proxy: dict[str, Any] | None = None,
        *,
        fault: str | None = None,
        stream: bool = False,
        headers: dict[str, str | None] | None = None,
        get: str | None = None,
    ) -> list[tuple[str, str]]:
        server = EmbeddedServer(app=make_proxy(ProxyConfig(upstream.url, **(proxy or {}))))
        servers.append(server.start())
        target = Target(TargetKind.PROXY, server.url, DEFAULT_API_KEY, VERSION)
        client = ApiClient(target, features=FEATURES, retry=RetryPolicy(max_retries=0))
        marker = None
        try:
            if get is not None:
                ex = client.get(get, params={"limit": 2})
            else:
                marker = new_marker()
                system = " ".join(filter(None, (marker_text(marker), fault and directive(fault))))
                body = {
                    "model": catalog.DEFAULT_MODEL,
                    "max_tokens": 32,
                    "system": system,
                    "metadata": {"user_id": marker},
                    "messages": [
                        {"role": "user", "content": "Reply with exactly: one two three four five"}
                    ],
                }
                if stream:
                    body["stream"] = True
                ex = client.post("/v1/messages", json=body, headers=headers)
        finally:
            client.close()
        sent = journal.answer_for(ex, marker)
        found = (
            validate_exchange(ex).findings
            + fidelity.compare(ex, sent)
            + passthrough.compare(ex, sent)
        )
        return [(f.check, f.severity) for f in found]

    yield run
    journal.close()
    for server in servers:
        server.stop()


# --- a faithful proxy: nothing of any severity ----------------------------------------------------


@pytest.mark.parametrize(
    "request_kind",
    [
        {},
        {"stream": True},
        {"fault": "429"},
        {"fault": "529"},
        {"fault": "500"},
        {"fault": "stream-error", "stream": True},
        {"get": "/v1/models"},
    ],
    ids=["json", "stream", "fault-429", "fault-529", "fault-500", "stream-error", "models-page"],
)
def test_a_faithful_proxy_gets_no_finding(through: Through, request_kind: dict[str, Any]) -> None:
    assert through(**request_kind) == []


def test_re_sorted_betas_are_fine(through: Through) -> None:
    def reverse(headers: dict[str, str]) -> dict[str, str]:
        headers["anthropic-beta"] = ",".join(reversed(headers["anthropic-beta"].split(",")))
        return headers

    assert through({"alter_request_headers": reverse}) == []


# --- each deviation: exactly one finding, with its name and severity ------------------------------


@pytest.mark.parametrize(
    ("proxy", "request_kind", "expected"),
    [
        pytest.param(
            {"alter_request": proxy_app.strip_metadata},
            {},
            (fidelity.FIELD_DROPPED, "error"),
            id="metadata-stripped",
        ),
        pytest.param(
            {"drop_answer_headers": ("request-id",)},
            {},
            ("request-id", "error"),
            id="request-id-dropped",
        ),
        pytest.param(
            {"own_request_ids": True},
            {},
            (passthrough.REQUEST_ID, "warning"),
            id="request-id-minted",
        ),
        pytest.param(
            {"remap_overloaded": True},
            {"fault": "529"},
            (passthrough.STATUS, "error"),
            id="529-as-500",
        ),
        pytest.param(
            {"remap_overloaded": True},
            {"fault": "stream-error", "stream": True},
            (passthrough.EVENTS, "error"),
            id="overloaded-event-as-api-error",
        ),
        pytest.param(
            {"alter_request": proxy_app.add_stream_false},
            {},
            (fidelity.DEFAULT_ADDED, "warning"),
            id="stream-false-added",
        ),
        pytest.param(
            {"alter_request_headers": proxy_app.drop_first_beta},
            {},
            (fidelity.BETA_DROPPED, "error"),
            id="beta-dropped",
        ),
        pytest.param(
            {"alter_request": proxy_app.rewrite_model},
            {},
            (fidelity.MODEL_REWRITTEN, "error"),
            id="model-rewritten-upstream",
        ),
        pytest.param(
            {"alter_json": proxy_app.answer_with_alias},
            {},
            # the answer no longer names the model asked for: model-echo says so, and the
            # pass-through comparison leaves that one cause to it
            (effects.MODEL_ECHO, "error"),
            id="model-rewritten-in-the-json-answer",
        ),
        pytest.param(
            {"alter_request_headers": proxy_app.invent_version},
            {"headers": {"anthropic-version": None}},
            (fidelity.VERSION, "error"),
            id="anthropic-version-invented",
        ),
    ],
)
def test_each_deviation_is_found_once(
    through: Through, proxy: dict[str, Any], request_kind: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert through(proxy, **request_kind) == [expected]


def test_every_fidelity_check_is_registered_with_its_severity() -> None:
    for name, severity in (
        (fidelity.FIELD_DROPPED, "error"),
        (fidelity.DEFAULT_ADDED, "warning"),
        (fidelity.BETA_ADDED, "warning"),
        (fidelity.VERSION, "error"),
        (passthrough.REQUEST_ID, "warning"),
        (passthrough.MESSAGE, "error"),
    ):
        assert name in checks.names() and checks.severity_of(name) == severity, name


# --- the comparison itself, without a network -----------------------------------------------------


def _pair(
    sent: Any,
    received: Any,
    sent_headers: dict[str, str] | None = None,
    received_headers: dict[str, str] | None = None,
    url: str = "/v1/messages",
    received_url: str = "/v1/messages",
) -> tuple[Exchange, Exchange]:
    mine = Exchange(
        "POST",
        "/v1/messages",
        200,
        request_json=sent,
        request_headers=sent_headers or {},
        url=f"http://proxy/x{url}",
    )
    record = Exchange(
        "POST",
        "/v1/messages",
        200,
        request_json=received,
        request_headers=received_headers or {},
        url=received_url,
    )
    return mine, record


def test_values_are_compared_as_json_data() -> None:
    assert (
        fidelity.compare(
            *_pair({"a": 1, "b": [1, {"c": True}]}, {"b": [1.0, {"c": True}], "a": 1.0})
        )
        == []
    )
    changed = fidelity.compare(*_pair({"a": True, "t": 0.5}, {"a": 1, "t": 0.5}))
    assert [(f.check, f.pointer) for f in changed] == [(fidelity.VALUE_CHANGED, "/request/body/a")]


def test_an_added_field_that_is_not_a_default_is_an_error() -> None:
    found = fidelity.compare(*_pair({"m": 1}, {"m": 1, "stream": True, "system": "gateway"}))
    assert [(f.check, f.severity, f.pointer) for f in found] == [
        (fidelity.FIELD_ADDED, "error", "/request/body/stream"),
        (fidelity.FIELD_ADDED, "error", "/request/body/system"),
    ]


def test_a_dropped_metadata_says_where_the_marker_was_found() -> None:
    found = fidelity.compare(
        *_pair(
            {"metadata": {"user_id": "m-1"}, "system": "[[conformance:marker=m-1]]"},
            {"system": "[[conformance:marker=m-1]]"},
        )
    )
    assert len(found) == 1 and "found by the copy of the marker at /system" in found[0].message


def test_query_and_version_changes() -> None:
    mine, record = _pair(
        None,
        None,
        {"anthropic-version": "2023-06-01"},
        {"anthropic-version": "2026-10-21"},
        url="/v1/models?limit=2&x=1",
        received_url="/v1/models?x=1&limit=3",
    )
    found = {f.check: f.message for f in fidelity.compare(mine, record)}
    assert set(found) == {fidelity.REQUEST_LINE, fidelity.VERSION}, found
    assert "from '2023-06-01' to '2026-10-21'" in found[fidelity.VERSION]
    same = fidelity.compare(*_pair(None, None, url="/v1/m?a=1&b=2", received_url="/v1/m?b=2&a=1"))
    assert same == []


def test_a_status_remap_is_one_finding_a_foreign_type_is_another() -> None:
    def error(status: int, kind: str) -> Exchange:
        return Exchange(
            "POST",
            "/v1/messages",
            status,
            {"content-type": "application/json"},
            f'{{"type":"error","error":{{"type":"{kind}","message":"m"}}}}'.encode(),
        )

    upstream = error(529, "overloaded_error")
    remapped = passthrough.compare(error(500, "api_error"), upstream)
    assert [f.check for f in remapped] == [passthrough.STATUS]
    assert "500 api_error, the upstream sent 529 overloaded_error" in remapped[0].message
    wrong = passthrough.compare(error(500, "invalid_request_error"), upstream)
    assert [f.check for f in wrong] == [passthrough.STATUS, passthrough.ERROR]


# --- the reference server's record of what it received --------------------------------------------


def test_the_record_keeps_the_request_but_never_its_credentials(upstream: EmbeddedServer) -> None:
    marker = new_marker()
    body = {
        "model": catalog.DEFAULT_MODEL,
        "max_tokens": 8,
        "system": marker_text(marker),
        "messages": [{"role": "user", "content": "hi"}],
    }
    with httpx.Client(base_url=upstream.url) as http:
        http.post(
            "/v1/messages?beta=true",
            json=body,
            headers={**HEADERS, "cookie": "session=secret-cookie"},
        )
        # no metadata at all: the marker is found in the body's text
        entries = http.get(ANSWERS_PATH, params={"marker": marker}, headers=HEADERS).json()["data"]
    assert len(entries) == 1
    received = entries[0]["received"]
    assert received["query"] == "beta=true" and received["headers"]["anthropic-version"] == VERSION
    assert not {"x-api-key", "cookie", "authorization"} & set(received["headers"])
    assert DEFAULT_API_KEY not in str(entries) and "secret-cookie" not in str(entries)
    record = entry_exchange(entries[0])
    assert record.request_json == body and record.url == "/v1/messages?beta=true"


# --- faults forced by content ---------------------------------------------------------------------


def test_the_directive_is_read_from_the_system_prompt_or_the_last_user_message() -> None:
    words = directive("529")
    assert fault_of({"system": [{"type": "text", "text": f"x {words}"}]}) == "529"
    assert (
        fault_of({"messages": [{"role": "user", "content": [{"type": "text", "text": words}]}]})
        == "529"
    )
    assert (
        fault_of(
            {
                "messages": [
                    {"role": "user", "content": words},
                    {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": "now"},
                ]
            }
        )
        is None
    )
    with pytest.raises(ValueError, match="unknown fault"):
        directive("418")
    assert set(FAULTS) == {"429", "529", "500", "stream-error"}


@pytest.mark.parametrize(
    ("text", "stream", "status", "needle"),
    [
        ("[[conformance:fault=418]]", False, 400, "unknown fault"),
        ("[[conformance:fault=stream-error]]", False, 400, "needs a streamed request"),
        ("[[conformance:fault=529]]", False, 529, "overloaded_error"),
    ],
)
def test_fault_directives_answer_or_say_what_is_wrong(
    upstream: EmbeddedServer, text: str, stream: bool, status: int, needle: str
) -> None:
    body = {
        "model": catalog.DEFAULT_MODEL,
        "max_tokens": 8,
        "stream": stream,
        "messages": [{"role": "user", "content": f"hi {text}"}],
    }
    with httpx.Client(base_url=upstream.url) as http:
        answer = http.post("/v1/messages", json=body, headers=HEADERS)
        assert answer.status_code == status and needle in answer.text
        no_key = http.post("/v1/messages", json=body, headers={"anthropic-version": VERSION})
        assert no_key.status_code == 401  # the key is checked first


def test_faults_can_be_forced_only_where_the_reference_server_answers() -> None:
    def target(**values: Any) -> Any:
        return resolve(Settings.model_validate(values))

    live = target(api_key="k", upstream_url="http://127.0.0.1:2")
    assert not live.can_force_faults
    assert "only the reference server honours" in live.why_no_faults()
    with pytest.raises(ValueError, match="cannot be made to answer"):
        live.fault_directive("529")
    alone = target(base_url="http://127.0.0.1:1", api_key="k")
    assert not alone.can_force_faults and "--anthropic-upstream-url" in alone.why_no_faults()
    proxied = target(base_url="http://127.0.0.1:1", api_key="k", upstream_url="http://127.0.0.1:2")
    assert proxied.can_force_faults and proxied.why_no_faults() == ""
    assert proxied.fault_directive("stream-error") == "[[conformance:fault=stream-error]]"
    assert target().can_force_faults  # the embedded reference server itself
