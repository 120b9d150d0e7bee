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
    Verdict.FAIL: 0, Verdict.PASS: 1, Verdict.NOT_SUPPORTED: 2, Verdict.SKIPPED: 3,
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
class ReportTarget:
    """Where the run pointed, with no secret in it: its kind (``conformance.target``) and a URL
    without credentials or query."""

    kind: TargetKind
    url: str | None = None

    def describe(self) -> str:
        where = {TargetKind.REFERENCE: "embedded reference server",
                 TargetKind.REPLAY: "cassette replay"}.get(self.kind)
        if where and not self.url:
            return where
        return f"{self.kind.value} {self.url}" if self.url else self.kind.value

    def billing(self, cost_usd: float) -> str:
        """What the tokens spent there cost: nothing off the real API, a guess at a proxy."""
        if self.kind in (TargetKind.REFERENCE, TargetKind.REPLAY):
            return "not billed: not the real API"
        cost = f"about ${cost_usd:.4f} at list price"
        return cost + (", if the proxy bills like the API" if self.kind is TargetKind.PROXY
                       else "")


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

    @property
    def verdict(self) -> Verdict:
        """The run as a whole: fail if anything failed, pass if something passed."""
        verdicts = {r.verdict for r in self.features} | {r.verdict for r in self.families}
        if Verdict.FAIL in verdicts:
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
    def failures(self) -> list[TestResult]:
        return [t for t in self.tests if t.verdict is Verdict.FAIL]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: enums as their words, tuples as lists, key order stable."""
        passed, tested = self.score
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["score"] = {"passed": passed, "tested": tested}
        return _plain(data)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The inverse of ``to_dict``; validate against ``schemas/report.json`` first."""
        return cls(
            target=ReportTarget(TargetKind(data["target"]["kind"]), data["target"].get("url")),
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
            drift=tuple(Drift(d["where"], d["pointer"], int(d.get("count", 1)))
                        for d in data.get("drift", ())),
            report_version=int(data.get("report_version", REPORT_VERSION)),
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
        name=data["name"], verdict=Verdict(data["verdict"]), reason=data.get("reason", ""),
        family=data.get("family", ""), passed=data.get("passed", 0),
        failed=data.get("failed", 0), skipped=data.get("skipped", 0),
        failing_tests=tuple(data.get("failing_tests", ())),
        findings=_findings(data.get("findings")), request_id=data.get("request_id"),
    )


def _test(data: dict[str, Any]) -> TestResult:
    return TestResult(
        nodeid=data["nodeid"], verdict=Verdict(data["verdict"]),
        features=tuple(data.get("features", ())), reason=data.get("reason", ""),
        findings=_findings(data.get("findings")),
        request_ids=tuple(data.get("request_ids", ())),
        duration=float(data.get("duration", 0.0)),
    )

