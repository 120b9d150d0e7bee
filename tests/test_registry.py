"""The check registry: guards, endpoint names and patterns, names, severities, user checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from suite_args import with_conftest

from conformance import catalog
from conformance.api import _Expect
from conformance.checks import (
    CheckRegistrationError,
    Guard,
    check,
    checks_for,
    errors,
    json_body,
    lookup,
    names,
    on_demand,
    registered,
    run_checks,
    status_in,
    streams,
    success,
    unregister,
)
from conformance.exchange import (
    ConformanceError,
    ConformanceWarning,
    Exchange,
    Finding,
    raise_for_findings,
)
from conformance.validation import validate_exchange
from tests.test_checks import BROKEN, GOOD_EVENTS, GOOD_MESSAGE, answer, error, stream


@pytest.fixture
def scratch() -> Iterator[list[str]]:
    """Names registered by a test, forgotten afterwards so no other test sees them."""
    made: list[str] = []
    yield made
    for name in made:
        if name in names():
            unregister(name)


def flagging(name: str, message: str = "flagged") -> Finding:
    return Finding(name, message, pointer="/", rule="a test rule")


# --- guards ---------------------------------------------------------------------------------------


def test_guards_test_what_their_names_say() -> None:
    ok, failed, sse = (
        answer(GOOD_MESSAGE),
        answer(error(404, "not_found_error"), status=404),
        stream(GOOD_EVENTS),
    )
    overloaded = answer(error(529, "overloaded_error"), status=529)
    assert [success(e) for e in (ok, failed, sse)] == [True, False, True]
    assert [errors(e) for e in (ok, failed, sse)] == [False, True, False]
    assert [streams(e) for e in (ok, failed, sse)] == [False, False, True]
    assert [json_body(e) for e in (ok, failed, sse)] == [True, True, False]
    assert answer(b"[1, 2]").json == [1, 2] and not json_body(answer(b"[1, 2]"))
    assert [status_in(429, 529)(e) for e in (ok, overloaded)] == [False, True]


def test_guards_combine_and_keep_readable_names() -> None:
    ok, failed, sse = (
        answer(GOOD_MESSAGE),
        answer(error(404, "not_found_error"), status=404),
        stream(GOOD_EVENTS),
    )
    both = success & streams
    either = errors | streams
    neither = ~streams
    assert [both(e) for e in (ok, failed, sse)] == [False, False, True]
    assert [either(e) for e in (ok, failed, sse)] == [False, True, True]
    assert [neither(e) for e in (ok, failed, sse)] == [True, True, False]
    assert both.name == "(success & streams)" and neither.name == "~streams"
    assert repr(Guard("mine", lambda e: True)) == "Guard(mine)"


# --- registration errors --------------------------------------------------------------------------


def test_unknown_endpoint_is_an_error_naming_it_and_the_catalog() -> None:
    with pytest.raises(CheckRegistrationError) as info:
        check("typo-check", endpoints=["messages.craete"])
    text = str(info.value)
    assert "'messages.craete'" in text and "conformance/catalog.py" in text
    assert "did you mean 'messages.create'?" in text
    assert "typo-check" not in names()


def test_a_pattern_that_matches_nothing_is_an_error() -> None:
    with pytest.raises(CheckRegistrationError, match=r"'admin\.reports\.\*'.*catalog\.ENDPOINTS"):
        check("no-match", endpoints="admin.reports.*")


def test_endpoint_patterns_resolve_to_catalog_names(scratch: list[str]) -> None:
    scratch.append("report-probe")

    @check("report-probe", endpoints=("admin.usage_report.*", "admin.cost_report"))
    def probe(exchange: Exchange) -> list[Finding]:
        return []

    wanted = tuple(
        e.name
        for e in catalog.ENDPOINTS
        if e.name.startswith("admin.usage_report.") or e.name == "admin.cost_report"
    )
    assert len(wanted) == 3 and probe.endpoints == wanted
    assert probe in checks_for("admin.cost_report")
    assert probe not in checks_for("messages.create") and probe not in checks_for(None)


def test_a_taken_name_is_an_error_naming_the_owner() -> None:
    with pytest.raises(CheckRegistrationError) as info:

        @check("sse-grammar", endpoints="messages.create")
        def my_grammar(exchange: Exchange) -> list[Finding]:
            return []

    assert "conformance.checks.messages.check_sse_grammar" in str(info.value)
    assert lookup("sse-grammar").check.func.__name__ == "check_sse_grammar"  # type: ignore[union-attr]


def test_registering_the_same_function_again_replaces_it(scratch: list[str]) -> None:
    scratch.append("twice")

    def define(endpoint: str) -> None:
        @check("twice", endpoints=endpoint)
        def twice(exchange: Exchange) -> list[Finding]:  # same module and qualname each time
            return []

    define("models.list")
    define("models.retrieve")  # what a re-imported conftest does
    assert [c.name for c in checks_for("models.list")].count("twice") == 0
    assert [c.name for c in checks_for("models.retrieve")].count("twice") == 1


@pytest.mark.parametrize(
    ("name", "severity", "phrase"),
    [
        ("Bad Name", "error", "lower-case words"),
        ("", "error", "lower-case words"),
        ("fine-name", "fatal", "severity 'fatal'"),
    ],
)
def test_bad_names_and_severities_are_errors(name: str, severity: str, phrase: str) -> None:
    with pytest.raises(CheckRegistrationError, match=phrase):
        check(name, severity=severity)  # type: ignore[arg-type]


def test_on_demand_with_another_severity_is_an_error() -> None:
    with pytest.raises(CheckRegistrationError, match="already registered with severity 'error'"):

        @on_demand("pagination-walk", severity="warning")
        def softer_walk(pages: list[Exchange]) -> list[Finding]:
            return []


# --- the registry as the one list of names --------------------------------------------------------


def test_every_name_a_built_in_check_emits_is_registered() -> None:
    emitted = {f.check for _, exchange, func, *_ in BROKEN for f in func(exchange)}
    emitted |= {f.check for f in validate_exchange(answer({"type": "message"})).findings}
    assert emitted, "the broken cases produced findings"
    unknown = {n for n in emitted if lookup(n) is None}
    assert not unknown, f"findings named outside the registry: {sorted(unknown)}"


def test_on_demand_and_per_answer_checks_share_a_name() -> None:
    info = lookup("model-alias")
    assert info is not None and info.kind == "answer" and info.check is not None
    assert info.helpers == ("conformance.checks.models.check_alias_resolution",)
    walk = lookup("pagination-walk")
    assert walk is not None and walk.check is None and walk.kind == "on-demand"
    assert lookup("schema:message.json") is lookup("schema")
    assert all(i.description for i in registered()), [
        i.name for i in registered() if not i.description
    ]


def test_every_catalog_endpoint_gets_the_common_checks() -> None:
    common = {c.name for c in checks_for(None)}
    assert {
        "request-id",
        "content-type",
        "error-envelope",
        "id-prefix",
        "retry-after",
        "error-message",
        "error-leak",
    } == common
    for endpoint in catalog.ENDPOINTS:
        assert common <= {c.name for c in checks_for(endpoint.name)}, endpoint.name


# --- a check of one's own -------------------------------------------------------------------------


def test_a_user_check_runs_where_it_applies_and_nowhere_else(scratch: list[str]) -> None:
    scratch.append("org-header")
    seen: list[str] = []

    @check("org-header", endpoints=["messages.create"], applies=success & ~streams)
    def check_org_header(exchange: Exchange) -> list[Finding]:
        """Every message answer names the organization."""
        seen.append(exchange.path)
        if "anthropic-organization-id" in exchange.response_headers:
            return []
        return [flagging("org-header", "no anthropic-organization-id header")]

    found = validate_exchange(answer(GOOD_MESSAGE)).findings
    assert [f.message for f in found] == ["no anthropic-organization-id header"]
    assert lookup("org-header").description == "Every message answer names the organization."  # type: ignore[union-attr]
    # Guard and endpoint keep it quiet elsewhere, without the function even running.
    assert validate_exchange(stream(GOOD_EVENTS)).ok
    assert validate_exchange(answer(error(400, "invalid_request_error"), status=400)).ok
    assert run_checks(answer({"input_tokens": 3}, path="/v1/messages/count_tokens")) == []
    assert seen == ["/v1/messages"]
    unregister("org-header")
    assert validate_exchange(answer(GOOD_MESSAGE)).ok


def test_a_warning_check_reports_without_failing(scratch: list[str]) -> None:
    scratch.append("soft-rule")

    @check("soft-rule", endpoints="messages.create", severity="warning")
    def soft(exchange: Exchange) -> list[Finding]:
        return [flagging("soft-rule", "could be better")]

    found = validate_exchange(answer(GOOD_MESSAGE)).findings
    assert [(f.check, f.severity) for f in found] == [("soft-rule", "warning")]
    assert "[soft-rule, warning]" in found[0].format()
    with pytest.warns(ConformanceWarning, match="could be better"):
        raise_for_findings(found, "ctx")
    expecter = _Expect("claude-haiku-4-5", "2023-06-01", None)
    with pytest.warns(ConformanceWarning):
        assert expecter.expect(answer(GOOD_MESSAGE))["id"] == GOOD_MESSAGE["id"]
    # With an error beside it, the test fails and the message lists both.
    with pytest.raises(ConformanceError) as info:
        raise_for_findings([*found, flagging("sse-grammar", "broken")], "ctx")
    assert "1 contract violation(s) and 1 warning(s)" in str(info.value)
    assert [f.check for f in info.value.findings] == ["sse-grammar", "soft-rule"]


CONFTEST = '''
from conformance.checks import check, json_body, success
from conformance.exchange import Finding


@check("conftest-models-flag", endpoints=["models.list"], applies=success & json_body)
def check_models_flag(exchange):
    """Flags every page of models (a user's rule that always fires)."""
    return [Finding("conftest-models-flag", "a user rule fired", pointer="/data",
                    rule="the user's own rule")]
'''


@pytest.fixture
def forget_conftest_check() -> Iterator[None]:
    yield
    if "conftest-models-flag" in names():
        unregister("conftest-models-flag")


@pytest.mark.usefixtures("forget_conftest_check")
def test_a_conftest_check_runs_in_the_suite_and_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest(
        *with_conftest(pytester),
        "-k",
        "test_models_list",
        f"--anthropic-report-dir={pytester.path / 'out'}",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]conftest-models-flag[]] /data: a user rule fired*"])
    report = json.loads(Path(pytester.path / "out" / "report.json").read_text())
    assert "conftest-models-flag" in json.dumps(report)
    # Run again in the same process: the re-imported conftest replaces its own check.
    pytester.runpytest(*with_conftest(pytester), "-k", "test_models_list").assert_outcomes(failed=1)
