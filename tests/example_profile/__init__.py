"""A minimal third-party profile, as a proxy project would ship one: it proves the contract.

It is registered the way a third party registers theirs, through the entry-point group
``anthropic_conformance.profiles`` (tests/test_profiles.py builds a dist-info naming
``example_profile:PROFILE``), and has every part: a schema, a registered check, a suite, a
probe, a toggle, an option of its own, a deviation, and a reference implementation with a mutant.
The surface: ``GET /echo?text=...`` answers ``{"text": ..., "length": ...}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.profiles import Deviation, Endpoint, Probe, Profile, ProfileSettings, Toggle
from conformance.settings import Option

HERE = Path(__file__).resolve().parent


class EchoSettings(ProfileSettings):
    greeting: str = "hello"


def create_app(mutants: tuple[str, ...] = ()) -> Any:
    async def echo(request: Request) -> JSONResponse:
        text = request.query_params.get("text", "")
        length = len(text) + (1 if "length-off-by-one" in mutants else 0)
        return JSONResponse({"text": text, "length": length})

    return Starlette(routes=[Route("/echo", echo)])


PROFILE = Profile(
    name="example-echo",
    description="the example echo service (tests/example_profile): echoes and their lengths",
    prefix="echo",
    suite_dir=HERE / "suite",
    schemas_dir=HERE / "schemas",
    checks=("example_profile.checks",),
    endpoints=(Endpoint("echo", "GET", "/echo", "echo.json"),),
    probes=(Probe("GET", "/echo"),),
    toggles=(Toggle("echo", "GET /echo"),),
    options=(Option("echo_greeting", "--echo-greeting", "ECHO_GREETING", "The text to echo."),),
    settings_model=EchoSettings,
    deviations=(Deviation("echo-shouting", "echoes in upper case", "error", "warning"),),
    reference=create_app,
    reference_description="example_profile.create_app",
    mutants={"length-off-by-one": "length counts one character too many"},
)
