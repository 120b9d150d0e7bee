"""The organization one reference app serves: its seeded users, workspaces, keys and usage
history, the reference clock, and the store it lives in.

Everything is deterministic: seeded objects have fixed ids, new ones derive from the request
serial, and time is the reference clock (``REFERENCE_NOW`` + serial seconds), so recorded
cassettes and report windows are the same on every run. ``ReferenceConfig.now`` moves that clock
(``serve`` and ``mutation-score`` use the wall clock: a live-mode suite asks for the days before
*today*, which must hold the seeded history).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conformance import catalog
from conformance.reference.auth import RequestContext
from conformance.reference.state import ReferenceState, stable_token

#: The store of ``ReferenceState`` the organization lives in (also the plug-in's name).
STORE = "admin"
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

#: Keys only the 2026-10-21 shapes carry, per object type (api-contract.md §9).
NEWER_KEYS: dict[str, tuple[str, ...]] = {
    "invite": ("accepted_at", "rbac_group_ids"),
    "workspace": ("data_residency", "tags", "compartment_id", "external_key_id", "user_profile_id"),
    "api_key": ("expires_at", "scope", "principal"),
}

# --- time and small helpers -----------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """RFC 3339 with a ``Z``, second precision (the API's style)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock(ctx: RequestContext) -> datetime:
    """The reference time of this request: deterministic, strictly increasing within a day."""
    return db_of(ctx.state).now + timedelta(seconds=ctx.serial % 36_000)


def number(*parts: object, lo: int, hi: int) -> int:
    """A deterministic integer in [lo, hi] derived from ``parts`` (seeded history)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return lo + int.from_bytes(digest[:8], "big") % (hi - lo + 1)


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
            db.usage.append(
                UsageRecord(
                    at=day0 + timedelta(days=d, hours=hour, minutes=number(d, hour, lo=0, hi=59)),
                    api_key_id=key["id"],
                    workspace_id=key["workspace_id"],
                    model=model.id,
                    service_tier="batch" if hour == 15 and d % 3 == 0 else "standard",
                    uncached_input_tokens=number("in", d, hour, lo=200, hi=40_000),
                    cache_read_input_tokens=number("cr", d, hour, lo=0, hi=20_000),
                    cache_creation_5m=number("c5", d, hour, lo=0, hi=5_000),
                    cache_creation_1h=number("c1", d, hour, lo=0, hi=2_000) if d % 2 else 0,
                    output_tokens=number("out", d, hour, lo=50, hi=8_000),
                    web_search_requests=number("ws", d, hour, lo=0, hi=3),
                )
            )


def _seed(now: datetime = REFERENCE_NOW) -> AdminDb:
    db = AdminDb(now=now)
    added = now - timedelta(days=400)
    for n, (name, email, role) in enumerate(SEEDED_USERS):
        uid = seeded_user_id(n)
        db.users[uid] = {
            "id": uid,
            "type": "user",
            "email": email,
            "name": name,
            "role": role,
            "added_at": iso(added + timedelta(days=n)),
        }
    db.workspaces[REFERENCE_WORKSPACE_ID] = new_workspace(
        REFERENCE_WORKSPACE_ID, "Reference workspace", now - timedelta(days=300), "#6C5BB9", None
    )
    for uid, role in (
        (seeded_user_id(1), "workspace_developer"),
        (seeded_user_id(2), "workspace_user"),
    ):
        db.members[(REFERENCE_WORKSPACE_ID, uid)] = new_member(REFERENCE_WORKSPACE_ID, uid, role)
    creator = seeded_user_id(0)
    for n, (name, status, workspace) in enumerate(
        (
            ("Reference key", "active", REFERENCE_WORKSPACE_ID),
            ("Default workspace key", "active", None),
            ("Old CI key", "inactive", None),
        )
    ):
        kid = REFERENCE_KEY_ID if n == 0 else seeded_id("api_key", "api_key", n)
        db.api_keys[kid] = {
            "id": kid,
            "type": "api_key",
            "name": name,
            "created_at": iso(now - timedelta(days=200 - n)),
            "created_by": {"id": creator, "type": "user"},
            "partial_key_hint": f"ref-{n}...{stable_token('hint', n, length=4)}",
            "status": status,
            "workspace_id": workspace,
            "expires_at": None,
            "scope": (
                {"type": "workspace", "workspace_id": workspace}
                if workspace
                else {"type": "organization"}
            ),
            "principal": {"type": "user_actor", "user_id": creator},
        }
    _seed_history(db)
    return db


def inventory(state: ReferenceState) -> dict[str, list[str]]:
    """What clients created and is still live: invites, workspaces not archived and their
    memberships. The seeded organization (users, keys, the reference workspace) is not counted."""
    if not state.stores.get(STORE):
        return {}
    db = db_of(state)
    live = [
        w["id"]
        for w in db.workspaces.values()
        if w["archived_at"] is None and w["id"] != REFERENCE_WORKSPACE_ID
    ]
    found = {
        "invite": list(db.invites),
        "workspace": live,
        "workspace_member": [f"{w}/{u}" for (w, u) in db.members if w in live],
    }
    return {kind: ids for kind, ids in found.items() if ids}


def db_of(state: ReferenceState) -> AdminDb:
    """The organization of ``state``, seeded on first use."""
    store = state.store(STORE)
    db = store.get("db")
    if db is None:
        db = store.setdefault("db", _seed(store.get("now") or REFERENCE_NOW))
    assert isinstance(db, AdminDb)
    return db


def new_workspace(
    wid: str, name: str, created: datetime, color: str, residency: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": wid,
        "type": "workspace",
        "name": name,
        "created_at": iso(created),
        "archived_at": None,
        "display_color": color,
        "data_residency": residency
        or {
            "workspace_geo": "us",
            "default_inference_geo": "global",
            "allowed_inference_geos": "unrestricted",
        },
        "tags": {},
        "compartment_id": None,
        "external_key_id": None,
        "user_profile_id": None,
    }


def new_member(wid: str, uid: str, role: str) -> dict[str, Any]:
    return {"type": "workspace_member", "user_id": uid, "workspace_id": wid, "workspace_role": role}


def shaped(obj: dict[str, Any], version: str) -> dict[str, Any]:
    """``obj`` as API ``version`` shows it: 2023-06-01 lacks the keys 2026-10-21 added."""
    if version != catalog.VERSION_2023:
        return dict(obj)
    drop = NEWER_KEYS.get(str(obj.get("type")), ())
    return {k: v for k, v in obj.items() if k not in drop}
