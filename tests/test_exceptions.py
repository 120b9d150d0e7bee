"""The exception tree: every tool or usage error has one root, and keeps the base it had.

Every exception class the package defines is either under ``ConformanceToolError`` or one of
the few verdicts on the target named below: a new exception has to take a side.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import conformance
from conformance.exceptions import ConformanceToolError

#: Tool and usage errors, with the built-in base callers and pytest rely on.
TOOL_ERRORS = {
    "conformance.settings.ConfigError": ValueError,
    "conformance.schemas.SchemaLoadError": RuntimeError,
    "conformance.checks.CheckRegistrationError": ValueError,
    "conformance.report.render.ReportFileError": ValueError,
    "conformance.cassettes.readers.CassetteError": Exception,
    "conformance.cassettes.CassetteOverwrite": RuntimeError,
    "conformance.cassettes.CassetteMiss": AssertionError,  # a miss fails the test, not errors
    "conformance.cassettes.CassetteUnreadable": AssertionError,
    "conformance.cassettes.vcr.CassetteRefused": AssertionError,
    "conformance.profiles._client.ProfileTargetUnreachable": AssertionError,
    "conformance.profiles._model.ProfileError": ValueError,
    "conformance.profiles.usage_analytics.export.ExportUnreadable": ValueError,
    "conformance.cassettes.NetworkBlocked": ConnectionError,
    "conformance.client.TargetUnreachable": ConnectionError,
    # the target is there but every try lost its connection: an Inconclusive too (skips)
    "conformance.client.ConnectionLost": ConnectionError,
    "conformance.upstream.UpstreamUnreachable": LookupError,
    "conformance.upstream.UpstreamUnreadable": LookupError,
    "conformance.catalog.UnknownEndpoint": KeyError,
    "conformance.reference.routing.RouteTableError": LookupError,
}

#: Not tool errors: verdicts on the target (or the reference server's own answers).
NOT_TOOL_ERRORS = {
    "ConformanceError",
    "ConformanceWarning",
    "UnreadableAnswer",
    "UpstreamLookupError",
    "AccumulationError",
    "Unreadable",
    "ApiError",
    "Inconclusive",  # "could not judge": a verdict that skips the test
    "Stopped",  # a ConformanceError: the answer broke the contract so the test cannot go on
    "AnswerTooSlow",  # the target's body overran the timeout: a verdict on its pace
    "StillTransient",  # an Inconclusive: a transient answer outlasted the retries
    "AnswerLost",  # an Inconclusive: a retry met its own first try's work (404, 400, 409)
    "Reset",  # the reference server's own signal to drop a connection (an injected fault)
}


def _resolve(dotted: str) -> type[BaseException]:
    module, _, name = dotted.rpartition(".")
    found = getattr(importlib.import_module(module), name)
    assert isinstance(found, type) and issubclass(found, BaseException)
    return found


@pytest.mark.parametrize(("dotted", "base"), sorted(TOOL_ERRORS.items()))
def test_tool_errors_share_the_root_and_keep_their_base(
    dotted: str, base: type[BaseException]
) -> None:
    cls = _resolve(dotted)
    assert issubclass(cls, ConformanceToolError) and issubclass(cls, base)
    with pytest.raises(ConformanceToolError, match="the cause and the fix"):
        raise cls("the cause and the fix")


def test_every_exception_of_the_package_takes_a_side() -> None:
    """Walk the package (the suite's test modules aside): no exception class is unaccounted."""
    tool = {_resolve(d) for d in TOOL_ERRORS}
    undecided = []
    for info in pkgutil.walk_packages(conformance.__path__, "conformance."):
        if info.name.startswith("conformance.suite") or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseException)
                and obj.__module__ == info.name
                and not name.startswith("_")
                and obj is not ConformanceToolError
                and obj not in tool
                and name not in NOT_TOOL_ERRORS
            ):
                undecided.append(f"{info.name}.{name}")
    assert not undecided, (
        f"add to TOOL_ERRORS (derive from ConformanceToolError) or NOT_TOOL_ERRORS: {undecided}"
    )


def test_a_cassette_miss_is_still_an_assertion_and_a_tool_error() -> None:
    from conformance.cassettes import CassetteMiss

    assert CassetteMiss.__mro__.index(ConformanceToolError) < CassetteMiss.__mro__.index(Exception)
    with pytest.raises(AssertionError):
        raise CassetteMiss("no cassette")
