"""What a route returns, and how a family module declares its routes.

Handlers return plain values (``JsonAnswer`` / ``StreamAnswer``) instead of Starlette responses,
so the app can stamp the shared headers, apply mutants and journal every answer in one place.
A family module exposes ``ROUTES: list[RouteSpec]``; the method and path come from the catalog.
A family that needs more than routes (the Admin API watches every answer for its usage ledger,
keeps its own store and reads the config) is a ``Plugin``: the app installs it and never names it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from conformance import catalog
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
