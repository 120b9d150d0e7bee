"""The Admin API: organization, users, invites, workspaces, members, API keys and the reports.

Read-only tests need the ``admin`` feature and an admin key (ANTHROPIC_ADMIN_API_KEY on a live
target); tests that write need ``admin_write`` too and only touch what they created in this run
(invites to ``<run marker>+n@example.com``, workspaces named with the run marker), registered
with ``admin_ledger`` so they are removed (archived) whatever happens. The one exception is the
no-op rename of the API key the user names with --anthropic-admin-rename-key-id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from conformance.api import MAX_PAGES, Api
from conformance.checks.admin import cross_check_usage_cost, walk_report
from conformance.checks.pagination import check_pagination_walk
from conformance.exchange import raise_for_findings
from conformance.resources import ResourceLedger
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("admin")

#: The tests that change the organization (its invites, workspaces and members, an API key's
#: name) run one after another on one xdist worker (``anthropic-conformance run -n N`` spreads
#: with ``--dist loadgroup``): one org, one admin rate budget, and a member added to a
#: workspace is one of the org's users, whom a second lifecycle at the same time could take.
ORG_WRITES = pytest.mark.xdist_group("admin-org-writes")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def report_range(target: RunTarget) -> tuple[datetime, datetime]:
    """Four days of report on the target's clock (the reference server's is fixed, so cassettes
    replay): complete UTC days where reports lag (the real API), up to the end of today where
    they count a message at once."""
    end = target.now().replace(hour=0, minute=0, second=0, microsecond=0)
    if target.reports_usage_at_once:
        end += timedelta(days=1)
    return end - timedelta(days=4), end


def _report(admin_api: Api, endpoint: str, params: dict[str, Any]) -> Any:
    return admin_api.expect(admin_api.call(endpoint, params=params))


def _walk_report(admin_api: Api, endpoint: str, params: dict[str, Any]) -> list[Any]:
    def fetch(token: str | None) -> Any:
        return _report(admin_api, endpoint, {**params, **({"page": token} if token else {})})

    pages, findings = walk_report(fetch, MAX_PAGES)
    raise_for_findings(findings, f"walking {endpoint} with next_page")
    return pages


# --- read only ------------------------------------------------------------------------------------


def test_organization_me(admin_api: Api) -> None:
    org = admin_api.expect(admin_api.call("admin.organizations.me"))
    assert org["type"] == "organization" and org["id"]


def test_users_list_walk_and_get(admin_api: Api) -> None:
    pages = admin_api.walk("admin.users.list", limit=2)
    raise_for_findings(check_pagination_walk(pages), "walking users with limit=2")
    first = pages[0].json["data"][0]
    got = admin_api.expect(admin_api.call("admin.users.retrieve", user_id=first["id"]))
    assert got == first, "a user reads back as listed"


def test_workspaces_and_api_keys_list(admin_api: Api) -> None:
    admin_api.expect(admin_api.call("admin.workspaces.list", params={"include_archived": "true"}))
    keys = admin_api.expect(admin_api.call("admin.api_keys.list", params={"limit": 5}))
    for key in keys["data"]:
        assert "key" not in key and "secret" not in key, "the Admin API never returns a secret"
    if keys["data"]:
        one = keys["data"][0]
        got = admin_api.expect(admin_api.call("admin.api_keys.retrieve", api_key_id=one["id"]))
        assert got["id"] == one["id"]


def test_invites_list(admin_api: Api) -> None:
    admin_api.expect(admin_api.call("admin.invites.list", params={"limit": 10}))


def test_usage_report_grouped(admin_api: Api, conformance_target: RunTarget) -> None:
    start, end = report_range(conformance_target)
    report = _report(
        admin_api,
        "admin.usage_report.messages",
        {
            "starting_at": iso(start),
            "ending_at": iso(end),
            "bucket_width": "1d",
            "group_by[]": ["model", "workspace_id"],
        },
    )
    assert len(report["data"]) == 4, "four 1d buckets for four days"


def test_usage_report_pagination(admin_api: Api, conformance_target: RunTarget) -> None:
    start, end = report_range(conformance_target)
    pages = _walk_report(
        admin_api,
        "admin.usage_report.messages",
        {"starting_at": iso(start), "ending_at": iso(end), "bucket_width": "1d", "limit": 1},
    )
    assert sum(len(p["data"]) for p in pages) == 4, "the walk covers the four days, once each"


def test_usage_report_hourly(admin_api: Api, conformance_target: RunTarget) -> None:
    start, _ = report_range(conformance_target)
    report = _report(
        admin_api,
        "admin.usage_report.messages",
        {"starting_at": iso(start), "bucket_width": "1h", "limit": 3},
    )
    assert len(report["data"]) <= 3


def test_cost_report_matches_usage(api: Api, admin_api: Api, conformance_target: RunTarget) -> None:
    # A little usage of our own first: the report's checks (amounts are decimal strings...)
    # only bite on rows. (A live API reports it later; its recent days have rows anyway.)
    api.expect(
        api.call("messages.create", api.message_body("Reply with exactly: ok", max_tokens=8))
    )
    start, end = report_range(conformance_target)
    window = {"starting_at": iso(start), "ending_at": iso(end)}
    usage = _walk_report(
        admin_api,
        "admin.usage_report.messages",
        {**window, "bucket_width": "1d", "group_by[]": ["model", "service_tier"]},
    )
    cost = _walk_report(
        admin_api, "admin.cost_report", {**window, "group_by[]": ["description"], "limit": 2}
    )
    rows = sum(len(bucket["results"]) for page in cost for bucket in page["data"])
    if not rows and not conformance_target.reports_usage_at_once:
        pytest.skip(
            f"the organization has no cost from {iso(start)} to {iso(end)}: nothing to cross-check"
        )
    assert rows, "the cost report has no rows for days that have usage"
    raise_for_findings(
        cross_check_usage_cost(usage, cost), "usage report x list prices vs cost report"
    )


def test_claude_code_report(admin_api: Api, conformance_target: RunTarget) -> None:
    _, end = report_range(conformance_target)
    day = (end - timedelta(days=2)).strftime("%Y-%m-%d")
    pages = _walk_report(
        admin_api, "admin.usage_report.claude_code", {"starting_at": day, "limit": 2}
    )
    assert all(isinstance(p["data"], list) for p in pages)


@pytest.mark.feature("errors")
def test_admin_endpoint_rejects_a_normal_key(api: Api) -> None:
    ex = api.call("admin.organizations.me")
    assert ex.status in (401, 403), f"a normal API key must not reach the Admin API: {ex.status}"
    api.expect_error(ex, ex.status)


# --- writes ---------------------------------------------------------------------------------------


@pytest.mark.feature("admin_write")
@ORG_WRITES
def test_invite_lifecycle(
    admin_api: Api, admin_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    email = f"{conformance_run_id}+invite1@example.com"
    ex = admin_api.call("admin.invites.create", {"email": email, "role": "user"})
    admin_ledger.register_created("invite", ex, label=email)  # before judging: it exists
    invite = admin_api.expect(ex)
    assert invite["email"] == email and invite["status"] == "pending"
    got = admin_api.expect(admin_api.call("admin.invites.retrieve", invite_id=invite["id"]))
    assert got["id"] == invite["id"]
    deleted = admin_api.expect(admin_api.call("admin.invites.delete", invite_id=invite["id"]))
    assert deleted == {**deleted, "id": invite["id"], "type": "invite_deleted"}


@pytest.mark.feature("admin_write")
@ORG_WRITES
def test_workspace_and_members_lifecycle(
    admin_api: Api, admin_ledger: ResourceLedger, conformance_run_id: str
) -> None:
    ex = admin_api.call("admin.workspaces.create", {"name": f"{conformance_run_id} ws"})
    admin_ledger.register_created("workspace", ex, label=f"{conformance_run_id} ws")
    ws = admin_api.expect(ex)
    assert ws["archived_at"] is None
    renamed = admin_api.expect(
        admin_api.call(
            "admin.workspaces.update", {"name": f"{conformance_run_id} ws2"}, workspace_id=ws["id"]
        )
    )
    assert renamed["name"] == f"{conformance_run_id} ws2"
    users = admin_api.expect(admin_api.call("admin.users.list", params={"limit": 100}))["data"]
    candidates = [u for u in users if u["role"] in ("user", "developer")]
    if candidates:
        uid = candidates[0]["id"]
        ex = admin_api.call(
            "admin.workspace_members.create",
            {"user_id": uid, "workspace_role": "workspace_user"},
            workspace_id=ws["id"],
        )
        if ex.status == 200:  # registered before judging; the member's id is the user's
            admin_ledger.register("workspace_member", uid, parent=ws["id"])
        member = admin_api.expect(ex)
        assert member["workspace_role"] == "workspace_user"
        admin_api.expect(admin_api.call("admin.workspace_members.list", workspace_id=ws["id"]))
        updated = admin_api.expect(
            admin_api.call(
                "admin.workspace_members.update",
                {"workspace_role": "workspace_developer"},
                workspace_id=ws["id"],
                user_id=uid,
            )
        )
        assert updated["workspace_role"] == "workspace_developer"
        admin_api.expect(
            admin_api.call("admin.workspace_members.delete", workspace_id=ws["id"], user_id=uid)
        )
    archived = admin_api.expect(admin_api.call("admin.workspaces.archive", workspace_id=ws["id"]))
    assert archived["archived_at"], "an archived workspace has archived_at set"
    for resource in list(admin_ledger):
        admin_ledger.discard(resource)  # removed above; teardown has nothing left to do


@pytest.mark.feature("admin_write")
@ORG_WRITES
def test_api_key_rename_is_a_noop_round_trip(
    admin_api: Api, admin_rename_key_id: str | None
) -> None:
    if admin_rename_key_id is None:
        pytest.skip(
            "no API key named for the rename round trip: set "
            "ANTHROPIC_ADMIN_RENAME_KEY_ID (or --anthropic-admin-rename-key-id)"
        )
    before = admin_api.expect(
        admin_api.call("admin.api_keys.retrieve", api_key_id=admin_rename_key_id)
    )
    after = admin_api.expect(
        admin_api.call(
            "admin.api_keys.update", {"name": before["name"]}, api_key_id=admin_rename_key_id
        )
    )
    assert (after["name"], after["status"]) == (before["name"], before["status"])


@pytest.mark.feature("admin_write", "errors")
@ORG_WRITES
def test_update_unknown_user_is_not_found(admin_api: Api) -> None:
    admin_api.expect_error(
        admin_api.call(
            "admin.users.update", {"role": "user"}, user_id="user_conformanceDoesNotExist"
        ),
        404,
    )
