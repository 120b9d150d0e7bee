"""The Admin API and prompt tools: reference server behaviour, checks on broken answers, gating
without an admin key, and nothing left behind by an interrupted run (teardown or cleanup).

There are no Admin API or report responses in /work/shared/corpus today, so the schemas are
exercised here on the reference server's answers and on hand-made broken ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from suite_args import suite

from conformance import resources
from conformance.checks import admin as checks
from conformance.checks import prompt_tools
from conformance.client import ApiClient, Target
from conformance.exchange import Exchange
from conformance.reference import DEFAULT_ADMIN_API_KEY, DEFAULT_API_KEY, EmbeddedServer
from conformance.reference.admin import REFERENCE_NOW, db_of, parse_time
from conformance.reference.app import state_of
from conformance.reference.errors import ApiError
from conformance.target import TargetKind
from conformance.timestamps import parse_rfc3339
from conformance.validation import validate_exchange

SUITE = (*suite("test_admin"), "-rs")
DAY = REFERENCE_NOW.strftime("%Y-%m-%d")
WINDOW = {"starting_at": f"{DAY}T00:00:00Z", "ending_at": "2026-03-03T00:00:00Z"}


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


def client(
    server: EmbeddedServer, key: str = DEFAULT_ADMIN_API_KEY, version: str = "2023-06-01"
) -> ApiClient:
    return ApiClient(Target(TargetKind.LIVE, server.url, key, version), features=("prompt_tools",))


def ok(ex: Exchange) -> Any:
    found = validate_exchange(ex).findings
    assert ex.status == 200 and not found, (ex.describe(), [f.format() for f in found], ex.json)
    return ex.json


# --- reference server -----------------------------------------------------------------------------


def test_admin_routes_need_an_admin_key(server: EmbeddedServer) -> None:
    normal = client(server, DEFAULT_API_KEY).get("/v1/organizations/me")
    assert normal.status == 403 and normal.json["error"]["type"] == "permission_error"
    assert client(server, "wrong").get("/v1/organizations/me").status == 401
    assert client(server, DEFAULT_ADMIN_API_KEY).post("/v1/messages", json={}).status == 401, (
        "an admin key is not an API key"
    )


@pytest.mark.parametrize("version", ["2023-06-01", "2026-10-21"])
def test_shapes_per_version(server: EmbeddedServer, version: str) -> None:
    c = client(server, version=version)
    ws = ok(c.post("/v1/organizations/workspaces", json={"name": "conformance-shape"}))
    key = ok(c.get("/v1/organizations/api_keys"))["data"][0]
    invite = ok(
        c.post(
            "/v1/organizations/invites",
            json={"email": f"conformance-shape-{version}@example.com", "role": "developer"},
        )
    )
    newer = version == "2026-10-21"
    assert ("data_residency" in ws) is newer and ("scope" in key) is newer
    assert ("accepted_at" in invite) is newer
    assert invite["expires_at"] > invite["invited_at"]
    ok(c.post(f"/v1/organizations/workspaces/{ws['id']}/archive"))


def test_user_update_and_delete_rules(server: EmbeddedServer) -> None:
    c = client(server)
    users = ok(c.get("/v1/organizations/users"))["data"]
    admin = next(u for u in users if u["role"] == "admin")
    billing = next(u for u in users if u["role"] == "billing")
    assert c.post(f"/v1/organizations/users/{billing['id']}", json={"role": "admin"}).status == 400
    assert c.delete(f"/v1/organizations/users/{admin['id']}").status == 400
    assert (
        ok(c.post(f"/v1/organizations/users/{billing['id']}", json={"role": "developer"}))["role"]
        == "developer"
    )
    gone = ok(c.delete(f"/v1/organizations/users/{billing['id']}"))
    assert gone == {"id": billing["id"], "type": "user_deleted"}
    assert c.get(f"/v1/organizations/users/{billing['id']}").status == 404


def test_reports_come_from_the_servers_own_usage(server: EmbeddedServer) -> None:
    api = ApiClient(Target(TargetKind.LIVE, server.url, DEFAULT_API_KEY, "2023-06-01"))
    before = len(db_of(state_of(server.app)).usage)
    ok(
        api.post(
            "/v1/messages",
            json={
                "model": "claude-haiku-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    )
    assert len(db_of(state_of(server.app)).usage) == before + 1
    c = client(server)
    usage = ok(
        c.get(
            "/v1/organizations/usage_report/messages",
            params={**WINDOW, "group_by[]": ["model", "service_tier"]},
        )
    )
    cost = ok(
        c.get("/v1/organizations/cost_report", params={**WINDOW, "group_by[]": ["description"]})
    )
    models = {r["model"] for r in usage["data"][0]["results"]}
    assert "claude-haiku-4-5-20251001" in models
    assert all(isinstance(r["amount"], str) for r in cost["data"][0]["results"])
    assert checks.cross_check_usage_cost([usage], [cost]) == []
    # A different price for the same tokens is a finding, not a crash.
    cost["data"][0]["results"][0]["amount"] = "999999"
    assert [f.check for f in checks.cross_check_usage_cost([usage], [cost])] == ["usage-cost"]


def test_report_limits_and_pagination(server: EmbeddedServer) -> None:
    c = client(server)
    assert (
        c.get(
            "/v1/organizations/usage_report/messages",
            params={**WINDOW, "bucket_width": "1h", "limit": 169},
        ).status
        == 400
    )
    assert (
        c.get("/v1/organizations/cost_report", params={**WINDOW, "bucket_width": "1h"}).status
        == 400
    )
    assert (
        c.get(
            "/v1/organizations/usage_report/messages", params={"group_by[]": "colour", **WINDOW}
        ).status
        == 400
    )

    def fetch(token: str | None) -> Any:
        params = {
            "starting_at": "2026-02-20T00:00:00Z",
            "ending_at": "2026-03-03T00:00:00Z",
            "limit": 3,
            **({"page": token} if token else {}),
        }
        return ok(c.get("/v1/organizations/usage_report/messages", params=params))

    pages, findings = checks.walk_report(fetch)
    assert not findings and len(pages) == 4
    assert sum(len(p["data"]) for p in pages) == 11


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("2026-03-01T02:00:00+02:00", "2026-03-01T00:00:00+00:00"),
        ("2026-03-01t00:00:00z", "2026-03-01T00:00:00+00:00"),
        ("2026-03-01", "2026-03-01T00:00:00+00:00"),
    ],
)
def test_report_times_are_read_as_the_checks_read_them(raw: str, utc: str) -> None:
    """The reference server reads query times with the checks' ``parse_rfc3339``, in UTC."""
    moment = parse_time(raw, "starting_at")
    assert moment is not None and moment.isoformat() == utc
    assert moment == parse_rfc3339(raw)


def test_a_bad_report_time_is_the_apis_400(server: EmbeddedServer) -> None:
    with pytest.raises(ApiError, match="starting_at: Input should be a valid RFC 3339"):
        parse_time("yesterday", "starting_at")
    ex = client(server).get(
        "/v1/organizations/usage_report/messages", params={**WINDOW, "starting_at": "yesterday"}
    )
    assert ex.status == 400
    assert "valid RFC 3339 datetime, got 'yesterday'" in ex.json["error"]["message"]


def test_prompt_tools(server: EmbeddedServer) -> None:
    c = ApiClient(
        Target(TargetKind.LIVE, server.url, DEFAULT_API_KEY, "2026-10-21"),
        features=("prompt_tools",),
    )
    body = ok(
        c.post(
            "/v1/experimental/templatize_prompt",
            json={"messages": [{"role": "user", "content": 'Say "hi" 2 times'}]},
        )
    )
    assert body["variable_values"] == {"QUOTED_TEXT_1": "hi", "NUMBER_1": "2"}
    no_beta = ApiClient(Target(TargetKind.LIVE, server.url, DEFAULT_API_KEY, "2026-10-21"))
    assert no_beta.post("/v1/experimental/generate_prompt", json={"task": "x"}).status == 400
    image = {"role": "user", "content": [{"type": "image", "source": {}}]}
    assert c.post("/v1/experimental/improve_prompt", json={"messages": [image]}).status == 400


# --- broken answers -------------------------------------------------------------------------------


def report_exchange(path: str, body: Any) -> Exchange:
    import json

    return Exchange(
        "GET",
        path,
        200,
        {"content-type": "application/json", "request-id": "req_1"},
        json.dumps(body).encode(),
    )


def bucket(start: str, end: str, rows: list[Any] | None = None) -> dict[str, Any]:
    return {"starting_at": start, "ending_at": end, "results": rows or []}


def messages(ex: Exchange) -> list[str]:
    return [f.format() for f in validate_exchange(ex).findings]


def test_overlapping_buckets_fail_readably() -> None:
    body = {
        "data": [
            bucket("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"),
            bucket("2026-03-01T12:00:00Z", "2026-03-02T12:00:00Z"),
        ],
        "has_more": False,
        "next_page": None,
    }
    got = messages(
        report_exchange(
            "/v1/organizations/usage_report/messages?starting_at=2026-03-01T00:00:00Z", body
        )
    )
    assert any("[report-buckets]" in m and "overlap" in m for m in got), got


def test_next_page_loop_is_a_finding_not_a_hang() -> None:
    calls = []

    def fetch(token: str | None) -> Any:
        calls.append(token)
        return {
            "data": [bucket("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")],
            "has_more": True,
            "next_page": "page_same",
        }

    _, findings = checks.walk_report(fetch)
    assert len(calls) == 2
    text = " ".join(f.format() for f in findings)
    assert "loops" in text and "repeats" in text, text


def test_float_amount_fails_readably() -> None:
    body = {
        "data": [
            bucket(
                "2026-03-01T00:00:00Z",
                "2026-03-02T00:00:00Z",
                [{"amount": 12.5, "currency": "USD"}],
            )
        ],
        "has_more": False,
        "next_page": None,
    }
    got = messages(report_exchange("/v1/organizations/cost_report?starting_at=2026-03-01", body))
    assert any("[decimal-amount]" in m and "decimal string in cents" in m for m in got), got
    assert any("schema:cost_report.json" in m for m in got), got


def test_invite_without_expiry_fails_readably() -> None:
    invite = {
        "id": "invite_1",
        "type": "invite",
        "email": "a@example.com",
        "role": "user",
        "status": "pending",
        "invited_at": "2026-03-01T00:00:00Z",
    }
    ex = report_exchange("/v1/organizations/invites/invite_1", invite)
    got = messages(ex)
    assert any("[invite-expiry]" in m and "no expires_at" in m for m in got), got
    early = {**invite, "expires_at": "2026-02-01T00:00:00Z"}
    assert "before it was sent" in checks.invite_findings(early)[0].message


def test_group_by_and_placeholders() -> None:
    rows = [
        {
            "uncached_input_tokens": 1,
            "cache_read_input_tokens": 0,
            "output_tokens": -1,
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            "server_tool_use": None,
            "model": None,
        }
    ]
    body = {
        "data": [bucket("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", rows)],
        "has_more": False,
        "next_page": None,
    }
    got = messages(
        report_exchange(
            "/v1/organizations/usage_report/messages?starting_at="
            "2026-03-01T00:00:00Z&group_by[]=model",
            body,
        )
    )
    assert any("[group-by]" in m and "model is null" in m for m in got), got
    assert any("[token-counts]" in m for m in got), got
    bad = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "{{name}}"}]}],
        "system": "",
        "usage": [],
        "variable_values": {"name": "x", "OTHER": "y"},
    }
    found = [f.message for f in prompt_tools.placeholder_findings(bad)]
    assert any("not {{UPPER_CASE}}" in m for m in found)
    assert any("'OTHER' has a value but no" in m for m in found)


# --- gating ---------------------------------------------------------------------------------------


def test_live_target_without_admin_key_skips_every_admin_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "not-an-admin-key")
    monkeypatch.setenv("ANTHROPIC_CONFORMANCE_FEATURES", "all,admin_write")
    result = pytester.runpytest(*SUITE)
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 14 and not outcomes.get("passed"), outcomes
    result.stdout.fnmatch_lines(["*no admin API key*set ANTHROPIC_ADMIN_API_KEY*"])


@pytest.mark.parametrize("features", ["all", "all,admin_write"])
def test_with_and_without_the_write_toggle(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, features: str
) -> None:
    monkeypatch.setenv("ANTHROPIC_CONFORMANCE_FEATURES", features)
    result = pytester.runpytest(*SUITE)
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    if features == "all":
        assert outcomes.get("skipped") == 4
        result.stdout.fnmatch_lines(["*feature admin_write is switched off*"])
    else:
        assert outcomes.get("passed") == 14 and not outcomes.get("skipped")


# --- nothing left behind --------------------------------------------------------------------------

INTERRUPTED = """
import pytest

@pytest.mark.feature("admin", "admin_write")
def test_interrupted(admin_api, admin_ledger, conformance_run_id):
    inv = admin_api.expect(admin_api.call("admin.invites.create",
        {"email": conformance_run_id + "+1@example.com", "role": "user"}))
    admin_ledger.register("invite", inv["id"])
    ws = admin_api.expect(admin_api.call("admin.workspaces.create",
                                         {"name": conformance_run_id + " ws"}))
    admin_ledger.register("workspace", ws["id"])
    raise KeyboardInterrupt
"""


def _leftovers(server: EmbeddedServer) -> list[str]:
    db = db_of(state_of(server.app))
    return [i["email"] for i in db.invites.values() if i["email"].startswith("conformance-")] + [
        w["name"]
        for w in db.workspaces.values()
        if w["name"].startswith("conformance-") and w["archived_at"] is None
    ]


def test_interrupted_run_leaves_nothing_after_teardown(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedServer() as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.url)
        monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", DEFAULT_ADMIN_API_KEY)
        monkeypatch.setenv("ANTHROPIC_CONFORMANCE_FEATURES", "admin,admin_write")
        pytester.makepyfile(INTERRUPTED)
        # A subprocess: an in-process KeyboardInterrupt would also stop this very run.
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
        )
        assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
        db = db_of(state_of(srv.app))
        assert any(w["name"].startswith("conformance-") for w in db.workspaces.values())
        assert _leftovers(srv) == []


def test_cleanup_finds_leftovers_by_the_run_marker(server: EmbeddedServer) -> None:
    c = client(server)
    marker = resources.new_run_id()
    ok(
        c.post(
            "/v1/organizations/invites", json={"email": f"{marker}+9@example.com", "role": "user"}
        )
    )
    ok(c.post("/v1/organizations/workspaces", json={"name": f"{marker} crashed"}))
    ok(c.post("/v1/organizations/workspaces", json={"name": "someone else's"}))
    skipped: list[str] = []  # a bare client holds the normal key: admin kinds are skipped
    assert (
        resources.cleanup(
            c, marker, dry_run=True, listings=resources.ADMIN_LISTINGS, skipped=skipped
        )
        == []
    )
    assert skipped == list(resources.ADMIN_LISTINGS)
    found = resources.cleanup(
        {resources.ADMIN_KEY: c}, marker, dry_run=False, listings=resources.ADMIN_LISTINGS
    )
    assert sorted(r.kind for r in found) == ["invite", "workspace"]
    assert not [x for x in _leftovers(server) if x.startswith(marker)]
    names = [
        w["name"]
        for w in db_of(state_of(server.app)).workspaces.values()
        if w["archived_at"] is None
    ]
    assert "someone else's" in names, "cleanup never touches unmarked resources"
