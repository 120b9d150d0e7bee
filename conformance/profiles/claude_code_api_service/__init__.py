"""The Claude Code API Service profile (seed 001): a FastAPI service in front of the Claude Code
CLI with a worker pool, model routing and per-project budgets.

``PROFILE`` is what ``conformance.profiles`` registers: the document's six operations and their
schemas (``schemas/``), its semantic checks (``checks.py``), its suite (``suite/``), a probe
(``GET /health``), toggles per operation, its options (``--ccas-*``), the deviations real
deployments are known to have (``--ccas-as-built`` accepts them) and its reference
implementation (``reference.py``) with mutants.
"""

from __future__ import annotations

from pathlib import Path

from conformance.profiles._model import Deviation, Probe, Profile, ProfileSettings, Toggle
from conformance.profiles.claude_code_api_service import spec
from conformance.profiles.claude_code_api_service.mutants import MUTANTS
from conformance.settings import Option

_HERE = Path(__file__).resolve().parent

__all__ = ["PROFILE", "CcasSettings"]


class CcasSettings(ProfileSettings):
    """The profile's options: the standard ones, the project its calls are counted under, and a
    project whose budget is used up."""

    project: str = "anthropic-conformance"
    exhausted_project: str | None = None


def _reference(mutants: tuple[str, ...] = ()) -> object:
    from conformance.profiles.claude_code_api_service.reference import create_app

    return create_app(mutants)


PROFILE = Profile(
    name="claude-code-api-service",
    description="the Claude Code API Service (seed 001): chat completions, batch, usage, model "
    "routing, health and root; costs against its price table, batch totals, budget "
    "enforcement, usage periods, the five routing rules",
    prefix="ccas",
    suite_dir=_HERE / "suite",
    schemas_dir=_HERE / "schemas",
    cassette_dir=_HERE / "cassettes",
    checks=("conformance.profiles.claude_code_api_service.checks",),
    endpoints=spec.ENDPOINTS,
    error_schema=spec.ERROR_SCHEMA,
    probes=(Probe("GET", "/health"),),
    toggles=(
        Toggle("chat", "POST /v1/chat/completions: costs, usage, budgets (a live call each)"),
        Toggle("batch", "POST /v1/batch: totals, results, partial failures (live calls)"),
        Toggle("usage", "GET /v1/usage: periods, sums, remaining (free)"),
        Toggle("route", "POST /v1/route: the five routing rules and their boundaries (free)"),
        Toggle("info", "GET /health and GET / (free)"),
    ),
    options=(
        Option(
            "ccas_project",
            "--ccas-project",
            "CCAS_PROJECT",
            "project_id prefix the suite's calls are counted under (statistics are keyed by "
            "it; each test adds its own suffix). Default anthropic-conformance.",
        ),
        Option(
            "ccas_exhausted_project",
            "--ccas-exhausted-project",
            "CCAS_EXHAUSTED_PROJECT",
            "A project of the deployment whose budget is used up (remaining 0): the budget "
            "tests need one (the reference implementation seeds budget-exhausted).",
        ),
    ),
    settings_model=CcasSettings,
    deviations=(
        Deviation(
            "ccas-detail-list",
            "a 422 answers FastAPI's list of pydantic errors as detail, not a description string",
            strict="warning",
            as_built=None,
        ),
        Deviation(
            "ccas-unbudgeted-null",
            "limit and remaining are null for a project without a budget",
            strict="warning",
            as_built=None,
        ),
        Deviation(
            "ccas-unknown-model-accepted",
            "any model string gets 200",
            strict="error",
            as_built="warning",
        ),
        Deviation(
            "ccas-empty-messages-accepted",
            "an empty messages list gets 200",
            strict="error",
            as_built="warning",
        ),
        Deviation(
            "ccas-budget-overrun",
            "the budget check uses an estimate, so a project can end above its limit",
            strict="error",
            as_built="warning",
        ),
    ),
    reference=_reference,
    reference_description="conformance.profiles.claude_code_api_service.reference (a "
    "Starlette app started on loopback for the session)",
    mutants=MUTANTS,
)
