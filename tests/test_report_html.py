"""The HTML report in a real browser: Debian's headless Chromium loads it, shows the matrix, and
logs nothing to the console (the page's Content-Security-Policy turns any script or external
asset into a console message, so "no console line" also proves the page is self-contained).

Chromium is installed with apt-get when missing (as root); the tests skip, with the reason, when
it still cannot start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.report import collect, render
from conformance.report.model import FindingRecord, Report, TestResult, Verdict
from conformance.settings import Settings

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0")
RID = "req_011CHTMLfailing000000000"


def _find_chromium() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def _install_chromium() -> str:
    """apt-get install chromium; returns what went wrong, or "" when it worked."""
    if not shutil.which("apt-get"):
        return "chromium is not installed and there is no apt-get to install it"
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    sudo: list[str] = [] if root else ["sudo", "-n"]  # CI runners: password-less sudo
    if sudo and (not shutil.which("sudo")
                 or subprocess.run([*sudo, "true"], capture_output=True).returncode != 0):
        return "chromium is not installed and apt-get needs root (or password-less sudo)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([*sudo, "apt-get", "update"], [*sudo, "apt-get", "install", "-y", "chromium"]):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(cmd)} failed: {exc}"
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed: {done.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary, installed when missing; skip with the reason if it cannot start."""
    binary = _find_chromium()
    if binary is None:
        problem = _install_chromium()
        binary = _find_chromium()
        if binary is None:
            pytest.skip(f"headless Chromium unavailable: {problem or 'not found after install'}")
    try:
        subprocess.run([binary, "--version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"headless Chromium cannot start: {exc}")
    return binary


def run_chromium(binary: str, profile: Path, page: Path, *extra: str) -> tuple[str, str]:
    """(stdout, stderr) of one headless Chromium run on ``page``."""
    done = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=90)
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
        TestResult("test_messages.py::test_basic_message", Verdict.FAIL, ("messages",),
                   "ConformanceError: 1 contract violation(s)",
                   (FindingRecord("final-usage", "the message has no usage object", "/usage",
                                  request_id=RID),), (RID,)),
        TestResult("test_models.py::test_models_list", Verdict.PASS, ("models",)),
        TestResult("test_vision.py::test_png", Verdict.SKIPPED, ("vision",),
                   "feature vision is switched off"),
    ]
    return collect.build_report(
        Settings(base_url="http://127.0.0.1:9/anthropic", api_key="k"), tests,
        unsupported={"files": "GET /v1/files -> 404: the route is not served"})


def test_html_report_loads_shows_the_matrix_without_console_errors(
        chromium: str, tmp_path: Path) -> None:
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
        "</main>", '<img src="https://example.invalid/x.png"></main>')
    page.write_text(html)
    _, stderr = run_chromium(chromium, tmp_path / "profile", page, "--dump-dom")
    assert any("Content Security Policy" in ln for ln in console_lines(stderr))


def test_html_report_screenshot(chromium: str, tmp_path: Path) -> None:
    """A screenshot, kept for a human to look at (ANTHROPIC_CONFORMANCE_SCREENSHOT=path.png)."""
    page = render.write_report(four_verdicts(), tmp_path, ["html"])[0]
    shot = Path(os.environ.get("ANTHROPIC_CONFORMANCE_SCREENSHOT") or tmp_path / "report.png")
    run_chromium(chromium, tmp_path / "profile", page, "--window-size=1100,1300",
                 f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
