"""Whether a conformance test runs, and if not, a skip reason that says exactly what to set."""

from __future__ import annotations

from collections.abc import Collection

from conformance import catalog
from conformance.settings import Settings, TargetKind


def skip_reason(
    settings: Settings, features: Collection[str], versions: Collection[str] | None = None
) -> str | None:
    """``None`` when the test may run, else why not and what to set to run it."""
    if settings.target_kind is TargetKind.LIVE and settings.api_key is None:
        return (
            f"no API key for the live target {settings.live_url}: set ANTHROPIC_API_KEY "
            "(or --anthropic-api-key); unset ANTHROPIC_BASE_URL to use the embedded reference "
            "server"
        )
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
