"""A profile's target and the client its suite talks through.

``ProfileTarget`` is resolved once per run from the profile's settings and the core record mode:
the profile's reference implementation on loopback (no base URL given), the deployment at the
given base URL, or cassette replay (``--record-mode=none``; no server, the network blocked).
``ProfileClient`` sends a request, captures it as an ``Exchange`` and judges it: the schema of
its endpoint and status, the profile's registered checks, then the profile's deviation policy
(strict, or accepting the known as-built shapes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

from conformance import catalog
from conformance import checks as registry
from conformance.checks.common import JSON_BODY, STATUS
from conformance.client import ssl_context
from conformance.exceptions import ConformanceToolError
from conformance.exchange import Exchange, Finding, raise_for_findings, shorten
from conformance.profiles._model import Profile, ProfileSettings
from conformance.profiles._schemas import schema_set

TargetKind = Literal["reference", "replay", "deployment"]
#: Where a replay "sends" its requests: cassettes match on path and body, never the host.
REPLAY_URL = "http://profile-replay.invalid"


class ProfileTargetUnreachable(ConformanceToolError, AssertionError):
    """Nothing answered at the profile's base URL; the message names it and the option."""


@dataclass(frozen=True)
class ProfileTarget:
    """Where one profile's suite points, resolved once (see the module docstring)."""

    profile: Profile
    settings: ProfileSettings
    kind: TargetKind
    base_url: str | None  # None: the reference implementation before started()

    @property
    def seeded(self) -> bool:
        """It is (or replays) the reference implementation: its seeded state and test-only
        triggers are there."""
        return self.kind in ("reference", "replay")

    @property
    def probed(self) -> bool:
        return self.kind == "deployment"

    def describe(self) -> str:
        mutants = f" with mutants {','.join(self.settings.mutant)}" if self.settings.mutant else ""
        if self.kind == "reference":
            return f"its reference implementation on loopback{mutants} (no network)"
        if self.kind == "replay":
            return "cassette replay, network blocked"
        return f"deployment {self.base_url}"

    @contextlib.contextmanager
    def started(self) -> Iterator[ProfileTarget]:
        """This target, running: the reference implementation is started here."""
        if self.base_url is not None:
            yield self
            return
        if self.profile.reference is None:
            raise ProfileTargetUnreachable(
                f"profile {self.profile.name} has no reference implementation: give "
                f"--{self.profile.prefix}-base-url"
            )
        import inspect

        from conformance.reference import EmbeddedServer

        factory = self.profile.reference
        # A reference that behaves per the profile's options (e.g. how it keys its statistics)
        # declares a ``settings`` parameter and gets them.
        extra = (
            {"settings": self.settings}
            if "settings" in inspect.signature(factory).parameters
            else {}
        )
        app = factory(mutants=self.settings.mutant, **extra)
        with EmbeddedServer(app=app) as server:
            yield dataclasses.replace(self, base_url=server.url)


def resolve(profile: Profile, settings: ProfileSettings, replay: bool) -> ProfileTarget:
    if replay:
        return ProfileTarget(profile, settings, "replay", REPLAY_URL)
    if settings.base_url:
        return ProfileTarget(profile, settings, "deployment", settings.base_url)
    return ProfileTarget(profile, settings, "reference", None)


def profile_checks(profile: Profile) -> tuple[registry.Check, ...]:
    """The per-answer checks the profile's check modules registered (imported here)."""
    import importlib

    for module in profile.checks:
        importlib.import_module(module)
    return tuple(
        info.check
        for info in registry.registered()
        if info.check is not None and info.check.func.__module__ in profile.checks
    )


def apply_policy(profile: Profile, as_built: bool, findings: Iterable[Finding]) -> list[Finding]:
    """Findings of a known deviation get the severity the profile gives it in this mode (or
    are dropped when the as-built shape is accepted silently)."""
    out: list[Finding] = []
    for f in findings:
        deviation = profile.deviation(f.check)
        if deviation is None:
            out.append(f)
            continue
        severity = deviation.as_built if as_built else deviation.strict
        if severity is not None:
            hint = "" if as_built else f" (known as-built shape: --{profile.prefix}-as-built)"
            message = f.message if f.message.endswith(hint) else f.message + hint
            out.append(dataclasses.replace(f, severity=severity, message=message))
    return out


class ProfileClient:
    """Sends requests to a started ``ProfileTarget`` and judges the answers."""

    def __init__(
        self,
        target: ProfileTarget,
        *,
        timeout: float = 60.0,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        if target.base_url is None:
            raise RuntimeError("the profile's reference implementation is not running")
        self.target = target
        self.profile = target.profile
        self._on_exchange = on_exchange
        headers = {}
        if target.settings.api_key is not None and target.kind == "deployment":
            headers["authorization"] = f"Bearer {target.settings.api_key.get_secret_value()}"
        # one shared TLS context: building one per client (per test) costs ~30 ms
        self._http = httpx.Client(
            base_url=target.base_url, timeout=timeout, headers=headers, verify=ssl_context()
        )
        self._checks = profile_checks(self.profile)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ProfileClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sending ---------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Exchange:
        """One request; the answer as an ``Exchange`` (``path`` with its query string).
        ``headers`` go with this request only (a tenant's Host, a dashboard key)."""
        query = f"?{urlencode(params)}" if params else ""
        try:
            response = self._http.request(
                method,
                path + query,
                json=json_body if json_body is not None else None,
                headers=dict(headers) if headers else None,
            )
        except httpx.TransportError as exc:
            raise ProfileTargetUnreachable(
                f"{self.profile.name}: no answer from {self.target.base_url}{path}: "
                f"{type(exc).__name__}: {exc}; check --{self.profile.prefix}-base-url"
            ) from None
        exchange = Exchange(
            method=method.upper(),
            path=path + query,
            status=response.status_code,
            response_headers={k.lower(): v for k, v in response.headers.items()},
            body=response.content,
            request_json=json_body,
            request_headers={
                k.lower(): v
                for k, v in (headers or {}).items()
                # credentials are never kept (a profile's own key headers: any "...-key")
                if k.lower() not in catalog.SECRET_HEADERS and not k.lower().endswith("key")
            },
            url=str(response.request.url),
        )
        if self._on_exchange is not None:
            self._on_exchange(exchange)
        return exchange

    def get(self, path: str, **params: Any) -> Exchange:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any) -> Exchange:
        return self.call("POST", path, json_body=body)

    # --- judging ---------------------------------------------------------------------------------

    def findings(self, exchange: Exchange) -> list[Finding]:
        """Schema and check findings for ``exchange``, after the profile's deviation policy."""
        return self.judge(self.raw_findings(exchange))

    def raw_findings(self, exchange: Exchange) -> list[Finding]:
        out: list[Finding] = []
        endpoint = self.profile.endpoint_of(exchange.method, exchange.path)
        schema = (
            self.profile.error_schema
            if exchange.status >= 400
            else endpoint.response_schema
            if endpoint
            else None
        )
        if schema is not None and self.profile.schemas_dir is not None:
            body = exchange.json
            if body is None and exchange.body and exchange.body.strip()[:1] == b"[":
                body = json.loads(exchange.body)  # a JSON array is JSON too
            if body is None:
                out.append(
                    Finding(
                        JSON_BODY,
                        "the answer body is not a JSON object",
                        rule="the document's answers are JSON objects",
                        value=shorten(exchange.body.decode("utf-8", "replace")),
                    )
                )
            else:
                out += schema_set(self.profile.schemas_dir, self.profile.name).validate(
                    body, schema
                )
        for check in self._checks:
            out += check(exchange)
        return out

    def judge(self, findings: Iterable[Finding]) -> list[Finding]:
        return apply_policy(self.profile, self.target.settings.as_built, findings)

    def expect(self, exchange: Exchange, status: int = 200) -> Any:
        """Fail unless ``exchange`` has ``status`` and conforms; return its JSON body."""
        found = self.findings(exchange)
        if exchange.status != status:
            found.insert(
                0,
                Finding(
                    STATUS,
                    f"expected HTTP {status}, got {exchange.status}",
                    rule=f"status == {status}",
                    value=shorten(exchange.body.decode("utf-8", "replace"), 300),
                ),
            )
        raise_for_findings(found, exchange.describe())
        return exchange.json

    def require(self, findings: Iterable[Finding], context: str) -> None:
        """Fail with the findings of an on-demand check (after the deviation policy)."""
        raise_for_findings(self.judge(findings), context)
