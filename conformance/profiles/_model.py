"""What a profile is: plain values describing one API surface the suite can check.

A ``Profile`` bundles, for one surface: its JSON Schemas, the modules that register its named
checks (through ``conformance.checks``), its suite directory, its capability probes, feature
toggles, options (rows of the same ``conformance.settings.Option`` shape as the core ones), the
deviations from its document it knows real deployments to have, and a reference implementation
(an ASGI app factory) the suite starts on loopback when no base URL is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from conformance.checks import Guard
from conformance.exceptions import ConformanceToolError
from conformance.exchange import Severity
from conformance.settings import Option

__all__ = [
    "PROFILE_ONLY",
    "Deviation",
    "Endpoint",
    "Probe",
    "Profile",
    "ProfileError",
    "ProfileSettings",
    "Toggle",
]

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_PREFIX = re.compile(r"^[a-z][a-z0-9]*$")


#: ``@check(name, endpoints=PROFILE_ONLY, applies=guard)``: a profile's check is registered for
#: no endpoint of ``catalog.ENDPOINTS`` (the core validation never runs it); the profile's client
#: runs it on the profile's answers, where its guard decides.
PROFILE_ONLY: tuple[str, ...] = ()


class ProfileError(ConformanceToolError, ValueError):
    """A profile is unknown, or a registered one is malformed; the message names it."""


@dataclass(frozen=True)
class Probe:
    """One free request that tells whether the target serves the profile's surface at all:
    404, 405 or 501 means "not served", any other answer "served"."""

    method: str
    path: str


@dataclass(frozen=True)
class Toggle:
    """A feature toggle of a profile: a group of its tests that can be switched off."""

    name: str
    description: str
    default: bool = True


@dataclass(frozen=True)
class Endpoint:
    """One operation of the surface: the schemas of its request body and of its answers."""

    name: str
    method: str
    path: str
    response_schema: str
    request_schema: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == self.method and path.split("?", 1)[0] == self.path


@dataclass(frozen=True)
class Deviation:
    """A way real deployments are known to differ from the profile's document.

    The named check reports it; the profile's policy gives its findings the severity
    ``strict`` by default, and ``as_built`` (None: not reported at all) when the user accepts
    the as-built shape (``--<prefix>-as-built``).
    """

    check: str
    description: str
    strict: Severity = "error"
    as_built: Severity | None = None


class ProfileSettings(BaseModel):
    """The options every profile has; a profile with more declares a subclass."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None
    api_key: SecretStr | None = None
    features: frozenset[str] | None = None  # None: the toggles that are on by default
    as_built: bool = False
    mutant: tuple[str, ...] = ()

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        from conformance.settings import Settings

        # the core rules for a base URL (http(s), no credentials, no query)
        return Settings._check_url(value)

    @field_validator("features", mode="before")
    @classmethod
    def _split_features(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(n.strip() for n in value.split(",") if n.strip())
        return value

    @field_validator("mutant", mode="before")
    @classmethod
    def _split_mutants(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(n.strip() for n in value.split(",") if n.strip())
        return value


AppFactory = Callable[..., Any]


@dataclass(frozen=True)
class Profile:
    """One API surface the suite can check (see the module docstring)."""

    name: str
    description: str
    #: Options are ``--<prefix>-base-url``, env ``<PREFIX>_BASE_URL``, ini
    #: ``anthropic_<prefix>_base_url``; check names start with ``<prefix>-``.
    prefix: str
    suite_dir: Path | None = None
    schemas_dir: Path | None = None
    cassette_dir: Path | None = None
    #: Modules whose import registers the profile's checks (``@check`` / ``@on_demand``).
    checks: tuple[str, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    #: The schema of every error answer (status >= 400), if the surface has one shape for them.
    error_schema: str | None = None
    probes: tuple[Probe, ...] = ()
    toggles: tuple[Toggle, ...] = ()
    #: Options beyond the standard ones (rows whose ``field`` starts with ``<prefix>_``).
    options: tuple[Option, ...] = ()
    settings_model: type[ProfileSettings] = ProfileSettings
    deviations: tuple[Deviation, ...] = ()
    #: ``reference(mutants=(...))``: the reference implementation, an ASGI app.
    reference: AppFactory | None = None
    reference_description: str = ""
    #: Mutant name -> the bug it plants in the reference implementation. Kept in a module of
    #: its own (the built-ins' ``mutants.py``): it makes the ``--<prefix>-mutant`` choices read
    #: in every run, which must not import the reference implementation and its web framework.
    mutants: Mapping[str, str] = field(default_factory=dict)
    #: Run by the core plugin (the Anthropic API): the profile machinery only lists it.
    native: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ProfileError(f"profile name {self.name!r} is not lower-case words joined by '-'")
        if not _PREFIX.match(self.prefix):
            raise ProfileError(
                f"profile {self.name!r}: prefix {self.prefix!r} is not one "
                "lower-case word (it names options and checks)"
            )
        for opt in self.options:
            if not opt.field.startswith(self.prefix + "_"):
                raise ProfileError(
                    f"profile {self.name!r}: option field {opt.field!r} does not "
                    f"start with {self.prefix + '_'!r}"
                )

    @property
    def env_prefix(self) -> str:
        return self.prefix.upper()

    def all_options(self) -> tuple[Option, ...]:
        """The standard rows (base URL, key, toggles, as-built, mutants), then the profile's."""
        if self.native:
            return ()
        p, env = self.prefix, self.env_prefix
        toggles = tuple(t.name for t in self.toggles)
        rows = [
            Option(
                f"{p}_base_url",
                f"--{p}-base-url",
                f"{env}_BASE_URL",
                f"Base URL of the {self.name} deployment under test (default: its reference "
                "implementation on loopback).",
            ),
            Option(
                f"{p}_api_key",
                f"--{p}-api-key",
                f"{env}_API_KEY",
                f"Key sent to the {self.name} deployment as 'Authorization: Bearer' (only "
                "when given). Never printed.",
                secret=True,
            ),
            Option(
                f"{p}_features",
                f"--{p}-features",
                f"{env}_FEATURES",
                f"Comma-separated toggles of the {self.name} profile to run.",
                choices=toggles or None,
            ),
        ]
        if self.deviations:
            rows.append(
                Option(
                    f"{p}_as_built",
                    f"--{p}-as-built",
                    f"{env}_AS_BUILT",
                    "Accept the known as-built shapes of real deployments (true/false): "
                    "`anthropic-conformance profiles` lists them and their severities.",
                )
            )
        if self.mutants:
            rows.append(
                Option(
                    f"{p}_mutant",
                    f"--{p}-mutant",
                    f"{env}_MUTANT",
                    f"Comma-separated contract violations to switch on in the {self.name} "
                    "reference implementation (to see the profile catch them).",
                    choices=tuple(self.mutants),
                )
            )
        return (*rows, *self.options)

    def option_key(self, opt: Option) -> str:
        """The settings-model field a row fills: its field without the prefix."""
        return opt.field.removeprefix(self.prefix + "_")

    def endpoint_of(self, method: str, path: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.matches(method, path)), None)

    def deviation(self, check: str) -> Deviation | None:
        return next((d for d in self.deviations if d.check == check), None)

    def toggle(self, name: str) -> Toggle | None:
        return next((t for t in self.toggles if t.name == name), None)


def answers_of(label: str, endpoints: Iterable[Endpoint], *names: str) -> Guard:
    """A guard for a profile's checks: an answer of one of its endpoints ``names`` (method and
    path match), named ``label:name|name`` in the registry."""
    table = [e for e in endpoints if e.name in names]
    return Guard(
        f"{label}:{'|'.join(names)}", lambda e: any(ep.matches(e.method, e.path) for ep in table)
    )
