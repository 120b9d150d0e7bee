"""The first lines of a run: which target, which key variable, which write toggles, and a warning
before a live run changes an organization.

Printed once a run is known to use the suite (plugin.py decides, at collection), before any
request: a user with ``ANTHROPIC_API_KEY`` exported sees at once that the run goes live, and one
who named the embedded server (``--anthropic-target=embedded``) sees which exported variables it
ignores. Plain functions of the settings and the target, so they are tested without pytest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import conformance
from conformance.settings import Settings
from conformance.target import RunTarget

__all__ = ["CREATING_FEATURES", "lines", "warnings"]

#: Toggles whose tests create resources on the target (removed again by the resource ledger):
#: what the first line lists as the run's writes.
CREATING_FEATURES: tuple[str, ...] = (
    "batches",
    "batches_slow",
    "files",
    "files_large",
    "admin_write",
)
#: Variables of the SDKs and Claude Code that a run may ignore; named when it does.
_SDK_VARIABLES = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_ADMIN_API_KEY")
_FIELD_OF = {
    "ANTHROPIC_BASE_URL": "base_url",
    "ANTHROPIC_API_KEY": "api_key",
    "ANTHROPIC_ADMIN_API_KEY": "admin_api_key",
}


def _keys(settings: Settings, target: RunTarget) -> str:
    """Which variable (or flag) each key of the run came from; never a key."""
    if target.offline:
        return "keys: none (replay)"
    if not target.traits.keeps_resources:  # the embedded reference server
        return "keys: the reference server's own"
    given = [
        f"{label} from {settings.sources[field]}"
        for field, label in (("api_key", "key"), ("admin_api_key", "admin key"))
        if field in settings.sources
    ]
    return "; ".join(given) if given else "no key given"


def _ignored(settings: Settings, target: RunTarget, environ: Mapping[str, str]) -> list[str]:
    """Exported SDK variables this run does not use (an embedded or replay target)."""
    if target.traits.keeps_resources:
        return []
    return [
        name
        for name in _SDK_VARIABLES
        if environ.get(name) and settings.sources.get(_FIELD_OF[name]) == name
    ]


def lines(
    settings: Settings,
    target: RunTarget,
    *,
    verbose: bool = True,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """The header: one line (target, keys, writes), a second with the details when verbose."""
    env = os.environ if environ is None else environ
    record = f", record mode {settings.record_mode.value}" if settings.record_mode else ""
    creating = [f for f in CREATING_FEATURES if settings.enabled(f)]
    writes = f"creates {','.join(creating)}" if creating else "creates nothing"
    if "admin_write" not in creating:
        writes += " (admin_write off)"
    first = (
        f"anthropic-conformance {conformance.__version__}: target {target.describe()}"
        f"{record}; {_keys(settings, target)}; {writes}"
    )
    ignored = _ignored(settings, target, env)
    if ignored:
        why = settings.sources.get("target", "the record mode")
        first += f"; ignoring {', '.join(ignored)} ({why})"
    if not verbose:
        return [first]
    detail = (
        f"  anthropic-version {settings.api_version}, model {settings.model}, "
        f"auth {settings.auth}, features {','.join(sorted(settings.features))}"
    )
    if env.get("ANTHROPIC_MODEL") and "model" not in settings.sources:
        detail += " (ANTHROPIC_MODEL is not read: set ANTHROPIC_CONFORMANCE_MODEL)"
    return [first, detail]


def warnings(settings: Settings, target: RunTarget) -> list[str]:
    """Lines to print in red before a run changes what outlives it in a real organization."""
    if not (
        target.keeps_resources
        and settings.enabled("admin_write")
        and target.credential("admin") is not None
    ):
        return []
    rename = (
        f", and renames API key {target.rename_key_id} to its own name"
        if target.rename_key_id
        else ""
    )
    return [
        f"WARNING: admin_write is on against {target.base_url}: this run creates and "
        "deletes invites, workspaces and workspace members in the organization of the "
        f"admin key{rename}. Stop now (Ctrl-C) unless that organization is a test one."
    ]
