"""Profiles: the API surfaces the suite checks, the Anthropic API (the default) and others.

A ``Profile`` bundles one surface's schemas, named checks, suite, probes, toggles, options,
known deviations and reference implementation. Select profiles with ``--conformance-profile
NAME`` (repeatable; env ``ANTHROPIC_CONFORMANCE_PROFILE``, comma-separated; ini
``conformance_profile``), list them with ``anthropic-conformance profiles``. Third parties register
theirs through the entry-point group ``anthropic_conformance.profiles`` (``ENTRY_POINT_GROUP``).
"""

from conformance.profiles._client import (
    ProfileClient,
    ProfileTarget,
    ProfileTargetUnreachable,
    apply_policy,
    profile_checks,
)
from conformance.profiles._model import (
    PROFILE_ONLY,
    Deviation,
    Endpoint,
    Probe,
    Profile,
    ProfileError,
    ProfileSettings,
    Toggle,
    answers_of,
)
from conformance.profiles._registry import (
    DEFAULT_PROFILE,
    ENTRY_POINT_GROUP,
    available,
    get,
    names,
    parse_names,
    refresh,
)
from conformance.profiles._schemas import SchemaSet

__all__ = [
    "DEFAULT_PROFILE",
    "ENTRY_POINT_GROUP",
    "PROFILE_ONLY",
    "Deviation",
    "Endpoint",
    "Probe",
    "Profile",
    "ProfileClient",
    "ProfileError",
    "ProfileSettings",
    "ProfileTarget",
    "ProfileTargetUnreachable",
    "SchemaSet",
    "Toggle",
    "answers_of",
    "apply_policy",
    "available",
    "command",
    "describe",
    "get",
    "names",
    "parse_names",
    "profile_checks",
    "refresh",
]


def describe(profile: Profile) -> str:
    """What ``anthropic-conformance profiles`` prints for one profile."""
    lines = [
        f"{profile.name}{'  (default)' if profile.name == DEFAULT_PROFILE else ''}",
        f"  checks:    {profile.description}",
    ]
    if profile.endpoints and not profile.native:
        lines.append("  endpoints: " + ", ".join(f"{e.method} {e.path}" for e in profile.endpoints))
    toggles = ", ".join(
        t.name + ("" if t.default else " (off by default)") for t in profile.toggles
    )
    lines.append(f"  toggles:   {toggles or '(none)'}")
    if profile.native:
        lines.append("  options:   the core --anthropic-* options (README 'Settings')")
    else:
        lines.append("  options:   " + ", ".join(o.flag for o in profile.all_options()))
    for d in profile.deviations:
        accepted = d.as_built or "accepted silently"
        lines.append(
            f"  deviation: {d.check}: {d.description} [{d.strict}; with "
            f"--{profile.prefix}-as-built: {accepted}]"
        )
    lines.append(f"  reference: {profile.reference_description or '(none)'}")
    return "\n".join(lines)


def command() -> int:
    """``anthropic-conformance profiles``: every profile, or one error line when one is broken."""
    import sys

    try:
        known = available()
    except ProfileError as exc:
        print(f"anthropic-conformance profiles: {exc}", file=sys.stderr)
        return 2
    print("\n\n".join(describe(p) for p in known.values()))
    print(
        f"\nselect with --conformance-profile NAME (repeatable) or "
        f"ANTHROPIC_CONFORMANCE_PROFILE=a,b; third-party profiles register through the "
        f"entry-point group {ENTRY_POINT_GROUP!r}"
    )
    return 0
