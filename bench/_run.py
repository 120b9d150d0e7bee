"""What every benchmark runs: the shipped suite in a fresh interpreter, quiet, with no pytest
cache and no compatibility report (a benchmark measures the suite, not the files it writes)."""

from __future__ import annotations

import sys

#: ``anthropic-conformance run`` of this interpreter; add target options and pytest flags.
SUITE_RUN = [
    sys.executable,
    "-m",
    "conformance",
    "run",
    "-q",
    "-p",
    "no:cacheprovider",
]
#: ... and without the report.
SUITE = [*SUITE_RUN, "--anthropic-report-dir=none"]
