"""The profiles the suite knows: the built-ins, plus any registered through the entry-point
group ``anthropic_conformance.profiles``.

A third-party project ships its own profile without forking this one::

    [project.entry-points."anthropic_conformance.profiles"]
    my-proxy = "my_proxy_conformance:PROFILE"

The entry point names a ``Profile`` (or a callable returning one). A profile that cannot be
loaded, or clashes with another by name or prefix, is a ``ProfileError`` naming the entry point.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib import metadata
from typing import Any

from conformance.profiles._model import Profile, ProfileError

ENTRY_POINT_GROUP = "anthropic_conformance.profiles"
#: The profile a run checks when none is selected: the Anthropic API, as always.
DEFAULT_PROFILE = "anthropic"
_BUILTINS = (
    "conformance.profiles.anthropic:PROFILE",
    "conformance.profiles.claude_code_api_service:PROFILE",
    "conformance.profiles.nexus_proxy:PROFILE",
    "conformance.profiles.usage_analytics:PROFILE",
)

_LOADED: dict[str, Profile] | None = None


def _resolve(value: Any, where: str) -> Profile:
    if callable(value) and not isinstance(value, Profile):
        value = value()
    if not isinstance(value, Profile):
        raise ProfileError(
            f"profile entry point {where} gives {type(value).__name__}, not a "
            "conformance.profiles.Profile"
        )
    return value


def _load_builtin(spec: str) -> Profile:
    module, _, attr = spec.partition(":")
    return _resolve(getattr(importlib.import_module(module), attr), spec)


def _load() -> dict[str, Profile]:
    found: dict[str, Profile] = {}
    origin: dict[str, str] = {}

    def add(profile: Profile, where: str) -> None:
        clash = found.get(profile.name) or next(
            (p for p in found.values() if p.prefix == profile.prefix), None
        )
        if clash is not None:
            what = "name" if clash.name == profile.name else f"prefix {profile.prefix!r}"
            raise ProfileError(
                f"profile {profile.name!r} from {where} has the {what} of "
                f"profile {clash.name!r} from {origin[clash.name]}"
            )
        found[profile.name] = profile
        origin[profile.name] = where

    for spec in _BUILTINS:
        add(_load_builtin(spec), "conformance (built in)")
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        where = f"{ep.name} = {ep.value!r} (group {ENTRY_POINT_GROUP})"
        try:
            loaded = ep.load()
        except Exception as exc:  # anything a third party's import raises: one line
            raise ProfileError(
                f"profile entry point {where} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from None
        add(_resolve(loaded, where), where)
    return found


def available() -> dict[str, Profile]:
    """Every known profile by name: the built-ins first, then the entry points' (loaded once)."""
    global _LOADED
    if _LOADED is None:
        _LOADED = _load()
    return dict(_LOADED)


def refresh() -> None:
    """Forget the loaded profiles (after installing one, or in tests)."""
    global _LOADED
    _LOADED = None


def names() -> tuple[str, ...]:
    return tuple(available())


def get(name: str) -> Profile:
    """The profile ``name``; unknown names are a ``ProfileError`` listing the known ones."""
    profiles = available()
    if name not in profiles:
        raise ProfileError(f"unknown profile {name!r}; known profiles: {', '.join(profiles)}")
    return profiles[name]


def parse_names(value: Any) -> tuple[str, ...]:
    """A selection as given (``"a,b"``, or a list of such from a repeated flag) -> the profile
    names, in order, without repeats; nothing given selects the default profile."""
    items: Iterable[Any] = [value] if isinstance(value, str) else (value or [])
    wanted: list[str] = []
    for item in items:
        for name in str(item).split(","):
            name = name.strip()
            if name and name not in wanted:
                wanted.append(name)
    if not wanted:
        return (DEFAULT_PROFILE,)
    known = available()
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(
            f"unknown profile{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; known profiles: {', '.join(known)}"
        )
    return tuple(wanted)
