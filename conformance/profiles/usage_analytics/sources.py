"""The profile's two HTTP sources, each with its own base URL and credentials.

The profile's target (``--analytics-base-url``, else the reference implementation, else replay)
is the Anthropic Admin API, called with the admin key as ``x-api-key`` and the profile's
``anthropic-version``. Cursor is ``--analytics-cursor-base-url`` (its key as ``Authorization:
Bearer`` or Basic auth); against the reference implementation and in replay both sources are the
same app (their paths do not overlap).
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from conformance import redact
from conformance.exchange import Exchange
from conformance.profiles._client import ProfileClient, ProfileTarget
from conformance.profiles.usage_analytics import UsageSettings, spec
from conformance.profiles.usage_analytics.reference import ADMIN_KEY, CURSOR_KEY, REPORT_DAY


class SourceClient(ProfileClient):
    """A ``ProfileClient`` that sends the headers of one source (not the generic Bearer key)."""

    def __init__(self, target: ProfileTarget, headers: dict[str, str], timeout: float) -> None:
        super().__init__(target, timeout=timeout)
        self._http.headers.pop("authorization", None)
        self._http.headers.update(headers)

    def query(self, path: str, query: dict[str, Any]) -> Exchange:
        """GET ``path`` with ``query`` (list values repeat the key: ``group_by[]=a&...``)."""
        return self.call("GET", f"{path}?{urlencode(query, doseq=True)}")


def cursor_auth(settings: UsageSettings, key: str) -> dict[str, str]:
    if settings.cursor_auth == "basic":
        return {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    return {"authorization": f"Bearer {key}"}


@dataclass
class Sources:
    """The clients of one test: ``admin`` always, ``cursor`` unless ``cursor_missing`` says
    why not."""

    settings: UsageSettings
    admin: SourceClient
    day: date
    seeded: bool
    cursor: SourceClient | None = None
    cursor_missing: str | None = None
    #: The Cursor target and timeout, for clients with other credentials.
    cursor_target: ProfileTarget | None = None
    timeout: float = 60.0
    _extra: list[SourceClient] = field(default_factory=list)

    def cursor_with(self, headers: dict[str, str]) -> SourceClient:
        """A Cursor client sending ``headers`` instead of the configured credentials."""
        assert self.cursor_target is not None
        client = SourceClient(self.cursor_target, headers, self.timeout)
        self._extra.append(client)
        return client

    def close(self) -> None:
        for client in (self.admin, self.cursor, *self._extra):
            if client is not None:
                client.close()


def report_day(settings: UsageSettings, seeded: bool) -> date:
    """The day the suite asks about: the option, the reference's seeded day, else yesterday."""
    if settings.day is not None:
        return settings.day
    if seeded:
        return REPORT_DAY
    return (datetime.now(UTC) - timedelta(days=1)).date()


@contextlib.contextmanager
def open_sources(target: ProfileTarget, timeout: float = 60.0) -> Iterator[Sources]:
    """The clients of ``target``'s sources, closed afterwards."""
    settings = target.settings
    assert isinstance(settings, UsageSettings)
    admin_key = ADMIN_KEY
    if target.kind == "deployment" and settings.api_key is not None:
        admin_key = settings.api_key.get_secret_value()
    admin = SourceClient(
        target, {"x-api-key": admin_key, "anthropic-version": settings.anthropic_version}, timeout
    )
    sources = Sources(settings, admin, report_day(settings, target.seeded), target.seeded)
    sources.timeout = timeout
    cursor_target: ProfileTarget | None = None
    key: str | None = CURSOR_KEY
    if target.kind == "replay" or (target.kind == "reference" and not settings.cursor_base_url):
        cursor_target = target
    elif settings.cursor_base_url:
        cursor_target = ProfileTarget(
            target.profile, settings, "deployment", settings.cursor_base_url
        )
        key = settings.cursor_api_key.get_secret_value() if settings.cursor_api_key else None
        if key is not None:
            redact.register_secret(key)  # never printed, like the profile's own key
        else:
            sources.cursor_missing = (
                "needs the Cursor Admin API key: give --analytics-cursor-api-key"
            )
    else:
        sources.cursor_missing = (
            "needs the Cursor Admin API: give --analytics-cursor-base-url "
            "(and --analytics-cursor-api-key)"
        )
    sources.cursor_target = cursor_target
    if cursor_target is not None and key is not None:
        sources.cursor = SourceClient(cursor_target, cursor_auth(settings, key), timeout)
    try:
        yield sources
    finally:
        sources.close()


def cursor_range(first: date, last: date) -> dict[str, int]:
    """The body asking Cursor for the days ``first`` to ``last`` (midnights, epoch ms)."""
    return {"startDate": spec.epoch_ms(first), "endDate": spec.epoch_ms(last)}
