"""The Admin API of the reference server (``/v1/organizations/...``), a plug-in of the app.

``org`` holds the organization (seeded users, workspaces, keys, usage history, the reference
clock), ``ledger`` the usage of every message the server answered, ``routes`` the org routes and
the admin gate, ``reports`` the usage / cost / Claude Code reports. The generic app knows none of
them: it installs ``PLUGIN``, which registers ``note_usage`` as an answer observer and keeps the
configured "now" in the organization's store.
"""

from __future__ import annotations

from conformance.reference.admin.ledger import api_key_id_for, note_usage, usage_of
from conformance.reference.admin.org import (
    HISTORY_DAYS,
    INVITE_TTL,
    ORGANIZATION_NAME,
    REFERENCE_KEY_ID,
    REFERENCE_NOW,
    REFERENCE_WORKSPACE_ID,
    SEEDED_USERS,
    STORE,
    AdminDb,
    UsageRecord,
    clock,
    db_of,
    inventory,
    iso,
    seeded_id,
    seeded_user_id,
    shaped,
)
from conformance.reference.admin.reports import (
    BUCKETS,
    Window,
    cents,
    format_cents,
    parse_time,
    report_window,
)
from conformance.reference.admin.routes import ROUTES, check_admin
from conformance.reference.paging import listed
from conformance.reference.routing import Plugin
from conformance.reference.state import ReferenceConfig, ReferenceState


def install(config: ReferenceConfig, state: ReferenceState) -> None:
    """Plug the Admin API into one app: its clock, and the ledger watching every answer."""
    if config.now is not None:
        state.store(STORE)["now"] = config.now  # read when the organization is seeded
    state.observers.append(note_usage)


#: What the app installs: the routes, ``install``, and the inventory of client-made objects.
PLUGIN = Plugin(STORE, tuple(ROUTES), install=install, inventory=inventory)

__all__ = [
    "BUCKETS",
    "HISTORY_DAYS",
    "INVITE_TTL",
    "ORGANIZATION_NAME",
    "PLUGIN",
    "REFERENCE_KEY_ID",
    "REFERENCE_NOW",
    "REFERENCE_WORKSPACE_ID",
    "ROUTES",
    "SEEDED_USERS",
    "STORE",
    "AdminDb",
    "UsageRecord",
    "Window",
    "api_key_id_for",
    "cents",
    "check_admin",
    "clock",
    "db_of",
    "format_cents",
    "install",
    "inventory",
    "iso",
    "listed",
    "note_usage",
    "parse_time",
    "report_window",
    "seeded_id",
    "seeded_user_id",
    "shaped",
    "usage_of",
]
