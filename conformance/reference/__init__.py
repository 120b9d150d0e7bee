"""The reference server: a faithful, deterministic, stateful stand-in for the Anthropic API.

It is the suite's default target (no key needed), the upstream for testing proxies offline and
the recorder of the shipped cassettes. ``ReferenceConfig(mutants=...)`` turns on deliberate
contract violations, so the project can prove its suite catches breakage.
"""

from conformance.reference.app import create_app
from conformance.reference.mutants import MUTANTS, Mutant
from conformance.reference.server import EmbeddedServer, listen, serve, url_of
from conformance.reference.state import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    ReferenceConfig,
    ReferenceState,
)

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
