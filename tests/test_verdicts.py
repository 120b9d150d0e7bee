"""Verdicts a proxy author can trust: findings (not the first exception) decide a test, each
deviation is one root cause of the run, and a run never claims to have tested what it did not.

Each false green / false failure of issue 11 has a test here that fails on the old behaviour:
replayed shipped cassettes named as a tested proxy, a base URL with no key passing as skips,
a messages-only proxy with a green badge, a wrong key giving one failure per test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from proxy_app import ProxyConfig, make_proxy

from conformance import reference
from conformance.exchange import ConformanceError, Finding, Inconclusive
from conformance.judgement import Judgement, Stopped
from conformance.reference import EmbeddedServer, ReferenceConfig

SUITE = (
    "--pyargs",
    "conformance.suite",
    "-p",
    "no:cacheprovider",
    "-o",
    "asyncio_default_fixture_loop_scope=function",
)
KEY = reference.DEFAULT_API_KEY


def _report(pytester: pytest.Pytester) -> dict[str, Any]:
    data = json.loads((pytester.path / "anthropic-conformance-report" / "report.json").read_text())
    assert isinstance(data, dict)
    return data


# --- the sink -------------------------------------------------------------------------------------


def test_judgement_fails_with_every_error_and_keeps_run_scope_findings_apart() -> None:
    j = Judgement()
    j.record([Finding("final-usage", "no usage"), Finding("request-id", "no request-id")], "A")
    j.record([Finding("schema", "bad", severity="warning")], "B")
    assert [f.check for f in j.errors] == ["final-usage"]
    assert [f.check for f in j.root] == ["request-id"]  # a root cause, not this test's error
    with pytest.warns(UserWarning):
        failure = j.conclude(None)
    assert isinstance(failure, ConformanceError)
    assert [f.check for f in failure.findings] == ["final-usage", "schema"]


def test_the_tests_own_assertion_and_the_findings_are_reported_together() -> None:
    j = Judgement()
    j.record([Finding("final-usage", "no usage")], "POST /v1/messages -> 200")
    own = AssertionError("assert None == 'end_turn'")
    assert j.conclude(own) is own  # the same exception: its traceback points into the test
    assert "end_turn" in str(own) and "final-usage" in str(own)


def test_a_stop_is_not_counted_twice() -> None:
    j = Judgement()
    found = [Finding("status", "expected HTTP 200, got 422")]
    j.record(found, "POST /v1/messages -> 422")
    stop = j.stop(found, "POST /v1/messages -> 422")
    assert isinstance(stop, Stopped)
    assert j.conclude(stop) is stop and len(stop.findings) == 1


def test_inconclusive_skips_and_never_fails() -> None:
    class LookupFailed(LookupError):
        pass

    skip = pytest.skip.Exception
    j = Judgement(inconclusive_errors=(LookupFailed,))
    assert isinstance(j.conclude(LookupFailed("no upstream record")), skip)
    assert isinstance(Judgement().conclude(Inconclusive("cannot judge")), skip)
    j2 = Judgement()
    j2.record([Finding("x", "the suite could not judge", severity="inconclusive")])
    outcome = j2.conclude(None)
    assert isinstance(outcome, skip) and "could not judge" in str(outcome)
    j3 = Judgement(inconclusive_errors=(LookupFailed,))
    j3.record([Finding("final-usage", "no usage")])
    assert isinstance(j3.conclude(LookupFailed("x")), ConformanceError)  # errors still fail


# --- through the suite ----------------------------------------------------------------------------

LAYERS = """
import pytest

pytestmark = pytest.mark.feature("messages")

def test_layers(api):
    message = api.expect(api.create_message("Reply with exactly: ok", max_tokens=8))
    assert message["stop_reason"] == "own assertion ran"
"""


def test_one_cause_does_not_drown_the_others(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """request-id missing on every answer plus usage missing: the usage findings and the test's
    own assertion are all reported, and request-id once, as a root cause of the run."""
    pytester.makepyfile(test_layers=LAYERS)
    config = ReferenceConfig(mutants=("request-id-missing", "usage-missing"))
    with EmbeddedServer(config) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        result = pytester.runpytest("-p", "no:cacheprovider")
    out = result.stdout.str()
    result.assert_outcomes(failed=1)
    assert "own assertion ran" in out and "final-usage" in out
    result.stdout.fnmatch_lines(
        [
            "*anthropic root causes*",
            "*[[]request-id[]] error, run-level, 1 test(s) in messages*",
            "*fix: send the upstream's request-id header*",
        ]
    )
    data = _report(pytester)
    assert data["root_causes"][0]["check"] == "request-id"
    assert list(data)[:4] == ["report_version", "verdict", "headline", "root_causes"]


def test_a_run_scope_root_cause_fails_the_session_not_each_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedServer(ReferenceConfig(mutants=("request-id-missing",))) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        result = pytester.runpytest(
            *SUITE, "-k", "test_basic_message or test_multi_turn or test_request_id_on_success"
        )
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # only the dedicated header test fails on the header itself
    assert outcomes.get("failed") == 1 and outcomes.get("passed") == 2, outcomes
    result.stdout.fnmatch_lines(["*[[]request-id[]] error, run-level, 3 test(s)*"])
    data = _report(pytester)
    causes = [c for c in data["root_causes"] if c["check"] == "request-id"]
    assert len(causes) == 1 and causes[0]["tests"] == 3 and causes[0]["scope"] == "run"
    assert causes[0]["fix"].startswith("send the upstream's request-id header")
    features = {r["name"]: r for r in data["features"]}
    assert features["messages"]["verdict"] == "fail"  # not a conforming feature


def test_failures_in_report_md_show_the_values(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedServer(ReferenceConfig(mutants=("not-found-as-500",))) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        pytester.runpytest(*SUITE, "-k", "test_bad_request and unknown")
    md = (pytester.path / "anthropic-conformance-report" / "report.md").read_text()
    assert "expected HTTP 404, got 500" in md
    assert "value `" in md and "api_error" in md  # the body that came, not just the status
    assert md.index("Root causes") < md.index("### Endpoint families")


WARNED = """
import pytest
from conformance.checks import check, success
from conformance.exchange import Finding

@check("verdicts-test-warning", endpoints=["messages.create"], applies=success,
       severity="warning")
def _warn(exchange):
    return [Finding("verdicts-test-warning", "a deviation a client survives")]

pytestmark = pytest.mark.feature("messages")

def test_warned(api):
    api.expect(api.create_message("Reply with exactly: ok", max_tokens=8))
"""


def test_warnings_are_shown_and_do_not_fail(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_warned=WARNED)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*anthropic warnings*", "*a deviation a client survives*"])


INCONCLUSIVE = """
import pytest
from conformance.upstream import UpstreamLookupError

pytestmark = pytest.mark.feature("messages")

def test_cannot_judge(api):
    api.expect(api.create_message("Reply with exactly: ok", max_tokens=8))
    raise UpstreamLookupError("the upstream has no record of it")
"""


def test_a_missing_upstream_record_is_inconclusive_not_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inconclusive=INCONCLUSIVE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*inconclusive: UpstreamLookupError: the upstream has no*"])


# --- honest targets -------------------------------------------------------------------------------


def test_record_mode_with_a_base_url_never_replays_the_shipped_cassettes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """False green (a): ``--record-mode=once`` against a broken proxy replayed the shipped
    cassettes and reported "pass ... Target: <the proxy>"."""
    with EmbeddedServer(ReferenceConfig(mutants=("usage-missing",))) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        result = pytester.runpytest(
            *SUITE,
            f"--anthropic-base-url={server.url}",
            "--record-mode=once",
            "-k",
            "test_basic_message",
        )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*shipped*pass --anthropic-cassette-dir*"])


def test_answers_from_cassettes_are_counted_and_never_name_the_target_as_tested(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassettes = tmp_path / "mine"
    select = ("-k", "test_basic_message")
    recorded = pytester.runpytest(
        *SUITE, f"--anthropic-cassette-dir={cassettes}", "--record-mode=once", *select
    )
    assert recorded.ret == 0, recorded.stdout.str()
    with EmbeddedServer(ReferenceConfig(mutants=("usage-missing",))) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        result = pytester.runpytest(
            *SUITE,
            f"--anthropic-base-url={server.url}",
            f"--anthropic-cassette-dir={cassettes}",
            "--record-mode=once",
            *select,
        )
    result.stdout.fnmatch_lines(
        ["*0 answer(s) from the target, 1 replayed from cassettes*was not tested*"]
    )
    data = _report(pytester)
    assert data["target"]["answers_from_target"] == 0
    assert data["target"]["answers_from_cassettes"] == 1
    md = (pytester.path / "anthropic-conformance-report" / "report.md").read_text()
    target_line = next(line for line in md.splitlines() if line.startswith("- **Target:**"))
    assert "was not contacted" in target_line and "(proxy)" not in target_line
    svg = (pytester.path / "anthropic-conformance-report" / "badge.svg").read_text()
    assert "replayed" in svg and "#4c1" not in svg  # never a green badge for the proxy


def test_a_messages_only_proxy_does_not_get_a_green_badge(pytester: pytest.Pytester) -> None:
    """False green (c): 6 of 7 families not served used to give a green "6/6 passing"."""
    with (
        EmbeddedServer() as upstream,
        EmbeddedServer(
            app=make_proxy(ProxyConfig(upstream.url, prefix="/anthropic", only_messages=True))
        ) as proxy,
    ):
        result = pytester.runpytest(
            *SUITE,
            f"--anthropic-base-url={proxy.url}/anthropic",
            f"--anthropic-api-key={KEY}",
            "-k",
            "test_basic_message",
        )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    data = _report(pytester)
    assert data["headline"].startswith("messages only: 1/")
    assert "families served, 1/1 features of it passing" in data["headline"]
    assert data["score"]["families_served"] == 1 and data["score"]["families"] > 1
    svg = (pytester.path / "anthropic-conformance-report" / "badge.svg").read_text()
    assert "families" in svg and "#4c1" not in svg


def test_a_wrong_key_stops_the_run_once(pytester: pytest.Pytester) -> None:
    """False failure: every probe answered 401 used to count as "served", then every test
    failed with "expected HTTP 200, got 401"."""
    with EmbeddedServer() as server:
        result = pytester.runpytest(
            *SUITE,
            f"--anthropic-base-url={server.url}",
            "--anthropic-api-key=wrong-key",
            "-k",
            "messages",
        )
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    out = result.stdout.str() + result.stderr.str()
    assert "the target refused the key" in out and "ANTHROPIC_API_KEY" in out
    assert "got 401" not in out


ALL_SKIPPED = """
import pytest

@pytest.mark.feature("messages")
def test_skips(api):
    pytest.skip("nothing here")
"""


def test_every_test_skipped_under_require_is_not_a_green_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_skipped=ALL_SKIPPED)
    plain = pytester.runpytest("-p", "no:cacheprovider")
    assert plain.ret == pytest.ExitCode.OK
    required = pytester.runpytest("-p", "no:cacheprovider", "--anthropic-require=messages")
    assert required.ret == pytest.ExitCode.TESTS_FAILED
    required.stdout.fnmatch_lines(["*every conformance test was skipped*nothing was tested*"])
