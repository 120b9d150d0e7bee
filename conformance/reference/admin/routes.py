"""The Admin API's routes (``/v1/organizations/...``): the admin gate, organization, users,
invites, workspaces and their members, API keys, and the report routes of ``reports``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request

from conformance import catalog
from conformance.reference.admin import reports
from conformance.reference.admin.org import (
    INVITE_TTL,
    ORGANIZATION_NAME,
    REFERENCE_WORKSPACE_ID,
    clock,
    db_of,
    iso,
    new_member,
    new_workspace,
    shaped,
)
from conformance.reference.auth import RequestContext, check_version, presented_key, read_json
from conformance.reference.errors import ApiError, invalid, not_found
from conformance.reference.paging import id_page, listed
from conformance.reference.routing import Answer, JsonAnswer, RouteSpec
from conformance.reference.state import ORGANIZATION_ID

USER_ROLES_2023 = ("user", "developer", "billing", "admin", "claude_code_user")
USER_ROLES_2026 = (*USER_ROLES_2023, "managed", "membership_admin", "owner", "primary_owner")
INVITE_ROLES = ("user", "developer", "billing", "claude_code_user", "managed")
WORKSPACE_ROLES = (
    "workspace_user",
    "workspace_developer",
    "workspace_admin",
    "workspace_billing",
    "workspace_restricted_developer",
)
KEY_STATUSES = ("active", "inactive", "archived")


# --- the gate and request bodies ------------------------------------------------------------------


def _string_field(
    body: dict[str, Any], name: str, *, required: bool, max_len: int = 500
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"{name}: Field required")
        return None
    if not isinstance(value, str):
        raise invalid(f"{name}: Input should be a valid string")
    if not value.strip() and required:
        raise invalid(f"{name}: String should have at least 1 character")
    if len(value) > max_len:
        raise invalid(f"{name}: String should have at most {max_len} characters")
    return value


def _only(body: dict[str, Any], allowed: Iterable[str]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise invalid(f"{extra[0]}: Extra inputs are not permitted")


def check_admin(request: Request, ctx: RequestContext) -> None:
    """401 without a known key; 403 for a normal API key (admin routes take admin keys only)."""
    key = presented_key(request)
    if key is None:
        raise ApiError(401, "x-api-key header is required")
    if key in ctx.config.api_keys and key not in ctx.config.admin_api_keys:
        raise ApiError(
            403,
            "This endpoint requires an Admin API key; a regular API key cannot "
            "access /v1/organizations",
        )
    if key not in ctx.config.admin_api_keys:
        raise ApiError(401, "invalid x-api-key")
    ctx.api_key = key
    check_version(request, ctx)


def _found(table: dict[str, dict[str, Any]], key: str, what: str) -> dict[str, Any]:
    obj = table.get(key)
    if obj is None:
        raise not_found(f"{what} not found: {key}")
    return obj


# --- organization and users -----------------------------------------------------------------------


async def organization_me(request: Request, ctx: RequestContext) -> Answer:
    return JsonAnswer({"id": ORGANIZATION_ID, "type": "organization", "name": ORGANIZATION_NAME})


async def list_users(request: Request, ctx: RequestContext) -> Answer:
    users = list(db_of(ctx.state).users.values())
    email = request.query_params.get("email")
    if email:
        users = [u for u in users if u["email"].lower() == email.lower()]
    roles = listed(request.query_params, "roles")
    if roles:
        users = [u for u in users if u["role"] in roles]
    return JsonAnswer(id_page(users, request.query_params))


async def get_user(request: Request, ctx: RequestContext) -> Answer:
    return JsonAnswer(_found(db_of(ctx.state).users, request.path_params["user_id"], "user"))


async def update_user(request: Request, ctx: RequestContext) -> Answer:
    user = _found(db_of(ctx.state).users, request.path_params["user_id"], "user")
    body = await read_json(request)
    _only(body, ("role",))
    role = _string_field(body, "role", required=True)
    roles = USER_ROLES_2023 if ctx.version == catalog.VERSION_2023 else USER_ROLES_2026
    if role not in roles or role in ("admin", "owner", "primary_owner"):
        raise invalid(f"role: '{role}' cannot be assigned through the API")
    if user["role"] in ("admin", "owner", "primary_owner"):
        raise invalid("the role of an organization admin cannot be changed through the API")
    user["role"] = role
    return JsonAnswer(user)


async def delete_user(request: Request, ctx: RequestContext) -> Answer:
    db = db_of(ctx.state)
    uid = request.path_params["user_id"]
    user = _found(db.users, uid, "user")
    if user["role"] in ("admin", "owner", "primary_owner"):
        raise invalid("organization admins cannot be removed through the API")
    del db.users[uid]
    for key in [k for k in db.members if k[1] == uid]:
        del db.members[key]
    return JsonAnswer({"id": uid, "type": "user_deleted"})


# --- invites --------------------------------------------------------------------------------------


def _invite_view(invite: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    expired = invite["status"] == "pending" and invite["expires_at"] <= iso(clock(ctx))
    return shaped({**invite, "status": "expired"} if expired else invite, ctx.version)


async def create_invite(request: Request, ctx: RequestContext) -> Answer:
    db = db_of(ctx.state)
    body = await read_json(request)
    allowed = (
        ("email", "role")
        if ctx.version == catalog.VERSION_2023
        else ("email", "role", "rbac_group_ids")
    )
    _only(body, allowed)
    email = _string_field(body, "email", required=True, max_len=320) or ""
    role = _string_field(body, "role", required=True) or ""
    local, _, domain = email.partition("@")
    if not local or "." not in domain:
        raise invalid(f"email: '{email}' is not a valid email address")
    if role not in INVITE_ROLES:
        raise invalid(f"role: Input should be {', '.join(map(repr, INVITE_ROLES))}")
    if any(u["email"].lower() == email.lower() for u in db.users.values()):
        raise invalid(f"email: {email} is already a member of the organization")
    groups = body.get("rbac_group_ids") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise invalid("rbac_group_ids: Input should be a valid list of strings")
    now = clock(ctx)
    iid = ctx.state.make_id(catalog.ID_PREFIXES["invite"] + "01", "invite", ctx.serial)
    db.invites[iid] = {
        "id": iid,
        "type": "invite",
        "email": email,
        "role": role,
        "status": "pending",
        "invited_at": iso(now),
        "expires_at": iso(now + INVITE_TTL),
        "accepted_at": None,
        "rbac_group_ids": groups,
    }
    return JsonAnswer(_invite_view(db.invites[iid], ctx))


async def list_invites(request: Request, ctx: RequestContext) -> Answer:
    invites = [_invite_view(i, ctx) for i in db_of(ctx.state).invites.values()]
    query = request.query_params
    if query.get("email"):
        invites = [i for i in invites if i["email"].lower() == str(query["email"]).lower()]
    for name, key in (("roles", "role"), ("statuses", "status")):
        wanted = listed(query, name)
        if wanted:
            invites = [i for i in invites if i[key] in wanted]
    return JsonAnswer(id_page(invites, query))


async def get_invite(request: Request, ctx: RequestContext) -> Answer:
    invite = _found(db_of(ctx.state).invites, request.path_params["invite_id"], "invite")
    return JsonAnswer(_invite_view(invite, ctx))


async def delete_invite(request: Request, ctx: RequestContext) -> Answer:
    db = db_of(ctx.state)
    iid = request.path_params["invite_id"]
    _found(db.invites, iid, "invite")
    del db.invites[iid]
    return JsonAnswer({"id": iid, "type": "invite_deleted"})


# --- workspaces and members -----------------------------------------------------------------------


def _workspace_fields(body: dict[str, Any], ctx: RequestContext, *, create: bool) -> dict[str, Any]:
    allowed = (
        ["name", "display_color"]
        if ctx.version == catalog.VERSION_2023
        else ["name", "display_color", "data_residency", "tags"]
    )
    _only(body, allowed)
    out: dict[str, Any] = {}
    name = _string_field(body, "name", required=create, max_len=40)
    if name is not None:
        out["name"] = name
    color = _string_field(body, "display_color", required=False, max_len=7)
    if color is not None:
        out["display_color"] = color
    if "tags" in body:
        if not isinstance(body["tags"], dict):
            raise invalid("tags: Input should be a valid dictionary")
        out["tags"] = body["tags"]
    if "data_residency" in body:
        if not isinstance(body["data_residency"], dict):
            raise invalid("data_residency: Input should be a valid dictionary")
        out["data_residency"] = body["data_residency"]
    return out


async def create_workspace(request: Request, ctx: RequestContext) -> Answer:
    db = db_of(ctx.state)
    fields = _workspace_fields(await read_json(request), ctx, create=True)
    wid = ctx.state.make_id(catalog.ID_PREFIXES["workspace"] + "01", "workspace", ctx.serial)
    color = fields.pop("display_color", "#" + hashlib.sha256(wid.encode()).hexdigest()[:6])
    residency = fields.pop("data_residency", None)
    db.workspaces[wid] = {
        **new_workspace(wid, fields.pop("name"), clock(ctx), color, residency),
        **fields,
    }
    return JsonAnswer(shaped(db.workspaces[wid], ctx.version))


async def list_workspaces(request: Request, ctx: RequestContext) -> Answer:
    archived = str(request.query_params.get("include_archived", "false")).lower() == "true"
    items = [
        shaped(w, ctx.version)
        for w in db_of(ctx.state).workspaces.values()
        if archived or w["archived_at"] is None
    ]
    return JsonAnswer(id_page(items, request.query_params))


def _workspace_of(request: Request, ctx: RequestContext) -> dict[str, Any]:
    return _found(db_of(ctx.state).workspaces, request.path_params["workspace_id"], "workspace")


async def get_workspace(request: Request, ctx: RequestContext) -> Answer:
    return JsonAnswer(shaped(_workspace_of(request, ctx), ctx.version))


async def update_workspace(request: Request, ctx: RequestContext) -> Answer:
    workspace = _workspace_of(request, ctx)
    fields = _workspace_fields(await read_json(request), ctx, create=False)
    if workspace["archived_at"] is not None:
        raise invalid("an archived workspace cannot be updated")
    workspace.update(fields)
    return JsonAnswer(shaped(workspace, ctx.version))


async def archive_workspace(request: Request, ctx: RequestContext) -> Answer:
    workspace = _workspace_of(request, ctx)
    if workspace["id"] == REFERENCE_WORKSPACE_ID:
        raise invalid("this workspace has active API keys and cannot be archived")
    if workspace["archived_at"] is None:  # archiving twice keeps the first time (idempotent)
        workspace["archived_at"] = iso(clock(ctx))
    return JsonAnswer(shaped(workspace, ctx.version))


async def add_member(request: Request, ctx: RequestContext) -> Answer:
    db = db_of(ctx.state)
    workspace = _workspace_of(request, ctx)
    body = await read_json(request)
    _only(body, ("user_id", "workspace_role"))
    uid = _string_field(body, "user_id", required=True) or ""
    role = _string_field(body, "workspace_role", required=True) or ""
    if role not in WORKSPACE_ROLES or role == "workspace_billing":
        raise invalid(f"workspace_role: '{role}' cannot be assigned when adding a member")
    if workspace["archived_at"] is not None:
        raise invalid("members cannot be added to an archived workspace")
    _found(db.users, uid, "user")
    key = (workspace["id"], uid)
    if key in db.members:
        raise invalid(f"user {uid} is already a member of workspace {workspace['id']}")
    db.members[key] = new_member(workspace["id"], uid, role)
    return JsonAnswer(db.members[key])


async def list_members(request: Request, ctx: RequestContext) -> Answer:
    wid = _workspace_of(request, ctx)["id"]
    items = [m for (w, _), m in db_of(ctx.state).members.items() if w == wid]
    return JsonAnswer(id_page(items, request.query_params, id_key="user_id"))


def _member_of(request: Request, ctx: RequestContext) -> tuple[tuple[str, str], dict[str, Any]]:
    wid = _workspace_of(request, ctx)["id"]
    key = (wid, str(request.path_params["user_id"]))
    member = db_of(ctx.state).members.get(key)
    if member is None:
        raise not_found(f"workspace member not found: {key[1]} in {wid}")
    return key, member


async def get_member(request: Request, ctx: RequestContext) -> Answer:
    return JsonAnswer(_member_of(request, ctx)[1])


async def update_member(request: Request, ctx: RequestContext) -> Answer:
    _, member = _member_of(request, ctx)
    body = await read_json(request)
    _only(body, ("workspace_role",))
    role = _string_field(body, "workspace_role", required=True) or ""
    if role not in WORKSPACE_ROLES:
        raise invalid(f"workspace_role: Input should be {', '.join(map(repr, WORKSPACE_ROLES))}")
    member["workspace_role"] = role
    return JsonAnswer(member)


async def remove_member(request: Request, ctx: RequestContext) -> Answer:
    key, _ = _member_of(request, ctx)
    del db_of(ctx.state).members[key]
    return JsonAnswer(
        {"type": "workspace_member_deleted", "workspace_id": key[0], "user_id": key[1]}
    )


# --- API keys -------------------------------------------------------------------------------------


async def list_api_keys(request: Request, ctx: RequestContext) -> Answer:
    query = request.query_params
    keys = list(db_of(ctx.state).api_keys.values())
    if query.get("status"):
        keys = [k for k in keys if k["status"] == query["status"]]
    if query.get("workspace_id"):
        keys = [k for k in keys if k["workspace_id"] == query["workspace_id"]]
    if query.get("created_by_user_id"):
        keys = [k for k in keys if (k["created_by"] or {}).get("id") == query["created_by_user_id"]]
    return JsonAnswer(id_page([shaped(k, ctx.version) for k in keys], query))


async def get_api_key(request: Request, ctx: RequestContext) -> Answer:
    key = _found(db_of(ctx.state).api_keys, request.path_params["api_key_id"], "api_key")
    return JsonAnswer(shaped(key, ctx.version))


async def update_api_key(request: Request, ctx: RequestContext) -> Answer:
    key = _found(db_of(ctx.state).api_keys, request.path_params["api_key_id"], "api_key")
    body = await read_json(request)
    _only(body, ("name", "status"))
    name = _string_field(body, "name", required=False)
    status = _string_field(body, "status", required=False)
    if name is not None and not name.strip():
        raise invalid("name: String should have at least 1 character")
    if status is not None and status not in KEY_STATUSES:
        raise invalid(f"status: Input should be {', '.join(map(repr, KEY_STATUSES))}")
    if key["status"] == "archived":
        raise invalid("an archived API key cannot be updated")
    if name is not None:
        key["name"] = name
    if status is not None:
        key["status"] = status
    return JsonAnswer(shaped(key, ctx.version))


# --- routes ---------------------------------------------------------------------------------------

Handler = Callable[[Request, RequestContext], Awaitable[Answer]]


def _admin_route(endpoint: str, handler: Handler) -> RouteSpec:
    """A route behind the admin gate (admin key, then version) instead of the normal one."""

    async def gated(request: Request, ctx: RequestContext) -> Answer:
        check_admin(request, ctx)
        return await handler(request, ctx)

    return RouteSpec(endpoint, gated, authenticated=False)


ROUTES: list[RouteSpec] = [
    _admin_route(name, handler)
    for name, handler in (
        ("admin.organizations.me", organization_me),
        ("admin.users.list", list_users),
        ("admin.users.retrieve", get_user),
        ("admin.users.update", update_user),
        ("admin.users.delete", delete_user),
        ("admin.invites.create", create_invite),
        ("admin.invites.list", list_invites),
        ("admin.invites.retrieve", get_invite),
        ("admin.invites.delete", delete_invite),
        ("admin.workspaces.create", create_workspace),
        ("admin.workspaces.list", list_workspaces),
        ("admin.workspaces.retrieve", get_workspace),
        ("admin.workspaces.update", update_workspace),
        ("admin.workspaces.archive", archive_workspace),
        ("admin.workspace_members.create", add_member),
        ("admin.workspace_members.list", list_members),
        ("admin.workspace_members.retrieve", get_member),
        ("admin.workspace_members.update", update_member),
        ("admin.workspace_members.delete", remove_member),
        ("admin.api_keys.list", list_api_keys),
        ("admin.api_keys.retrieve", get_api_key),
        ("admin.api_keys.update", update_api_key),
        ("admin.usage_report.messages", reports.usage_report),
        ("admin.usage_report.claude_code", reports.claude_code_report),
        ("admin.cost_report", reports.cost_report),
    )
]
