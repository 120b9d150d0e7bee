"""The verdict model of a compatibility report, as plain dataclasses with a stable JSON form.

A ``Report`` is what a run concluded: per test, per feature and per endpoint family, one of four
verdicts, with the evidence a reader needs to act (failing test ids, the first findings, the
request-id of the failing call). It is built by ``collect``, written as ``report.json`` and
rendered by ``render``; re-rendering a saved file goes through ``Report.from_dict``, so the JSON
form (``schemas/report.json``) is the contract between a run and every later reader.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from conformance.cost import StoppedAt
from conformance.exchange import Finding
from conformance.target import TargetKind

#: Bump when a field changes meaning or disappears; adding an optional field keeps the number.
REPORT_VERSION = 1
#: How many findings a feature or family verdict keeps (the test log has all of them).
MAX_FINDINGS = 5


class Verdict(StrEnum):
    """What a run concluded about one feature, family or test."""

    PASS = "pass"
    FAIL = "fail"
    NOT_SUPPORTED = "not supported"  # the target does not serve it (capability detection)
    SKIPPED = "skipped"  # not run: switched off, no key, other API version, ...


#: Worst first: a row's verdict is the worst of its parts, except that "skipped" only wins alone.
SEVERITY: dict[Verdict, int] = {
    Verdict.FAIL: 0,
    Verdict.PASS: 1,
    Verdict.NOT_SUPPORTED: 2,
    Verdict.SKIPPED: 3,
}


#: One contract violation as the report keeps it: the very ``Finding`` the checks produce.
FindingRecord = Finding


@dataclass(frozen=True)
class TestResult:
    """One suite test's outcome, merged over its setup, call and teardown phases."""

    __test__ = False  # not a pytest test class, whatever its name

    nodeid: str
    verdict: Verdict
    features: tuple[str, ...] = ()
    reason: str = ""  # why it was skipped, or the first line of its failure
    findings: tuple[FindingRecord, ...] = ()
    request_ids: tuple[str, ...] = ()
    duration: float = 0.0
    #: Run-scope findings (``checks.Scope``) its answers showed: counted as root causes, not
    #: as this test's own failure.
    root_causes: tuple[FindingRecord, ...] = ()
    #: What its answers billed (their ``usage``) at list price: 0 when none reported usage.
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    #: Its calls that needed retries, each with the faults its failed tries met: a passing
    #: test with any is flaky (it passed only after retries).
    retried: tuple[str, ...] = ()

    @property
    def flaky(self) -> bool:
        """Passed, but only after retries."""
        return self.verdict is Verdict.PASS and bool(self.retried)

    @property
    def failing_request_id(self) -> str | None:
        """The request-id of the call that failed: a finding's, else the last call's."""
        for f in self.findings:
            if f.request_id:
                return f.request_id
        return self.request_ids[-1] if self.request_ids else None


@dataclass(frozen=True)
class Row:
    """The verdict for one feature or one endpoint family, with what supports it."""

    name: str
    verdict: Verdict
    reason: str = ""
    family: str = ""  # for features: the family they belong to
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failing_tests: tuple[str, ...] = ()
    findings: tuple[FindingRecord, ...] = ()
    request_id: str | None = None  # of the first failing call

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped


@dataclass(frozen=True)
class RootCause:
    """One distinct violated check of the run (check + rule), with how far it reaches.

    Run-scope checks (a header every answer lacks) are reported this way only; answer-scope
    ones too, when they fail more than one test, so a reader fixes causes, not symptoms.
    """

    check: str
    severity: str
    rule: str
    message: str
    tests: int
    families: tuple[str, ...]
    example: FindingRecord
    fix: str = ""
    #: "run": judged once per run (the tests pass or fail on their own findings); "answer":
    #: a finding that failed these tests.
    scope: str = "answer"
    example_test: str = ""


@dataclass(frozen=True)
class ReportTarget:
    """Where the run pointed, with no secret in it: its kind (``conformance.target``), a URL
    without credentials or query, and where its answers came from."""

    kind: TargetKind
    url: str | None = None
    #: Answers the target itself gave, and answers cassettes played back instead.
    answers_from_target: int = 0
    answers_from_cassettes: int = 0

    @property
    def tested(self) -> bool:
        """False for a live target or proxy none of whose answers came from it (cassettes
        answered them all): then it was not tested, whatever the settings pointed at."""
        if self.kind not in (TargetKind.LIVE, TargetKind.PROXY):
            return True
        return self.answers_from_target > 0 or not self.answers_from_cassettes

    def sources(self) -> str:
        """ "12 answers from the target, 73 from cassettes" (empty when nothing was counted)."""
        if not (self.answers_from_target or self.answers_from_cassettes):
            return ""
        return (
            f"{self.answers_from_target} answer(s) from the target, "
            f"{self.answers_from_cassettes} from cassettes"
        )

    def describe(self) -> str:
        if not self.tested and self.kind in (TargetKind.LIVE, TargetKind.PROXY):
            return (
                f"cassette replay: every answer came from cassettes, {self.url} was not contacted"
            )
        where = {
            TargetKind.REFERENCE: "embedded reference server",
            TargetKind.REPLAY: "cassette replay",
        }.get(self.kind)
        if where and not self.url:
            return where
        return f"{self.kind.value} {self.url}" if self.url else self.kind.value

    def billing(self, cost_usd: float) -> str:
        """What the tokens spent there cost: nothing off the real API, a guess at a proxy."""
        if self.kind in (TargetKind.REFERENCE, TargetKind.REPLAY):
            return "not billed: not the real API"
        if not self.tested:
            return "not billed: every answer was replayed from cassettes"
        cost = f"about ${cost_usd:.4f} at list price"
        return cost + (", if the proxy bills like the API" if self.kind is TargetKind.PROXY else "")


@dataclass(frozen=True)
class Drift:
    """A field the schemas do not know, where it was seen and how often."""

    where: str
    pointer: str
    count: int = 1


@dataclass(frozen=True)
class Report:
    """Everything a compatibility report says; ``to_dict`` is the stable ``report.json`` form."""

    target: ReportTarget
    date: str  # ISO 8601, UTC
    suite_version: str
    api_version: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    families: tuple[Row, ...] = ()
    features: tuple[Row, ...] = ()
    tests: tuple[TestResult, ...] = ()
    drift: tuple[Drift, ...] = ()
    report_version: int = REPORT_VERSION
    root_causes: tuple[RootCause, ...] = ()
    #: Where ``--anthropic-max-cost`` stopped the run (None: it ran to its end).
    stopped_at: StoppedAt | None = None

    @property
    def verdict(self) -> Verdict:
        """The run as a whole: fail if anything failed (an error root cause included), pass if
        something passed."""
        verdicts = {r.verdict for r in self.features} | {r.verdict for r in self.families}
        if Verdict.FAIL in verdicts or any(c.severity == "error" for c in self.root_causes):
            return Verdict.FAIL
        if Verdict.PASS in verdicts:
            return Verdict.PASS
        return Verdict.NOT_SUPPORTED if Verdict.NOT_SUPPORTED in verdicts else Verdict.SKIPPED

    @property
    def score(self) -> tuple[int, int]:
        """(features passing, features tested): what the badge shows."""
        tested = [r for r in self.features if r.verdict in (Verdict.PASS, Verdict.FAIL)]
        return sum(r.verdict is Verdict.PASS for r in tested), len(tested)

    @property
    def served(self) -> tuple[list[str], int]:
        """(the families the target serves, how many families the report has): a family is
        not served when capability detection said so."""
        names = [r.name for r in self.families if r.verdict is not Verdict.NOT_SUPPORTED]
        return names, len(self.families)

    def headline(self) -> str:
        """ "6/6 tested features passing", or, for a target that serves only part of the API,
        "messages only: 1/7 families served, 6/6 features of it passing"."""
        passed, tested = self.score
        names, total = self.served
        if len(names) >= total:
            return f"{passed}/{tested} tested features passing"
        only = f"{', '.join(names)} only: " if names else "no family served: "
        them = "it" if len(names) == 1 else "them"
        return (
            f"{only}{len(names)}/{total} families served, {passed}/{tested} features of "
            f"{them} passing"
        )

    @property
    def failures(self) -> list[TestResult]:
        return [t for t in self.tests if t.verdict is Verdict.FAIL]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: enums as their words, tuples as lists, key order stable."""
        passed, tested = self.score
        data = asdict(self)
        served, total = self.served
        data["verdict"] = self.verdict.value
        data["score"] = {
            "passed": passed,
            "tested": tested,
            "families_served": len(served),
            "families": total,
        }
        data["headline"] = self.headline()
        # root causes open the report: what to fix first
        first = {k: data.pop(k) for k in ("report_version", "verdict", "headline", "root_causes")}
        return _plain({**first, **data})  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The inverse of ``to_dict``; validate against ``schemas/report.json`` first."""
        return cls(
            target=ReportTarget(
                TargetKind(data["target"]["kind"]),
                data["target"].get("url"),
                int(data["target"].get("answers_from_target", 0)),
                int(data["target"].get("answers_from_cassettes", 0)),
            ),
            date=data["date"],
            suite_version=data["suite_version"],
            api_version=data["api_version"],
            model=data["model"],
            input_tokens=int(data.get("input_tokens", 0)),
            output_tokens=int(data.get("output_tokens", 0)),
            cost_usd=float(data.get("cost_usd", 0.0)),
            families=tuple(_row(r) for r in data.get("families", ())),
            features=tuple(_row(r) for r in data.get("features", ())),
            tests=tuple(_test(t) for t in data.get("tests", ())),
            drift=tuple(
                Drift(d["where"], d["pointer"], int(d.get("count", 1)))
                for d in data.get("drift", ())
            ),
            report_version=int(data.get("report_version", REPORT_VERSION)),
            root_causes=tuple(_root_cause(c) for c in data.get("root_causes", ())),
            stopped_at=StoppedAt.from_dict(data["stopped_at"]) if data.get("stopped_at") else None,
        )


def _plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _findings(items: Any) -> tuple[FindingRecord, ...]:
    return tuple(FindingRecord(**f) for f in items or ())


def _row(data: dict[str, Any]) -> Row:
    return Row(
        name=data["name"],
        verdict=Verdict(data["verdict"]),
        reason=data.get("reason", ""),
        family=data.get("family", ""),
        passed=data.get("passed", 0),
        failed=data.get("failed", 0),
        skipped=data.get("skipped", 0),
        failing_tests=tuple(data.get("failing_tests", ())),
        findings=_findings(data.get("findings")),
        request_id=data.get("request_id"),
    )


def _test(data: dict[str, Any]) -> TestResult:
    return TestResult(
        nodeid=data["nodeid"],
        verdict=Verdict(data["verdict"]),
        features=tuple(data.get("features", ())),
        reason=data.get("reason", ""),
        findings=_findings(data.get("findings")),
        request_ids=tuple(data.get("request_ids", ())),
        duration=float(data.get("duration", 0.0)),
        root_causes=_findings(data.get("root_causes")),
        input_tokens=int(data.get("input_tokens", 0)),
        output_tokens=int(data.get("output_tokens", 0)),
        cost_usd=float(data.get("cost_usd", 0.0)),
        retried=tuple(data.get("retried", ())),
    )


def _root_cause(data: dict[str, Any]) -> RootCause:
    return RootCause(
        check=data["check"],
        severity=data["severity"],
        rule=data.get("rule", ""),
        message=data.get("message", ""),
        tests=int(data.get("tests", 0)),
        families=tuple(data.get("families", ())),
        example=FindingRecord(**data["example"]),
        fix=data.get("fix", ""),
        scope=data.get("scope", "answer"),
        example_test=data.get("example_test", ""),
    )
