"""The typed settings of a run, parsed once from command-line options, environment and ini keys.

Precedence is option > environment variable > ini key > default, the same for every setting. A bad
value is a ``ConfigError`` whose message names where the value came from and what is allowed; the
plugin turns it into a pytest usage error.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from conformance import catalog, redact
from conformance.exceptions import ConformanceToolError


class ConfigError(ConformanceToolError, ValueError):
    """A setting has a bad value; the message names the source and the allowed values."""


class RecordMode(StrEnum):
    """Cassette record modes, with the words and meaning of pytest-recording / vcrpy."""

    NONE = "none"  # replay only; the network is blocked
    ONCE = "once"  # record a cassette that does not exist yet, else replay it
    NEW_EPISODES = "new_episodes"  # replay what matches, record the rest
    ALL = "all"  # record everything again, keep nothing from before
    REWRITE = "rewrite"  # delete the cassette, then record from scratch


AuthStyle = Literal["x-api-key", "bearer"]

#: What capability probing can find served or not (``conformance.capabilities`` has a probe per
#: name): the endpoint families of the catalog, with streaming apart from plain messages.
CAPABILITY_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(("messages", "streaming", *get_args(catalog.Family)))
)


@dataclass(frozen=True)
class Option:
    """One setting as the user can give it: a command-line flag, an env variable, an ini key."""

    field: str
    flag: str
    env: str | None
    help: str
    choices: tuple[str, ...] | None = None
    secret: bool = False
    #: The flag may be given more than once (the values join as a comma-separated list).
    repeatable: bool = False

    @property
    def ini(self) -> str:
        """The ini key: the flag's words with underscores (``--anthropic-version`` ->
        ``anthropic_version``), one naming scheme for all three sources."""
        return self.flag.removeprefix("--").replace("-", "_")


#: Ini keys of earlier releases, refused with the new name (a renamed key silently ignored
#: would run against the wrong version).
RENAMED_INI: Mapping[str, str] = {"anthropic_api_version": "anthropic_version"}

#: The values of ``--anthropic-target``: ``auto`` decides from the URL and keys (an exported
#: ``ANTHROPIC_API_KEY`` means the real API); ``embedded`` always the embedded reference server,
#: whatever the environment holds; ``live`` the URL given, else the real API.
TARGET_CHOICES: tuple[str, ...] = ("auto", "embedded", "live")


OPTIONS: tuple[Option, ...] = (
    Option(
        "target",
        "--anthropic-target",
        "ANTHROPIC_CONFORMANCE_TARGET",
        "Which target to test: 'embedded' = the embedded reference server, whatever "
        "ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY say; 'live' = the base URL, else the real "
        "API; 'auto' (default) = live when a base URL or key is set, else embedded.",
        choices=TARGET_CHOICES,
    ),
    Option(
        "base_url",
        "--anthropic-base-url",
        "ANTHROPIC_BASE_URL",
        "Base URL of the API or proxy under test (default: the embedded reference server, "
        f"or {catalog.REAL_API_URL} when a key is set). A path prefix such as /anthropic "
        "works.",
    ),
    Option(
        "api_key",
        "--anthropic-api-key",
        "ANTHROPIC_API_KEY",
        "API key for live runs. Never printed.",
        secret=True,
    ),
    Option(
        "admin_api_key",
        "--anthropic-admin-api-key",
        "ANTHROPIC_ADMIN_API_KEY",
        "Admin API key (sk-ant-admin...) for the Admin API tests of a live run. Never printed.",
        secret=True,
    ),
    Option(
        "admin_rename_key_id",
        "--anthropic-admin-rename-key-id",
        "ANTHROPIC_ADMIN_RENAME_KEY_ID",
        "Id of an API key (apikey_...) the admin_write tests may rename to its own name "
        "(a no-op round trip); no other key is ever modified.",
    ),
    Option(
        "api_version",
        "--anthropic-version",
        "ANTHROPIC_VERSION",
        "anthropic-version header to send.",
        choices=catalog.API_VERSIONS,
    ),
    # Not ANTHROPIC_MODEL: Claude Code exports that one, often a model the reference server
    # does not know or an expensive one; a conformance run names its model on purpose.
    Option(
        "model",
        "--anthropic-model",
        "ANTHROPIC_CONFORMANCE_MODEL",
        f"Model for generation tests (default: the cheapest, {catalog.DEFAULT_MODEL}). "
        "ANTHROPIC_MODEL is not read.",
    ),
    Option(
        "features",
        "--anthropic-features",
        catalog.FEATURES_ENV,
        "Comma-separated feature toggles to run ('all' = every default feature).",
        choices=(*catalog.FEATURE_NAMES, "all"),
    ),
    Option(
        "auth",
        "--anthropic-auth",
        "ANTHROPIC_CONFORMANCE_AUTH",
        "How to send the key: 'x-api-key' (older clients) or 'bearer' (current SDKs).",
        choices=("x-api-key", "bearer"),
    ),
    # ``--record-mode`` is its alias: ours without pytest-recording, pytest-recording's (read
    # here too) when that plugin is loaded (plugin.py).
    Option(
        "record_mode",
        "--anthropic-record-mode",
        "ANTHROPIC_CONFORMANCE_RECORD_MODE",
        "Cassette mode (as pytest-recording; --record-mode is the same): none = replay "
        "offline, once, new_episodes, all, rewrite. Unset: no cassettes, talk to the "
        "target.",
        choices=tuple(m.value for m in RecordMode),
    ),
    Option(
        "cassette_dir",
        "--anthropic-cassette-dir",
        "ANTHROPIC_CONFORMANCE_CASSETTE_DIR",
        "Where cassettes live (default: the cassettes shipped with the suite).",
    ),
    Option(
        "max_retries",
        "--anthropic-max-retries",
        "ANTHROPIC_CONFORMANCE_MAX_RETRIES",
        "Retries of a transient failure (429, 5xx, 529, connection errors; default 2, as "
        "the official SDKs), honouring retry-after, retry-after-ms and x-should-retry.",
    ),
    Option(
        "reference_faults",
        "--anthropic-reference-faults",
        "ANTHROPIC_CONFORMANCE_REFERENCE_FAULTS",
        "Share of requests (0 to 1, e.g. 0.3) the embedded reference server answers with a "
        "random transient fault (429, 529, 5xx, a plain-text 503, a dropped connection, a cut "
        "stream, a late first byte), from a fixed seed: tests that pass only after retries "
        "are listed as flaky. Default 0.",
    ),
    Option(
        "reference_latency",
        "--anthropic-reference-latency",
        "ANTHROPIC_CONFORMANCE_REFERENCE_LATENCY",
        "Seconds the embedded reference server waits before each answer, like a distant API "
        "(e.g. 0.3; what parallel runs and races are measured against). Default 0.",
    ),
    Option(
        "retry_deadline",
        "--anthropic-retry-deadline",
        "ANTHROPIC_CONFORMANCE_RETRY_DEADLINE",
        "Seconds one call may spend on retries before it gives up.",
    ),
    Option(
        "retry_backoff",
        "--anthropic-retry-backoff",
        "ANTHROPIC_CONFORMANCE_RETRY_BACKOFF",
        "Seconds of the first backoff between retries when the answer names no wait "
        "(default 0.5, as the official SDKs; doubled each retry, capped at 8 s).",
    ),
    Option(
        "timeout",
        "--anthropic-timeout",
        "ANTHROPIC_CONFORMANCE_TIMEOUT",
        "Seconds any one answer may take, body included, for every family; unset, each "
        "family has its own (catalog.ANSWER_TIMEOUTS: a batch poll 30 s, a stream 120 s, an "
        "upload 300 s, a message 60 s).",
    ),
    Option(
        "batch_deadline",
        "--anthropic-batch-deadline",
        "ANTHROPIC_CONFORMANCE_BATCH_DEADLINE",
        "Seconds a batch test polls (exponential backoff) for processing_status 'ended'.",
    ),
    Option(
        "require",
        "--anthropic-require",
        "ANTHROPIC_CONFORMANCE_REQUIRE",
        "Comma-separated endpoint families the target must serve ('all' = every one): "
        "their tests fail, instead of being skipped, when the capability probe finds the "
        "family not served.",
        choices=(*CAPABILITY_NAMES, "all"),
    ),
    Option(
        "upstream_url",
        "--anthropic-upstream-url",
        "ANTHROPIC_CONFORMANCE_UPSTREAM_URL",
        "URL of the reference server the proxy under test forwards to: enables the "
        "pass-through checks (the suite reads the server's record of its own answers).",
    ),
    Option(
        "upstream_api_key",
        "--anthropic-upstream-api-key",
        "ANTHROPIC_CONFORMANCE_UPSTREAM_API_KEY",
        "Key of that reference server (default: its default key). Never printed.",
        secret=True,
    ),
    Option(
        "report_dir",
        "--anthropic-report-dir",
        "ANTHROPIC_CONFORMANCE_REPORT_DIR",
        "Where to write the compatibility report (report.json, report.md, report.html, "
        "badge.svg) after each run; relative to the current directory. 'none' = no report.",
    ),
    Option(
        "replay_timing",
        "--anthropic-replay-timing",
        "ANTHROPIC_CONFORMANCE_REPLAY_TIMING",
        "Replay streamed answers at the pace they were recorded (each event at its recorded "
        "offset, capped by the timeout) instead of at once: on/off, default off. Timing is "
        "always recorded for streams.",
    ),
    Option(
        "teardown_deadline",
        "--anthropic-teardown-deadline",
        "ANTHROPIC_CONFORMANCE_TEARDOWN_DEADLINE",
        "Seconds the whole run's teardown may spend polling (a canceled batch ending before "
        "it is deleted), shared by every test and the session's safety net; what is left "
        "then is named at the end of the run with the cleanup command. Default 60.",
    ),
    Option(
        "max_cost",
        "--anthropic-max-cost",
        "ANTHROPIC_CONFORMANCE_MAX_COST",
        "US dollars the run may spend at list price (from the answers' usage): before each "
        "test, when the amount spent plus the most expensive test so far would exceed it, the "
        "run stops there cleanly (teardown still runs). Default: no cap.",
    ),
    Option(
        "profile",
        "--conformance-profile",
        "ANTHROPIC_CONFORMANCE_PROFILE",
        "API surface(s) to check, by profile name (repeatable, or comma-separated; default "
        "'anthropic', the Anthropic API). `anthropic-conformance profiles` lists them.",
        repeatable=True,
    ),
)


def _default_cassette_dir() -> Path:
    here = Path(__file__).resolve().parent
    shipped = here / "cassettes" / "shipped"  # inside an installed wheel (see pyproject.toml)
    return shipped if shipped.is_dir() else here.parent / "cassettes"


class Settings(BaseModel):
    """Everything a run needs to know, validated once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Literal["auto", "embedded", "live"] = "auto"
    base_url: str | None = None
    api_key: SecretStr | None = None
    admin_api_key: SecretStr | None = None
    admin_rename_key_id: str | None = None
    api_version: str = catalog.DEFAULT_API_VERSION
    model: str = catalog.DEFAULT_MODEL
    features: frozenset[str] = frozenset(f.name for f in catalog.FEATURES if f.default)
    auth: AuthStyle = "x-api-key"
    record_mode: RecordMode | None = None
    cassette_dir: Path = _default_cassette_dir()
    max_retries: int = 2  # the official SDKs' default
    reference_faults: float = 0.0
    reference_latency: float = 0.0
    retry_deadline: float = 60.0
    retry_backoff: float = 0.5  # the official SDKs' first backoff
    timeout: float = 60.0
    batch_deadline: float = 900.0
    require: frozenset[str] = frozenset()
    upstream_url: str | None = None
    upstream_api_key: SecretStr | None = None
    report_dir: Path | None = Path("anthropic-conformance-report")
    replay_timing: bool = False
    #: field -> where its value came from (a flag, an env variable, ``ini key NAME``).
    sources: dict[str, str] = {}
    teardown_deadline: float = 60.0

    @field_validator("teardown_deadline")
    @classmethod
    def _teardown_seconds(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError("must be a number of seconds, 0 or more (0: never wait)")
        return value

    profile: tuple[str, ...] = ("anthropic",)
    max_cost: float | None = None

    @field_validator("max_cost", mode="before")
    @classmethod
    def _dollars(cls, value: Any) -> Any:
        # "$0.50" and "0.50" alike: the flag's unit is US dollars
        return value.strip().removeprefix("$") if isinstance(value, str) else value

    @field_validator("max_cost")
    @classmethod
    def _positive_dollars(cls, value: float | None) -> float | None:
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise ValueError("must be a positive number of US dollars, e.g. 0.50")
        return value

    @field_validator("profile", mode="before")
    @classmethod
    def _parse_profile(cls, value: Any) -> Any:
        from conformance import profiles  # the registry imports this module: import late

        return profiles.parse_names(value)

    @field_validator("report_dir", mode="before")
    @classmethod
    def _report_off(cls, value: Any) -> Any:
        # "none"/"off" switch the report off; the default writes it next to where pytest ran
        return (
            None if isinstance(value, str) and value.strip().lower() in ("none", "off") else value
        )

    @field_validator("base_url", "upstream_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL, e.g. https://api.anthropic.com")
        if parts.username or parts.password:
            # A secret in a URL ends up in headers, logs and cassettes: keys have their own
            # settings, which are redacted everywhere.
            raise ValueError(
                "credentials in the URL are not accepted; give the key with "
                "ANTHROPIC_API_KEY (or --anthropic-api-key)"
            )
        if parts.query or parts.fragment:
            raise ValueError("a base URL has no query string or fragment")
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if value not in catalog.API_VERSIONS:
            raise ValueError(f"unknown API version {value!r}")
        return value

    @field_validator("features", mode="before")
    @classmethod
    def _parse_features(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        names = {n.strip() for n in value.split(",") if n.strip()}
        if "all" in names:
            names = (names - {"all"}) | {f.name for f in catalog.FEATURES if f.default}
        unknown = sorted(n for n in names if catalog.find_feature(n) is None)
        if unknown:
            raise ValueError(
                f"unknown feature(s) {', '.join(map(repr, unknown))}"
                f"{_did_you_mean(unknown, (*catalog.FEATURE_NAMES, 'all'))}"
            )
        return frozenset(names)

    @field_validator("admin_rename_key_id")
    @classmethod
    def _check_key_id(cls, value: str | None) -> str | None:
        # An API key's id, never the key itself (sk-ant-...) or a workspace/user id: renaming
        # the wrong object of a real organization is what this setting must make impossible.
        if value is not None and not re.fullmatch(r"apikey_[A-Za-z0-9]+", value):
            raise ValueError(
                "not an API key id (apikey_ followed by letters and digits; the "
                "Admin API lists them at GET /v1/organizations/api_keys)"
            )
        return value

    @field_validator("require", mode="before")
    @classmethod
    def _parse_require(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        from conformance import profiles  # a profile's name requires its surface (its probe)

        known = set(CAPABILITY_NAMES) | set(profiles.names())
        names = {n.strip() for n in value.split(",") if n.strip()}
        if "all" in names:
            names = known
        unknown = sorted(names - known)
        if unknown:
            raise ValueError(
                f"unknown endpoint famil{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(map(repr, unknown))}"
                f"{_did_you_mean(unknown, (*CAPABILITY_NAMES, 'all'))}"
            )
        return frozenset(names)

    @field_validator("max_retries")
    @classmethod
    def _non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 or more")
        return value

    @field_validator("reference_faults")
    @classmethod
    def _rate(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError("must be a share of requests from 0 to 1 (0.3: 30%)")
        return value

    @field_validator("reference_latency")
    @classmethod
    def _latency(cls, value: float) -> float:
        if not 0 <= value < math.inf:
            raise ValueError("must be 0 or more seconds (0.3: 300 ms)")
        return value

    @field_validator("timeout", "retry_deadline", "batch_deadline", "retry_backoff")
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if not math.isfinite(value) or value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value

    def secrets(self) -> list[str]:
        """Every credential of the run, for redaction wherever it could show up."""
        keys = (self.api_key, self.admin_api_key, self.upstream_api_key)
        return [k.get_secret_value() for k in keys if k is not None]

    @property
    def live_url(self) -> str:
        """The URL of a live target: the given base URL, else the real API (which kind of
        target a run has is ``conformance.target.kind_of``)."""
        return self.base_url or catalog.REAL_API_URL

    def enabled(self, feature: str) -> bool:
        return feature in self.features


def _did_you_mean(unknown: list[str], known: tuple[str, ...]) -> str:
    """`` (did you mean 'messages'?)`` for the first name with a close match, else ""."""
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
    return ""


Getter = Callable[[Option], Any]


def load_settings(
    option: Getter | None = None,
    ini: Getter | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build ``Settings`` from the three sources; raise ``ConfigError`` naming a bad source."""
    return load_options(OPTIONS, Settings, option=option, ini=ini, environ=environ)


M = TypeVar("M", bound=BaseModel)


def load_options(
    options: Sequence[Option],
    model: type[M],
    *,
    option: Getter | None = None,
    ini: Getter | None = None,
    environ: Mapping[str, str] | None = None,
    key: Callable[[Option], str] = lambda o: o.field,
) -> M:
    """Validate ``model`` from the rows ``options``, each read from its flag, env variable and
    ini key in that order (the core settings, and each profile's own: ``conformance.profiles``).

    ``key`` names the model field a row fills (default: the row's ``field``). A bad value is a
    ``ConfigError`` naming where it came from.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for opt in options:
        given = option(opt) if option else None
        if given is not None and not str(given).strip():
            # An empty flag (``--anthropic-features=``) would fall through to the default,
            # "all": say it is empty rather than run something else than asked.
            raise ConfigError(
                f"invalid anthropic-conformance setting: {opt.flag}: empty value"
                + (f"; allowed values: {', '.join(opt.choices)}" if opt.choices else "")
            )
        for label, value in (
            (opt.flag, given),
            (opt.env, env.get(opt.env) if opt.env else None),
            (f"ini key {opt.ini}", ini(opt) if ini else None),
        ):
            if value not in (None, "", []) and label:
                raw[key(opt)] = value
                sources[key(opt)] = label
                break
    if "sources" in model.model_fields:
        raw["sources"] = sources
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources, {key(o): o for o in options})) from None


def _explain(
    exc: ValidationError, sources: Mapping[str, str], by_field: Mapping[str, Option]
) -> str:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        opt = by_field.get(field)
        where = sources.get(field) or (opt.flag if opt else field)
        message = str(err["msg"]).removeprefix("Value error, ")
        allowed = f"; allowed values: {', '.join(opt.choices)}" if opt and opt.choices else ""
        shown = "" if opt and opt.secret else f" (got {_without_secrets(err.get('input'))!r})"
        lines.append(f"{where}: {message}{shown}{allowed}")
    return "invalid anthropic-conformance setting: " + "; ".join(lines)


def _without_secrets(value: Any) -> Any:
    """A bad value as an error message may echo it: no URL credentials, no key-shaped text."""
    if not isinstance(value, str):
        return value
    value = re.sub(r"//[^/@\s]*@", "//<redacted>@", value)
    if "://" in value:
        value = re.sub(r"[?#].*$", "?<redacted>", value)
    return redact.redact_text(value)
