"""The HTML report in a real browser: Debian's headless Chromium loads it, shows the matrix, and
logs nothing to the console (the page's Content-Security-Policy turns any script or external
asset into a console message, so "no console line" also proves the page is self-contained).

When Chromium is missing the tests skip with the command that installs it (``.ci/run`` runs that
command for CI); they never install anything themselves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.report import collect, render
from conformance.report.model import FindingRecord, Report, TestResult, Verdict
from conformance.settings import Settings

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
RID = "req_011CHTMLfailing000000000"
INSTALL_HINT = "install Debian's chromium package (.ci/run does that for CI)"


def _find_chromium() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary; skip, with the command that installs it, when it is missing.

    Tests never install system packages: ``.ci/run`` installs Chromium for CI, visibly.
    """
    binary = _find_chromium()
    if binary is None:
        pytest.skip(f"headless Chromium is not installed: {INSTALL_HINT}")
    try:
        subprocess.run([binary, "--version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"headless Chromium cannot start: {exc}")
    return binary


def run_chromium(binary: str, profile: Path, page: Path, *extra: str) -> tuple[str, str]:
    """(stdout, stderr) of one headless Chromium run on ``page``."""
    done = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
    )
    if done.returncode != 0:
        pytest.fail(f"chromium exited {done.returncode}: {done.stderr[-800:]}")
    return done.stdout, done.stderr


def console_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln]


class Cells(HTMLParser):
    """Collects, per table id, the rows' (header, verdict-cell text) pairs from a DOM dump."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Sequence[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._table is not None and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def four_verdicts() -> Report:
    tests = [
        TestResult(
            "test_messages.py::test_basic_message",
            Verdict.FAIL,
            ("messages",),
            "ConformanceError: 1 contract violation(s)",
            (
                FindingRecord(
                    "final-usage", "the message has no usage object", "/usage", request_id=RID
                ),
            ),
            (RID,),
        ),
        TestResult("test_models.py::test_models_list", Verdict.PASS, ("models",)),
        TestResult(
            "test_vision.py::test_png",
            Verdict.SKIPPED,
            ("vision",),
            "feature vision is switched off",
        ),
    ]
    return collect.build_report(
        Settings(base_url="http://127.0.0.1:9/anthropic", api_key="k"),
        tests,
        unsupported={"files": "GET /v1/files -> 404: the route is not served"},
    )


def test_html_report_loads_shows_the_matrix_without_console_errors(
    chromium: str, tmp_path: Path
) -> None:
    page = render.write_report(four_verdicts(), tmp_path / "out", ["html"])[0]
    dom, stderr = run_chromium(chromium, tmp_path / "profile", page, "--dump-dom")
    assert console_lines(stderr) == [], console_lines(stderr)
    cells = Cells()
    cells.feed(dom)
    families = {row[0]: row[1] for row in cells.tables["families"][1:]}
    assert families["messages"] == "✗ fail"
    assert families["models"] == "✓ pass"
    assert families["files"] == "⊘ not supported"
    features = {row[0]: row for row in cells.tables["features"][1:]}
    assert features["vision"][2] == "\u2013 skipped"
    assert RID in features["messages"][-1]
    assert "test_messages.py::test_basic_message" in dom and "/usage" in dom
    assert "<svg" in dom and "1/2 passing" in dom  # the inline badge


def test_console_check_catches_a_broken_page(chromium: str, tmp_path: Path) -> None:
    """The control: a page that logs and loads an external asset is caught by the same check."""
    page = tmp_path / "broken.html"
    html = render.html(four_verdicts()).replace(
        "</main>", '<img src="https://example.invalid/x.png"></main>'
    )
    page.write_text(html)
    _, stderr = run_chromium(chromium, tmp_path / "profile", page, "--dump-dom")
    assert any("Content Security Policy" in ln for ln in console_lines(stderr))


def test_html_report_screenshot(chromium: str, tmp_path: Path) -> None:
    """A screenshot, kept for a human to look at (ANTHROPIC_CONFORMANCE_SCREENSHOT=path.png)."""
    page = render.write_report(four_verdicts(), tmp_path, ["html"])[0]
    shot = Path(os.environ.get("ANTHROPIC_CONFORMANCE_SCREENSHOT") or tmp_path / "report.png")
    run_chromium(
        chromium, tmp_path / "profile", page, "--window-size=1100,1300", f"--screenshot={shot}"
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


# The page reports, into its own DOM, how wide it is and which elements stick out of the viewport.
_MEASURE = """<script>
addEventListener("load", () => {
  const w = document.documentElement.clientWidth, out = [];
  for (const el of document.querySelectorAll("main *")) {
    const r = el.getBoundingClientRect();
    if (r.right > w + 1) out.push(el.tagName + ":" + (el.textContent || "").slice(0, 40));
  }
  const p = document.createElement("pre");
  p.id = "measure";
  p.textContent = JSON.stringify({width: w, scroll: document.documentElement.scrollWidth,
                                  overflowing: out.slice(0, 5)});
  document.body.appendChild(p);
});
</script>"""


def long_reasons() -> Report:
    """A report whose skip reasons carry the real gating text: long comma lists with no space."""
    from conformance import gating, target

    settings = Settings()  # every default toggle on: the "currently ..." list is at its longest
    reason = gating.skip_reason(settings, target.resolve(settings), ["admin_write"], None) or ""
    assert "currently" in reason  # the unbreakable list the page must wrap
    tests = [
        TestResult(f"test_x.py::test_{i}", Verdict.SKIPPED, (f,), reason)
        for i, f in enumerate(["admin_write", "batches_slow", "files_large"])
    ]
    return collect.build_report(settings, tests, unsupported={})


@pytest.mark.parametrize("width", [375, 1000, 1400])
def test_html_report_fits_phone_and_desktop_widths(
    chromium: str, tmp_path: Path, width: int
) -> None:
    """No element of the page is wider than the window (no sideways scrolling), phone to desktop.

    The CSP of the shipped page forbids scripts; the measuring copy swaps it for one that allows
    the single inline script above, and is otherwise the page as written.
    """
    html = render.html(long_reasons())
    html, n = re.subn(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", html)
    assert n == 1
    page = tmp_path / "measure.html"
    page.write_text(html.replace("</body>", _MEASURE + "</body>"))
    dom, _ = run_chromium(
        chromium,
        tmp_path / "profile",
        page,
        f"--window-size={width},900",
        "--virtual-time-budget=3000",
        "--dump-dom",
    )
    found = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert found, dom[-500:]
    measured = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert measured["scroll"] <= measured["width"], measured
    assert measured["overflowing"] == [], measured
