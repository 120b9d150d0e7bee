"""The usage-analytics profile (seed 004): the sources an engineering-analytics pipeline reads.

``PROFILE`` is what ``conformance.profiles`` registers: the Anthropic Admin API's Claude Code
analytics and usage / cost reports (judged with the core schemas and report checks), the Cursor
Admin API's daily usage data (``schemas/``), its semantic and cross-source checks
(``checks.py``), its suite (``suite/``), a probe, toggles per source, its options
(``--analytics-*``: a base URL and a key per source) and its reference implementation
(``reference.py``: the core reference server for the Admin API plus a Cursor stand-in) with
mutants. The claude.ai audit-log export has no API: ``anthropic-conformance check-export FILE``
validates it (``export.py``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, field_validator

from conformance import catalog
from conformance.profiles._model import Probe, Profile, ProfileSettings, Toggle
from conformance.profiles.usage_analytics import spec
from conformance.profiles.usage_analytics.mutants import MUTANTS
from conformance.settings import Option

_HERE = Path(__file__).resolve().parent

__all__ = ["PROFILE", "UsageSettings"]


class UsageSettings(ProfileSettings):
    """The standard options (``base_url``/``api_key``: the Anthropic Admin API and its admin key,
    sent as ``x-api-key``), the Cursor source's, and the day the reports are asked for."""

    cursor_base_url: str | None = None
    cursor_api_key: SecretStr | None = None
    cursor_auth: Literal["bearer", "basic"] = "bearer"
    day: date | None = None
    #: The Admin API version the profile asks with: its own, not the run's --anthropic-version
    #: (the reports have one shape in both; the profile's cassettes replay under either).
    anthropic_version: str = catalog.DEFAULT_API_VERSION

    @field_validator("cursor_base_url")
    @classmethod
    def _check_cursor_url(cls, value: str | None) -> str | None:
        from conformance.settings import Settings

        return Settings._check_url(value)  # the core rules for a base URL

    @field_validator("anthropic_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if value not in catalog.API_VERSIONS:
            raise ValueError(f"expected one of {', '.join(catalog.API_VERSIONS)}")
        return value


def _reference(mutants: tuple[str, ...] = ()) -> object:
    from conformance.profiles.usage_analytics.reference import create_app

    return create_app(mutants)


PROFILE = Profile(
    name="usage-analytics",
    description="the usage-analytics sources (seed 004): Claude Code analytics and the usage / "
    "cost reports of the Anthropic Admin API (GET /v1/organizations/usage_report/claude_code, "
    "/usage_report/messages, /cost_report), the Cursor Admin API's POST "
    "/teams/daily-usage-data; dates inside the range asked, one row per day, the 90-day "
    "maximum, pagination, cost totals equal to their breakdowns, one e-mail spelling across "
    "sources (claude.ai audit-log exports: `anthropic-conformance check-export FILE`)",
    prefix="analytics",
    suite_dir=_HERE / "suite",
    schemas_dir=_HERE / "schemas",
    cassette_dir=_HERE / "cassettes",
    checks=("conformance.profiles.usage_analytics.checks",),
    endpoints=spec.ENDPOINTS,
    # No error_schema: the Admin API's errors are judged by the core error.json (check
    # analytics-admin-schema); Cursor's error body is not documented.
    probes=(Probe("GET", spec.CLAUDE_CODE_PATH),),
    toggles=(
        Toggle("claude-code", "GET usage_report/claude_code: the day, pages, walks (free)"),
        Toggle("reports", "GET usage_report/messages and cost_report: buckets, totals (free)"),
        Toggle("cursor", "POST /teams/daily-usage-data: auth, 90-day range, dates, counters"),
        Toggle("cross-source", "one e-mail spelling per user across Claude Code and Cursor"),
    ),
    options=(
        Option(
            "analytics_cursor_base_url",
            "--analytics-cursor-base-url",
            "ANALYTICS_CURSOR_BASE_URL",
            "Base URL of the Cursor Admin API (e.g. https://api.cursor.com; default: the "
            "reference implementation when --analytics-base-url is not given either).",
        ),
        Option(
            "analytics_cursor_api_key",
            "--analytics-cursor-api-key",
            "ANALYTICS_CURSOR_API_KEY",
            "Cursor Admin API key, sent per --analytics-cursor-auth. Never printed.",
            secret=True,
        ),
        Option(
            "analytics_cursor_auth",
            "--analytics-cursor-auth",
            "ANALYTICS_CURSOR_AUTH",
            "How the Cursor key is sent: bearer (seed 004, the default) or basic (the key as "
            "the user name, as Cursor's own documentation says).",
            choices=("bearer", "basic"),
        ),
        Option(
            "analytics_anthropic_version",
            "--analytics-anthropic-version",
            "ANALYTICS_ANTHROPIC_VERSION",
            "anthropic-version header of the Admin API calls (default "
            f"{catalog.DEFAULT_API_VERSION}; independent of --anthropic-version).",
            choices=catalog.API_VERSIONS,
        ),
        Option(
            "analytics_day",
            "--analytics-day",
            "ANALYTICS_DAY",
            "UTC day (YYYY-MM-DD) the reports and Cursor data are asked for (default: the "
            "reference's seeded day; against a deployment, yesterday).",
        ),
    ),
    settings_model=UsageSettings,
    reference=_reference,
    reference_description="conformance.profiles.usage_analytics.reference (the core reference "
    "server's Admin API and a Cursor stand-in, one Starlette app on loopback for the session)",
    mutants=MUTANTS,
)
