"""The run's target, resolved once: each kind, the key per credential, what it supports, its
clients, and an admin-key-only live run probed like any other."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from suite_args import SUITE

from conformance import capabilities, catalog, gating
from conformance.client import RetryPolicy, TargetUnreachable
from conformance.reference import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    EmbeddedServer,
    ReferenceConfig,
)
from conformance.reference.admin import REFERENCE_KEY_ID, REFERENCE_NOW
from conformance.settings import ConfigError, Settings
from conformance.target import (
    ADMIN_KEY,
    API_KEY,
    REPLAY_KEY,
    UPSTREAM_KEY,
    RunTarget,
    TargetKind,
    resolve,
)

PACKAGE = Path(__file__).resolve().parent.parent / "conformance"


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ReferenceConfig(mutants=("count-tokens-missing",))) as running:
        yield running


# --- resolution of each kind ----------------------------------------------------------------------


def test_reference_target_holds_the_reference_keys_and_starts_its_server() -> None:
    target = resolve(settings())
    assert target.kind is TargetKind.REFERENCE and target.base_url is None
    assert target.credential(API_KEY) == DEFAULT_API_KEY
    assert target.credential(ADMIN_KEY) == DEFAULT_ADMIN_API_KEY
    with pytest.raises(RuntimeError, match="not running"):
        target.endpoint()
    with target.started() as running:
        assert running.base_url and running.base_url.startswith("http://127.0.0.1:")
        client = running.client(retry=RetryPolicy(max_retries=0))
        try:
            assert client.get("/v1/models").status == 200
        finally:
            client.close()
    stopped = running.client(retry=RetryPolicy(max_retries=0), timeout=2.0)
    try:
        with pytest.raises(TargetUnreachable):
            stopped.get("/v1/models")  # the server stopped with started()
    finally:
        stopped.close()


def test_live_and_proxy_targets_hold_the_users_keys() -> None:
    live = resolve(settings(api_key="sk-user", admin_api_key="sk-admin"))
    assert live.kind is TargetKind.LIVE and live.base_url == catalog.REAL_API_URL
    assert (live.credential(API_KEY), live.credential(ADMIN_KEY)) == ("sk-user", "sk-admin")
    proxy = resolve(settings(base_url="http://127.0.0.1:1/anthropic", api_key="sk-user"))
    assert proxy.kind is TargetKind.PROXY and proxy.base_url == "http://127.0.0.1:1/anthropic"
    assert proxy.credential(ADMIN_KEY) is None
    with proxy.started() as same:  # nothing to start
        assert same is proxy
    endpoint = proxy.endpoint(API_KEY)
    assert (endpoint.base_url, endpoint.api_key, endpoint.kind) == (
        proxy.base_url,
        "sk-user",
        TargetKind.PROXY,
    )


def test_replay_sends_the_dummy_key_and_is_offline() -> None:
    target = resolve(settings(api_key="sk-user", record_mode="none"))
    assert target.kind is TargetKind.REPLAY and target.offline
    assert target.credential(API_KEY) == target.credential(ADMIN_KEY) == REPLAY_KEY
    assert "cassette replay" in target.describe()


def test_no_key_in_a_repr() -> None:
    target = resolve(
        settings(
            api_key="sk-ant-api03-hidden",
            admin_api_key="sk-ant-admin-x",
            base_url="http://127.0.0.1:1",
            upstream_url="http://127.0.0.1:2",
            upstream_api_key="up-hidden",
        )
    )
    shown = repr(target) + repr(target.endpoint(ADMIN_KEY)) + repr(target.upstream)
    assert "hidden" not in shown and "sk-ant-admin-x" not in shown


# --- credentials and clients ----------------------------------------------------------------------


def test_upstream_key_defaults_to_the_reference_key() -> None:
    given = resolve(
        settings(
            base_url="http://127.0.0.1:1",
            api_key="k",
            upstream_url="http://127.0.0.1:2",
            upstream_api_key="up",
        )
    )
    assert given.upstream is not None and given.upstream.url == "http://127.0.0.1:2"
    assert given.credential(UPSTREAM_KEY) == "up"
    default = resolve(
        settings(base_url="http://127.0.0.1:1", api_key="k", upstream_url="http://127.0.0.1:2")
    )
    assert default.credential(UPSTREAM_KEY) == DEFAULT_API_KEY
    # The embedded server and replay forward to nothing, whatever the settings say.
    assert resolve(settings(upstream_url="http://127.0.0.1:2")).upstream is None
    assert resolve(settings(upstream_url="http://127.0.0.1:2", record_mode="none")).upstream is None


def test_admin_client_sends_the_admin_key(server: EmbeddedServer) -> None:
    target = resolve(
        settings(base_url=server.url, api_key=DEFAULT_API_KEY, admin_api_key=DEFAULT_ADMIN_API_KEY)
    )
    clients = target.clients(retry=RetryPolicy(max_retries=0))
    try:
        assert set(clients) == {API_KEY, ADMIN_KEY}
        assert clients[ADMIN_KEY].get("/v1/organizations/me").status == 200
        assert clients[API_KEY].get("/v1/organizations/me").status in (401, 403)
    finally:
        for client in clients.values():
            client.close()


def test_a_missing_key_gets_no_client_and_a_skip_reason() -> None:
    target = resolve(settings(base_url="http://127.0.0.1:1", admin_api_key="sk-admin"))
    clients = target.clients()
    try:
        assert set(clients) == {ADMIN_KEY}
    finally:
        for client in clients.values():
            client.close()
    reason = gating.skip_reason(Settings(), target, ["messages"])
    assert reason and "no API key for the live target http://127.0.0.1:1" in reason
    assert gating.skip_reason(Settings(), target, ["admin"]) is None
    assert gating.key_missing(resolve(settings()), ADMIN_KEY) is None


# --- what each kind supports ----------------------------------------------------------------------


def test_the_reference_server_answers_a_forced_status() -> None:
    with resolve(settings()).started() as target:
        assert target.can_force_status
        client = target.client(retry=RetryPolicy(max_retries=0))
        try:
            ex = client.post(
                "/v1/messages",
                json={
                    "model": catalog.DEFAULT_MODEL,
                    "max_tokens": 1,
                    "messages": [{"role": "user", "content": "hi"}],
                },
                headers=target.force_status_headers(429),
            )
        finally:
            client.close()
    assert ex.status == 429 and "retry-after" in ex.response_headers


def test_the_real_api_is_never_asked_to_force_a_status() -> None:
    live = resolve(settings(api_key="k"))
    assert not live.can_force_status
    with pytest.raises(ValueError, match="cannot be made to answer"):
        live.force_status_headers(429)
    # a proxy may be a reference server (serve) or forward to one: the test checks the status
    assert resolve(settings(base_url="http://127.0.0.1:1", api_key="k")).can_force_status


def test_clock_reports_and_batches_by_kind() -> None:
    reference, replay = resolve(settings()), resolve(settings(record_mode="none"))
    for local in (reference, replay):
        assert local.now() == REFERENCE_NOW and local.reports_usage_at_once
        assert local.batches_end_quickly and not local.bills_tokens
        assert not local.keeps_resources and local.rename_key_id == REFERENCE_KEY_ID
    for remote in (
        resolve(settings(api_key="k")),
        resolve(settings(base_url="http://127.0.0.1:1", api_key="k")),
    ):
        assert remote.now() != REFERENCE_NOW and remote.now().tzinfo is UTC
        assert not remote.reports_usage_at_once and not remote.batches_end_quickly
        assert remote.bills_tokens and remote.keeps_resources
        assert remote.rename_key_id is None  # only the key the user names may be renamed
    named = resolve(settings(api_key="k", admin_rename_key_id="apikey_01mine"))
    assert named.rename_key_id == "apikey_01mine"


def test_capabilities_are_assumed_only_where_the_target_says_so() -> None:
    assert resolve(settings()).assumed_capabilities.startswith("the embedded reference")
    assert resolve(settings(record_mode="none")).assumed_capabilities.startswith("replay")
    assert resolve(settings(api_key="k")).assumed_capabilities == ""
    assert (
        resolve(settings(base_url="http://127.0.0.1:1", admin_api_key="a")).assumed_capabilities
        == ""
    )


def test_a_base_url_without_any_key_is_a_usage_error_naming_the_variable() -> None:
    """Not a green run of skips: nothing would be tested."""
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        resolve(settings(base_url="http://127.0.0.1:1"))


@pytest.mark.parametrize("mode", ["once", "none", "new_episodes"])
def test_a_base_url_with_a_record_mode_never_uses_the_shipped_cassettes(mode: str) -> None:
    with pytest.raises(ConfigError, match="--anthropic-cassette-dir"):
        resolve(settings(base_url="http://127.0.0.1:1", api_key="k", record_mode=mode))
    named = resolve(
        settings(
            base_url="http://127.0.0.1:1", api_key="k", record_mode=mode, cassette_dir="/tmp/mine"
        )
    )
    assert named.kind in (TargetKind.PROXY, TargetKind.REPLAY)


# --- an admin-key-only live run is probed ---------------------------------------------------------


def _admin_only(server: EmbeddedServer) -> RunTarget:
    return resolve(settings(base_url=server.url, admin_api_key=DEFAULT_ADMIN_API_KEY))


def test_admin_key_only_target_is_probed_with_its_key(server: EmbeddedServer) -> None:
    caps = capabilities.for_target(_admin_only(server))
    assert caps.probed and not caps.fatal
    assert caps.by_name["admin"].status == 200  # sent with the admin key
    assert caps.by_name["messages"].status == 401 and caps.supported("messages")
    assert not caps.supported("count_tokens")  # the mutant removed the route: 404


def test_each_probe_uses_the_key_of_its_family(server: EmbeddedServer) -> None:
    both = resolve(
        settings(base_url=server.url, api_key=DEFAULT_API_KEY, admin_api_key=DEFAULT_ADMIN_API_KEY)
    )
    caps = capabilities.for_target(both)
    assert caps.by_name["admin"].status == 200
    assert caps.by_name["models"].status == 200


def test_admin_key_only_run_probes_and_runs_the_admin_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: EmbeddedServer
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", DEFAULT_ADMIN_API_KEY)
    monkeypatch.setenv(catalog.FEATURES_ENV, "admin,count_tokens")
    result = pytester.runpytest(*SUITE, "--anthropic-report-dir=none", "-rs")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert outcomes.get("passed", 0) >= 8, outcomes
    out = result.stdout.str()
    # the probe ran with the admin key alone and found the missing route
    assert "anthropic capabilities: not supported by the target" in out
    assert "count_tokens: POST /v1/messages/count_tokens -> 404" in out
    # the admin test that also sends a normal call (test_cost_report_matches_usage) skips,
    # naming the key it lacks, instead of failing on a 401
    assert re.search(r"test_admin\.py:\d+: no API key for the live target", out), out


# --- the suite asks the target, never its kind ----------------------------------------------------


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("path", sorted((PACKAGE / "suite").glob("*.py")), ids=lambda p: p.name)
def test_suite_module_neither_branches_on_the_kind_nor_imports_the_reference(path: Path) -> None:
    assert "TargetKind." not in path.read_text()
    assert not {m for m in _imports(path) if m.startswith("conformance.reference")}


def test_resources_plugin_does_not_import_the_plugin() -> None:
    assert not {
        m for m in _imports(PACKAGE / "resources_plugin.py") if m.startswith("conformance.plugin")
    }
