"""The mutation score: run the shipped suite against every mutant of the reference server.

A suite that passes against a broken server proves nothing. For each named mutant
(``conformance.reference.mutants``) this starts an ``EmbeddedServer`` with the mutant switched on,
points the suite at it through the plugin's ordinary settings (``ANTHROPIC_BASE_URL`` and
``ANTHROPIC_API_KEY``), runs only the tests of the mutant's feature(s) with ``-x``, and records
whether some test failed (the mutant is *killed*) and which. One more run against the faithful
server, with every default feature, must pass: otherwise "killed" would mean nothing.

Runs are spread over worker processes (``python -m conformance.mutation --worker``), each running
``pytest.main`` in-process for several mutants in a row: one interpreter start per worker instead
of one per mutant keeps the whole score within seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from conformance import catalog
from conformance.reference.mutants import MUTANTS
from conformance.runner import suite_args
from conformance.settings import OPTIONS

#: The name of the control run against the faithful server in outcomes and reports.
FAITHFUL = "faithful"
#: Seconds one worker may take before the score gives up on it.
WORKER_TIMEOUT = 300.0


@dataclass(frozen=True)
class Failure:
    """One failed test of a run: its node id (relative to the suite) and why, in one line."""

    test: str
    reason: str
    features: tuple[str, ...] = ()  # the failing test's feature markers: what a report names
    checks: tuple[str, ...] = ()  # the checks whose error findings failed it (none: an assert)

    @property
    def function(self) -> str:
        """``module.py::test_name`` without a parameter id: what a mutant's ``caught_by`` names."""
        return self.test.split("[", 1)[0]

    def matches(self, names: Sequence[str]) -> bool:
        """Whether this failure is one of ``names``: a check that fired (``schema`` stands for
        every ``schema:<file>``) or the failing test."""
        fired = {c.split(":", 1)[0] for c in self.checks} | set(self.checks)
        return any(n in fired or n == self.function for n in names)


@dataclass
class Outcome:
    """The result of one suite run, against one mutant or against the faithful server."""

    name: str
    features: tuple[str, ...]
    exit_code: int
    passed: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None  # the run itself broke (usage error, crash): neither verdict holds

    @property
    def killed(self) -> bool:
        """Some test failed: the suite noticed the mutant."""
        return self.exit_code == 1 and bool(self.failures) and self.error is None

    @property
    def clean(self) -> bool:
        """The run passed: what the faithful server must achieve."""
        return self.exit_code == 0 and self.error is None

    @property
    def verdict(self) -> str:
        """killed / survived for a mutant, passed / failed for the control, or error."""
        if self.error is not None:
            return "error"
        if self.name == FAITHFUL:
            return "passed" if self.clean else "failed"
        return "killed" if self.killed else "survived"

    @property
    def caught_as_declared(self) -> bool:
        """Killed by what the mutant's ``caught_by`` names (its first failure: runs stop at
        it), not merely by some test that happened to trip over the bug."""
        declared = MUTANTS[self.name].caught_by if self.name in MUTANTS else ()
        return self.killed and bool(declared) and self.failures[0].matches(declared)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = list(self.features)
        data["verdict"] = self.verdict
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        return cls(
            data["name"],
            tuple(data["features"]),
            int(data["exit_code"]),
            int(data.get("passed", 0)),
            [
                Failure(
                    f["test"], f["reason"], tuple(f.get("features", ())), tuple(f.get("checks", ()))
                )
                for f in data.get("failures", [])
            ],
            float(data.get("seconds", 0.0)),
            data.get("error"),
        )


@dataclass
class Score:
    """Every mutant's outcome and the faithful control run."""

    faithful: Outcome
    mutants: list[Outcome]

    @property
    def killed(self) -> int:
        return sum(o.killed for o in self.mutants)

    @property
    def total(self) -> int:
        return len(self.mutants)

    @property
    def survivors(self) -> list[str]:
        return [o.name for o in self.mutants if not o.killed]

    @property
    def ok(self) -> bool:
        """Every mutant killed and the faithful server passing: the exit status of the command."""
        return self.faithful.clean and not self.survivors

    @property
    def summary(self) -> str:
        return f"Mutation score: {self.killed}/{self.total} killed"

    def to_json(self) -> dict[str, Any]:
        return {
            "score": {"killed": self.killed, "total": self.total, "ok": self.ok},
            "faithful": self.faithful.to_json(),
            "mutants": [o.to_json() for o in self.mutants],
        }


# --- one run, in-process --------------------------------------------------------------------------


def features_for(name: str) -> tuple[str, ...]:
    """The toggles of a run: the mutant's feature(s), or every default feature for the control."""
    if name == FAITHFUL:
        return tuple(f.name for f in catalog.FEATURES if f.default)
    return MUTANTS[name].features


def _checks(excinfo: Any) -> tuple[str, ...]:
    """The names of the checks whose error findings failed a test (none for a plain assert)."""
    from conformance.exchange import ConformanceError
    from conformance.judgement import FINDINGS_ATTR

    exc = excinfo.value if excinfo is not None else None
    findings = (
        exc.findings
        if isinstance(exc, ConformanceError)
        else getattr(exc, FINDINGS_ATTR, None) or []
    )
    return tuple(dict.fromkeys(f.check for f in findings if f.severity == "error"))


def _reason(excinfo: Any) -> str:
    """One line saying why a test failed: the check names of a contract violation, else the
    exception's first line."""
    from conformance.exchange import ConformanceError

    exc = excinfo.value if excinfo is not None else None
    if isinstance(exc, ConformanceError) and exc.findings:
        first = exc.findings[0]
        checks = ", ".join(dict.fromkeys(f.check for f in exc.findings))
        text = f"[{checks}] {first.pointer or '/'}: {first.message}"
    elif exc is not None:
        lines = str(exc).strip().splitlines()
        text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    else:
        text = "failed"
    return text if len(text) <= 240 else text[:239] + "…"


class _Collector:
    """A pytest plugin object gathering the failures and passes of one run."""

    def __init__(self) -> None:
        self.failures: list[Failure] = []
        self.passed = 0

    def pytest_runtest_makereport(self, item: Any, call: Any) -> None:
        if call.excinfo is not None and call.when in ("setup", "call", "teardown"):
            if call.excinfo.errisinstance(BaseException) and not _is_skip(call.excinfo):
                test = item.nodeid.split("conformance/suite/", 1)[-1]
                marks = (str(a) for m in item.iter_markers("feature") for a in m.args)
                self.failures.append(
                    Failure(
                        test,
                        _reason(call.excinfo),
                        tuple(dict.fromkeys(marks)),
                        _checks(call.excinfo),
                    )
                )
        elif call.when == "call":
            self.passed += 1

    def pytest_runtest_logreport(self, report: Any) -> None:
        """A run-scope root cause (a header every answer lacks) fails the session, not each
        test: it kills the mutant as the first test it was seen in."""
        from conformance.report.collect import FEATURES_KEY, ROOT_KEY

        features = tuple(dict(report.user_properties).get(FEATURES_KEY) or ())
        for key, found in report.user_properties:
            if key != ROOT_KEY or report.when != "call":
                continue
            for f in found:
                if f.get("severity") == "error" and not any(
                    x.reason.startswith(f"[{f['check']}] (root cause)") for x in self.failures
                ):
                    test = report.nodeid.split("conformance/suite/", 1)[-1]
                    self.failures.append(
                        Failure(
                            test,
                            f"[{f['check']}] (root cause) {f.get('pointer') or '/'}: "
                            f"{f.get('message', '')}",
                            features,
                            (str(f["check"]),),
                        )
                    )


def _is_skip(excinfo: Any) -> bool:
    import pytest

    return bool(excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)))


@contextlib.contextmanager
def _environment(url: str, key: str) -> Generator[None]:
    """The plugin's own settings point at ``url``; every other setting from the user's
    environment is hidden so it cannot change the run (a record mode, a feature list...)."""
    names = {o.env for o in OPTIONS if o.env}
    saved = {n: os.environ.pop(n) for n in list(names) if n in os.environ}
    os.environ["ANTHROPIC_BASE_URL"] = url
    os.environ["ANTHROPIC_API_KEY"] = key
    admin = next((o.env for o in OPTIONS if o.field == "admin_api_key" and o.env), None)
    if admin:  # the Admin API tests need the reference server's admin key
        from conformance.reference import DEFAULT_ADMIN_API_KEY

        os.environ[admin] = DEFAULT_ADMIN_API_KEY
    try:
        yield
    finally:
        for n in names:
            os.environ.pop(n, None)
        os.environ.update(saved)


def pytest_args(name: str, api_version: str | None = None) -> list[str]:
    """The pytest command line of one run (without target settings, which go by environment)."""
    args = suite_args(
        [
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            f"--anthropic-features={','.join(features_for(name))}",
            # a 5xx mutant must fail at once, not after the client's backoff
            "--anthropic-max-retries=0",
            "--anthropic-timeout=10",
        ]
    )
    if api_version:
        args.append(f"--anthropic-version={api_version}")
    flags = {o.field: o.flag for o in OPTIONS}
    if "require" in flags:  # a family the mutant stops serving must fail, not be skipped
        args.append(f"{flags['require']}=all")
    if "report_dir" in flags:  # no compatibility report per mutant in the user's directory
        args.append(f"{flags['report_dir']}=none")
    return args


def run_one(name: str, api_version: str | None = None) -> Outcome:
    """Run the suite in this process against a fresh server with mutant ``name`` (or none)."""
    import pytest

    from conformance.reference import DEFAULT_API_KEY, EmbeddedServer, ReferenceConfig

    mutants = () if name == FAITHFUL else (name,)
    collector = _Collector()
    started = time.monotonic()
    sink = io.StringIO()
    # The wall clock: the live-mode suite asks for reports of the days before today.
    config = ReferenceConfig(mutants=mutants, now=datetime.now(UTC))
    with (
        EmbeddedServer(config) as server,
        _environment(server.url, DEFAULT_API_KEY),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        code = int(pytest.main(pytest_args(name, api_version), plugins=[collector]))
    error = None
    if code not in (0, 1):
        error = f"pytest exited with {code}: " + " ".join(sink.getvalue().strip().splitlines()[-3:])
    return Outcome(
        name,
        features_for(name),
        code,
        collector.passed,
        collector.failures,
        round(time.monotonic() - started, 2),
        error,
    )


# --- many runs, in worker processes ---------------------------------------------------------------


def _worker(names: Sequence[str], api_version: str | None) -> int:
    """Worker entry: run ``names`` one after the other, one JSON outcome per stdout line."""
    out = sys.stdout
    for name in names:
        outcome = run_one(name, api_version)
        out.write(json.dumps(outcome.to_json()) + "\n")
        out.flush()
    return 0


def _buckets(names: Sequence[str], jobs: int) -> list[list[str]]:
    """Round-robin split, the faithful (longest) run first in the first bucket."""
    buckets: list[list[str]] = [[] for _ in range(max(1, min(jobs, len(names))))]
    for i, name in enumerate(names):
        buckets[i % len(buckets)].append(name)
    return [b for b in buckets if b]


def mutation_score(
    names: Sequence[str] | None = None,
    *,
    jobs: int | None = None,
    api_version: str | None = None,
    progress: Progress | None = None,
) -> Score:
    """Run the faithful control and every mutant in ``names`` (default: all), in parallel."""
    chosen = list(MUTANTS) if names is None else list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in MUTANTS]
    if unknown:
        raise ValueError(f"unknown mutant(s): {', '.join(unknown)}; known: {', '.join(MUTANTS)}")
    runs = [FAITHFUL, *chosen]
    jobs = jobs or os.cpu_count() or 1
    version = [f"--anthropic-version={api_version}"] if api_version else []
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "conformance.mutation", "--worker", *version, *bucket],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for bucket in _buckets(runs, jobs)
    ]
    show = progress or Progress(len(runs), sys.stderr)
    outcomes: dict[str, Outcome] = {}
    done: queue.Queue[Outcome | None] = queue.Queue()
    errors: list[str] = []

    def read(proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:  # one JSON outcome per finished run, as it finishes
            if line.startswith("{"):
                done.put(Outcome.from_json(json.loads(line)))
        tail = proc.stderr.read()
        if proc.wait() != 0:
            errors.append(tail[-2000:])
        done.put(None)

    threads = [threading.Thread(target=read, args=(p,), daemon=True) for p in procs]
    for t in threads:
        t.start()
    deadline, open_workers = time.monotonic() + WORKER_TIMEOUT, len(procs)
    while open_workers:
        try:
            item = done.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:  # a worker hangs: stop them all, the lost runs are named below
            for proc in procs:
                proc.kill()
            break
        if item is None:
            open_workers -= 1
        else:
            outcomes[item.name] = item
            show.step(item)
    show.close()
    for tail in errors:
        sys.stderr.write(tail)
    lost = "the worker running it crashed or timed out"
    for name in runs:
        outcomes.setdefault(name, Outcome(name, features_for(name), -1, error=lost))
    return Score(outcomes[FAITHFUL], [outcomes[n] for n in chosen])


class Progress:
    """One step per finished run: a redrawn bar on a terminal, a plain line otherwise.

    Written to stderr, so ``--format json`` output on stdout stays clean.
    """

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.count = total, stream, 0
        self.tty = stream.isatty()

    def step(self, outcome: Outcome) -> None:
        self.count += 1
        what = "control" if outcome.name == FAITHFUL else outcome.name
        line = f"[{self.count}/{self.total}] {what}: {outcome.verdict} ({outcome.seconds:.1f}s)"
        if self.tty:
            filled = int(20 * self.count / max(1, self.total))
            self.stream.write(f"\r\x1b[K[{'#' * filled}{'.' * (20 - filled)}] {line}")
        else:
            self.stream.write(f"mutation-score {line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.count:
            self.stream.write("\n")
            self.stream.flush()


# --- output and command line ----------------------------------------------------------------------


def score_line(score: Score) -> str:
    """The README's sentence under the table, from a real score (never written by hand)."""
    control = "the faithful server passes" if score.faithful.clean else "the faithful server FAILS"
    return f"{score.summary}, and {control}."


def markdown_table() -> str:
    """The README's list of mutants, generated from ``MUTANTS`` so it cannot drift."""
    rows = ["| Mutant | Feature that catches it | The bug |", "| --- | --- | --- |"]
    rows += [
        f"| `{m.name}` | {', '.join(m.features)} | {m.description.replace('|', '/')} |"
        for m in MUTANTS.values()
    ]
    return "\n".join(rows)


def format_text(score: Score) -> str:
    """The human report: the control run, one line per mutant and its killing test, the score."""
    f = score.faithful
    verdict = "passed" if f.clean else "FAILED"
    lines = [f"faithful server: {verdict} ({f.passed} tests, {f.seconds:.1f}s)"]
    lines += [f"  {x.test}: {x.reason}" for x in f.failures]
    if f.error:
        lines.append(f"  error: {f.error}")
    width = max((len(o.name) for o in score.mutants), default=0)
    for o in score.mutants:
        head = f"{o.name:<{width}}  {'killed  ' if o.killed else 'SURVIVED'}"
        if o.killed:
            lines.append(f"{head}  by {o.failures[0].test}: {o.failures[0].reason}")
            if not o.caught_as_declared:
                known = MUTANTS.get(o.name)
                declared = ", ".join(known.caught_by if known else ()) or "nothing"
                lines.append(f"{'':<{width + 12}}not what it declares it is caught by: {declared}")
            lines += [f"{'':<{width + 12}}also {x.test}" for x in o.failures[1:]]
        else:
            why = o.error or f"no test of feature(s) {', '.join(o.features)} failed"
            lines.append(f"{head}  {why}")
    lines.append(score.summary + ("" if f.clean else "; the faithful server FAILED"))
    return "\n".join(lines)


def command(args: argparse.Namespace) -> int:
    """Run the score; exit 1 when a mutant survives or the faithful server fails, 2 on misuse."""
    try:
        score = mutation_score(args.mutant or None, jobs=args.jobs, api_version=args.api_version)
    except ValueError as exc:
        print(f"anthropic-conformance mutation-score: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(score.to_json(), indent=2) if args.format == "json" else format_text(score))
    return 0 if score.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m conformance.mutation``: the worker processes' entry (``--worker NAME...``);
    anything else is ``anthropic-conformance mutation-score`` (its options are in ``cli``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["--worker"]:
        from conformance import cli

        return cli.main(["mutation-score", *args])
    parser = argparse.ArgumentParser(prog="python -m conformance.mutation --worker")
    parser.add_argument("--anthropic-version", dest="api_version", default=None)
    parser.add_argument("names", nargs="*")
    worker = parser.parse_args(args[1:])
    return _worker(worker.names, worker.api_version)


if __name__ == "__main__":
    raise SystemExit(main())
