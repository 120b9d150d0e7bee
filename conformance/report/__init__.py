"""The compatibility report: verdict model, collection from pytest, JSON/Markdown/HTML, badge.

``model`` holds the plain values, ``collect`` builds them from a run, ``render`` writes and reads
the files, ``badge`` draws the shields-style SVG.
"""

from conformance.report.model import Report, ReportTarget, Row, TestResult, Verdict
from conformance.report.render import ReportFileError, load_report, write_report

__all__ = [
    "Report",
    "ReportFileError",
    "ReportTarget",
    "Row",
    "TestResult",
    "Verdict",
    "load_report",
    "write_report",
]
