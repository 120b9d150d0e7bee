"""The check registry: ``@check`` records each named check with its endpoints and its guard.

Modelled on Schemathesis's ``@schemathesis.check``. A per-answer check is a function of an
``Exchange`` to a list of ``Finding``; the decorator records which endpoints of
``catalog.ENDPOINTS`` it applies to (``None``: every answer, endpoints the catalog lacks
included) and a guard (``success``, ``streams``, ... combined with ``&``, ``|`` and ``~``) that
must hold before it runs, so check bodies never start with ``if exchange.status >= 400``.
On-demand checks (the suite calls them with values of its own: a pagination walk, an upload and
its metadata) register their names with ``@on_demand``; names that only the plumbing emits
(``status``, ``schema``) with ``declare``. The registry is the one list of check names reports
and docs read (``names()``, ``registered()``).

The decorator is public: a user's conftest or plugin adds a check by decorating a function, and
every ``validate_exchange`` from then on runs it where it applies.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal, TypeVar

from conformance import catalog
from conformance.exceptions import ConformanceToolError
from conformance.exchange import SEVERITIES, Exchange, Finding, Severity

__all__ = [
    "Check",
    "CheckFunction",
    "CheckInfo",
    "CheckRegistrationError",
    "Guard",
    "Scope",
    "always",
    "check",
    "checks_for",
    "declare",
    "errors",
    "json_body",
    "lookup",
    "names",
    "on_demand",
    "registered",
    "run_checks",
    "scope_of",
    "severity_of",
    "status_in",
    "streams",
    "success",
    "unregister",
]

CheckFunction = Callable[[Exchange], list[Finding]]
F = TypeVar("F", bound=Callable[..., object])

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SEVERITIES: tuple[Severity, ...] = SEVERITIES
#: Where a check's findings are judged: ``"answer"``, in the test that got the answer; ``"run"``,
#: once per run as a root cause (a header every answer lacks, say): such findings do not fail
#: each test, they fail the session and open the report, counted over the tests they hit.
Scope = Literal["answer", "run"]
_SCOPES: tuple[Scope, ...] = ("answer", "run")


class CheckRegistrationError(ConformanceToolError, ValueError):
    """A check was registered wrongly: a bad or taken name, an endpoint the catalog lacks.

    The registering functions hide their frames (``__tracebackhide__``), so pytest points at
    the decorator line in the user's conftest.
    """


CheckRegistrationError.__module__ = "conformance.checks"  # how users import it


# --- guards ---------------------------------------------------------------------------------------


class Guard:
    """A named predicate on an ``Exchange``: when a check applies. ``&``, ``|``, ``~`` combine."""

    __slots__ = ("_test", "name")

    def __init__(self, name: str, test: Callable[[Exchange], bool]) -> None:
        self.name = name
        self._test = test

    def __call__(self, exchange: Exchange) -> bool:
        return self._test(exchange)

    def __and__(self, other: Guard) -> Guard:
        return Guard(f"({self.name} & {other.name})", lambda e: self(e) and other(e))

    def __or__(self, other: Guard) -> Guard:
        return Guard(f"({self.name} | {other.name})", lambda e: self(e) or other(e))

    def __invert__(self) -> Guard:
        return Guard(f"~{self.name}", lambda e: not self(e))

    def __repr__(self) -> str:
        return f"Guard({self.name})"


#: Every answer.
always = Guard("always", lambda e: True)
#: A successful answer (HTTP status below 400).
success = Guard("success", lambda e: e.status < 400)
#: An error answer (HTTP status 400 or above).
errors = Guard("errors", lambda e: e.status >= 400)
#: A server-sent event stream (``Exchange.events`` is set).
streams = Guard("streams", lambda e: e.events is not None)
#: A body that decodes to a JSON object (never a stream: its body is events, not JSON).
json_body = Guard("json_body", lambda e: isinstance(e.json, dict))


def status_in(*codes: int) -> Guard:
    """An answer with one of ``codes`` as its HTTP status."""
    wanted = frozenset(codes)
    return Guard(f"status_in({', '.join(map(str, sorted(wanted)))})", lambda e: e.status in wanted)


# --- registrations --------------------------------------------------------------------------------


class Check:
    """A registered per-answer check: calling it applies its guard, then runs the function.

    Findings that carry the check's name take the registration's severity, so a check
    registered as ``"warning"`` never fails a test on its own.
    """

    def __init__(
        self,
        name: str,
        func: CheckFunction,
        endpoints: tuple[str, ...] | None,
        applies: Guard,
        severity: Severity,
        description: str,
        scope: Scope = "answer",
        fix: str = "",
    ) -> None:
        self.name = name
        self.scope: Scope = scope
        self.fix = fix
        self.func = func
        #: Endpoint names of catalog.ENDPOINTS the check runs on; None: every answer.
        self.endpoints = endpoints
        self.applies = applies
        self.severity: Severity = severity
        self.description = description
        functools.update_wrapper(self, func)

    def __call__(self, exchange: Exchange) -> list[Finding]:
        if not self.applies(exchange):
            return []
        found = self.func(exchange)
        if self.severity == "error":
            return found
        return [
            dataclasses.replace(f, severity=self.severity)
            if f.check == self.name and f.severity != self.severity
            else f
            for f in found
        ]

    def covers(self, endpoint_name: str | None) -> bool:
        """True when the check runs on answers of ``endpoint_name`` (None: unknown endpoint)."""
        return self.endpoints is None or endpoint_name in self.endpoints

    def __repr__(self) -> str:
        where = "every endpoint" if self.endpoints is None else ", ".join(self.endpoints)
        return f"<Check {self.name!r} on {where} when {self.applies.name}>"


@dataclass(frozen=True)
class CheckInfo:
    """What the registry knows about one check name, for reports and docs."""

    name: str
    description: str
    severity: Severity
    #: The per-answer check of that name; None when only on-demand helpers report under it.
    check: Check | None = None
    #: Qualified names of the on-demand functions that report under this name.
    helpers: tuple[str, ...] = ()
    kind: Literal["answer", "on-demand", "built-in"] = "on-demand"
    #: ``"run"``: a root cause judged once per run, not in each test (see ``Scope``).
    scope: Scope = "answer"
    #: What to change on the target to make the check pass, for the report's root causes.
    fix: str = ""


_INFO: dict[str, CheckInfo] = {}
_CACHE: dict[str | None, tuple[Check, ...]] = {}


def _where(func: Callable[..., object]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def _first_line(func: Callable[..., object] | None, description: str | None) -> str:
    if description:
        return description
    doc = (getattr(func, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def _validate(name: str, severity: str, scope: str = "answer") -> None:
    __tracebackhide__ = True
    if scope not in _SCOPES:
        raise CheckRegistrationError(
            f"check {name!r}: scope {scope!r} is not one of {', '.join(_SCOPES)}"
        )
    if not isinstance(name, str) or not _NAME.match(name):
        raise CheckRegistrationError(
            f"check name {name!r} is not lower-case words joined by '-' (e.g. 'my-header')"
        )
    if severity not in _SEVERITIES:
        raise CheckRegistrationError(
            f"check {name!r}: severity {severity!r} is not one of {', '.join(_SEVERITIES)}"
        )


def _resolve(name: str, endpoints: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Endpoint names or fnmatch patterns (``"admin.*"``) -> catalog endpoint names, in order."""
    __tracebackhide__ = True
    if endpoints is None:
        return None
    patterns = (endpoints,) if isinstance(endpoints, str) else tuple(endpoints)
    known = [e.name for e in catalog.ENDPOINTS]
    out: list[str] = []
    for pattern in patterns:
        hits = [n for n in known if fnmatchcase(n, pattern)]
        if not hits:
            close = difflib.get_close_matches(pattern, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CheckRegistrationError(
                f"check {name!r} is registered for endpoint {pattern!r}, which is not in "
                f"catalog.ENDPOINTS (conformance/catalog.py){hint}"
            )
        out += [n for n in hits if n not in out]
    return tuple(out)


def _put(info: CheckInfo) -> None:
    _INFO[info.name] = info
    _CACHE.clear()


def check(
    name: str,
    *,
    endpoints: str | Iterable[str] | None = None,
    applies: Guard = always,
    severity: Severity = "error",
    description: str | None = None,
    scope: Scope = "answer",
    fix: str = "",
) -> Callable[[CheckFunction], Check]:
    """Register the decorated function as the per-answer check ``name``.

    ``endpoints``: names of ``catalog.ENDPOINTS`` or fnmatch patterns such as ``"admin.*"``
    (``None``, the default: every answer, endpoints the catalog lacks included). ``applies``: a
    guard that must hold for the check to run. ``severity``: ``"warning"`` findings are reported
    but do not fail a test, ``"inconclusive"`` ones skip it. ``scope="run"``: the findings are a
    root cause of the run (reported once, failing the session, not each test). ``fix``: what to
    change on the target, shown with the root cause. A name belongs to one per-answer check;
    registering the same
    function again (a re-imported conftest) replaces it.
    """
    __tracebackhide__ = True
    _validate(name, severity, scope)
    resolved = _resolve(name, endpoints)

    def register(func: CheckFunction) -> Check:
        __tracebackhide__ = True
        old = _INFO.get(name)
        if old is not None and old.check is not None and _where(old.check.func) != _where(func):
            raise CheckRegistrationError(
                f"check name {name!r} is already registered by {_where(old.check.func)}; "
                "pick another name, or unregister() it first to replace it"
            )
        if old is not None and old.severity != severity and old.check is None:
            raise CheckRegistrationError(
                f"check {name!r} is registered with severity {severity!r} but its on-demand "
                f"helpers ({', '.join(old.helpers)}) say {old.severity!r}"
            )
        registered_check = Check(
            name, func, resolved, applies, severity, _first_line(func, description), scope, fix
        )
        _put(
            CheckInfo(
                name,
                registered_check.description,
                severity,
                registered_check,
                old.helpers if old else (),
                "answer",
                scope,
                fix or (old.fix if old else ""),
            )
        )
        return registered_check

    return register


def on_demand(
    name: str, *, severity: Severity = "error", description: str | None = None, fix: str = ""
) -> Callable[[F], F]:
    """Record that the decorated function reports findings named ``name``; return it unchanged.

    For checks the suite calls itself, with values no single answer holds (a walk of pages, an
    upload and its metadata). Several helpers, and a per-answer check, may share a name.
    """
    __tracebackhide__ = True
    _validate(name, severity)

    def register(func: F) -> F:
        __tracebackhide__ = True
        old = _INFO.get(name)
        if old is not None and old.severity != severity:
            raise CheckRegistrationError(
                f"check {name!r} is already registered with severity {old.severity!r}, "
                f"not {severity!r}"
            )
        where = _where(func)
        if old is None:
            _put(CheckInfo(name, _first_line(func, description), severity, None, (where,), fix=fix))
        elif where not in old.helpers:
            _put(
                dataclasses.replace(
                    old,
                    helpers=(*old.helpers, where),
                    description=old.description or _first_line(func, None),
                    fix=old.fix or fix,
                )
            )
        return func

    return register


def declare(name: str, description: str, *, severity: Severity = "error", fix: str = "") -> str:
    """Register a name that the plumbing (validation, ``api.expect``) emits; returns ``name``."""
    __tracebackhide__ = True
    _validate(name, severity)
    if name not in _INFO:
        _put(CheckInfo(name, description, severity, kind="built-in", fix=fix))
    return name


def unregister(name: str) -> None:
    """Forget the check ``name`` (a profile replacing a built-in check, or a test cleaning up)."""
    if _INFO.pop(name, None) is None:
        raise CheckRegistrationError(f"no check named {name!r} is registered")
    _CACHE.clear()


# --- queries --------------------------------------------------------------------------------------


def names() -> tuple[str, ...]:
    """Every registered check name, in registration order."""
    return tuple(_INFO)


def registered() -> tuple[CheckInfo, ...]:
    """What the registry knows about every check name, in registration order."""
    return tuple(_INFO.values())


def lookup(name: str) -> CheckInfo | None:
    """The registration of ``name``; a finding name ``schema:<file>`` looks up ``schema``."""
    return _INFO.get(name) or _INFO.get(name.split(":", 1)[0])


def severity_of(name: str) -> Severity:
    """The severity findings named ``name`` default to (``"error"`` for unknown names)."""
    info = lookup(name)
    return info.severity if info is not None else "error"


def scope_of(name: str) -> Scope:
    """Where findings named ``name`` are judged: ``"run"`` (a root cause) or ``"answer"``."""
    info = lookup(name)
    return info.scope if info is not None else "answer"


def checks_for(endpoint_name: str | None) -> tuple[Check, ...]:
    """The per-answer checks for an answer of ``endpoint_name`` (None: an endpoint the catalog
    lacks, which gets the checks registered for every answer), in registration order."""
    cached = _CACHE.get(endpoint_name)
    if cached is None:
        cached = tuple(
            info.check
            for info in _INFO.values()
            if info.check is not None and info.check.covers(endpoint_name)
        )
        _CACHE[endpoint_name] = cached
    return cached


def run_checks(exchange: Exchange) -> list[Finding]:
    """Every check that applies to ``exchange``, by the endpoint its method and path match."""
    endpoint = exchange.endpoint
    out: list[Finding] = []
    for registered_check in checks_for(endpoint.name if endpoint else None):
        out += registered_check(exchange)
    return out
