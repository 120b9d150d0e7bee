"""Fixtures of the Claude Code API Service suite (the profile plugin supplies the client)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.profiles import ProfileClient
from conformance.profiles.claude_code_api_service import CcasSettings

NAME = "claude-code-api-service"


def seeded_only(ccas: ProfileClient, what: str) -> None:
    """Skip unless the target is (or replays) the reference implementation."""
    if not ccas.target.seeded:
        pytest.skip(
            f"needs {what}: only the reference implementation seeds it (a deployment's "
            "budgets cannot be set through its API)"
        )


@pytest.fixture
def ccas(profile_client: ProfileClient) -> ProfileClient:
    return profile_client


@pytest.fixture
def ccas_settings(ccas: ProfileClient) -> CcasSettings:
    settings = ccas.target.settings
    assert isinstance(settings, CcasSettings)
    return settings


@pytest.fixture
def project(request: pytest.FixtureRequest, ccas_settings: CcasSettings) -> str:
    """This test's own project (usage is counted per project): the --ccas-project prefix and
    the test's name, the same in every run so that cassettes replay."""
    return f"{ccas_settings.project}.{request.node.name}"


@pytest.fixture
def exhausted_project(ccas: ProfileClient, ccas_settings: CcasSettings) -> str:
    if ccas_settings.exhausted_project:
        return ccas_settings.exhausted_project
    seeded_only(ccas, "a project whose budget is used up (or give --ccas-exhausted-project)")
    return "budget-exhausted"


def usage_of(ccas: ProfileClient, project: str, period: str | None = None) -> Any:
    return ccas.expect(ccas.get("/v1/usage", project_id=project, period=period))
