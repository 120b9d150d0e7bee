"""The run's target, resolved once: kind, URL, the key for each credential, what it supports.

Every question that depends on *where* the suite points (the real API, a proxy or gateway, the
embedded reference server, or cassette replay) is answered here, once, from ``Settings``:

* ``kind_of(settings)``: which ``TargetKind``;
* ``resolve(settings)``: a ``RunTarget`` holding the base URL, the key of each credential
  (``API_KEY``, ``ADMIN_KEY``, ``UPSTREAM_KEY``; the replay dummy ``REPLAY_KEY``), the clients'
  retries and timeout, and the answers of ``TRAITS`` for its kind;
* ``RunTarget.started()``: the embedded reference server's lifecycle (started and stopped around
  the session; other kinds have nothing to start);
* ``RunTarget.client(credential)``: an ``ApiClient`` for one credential (``Target`` is what a
  client talks to: a URL and one key).

The suite asks the ``RunTarget`` (``can_force_status``, ``now()``, ``batches_end_quickly``,
``upstream``, ...), never the kind; only this module and the plugin wiring import
``conformance.reference``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conformance import catalog
from conformance.reference.wire import FORCE_STATUS_HEADER

# The reference server (starlette, uvicorn: a tenth of a second of imports in every process,
# every xdist worker's) is imported where a run uses it, never by a run against a base URL.
from conformance.settings import AuthStyle, ConfigError, RecordMode, Settings

if TYPE_CHECKING:  # client.py imports Target from here: a runtime import back would be a cycle
    from conformance.client import ApiClient, AsyncApiClient

__all__ = [
    "ADMIN_KEY",
    "API_KEY",
    "CREDENTIALS",
    "REPLAY_KEY",
    "TRAITS",
    "UPSTREAM_KEY",
    "RunTarget",
    "Target",
    "TargetKind",
    "Traits",
    "Upstream",
    "kind_of",
    "resolve",
]


class TargetKind(StrEnum):
    """Where a run points. The words are the report's (``schemas/report.json``)."""

    REFERENCE = "reference"  # the embedded reference server: no key, no network
    LIVE = "live"  # the real API (its host, catalog.REAL_API_URL)
    PROXY = "proxy"  # any other base URL: a proxy, a gateway, a reference server run by `serve`
    REPLAY = "replay"  # cassettes only, the network blocked


#: Credentials: the names of the keys a run may hold (``RunTarget.credential``), also the keys of
#: ``resources.Clients`` that a ledger row's ``admin`` flag selects.
API_KEY = "api"
ADMIN_KEY = "admin"
UPSTREAM_KEY = "upstream"  # a key of the reference server a proxy forwards to
CREDENTIALS: tuple[str, ...] = (API_KEY, ADMIN_KEY)
#: The key replay "sends": replay never touches the network, so it goes nowhere.
REPLAY_KEY = "replay-no-key"


@dataclass(frozen=True)
class Traits:
    """What a kind of target supports: the questions the plugin and the suite ask, as data."""

    #: Why its capabilities are assumed rather than probed; "" = probe them.
    assumed: str
    #: Tokens cost money there (the terminal prints their list price).
    bills_tokens: bool
    #: It may answer a status forced with ``FORCE_STATUS_HEADER`` (the reference server does;
    #: a replay holds what it answered; a proxy may be, or forward to, one). Never the real API.
    may_force_status: bool
    #: Its clock is the reference server's fixed one (``REFERENCE_NOW``), not the wall clock.
    fixed_clock: bool
    #: Its Admin usage/cost reports count a message the moment it is answered (the real API's
    #: lag, so the suite reads complete past days there).
    reports_usage_at_once: bool
    #: A batch ends in well under a second (the reference server's ``batch_seconds``).
    batches_end_quickly: bool
    #: What a run creates there outlives the run: crashed runs leave resources to clean up.
    keeps_resources: bool
    #: Only cassettes answer: nothing can be called outside a test's cassette.
    offline: bool
    #: It can sit in front of an upstream reference server (pass-through checks).
    forwards: bool
    #: It holds the reference server's seeded organization, whose API key ``REFERENCE_KEY_ID``
    #: the admin_write tests may rename (to its own name).
    seeded: bool
    #: Its messages answers must carry the ``anthropic-ratelimit-*`` headers: the real API's
    #: contract, kept by the reference server (and what a replay recorded); a proxy that drops
    #: them only gets a warning. Defaults to False so a new kind opts in.
    states_rate_limits: bool = False


_REFERENCE = Traits(
    assumed="the embedded reference server serves every family",
    bills_tokens=False,
    may_force_status=True,
    fixed_clock=True,
    reports_usage_at_once=True,
    batches_end_quickly=True,
    keeps_resources=False,
    offline=False,
    forwards=False,
    seeded=True,
    states_rate_limits=True,
)
_LIVE = Traits(
    assumed="",
    bills_tokens=True,
    may_force_status=False,
    fixed_clock=False,
    reports_usage_at_once=False,
    batches_end_quickly=False,
    keeps_resources=True,
    offline=False,
    forwards=True,
    seeded=False,
    states_rate_limits=True,
)
TRAITS: Mapping[TargetKind, Traits] = {
    TargetKind.REFERENCE: _REFERENCE,
    # what the reference server recorded, played back with the network blocked
    TargetKind.REPLAY: dataclasses.replace(
        _REFERENCE, assumed="replay: the cassettes decide", offline=True
    ),
    TargetKind.LIVE: _LIVE,
    # a proxy may forward the test-only force header; whether it keeps the ratelimit headers is
    # what the suite judges (a warning), not what it assumes
    TargetKind.PROXY: dataclasses.replace(_LIVE, may_force_status=True, states_rate_limits=False),
}


@dataclass(frozen=True)
class Target:
    """What one client talks to: a base URL, one key, the API version and the auth style."""

    kind: TargetKind
    base_url: str
    api_key: str | None = field(repr=False)  # never in a repr, a log or --showlocals
    api_version: str
    auth: AuthStyle = "x-api-key"

    def describe(self) -> str:
        if self.kind is TargetKind.REFERENCE:
            return f"embedded reference server at {self.base_url} (no key needed)"
        if self.kind is TargetKind.REPLAY:
            return "cassette replay, network blocked (--record-mode=none)"
        return f"live target {self.base_url}"


@dataclass(frozen=True)
class Upstream:
    """The reference server a proxy under test forwards to, and a key it accepts."""

    url: str
    key: str = field(repr=False)

    def force_status_headers(self, status: int) -> dict[str, str]:
        """Headers that make it answer ``status`` (a test-only header only it honours)."""
        return {FORCE_STATUS_HEADER: str(status)}


def kind_of(settings: Settings) -> TargetKind:
    """Replay when cassettes only replay; else the embedded reference server when named
    (``--anthropic-target=embedded``); else live or proxy when named or when a URL or a key was
    given (live when the URL is the real API's host); else the embedded reference server."""
    if settings.record_mode is RecordMode.NONE:
        return TargetKind.REPLAY
    if settings.target == "embedded":  # chosen by name: exported keys and URLs never redirect it
        return TargetKind.REFERENCE
    if settings.target == "live" or settings.base_url or settings.api_key or settings.admin_api_key:
        real = urlsplit(catalog.REAL_API_URL).hostname
        return TargetKind.LIVE if urlsplit(settings.live_url).hostname == real else TargetKind.PROXY
    return TargetKind.REFERENCE


#: How long a batch of the embedded server runs when it injects faults (see ``started``).
FLAKY_BATCH_SECONDS = 3.0


@dataclass(frozen=True)
class RunTarget:
    """The run's target, resolved once (``resolve``). Ask it, never its kind.

    ``base_url`` is None only for the embedded reference server before ``started()``.
    """

    kind: TargetKind
    base_url: str | None
    api_version: str
    auth: AuthStyle
    keys: Mapping[str, str] = field(repr=False)  # credential -> key; absent = not given
    rename_key_id: str | None = None
    upstream: Upstream | None = None
    max_retries: int = 2
    retry_deadline: float = 60.0
    retry_backoff: float = 0.5
    #: Seconds any answer may take; None: each family's (``catalog.ANSWER_TIMEOUTS``).
    timeout: float | None = 60.0
    cassette_dir: Path | None = None
    #: Share of requests the embedded reference server fails at random (``--anthropic-
    #: reference-faults``); only that server has it.
    reference_faults: float = 0.0
    #: Seconds the embedded reference server waits before each answer (``--anthropic-
    #: reference-latency``: a distant API on loopback); only that server has it.
    reference_latency: float = 0.0

    @property
    def traits(self) -> Traits:
        return TRAITS[self.kind]

    # --- lifecycle and clients ---------------------------------------------------------------

    @contextlib.contextmanager
    def started(self) -> Iterator[RunTarget]:
        """This target, running: the embedded reference server is started here and stopped on
        exit; any other target is already there."""
        if self.base_url is not None:
            yield self
            return
        from conformance import reference
        from conformance.reference.latency import batch_seconds

        config = reference.ReferenceConfig(
            faults=self.reference_faults, latency=self.reference_latency
        )
        if self.reference_faults:
            # Retries take seconds: a retried cancel must still find its batch in progress,
            # as on the real API, where a batch takes minutes.
            config.batch_seconds = FLAKY_BATCH_SECONDS
        config.batch_seconds = batch_seconds(self.reference_latency, config.batch_seconds)
        with reference.EmbeddedServer(config) as server:
            yield dataclasses.replace(self, base_url=server.url)

    def credential(self, name: str) -> str | None:
        """The key of credential ``name`` (``API_KEY``, ``ADMIN_KEY``, ``UPSTREAM_KEY``), or
        None when the run has none."""
        if name == UPSTREAM_KEY:
            return self.upstream.key if self.upstream else None
        return self.keys.get(name)

    @property
    def api_key(self) -> str | None:
        return self.credential(API_KEY)

    def endpoint(self, credential: str = API_KEY) -> Target:
        """What a client sending ``credential`` talks to."""
        if self.base_url is None:
            raise RuntimeError("the embedded reference server is not running: use started()")
        return Target(
            self.kind, self.base_url, self.credential(credential), self.api_version, self.auth
        )

    def _client_kwargs(self, kw: dict[str, Any]) -> dict[str, Any]:
        from conformance.client import RetryPolicy  # see the TYPE_CHECKING import above

        kw.setdefault(
            "retry", RetryPolicy(self.max_retries, self.retry_deadline, base=self.retry_backoff)
        )
        kw.setdefault("timeout", self.timeout)
        return kw

    def client(self, credential: str = API_KEY, **kw: Any) -> ApiClient:
        """A sync client sending ``credential``, with the run's retries and timeout (``kw``
        overrides them and passes the rest on to ``ApiClient``)."""
        from conformance.client import ApiClient

        return ApiClient(self.endpoint(credential), **self._client_kwargs(kw))

    def async_client(self, credential: str = API_KEY, **kw: Any) -> AsyncApiClient:
        """The asyncio twin of ``client``."""
        from conformance.client import AsyncApiClient

        return AsyncApiClient(self.endpoint(credential), **self._client_kwargs(kw))

    def clients(self, credentials: Iterable[str] = CREDENTIALS, **kw: Any) -> dict[str, ApiClient]:
        """One client per credential the run holds (a missing key: no client, never another
        key in its place); close them when done."""
        return {
            name: self.client(name, **kw)
            for name in credentials
            if self.credential(name) is not None
        }

    # --- what the target supports ------------------------------------------------------------

    @property
    def can_force_status(self) -> bool:
        """Whether ``force_status_headers`` may make it answer a chosen status."""
        return self.traits.may_force_status

    def force_status_headers(self, status: int) -> dict[str, str]:
        """Headers asking the target to answer ``status``. Only a reference server honours
        them, so a target for which ``can_force_status`` is only a maybe (a proxy) may ignore
        them: check the status you got."""
        if not self.can_force_status:
            raise ValueError(f"{self.describe()} cannot be made to answer a chosen status")
        return {FORCE_STATUS_HEADER: str(status)}

    @property
    def can_force_faults(self) -> bool:
        """Whether a fault directive in the request's content (``fault_directive``) makes the
        answer a chosen fault: the reference server honours it, itself or as the upstream of a
        proxy (every proxy forwards the messages); the real API reads it as plain text."""
        return self.traits.may_force_status and (
            self.upstream is not None or not self.traits.forwards
        )

    def fault_directive(self, fault: str) -> str:
        """The text to put in the system prompt or last user message to force ``fault``
        (``429``, ``529``, ``500`` or ``stream-error``; ``conformance.reference.faults``)."""
        if not self.can_force_faults:
            raise ValueError(f"{self.describe()} cannot be made to answer a chosen fault")
        from conformance.reference.faults import directive

        return directive(fault)

    def why_no_faults(self) -> str:
        """The skip reason of a test that needs ``can_force_faults`` ("" when it can)."""
        if self.can_force_faults:
            return ""
        if not self.traits.may_force_status:
            return (
                f"faults cannot be forced on {self.describe()}: only the reference server "
                "honours a [[conformance:fault=…]] directive, and the real API must not be "
                "made to fail"
            )
        return (
            f"faults cannot be forced through {self.describe()} without its upstream: run "
            "the reference server behind it and set --anthropic-upstream-url"
        )

    def now(self) -> datetime:
        """The target's clock: the reference server's fixed one, else the wall clock (UTC)."""
        if not self.traits.fixed_clock:
            return datetime.now(UTC)
        from conformance.reference.admin import REFERENCE_NOW

        return REFERENCE_NOW

    @property
    def requires_rate_limit_headers(self) -> bool:
        """Whether a messages answer without ``anthropic-ratelimit-*`` headers fails (else it
        is a warning)."""
        return self.traits.states_rate_limits

    @property
    def reports_usage_at_once(self) -> bool:
        return self.traits.reports_usage_at_once

    @property
    def batches_end_quickly(self) -> bool:
        return self.traits.batches_end_quickly

    @property
    def bills_tokens(self) -> bool:
        """Whether tokens cost money here. Not for a proxy in front of an upstream reference
        server (``--anthropic-upstream-url``): every request it forwards ends at that server,
        which bills nothing, so its author runs the costly (``*_live``) tests by default. The
        upstream is ours by contract: the pass-through checks read its ``/_reference/answers``
        journal, and a proxy forwarding elsewhere fails them (``UpstreamLookupError``)."""
        return self.traits.bills_tokens and self.upstream is None

    @property
    def keeps_resources(self) -> bool:
        return self.traits.keeps_resources

    @property
    def offline(self) -> bool:
        return self.traits.offline

    @property
    def assumed_capabilities(self) -> str:
        """Why capability probing is skipped (the reason), or "" when the target is probed."""
        if self.traits.assumed:
            return self.traits.assumed
        if not any(self.credential(c) for c in CREDENTIALS):
            return "no key for the live target"
        return ""

    def describe(self) -> str:
        """Where the run points, for the report header (never a key)."""
        if self.kind is TargetKind.REFERENCE:
            return "embedded reference server (the default: no key, no network)"
        if self.kind is TargetKind.REPLAY:
            return f"cassette replay from {self.cassette_dir}, network blocked"
        return f"{self.kind.value} {self.base_url}"

    @property
    def recorded_as(self) -> str:
        """What a cassette recorded against this target names as its ``provenance.target``."""
        from conformance.cassettes.serializer import target_of

        return target_of(self.base_url or "", self.kind is TargetKind.REFERENCE)

    @property
    def public_url(self) -> str | None:
        """The URL a report may show: the user's, not the embedded server's random port."""
        return None if self.kind in (TargetKind.REFERENCE, TargetKind.REPLAY) else self.base_url


def usage_problem(settings: Settings, kind: TargetKind) -> str | None:
    """Why these settings cannot make an honest run, or None.

    * A base URL with a record mode and no cassette dir of the user's would replay the shipped
      cassettes (recorded against the reference server) and call that a test of the target.
    * A live target or proxy with no key at all would skip every test: a green run that tested
      nothing. An admin key alone is a valid run (the Admin API tests; the others skip).
    """
    if (
        settings.base_url
        and settings.target != "embedded"  # named: an exported base URL is ignored
        and settings.record_mode is not None
        and "cassette_dir" not in settings.model_fields_set
    ):
        return (
            f"--record-mode={settings.record_mode.value} with a base URL "
            f"({settings.base_url}) would use the cassettes shipped with the suite, "
            "recorded against the reference server, not your target: pass "
            "--anthropic-cassette-dir DIR (ANTHROPIC_CONFORMANCE_CASSETTE_DIR) for your "
            "own cassettes, or drop --record-mode to test the target itself"
        )
    if (
        kind in (TargetKind.LIVE, TargetKind.PROXY)
        and settings.api_key is None
        and settings.admin_api_key is None
    ):
        return (
            f"no API key for the target {settings.live_url}: set ANTHROPIC_API_KEY (or "
            "--anthropic-api-key; ANTHROPIC_ADMIN_API_KEY alone runs the Admin API tests "
            "only), or unset ANTHROPIC_BASE_URL to run against the embedded reference "
            "server"
        )
    return None


def resolve(settings: Settings) -> RunTarget:
    """The run's target from its settings: the one place that decides by the kind.

    Raises ``ConfigError`` (a usage error) when the settings cannot make an honest run
    (``usage_problem``).
    """
    kind = kind_of(settings)
    problem = usage_problem(settings, kind)
    if problem:
        raise ConfigError(problem)

    def given(secret: Any) -> str | None:
        return secret.get_secret_value() if secret is not None else None

    from conformance.reference.state import DEFAULT_ADMIN_API_KEY, DEFAULT_API_KEY

    keys: dict[str, str | None]
    if kind is TargetKind.REFERENCE:
        keys = {API_KEY: DEFAULT_API_KEY, ADMIN_KEY: DEFAULT_ADMIN_API_KEY}
    elif kind is TargetKind.REPLAY:
        keys = {API_KEY: REPLAY_KEY, ADMIN_KEY: REPLAY_KEY}
    else:
        keys = {API_KEY: given(settings.api_key), ADMIN_KEY: given(settings.admin_api_key)}
    upstream = None
    if settings.upstream_url and TRAITS[kind].forwards:
        upstream = Upstream(
            settings.upstream_url, given(settings.upstream_api_key) or DEFAULT_API_KEY
        )
    # The reference server's seeded key may be renamed: the user's choice elsewhere.
    rename = settings.admin_rename_key_id
    if TRAITS[kind].seeded:
        from conformance.reference.admin import REFERENCE_KEY_ID

        rename = rename or REFERENCE_KEY_ID
    return RunTarget(
        kind=kind,
        base_url=None if kind is TargetKind.REFERENCE else settings.live_url,
        api_version=settings.api_version,
        auth=settings.auth,
        keys={name: key for name, key in keys.items() if key is not None},
        rename_key_id=rename,
        upstream=upstream,
        max_retries=settings.max_retries,
        retry_deadline=settings.retry_deadline,
        retry_backoff=settings.retry_backoff,
        # --anthropic-timeout, when given, bounds every answer; else each family has its own
        timeout=settings.timeout if "timeout" in settings.model_fields_set else None,
        cassette_dir=settings.cassette_dir if kind is TargetKind.REPLAY else None,
        reference_faults=settings.reference_faults if kind is TargetKind.REFERENCE else 0.0,
        reference_latency=settings.reference_latency if kind is TargetKind.REFERENCE else 0.0,
    )
