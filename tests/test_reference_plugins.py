"""The reference app's plug-in seam: answer observers, and the Admin API as a plug-in of it.

The generic app names no family: it installs ``app.PLUGINS`` and hands every answer a route
returned to ``ReferenceState.observers``. The Admin usage ledger must be fed through that seam
only, so taking its observer away stops the ledger.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette

from conformance import catalog
from conformance.reference import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    ReferenceConfig,
    admin,
    create_app,
)
from conformance.reference.app import PLUGINS, ROUTES, inventory, state_of
from conformance.reference.auth import RequestContext
from conformance.reference.routing import Answer, JsonAnswer, StreamAnswer

MESSAGE = {
    "model": catalog.DEFAULT_MODEL,
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}


def call(
    app: Starlette, method: str, path: str, json_body: Any = None, key: str = DEFAULT_API_KEY
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reference") as c:
            return await c.request(
                method,
                path,
                json=json_body,
                headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
            )

    return asyncio.run(go())


def test_observers_see_every_answer_a_route_returned_and_no_error() -> None:
    app = create_app()
    seen: list[tuple[str, type]] = []

    def watch(ctx: RequestContext, answer: Answer) -> None:
        seen.append((ctx.endpoint, type(answer)))

    state_of(app).observers.append(watch)
    assert call(app, "POST", "/v1/messages", MESSAGE).status_code == 200
    assert call(app, "POST", "/v1/messages", {**MESSAGE, "stream": True}).status_code == 200
    assert call(app, "GET", "/v1/models").status_code == 200
    assert call(app, "POST", "/v1/messages", {}).status_code == 400  # raised: not an answer
    assert seen == [
        ("messages.create", JsonAnswer),
        ("messages.create", StreamAnswer),
        ("models.list", JsonAnswer),
    ]


def test_a_failing_observer_is_the_apis_500_not_a_traceback() -> None:
    app = create_app()

    def broken(ctx: RequestContext, answer: Answer) -> None:
        raise RuntimeError("observer bug")

    state_of(app).observers.append(broken)
    answer = call(app, "GET", "/v1/models")
    assert answer.status_code == 500 and answer.json()["error"]["type"] == "api_error"


def test_the_usage_ledger_is_fed_by_its_observer_only() -> None:
    app = create_app()
    state = state_of(app)
    ledger = admin.db_of(state).usage
    before = len(ledger)
    call(app, "POST", "/v1/messages", MESSAGE)
    call(app, "POST", "/v1/messages", {**MESSAGE, "stream": True})
    assert len(ledger) == before + 2
    assert ledger[-1].api_key_id == admin.REFERENCE_KEY_ID and ledger[-1].output_tokens > 0
    state.observers.remove(admin.note_usage)
    call(app, "POST", "/v1/messages", MESSAGE)
    assert len(ledger) == before + 2, "the app itself must not write the ledger"


def test_the_admin_plugin_brings_its_routes_clock_and_inventory() -> None:
    assert admin.PLUGIN in PLUGINS
    assert {s.endpoint for s in admin.PLUGIN.routes} == {
        e.name for e in catalog.ENDPOINTS if e.name.startswith("admin.")
    }
    assert set(admin.PLUGIN.routes) <= set(ROUTES)
    now = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    app = create_app(ReferenceConfig(now=now))
    assert admin.db_of(state_of(app)).now == now
    assert admin.db_of(state_of(create_app())).now == admin.REFERENCE_NOW
    # The seeded organization is not a resource; an invite a client made is, by its own kind.
    assert inventory(app) == {}
    made = call(
        app,
        "POST",
        "/v1/organizations/invites",
        {"email": "new@example.com", "role": "user"},
        key=DEFAULT_ADMIN_API_KEY,
    )
    assert made.status_code == 200, made.text
    assert inventory(app) == {"invite": [made.json()["id"]]}
