"""Parallel runs against a distant target (issue 14): the suite serially, with ``-n 4`` and
``-n 8``, against the reference server waiting 0.3 s before each answer. Figures are printed,
never asserted in tests.

    python bench/bench_parallel.py                     # serve --latency 0.3, -n 4 and -n 8
    python bench/bench_parallel.py --target embedded   # the embedded server, one per worker
    python bench/bench_parallel.py --workers 2 4 8 --latency 0.1

``--target serve`` (the default) starts ``anthropic-conformance serve --latency L`` in its own
process and points every run at it by base URL, as a distant API or proxy shared by every xdist
worker; ``--target embedded`` runs ``--anthropic-reference-latency L`` (every worker starts its
own server: all families run, batches to their end included). Each run's wall time (start-up
included), its ratio to the serial run, the CPU seconds its processes used (start-up of every
worker included: on a busy machine that, not the latency, sets the wall time) and its outcome
counts are printed; a failure or error is a finding of the benchmark (the latency target must
give none).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from _run import SUITE

from conformance.reference import DEFAULT_ADMIN_API_KEY, DEFAULT_API_KEY

RUN = SUITE
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)")


@dataclass(frozen=True)
class Outcome:
    workers: int
    seconds: float
    #: CPU seconds (user + system) the run's processes used: what a loaded machine has to find
    cpu: float
    counts: dict[str, int]
    tail: str

    @property
    def bad(self) -> int:
        return self.counts.get("failed", 0) + self.counts.get("error", 0)


@contextmanager
def served(latency: float) -> Iterator[str]:
    """``anthropic-conformance serve --port 0 --latency L`` in its own process; its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "serve", "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        found = re.search(r"http://[\w.\[\]:]+", first)
        if not found:
            raise SystemExit(f"bench_parallel: serve did not print its URL: {first!r}")
        yield found.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_suite(target_args: list[str], workers: int, cwd: str) -> Outcome:
    cmd = [*RUN, *target_args, *(["-n", str(workers)] if workers else [])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    tail = lines[-1] if lines else done.stderr.strip()[-300:]
    counts: dict[str, int] = {}
    for number, word in _COUNT.findall(tail):
        counts["error" if word.startswith("error") else word] = int(number)
    if done.returncode not in (0, 1):
        counts["error"] = counts.get("error", 0) + 1
    return Outcome(workers, seconds, cpu, counts, tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.3, help="seconds (default 0.3)")
    parser.add_argument("--workers", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--target", choices=("serve", "embedded"), default="serve")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts")
    args = parser.parse_args()
    print(
        f"bench_parallel {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}: target {args.target}, latency {args.latency:g}s"
    )
    with tempfile.TemporaryDirectory() as cwd:
        if args.target == "embedded":
            target = [
                "--anthropic-target=embedded",
                f"--anthropic-reference-latency={args.latency}",
            ]
            outcomes = _runs(target, args.workers, args.repeat, cwd)
        else:
            with served(args.latency) as url:
                target = [
                    f"--anthropic-base-url={url}",
                    f"--anthropic-api-key={DEFAULT_API_KEY}",
                    f"--anthropic-admin-api-key={DEFAULT_ADMIN_API_KEY}",
                ]
                outcomes = _runs(target, args.workers, args.repeat, cwd)
    serial = outcomes[0]
    for o in outcomes:
        label = "serial" if not o.workers else f"-n {o.workers}"
        ratio = serial.seconds / o.seconds
        print(
            f"  {label:>7}: {o.seconds:6.1f}s  {ratio:4.2f}x  cpu {o.cpu:5.1f}s  "
            f"failures {o.bad}  ({o.tail})"
        )
    if any(o.bad for o in outcomes):
        print("  FAILURES against the latency target: see the runs above")


def _runs(target: list[str], workers: list[int], repeat: int, cwd: str) -> list[Outcome]:
    outcomes = []
    for n in [0, *workers]:
        tries = [run_suite(target, n, cwd) for _ in range(max(1, repeat))]
        outcomes.append(min(tries, key=lambda o: (o.bad, o.seconds)))
    return outcomes


if __name__ == "__main__":
    main()
