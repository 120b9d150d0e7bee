"""Named semantic checks: what no JSON Schema can express, one module per family.

A check is a pure function of an ``Exchange`` to a list of ``Finding`` (its ``check`` field is
the check's stable name), registered with ``@check(name, endpoints=..., applies=...)``: the
endpoints of ``catalog.ENDPOINTS`` it runs on (default: every answer) and a guard such as
``success`` or ``success & streams``. Checks the suite calls with values of its own (a walk of
pages, an upload and its metadata) are registered with ``@on_demand``. Importing this package
registers every built-in check (``common``, ``messages``, ``pagination``, ``models``,
``batches``, ``files``, ``admin``, ``prompt_tools``, ``passthrough``, ``fidelity``, and the
request-effect, leak and rate-limit checks ``effects``, ``leaks``, ``ratelimit``); the suite, the
cassette linter and the mutation score all go through ``checks_for`` (usually via
``conformance.validation.validate_exchange``), reports through ``names()`` / ``registered()``.

A user's conftest or plugin adds a check the same way::

    from conformance.checks import check, success

    @check("org-header", endpoints=["messages.create"], applies=success)
    def check_org_header(exchange):
        ...
"""

from __future__ import annotations

from conformance.checks import (  # noqa: F401  (imported to register their checks)
    admin,
    batches,
    caching,
    citations,
    common,
    count_tokens,
    effects,
    fidelity,
    files,
    leaks,
    messages,
    models,
    pagination,
    passthrough,
    prompt_tools,
    ratelimit,
    server_tools,
    stops,
    structured,
    thinking,
)
from conformance.checks._registry import (
    Check,
    CheckFunction,
    CheckInfo,
    CheckRegistrationError,
    Guard,
    Scope,
    always,
    check,
    checks_for,
    declare,
    errors,
    json_body,
    lookup,
    names,
    on_demand,
    registered,
    run_checks,
    scope_of,
    severity_of,
    status_in,
    streams,
    success,
    unregister,
)

__all__ = [
    "Check",
    "CheckFunction",
    "CheckInfo",
    "CheckRegistrationError",
    "Guard",
    "Scope",
    "always",
    "check",
    "checks_for",
    "declare",
    "errors",
    "json_body",
    "lookup",
    "names",
    "on_demand",
    "registered",
    "run_checks",
    "scope_of",
    "severity_of",
    "status_in",
    "streams",
    "success",
    "unregister",
]
