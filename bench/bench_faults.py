"""Faults are not failures (issue 14): the whole suite through a loopback fault proxy, printed.

    python bench/bench_faults.py                 # three runs, 30% faults, seeds run1..run3
    python bench/bench_faults.py --runs 6 --rate 0.3 --retries 6

Each run starts a fresh reference server and, in front of it, ``faults.FaultProxy`` failing
``--rate`` of the API requests with every kind of fault of the issue: 429 and 529 with a wait,
a 500 envelope, a ``text/plain`` 503 and a dropped connection *before* forwarding; a 502 HTML
page, a 500, a dropped connection and a body cut mid-way *after* the upstream did the work (an
upload made, a member added, then the answer lost). The suite runs against the proxy with every
feature on (``admin_write`` included) and prints, per run: passed / failed / skipped (of them
inconclusive), the faults injected, the calls that needed retries and the tests listed as
flaky, and the leaks: what the reference server still holds at the end (its inventory: files,
batches, invites, workspaces, memberships). Nothing is asserted: these are figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _run import SUITE_RUN

from conformance.reference import (
    DEFAULT_ADMIN_API_KEY,
    DEFAULT_API_KEY,
    EmbeddedServer,
    ReferenceConfig,
    faults,
)


def one_run(seed: str, rate: float, retries: int, backoff: float) -> dict[str, Any]:
    upstream = EmbeddedServer(ReferenceConfig()).start()
    app = faults.FaultProxy(upstream.url, rate, seed)
    proxy = EmbeddedServer(app=app).start()
    with tempfile.TemporaryDirectory() as tmp:
        report_dir = Path(tmp, "report")
        start = time.perf_counter()
        done = subprocess.run(
            [
                *SUITE_RUN,
                "-p",
                "no:randomly",
                f"--anthropic-base-url={proxy.url}",
                f"--anthropic-api-key={DEFAULT_API_KEY}",
                f"--anthropic-admin-api-key={DEFAULT_ADMIN_API_KEY}",
                "--anthropic-features=all,admin_write",
                f"--anthropic-max-retries={retries}",
                f"--anthropic-retry-backoff={backoff}",
                f"--anthropic-report-dir={report_dir}",
                "-rs",
            ],
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        wall = time.perf_counter() - start
        written = report_dir / "report.json"
        report = json.loads(written.read_text()) if written.exists() else {"tests": []}
    leaks = upstream.inventory()
    proxy.stop()
    upstream.stop()
    tests = report["tests"]
    verdicts = [t["verdict"] for t in tests]
    return {
        "seed": seed,
        "exit": done.returncode,
        "wall": wall,
        "passed": verdicts.count("pass"),
        "failed": verdicts.count("fail"),
        "skipped": len(verdicts) - verdicts.count("pass") - verdicts.count("fail"),
        "inconclusive": done.stdout.count("inconclusive:"),
        "injected": dict(app.injected),
        "retried_calls": sum(len(t.get("retried") or ()) for t in tests),
        "flaky": sorted(t["nodeid"] for t in tests if t.get("retried") and t["verdict"] == "pass"),
        "leaks": leaks,
        "tail": (done.stdout.strip() or done.stderr.strip()).splitlines()[-3:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--retries", type=int, default=6)
    parser.add_argument("--backoff", type=float, default=0.01, help="first backoff, seconds")
    args = parser.parse_args()
    green = 0
    leaked = 0
    for n in range(1, args.runs + 1):
        r = one_run(f"run{n}", args.rate, args.retries, args.backoff)
        injected = sum(r["injected"].values())
        after = sum(v for k, v in r["injected"].items() if k in faults.PROXY_AFTER)
        green += r["exit"] == 0 and r["failed"] == 0
        leaked += bool(r["leaks"])
        print(
            f"run {n} (seed {r['seed']}): exit {r['exit']}, {r['passed']} passed, "
            f"{r['failed']} failed, {r['skipped']} skipped ({r['inconclusive']} inconclusive) "
            f"in {r['wall']:.1f}s; {injected} faults injected ({after} after forwarding: "
            f"{', '.join(f'{k} {v}' for k, v in sorted(r['injected'].items()))}); "
            f"{r['retried_calls']} calls retried, {len(r['flaky'])} tests flaky; "
            f"leaks: {r['leaks'] or 'none'}"
        )
        if r["exit"] != 0:
            print("   ", *r["tail"])
    print(
        f"{green}/{args.runs} runs green, {leaked}/{args.runs} with leaks, at "
        f"{args.rate:.0%} faults with {args.retries} retries"
    )
    return 0 if green == args.runs and not leaked else 1


if __name__ == "__main__":
    raise SystemExit(main())
