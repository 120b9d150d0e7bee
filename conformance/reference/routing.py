"""What a route returns, and how a family module declares its routes.

Handlers return plain values (``JsonAnswer`` / ``StreamAnswer``) instead of Starlette responses,
so the app can stamp the shared headers, apply mutants and journal every answer in one place.
A family module exposes ``ROUTES: list[RouteSpec]``; the method and path come from the catalog.
A family that needs more than routes (the Admin API watches every answer for its usage ledger,
keeps its own store and reads the config) is a ``Plugin``: the app installs it and never names it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from conformance import catalog
from conformance.exceptions import ConformanceToolError
from conformance.reference.auth import RequestContext
from conformance.reference.state import ReferenceConfig, ReferenceState

Event = tuple[str, dict[str, Any]]


@dataclass
class JsonAnswer:
    """A JSON answer: the body before serialisation, its status and any extra headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamAnswer:
    """A ``text/event-stream`` answer, as the full list of ``(event name, payload)`` pairs."""

    events: list[Event]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RawAnswer:
    """A non-JSON answer (file content, batch results as JSON lines): bytes and a media type."""

    body: bytes
    media_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Answer = JsonAnswer | StreamAnswer | RawAnswer
Handler = Callable[[Request, RequestContext], Awaitable[Answer]]


@dataclass(frozen=True)
class RouteSpec:
    """One route: the catalog endpoint it serves and the coroutine answering it."""

    endpoint: str
    handler: Handler
    authenticated: bool = True

    @property
    def method(self) -> str:
        return catalog.endpoint(self.endpoint).method

    @property
    def path(self) -> str:
        return catalog.endpoint(self.endpoint).path


#: Sees every answer a route returned (not the errors it raised), before it is sent.
AnswerObserver = Callable[[RequestContext, Answer], None]


@dataclass(frozen=True)
class Plugin:
    """A family plugged into the app: its routes, and what it does when an app is made.

    ``install`` runs once per app, with that app's config and state: the place to register an
    answer observer (``state.observers``) or note settings in the plugin's store. ``inventory``
    lists what clients created and is still stored, replacing the generic listing of the store
    called ``name`` (whose raw contents, e.g. a seeded organization, are not resources).
    """

    name: str
    routes: tuple[RouteSpec, ...]
    install: Callable[[ReferenceConfig, ReferenceState], None] | None = None
    inventory: Callable[[ReferenceState], dict[str, list[str]]] | None = None


class RouteTableError(ConformanceToolError, LookupError):
    """The reference server's routes and ``catalog.ENDPOINTS`` disagree; the message names each
    endpoint and the file to edit."""


def _module_file(handler: Handler) -> str:
    return handler.__module__.replace(".", "/") + ".py"


def check_routes(plugins: Iterable[Plugin]) -> None:
    """Every catalog endpoint has one route, and every route a catalog row (checked when an app
    is made, so a half-added endpoint is one clear error, not a bare ``KeyError`` or a 404)."""
    known = {e.name for e in catalog.ENDPOINTS}
    problems: list[str] = []
    routed: dict[str, str] = {}
    family_file: dict[str, str] = {}
    for plugin in plugins:
        for spec in plugin.routes:
            where = _module_file(spec.handler)
            family_file.setdefault(plugin.name, where)
            if spec.endpoint not in known:
                problems.append(
                    f"{where} routes {spec.endpoint!r}, which conformance/catalog.py "
                    "lacks: add its row to ENDPOINTS there (name, method, path, "
                    "family, schema)"
                )
            elif spec.endpoint in routed:
                problems.append(
                    f"{spec.endpoint!r} is routed twice ({routed[spec.endpoint]}, "
                    f"{where}): remove one"
                )
            routed.setdefault(spec.endpoint, where)
    for e in catalog.ENDPOINTS:
        if e.name not in routed:
            where = family_file.get(e.family) or (
                f"a new module conformance/reference/{e.family}.py, added to PLUGINS in "
                "conformance/reference/app.py"
            )
            problems.append(
                f"catalog endpoint {e.name!r} ({e.method} {e.path}) has no route in "
                f"the reference server: add RouteSpec({e.name!r}, handler) to ROUTES "
                f"in {where}"
            )
    if problems:
        raise RouteTableError(
            "the reference server's routes do not match the catalog: " + "; ".join(problems)
        )
