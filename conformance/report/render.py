"""Rendering a ``Report``: report.json, Markdown for a PR comment, a self-contained HTML page.

The HTML page has inline CSS and an inline SVG badge and no script or external asset, so it can
be attached to a CI run, mailed, or opened from disk anywhere. ``load_report`` is the one way
back from JSON: it validates against ``schemas/report.json`` and names the file on any problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from pathlib import Path

from conformance import schemas
from conformance.cost import MOST_EXPENSIVE
from conformance.exceptions import ConformanceToolError
from conformance.report import badge
from conformance.report.model import FindingRecord, Report, RootCause, Row, TestResult, Verdict

SCHEMA = "report.json"
#: A PR comment stays short: the first failures and findings; the JSON and HTML have them all.
MD_MAX_FAILURES = 20
MD_MAX_FINDINGS = 3
FORMATS = ("json", "md", "html", "svg")
FILE_NAMES = {"json": "report.json", "md": "report.md", "html": "report.html", "svg": "badge.svg"}

EMOJI = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.NOT_SUPPORTED: "⛔", Verdict.SKIPPED: "⏭️"}
#: The HTML page uses plain symbols, not emoji: they render with any font (CI boxes have no
#: emoji font), and the cell colour carries the meaning anyway.
SYMBOL = {
    Verdict.PASS: "✓",
    Verdict.FAIL: "✗",
    Verdict.NOT_SUPPORTED: "⊘",
    Verdict.SKIPPED: "\u2013",
}


class ReportFileError(ConformanceToolError, ValueError):
    """A report file cannot be read: the message names the file and what is wrong."""


# --- JSON -----------------------------------------------------------------------------------------


def validate(data: object) -> list[str]:
    """Every way ``data`` breaks ``schemas/report.json``, as "pointer: message" lines."""
    return [f"{f.pointer or '/'}: {f.message}" for f in schemas.validate(data, SCHEMA)]


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def load_report(path: Path) -> Report:
    """Read and validate a saved report.json; ``ReportFileError`` names the file on failure."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportFileError(f"{path}: not valid JSON ({exc})") from None
    problems = validate(data)
    if problems:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise ReportFileError(f"{path}: not an anthropic-conformance report ({shown})")
    assert isinstance(data, dict)  # the schema says so
    return Report.from_dict(data)


def write_report(report: Report, directory: Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write the chosen files (default: all four) into ``directory``; return their paths."""
    renderers = {"json": to_json, "md": markdown, "html": html, "svg": badge.report_svg}
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = directory / FILE_NAMES[fmt]
        path.write_text(renderers[fmt](report), encoding="utf-8")
        written.append(path)
    return written


# --- Markdown -------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: no pipes, no newlines."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _code(text: str) -> str:
    return f"`{text.replace('`', chr(39))}`" if text else ""


def _verdict_md(verdict: Verdict) -> str:
    return f"{EMOJI[verdict]} {verdict.value}"


def _tokens(report: Report) -> str:
    spent = f"{report.input_tokens} input + {report.output_tokens} output tokens"
    return f"{spent} ({report.target.billing(report.cost_usd)})"


def _stopped(report: Report) -> str:
    """Where the cost cap stopped the run, or "" (it ran to its end)."""
    s = report.stopped_at
    if s is None:
        return ""
    return (
        f"by --anthropic-max-cost ${s.cap_usd:.6f}".rstrip("0")
        + f" before {s.test}, ${s.spent_usd:.6f} spent: the tests from it on did not run"
    )


def _expensive(report: Report) -> list[TestResult]:
    """The most expensive tests, dearest first (only those whose answers reported usage)."""
    costly = sorted((t for t in report.tests if t.cost_usd > 0), key=lambda t: -t.cost_usd)
    return costly[:MOST_EXPENSIVE]


def _retried(report: Report) -> list[TestResult]:
    """The tests any of whose calls needed retries (flaky ones first), never hidden."""
    return sorted((t for t in report.tests if t.retried), key=lambda t: (not t.flaky, t.nodeid))


def _target(report: Report) -> str:
    """Where the run pointed, and where its answers came from: a run answered by cassettes
    alone never names the live target as tested."""
    t = report.target
    sources = f"; {t.sources()}" if t.sources() else ""
    if not t.tested:
        return t.describe() + sources
    return f"{t.url or t.describe()} ({t.kind.value}){sources}"


def _cause_parts(c: RootCause) -> tuple[str, str, str]:
    """(what, reach, example) of a root cause, as plain text."""
    ex = c.example
    scope = "run-level, " if c.scope == "run" else ""
    what = f"[{c.check}] {c.message}"
    reach = (
        f"{c.severity}, {scope}{c.tests} test(s), famil"
        f"{'y' if len(c.families) == 1 else 'ies'} {', '.join(c.families) or '-'}"
    )
    example = " ".join(
        x
        for x in (
            f"at {ex.pointer}" if ex.pointer else "",
            f"value {ex.value}" if ex.value else "",
            f"request-id {ex.request_id}" if ex.request_id else "",
            f"in {c.example_test}" if c.example_test else "",
        )
        if x
    )
    return what, reach, example


def _root_causes_md(report: Report) -> list[str]:
    if not report.root_causes:
        return []
    out = [
        "### Root causes: fix these first",
        "",
        "| check | severity and reach | example | fix |",
        "|---|---|---|---|",
    ]
    for c in report.root_causes:
        what, reach, example = _cause_parts(c)
        out.append(
            f"| {_cell(what)} | {_cell(reach)} | {_cell(example)} | {_cell(c.fix or c.rule)} |"
        )
    return [*out, ""]


def _matrix_md(title: str, rows: Iterable[Row], with_family: bool) -> list[str]:
    head = (
        f"| {title} |"
        + (" family |" if with_family else "")
        + " verdict | passed | failed | skipped | reason / evidence |"
    )
    lines = [head, "|---|" + ("---|" if with_family else "") + "---|--:|--:|--:|---|"]
    for r in rows:
        reason = r.reason
        if r.request_id:
            reason = f"{reason} (request-id {r.request_id})".strip()
        fam = f" {r.family} |" if with_family else ""
        lines.append(
            f"| **{_cell(r.name)}** |{fam} {_verdict_md(r.verdict)} | {r.passed} | "
            f"{r.failed} | {r.skipped} | {_cell(reason)} |"
        )
    return lines


def _finding_md(f: FindingRecord, shown_rid: str | None) -> str:
    rid = f" — request-id {_code(f.request_id)}" if f.request_id not in (None, shown_rid) else ""
    label = f.check if f.severity == "error" else f"{f.check}, {f.severity}"
    value = f" — value {_code(f.value)}" if f.value else ""
    return f"  - {_code(f.pointer or '/')} [{_cell(label)}] {_cell(f.message)}{value}{rid}"


def markdown(report: Report) -> str:
    """The report as GitHub-flavoured Markdown, readable as a PR comment."""
    label, message, _ = badge.badge_parts(report)
    out = [
        "## Anthropic API conformance report",
        "",
        f"![{label}: {message}]({badge.shields_url(report)})",
        "",
        f"**{_verdict_md(report.verdict)}** — {report.headline()}, "
        f"{len(report.failures)} failing test(s)"
        + (f", {len(report.root_causes)} root cause(s)" if report.root_causes else "")
        + ".",
        "",
        *_root_causes_md(report),
        f"- **Target:** {_target(report)}",
        f"- **Date:** {report.date}",
        f"- **Suite:** anthropic-conformance {report.suite_version}, "
        f"anthropic-version {report.api_version}, model {_code(report.model)}",
        f"- **Spent:** {_tokens(report)}",
        *([f"- **Stopped:** {_stopped(report)}"] if report.stopped_at else []),
        *(
            [
                "- **Most expensive:** "
                + ", ".join(f"{_code(t.nodeid)} ${t.cost_usd:.4f}" for t in _expensive(report))
            ]
            if _expensive(report)
            else []
        ),
        "",
        "### Endpoint families",
        "",
        *_matrix_md("family", report.families, with_family=False),
        "",
        "### Features",
        "",
        *_matrix_md("feature", report.features, with_family=True),
        "",
    ]
    if report.failures:
        out += ["### Failures", ""]
        for t in report.failures[:MD_MAX_FAILURES]:
            rid = t.failing_request_id
            out.append(
                f"- {_code(t.nodeid)} ({', '.join(t.features)})"
                + (f" — request-id {_code(rid)}" if rid else "")
            )
            if t.findings:
                out += [_finding_md(f, rid) for f in t.findings[:MD_MAX_FINDINGS]]
                if len(t.findings) > MD_MAX_FINDINGS:
                    out.append(f"  - … {len(t.findings) - MD_MAX_FINDINGS} more finding(s)")
            elif t.reason:
                out.append(f"  - {_cell(t.reason)}")
        hidden = len(report.failures) - MD_MAX_FAILURES
        if hidden > 0:
            out.append(f"- … and {hidden} more failing test(s): see report.json or report.html")
        out.append("")
    retried = _retried(report)
    if retried:
        out += [
            "### Retried: calls that met transient faults",
            "",
            f"{sum(t.flaky for t in retried)} test(s) passed only after retries (flaky); each "
            "call is listed with the faults its failed tries met.",
            "",
        ]
        for t in retried[:MD_MAX_FAILURES]:
            out.append(f"- {_code(t.nodeid)} ({'flaky' if t.flaky else t.verdict.value})")
            out += [f"  - {_cell(line)}" for line in t.retried]
        hidden = len(retried) - MD_MAX_FAILURES
        if hidden > 0:
            out.append(f"- … and {hidden} more retried test(s): see report.json or report.html")
        out.append("")
    if report.drift:
        out += ["### Drift: fields the schemas do not know", ""]
        out += [f"- {_code(d.where)} {_code(d.pointer)} (seen {d.count}x)" for d in report.drift]
        out.append("")
    out.append(
        "<sub>Generated by anthropic-conformance; re-render with "
        "`anthropic-conformance report report.json`.</sub>"
    )
    return "\n".join(out) + "\n"


# --- HTML -----------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;
margin:0;background:#f9fafb}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:12px 0}
.meta dt{color:#6b7280}.meta dd{margin:0}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0001}
th,td{border:1px solid #e5e7eb;padding:6px 10px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{background:#f3f4f6;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.v{font-weight:600;white-space:nowrap}
.v-pass{background:#dcfce7;color:#166534}.v-fail{background:#fee2e2;color:#991b1b}
.v-not-supported{background:#e5e7eb;color:#374151}.v-skipped{background:#fef9c3;color:#854d0e}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f4f6;padding:1px 4px;
border-radius:3px}
.failure{background:#fff;border-left:4px solid #e05d44;padding:8px 12px;margin:8px 0}
.failure ul{margin:6px 0 0;padding-left:20px}
.summary{font-size:16px;margin:8px 0}footer{color:#6b7280;font-size:12px;margin-top:32px}
dd,.failure,li{overflow-wrap:anywhere}
@media (max-width:700px){main{padding:12px}th,td{padding:4px 5px}td.v{white-space:normal}}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _verdict_td(v: Verdict) -> str:
    return f'<td class="v v-{v.value.replace(" ", "-")}">{SYMBOL[v]} {_e(v.value)}</td>'


def _matrix_html(title: str, rows: Iterable[Row], with_family: bool, table_id: str) -> str:
    fam_th = "<th>family</th>" if with_family else ""
    body = []
    for r in rows:
        reason = _e(r.reason)
        if r.request_id:
            reason += f" <code>request-id {_e(r.request_id)}</code>"
        fam = f"<td>{_e(r.family)}</td>" if with_family else ""
        body.append(
            f'<tr data-verdict="{_e(r.verdict.value)}"><th scope="row">{_e(r.name)}</th>'
            f"{fam}{_verdict_td(r.verdict)}<td class=n>{r.passed}</td>"
            f"<td class=n>{r.failed}</td><td class=n>{r.skipped}</td>"
            f"<td>{reason}</td></tr>"
        )
    return (
        f'<table id="{table_id}" class="matrix"><thead><tr><th>{_e(title)}</th>{fam_th}'
        "<th>verdict</th><th>passed</th><th>failed</th><th>skipped</th>"
        "<th>reason / evidence</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    )


def _failure_html(t: TestResult) -> str:
    rid = t.failing_request_id
    items = "".join(
        f"<li><code>{_e(f.pointer or '/')}</code> [{_e(f.check)}] {_e(f.message)}"
        + (f" value <code>{_e(f.value)}</code>" if f.value else "")
        + (f" <code>request-id {_e(f.request_id)}</code>" if f.request_id else "")
        + "</li>"
        for f in t.findings[:5]
    )
    return (
        f'<div class="failure"><code>{_e(t.nodeid)}</code> ({_e(", ".join(t.features))})'
        + (f" — request-id <code>{_e(rid)}</code>" if rid else "")
        + f"<div>{_e(t.reason)}</div>"
        + (f"<ul>{items}</ul>" if items else "")
        + "</div>"
    )


def _root_causes_html(report: Report) -> list[str]:
    if not report.root_causes:
        return []
    rows = []
    for c in report.root_causes:
        what, reach, example = _cause_parts(c)
        rows.append(
            f'<tr data-severity="{_e(c.severity)}"><th scope="row">{_e(what)}</th>'
            f"<td>{_e(reach)}</td><td>{_e(example)}</td><td>{_e(c.fix or c.rule)}</td>"
            "</tr>"
        )
    return [
        '<h2 id="root-causes">Root causes: fix these first</h2>',
        '<table id="root-causes-table" class="matrix"><thead><tr><th>check</th>'
        "<th>severity and reach</th><th>example</th><th>fix</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>",
    ]


def html(report: Report) -> str:
    """A self-contained HTML page: inline CSS and SVG, no script, no external asset."""
    meta = [
        ("Target", _target(report)),
        ("Date", report.date),
        ("Suite", f"anthropic-conformance {report.suite_version}"),
        ("API version", report.api_version),
        ("Model", report.model),
        ("Spent", _tokens(report)),
        *([("Stopped", _stopped(report))] if report.stopped_at else []),
        *(
            [
                (
                    "Most expensive",
                    ", ".join(f"{t.nodeid} ${t.cost_usd:.4f}" for t in _expensive(report)),
                )
            ]
            if _expensive(report)
            else []
        ),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No network at all: a page opened from a CI artifact must not fetch anything.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>Anthropic API conformance: {_e(report.verdict.value)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>Anthropic API conformance report</h1>",
        f'<div class="badge">{badge.report_svg(report)}</div>',
        f'<p class="summary"><strong>{SYMBOL[report.verdict]} {_e(report.verdict.value)}</strong>'
        f" — {_e(report.headline())}, {len(report.failures)} failing test(s)"
        + (f", {len(report.root_causes)} root cause(s)" if report.root_causes else "")
        + ".</p>",
        *_root_causes_html(report),
        '<dl class="meta">'
        + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta)
        + "</dl>",
        "<h2>Endpoint families</h2>",
        _matrix_html("family", report.families, False, "families"),
        "<h2>Features</h2>",
        _matrix_html("feature", report.features, True, "features"),
    ]
    if report.failures:
        parts += ['<h2 id="failures">Failures</h2>', *(_failure_html(t) for t in report.failures)]
    retried = _retried(report)
    if retried:
        parts += [
            '<h2 id="retried">Retried: calls that met transient faults</h2>',
            f"<p>{sum(t.flaky for t in retried)} test(s) passed only after retries (flaky).</p>",
            "<ul>",
            *(
                f"<li><code>{_e(t.nodeid)}</code> ({'flaky' if t.flaky else _e(t.verdict.value)})"
                "<ul>" + "".join(f"<li>{_e(line)}</li>" for line in t.retried) + "</ul></li>"
                for t in retried
            ),
            "</ul>",
        ]
    if report.drift:
        parts += [
            "<h2>Drift: fields the schemas do not know</h2><ul>",
            *(
                f"<li><code>{_e(d.where)}</code> <code>{_e(d.pointer)}</code> "
                f"(seen {d.count}x)</li>"
                for d in report.drift
            ),
            "</ul>",
        ]
    parts += [
        "<footer>Generated by anthropic-conformance; re-render with "
        "<code>anthropic-conformance report report.json</code>.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"
