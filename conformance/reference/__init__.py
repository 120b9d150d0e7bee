"""The reference server: a faithful, deterministic, stateful stand-in for the Anthropic API.

It is the suite's default target (no key needed), the upstream for testing proxies offline and
the recorder of the shipped cassettes. ``ReferenceConfig(mutants=...)`` turns on deliberate
contract violations, so the project can prove its suite catches breakage.
"""

from typing import TYPE_CHECKING

from conformance import _lazy
from conformance.reference.state import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    ReferenceConfig,
    ReferenceState,
)

if TYPE_CHECKING:
    from conformance.reference.app import create_app
    from conformance.reference.mutants import MUTANTS, Mutant
    from conformance.reference.server import EmbeddedServer, listen, serve, url_of

#: Names whose modules import starlette and uvicorn: loaded on first use, so that a run against
#: a base URL (every xdist worker of it) never imports the server it does not start.
_LAZY = {
    "create_app": "conformance.reference.app",
    "MUTANTS": "conformance.reference.mutants",
    "Mutant": "conformance.reference.mutants",
    "EmbeddedServer": "conformance.reference.server",
    "listen": "conformance.reference.server",
    "serve": "conformance.reference.server",
    "url_of": "conformance.reference.server",
}


__getattr__ = _lazy.attributes(__name__, _LAZY, globals())


__all__ = [
    "DEFAULT_ADMIN_API_KEY",
    "DEFAULT_API_KEY",
    "MUTANTS",
    "EmbeddedServer",
    "Mutant",
    "ReferenceConfig",
    "ReferenceState",
    "create_app",
    "listen",
    "serve",
    "url_of",
]
