"""The usage-analytics profile: the seed's fields against the schemas, each semantic check against
a faithful and a broken answer, the reference implementation's mutants killed by the profile's
suite, its sources and options, and ``check-export`` on good and broken audit-log exports."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from suite_args import run_profile

from conformance import schemas as core_schemas
from conformance.checks import names
from conformance.cli import main
from conformance.exchange import Exchange
from conformance.profiles import SchemaSet, profile_checks
from conformance.profiles.claude_code_api_service.reference import create_app as ccas_app
from conformance.profiles.plugin import load_profile_settings
from conformance.profiles.usage_analytics import PROFILE, checks, spec
from conformance.profiles.usage_analytics.export import check_files
from conformance.profiles.usage_analytics.reference import (
    ADMIN_KEY,
    CURSOR_KEY,
    CURSOR_TEAM,
    MUTANTS,
    REPORT_DAY,
    create_app,
    cursor_row,
)
from conformance.reference import EmbeddedServer
from conformance.settings import ConfigError

USAGE = "usage-analytics"
assert PROFILE.schemas_dir is not None
SCHEMAS = SchemaSet(PROFILE.schemas_dir, USAGE)
#: The profile's suite, test by test, against the faithful reference implementation.
SUITE_TESTS = 13

# --- the seed's examples: every field has a schema ------------------------------------------------

#: Seed 004's shapes filled in with values (Admin API answers: the core schemas judge them).
SEED_ADMIN: dict[str, Any] = {
    "claude_code_report.json": {
        "data": [
            {
                "date": "2026-03-01T00:00:00Z",
                "actor": {"email_address": "dev@example.com", "type": "user_actor"},
                "core_metrics": {
                    "commits_by_claude_code": 3,
                    "lines_of_code": {"added": 120, "removed": 30},
                    "num_sessions": 4,
                    "pull_requests_by_claude_code": 1,
                },
                "tool_actions": {
                    t: {"accepted": 5, "rejected": 1}
                    for t in ("edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool")
                },
                "model_breakdown": [
                    {
                        "model": "claude-sonnet-4-5",
                        "estimated_cost": {"amount": 123.0, "currency": "USD"},
                        "tokens": {
                            "input": 100,
                            "output": 50,
                            "cache_creation": 10,
                            "cache_read": 20,
                        },
                    }
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    },
    "usage_report.json": {
        "data": [
            {
                "starting_at": "2026-03-01T00:00:00Z",
                "ending_at": "2026-03-02T00:00:00Z",
                "results": [
                    {
                        "api_key_id": "apikey_01",
                        "workspace_id": "wrkspc_01",
                        "model": "claude-sonnet-4-5",
                        "uncached_input_tokens": 100,
                        "cached_input_tokens": 5,  # the seed's extra, optional
                        "cache_read_input_tokens": 20,
                        "output_tokens": 50,
                        "cache_creation": {
                            "ephemeral_1h_input_tokens": 0,
                            "ephemeral_5m_input_tokens": 10,
                        },
                        "server_tool_use": {"web_search_requests": 1},
                        "service_tier": "standard",
                        "context_window": "0-200k",
                    }
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    },
    # The seed shows no has_more/next_page here; the real API has them (api-contract.md 9).
    "cost_report.json": {
        "data": [
            {
                "starting_at": "2026-03-01T00:00:00Z",
                "ending_at": "2026-03-02T00:00:00Z",
                "results": [
                    {
                        "currency": "USD",
                        "amount": "123.45",
                        "workspace_id": "wrkspc_01",
                        "description": "Claude Sonnet 4.5 Usage - Input Tokens",
                        "cost_type": "tokens",
                        "model": "claude-sonnet-4-5",
                        "service_tier": "standard",
                        "token_type": "uncached_input_tokens",
                        "context_window": "0-200k",
                    }
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    },
}


def _cursor_seed_row() -> dict[str, Any]:
    row = cursor_row("developer@example.com", REPORT_DAY)
    row.update(isActive=True, mostUsedModel="claude-sonnet-4", clientVersion="1.4.2")
    row.update(applyMostUsedExtension=".py", tabMostUsedExtension=".ts")
    for name in spec.CURSOR_COUNTERS:
        row.setdefault(name, 0)
    return row


SEED: dict[str, Any] = {
    "cursor_daily_usage_response.json": {
        "data": [_cursor_seed_row(), {**_cursor_seed_row(), "date": "2026-03-01"}],
        "period": {"start": "2026-03-01", "end": "2026-03-01"},
    },
    "cursor_daily_usage_request.json": {"startDate": 1772323200000, "endDate": 1772409600000},
    "claude_ai_audit_event.json": {
        "actor": {"name": "Dev Eloper", "email": "developer@example.com"},
        "event_type": "file_uploaded",
        "timestamp": "2026-03-01T10:00:00Z",
        "metadata": {
            "conversation_id": "c1",
            "project_id": "p1",
            "file_name": "notes.pdf",
            "file_size": 1234,
        },
    },
}


def _undeclared(schema: dict[str, Any], instance: Any, where: str) -> Iterator[str]:
    """Pointers of instance keys the profile's schema (following $ref) does not declare."""
    if "$ref" in schema:
        schema = SCHEMAS.documents[schema["$ref"]]
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key, value in instance.items():
            if key in props:
                yield from _undeclared(props[key], value, f"{where}/{key}")
            else:
                yield f"{where}/{key}"
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(instance):
            yield from _undeclared(schema["items"], value, f"{where}/{i}")


@pytest.mark.parametrize("name", sorted(SEED_ADMIN))
def test_seed_admin_fields_have_core_schemas(name: str) -> None:
    assert core_schemas.validate(SEED_ADMIN[name], name) == []
    assert core_schemas.unknown_fields(SEED_ADMIN[name], name) == []


@pytest.mark.parametrize("name", sorted(SEED))
def test_seed_fields_have_profile_schemas(name: str) -> None:
    assert SCHEMAS.validate(SEED[name], name) == []
    assert list(_undeclared(SCHEMAS.documents[name], SEED[name], "")) == []


def test_cursor_row_declares_every_seed_field() -> None:
    row = SCHEMAS.documents["cursor_daily_usage_row.json"]["properties"]
    seed_fields = {"email", "date", "isActive", *spec.CURSOR_COUNTERS}
    seed_fields |= {"mostUsedModel", "clientVersion", "applyMostUsedExtension"}
    assert seed_fields | {"tabMostUsedExtension"} == set(row)


def test_schemas_reject_broken_cursor_rows_and_events() -> None:
    bad = copy.deepcopy(SEED["cursor_daily_usage_response.json"])
    bad["data"][0]["email"] = "developer at example.com"
    bad["data"][0]["subscriptionIncludedReqs"] = 501
    del bad["data"][1]["isActive"]
    rules = {f.rule for f in SCHEMAS.validate(bad, "cursor_daily_usage_response.json")}
    assert rules == {
        "pattern: ^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
        "maximum: 500",
        "required: 'isActive'",
    }
    event = {**SEED["claude_ai_audit_event.json"], "actor": {"name": "x"}}
    assert SCHEMAS.validate(event, "claude_ai_audit_event.json")[0].rule == "required: 'email'"


# --- each semantic check against a faithful and a broken answer -----------------------------------


def _ex(method: str, path: str, body: Any, request: Any = None, status: int = 200) -> Exchange:
    return Exchange(
        method,
        path,
        status,
        {"content-type": "application/json"},
        json.dumps(body).encode(),
        request_json=request,
    )


DAY = REPORT_DAY.isoformat()
CC = f"{spec.CLAUDE_CODE_PATH}?starting_at={DAY}&limit=2"


def _records(*emails: str, day: str = DAY) -> list[dict[str, Any]]:
    base = copy.deepcopy(SEED_ADMIN["claude_code_report.json"]["data"][0])
    return [
        {**base, "date": f"{day}T00:00:00Z", "actor": {"type": "user_actor", "email_address": e}}
        for e in emails
    ]


def _cc(records: list[dict[str, Any]], more: bool = False, token: str | None = None) -> Exchange:
    return _ex("GET", CC, {"data": records, "has_more": more, "next_page": token})


def _report(path: str, query: str, starts: list[str], amount: Any = "1.5") -> Exchange:
    def bucket(start: str) -> dict[str, Any]:
        end = (REPORT_DAY.fromisoformat(start[:10]) + timedelta(days=1)).isoformat()
        row = (
            {"amount": amount, "currency": "USD"}
            if path == spec.COST_REPORT_PATH
            else copy.deepcopy(SEED_ADMIN["usage_report.json"]["data"][0]["results"][0])
        )
        return {"starting_at": start, "ending_at": f"{end}T00:00:00Z", "results": [row]}

    body = {"data": [bucket(s) for s in starts], "has_more": False, "next_page": None}
    return _ex("GET", f"{path}?{query}", body)


RANGE = "starting_at=2026-02-27T00:00:00Z&ending_at=2026-03-01T00:00:00Z&bucket_width=1d"
IN_RANGE = ["2026-02-27T00:00:00Z", "2026-02-28T00:00:00Z"]
WEEK = {
    "startDate": spec.epoch_ms(REPORT_DAY - timedelta(days=6)),
    "endDate": spec.epoch_ms(REPORT_DAY),
}


def _cursor(rows: list[dict[str, Any]], request: Any = None, **period: Any) -> Exchange:
    shown = period or {
        "start": (REPORT_DAY - timedelta(days=6)).isoformat(),
        "end": REPORT_DAY.isoformat(),
    }
    return _ex("POST", spec.CURSOR_DAILY_PATH, {"data": rows, "period": shown}, request or WEEK)


GOOD_ROWS = [cursor_row(e, REPORT_DAY - timedelta(days=d)) for e in CURSOR_TEAM for d in range(7)]


def _over_total() -> list[dict[str, Any]]:
    rows = copy.deepcopy(GOOD_ROWS)
    rows[0].update(isActive=True, totalTabsShown=3, totalTabsAccepted=4)
    return rows


# check -> (a faithful answer, a broken answer, the finding names the broken one gets)
CASES: dict[str, tuple[Exchange, Exchange, set[str]]] = {
    checks.ADMIN_SCHEMA: (
        _cc(_records("a@example.com")),
        _cc([{**_records("a@example.com")[0], "core_metrics": {"num_sessions": "4"}}]),
        {"schema:claude_code_report.json"},
    ),
    checks.CC_DAY: (
        _cc(_records("a@example.com")),
        _cc(_records("a@example.com", day="2026-02-28")),
        {"claude-code-day"},
    ),
    checks.CC_PAGE: (
        _cc(_records("a@example.com", "b@example.com"), True, "page_Mg"),
        _cc(_records("a@example.com", "a@example.com", "b@example.com"), True, None),
        {checks.CC_PAGE},
    ),
    checks.REPORT_ROWS: (
        _report(spec.USAGE_REPORT_PATH, RANGE, IN_RANGE),
        _report(spec.COST_REPORT_PATH, RANGE, ["2026-02-26T00:00:00Z"], amount=1.5),
        {"report-buckets", "decimal-amount"},
    ),
    checks.CURSOR_RANGE: (
        _ex(
            "POST",
            spec.CURSOR_DAILY_PATH,
            {"error": "x"},
            {"startDate": 0, "endDate": 91 * spec.DAY_MS},
            400,
        ),
        _cursor([], {"startDate": 0, "endDate": 91 * spec.DAY_MS}),
        {checks.CURSOR_RANGE},
    ),
    checks.CURSOR_DATES: (
        _cursor(GOOD_ROWS),
        _cursor(
            [*GOOD_ROWS, GOOD_ROWS[0], cursor_row("x@example.com", REPORT_DAY + timedelta(days=1))]
        ),
        {checks.CURSOR_DATES},
    ),
    checks.CURSOR_PERIOD: (
        _cursor(GOOD_ROWS, startDate=WEEK["startDate"], endDate=WEEK["endDate"]),
        _cursor(GOOD_ROWS, start=DAY, end=DAY),
        {checks.CURSOR_PERIOD},
    ),
    checks.CURSOR_COUNTERS: (_cursor(GOOD_ROWS), _cursor(_over_total()), {checks.CURSOR_COUNTERS}),
}


def test_every_registered_check_of_the_profile_has_a_case() -> None:
    assert {c.name for c in profile_checks(PROFILE)} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_accepts_the_faithful_answer_and_rejects_the_broken_one(name: str) -> None:
    good, bad, emitted = CASES[name]
    check = {c.name: c for c in profile_checks(PROFILE)}[name]
    assert check(good) == []
    found = check(bad)
    assert found and {f.check for f in found} == emitted, found
    assert all(f.message and f.rule for f in found)


def test_cursor_range_also_refuses_an_end_before_the_start_and_allows_90_days() -> None:
    backwards = _cursor([], {"startDate": 10 * spec.DAY_MS, "endDate": 9 * spec.DAY_MS})
    assert "endDate is before startDate" in checks.check_cursor_range(backwards)[0].message
    exactly = _cursor([], {"startDate": 0, "endDate": 90 * spec.DAY_MS})
    assert checks.check_cursor_range(exactly) == []


def test_cost_totals_on_demand() -> None:
    def page(*amounts: str) -> dict[str, Any]:
        rows = [{"amount": a, "currency": "USD"} for a in amounts]
        return {"data": [{"starting_at": IN_RANGE[0], "ending_at": IN_RANGE[1], "results": rows}]}

    assert checks.cost_totals_findings([page("3.000001")], [page("1", "2")]) == []
    [finding] = checks.cost_totals_findings([page("3.3")], [page("1", "2")])
    assert finding.check == checks.COST_TOTALS and "3.3 cents in total" in finding.message


def test_attribution_on_demand() -> None:
    same = {"claude_code": ["dev@example.com"], "cursor": ["dev@example.com", "x@example.com"]}
    assert checks.attribution_findings(same) == []
    [finding] = checks.attribution_findings(
        {"claude_code": ["dev@example.com"], "cursor": ["Dev@Example.com "]}
    )
    assert finding.check == checks.ATTRIBUTION and "spelled 2 ways" in finding.message


def test_unauthenticated_on_demand() -> None:
    refused = _ex("POST", spec.CURSOR_DAILY_PATH, {"error": "Unauthorized"}, WEEK, 401)
    assert checks.unauthenticated_findings(refused, "no credentials") == []
    [finding] = checks.unauthenticated_findings(_cursor(GOOD_ROWS), "no credentials")
    assert finding.check == checks.CURSOR_AUTH and "HTTP 200" in finding.message


def test_on_demand_names_are_registered() -> None:
    assert {checks.COST_TOTALS, checks.ATTRIBUTION, checks.CURSOR_AUTH} <= set(names())


def test_profile_checks_never_run_on_anthropic_answers() -> None:
    from conformance import catalog
    from conformance.checks import checks_for

    for endpoint in (None, *(e.name for e in catalog.ENDPOINTS)):
        assert not [c.name for c in checks_for(endpoint) if c.name.startswith("analytics-")]
    anthropic = _ex("GET", "/v1/models", {"data": [], "has_more": False})
    assert all(c(anthropic) == [] for c in profile_checks(PROFILE))


# --- the reference implementation and its mutants -------------------------------------------------


def test_reference_refuses_unknown_mutants() -> None:
    with pytest.raises(ValueError, match="unknown mutant"):
        create_app(["nope"])
    assert set(PROFILE.mutants) == set(MUTANTS)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_profile(pytester, USAGE, *args)


def test_faithful_reference_passes_the_profile(pytester: pytest.Pytester) -> None:
    _run(pytester).assert_outcomes(passed=SUITE_TESTS)


def _toggle(mutant: str) -> str:
    if mutant == "cursor-email-case":
        return "cross-source"
    if mutant.startswith("cc-"):
        return "claude-code"
    return "cursor" if mutant.startswith("cursor-") else "reports"


#: The finding each mutant is caught by: every check of the profile catches one.
CAUGHT_BY: dict[str, str] = {
    "cc-wrong-day": "claude-code-day",
    "cc-limit-ignored": checks.CC_PAGE,
    "cc-page-loops": "report-walk",
    "usage-bucket-early": "report-buckets",
    "cost-total-drift": checks.COST_TOTALS,
    "cost-amount-number": "schema:cost_report.json",
    "cursor-range-unchecked": checks.CURSOR_RANGE,
    "cursor-range-off-by-one": "status",
    "cursor-date-outside": checks.CURSOR_DATES,
    "cursor-duplicate-row": checks.CURSOR_DATES,
    "cursor-accepted-over-total": checks.CURSOR_COUNTERS,
    "cursor-subscription-over": "schema:cursor_daily_usage_response.json",
    "cursor-auth-unchecked": checks.CURSOR_AUTH,
    "cursor-email-case": checks.ATTRIBUTION,
    "cursor-period-wrong": checks.CURSOR_PERIOD,
}


def test_every_check_of_the_profile_catches_a_mutant() -> None:
    assert set(CAUGHT_BY) == set(MUTANTS)
    # these report under the core names they reuse
    reused = {
        checks.ADMIN_SCHEMA: "schema:cost_report.json",
        checks.REPORT_ROWS: "report-buckets",
        checks.CC_DAY: "claude-code-day",
    }
    own = {c.name for c in profile_checks(PROFILE)} - set(reused)
    on_demand = {checks.COST_TOTALS, checks.CURSOR_AUTH, checks.ATTRIBUTION}
    assert own | on_demand | set(reused.values()) <= set(CAUGHT_BY.values())


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_profile_kills_the_mutant(pytester: pytest.Pytester, mutant: str) -> None:
    result = _run(
        pytester, "--analytics-mutant", mutant, "--analytics-features", _toggle(mutant), "-x"
    )
    assert result.parseoutcomes().get("failed") == 1, f"mutant {mutant} SURVIVED"
    result.stdout.fnmatch_lines([f"*[[]{CAUGHT_BY[mutant]}[]]*"])


# --- sources, options, probes ---------------------------------------------------------------------


def _deployment_args(url: str, *more: str) -> list[str]:
    return [
        "--analytics-base-url",
        url,
        "--analytics-api-key",
        ADMIN_KEY,
        "--analytics-cursor-base-url",
        url,
        "--analytics-cursor-api-key",
        CURSOR_KEY,
        "--analytics-day",
        REPORT_DAY.isoformat(),
        *more,
    ]


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_a_deployment_with_both_sources_passes(pytester: pytest.Pytester, auth: str) -> None:
    with EmbeddedServer(app=create_app()) as server:
        result = _run(pytester, *_deployment_args(server.url, "--analytics-cursor-auth", auth))
    result.assert_outcomes(passed=SUITE_TESTS)


def test_a_wrong_cursor_key_fails_the_cursor_tests(pytester: pytest.Pytester) -> None:
    with EmbeddedServer(app=create_app()) as server:
        args = _deployment_args(server.url, "--analytics-features", "cursor")
        args[args.index(CURSOR_KEY)] = "not-the-key"
        result = _run(pytester, *args)
    assert result.parseoutcomes()["failed"] == 2  # the two tests that ask for data


def test_without_a_cursor_url_the_cursor_tests_skip(pytester: pytest.Pytester) -> None:
    with EmbeddedServer(app=create_app()) as server:
        args = ["--analytics-base-url", server.url, "--analytics-api-key", ADMIN_KEY, "-rs"]
        result = _run(pytester, *args, "--analytics-day", REPORT_DAY.isoformat())
    result.assert_outcomes(passed=6, skipped=7)
    result.stdout.fnmatch_lines(
        ["*Cursor source needs the Cursor Admin API: give --analytics-cursor-base-url*"]
    )


def test_a_surface_not_served_skips_and_require_fails(pytester: pytest.Pytester) -> None:
    with EmbeddedServer(app=ccas_app()) as server:  # answers 404 for the Admin API
        skipped = _run(pytester, "--analytics-base-url", server.url, "-rs")
        required = _run(pytester, "--analytics-base-url", server.url, "--anthropic-require", USAGE)
    skipped.assert_outcomes(skipped=SUITE_TESTS)
    skipped.stdout.fnmatch_lines(
        [
            f"*not supported by the target: profile {USAGE} "
            f"(GET {spec.CLAUDE_CODE_PATH} answered 404*"
        ]
    )
    assert required.parseoutcomes()["failed"] >= 6
    required.stdout.fnmatch_lines([f"*required profile {USAGE} (--anthropic-require)*"])


def test_cursor_not_served_skips_with_the_evidence(pytester: pytest.Pytester) -> None:
    with EmbeddedServer(app=create_app()) as admin, EmbeddedServer(app=ccas_app()) as other:
        args = _deployment_args(admin.url, "--analytics-features", "cursor", "-rs")
        args[args.index("--analytics-cursor-base-url") + 1] = other.url
        result = _run(pytester, *args)
    result.assert_outcomes(skipped=SUITE_TESTS)  # the other toggles are off
    evidence = "not supported by the target: Cursor (POST /teams/daily-usage-data answered 404)"
    assert result.stdout.str().count(evidence) == 5  # the cursor tests (one line is [2])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ANALYTICS_CURSOR_AUTH": "digest"}, "ANALYTICS_CURSOR_AUTH"),
        ({"ANALYTICS_DAY": "yesterday"}, "ANALYTICS_DAY"),
        ({"ANALYTICS_CURSOR_BASE_URL": "ftp://cursor"}, "ANALYTICS_CURSOR_BASE_URL"),
    ],
)
def test_bad_options_are_one_error_naming_them(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_profile_settings(PROFILE, environ=env)


def test_options_are_parsed_by_the_settings_machinery() -> None:
    settings = load_profile_settings(
        PROFILE,
        environ={
            "ANALYTICS_CURSOR_AUTH": "basic",
            "ANALYTICS_DAY": "2026-02-01",
            "ANALYTICS_CURSOR_API_KEY": "crsr-secret-value",
        },
    )
    assert settings.cursor_auth == "basic" and str(settings.day) == "2026-02-01"
    assert "crsr-secret-value" not in repr(settings)


# --- check-export ---------------------------------------------------------------------------------

CSV_HEADER = (
    "actor.name,actor.email,event_type,timestamp,"
    "metadata.conversation_id,metadata.file_name,metadata.file_size\n"
)
GOOD_CSV = CSV_HEADER + (
    "Dev Eloper,developer@example.com,conversation_created,2026-02-01T10:00:00Z,c1,,\n"
    "Dev Eloper,developer@example.com,file_uploaded,2026-02-01T10:05:00Z,,notes.pdf,1234\n"
)
EVENT = SEED["claude_ai_audit_event.json"]


def _export(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _check_export(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[str], str]:
    code = main(["check-export", *map(str, paths)])
    out, err = capsys.readouterr()
    return code, out.splitlines()[:-1], err


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("good.csv", GOOD_CSV),
        ("good.json", json.dumps([EVENT, EVENT], indent=1)),
        ("wrapped.json", json.dumps({"events": [EVENT]})),
        ("good.jsonl", json.dumps(EVENT) + "\n\n" + json.dumps(EVENT) + "\n"),
        ("no-suffix", GOOD_CSV),
        (
            "json-metadata.csv",
            "actor_email,actor_name,event_type,timestamp,metadata\n"
            'a@example.com,A,project_created,2026-02-01T10:00:00Z,"{""project_id"": ""p1""}"\n',
        ),
    ],
)
def test_good_exports_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str
) -> None:
    code, problems, _ = _check_export(capsys, _export(tmp_path, name, content))
    assert (code, problems) == (0, [])


def test_each_broken_event_is_one_line_with_file_line_field_and_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = CSV_HEADER + (
        "Dev,not-an-email,conversation_created,2026-02-01T10:00:00Z,c1,,\n"
        "Dev,dev@example.com,file_uploaded,2026-02-31T10:00:00Z,,f.txt,-3\n"
        "Dev,dev@example.com,project_created,,,,\n"
    )
    code, problems, _ = _check_export(capsys, _export(tmp_path, "bad.csv", bad))
    assert code == 1
    path = tmp_path / "bad.csv"
    assert problems == [
        f'{path}:line 2: actor/email: "not-an-email" does not match the expected format '
        "[pattern: ^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$]",
        f'{path}:line 3: metadata/file_size: expected integer, got string "-3" [type: integer]',
        f"{path}:line 3: timestamp: '2026-02-31T10:00:00Z' is not an RFC 3339 time [RFC 3339]",
        f"{path}:line 4: timestamp: missing required field 'timestamp' [required: 'timestamp']",
        f"{path}:line 4: metadata/project_id: a project_created event without "
        "metadata.project_id [project_created names its project_id] (warning)",
    ]


def test_json_problems_name_the_line_of_the_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [EVENT, {**EVENT, "event_type": "login"}, {**EVENT, "metadata": "none"}]
    path = _export(tmp_path, "e.json", json.dumps(events, indent=2))
    code, problems, _ = _check_export(capsys, path)
    text = path.read_text().splitlines()
    assert code == 1 and len(problems) == 2
    warned, broken = problems
    assert warned.endswith("(warning)") and "'login'" in warned
    line = int(broken.split(":line ")[1].split(":")[0])
    assert text[line - 1].strip() == "{" and "metadata" in broken


def test_warnings_alone_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(tmp_path, "w.json", json.dumps([{**EVENT, "event_type": "user_login"}]))
    code, problems, _ = _check_export(capsys, path)
    assert code == 0 and len(problems) == 1 and problems[0].endswith("(warning)")


def test_an_export_spanning_more_than_the_retention_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [{**EVENT, "timestamp": "2025-01-01T00:00:00Z"}, EVENT]
    code, problems, _ = _check_export(capsys, _export(tmp_path, "old.json", json.dumps(events)))
    assert code == 1 and problems == [
        f"{tmp_path / 'old.json'}:line 1: timestamp: the export spans 424 days (2025-01-01 to "
        "2026-03-01) [an export holds at most the 180 days of retention]"
    ]


def test_one_spelling_of_an_email_across_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _export(tmp_path, "a.csv", GOOD_CSV)
    other = {**EVENT, "actor": {"name": "Dev", "email": "Developer@example.com"}}
    second = _export(tmp_path, "b.jsonl", json.dumps(other) + "\n")
    code, problems, _ = _check_export(capsys, first, second)
    assert code == 1 and len(problems) == 1
    assert problems[0].startswith(f"{second}:line 1: actor/email: developer@example.com is spelled")
    assert _check_export(capsys, first, _export(tmp_path, "c.csv", GOOD_CSV))[0] == 0


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("broken.json", '[{"actor": ', "line 1: (file): not JSON: Expecting value"),
        ("object.json", '{"x": 1}', "not a list of events"),
        ("empty.json", "[]", "(file): no events"),
        (
            "header.csv",
            "actor.email,timestamp\na@example.com,2026-01-01T00:00:00Z\n",
            "no column for actor.name, event_type",
        ),
        ("lines.jsonl", "{}\nnot json\n", "line 2: (line): not JSON"),
    ],
)
def test_broken_files_are_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, problem: str
) -> None:
    code, problems, _ = _check_export(capsys, _export(tmp_path, name, content))
    assert code == 1 and any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("missing.csv", None, "cannot read it"),
        ("binary.csv", b"\xff\xfe\x00bad", "cannot read it"),
        ("notes.txt", "just some notes\n", "format not recognised"),
    ],
)
def test_unreadable_files_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: Any, error: str
) -> None:
    path = tmp_path / name if content is None else _export(tmp_path, name, content)
    code, _, err = _check_export(capsys, path)
    assert code == 2 and err.count("\n") == 1 and error in err and name in err


def test_format_option_overrides_the_suffix(tmp_path: Path) -> None:
    path = _export(tmp_path, "events.txt", json.dumps([EVENT]))
    assert check_files([path], "json").events == 1
    assert main(["check-export", str(path), "--format", "json"]) == 0
