"""The compatibility report: verdicts, report.json and its schema, Markdown, badge, the hooks
that write it after a run (reference server, a mutant, xdist), and the ``report`` command."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from proxy_app import ProxyConfig, make_proxy
from pydantic import SecretStr
from suite_args import SUITE

from conformance import catalog, cli, reference, schemas
from conformance.reference import EmbeddedServer, ReferenceConfig
from conformance.report import badge, collect, render
from conformance.report.model import FindingRecord, Report, ReportTarget, TestResult, Verdict
from conformance.settings import RecordMode, Settings
from conformance.target import TargetKind, resolve

RID = "req_011CFAILINGcall0000000000"
FILES = ("report.json", "report.md", "report.html", "badge.svg")


def sample_report() -> Report:
    """One row of each verdict: pass, fail (with findings), not supported (probe), skipped."""
    finding = FindingRecord(
        "final-usage",
        "the message has no usage object (got null)",
        "/usage",
        "usage is an object",
        "null",
        RID,
    )
    tests = [
        TestResult(
            "test_messages.py::test_basic_message",
            Verdict.FAIL,
            ("messages",),
            "ConformanceError: POST /v1/messages -> 200: 1 contract violation(s)",
            (finding,),
            (RID,),
            0.1,
        ),
        TestResult("test_messages.py::test_multi_turn", Verdict.PASS, ("messages",)),
        TestResult("test_models.py::test_list_models", Verdict.PASS, ("models",)),
        TestResult(
            "test_vision.py::test_png",
            Verdict.SKIPPED,
            ("vision",),
            "feature vision is switched off: add it to ANTHROPIC_CONFORMANCE_FEATURES",
        ),
    ]
    # Settings refuses credentials in a URL; the report must stay safe even if one slips by.
    settings = Settings.model_construct(
        base_url="https://user:pw@proxy.example:8443/anthropic?key=sk-ant-x",
        api_key=SecretStr("sk-ant-api03-secretsecret"),
    )
    return collect.build_report(
        settings,
        tests,
        input_tokens=120,
        output_tokens=30,
        cost_usd=0.00027,
        drift={("messages.create", "/new_field"): 2},
        unsupported={"batches": "GET /v1/messages/batches -> 404: the route is not served"},
        date="2026-01-02T03:04:05+00:00",
    )


def rows(report: Report, kind: str) -> dict[str, Verdict]:
    return {r.name: r.verdict for r in getattr(report, kind)}


# --- model, verdicts, JSON -----------------------------------------------------------------------


def test_verdicts_per_feature_and_family() -> None:
    report = sample_report()
    features, families = rows(report, "features"), rows(report, "families")
    assert features["messages"] is Verdict.FAIL  # fail beats pass
    assert features["models"] is Verdict.PASS
    assert features["vision"] is Verdict.SKIPPED
    assert features["batches"] is Verdict.NOT_SUPPORTED
    assert families == {
        **families,
        "messages": Verdict.FAIL,
        "models": Verdict.PASS,
        "batches": Verdict.NOT_SUPPORTED,
        "count_tokens": Verdict.SKIPPED,
    }
    failing = next(r for r in report.features if r.name == "messages")
    assert failing.failing_tests == ("test_messages.py::test_basic_message",)
    assert failing.request_id == RID and failing.findings[0].pointer == "/usage"
    assert report.verdict is Verdict.FAIL and report.score == (1, 2)


def test_target_url_carries_no_secret() -> None:
    report = sample_report()
    assert report.target.kind is TargetKind.PROXY
    assert report.target.url == "https://proxy.example:8443/anthropic"
    text = render.to_json(report)
    assert "pw" not in text and "sk-ant" not in text
    assert collect.report_target(resolve(Settings())) == ReportTarget(TargetKind.REFERENCE)
    live = collect.report_target(resolve(Settings(api_key="k")))
    assert live == ReportTarget(TargetKind.LIVE, catalog.REAL_API_URL)
    replay = resolve(Settings(api_key="k", record_mode=RecordMode.NONE))
    assert collect.report_target(replay) == ReportTarget(TargetKind.REPLAY)


def test_json_round_trip_and_schema() -> None:
    report = sample_report()
    data = json.loads(render.to_json(report))
    assert render.validate(data) == []
    assert Report.from_dict(data) == report
    assert data["verdict"] == "fail" and data["score"] == {
        "passed": 1,
        "tested": 2,
        "families_served": 6,
        "families": 7,
    }
    # the report opens with what to fix: the failing check once, with its reach and example
    assert list(data)[:4] == ["report_version", "verdict", "headline", "root_causes"]
    (cause,) = data["root_causes"]
    assert cause["check"] == "final-usage" and cause["tests"] == 1
    assert cause["families"] == ["messages"] and cause["example"]["request_id"] == RID


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("target", "url"), "https://user:pw@proxy.example/", "/target/url"),
        (("features", 0, "verdict"), "meh", "/features/0/verdict"),
        (("report_version",), 99, "/report_version"),
    ],
)
def test_schema_rejects_broken_reports(
    path: tuple[object, ...], value: object, problem: str
) -> None:
    data = sample_report().to_dict()
    node = data
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    assert any(p.startswith(problem) for p in render.validate(data)), render.validate(data)


def test_failing_row_without_failing_tests_is_invalid() -> None:
    data = sample_report().to_dict()
    row = next(r for r in data["features"] if r["verdict"] == "fail")
    row["failing_tests"] = []
    assert render.validate(data)


# --- Markdown and badge --------------------------------------------------------------------------


def test_markdown_is_readable_as_a_pr_comment() -> None:
    md = render.markdown(sample_report())
    lines = md.splitlines()
    assert lines[0] == "## Anthropic API conformance report"
    assert "![anthropic conformance: 6/7 families, 1/2 passing](https://img.shields.io/badge/" in md
    assert "- **Target:** https://proxy.example:8443/anthropic (proxy)" in lines
    assert any("6/7 families served, 1/2 features of them passing" in ln for ln in lines)
    assert lines.index("### Root causes: fix these first") < lines.index("### Endpoint families")
    assert "| family | verdict | passed | failed | skipped | reason / evidence |" in lines
    assert any(ln.startswith("| **messages** | ❌ fail | 1 | 1 | 1 |") for ln in lines)
    assert any(ln.startswith("| **batches** | ⛔ not supported |") and "404" in ln for ln in lines)
    assert any(ln.startswith("| **vision** | messages | ⏭️ skipped |") for ln in lines)
    failure = lines.index(
        f"- `test_messages.py::test_basic_message` (messages) — request-id `{RID}`"
    )
    assert (
        lines[failure + 1] == "  - `/usage` [final-usage] the message has no usage object "
        "(got null) — value `null`"
    )
    assert "- `messages.create` `/new_field` (seen 2x)" in lines
    # every table row has the header's number of cells: no stray pipe broke the table
    for ln in lines:
        if ln.startswith("| **"):
            assert ln.replace("\\|", "").count("|") in (7, 8), ln


def test_markdown_escapes_pipes_in_cells() -> None:
    tests = [
        TestResult("t.py::t", Verdict.FAIL, ("models",), "a | b", (FindingRecord("c", "x | y"),))
    ]
    md = render.markdown(collect.build_report(Settings(), tests))
    row = next(ln for ln in md.splitlines() if ln.startswith("| **models** | models"))
    assert "x \\| y" in row


def test_badge_is_svg_with_the_score() -> None:
    svg = badge.report_svg(sample_report())
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "anthropic conformance" in texts and "6/7 families, 1/2 passing" in texts
    assert badge.COLORS["red"] in svg
    passing = collect.build_report(Settings(), [TestResult("t::a", Verdict.PASS, ("models",))])
    assert badge.badge_parts(passing) == ("anthropic conformance", "1/1 passing", "green")
    assert badge.badge_parts(collect.build_report(Settings(), []))[1] == "nothing tested"


# --- written by the plugin after a run -----------------------------------------------------------


def run_report(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, object]]:
    result = pytester.runpytest(*SUITE, *args)
    directory = pytester.path / "anthropic-conformance-report"
    assert sorted(p.name for p in directory.iterdir()) == sorted(FILES), result.stdout.str()
    data = json.loads((directory / "report.json").read_text())
    assert render.validate(data) == []
    return result, data


def test_reference_run_reports_all_pass(pytester: pytest.Pytester) -> None:
    result, data = run_report(pytester, "-k", "test_models or test_count_tokens")
    result.assert_outcomes(passed=result.parseoutcomes()["passed"])
    assert data["verdict"] == "pass"
    assert data["target"]["kind"] == "reference" and data["target"]["url"] is None
    verdicts = {r["name"]: r["verdict"] for r in data["families"]}  # type: ignore[union-attr]
    assert verdicts["models"] == verdicts["count_tokens"] == "pass"
    assert "fail" not in verdicts.values()
    assert all(t["request_ids"] for t in data["tests"])  # type: ignore[union-attr]
    result.stdout.fnmatch_lines(["*report written to*anthropic-conformance-report*"])


def test_mutant_run_names_the_broken_feature(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedServer(ReferenceConfig(mutants=("usage-missing",))) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", reference.DEFAULT_API_KEY)
        result, data = run_report(pytester, "-k", "test_basic_message or test_models")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert data["verdict"] == "fail"
    assert (data["target"]["kind"], data["target"]["url"]) == ("proxy", server.url)
    assert data["target"]["answers_from_target"] > 0 == data["target"]["answers_from_cassettes"]
    features = {r["name"]: r for r in data["features"]}  # type: ignore[union-attr]
    broken = features["messages"]
    assert broken["verdict"] == "fail"
    assert "conformance/suite/test_messages.py::test_basic_message" in broken["failing_tests"]
    assert broken["request_id"].startswith("req_")
    assert any("usage" in f["pointer"] or "usage" in f["message"] for f in broken["findings"])
    assert features["models"]["verdict"] == "pass"
    md = (pytester.path / "anthropic-conformance-report" / "report.md").read_text()
    assert broken["request_id"] in md and "test_basic_message" in md


def test_narrow_proxy_gets_not_supported_and_no_failure(pytester: pytest.Pytester) -> None:
    """A proxy serving only /v1/messages: the other families are "not supported", with the
    probe's evidence, and nothing fails."""
    with (
        EmbeddedServer() as upstream,
        EmbeddedServer(
            app=make_proxy(ProxyConfig(upstream.url, prefix="/anthropic", only_messages=True))
        ) as proxy,
    ):
        result, data = run_report(
            pytester,
            f"--anthropic-base-url={proxy.url}/anthropic",
            f"--anthropic-api-key={reference.DEFAULT_API_KEY}",
            "-k",
            "test_basic_message or test_models_list or test_count_tokens",
        )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    families = {r["name"]: r for r in data["families"]}  # type: ignore[union-attr]
    assert families["messages"]["verdict"] == "pass"
    for name in ("models", "count_tokens", "batches", "files"):
        assert families[name]["verdict"] == "not supported", families[name]
        assert "404" in families[name]["reason"]
    assert data["verdict"] == "pass" and "fail" not in {r["verdict"] for r in families.values()}
    md = (pytester.path / "anthropic-conformance-report" / "report.md").read_text()
    assert "| **models** | ⛔ not supported |" in md


def test_report_under_xdist_is_written_by_the_controller(pytester: pytest.Pytester) -> None:
    result, data = run_report(pytester, "-n", "1", "-k", "test_models_list")
    assert data["verdict"] == "pass" and data["tests"]
    assert data["input_tokens"] == 0  # models calls spend nothing, yet the totals arrived
    result.stdout.fnmatch_lines(["*report written to*"])


def test_report_dir_none_writes_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_CONFORMANCE_REPORT_DIR", "none")
    pytester.runpytest(*SUITE, "-k", "test_models_list")
    assert not (pytester.path / "anthropic-conformance-report").exists()
    custom = pytester.path / "out"
    pytester.runpytest(*SUITE, "-k", "test_models_list", f"--anthropic-report-dir={custom}")
    assert (custom / "report.json").is_file()


def test_no_conformance_test_no_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    pytester.runpytest("-o", "asyncio_default_fixture_loop_scope=function").assert_outcomes(
        passed=1
    )
    assert not (pytester.path / "anthropic-conformance-report").exists()


# --- the report command --------------------------------------------------------------------------


def test_cli_rerenders_a_saved_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "saved"
    render.write_report(sample_report(), saved, ["json"])
    out = tmp_path / "rendered"
    assert (
        cli.main(["report", str(saved / "report.json"), "--out", str(out), "--format", "md"]) == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]
    assert (out / "report.md").read_text() == render.markdown(sample_report())
    assert cli.main(["report", str(saved / "report.json")]) == 0
    assert sorted(p.name for p in saved.iterdir()) == sorted(FILES)
    assert "report.html" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"report_version": 1, "target": ', "not valid JSON"),
        ('{"hello": "world"}', "not an anthropic-conformance report"),
        (None, "cannot read it"),
    ],
)
def test_cli_bad_file_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "broken.json"
    if content is not None:
        path.write_text(content)
    assert cli.main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "Traceback" not in err


def test_schema_file_is_in_the_registry() -> None:
    assert "report.json" in schemas.schema_names()
