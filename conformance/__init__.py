"""anthropic-conformance: a conformance suite for the Anthropic HTTP API, as a pytest plugin.

The public names are importable from here (``from conformance import Api, check, Finding``) and
from the module that defines them; everything else is internal. They are loaded on first use
(PEP 562): ``import conformance`` alone stays cheap (the console script's ``--version``, the
pytest entry point) and creates no import cycle with the modules that import
``conformance.exceptions``.

Tool and usage errors share one root, :class:`ConformanceToolError` (the tree is in
``conformance.exceptions``); verdicts on the target are ``AssertionError`` subclasses
(:class:`ConformanceError`), so that pytest reports them as failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance import _lazy

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # writing tests: the facade the suite's tests use
    "Api": "conformance.api",
    "AsyncApi": "conformance.api",
    # the values of one call and its verdict
    "Exchange": "conformance.exchange",
    "SseEvent": "conformance.exchange",
    "Finding": "conformance.exchange",
    "ConformanceError": "conformance.exchange",
    "ConformanceWarning": "conformance.exchange",
    "raise_for_findings": "conformance.exchange",
    "validate_exchange": "conformance.validation",
    # adding checks: the registry and its guards
    "check": "conformance.checks",
    "on_demand": "conformance.checks",
    "always": "conformance.checks",
    "success": "conformance.checks",
    "errors": "conformance.checks",
    "streams": "conformance.checks",
    "json_body": "conformance.checks",
    "status_in": "conformance.checks",
    # configuration and where a run points
    "Settings": "conformance.settings",
    "load_settings": "conformance.settings",
    "Target": "conformance.target",
    "RunTarget": "conformance.target",
    "TargetKind": "conformance.target",
    "RunCassettes": "conformance.cassettes",
    # the root of tool and usage errors, and the ones users catch most
    "ConformanceToolError": "conformance.exceptions",
    "ConfigError": "conformance.settings",
    "CheckRegistrationError": "conformance.checks",
    "CassetteMiss": "conformance.cassettes",
    "TargetUnreachable": "conformance.client",
}

#: The same names as ``_EXPORTS`` (a literal, for linters and type checkers).
__all__ = [
    "Api",
    "AsyncApi",
    "CassetteMiss",
    "CheckRegistrationError",
    "ConfigError",
    "ConformanceError",
    "ConformanceToolError",
    "ConformanceWarning",
    "Exchange",
    "Finding",
    "RunCassettes",
    "RunTarget",
    "Settings",
    "SseEvent",
    "Target",
    "TargetKind",
    "TargetUnreachable",
    "__version__",
    "always",
    "check",
    "errors",
    "json_body",
    "load_settings",
    "on_demand",
    "raise_for_findings",
    "status_in",
    "streams",
    "success",
    "validate_exchange",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads on demand
    from conformance.api import Api, AsyncApi
    from conformance.cassettes import CassetteMiss, RunCassettes
    from conformance.checks import (
        CheckRegistrationError,
        always,
        check,
        errors,
        json_body,
        on_demand,
        status_in,
        streams,
        success,
    )
    from conformance.client import TargetUnreachable
    from conformance.exceptions import ConformanceToolError
    from conformance.exchange import (
        ConformanceError,
        ConformanceWarning,
        Exchange,
        Finding,
        SseEvent,
        raise_for_findings,
    )
    from conformance.settings import ConfigError, Settings, load_settings
    from conformance.target import RunTarget, Target, TargetKind
    from conformance.validation import validate_exchange


# A public name is loaded from its module on first use (and kept here).
__getattr__ = _lazy.attributes(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
