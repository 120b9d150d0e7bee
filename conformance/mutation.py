"""The mutation score: run the shipped suites against every mutant of the reference servers.

A suite that passes against a broken server proves nothing. For each named mutant
(``conformance.reference.mutants``) this starts an ``EmbeddedServer`` with the mutant switched on,
points the suite at it through the plugin's ordinary settings (``ANTHROPIC_BASE_URL`` and
``ANTHROPIC_API_KEY``), runs only the tests of the mutant's feature(s) with ``-x``, and records
whether some test failed (the mutant is *killed*) and which. One more run against the faithful
server, with every default feature, must pass: otherwise "killed" would mean nothing.

Every registered profile with a reference implementation and ``mutants`` is scored the same way,
from nothing more than what it declares: a run per mutant is the profile's suite (its default
toggles, ``-x``) with ``--<prefix>-mutant=NAME`` against its reference implementation, named
``<profile>:<mutant>``; its control run (``<profile>:faithful``) has no mutant and must pass.

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

#: The name of the control run against the faithful server in outcomes and reports (a
#: profile's control is ``<profile>:faithful``).
FAITHFUL = "faithful"
#: The group of the reference server's own mutants: the Anthropic API's profile.
CORE = "anthropic"
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
    def profile(self) -> str:
        """The profile whose suite and reference the run used (``anthropic`` for the core)."""
        return split(self.name)[0]

    @property
    def control(self) -> bool:
        """A control run against a faithful reference, not a mutant."""
        return split(self.name)[1] == FAITHFUL

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
        if self.control:
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
        data["profile"] = self.profile
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
    """Every mutant's outcome and the control runs: the faithful server's (None when no mutant
    of the reference server was scored) and each scored profile's."""

    faithful: Outcome | None
    mutants: list[Outcome]
    profile_controls: list[Outcome] = field(default_factory=list)

    @property
    def controls(self) -> list[Outcome]:
        return [*([self.faithful] if self.faithful else []), *self.profile_controls]

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
    def groups(self) -> dict[str, tuple[int, int]]:
        """Killed and total mutants per profile, in order of first appearance."""
        found: dict[str, tuple[int, int]] = {}
        for o in self.mutants:
            killed, total = found.get(o.profile, (0, 0))
            found[o.profile] = (killed + o.killed, total + 1)
        return found

    @property
    def ok(self) -> bool:
        """Every mutant killed and every control passing: the exit status of the command."""
        return bool(self.controls) and all(c.clean for c in self.controls) and not self.survivors

    @property
    def summary(self) -> str:
        line = f"Mutation score: {self.killed}/{self.total} killed"
        if len(self.groups) > 1 or any(g != CORE for g in self.groups):
            line += " (" + ", ".join(f"{g} {k}/{n}" for g, (k, n) in self.groups.items()) + ")"
        return line

    def to_json(self) -> dict[str, Any]:
        return {
            "score": {"killed": self.killed, "total": self.total, "ok": self.ok},
            "faithful": self.faithful.to_json() if self.faithful else None,
            "controls": [o.to_json() for o in self.controls],
            "mutants": [o.to_json() for o in self.mutants],
        }


# --- what runs: the reference server's mutants and each profile's ---------------------------------


def split(name: str) -> tuple[str, str]:
    """A run's name -> (profile, mutant or ``faithful``): ``claude-code-api-service:cost-rounded``
    is a profile's mutant, a name without ``:`` one of the reference server's."""
    profile, sep, mutant = name.rpartition(":")
    return (profile, mutant) if sep else (CORE, name)


def _profile(name: str) -> Any:
    """The registered profile ``name`` (a ``conformance.profiles.Profile``)."""
    from conformance import profiles

    return profiles.get(name)


def scorable(profile: Any) -> bool:
    """Whether a profile has mutants to score: the core, or a reference with ``mutants``."""
    return bool(profile.native or (profile.reference is not None and profile.mutants))


def mutants_of(profile_name: str) -> list[str]:
    """The run names of a profile's mutants (the core's are plain ``MUTANTS`` names)."""
    profile = _profile(profile_name)
    if profile.native:
        return list(MUTANTS)
    if not scorable(profile):
        return []
    return [f"{profile.name}:{m}" for m in profile.mutants]


def control_of(profile_name: str) -> str:
    return FAITHFUL if profile_name == CORE else f"{profile_name}:{FAITHFUL}"


def select(
    names: Sequence[str] | None = None, profile_names: Sequence[str] | None = None
) -> list[str]:
    """The mutant runs to score: every mutant of the selected profiles (default: every
    registered one), or only ``names`` among them. Unknown names are a ``ValueError``."""
    from conformance import profiles

    known = profiles.names()
    wanted = list(dict.fromkeys(profile_names or known))
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise ValueError(f"unknown profile(s): {', '.join(unknown)}; known: {', '.join(known)}")
    pool = [m for p in wanted for m in mutants_of(p)]
    if names is None:
        if not pool:
            raise ValueError(
                f"no mutants to score in profile(s) {', '.join(wanted)}: a profile's mutants "
                "are the `mutants` of its reference implementation"
            )
        return pool
    chosen = list(dict.fromkeys(names))
    missing = [n for n in chosen if n not in pool]
    if missing:
        raise ValueError(
            f"unknown mutant(s): {', '.join(missing)}; known: {', '.join(pool)} "
            "(a profile's mutant is named PROFILE:MUTANT)"
        )
    return chosen


# --- one run, in-process --------------------------------------------------------------------------


def features_for(name: str) -> tuple[str, ...]:
    """The toggles of a run: the mutant's feature(s), or every default feature for the control;
    a profile's runs have its default toggles (a profile declares no mutant's toggles)."""
    group, mutant = split(name)
    if group != CORE:
        return tuple(t.name for t in _profile(group).toggles if t.default)
    if mutant == FAITHFUL:
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
                test = _short(item.nodeid)
                marks = [str(a) for m in item.iter_markers("feature") for a in m.args]
                # a profile's tests name their toggles after the profile's name
                marks += [str(a) for m in item.iter_markers(PROFILE_MARK) for a in m.args[1:]]
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
                    test = _short(report.nodeid)
                    self.failures.append(
                        Failure(
                            test,
                            f"[{f['check']}] (root cause) {f.get('pointer') or '/'}: "
                            f"{f.get('message', '')}",
                            features,
                            (str(f["check"]),),
                        )
                    )


#: The marker of a profile's tests: ``conformance_profile(NAME, TOGGLE, ...)``.
PROFILE_MARK = "conformance_profile"


def _short(nodeid: str) -> str:
    """A node id relative to its suite directory: ``test_chat.py::test_x``."""
    path, sep, rest = nodeid.partition("::")
    head, found, tail = path.rpartition("suite/")
    return (tail if found and (not head or head.endswith("/")) else path) + sep + rest


def _is_skip(excinfo: Any) -> bool:
    import pytest

    return bool(excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)))


@contextlib.contextmanager
def _environment(url: str | None, key: str | None) -> Generator[None]:
    """The plugin's own settings point at ``url`` (None: a profile's run, whose plugin starts
    its reference itself); every other setting from the user's environment, the profiles' too,
    is hidden so it cannot change the run (a record mode, a feature list, a base URL...)."""
    from conformance import profiles

    names = {o.env for o in OPTIONS if o.env}
    names |= {o.env for p in profiles.available().values() for o in p.all_options() if o.env}
    saved = {n: os.environ.pop(n) for n in list(names) if n in os.environ}
    if url is not None and key is not None:
        os.environ["ANTHROPIC_BASE_URL"] = url
        os.environ["ANTHROPIC_API_KEY"] = key
    admin = next((o.env for o in OPTIONS if o.field == "admin_api_key" and o.env), None)
    if admin and url is not None:  # the Admin API tests need the reference server's admin key
        from conformance.reference import DEFAULT_ADMIN_API_KEY

        os.environ[admin] = DEFAULT_ADMIN_API_KEY
    try:
        yield
    finally:
        for n in names:
            os.environ.pop(n, None)
        os.environ.update(saved)


def pytest_args(name: str, api_version: str | None = None) -> list[str]:
    """The pytest command line of one run (without target settings, which go by environment):
    a profile's run selects its suite and switches its mutant on by its own option."""
    group, mutant = split(name)
    if group == CORE:
        selection = [f"--anthropic-features={','.join(features_for(name))}"]
    else:
        prefix = _profile(group).prefix
        selection = ["--conformance-profile", group]
        selection += [] if mutant == FAITHFUL else [f"--{prefix}-mutant={mutant}"]
    args = suite_args(
        [
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            *selection,
            # a 5xx mutant must fail at once, not after the client's backoff
            "--anthropic-max-retries=0",
            "--anthropic-timeout=10",
        ]
    )
    if api_version and group == CORE:
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
    with contextlib.ExitStack() as stack:
        if split(name)[0] == CORE:
            # The wall clock: the live-mode suite asks for reports of the days before today.
            config = ReferenceConfig(mutants=mutants, now=datetime.now(UTC))
            server = stack.enter_context(EmbeddedServer(config))
            stack.enter_context(_environment(server.url, DEFAULT_API_KEY))
        else:  # the profile's plugin starts its reference implementation, mutant switched on
            stack.enter_context(_environment(None, None))
        stack.enter_context(contextlib.redirect_stdout(sink))
        stack.enter_context(contextlib.redirect_stderr(sink))
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
    profiles: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Score:
    """Run every mutant in ``names`` (default: all of the selected ``profiles``, default every
    registered one) and the control of each profile they belong to, in parallel."""
    chosen = select(names, profiles)
    controls = [control_of(g) for g in dict.fromkeys(split(n)[0] for n in chosen)]
    runs = [*controls, *chosen]
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
    return Score(
        outcomes.get(FAITHFUL),
        [outcomes[n] for n in chosen],
        [outcomes[c] for c in controls if c != FAITHFUL],
    )


class Progress:
    """One step per finished run: a redrawn bar on a terminal, a plain line otherwise.

    Written to stderr, so ``--format json`` output on stdout stays clean.
    """

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.count = total, stream, 0
        self.tty = stream.isatty()

    def step(self, outcome: Outcome) -> None:
        self.count += 1
        what = (
            outcome.name
            if not outcome.control
            else "control"
            if outcome.name == FAITHFUL
            else f"{outcome.profile} control"
        )
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


def _control_label(outcome: Outcome) -> str:
    if outcome.name == FAITHFUL:
        return "the faithful server"
    return f"the faithful reference of {outcome.profile}"


def score_line(score: Score) -> str:
    """The README's sentence under the tables, from a real score (never written by hand)."""
    failed = [_control_label(c) for c in score.controls if not c.clean]
    if failed:
        return f"{score.summary}, and {', '.join(failed)} FAILS."
    passed = [_control_label(c) for c in score.controls]
    if len(passed) > 1:
        return f"{score.summary}, and {', '.join(passed[:-1])} and {passed[-1]} pass."
    return f"{score.summary}, and {passed[0] if passed else 'no control'} passes."


def markdown_table() -> str:
    """The README's list of mutants, generated from ``MUTANTS`` so it cannot drift."""
    rows = ["| Mutant | Feature that catches it | The bug |", "| --- | --- | --- |"]
    rows += [
        f"| `{m.name}` | {', '.join(m.features)} | {m.description.replace('|', '/')} |"
        for m in MUTANTS.values()
    ]
    return "\n".join(rows)


def markdown_profile_table() -> str:
    """The README's list of the profiles' mutants, generated from the registry (each profile's
    ``mutants``) so it cannot drift."""
    from conformance import profiles

    rows = ["| Profile's mutant | The bug |", "| --- | --- |"]
    rows += [
        f"| `{p.name}:{m}` | {bug.replace('|', '/')} |"
        for p in profiles.available().values()
        if not p.native and scorable(p)
        for m, bug in p.mutants.items()
    ]
    return "\n".join(rows)


def format_text(score: Score) -> str:
    """The human report: the control runs, one line per mutant and its killing test, the score."""
    lines = []
    for f in score.controls:
        verdict = "passed" if f.clean else "FAILED"
        what = "faithful server" if f.name == FAITHFUL else f"faithful reference of {f.profile}"
        lines.append(f"{what}: {verdict} ({f.passed} tests, {f.seconds:.1f}s)")
        lines += [f"  {x.test}: {x.reason}" for x in f.failures]
        if f.error:
            lines.append(f"  error: {f.error}")
    width = max((len(o.name) for o in score.mutants), default=0)
    for o in score.mutants:
        head = f"{o.name:<{width}}  {'killed  ' if o.killed else 'SURVIVED'}"
        if o.killed:
            lines.append(f"{head}  by {o.failures[0].test}: {o.failures[0].reason}")
            known = MUTANTS.get(o.name) if o.profile == CORE else None
            if known is not None and not o.caught_as_declared:  # profiles declare no caught_by
                declared = ", ".join(known.caught_by) or "nothing"
                lines.append(f"{'':<{width + 12}}not what it declares it is caught by: {declared}")
            lines += [f"{'':<{width + 12}}also {x.test}" for x in o.failures[1:]]
        else:
            why = o.error or f"no test of feature(s) {', '.join(o.features)} failed"
            lines.append(f"{head}  {why}")
    failed = [_control_label(c).removeprefix("the ") for c in score.controls if not c.clean]
    lines.append(score.summary + "".join(f"; the {c} FAILED" for c in failed))
    return "\n".join(lines)


def command(args: argparse.Namespace) -> int:
    """Run the score; exit 1 when a mutant survives or the faithful server fails, 2 on misuse."""
    try:
        score = mutation_score(
            args.mutant or None,
            jobs=args.jobs,
            api_version=args.api_version,
            profiles=args.profile or None,
        )
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
