"""Which endpoint families a target serves, found by cheap probes before its tests run.

A proxy or gateway often serves only part of the API (say ``/v1/messages``). Its other families
are not broken, they are absent: their tests are skipped with the probe's evidence, and the family
is reported once as "not supported" — unless the user requires it (``--anthropic-require``), then
its tests fail with that evidence.

Each family is one row of ``PROBES``: a request that costs nothing (an invalid body, so no
generation, or a one-item list page) and whose answer tells "served" from "not served":

* served: any 2xx; any Anthropic error envelope other than 404/405 (a 400 for the invalid body,
  401/403 for a key without rights all prove the route exists); and, so that a broken answer is
  judged by the tests rather than hidden, any other answer that is not a 404/405/501;
* not served: 404 or 405 (with or without an envelope: the route is missing upstream or in the
  proxy), or 501 Not Implemented.

A probe that gets no answer at all says nothing about its family (it counts as served), but when
*no* probe is answered (the target is down or silent), or every answer is a "not served" one (a
wrong base URL: an HTML 404 for everything), the run cannot tell anything: ``Capabilities.fatal``
then says why, and the plugin ends the session once with that message instead of skipping every
test (a green run) or retrying every test against nothing (hours). So does a key the target
refuses: when every probe sent with a key (as its family's own) is answered 401/403, the run
stops once, "the target refused the key", instead of failing every test. Probes use the run's
timeout and retries, and stop at the first probe that gets no answer while none was answered yet.

Each probe is sent with the credential its family takes (the admin probe with the admin key,
the others with the API key) when the run has it, else with the key it has: a run with only an
admin key is probed like any other. Whether a target is probed at all is the target's answer
(``RunTarget.assumed_capabilities``: the embedded reference server serves everything, replay has
no target). The plugin keeps the result in ``config.stash[conformance.plugin.CAPABILITIES]``;
``Capabilities.as_dict()`` is its JSON form for reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import catalog
from conformance.client import (
    ApiClient,
    ConnectionLost,
    RetryPolicy,
    StillTransient,
    TargetUnreachable,
)
from conformance.exchange import Exchange, shorten
from conformance.settings import CAPABILITY_NAMES, Settings
from conformance.target import ADMIN_KEY, API_KEY, RunTarget, Target, resolve


@dataclass(frozen=True)
class Probe:
    """How to ask a target, for free, whether it serves one family."""

    name: str  # a capability name (settings.CAPABILITY_NAMES)
    endpoint: str  # catalog endpoint the probe calls (its method and path come from there)
    json: Any = None  # the request body: invalid on purpose for POSTs, so nothing is generated
    params: Mapping[str, Any] | None = None
    beta: str | None = None  # catalog.BETAS feature whose anthropic-beta the family needs
    credential: str = API_KEY  # the key the family takes (conformance.target credentials)

    def describe(self) -> str:
        ep = catalog.endpoint(self.endpoint)
        return f"{ep.method} {ep.path}"


#: One row per family. ``{}`` is rejected (400) before any generation by every real endpoint.
PROBES: tuple[Probe, ...] = (
    Probe("messages", "messages.create", json={}),
    Probe("streaming", "messages.create", json={"stream": True}),
    Probe("count_tokens", "messages.count_tokens", json={}),
    Probe("models", "models.list", params={"limit": 1}),
    Probe("batches", "batches.list", params={"limit": 1}),
    Probe("files", "files.list", params={"limit": 1}, beta="files"),
    Probe("prompt_tools", "prompt_tools.generate", json={}, beta="prompt_tools"),
    Probe("admin", "admin.organizations.me", credential=ADMIN_KEY),
)

#: Statuses that mean "this route is not here" whatever the body says.
NOT_SERVED_STATUSES = frozenset({404, 405, 501})


@dataclass(frozen=True)
class Capability:
    """One family's verdict and the evidence for it (what the probe was answered)."""

    name: str
    supported: bool
    probe: str  # "GET /v1/models"
    status: int | None = None  # None: not probed, or no answer at all
    body: str = ""  # shortened
    request_id: str | None = None
    detail: str = ""
    unreached: bool = False  # the probe got no answer at all (TargetUnreachable)

    def evidence(self) -> str:
        """``GET /v1/models -> 404 (request-id req_…): detail; body: …`` for messages."""
        if self.status is None:
            return f"{self.probe}: {self.detail}"
        rid = f" (request-id {self.request_id})" if self.request_id else ""
        body = f"; body: {self.body}" if self.body else ""
        return f"{self.probe} -> {self.status}{rid}: {self.detail}{body}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "supported": self.supported,
            "probe": self.probe,
            "status": self.status,
            "body": self.body,
            "request_id": self.request_id,
            "detail": self.detail,
            "evidence": self.evidence(),
        }


@dataclass(frozen=True)
class Capabilities:
    """Every family's ``Capability``; ``probed`` is False when they were assumed, not asked."""

    by_name: Mapping[str, Capability] = field(default_factory=dict)
    probed: bool = False
    note: str = ""
    #: Why the run cannot go on against this target (nothing answered, nothing looks like the
    #: API, probing itself failed); empty when it can. The plugin ends the session with it.
    fatal: str = ""

    def supported(self, name: str) -> bool:
        """Unknown names count as supported: only evidence can make a family "not supported"."""
        found = self.by_name.get(name)
        return found is None or found.supported

    def unsupported(self) -> list[Capability]:
        return [c for c in self.by_name.values() if not c.supported]

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON form reports embed."""
        return {
            "probed": self.probed,
            "note": self.note,
            "families": {n: c.as_dict() for n, c in self.by_name.items()},
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, for another process to rebuild with ``from_json`` (an xdist worker)."""
        return {
            "capabilities": [dataclasses.asdict(c) for c in self.by_name.values()],
            "probed": self.probed,
            "note": self.note,
            "fatal": self.fatal,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Capabilities:
        caps = [Capability(**c) for c in data["capabilities"]]
        return cls(
            {c.name: c for c in caps},
            probed=bool(data["probed"]),
            note=str(data["note"]),
            fatal=str(data["fatal"]),
        )


def assumed(note: str) -> Capabilities:
    """Everything served, not probed (the embedded reference server, replay, no key)."""
    every = {
        p.name: Capability(p.name, True, p.describe(), detail=f"not probed: {note}") for p in PROBES
    }
    return Capabilities(every, probed=False, note=note)


def _is_envelope(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("type") == "error"
        and isinstance(body.get("error"), dict)
        and isinstance(body["error"].get("type"), str)
    )


def classify(status: int, body: Any) -> tuple[bool, str]:
    """(served?, why) for a probe answered ``status`` with JSON ``body`` (None if not JSON)."""
    envelope = _is_envelope(body)
    if 200 <= status < 300:
        return True, "answered with success"
    if status in NOT_SERVED_STATUSES:
        shape = "an Anthropic error envelope" if envelope else "no Anthropic error envelope"
        return False, f"the route is not served ({status} with {shape})"
    if envelope:
        return True, f"the route exists (a {status} {body['error']['type']} envelope)"
    return True, (
        f"the route answers, though not with an Anthropic error envelope ({status}); "
        "the tests will judge the answers"
    )


def _capability(probe: Probe, exchange: Exchange) -> Capability:
    served, detail = classify(exchange.status, exchange.json)
    shown = exchange.json if exchange.json is not None else exchange.body.decode("utf-8", "replace")
    return Capability(
        probe.name,
        served,
        probe.describe(),
        exchange.status,
        shorten(shown, 200),
        exchange.request_id,
        detail,
    )


def _probe(
    probe: Probe, clients: Mapping[str, ApiClient], first: ApiClient
) -> tuple[Capability, str | None]:
    """One probe through the client of its credential, and why it stops the others (a target
    never reached or silent), or None."""
    ep = catalog.endpoint(probe.endpoint)
    version = first.target.api_version
    betas = catalog.betas_for([probe.beta], version) if probe.beta else []
    headers = {"anthropic-beta": ",".join(betas)} if betas else None
    client = clients.get(probe.credential, first)
    try:
        exchange = client.request(
            ep.method, ep.path, json=probe.json, params=probe.params, headers=headers
        )
    except TargetUnreachable as exc:
        # No answer says nothing about the family: let its tests run and report the error.
        cut_off = isinstance(exc, ConnectionLost) and not exc.timed_out
        cap = Capability(
            probe.name,
            True,
            probe.describe(),
            unreached=True,
            detail=f"no answer to the probe ({exc})",
        )
        return cap, None if cut_off else str(exc)
    except StillTransient as exc:  # it answered, only transiently: served, as far as known
        detail = f"the probe's answer was still transient after the retries ({exc})"
        return Capability(probe.name, True, probe.describe(), detail=detail), None
    except AssertionError as exc:  # UnreadableAnswer: it answered; the tests will judge it
        detail = f"the probe's answer cannot be read ({exc})"
        return Capability(probe.name, True, probe.describe(), detail=detail), None
    return _capability(probe, exchange), None


def probe_client(client: ApiClient, probes: Iterable[Probe] = PROBES) -> Capabilities:
    """Run every probe through ``client`` (its target, key and version)."""
    return probe_clients({API_KEY: client}, probes)


def probe_clients(
    clients: Mapping[str, ApiClient], probes: Iterable[Probe] = PROBES
) -> Capabilities:
    """Run every probe through the client of its credential, else through the first client
    (one target, one version, a client per key).

    Once a probe got no answer while none was answered before, the rest are not sent: each would
    cost the client's full retries for the same cause, and the verdict (``fatal``) is already set.
    """
    if not clients:
        raise ValueError("probing needs at least one client")
    probes = tuple(probes)
    first = next(iter(clients.values()))
    found: dict[str, Capability] = {}
    unreached = ""
    for i, probe in enumerate(probes):
        if unreached:
            found[probe.name] = Capability(
                probe.name,
                True,
                probe.describe(),
                unreached=True,
                detail=f"not sent: an earlier probe got no answer ({unreached})",
            )
            continue
        if found and not any(c.unreached for c in found.values()):
            # The target answers: the other probes go out at once (each waits out one round
            # trip; one after the other they cost every xdist worker seconds on a distant API).
            rest = probes[i:]
            with ThreadPoolExecutor(max_workers=min(8, len(rest))) as pool:
                answers = list(pool.map(lambda p: _probe(p, clients, first), rest))
            found.update((p.name, cap) for p, (cap, _) in zip(rest, answers, strict=True))
            break
        found[probe.name], lost = _probe(probe, clients, first)
        # A connection made then cut (ConnectionLost, no timeout) is a target that is there: the
        # other probes are still sent. A target never reached, or silent (each try timed out),
        # skips them: each would wait as long for the same cause.
        if lost is not None and not any(not c.unreached for c in found.values()):
            unreached = lost
    base_url = first.target.base_url
    fatal = fatal_reason(base_url, found.values()) or refused_reason(
        base_url, {p.name: p.credential if p.credential in clients else "" for p in probes}, found
    )
    return Capabilities(found, probed=True, note=f"probed {base_url}", fatal=fatal)


#: Statuses that mean "this key is not accepted here" (or lacks every right): no test can pass.
REFUSED_STATUSES = frozenset({401, 403})
#: The setting that gives each credential's key, for the message.
KEY_SETTINGS = {
    API_KEY: "ANTHROPIC_API_KEY (--anthropic-api-key)",
    ADMIN_KEY: "ANTHROPIC_ADMIN_API_KEY (--anthropic-admin-api-key)",
}


def refused_reason(
    base_url: str, sent_with: Mapping[str, str], found: Mapping[str, Capability]
) -> str:
    """Why the run stops because the target refused a key, or "".

    A key is refused when every probe sent with it, as its own family's key (``sent_with``:
    probe name -> the credential it was sent with as its own, "" when it borrowed another), was
    answered 401 or 403: then every test sending it would fail the same way (a wrong key gives
    one stop, not 51 failures). A 403 on one family (a key without rights to it) is not this.
    """
    by_key: dict[str, list[Capability]] = {}
    for name, cap in found.items():
        credential = sent_with.get(name, "")
        if credential and not cap.unreached and cap.status is not None:
            by_key.setdefault(credential, []).append(cap)
    for credential, caps in by_key.items():
        if caps and all(c.status in REFUSED_STATUSES for c in caps):
            statuses = "/".join(str(s) for s in sorted({c.status for c in caps if c.status}))
            return (
                f"the target refused the key: every capability probe sent with "
                f"{KEY_SETTINGS.get(credential, credential)} was answered {statuses}, so "
                f"every test would fail the same way; check the key for {base_url}. "
                f"For example {caps[0].evidence()}"
            )
    return ""


def fatal_reason(base_url: str, found: Iterable[Capability]) -> str:
    """Why nothing can be learnt from the target, from its probes' verdicts; "" if something can.

    * no probe answered at all: the target is down, unreachable or silent;
    * every answered probe says "not served" (404/405/501) and none says served: whatever is at
      the base URL is not the Anthropic API (typically a wrong path prefix). A narrow proxy
      that serves only ``/v1/messages`` answers the messages probe, so it is not caught here.
    """
    caps = list(found)
    if not caps:
        return ""
    answered = [c for c in caps if not c.unreached]
    if not answered:
        cause = next((c.detail for c in caps if c.detail.startswith("no answer")), caps[0].detail)
        return (
            f"the target at {base_url} did not answer any capability probe, so every test "
            f"would fail the same way after its retries: {cause}"
        )
    if any(c.supported for c in answered):
        return ""
    statuses = sorted({c.status for c in answered if c.status is not None})
    enveloped = any(
        "an Anthropic error envelope" in c.detail and "no Anthropic" not in c.detail
        for c in answered
    )
    shape = "with" if enveloped else "without"
    got = "/".join(str(s) for s in statuses) or "no usable answer"
    example = answered[0].evidence()
    return (
        f"nothing at {base_url} answers like the Anthropic API (every probe got {got} "
        f"{shape} an Anthropic error envelope): is the base URL right "
        f"(--anthropic-base-url / ANTHROPIC_BASE_URL)? For example {example}"
    )


def failed(base_url: str, exc: BaseException) -> Capabilities:
    """What is stored when probing itself raised: kept, so it is not re-run for every test,
    and ``fatal``, so the session ends once with the cause."""
    return Capabilities(
        {},
        probed=True,
        note=f"probing {base_url} failed",
        fatal=f"probing the capabilities of the target at {base_url} failed: "
        f"{type(exc).__name__}: {exc}",
    )


def probe_target(
    target: Target, *, timeout: float = 15.0, retry: RetryPolicy | None = None
) -> Capabilities:
    """Probe ``target`` with a short-lived client (by default few retries: probes must be quick;
    a run passes its own ``--anthropic-max-retries`` / ``--anthropic-timeout``)."""
    policy = retry or RetryPolicy(max_retries=2, deadline=20.0)
    client = ApiClient(target, retry=policy, timeout=timeout)
    try:
        return probe_client(client)
    finally:
        client.close()


def for_target(target: RunTarget) -> Capabilities:
    """What the run's target serves: probed with each of its keys (the run's timeout and
    retries), unless the target says why its capabilities are assumed."""
    if target.assumed_capabilities:
        return assumed(target.assumed_capabilities)
    clients = target.clients()
    try:
        return probe_clients(clients)
    finally:
        for client in clients.values():
            client.close()


def for_target_or_failure(target: RunTarget) -> Capabilities:
    """``for_target``, or, when probing itself raised, ``failed``: kept like any verdict (so
    it is never re-run per test) and ``fatal``, so the session ends once with the cause."""
    try:
        return for_target(target)
    except Exception as exc:
        return failed(target.base_url or target.describe(), exc)


def probe_into(target: RunTarget, path: Path) -> threading.Thread:
    """``for_target_or_failure`` in a thread, its result written to ``path``.

    An xdist controller probes once for all its workers, while they start, instead of every
    worker paying the probes' round trips before its first test (seconds each against a
    distant API, where ``-n 4`` is meant to be 3 times faster than a serial run)."""

    def run() -> None:
        found = for_target_or_failure(target)
        part = path.with_suffix(".part")
        with contextlib.suppress(OSError):  # the run ended first and removed the directory
            part.write_text(json.dumps(found.to_json()), encoding="utf-8")
            os.replace(part, path)  # whole or not there: a reader never sees half a file

    thread = threading.Thread(target=run, name="anthropic-conformance-probe", daemon=True)
    thread.start()
    return thread


def start_shared_probe(target: RunTarget) -> Path:
    """``probe_into`` a file of a new temporary directory, whose path the workers are given
    (``remove_shared`` removes it at the run's end)."""
    path = Path(tempfile.mkdtemp(prefix="anthropic-conformance-")) / "capabilities.json"
    probe_into(target, path)
    return path


def remove_shared(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)


#: How long an xdist worker waits for its controller's probe (``probe_into``) before probing
#: itself: longer than probes answered at all take, shorter than a forgotten run.
SHARED_PROBE_WAIT = 300.0


def read_shared(
    path: Path,
    *,
    wait: float = SHARED_PROBE_WAIT,
    poll: float = 0.02,
    sleep: Callable[[float], None] = time.sleep,
) -> Capabilities | None:
    """What ``probe_into`` wrote to ``path``, waiting up to ``wait`` seconds for it; None when
    its directory is not on this machine (a remote ``--tx`` worker), the wait ran out or the
    file cannot be read: then the caller probes itself."""
    deadline = time.monotonic() + wait
    while not path.exists():
        # no such directory here (a remote worker), or gone (the controller ended the run)
        if not path.parent.is_dir() or time.monotonic() >= deadline:
            return None
        sleep(poll)
    try:
        return Capabilities.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def for_settings(settings: Settings) -> Capabilities:
    """``for_target`` of the target ``settings`` point at."""
    return for_target(resolve(settings))


def needed(features: Iterable[str]) -> list[str]:
    """The capabilities a test marked with ``features`` needs (a probe name, else the family)."""
    out: list[str] = []
    for name in features:
        feature = catalog.find_feature(name)
        cap = name if name in CAPABILITY_NAMES else (feature.family if feature else None)
        if cap is not None and cap not in out:
            out.append(cap)
    return out


@dataclass(frozen=True)
class FamilyVerdict:
    """Why a test must not run normally: skip it, or (a required family) fail it."""

    fail: bool
    message: str


def verdict(
    caps: Capabilities, features: Iterable[str], require: Iterable[str]
) -> FamilyVerdict | None:
    """``None`` when every capability the test needs is served; else skip, or fail if required."""
    missing = [caps.by_name[n] for n in needed(features) if not caps.supported(n)]
    if not missing:
        return None
    required = set(require)
    hard = [c for c in missing if c.name in required]
    evidence = "; ".join(f"{c.name}: {c.evidence()}" for c in (hard or missing))
    if hard:
        names = ",".join(c.name for c in hard)
        return FamilyVerdict(
            True,
            f"required famil{'y' if len(hard) == 1 else 'ies'} {names} "
            f"(--anthropic-require) not served by the target: {evidence}",
        )
    names = ",".join(c.name for c in missing)
    return FamilyVerdict(
        False,
        f"not supported by the target: {names} ({evidence}); "
        f"add --anthropic-require={names} to fail instead",
    )
