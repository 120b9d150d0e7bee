"""Plain values that flow through a run: an HTTP ``Exchange`` and the ``Finding``\\ s about it.

Every layer (client, checks, cassette linter, report) passes these, so each can be tested on its
own with no network: a check is a function of an ``Exchange`` to a list of ``Finding``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from conformance import catalog, redact

#: How much a finding weighs: an ``"error"`` (nonconforming) fails the test, a ``"warning"`` (a
#: deviation a client may survive) is only reported, an ``"inconclusive"`` one (the suite could
#: not judge) skips the test with its evidence and never fails it.
Severity = Literal["error", "warning", "inconclusive"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "inconclusive")


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event: its ``event:`` name, the raw ``data:`` text and the decoded JSON."""

    event: str
    data: str
    json: Any = None

    @property
    def type(self) -> str:
        """The event's type: the JSON ``type`` when there is one, else the ``event:`` name."""
        if isinstance(self.json, dict) and isinstance(self.json.get("type"), str):
            return str(self.json["type"])
        return self.event


def shorten(value: Any, limit: int = 80) -> str:
    """A one-line rendering of ``value`` cut to ``limit`` characters, secrets masked."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    # Findings end up in assertion messages and reports: mask keys and this run's secrets.
    text = redact.redact_text(text.replace("\n", "\\n"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Exchange:
    """One request to the API and its answer, as the checks see it.

    ``path`` is relative to the API root (``/v1/messages``), whatever base URL or proxy prefix was
    used. Headers are lower-cased and already redacted. ``events`` is set for SSE answers, and
    ``event_times`` too when the client measured them (time-to-first-event is
    ``event_times[0]``).
    """

    method: str
    path: str
    status: int
    response_headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    request_json: Any = None
    request_headers: Mapping[str, str] = field(default_factory=dict)
    events: list[SseEvent] | None = None
    url: str = ""
    retries: int = 0
    elapsed: float = 0.0
    source: str = ""  # where the exchange came from: a test id, or "file.yaml#3"
    #: For streams: seconds from sending the request to the arrival of each of ``events`` (as
    #: measured below vcrpy while recording, or as delivered by a replay); None when unknown.
    event_times: list[float] | None = None
    #: True when a cassette played this answer back (the target was not asked); set by the
    #: run log as the exchange is recorded.
    replayed: bool = False
    #: What the earlier tries of this request met, one per retry (``"529 overloaded_error"``,
    #: ``"503 text/plain"``, ``"RemoteProtocolError"``): a test that passed only after them
    #: is listed as flaky, never hidden.
    faults: tuple[str, ...] = ()
    #: True once the client tried again after this answer: it is not its call's result.
    superseded: bool = False

    @property
    def request_id(self) -> str | None:
        return self.response_headers.get("request-id")

    @property
    def content_type(self) -> str:
        return self.response_headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def is_stream(self) -> bool:
        return self.events is not None

    @cached_property
    def json(self) -> Any:
        """The decoded JSON body, or ``None`` when the body is not JSON."""
        if self.is_stream or not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def endpoint(self) -> catalog.Endpoint | None:
        return catalog.match_endpoint(self.method, self.path)

    def describe(self) -> str:
        """``POST /v1/messages -> 200 (request-id req_…)`` for messages and logs."""
        rid = f" (request-id {self.request_id})" if self.request_id else ""
        return f"{self.method} {self.path} -> {self.status}{rid}"


@dataclass(frozen=True)
class Finding:
    """One way an answer breaks the contract.

    ``pointer`` is a JSON pointer into the answer (for streams: ``/events/3/delta/text``), ``rule``
    the schema keyword or the semantic rule, ``value`` a shortened rendering of the offending part.
    ``severity`` is the registered check's (``conformance.checks.check``): only ``"error"``
    findings fail a test.
    """

    check: str
    message: str
    pointer: str = ""
    rule: str = ""
    value: str = ""
    request_id: str | None = None
    severity: Severity = "error"

    def format(self) -> str:
        where = self.pointer or "/"
        label = self.check if self.severity == "error" else f"{self.check}, {self.severity}"
        parts = [f"[{label}] {where}: {self.message}"]
        if self.rule:
            parts.append(f"rule: {self.rule}")
        if self.value:
            parts.append(f"value: {self.value}")
        if self.request_id:
            parts.append(f"request-id: {self.request_id}")
        return " | ".join(parts)


class ConformanceError(AssertionError):
    """Raised by the suite when an answer breaks the contract; its message lists every finding."""

    def __init__(self, findings: Iterable[Finding], context: str = "") -> None:
        self.findings = list(findings)
        head = f"{context}: " if context else ""
        lines = "\n".join("  - " + f.format() for f in self.findings)
        failing = sum(f.severity == "error" for f in self.findings)
        extra = len(self.findings) - failing
        also = f" and {extra} warning(s)" if extra else ""
        super().__init__(f"{head}{failing} contract violation(s){also}\n{lines}")


class Inconclusive(Exception):  # a verdict ("cannot judge"), not an error condition
    """Raised when the suite cannot judge (the upstream's record of an answer is missing, ...):
    the test is skipped with this evidence, never failed. ``findings`` may carry the details."""

    def __init__(self, message: str, findings: Iterable[Finding] = ()) -> None:
        self.findings = list(findings)
        super().__init__(message)


class ConformanceWarning(UserWarning):
    """Issued for findings of severity ``"warning"`` when nothing fails the test."""


def raise_for_findings(findings: Iterable[Finding], context: str = "") -> None:
    """Fail the current test with every finding if any is an error; warnings alone only warn.

    A failure lists the warnings too (after the errors); warnings alone become one
    ``ConformanceWarning``, which pytest shows in its warnings summary.
    """
    found = list(findings)
    failing = [f for f in found if f.severity == "error"]
    if failing:
        raise ConformanceError(failing + [f for f in found if f.severity != "error"], context)
    if found:
        head = f"{context}: " if context else ""
        lines = "\n".join("  - " + f.format() for f in found)
        warnings.warn(ConformanceWarning(f"{head}{len(found)} warning(s)\n{lines}"), stacklevel=2)
