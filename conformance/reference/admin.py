"""Routes of the Admin API (``/v1/organizations/...``): users, invites, workspaces, members,
API keys, and the usage / Claude Code / cost reports.

Everything is stateful per app and deterministic: seeded objects have fixed ids, new ones derive
from the request serial, and time is the reference clock (``REFERENCE_NOW`` + serial seconds), so
recorded cassettes and report windows are the same on every run. ``ReferenceConfig.now`` moves
that clock (``serve`` and ``mutation-score`` use the wall clock: a live-mode suite asks for the
days before *today*, which must hold the seeded history). The reports are computed from
``AdminDb.usage``: a seeded history plus every message the server itself answered (``note_usage``
is called by the app after each answer), so usage and cost reports agree for real and the
suite's usage<->cost cross-check is exercised against data, not constants.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from conformance import catalog
from conformance.reference.auth import RequestContext, check_version, presented_key, read_json
from conformance.reference.errors import ApiError, invalid, not_found
from conformance.reference.paging import id_page, parse_limit
from conformance.reference.routing import Answer, JsonAnswer, RouteSpec, StreamAnswer
from conformance.reference.state import (
    DEFAULT_API_KEY,
    ORGANIZATION_ID,
    ReferenceState,
    stable_token,
)

#: The reference server's "now": fixed, so report windows and timestamps replay byte for byte.
REFERENCE_NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
#: Days of seeded usage before REFERENCE_NOW's day (reports have data without any message sent).
HISTORY_DAYS = 10
INVITE_TTL = timedelta(days=21)
ORGANIZATION_NAME = "Reference Organization"


def seeded_id(kind: str, *parts: object) -> str:
    """A seeded object's id: the catalog prefix of ``kind``, ``01`` and a stable tail."""
    return catalog.ID_PREFIXES[kind] + "01" + stable_token("reference", *parts, length=22)


#: The /v1/messages answers of the normal reference key are attributed to this seeded key.
REFERENCE_KEY_ID = seeded_id("api_key", "api_key", 0)
#: The workspace the reference key lives in.
REFERENCE_WORKSPACE_ID = seeded_id("workspace", "workspace", 0)

#: bucket width -> (length, default limit, max limit) (api-contract.md §9).
BUCKETS: dict[str, tuple[timedelta, int, int]] = {
    "1d": (timedelta(days=1), 7, 31),
    "1h": (timedelta(hours=1), 24, 168),
    "1m": (timedelta(minutes=1), 60, 1440),
}
USAGE_DIMENSIONS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window",
                    "inference_geo")
USAGE_GROUP_BY = (*USAGE_DIMENSIONS, "speed", "account_id", "service_account_id")
COST_GROUP_BY = ("workspace_id", "description")
#: Usage filters the reference understands: query key -> ledger dimension.
USAGE_FILTERS = {"api_key_ids": "api_key_id", "workspace_ids": "workspace_id",
                 "models": "model", "service_tiers": "service_tier",
                 "context_window": "context_window", "inference_geos": "inference_geo"}

USER_ROLES_2023 = ("user", "developer", "billing", "admin", "claude_code_user")
USER_ROLES_2026 = (*USER_ROLES_2023, "managed", "membership_admin", "owner", "primary_owner")
INVITE_ROLES = ("user", "developer", "billing", "claude_code_user", "managed")
WORKSPACE_ROLES = ("workspace_user", "workspace_developer", "workspace_admin",
                   "workspace_billing", "workspace_restricted_developer")
KEY_STATUSES = ("active", "inactive", "archived")

#: Keys only the 2026-10-21 shapes carry, per object type (api-contract.md §9).
NEWER_KEYS: dict[str, tuple[str, ...]] = {
    "invite": ("accepted_at", "rbac_group_ids"),
    "workspace": ("data_residency", "tags", "compartment_id", "external_key_id",
                  "user_profile_id"),
    "api_key": ("expires_at", "scope", "principal"),
}

TOKEN_LABELS = {
    "uncached_input_tokens": "Input Tokens",
    "output_tokens": "Output Tokens",
    "cache_read_input_tokens": "Cache Read Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "Cache Write (5m) Tokens",
    "cache_creation.ephemeral_1h_input_tokens": "Cache Write (1h) Tokens",
}
BATCH_DISCOUNT = Decimal("0.5")


# --- time and small helpers -----------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """RFC 3339 with a ``Z``, second precision (the API's style)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock(ctx: RequestContext) -> datetime:
    """The reference time of this request: deterministic, strictly increasing within a day."""
    return db_of(ctx.state).now + timedelta(seconds=ctx.serial % 36_000)


def _number(*parts: object, lo: int, hi: int) -> int:
    """A deterministic integer in [lo, hi] derived from ``parts`` (seeded history)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return lo + int.from_bytes(digest[:8], "big") % (hi - lo + 1)


def parse_time(raw: str | None, name: str) -> datetime | None:
    """An RFC 3339 query value (``Z`` or an offset; a bare date means midnight UTC)."""
    if raw is None or raw == "":
        return None
    text = raw.strip().replace("z", "Z")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(f"{name}: Input should be a valid RFC 3339 datetime, got '{raw}'") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def listed(query: QueryParams, name: str) -> list[str]:
    """All values of an array query parameter, sent as ``name[]`` (SDKs) or ``name``."""
    return [v for key in (f"{name}[]", name) for v in query.getlist(key) if v != ""]


def _string_field(body: dict[str, Any], name: str, *, required: bool, max_len: int = 500
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


# --- the database ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRecord:
    """One answered message (or one seeded slice of history), as the usage ledger keeps it."""

    at: datetime
    api_key_id: str | None
    workspace_id: str | None
    model: str
    service_tier: str = "standard"
    context_window: str = "0-200k"
    inference_geo: str = "not_available"
    uncached_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_5m: int = 0
    cache_creation_1h: int = 0
    output_tokens: int = 0
    web_search_requests: int = 0

    def tokens(self) -> dict[str, int]:
        """Token counts by the cost report's token_type names."""
        return {
            "uncached_input_tokens": self.uncached_input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation.ephemeral_5m_input_tokens": self.cache_creation_5m,
            "cache_creation.ephemeral_1h_input_tokens": self.cache_creation_1h,
        }


@dataclass
class AdminDb:
    """The organization one reference app serves (all maps keep insertion order = list order)."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    invites: dict[str, dict[str, Any]] = field(default_factory=dict)
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    api_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage: list[UsageRecord] = field(default_factory=list)
    #: The organization's "now": seeded history ends the day before it.
    now: datetime = REFERENCE_NOW


SEEDED_USERS = (
    ("Ada Admin", "admin@example.com", "admin"),
    ("Dev Eloper", "developer@example.com", "developer"),
    ("Una User", "user@example.com", "user"),
    ("Bill Ing", "billing@example.com", "billing"),
    ("Cody Coder", "claude-code@example.com", "claude_code_user"),
)


def seeded_user_id(n: int) -> str:
    return seeded_id("user", "user", n)


def _seed_history(db: AdminDb) -> None:
    """Deterministic usage for the HISTORY_DAYS before ``db.now``'s day, two slices a day."""
    day0 = db.now.replace(hour=0, minute=0, second=0) - timedelta(days=HISTORY_DAYS)
    keys = list(db.api_keys.values())
    models = catalog.MODELS[:3]
    for d in range(HISTORY_DAYS):
        for hour in (9, 15):
            key = keys[(d + hour) % 2]
            model = models[(d * 3 + hour) % len(models)]
            db.usage.append(UsageRecord(
                at=day0 + timedelta(days=d, hours=hour, minutes=_number(d, hour, lo=0, hi=59)),
                api_key_id=key["id"], workspace_id=key["workspace_id"], model=model.id,
                service_tier="batch" if hour == 15 and d % 3 == 0 else "standard",
                uncached_input_tokens=_number("in", d, hour, lo=200, hi=40_000),
                cache_read_input_tokens=_number("cr", d, hour, lo=0, hi=20_000),
                cache_creation_5m=_number("c5", d, hour, lo=0, hi=5_000),
                cache_creation_1h=_number("c1", d, hour, lo=0, hi=2_000) if d % 2 else 0,
                output_tokens=_number("out", d, hour, lo=50, hi=8_000),
                web_search_requests=_number("ws", d, hour, lo=0, hi=3)))


def _seed(now: datetime = REFERENCE_NOW) -> AdminDb:
    db = AdminDb(now=now)
    added = now - timedelta(days=400)
    for n, (name, email, role) in enumerate(SEEDED_USERS):
        uid = seeded_user_id(n)
        db.users[uid] = {"id": uid, "type": "user", "email": email, "name": name, "role": role,
                         "added_at": iso(added + timedelta(days=n))}
    db.workspaces[REFERENCE_WORKSPACE_ID] = _workspace(
        REFERENCE_WORKSPACE_ID, "Reference workspace", now - timedelta(days=300),
        "#6C5BB9", None)
    for uid, role in ((seeded_user_id(1), "workspace_developer"),
                      (seeded_user_id(2), "workspace_user")):
        db.members[(REFERENCE_WORKSPACE_ID, uid)] = _member(REFERENCE_WORKSPACE_ID, uid, role)
    creator = seeded_user_id(0)
    for n, (name, status, workspace) in enumerate((
            ("Reference key", "active", REFERENCE_WORKSPACE_ID),
            ("Default workspace key", "active", None),
            ("Old CI key", "inactive", None))):
        kid = REFERENCE_KEY_ID if n == 0 else seeded_id("api_key", "api_key", n)
        db.api_keys[kid] = {
            "id": kid, "type": "api_key", "name": name,
            "created_at": iso(now - timedelta(days=200 - n)),
            "created_by": {"id": creator, "type": "user"},
            "partial_key_hint": f"ref-{n}...{stable_token('hint', n, length=4)}",
            "status": status, "workspace_id": workspace, "expires_at": None,
            "scope": ({"type": "workspace", "workspace_id": workspace} if workspace
                      else {"type": "organization"}),
            "principal": {"type": "user_actor", "user_id": creator},
        }
    _seed_history(db)
    return db


def inventory(state: ReferenceState) -> dict[str, list[str]]:
    """What clients created and is still live: invites, workspaces not archived and their
    memberships. The seeded organization (users, keys, the reference workspace) is not counted."""
    if not state.stores.get("admin"):
        return {}
    db = db_of(state)
    live = [w["id"] for w in db.workspaces.values()
            if w["archived_at"] is None and w["id"] != REFERENCE_WORKSPACE_ID]
    found = {"invite": list(db.invites),
             "workspace": live,
             "workspace_member": [f"{w}/{u}" for (w, u) in db.members if w in live]}
    return {kind: ids for kind, ids in found.items() if ids}


def db_of(state: ReferenceState) -> AdminDb:
    """The organization of ``state``, seeded on first use."""
    store = state.store("admin")
    db = store.get("db")
    if db is None:
        db = store.setdefault("db", _seed(store.get("now") or REFERENCE_NOW))
    assert isinstance(db, AdminDb)
    return db


def _workspace(wid: str, name: str, created: datetime, color: str,
               residency: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": wid, "type": "workspace", "name": name, "created_at": iso(created),
            "archived_at": None, "display_color": color,
            "data_residency": residency or {"workspace_geo": "us",
                                            "default_inference_geo": "global",
                                            "allowed_inference_geos": "unrestricted"},
            "tags": {}, "compartment_id": None, "external_key_id": None,
            "user_profile_id": None}


def _member(wid: str, uid: str, role: str) -> dict[str, Any]:
    return {"type": "workspace_member", "user_id": uid, "workspace_id": wid,
            "workspace_role": role}


def shaped(obj: dict[str, Any], version: str) -> dict[str, Any]:
    """``obj`` as API ``version`` shows it: 2023-06-01 lacks the keys 2026-10-21 added."""
    if version != catalog.VERSION_2023:
        return dict(obj)
    drop = NEWER_KEYS.get(str(obj.get("type")), ())
    return {k: v for k, v in obj.items() if k not in drop}


# --- usage ledger ---------------------------------------------------------------------------------


def api_key_id_for(key: str) -> str:
    """The Admin API id of a normal key the server accepts (the default key is seeded)."""
    if key == DEFAULT_API_KEY:
        return REFERENCE_KEY_ID
    return seeded_id("api_key", "key", key)


def _usage_of(answer: JsonAnswer | StreamAnswer) -> tuple[str, dict[str, Any]] | None:
    """(model, usage) of a successful message answer, JSON or streamed."""
    if isinstance(answer, JsonAnswer):
        body = answer.body
        if answer.status != 200 or not isinstance(body, dict) or body.get("type") != "message":
            return None
        return str(body.get("model")), dict(body.get("usage") or {})
    model, usage = "", {}
    for name, payload in answer.events:
        if name == "message_start":
            message = payload.get("message") or {}
            model, usage = str(message.get("model")), dict(message.get("usage") or {})
        elif name == "message_delta":
            usage.update({k: v for k, v in (payload.get("usage") or {}).items()
                          if v is not None})
    return (model, usage) if model else None


def note_usage(ctx: RequestContext, answer: Answer) -> None:
    """Add one answered ``messages.create`` to the usage ledger (the app calls this)."""
    if ctx.endpoint != "messages.create" or not isinstance(answer, JsonAnswer | StreamAnswer):
        return
    found = _usage_of(answer)
    if found is None:
        return
    model, usage = found
    key_id = api_key_id_for(ctx.api_key)
    workspace = REFERENCE_WORKSPACE_ID if key_id == REFERENCE_KEY_ID else None

    def count(name: str) -> int:
        value = usage.get(name)
        return value if isinstance(value, int) and value > 0 else 0

    known = catalog.find_model(model)
    db_of(ctx.state).usage.append(UsageRecord(
        at=clock(ctx), api_key_id=key_id, workspace_id=workspace,
        model=known.id if known else model,
        service_tier="batch" if usage.get("service_tier") == "batch" else "standard",
        uncached_input_tokens=count("input_tokens"),
        cache_read_input_tokens=count("cache_read_input_tokens"),
        cache_creation_5m=count("cache_creation_input_tokens"),
        output_tokens=count("output_tokens"),
        web_search_requests=count("web_search_requests")))


# --- gate and id-cursor lists ---------------------------------------------------------------------


def check_admin(request: Request, ctx: RequestContext) -> None:
    """401 without a known key; 403 for a normal API key (admin routes take admin keys only)."""
    key = presented_key(request)
    if key is None:
        raise ApiError(401, "x-api-key header is required")
    if key in ctx.config.api_keys and key not in ctx.config.admin_api_keys:
        raise ApiError(403, "This endpoint requires an Admin API key; a regular API key cannot "
                            "access /v1/organizations")
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
    return JsonAnswer({"id": ORGANIZATION_ID, "type": "organization",
                       "name": ORGANIZATION_NAME})


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
    allowed = ("email", "role") if ctx.version == catalog.VERSION_2023 else (
        "email", "role", "rbac_group_ids")
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
    db.invites[iid] = {"id": iid, "type": "invite", "email": email, "role": role,
                       "status": "pending", "invited_at": iso(now),
                       "expires_at": iso(now + INVITE_TTL), "accepted_at": None,
                       "rbac_group_ids": groups}
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


def _workspace_fields(body: dict[str, Any], ctx: RequestContext, *, create: bool
                      ) -> dict[str, Any]:
    allowed = ["name", "display_color"] if ctx.version == catalog.VERSION_2023 else [
        "name", "display_color", "data_residency", "tags"]
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
    db.workspaces[wid] = {**_workspace(wid, fields.pop("name"), clock(ctx), color, residency),
                          **fields}
    return JsonAnswer(shaped(db.workspaces[wid], ctx.version))


async def list_workspaces(request: Request, ctx: RequestContext) -> Answer:
    archived = str(request.query_params.get("include_archived", "false")).lower() == "true"
    items = [shaped(w, ctx.version) for w in db_of(ctx.state).workspaces.values()
             if archived or w["archived_at"] is None]
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
    db.members[key] = _member(workspace["id"], uid, role)
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
    return JsonAnswer({"type": "workspace_member_deleted", "workspace_id": key[0],
                       "user_id": key[1]})


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


# --- reports --------------------------------------------------------------------------------------


def _page_token(moment: datetime) -> str:
    return "page_" + base64.urlsafe_b64encode(f"v1:{iso(moment)}".encode()).decode().rstrip("=")


def _from_token(token: str) -> datetime:
    try:
        raw = token.removeprefix("page_")
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        moment = parse_time(text.removeprefix("v1:"), "page") if text.startswith("v1:") else None
    except (binascii.Error, UnicodeDecodeError, ApiError):
        moment = None
    if moment is None:
        raise invalid("page: invalid page token")
    return moment


def _snap(moment: datetime, width: timedelta) -> datetime:
    seconds = int(width.total_seconds())
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


@dataclass(frozen=True)
class Window:
    """The buckets one report page covers, and where the next page starts."""

    buckets: list[tuple[datetime, datetime]]
    next_start: datetime | None


def report_window(query: QueryParams, *, widths: tuple[str, ...],
                  now: datetime = REFERENCE_NOW) -> Window:
    """Buckets of ``[starting_at, ending_at)`` for this page (``page`` = the next start)."""
    start = parse_time(query.get("starting_at"), "starting_at")
    if start is None:
        raise invalid("starting_at: Field required")
    end = parse_time(query.get("ending_at"), "ending_at")
    width_name = query.get("bucket_width") or "1d"
    if width_name not in widths:
        raise invalid(f"bucket_width: Input should be {' or '.join(map(repr, widths))}")
    width, default, maximum = BUCKETS[width_name]
    limit = parse_limit(query.get("limit"), default, maximum)
    if end is not None and end <= start:
        raise invalid("ending_at: must be after starting_at")
    first = _snap(start, width)
    token = query.get("page")
    if token:
        first = _from_token(token)
    last = end if end is not None else _snap(now, width) + width
    buckets: list[tuple[datetime, datetime]] = []
    cursor = first
    while cursor < last and len(buckets) < limit:
        buckets.append((cursor, cursor + width))
        cursor += width
    return Window(buckets, cursor if cursor < last else None)


def _envelope(window: Window, data: list[dict[str, Any]]) -> dict[str, Any]:
    nxt = window.next_start
    return {"data": data, "has_more": nxt is not None,
            "next_page": _page_token(nxt) if nxt is not None else None}


def _group_by(query: QueryParams, allowed: tuple[str, ...]) -> list[str]:
    groups = listed(query, "group_by")
    for g in groups:
        if g not in allowed:
            raise invalid(f"group_by: Input should be {', '.join(map(repr, allowed))}")
    return groups


def _in_bucket(records: list[UsageRecord], bucket: tuple[datetime, datetime]
               ) -> list[UsageRecord]:
    return [r for r in records if bucket[0] <= r.at < bucket[1]]


def _filtered_usage(db: AdminDb, query: QueryParams) -> list[UsageRecord]:
    records = db.usage
    for name, dim in USAGE_FILTERS.items():
        wanted = listed(query, name)
        if wanted:
            records = [r for r in records if getattr(r, dim) in wanted]
    return records


async def usage_report(request: Request, ctx: RequestContext) -> Answer:
    query = request.query_params
    window = report_window(query, widths=tuple(BUCKETS), now=db_of(ctx.state).now)
    groups = _group_by(query, USAGE_GROUP_BY)
    records = _filtered_usage(db_of(ctx.state), query)
    data = []
    for bucket in window.buckets:
        rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in _in_bucket(records, bucket):
            dims = {d: (getattr(r, d, None) if d in groups else None) for d in USAGE_DIMENSIONS}
            key = tuple(str(dims[d]) for d in USAGE_DIMENSIONS)
            row = rows.setdefault(key, {
                "uncached_input_tokens": 0, "cache_creation": {
                    "ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
                "cache_read_input_tokens": 0, "output_tokens": 0,
                "server_tool_use": {"web_search_requests": 0}, **dims})
            row["uncached_input_tokens"] += r.uncached_input_tokens
            row["cache_read_input_tokens"] += r.cache_read_input_tokens
            row["cache_creation"]["ephemeral_1h_input_tokens"] += r.cache_creation_1h
            row["cache_creation"]["ephemeral_5m_input_tokens"] += r.cache_creation_5m
            row["output_tokens"] += r.output_tokens
            row["server_tool_use"]["web_search_requests"] += r.web_search_requests
        data.append({"starting_at": iso(bucket[0]), "ending_at": iso(bucket[1]),
                     "results": [rows[k] for k in sorted(rows)]})
    return JsonAnswer(_envelope(window, data))


def cents(record: UsageRecord, token_type: str, count: int) -> Decimal:
    """What ``count`` tokens of ``token_type`` cost in cents at the catalog's list price."""
    model = catalog.find_model(record.model) or catalog.CHEAPEST_MODEL
    multiplier, which = catalog.TOKEN_PRICES[token_type]
    price = Decimal(str(model.input_price if which == "input" else model.output_price))
    amount = Decimal(count) * price * multiplier / Decimal(10_000)  # USD/Mtok -> cents/token
    return amount * BATCH_DISCOUNT if record.service_tier == "batch" else amount


def format_cents(amount: Decimal) -> str:
    """A decimal string like ``"12.3456"`` (up to 6 places, no exponent, no trailing zeros)."""
    text = f"{amount.quantize(Decimal('0.000001')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


async def cost_report(request: Request, ctx: RequestContext) -> Answer:
    query = request.query_params
    window = report_window(query, widths=("1d",), now=db_of(ctx.state).now)
    groups = _group_by(query, COST_GROUP_BY)
    by_desc = "description" in groups
    records = db_of(ctx.state).usage
    data = []
    for bucket in window.buckets:
        rows: dict[tuple[str, ...], dict[str, Any]] = {}
        amounts: dict[tuple[str, ...], Decimal] = {}
        for r in _in_bucket(records, bucket):
            for token_type, count in r.tokens().items():
                if count <= 0:
                    continue
                model = catalog.find_model(r.model)
                row: dict[str, Any] = {
                    "currency": "USD", "cost_type": None, "description": None, "model": None,
                    "token_type": None, "service_tier": None, "context_window": None,
                    "inference_geo": None,
                    "workspace_id": r.workspace_id if "workspace_id" in groups else None}
                if by_desc:
                    name = model.display_name if model else r.model
                    row.update(cost_type="tokens", model=r.model, token_type=token_type,
                               service_tier=r.service_tier, context_window=r.context_window,
                               inference_geo=r.inference_geo,
                               description=f"{name} Usage - {TOKEN_LABELS[token_type]}")
                key = tuple(str(row[k]) for k in sorted(row))
                rows.setdefault(key, row)
                amounts[key] = amounts.get(key, Decimal(0)) + cents(r, token_type, count)
        results = [{"amount": format_cents(amounts[k]), **rows[k]} for k in sorted(rows)]
        data.append({"starting_at": iso(bucket[0]), "ending_at": iso(bucket[1]),
                     "results": results})
    return JsonAnswer(_envelope(window, data))


def _claude_code_records(db: AdminDb, day: date) -> list[dict[str, Any]]:
    """Deterministic per-actor records of one day inside the seeded history, else none."""
    today = db.now.date()
    if not today - timedelta(days=HISTORY_DAYS) <= day <= today:
        return []
    actors: list[dict[str, Any]] = [
        {"type": "user_actor", "email_address": u["email"]} for u in db.users.values()
        if u["role"] in ("developer", "claude_code_user")]
    actors.append({"type": "api_actor",
                   "api_key_name": db.api_keys[REFERENCE_KEY_ID]["name"]
                   if REFERENCE_KEY_ID in db.api_keys else "Reference key"})
    out = []
    for n, actor in enumerate(actors):
        seed = (day.isoformat(), n)
        breakdown = []
        for model in catalog.MODELS[n % 2: n % 2 + 2]:
            tokens = {"input": _number(*seed, model.id, "i", lo=100, hi=90_000),
                      "output": _number(*seed, model.id, "o", lo=50, hi=20_000),
                      "cache_read": _number(*seed, model.id, "r", lo=0, hi=50_000),
                      "cache_creation": _number(*seed, model.id, "c", lo=0, hi=9_000)}
            usd = catalog.cost_usd(model.id, tokens["input"], tokens["output"])
            breakdown.append({"model": model.id, "tokens": tokens,
                              "estimated_cost": {"currency": "USD",
                                                 "amount": round(usd * 100, 2)}})

        def accepted(tool: str, seed: tuple[str, int] = seed) -> dict[str, int]:
            return {"accepted": _number(*seed, tool, "a", lo=0, hi=40),
                    "rejected": _number(*seed, tool, "r", lo=0, hi=6)}

        out.append({
            # No organization_id: the real one is a UUID the cassette scanner (rightly) flags.
            "date": f"{day.isoformat()}T00:00:00Z",
            "customer_type": "api", "terminal_type": ("vscode", "iTerm.app", "ghostty")[n % 3],
            "actor": actor,
            "core_metrics": {
                "num_sessions": _number(*seed, "s", lo=1, hi=12),
                "lines_of_code": {"added": _number(*seed, "la", lo=0, hi=900),
                                  "removed": _number(*seed, "lr", lo=0, hi=300)},
                "commits_by_claude_code": _number(*seed, "c", lo=0, hi=9),
                "pull_requests_by_claude_code": _number(*seed, "p", lo=0, hi=3)},
            "tool_actions": {t: accepted(t) for t in (
                "edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool")},
            "model_breakdown": breakdown})
    return out


async def claude_code_report(request: Request, ctx: RequestContext) -> Answer:
    query = request.query_params
    raw = query.get("starting_at")
    if not raw:
        raise invalid("starting_at: Field required")
    try:
        day = date.fromisoformat(str(raw)[:10])
    except ValueError as exc:
        raise invalid(f"starting_at: Input should be a UTC day YYYY-MM-DD, got '{raw}'") from exc
    limit = parse_limit(query.get("limit"))
    token = query.get("page")
    offset = 0
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token.removeprefix("page_") + "==").decode())
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise invalid("page: invalid page token") from exc
    records = _claude_code_records(db_of(ctx.state), day)
    data = records[offset:offset + limit]
    more = offset + limit < len(records)
    nxt = ("page_" + base64.urlsafe_b64encode(str(offset + limit).encode()).decode().rstrip("=")
           if more else None)
    return JsonAnswer({"data": data, "has_more": more, "next_page": nxt})


# --- routes ---------------------------------------------------------------------------------------

Handler = Callable[[Request, RequestContext], Awaitable[Answer]]


def _admin_route(endpoint: str, handler: Handler) -> RouteSpec:
    """A route behind the admin gate (admin key, then version) instead of the normal one."""

    async def gated(request: Request, ctx: RequestContext) -> Answer:
        check_admin(request, ctx)
        return await handler(request, ctx)

    return RouteSpec(endpoint, gated, authenticated=False)


ROUTES: list[RouteSpec] = [_admin_route(name, handler) for name, handler in (
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
    ("admin.usage_report.messages", usage_report),
    ("admin.usage_report.claude_code", claude_code_report),
    ("admin.cost_report", cost_report),
)]
