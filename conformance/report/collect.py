"""Building a ``Report`` from pytest outcomes, and the hooks that write it after every run.

The evidence a report needs (features, findings, request-ids) exists only where the test ran: on
an xdist worker. ``properties`` packs it into ``report.user_properties``, which travel to the
controller with each test report; ``ReportHooks`` there merges the phases of each test and, at
the end of the session, writes report.json/.md/.html and badge.svg. Tokens and drift live in each
worker's RunLog and travel through xdist's ``workeroutput``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit, urlunsplit

import pytest

import conformance
from conformance import catalog
from conformance.capabilities import Capabilities
from conformance.checks import lookup
from conformance.cost import StoppedAt
from conformance.exchange import ConformanceError, Exchange, Finding
from conformance.judgement import Judgement, root_key
from conformance.report.model import (
    MAX_FINDINGS,
    Drift,
    FindingRecord,
    Report,
    ReportTarget,
    RootCause,
    Row,
    TestResult,
    Verdict,
)
from conformance.runlog import RunLog
from conformance.settings import Settings
from conformance.target import RunTarget, resolve

#: ``user_properties`` keys the worker fills and the controller reads.
FEATURES_KEY = "anthropic_features"
FINDINGS_KEY = "anthropic_findings"
REQUEST_IDS_KEY = "anthropic_request_ids"
ERROR_KEY = "anthropic_error"
ROOT_KEY = "anthropic_root_causes"
#: What the test's answers billed (``TestCost.as_dict``), on its teardown report.
COST_KEY = "anthropic_cost"
#: The calls of a test that needed retries, with what their failed tries met.
RETRIED_KEY = "anthropic_retried"
#: ``workeroutput`` keys for a worker's RunLog totals and its capability probe's findings.
RUNLOG_KEY = "anthropic_runlog"
UNSUPPORTED_KEY = "anthropic_unsupported"
#: ``workeroutput`` key: where the cost cap stopped a worker (``StoppedAt.as_dict``).
STOPPED_KEY = "anthropic_stopped_at"
#: A skip reason starting with this means the target does not serve the feature.
NOT_SUPPORTED_PREFIX = "not supported"

FAMILIES: tuple[str, ...] = get_args(catalog.Family)


# --- on the worker: what a test report carries ----------------------------------------------------


def finding_dict(f: Finding) -> dict[str, Any]:
    """A finding as plain data (what ``FindingRecord(**...)`` reads back)."""
    return {
        "check": f.check,
        "message": f.message,
        "pointer": f.pointer,
        "rule": f.rule,
        "value": f.value,
        "request_id": f.request_id,
        "severity": f.severity,
    }


def properties(
    features: Sequence[str],
    excinfo: pytest.ExceptionInfo[BaseException] | None,
    exchanges: Iterable[Exchange],
    judgement: Judgement | None = None,
) -> list[tuple[str, Any]]:
    """The ``user_properties`` one phase of a suite test adds: plain data, so xdist can send it.

    The findings are the test's ``judgement`` (errors, warnings, inconclusive ones) plus those
    of its own failure; the run-scope ones travel apart, as root causes.
    """
    props: list[tuple[str, Any]] = [(FEATURES_KEY, list(features))]
    exchanges = list(exchanges)
    rids = [ex.request_id for ex in exchanges if ex.request_id]
    if rids:
        props.append((REQUEST_IDS_KEY, rids))
    retried = [retried_line(ex) for ex in exchanges if ex.faults and not ex.superseded]
    if retried:
        props.append((RETRIED_KEY, retried))
    found: list[Finding] = list(judgement.findings) if judgement is not None else []
    if excinfo is not None and not excinfo.errisinstance(pytest.skip.Exception):
        exc = excinfo.value
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        props.append((ERROR_KEY, f"{excinfo.typename}: {first}" if first else excinfo.typename))
        if isinstance(exc, ConformanceError):
            found += [f for f in exc.findings if f not in found]
    if found:
        # errors first: the report shows the first few
        order = {"error": 0, "warning": 1, "inconclusive": 2}
        found.sort(key=lambda f: order.get(f.severity, 3))
        props.append((FINDINGS_KEY, [finding_dict(f) for f in found]))
    if judgement is not None and judgement.root:
        props.append((ROOT_KEY, [finding_dict(f) for f in judgement.root]))
    return props


def retried_line(exchange: Exchange) -> str:
    """``POST /v1/messages -> 200 after 529 overloaded_error, RemoteProtocolError``."""
    return f"{exchange.describe()} after {', '.join(exchange.faults)}"


def unsupported_of(caps: Capabilities | None) -> dict[str, str]:
    """Capability name -> the probe's evidence, for every family the target does not serve."""
    return {c.name: c.evidence() for c in caps.unsupported()} if caps is not None else {}


def runlog_payload(log: RunLog) -> dict[str, Any]:
    """A worker's tokens and drift as plain data for ``workeroutput``."""
    return {
        "input_tokens": log.input_tokens,
        "output_tokens": log.output_tokens,
        "cost_usd": log.cost_usd,
        "answers_from_target": log.answers_from_target,
        "answers_from_cassettes": log.answers_from_cassettes,
        "drift": [[where, pointer, n] for (where, pointer), n in log.drift.items()],
    }


# --- on the controller: merging phases into tests -------------------------------------------------


@dataclass
class _Pending:
    """One test's phases as they arrive."""

    features: list[str] = field(default_factory=list)
    verdict: Verdict | None = None
    reason: str = ""
    findings: list[FindingRecord] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    duration: float = 0.0
    root_causes: list[FindingRecord] = field(default_factory=list)
    cost: dict[str, Any] = field(default_factory=dict)
    retried: list[str] = field(default_factory=list)


@dataclass
class Collector:
    """Test outcomes and run totals gathered from (possibly many workers') reports."""

    tests: dict[str, _Pending] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    drift: Counter[tuple[str, str]] = field(default_factory=Counter)
    unsupported: dict[str, str] = field(default_factory=dict)
    answers_from_target: int = 0
    answers_from_cassettes: int = 0
    #: nodeid -> what its answers billed, for every test that reported usage.
    costs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Where the cost cap stopped the run (this process's, or the first worker's).
    stopped_at: StoppedAt | None = None

    def add(self, report: pytest.TestReport) -> None:
        """Merge one phase (setup, call, teardown) of one test; tests without features are not
        conformance tests and stay out of the report."""
        props: dict[str, Any] = dict(report.user_properties)
        if props.get(COST_KEY):  # any test's, a conformance test or not: the cap counted it
            self.costs[report.nodeid] = dict(props[COST_KEY])
        features = props.get(FEATURES_KEY)
        if not features:
            return
        t = self.tests.setdefault(report.nodeid, _Pending())
        t.features = list(features)
        t.duration += report.duration
        t.request_ids.extend(r for r in props.get(REQUEST_IDS_KEY, ()) if r not in t.request_ids)
        t.findings.extend(FindingRecord(**f) for f in props.get(FINDINGS_KEY, ()))
        t.root_causes.extend(FindingRecord(**f) for f in props.get(ROOT_KEY, ()))
        # the teardown phase repeats the call's lines (so junit.xml, which reads the last
        # phase, has them all) and adds teardown's own
        t.retried.extend(r for r in props.get(RETRIED_KEY, ()) if r not in t.retried)
        if report.failed:
            if t.verdict is not Verdict.FAIL:
                t.reason = props.get(ERROR_KEY) or _longrepr_line(report)
            t.verdict = Verdict.FAIL
        elif report.skipped and t.verdict is not Verdict.FAIL:
            t.reason = _skip_reason(report)
            t.verdict = (
                Verdict.NOT_SUPPORTED
                if t.reason.lower().startswith(NOT_SUPPORTED_PREFIX)
                else Verdict.SKIPPED
            )
        elif report.passed and report.when == "call" and t.verdict is None:
            t.verdict = Verdict.PASS

    def add_runlog(self, log: RunLog | Mapping[str, Any]) -> None:
        """Add a RunLog's tokens and drift (the controller's own, or a worker's payload)."""
        data = runlog_payload(log) if isinstance(log, RunLog) else log
        self.input_tokens += int(data.get("input_tokens", 0))
        self.output_tokens += int(data.get("output_tokens", 0))
        self.cost_usd += float(data.get("cost_usd", 0.0))
        self.answers_from_target += int(data.get("answers_from_target", 0))
        self.answers_from_cassettes += int(data.get("answers_from_cassettes", 0))
        for where, pointer, n in data.get("drift", ()):
            self.drift[(str(where), str(pointer))] += int(n)

    def results(self) -> list[TestResult]:
        return [
            TestResult(
                nodeid,
                t.verdict or Verdict.SKIPPED,
                tuple(t.features),
                t.reason,
                tuple(t.findings),
                tuple(t.request_ids),
                round(t.duration, 3),
                tuple(t.root_causes),
                int(self.costs.get(nodeid, {}).get("input_tokens", 0)),
                int(self.costs.get(nodeid, {}).get("output_tokens", 0)),
                round(float(self.costs.get(nodeid, {}).get("cost_usd", 0.0)), 6),
                tuple(t.retried),
            )
            for nodeid, t in self.tests.items()
        ]

    @property
    def failing_root_causes(self) -> list[FindingRecord]:
        """The distinct run-scope errors seen, one per check and rule: they fail the session."""
        seen: dict[tuple[str, str], FindingRecord] = {}
        for t in self.tests.values():
            for f in t.root_causes:
                if f.severity == "error":
                    seen.setdefault(root_key(f), f)
        return list(seen.values())


def _skip_reason(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"expected failure: {report.wasxfail}".rstrip(": ")
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return _longrepr_line(report)


def _longrepr_line(report: pytest.TestReport) -> str:
    lines = [ln for ln in report.longreprtext.splitlines() if ln.startswith("E ")]
    return lines[0][1:].strip() if lines else (report.longreprtext.strip().splitlines() or [""])[-1]


# --- building the report --------------------------------------------------------------------------


def report_target(
    target: RunTarget, answers_from_target: int = 0, answers_from_cassettes: int = 0
) -> ReportTarget:
    """The run's target as a report shows it: its URL (none for the embedded server or replay)
    with credentials, query and fragment stripped, and where its answers came from."""
    url = target.public_url
    return ReportTarget(
        target.kind, safe_url(url) if url else None, answers_from_target, answers_from_cassettes
    )


def safe_url(url: str) -> str:
    """``url`` without user, password, query or fragment: nothing secret goes in a report."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def judge(
    name: str, tests: Sequence[TestResult], unsupported: str | None = None, family: str = ""
) -> Row:
    """One row: fail beats pass beats not supported beats skipped.

    ``unsupported`` is the capability probe's evidence that the target does not serve this.
    """
    failed = [t for t in tests if t.verdict is Verdict.FAIL]
    passed = sum(t.verdict is Verdict.PASS for t in tests)
    base = Row(
        name,
        Verdict.SKIPPED,
        family=family,
        passed=passed,
        failed=len(failed),
        skipped=len(tests) - passed - len(failed),
    )
    # a passing test whose answers broke a run-scope check still makes its row fail: the
    # cause is reported once (root causes), but the feature is not conforming
    rooted = [
        t
        for t in tests
        if t.verdict is Verdict.PASS and any(f.severity == "error" for f in t.root_causes)
    ]
    if failed or rooted:
        findings = [f for t in failed for f in t.findings if f.severity == "error"]
        findings += [f for t in rooted for f in t.root_causes if f not in findings]
        findings = findings[:MAX_FINDINGS]
        first = findings[0] if findings else None
        reason = (
            f"[{first.check}] {first.pointer or '/'}: {first.message}"
            if first
            else failed[0].reason
        )
        return replace(
            base,
            verdict=Verdict.FAIL,
            reason=reason,
            failing_tests=tuple(t.nodeid for t in (*failed, *rooted)),
            findings=tuple(findings),
            request_id=next(
                (t.failing_request_id for t in failed if t.failing_request_id),
                first.request_id if first else None,
            ),
        )
    if passed:
        return replace(base, verdict=Verdict.PASS)
    not_served = [t.reason for t in tests if t.verdict is Verdict.NOT_SUPPORTED]
    if unsupported is not None or not_served:
        return replace(base, verdict=Verdict.NOT_SUPPORTED, reason=unsupported or not_served[0])
    reasons = Counter(t.reason for t in tests if t.reason)
    return replace(
        base, reason=reasons.most_common(1)[0][0] if reasons else "no test of it in this run"
    )


def root_causes(tests: Sequence[TestResult]) -> tuple[RootCause, ...]:
    """The distinct violated checks of a run (check + rule), each once, with the tests and
    families it reaches, an example and what to fix: run-scope findings (whatever the test's
    outcome) first, then the error findings of failed tests; widest first within each."""
    family_of = {f.name: f.family for f in catalog.FEATURES}
    groups: dict[tuple[str, str, str], list[tuple[TestResult, FindingRecord]]] = {}
    for t in tests:
        seen: set[tuple[str, str, str]] = set()
        pairs = [("run", f) for f in t.root_causes]
        if t.verdict is Verdict.FAIL:
            pairs += [("answer", f) for f in t.findings if f.severity == "error"]
        for scope, f in pairs:
            key = (scope, *root_key(f))
            if key not in seen:
                seen.add(key)
                groups.setdefault(key, []).append((t, f))
    out = []
    for (scope, check, _), hits in groups.items():
        example_test, example = hits[0]
        families = sorted({family_of.get(name, name) for t, _f in hits for name in t.features})
        info = lookup(check)
        out.append(
            RootCause(
                check=check,
                severity=example.severity,
                rule=example.rule,
                message=example.message,
                tests=len(hits),
                families=tuple(families),
                example=example,
                fix=info.fix if info is not None else "",
                scope=scope,
                example_test=example_test.nodeid,
            )
        )
    out.sort(key=lambda c: (c.scope != "run", c.severity != "error", -c.tests))
    return tuple(out)


def build_report(
    settings: Settings,
    tests: Sequence[TestResult],
    *,
    target: RunTarget | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cost_usd: float = 0.0,
    drift: Mapping[tuple[str, str], int] | None = None,
    unsupported: Mapping[str, str] | None = None,
    date: str | None = None,
    answers_from_target: int = 0,
    answers_from_cassettes: int = 0,
    stopped_at: StoppedAt | None = None,
) -> Report:
    """The report of a run: per feature (catalog order, then unknown ones), per family.

    ``unsupported`` maps a capability (a family, or a feature probed apart such as
    ``streaming``) to the capability probe's evidence (status, body, request-id). ``target`` is
    the run's (default: resolved from ``settings``).
    """
    unsupported = unsupported or {}
    family_of = {f.name: f.family for f in catalog.FEATURES}
    names = list(catalog.FEATURE_NAMES)
    names += sorted({f for t in tests for f in t.features} - set(names))
    features = tuple(
        judge(
            name,
            [t for t in tests if name in t.features],
            unsupported.get(name) or unsupported.get(family_of.get(name, "")),
            family_of.get(name, ""),
        )
        for name in names
    )
    families = []
    extra = sorted(set(unsupported) - set(FAMILIES) - set(names))  # e.g. a probe for a family
    for fam in (*FAMILIES, *extra):  # the catalog lacks
        members = {f for f, owner in family_of.items() if owner == fam}
        row = judge(fam, [t for t in tests if members & set(t.features)], unsupported.get(fam))
        if row.total or fam in unsupported or members:
            families.append(row)
    return Report(
        target=report_target(
            target or resolve(settings), answers_from_target, answers_from_cassettes
        ),
        date=date or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        suite_version=conformance.__version__,
        api_version=settings.api_version,
        model=settings.model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=round(cost_usd, 6),
        families=tuple(families),
        features=features,
        tests=tuple(tests),
        drift=tuple(Drift(w, p, n) for (w, p), n in sorted((drift or {}).items())),
        root_causes=root_causes(tests),
        stopped_at=stopped_at,
    )


# --- the hooks ------------------------------------------------------------------------------------


class ReportHooks:
    """Registered by the plugin: collects every test report, writes the files at the end.

    A class rather than module-level hooks because ``pytest_runtest_logreport`` gets no config.
    """

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        target: RunTarget,
        runlog: RunLog,
        unsupported: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.target = target
        self.runlog = runlog
        self.unsupported = unsupported or dict
        self.collector = Collector()
        self.written: list[Path] = []
        self.error: str | None = None

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.collector.add(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {})
        if output.get(RUNLOG_KEY):
            self.collector.add_runlog(output[RUNLOG_KEY])
        self.collector.unsupported.update(output.get(UNSUPPORTED_KEY) or {})
        if output.get(STOPPED_KEY) and self.collector.stopped_at is None:
            self.collector.stopped_at = StoppedAt.from_dict(output[STOPPED_KEY])

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Iterator[None]:
        """A wrapper, innermost: on an xdist controller its work comes after every other
        ``pytest_sessionfinish``, xdist's shutdown of the workers included, so the reports
        and totals of workers still finishing when the run was stopped (the cost cap, ``-x``)
        are in; the terminal summary, an outer wrapper, comes after it."""
        if self.is_worker:
            output: dict[str, Any] = self.config.workeroutput  # type: ignore[attr-defined]
            output[RUNLOG_KEY] = runlog_payload(self.runlog)
            output[UNSUPPORTED_KEY] = dict(self.unsupported())
            if self.collector.stopped_at is not None:
                output[STOPPED_KEY] = self.collector.stopped_at.as_dict()
            return (yield)
        result = yield
        self.finish(session)
        return result

    def finish(self, session: pytest.Session) -> None:
        """The controller's (or a serial run's) end: totals, the exit status, the files."""
        self.collector.add_runlog(self.runlog)
        self.verdict_exit(session)
        directory = self.settings.report_dir
        if directory is None or not self.collector.tests:
            return  # switched off, or no conformance test in this run
        c = self.collector
        report = build_report(
            self.settings,
            c.results(),
            target=self.target,
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
            cost_usd=c.cost_usd,
            drift=c.drift,
            unsupported={**c.unsupported, **self.unsupported()},
            answers_from_target=c.answers_from_target,
            answers_from_cassettes=c.answers_from_cassettes,
            stopped_at=c.stopped_at,
        )
        from conformance.report.render import write_report

        try:
            self.written = write_report(report, self.config.invocation_params.dir / directory)
        except OSError as exc:
            self.error = f"could not write the report to {directory}: {exc}"

    def verdict_exit(self, session: pytest.Session) -> None:
        """What the tests' outcomes alone do not say: an error root cause fails the run, and so
        does a run whose every conformance test was skipped while families were required."""
        if session.exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            return
        tests = self.collector.tests.values()
        if self.collector.failing_root_causes:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif (
            self.settings.require
            and tests
            and all(t.verdict in (None, Verdict.SKIPPED, Verdict.NOT_SUPPORTED) for t in tests)
        ):
            self.all_skipped = True
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    all_skipped = False

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        results = self.collector.results()
        causes = root_causes(results)
        if causes:
            terminalreporter.section("anthropic root causes: fix these first")
            for cause in causes:
                terminalreporter.write_line(
                    describe_root_cause(cause),
                    red=cause.severity == "error",
                    yellow=cause.severity == "warning",
                )
        flaky = [t for t in results if t.flaky]
        if flaky:  # passed, but only after retries: said, never hidden
            terminalreporter.section("anthropic flaky: passed after retries")
            for t in flaky:
                terminalreporter.write_line(t.nodeid, yellow=True)
                for line in t.retried:
                    terminalreporter.write_line(f"  {line}")
        retried = [t for t in results if t.retried]
        if retried:
            calls = sum(len(t.retried) for t in retried)
            terminalreporter.write_line(
                f"anthropic-conformance: {calls} call(s) needed retries, in {len(retried)} "
                f"test(s) ({len(flaky)} passed only after them, listed above)",
                yellow=True,
            )
        if self.all_skipped:
            terminalreporter.write_line(
                "anthropic-conformance: every conformance test was skipped although families "
                f"are required (--anthropic-require={','.join(sorted(self.settings.require))}): "
                "nothing was tested, so the run fails",
                red=True,
            )
        c = self.collector
        if c.answers_from_cassettes:
            terminalreporter.write_line(
                f"anthropic-conformance: {c.answers_from_target} answer(s) from the target, "
                f"{c.answers_from_cassettes} replayed from cassettes"
                + (
                    ""
                    if c.answers_from_target or self.target.offline
                    else f": {self.target.describe()} was not tested"
                )
            )
        if self.error:
            terminalreporter.write_line(f"anthropic-conformance: {self.error}", red=True)
        elif self.written:
            where = self.written[0].parent
            terminalreporter.write_line(
                f"anthropic-conformance: report written to {where}/ "
                f"({', '.join(p.name for p in self.written)})"
            )


def describe_root_cause(cause: RootCause) -> str:
    """One line (or two) for a root cause: check, reach, example value and request-id, fix."""
    ex = cause.example
    where = "run-level, " if cause.scope == "run" else ""
    families = ", ".join(cause.families) or "no family"
    value = f"; value {ex.value}" if ex.value else ""
    rid = f"; request-id {ex.request_id}" if ex.request_id else ""
    fix = f"\n    fix: {cause.fix}" if cause.fix else ""
    return (
        f"[{cause.check}] {cause.severity}, {where}{cause.tests} test(s) in "
        f"{families}: {cause.message}{value}{rid} (e.g. {cause.example_test}){fix}"
    )
