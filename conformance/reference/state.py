"""Configuration and per-app in-memory state of the reference server.

State is an object owned by one app instance (never module globals), so two apps in one process
(a faithful one and a mutant) never share counters, ids or stored resources. Ids derive from the
seed and a counter, so the same sequence of requests yields the same ids on every run: that is
what lets recorded cassettes be reproduced byte for byte.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conformance import catalog
from conformance.reference.mutants import MUTANTS

if TYPE_CHECKING:  # routing imports this module; the observer type is only an annotation here
    from conformance.reference.auth import RequestContext
    from conformance.reference.routing import Answer, AnswerObserver

#: Accepted by default. Deliberately not shaped like ``sk-ant-…`` so secret scanners stay quiet.
DEFAULT_API_KEY = "reference-key-local"
#: The admin key the Admin API routes accept by default (the normal key gets 403 there).
DEFAULT_ADMIN_API_KEY = "reference-admin-key-local"
#: The organization every answer claims to come from (the real API sends a UUID).
ORGANIZATION_ID = "5f0c4a8e-3b1d-4c6e-9a2f-7d8e1b0c9a34"

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class ReferenceConfig:
    """How one reference server behaves: the keys it accepts, the mutants it applies, its seed."""

    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    admin_api_keys: tuple[str, ...] = (DEFAULT_ADMIN_API_KEY,)
    mutants: tuple[str, ...] = ()
    seed: str = "conformance"
    #: Seconds a batch stays in_progress (and canceling) before it ends: short, unlike the API.
    batch_seconds: float = 0.3
    #: Uploaded files are not downloadable on the real API; True lets tests compare bytes.
    downloadable_uploads: bool = False
    #: Seconds between two SSE events of a stream (0: as fast as possible); a slow stream to
    #: record and replay with timing.
    stream_delay: float = 0.0
    #: The Admin API's "now" (seeded usage history, report windows, invite times). None: the
    #: fixed REFERENCE_NOW, so cassettes replay; ``serve``/``mutation-score`` pass the wall
    #: clock, so a live-mode suite's reports (the days before today) find the seeded history.
    now: datetime | None = None
    #: Share of API requests (0 to 1) that meet a random transient fault (``faults.FaultDice``:
    #: 429, 529, 5xx, a plain-text 503, a dropped connection, a cut stream, a late first byte).
    faults: float = 0.0
    #: Seed of those faults: the same seed and requests meet the same faults.
    fault_seed: str = "conformance"
    #: The kinds the random faults are drawn from (default: all, ``faults.RANDOM_FAULTS``).
    fault_kinds: tuple[str, ...] = ()
    #: Seconds every HTTP request waits before it is answered: a distant API on loopback
    #: (``latency.Latency``; ``serve --latency``). 0: answer at once.
    latency: float = 0.0

    def __post_init__(self) -> None:
        # Accept lists from callers (CLI, settings) but keep the frozen tuple shape.
        self.api_keys = tuple(self.api_keys)
        self.admin_api_keys = tuple(self.admin_api_keys)
        self.mutants = tuple(self.mutants)
        unknown = [m for m in self.mutants if m not in MUTANTS]
        if unknown:
            raise ValueError(
                f"unknown mutant(s): {', '.join(unknown)}; known: {', '.join(sorted(MUTANTS))}"
            )
        if self.stream_delay < 0:
            raise ValueError(f"stream delay must be 0 or more seconds, got {self.stream_delay}")
        from conformance.reference.latency import check_seconds

        check_seconds(self.latency)
        if not 0 <= self.faults <= 1:
            raise ValueError(f"the fault rate must be from 0 to 1 (0.3: 30%), got {self.faults}")
        from conformance.reference.faults import RANDOM_FAULTS  # faults imports routing

        self.fault_kinds = tuple(self.fault_kinds) or RANDOM_FAULTS
        bad = [k for k in self.fault_kinds if k not in RANDOM_FAULTS]
        if bad:
            raise ValueError(
                f"unknown fault kind(s): {', '.join(bad)}; known: {', '.join(RANDOM_FAULTS)}"
            )


def stable_token(*parts: object, length: int = 22) -> str:
    """A base62 string derived from ``parts``: the deterministic tail of every id we mint."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 62)
        chars.append(_BASE62[rem])
    return "".join(chars)


@dataclass(frozen=True)
class ReceivedRequest:
    """What one request looked like on arrival (credentials already dropped): the pass-through
    checks compare it with what the suite sent through a proxy (``checks.fidelity``)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    #: The body was longer than ``answers.RECEIVED_BODY_LIMIT`` and is cut there.
    truncated: bool = False


@dataclass(frozen=True)
class JournalEntry:
    """One answered request, kept so tests and the recorder can see what the server did."""

    method: str
    path: str
    status: int
    request_id: str
    endpoint: str
    #: What was sent, exactly (after mutants): the pass-through checks compare a proxy's answer
    #: with it. ``marker`` is the request's ``metadata.user_id``, to find the entry when a proxy
    #: does not forward the request-id.
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    marker: str | None = None
    #: The request as it arrived; a marker is also found anywhere in its body (a proxy that
    #: drops ``metadata`` still forwards the messages).
    received: ReceivedRequest | None = None


@dataclass
class ReferenceState:
    """Everything one app instance remembers: the request counter, resource stores, a journal."""

    seed: str
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    journal: deque[JournalEntry] = field(default_factory=lambda: deque(maxlen=10_000))
    #: Called with every answer a route returned; plug-ins (the Admin usage ledger) add theirs.
    observers: list[AnswerObserver] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_serial(self) -> int:
        """The next request number (1, 2, …); thread-safe because uvicorn may run handlers
        concurrently with the test thread reading state."""
        with self._lock:
            return next(self._counter)

    def make_id(self, prefix: str, *parts: object, length: int = 22) -> str:
        """``prefix`` + a deterministic tail derived from the seed and ``parts``."""
        return prefix + stable_token(self.seed, prefix, *parts, length=length)

    def new_request_id(self) -> tuple[int, str]:
        """A fresh (serial, ``req_…``) pair, shaped like the real ``req_011C…`` ids."""
        serial = self.next_serial()
        return serial, self.make_id(catalog.ID_PREFIXES["request"] + "011C", serial, length=20)

    def store(self, kind: str) -> dict[str, Any]:
        """The store of one resource kind (batches, files, …), created on first use."""
        with self._lock:
            return self.stores.setdefault(kind, {})

    def inventory(self) -> dict[str, list[str]]:
        """Kind -> ids of every stored resource (for the project's tests, not the suite)."""
        with self._lock:
            return {kind: list(items) for kind, items in self.stores.items() if items}

    def observe(self, ctx: RequestContext, answer: Answer) -> None:
        """Hand one answer to every observer, in the order they were registered."""
        for observer in list(self.observers):
            observer(ctx, answer)

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self.journal.append(entry)

    def answers(
        self, request_id: str | None = None, marker: str | None = None
    ) -> list[JournalEntry]:
        """The journal entries with this request-id and/or marker, oldest first."""
        with self._lock:
            return [
                e
                for e in self.journal
                if (request_id is None or e.request_id == request_id)
                and (
                    marker is None
                    or e.marker == marker
                    or (e.received is not None and marker.encode() in e.received.body)
                )
            ]
