"""What every benchmark runs: the shipped suite in a fresh interpreter, quiet, with no pytest
cache and no compatibility report (a benchmark measures the suite, not the files it writes)."""

from __future__ import annotations

import sys

#: pytest plugins of the peers ``pip install -e '.[bench]'`` brings (Hypothesis, Schemathesis),
#: which the suite does not use: pytest imports them in every process (two seconds of CPU
#: each, a worker's start-up tripled), so a benchmark of the suite leaves them out.
PEER_PLUGINS = ["-p", "no:hypothesispytest", "-p", "no:schemathesis"]

#: ``anthropic-conformance run`` of this interpreter; add target options and pytest flags.
SUITE_RUN = [
    sys.executable,
    "-m",
    "conformance",
    "run",
    "-q",
    "-p",
    "no:cacheprovider",
    *PEER_PLUGINS,
]
#: ... and without the report.
SUITE = [*SUITE_RUN, "--anthropic-report-dir=none"]
