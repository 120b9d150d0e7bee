"""Whether a conformance test runs, and if not, a skip reason that says exactly what to set."""

from __future__ import annotations

from collections.abc import Collection

from conformance import catalog
from conformance.settings import Settings
from conformance.target import ADMIN_KEY, API_KEY, RunTarget

#: Features whose tests talk to the Admin API: they need ANTHROPIC_ADMIN_API_KEY, not the API key.
ADMIN_FEATURES: frozenset[str] = frozenset({"admin", "admin_write"})


def key_missing(target: RunTarget, credential: str) -> str | None:
    """Why a test that sends ``credential`` cannot run (the run has no such key), or ``None``.

    Only a live target can lack a key (the reference server and replay have their own).
    """
    if target.credential(credential) is not None:
        return None
    if credential == ADMIN_KEY:
        # Admin endpoints take an admin key only; the normal key neither helps nor is needed.
        return (
            f"no admin API key for the live target {target.base_url}: set "
            "ANTHROPIC_ADMIN_API_KEY (or --anthropic-admin-api-key) to run the Admin API tests"
        )
    return (
        f"no API key for the live target {target.base_url}: set ANTHROPIC_API_KEY "
        "(or --anthropic-api-key); unset ANTHROPIC_BASE_URL to use the embedded reference "
        "server"
    )


def skip_reason(
    settings: Settings,
    target: RunTarget,
    features: Collection[str],
    versions: Collection[str] | None = None,
) -> str | None:
    """``None`` when the test may run, else why not and what to set to run it. Admin tests
    need the admin key, the others the API key (``key_missing``)."""
    missing = key_missing(target, ADMIN_KEY if ADMIN_FEATURES.intersection(features) else API_KEY)
    if missing:
        return missing
    off = sorted(f for f in features if not settings.enabled(f))
    if off:
        now = ",".join(sorted(settings.features)) or "(none)"
        return (
            f"feature {', '.join(off)} is switched off: add it to {catalog.FEATURES_ENV} "
            f"(or --anthropic-features), currently {now}"
        )
    if versions and settings.api_version not in versions:
        return (
            f"applies to anthropic-version {', '.join(versions)} only; this run uses "
            f"{settings.api_version} (ANTHROPIC_VERSION / --anthropic-version)"
        )
    return None
