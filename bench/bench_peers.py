"""Figures of issue 14, from one run on this machine, printed (never asserted in tests).

    python bench/bench_peers.py            # needs: pip install -e '.[bench]'
    python bench/bench_peers.py --quick    # skip the per-mutant Schemathesis comparison

1. the whole suite replayed offline from cassettes against ``--collect-only`` of it (target:
   at most 1.5x);
2. the compiled checks of ``conformance.schemas`` (and ``schemas.validate``, which answers a
   valid answer from them) against ``jsonschema.validate`` per answer, on the same answers and
   schemas (target: at least 10x);
3. tokens billed and their list price, as the run's own ``RunLog`` counts them, for a run with
   the toggles a live run has by default (target: under $0.01) and for a run of every feature;
4. Schemathesis (the pinned version of the ``bench`` extra) driven by our OpenAPI export against
   our suite, on the same reference server and the same endpoints: wall time and mutants killed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from _run import SUITE

from conformance import catalog, mutation, openapi, reference, schemas
from conformance.reference import EmbeddedServer, ReferenceConfig


def _wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def replay_vs_collect() -> None:
    replay = [*SUITE, "--record-mode=none"]
    _wall([*replay, "--collect-only"])  # warm the file cache and bytecode first
    collect = min(_wall([*replay, "--collect-only"]) for _ in range(2))
    run = min(_wall(replay) for _ in range(2))
    print(f"{'replay of the whole suite':<52} {run:8.2f} s")
    print(f"{'--collect-only of it':<52} {collect:8.2f} s")
    print(f"{'  ratio (target <= 1.5x)':<52} {run / collect:8.2f} x")


def _answers() -> list[tuple[Any, str]]:
    """Real answers of the reference server, each with the schema its endpoint names."""
    headers = {"x-api-key": reference.DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
    body = {
        "model": catalog.DEFAULT_MODEL,
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "Reply with exactly: ok"}],
    }
    with EmbeddedServer() as server, httpx.Client(base_url=server.url, headers=headers) as http:
        calls = [
            ("messages.create", http.post("/v1/messages", json=body)),
            (
                "messages.count_tokens",
                http.post(
                    "/v1/messages/count_tokens", json={k: body[k] for k in ("model", "messages")}
                ),
            ),
            ("models.list", http.get("/v1/models")),
            ("models.retrieve", http.get(f"/v1/models/{catalog.DEFAULT_MODEL}")),
            ("messages.create", http.post("/v1/messages", json={**body, "max_tokens": 0})),
        ]
    out = []
    for name, answer in calls:
        schema = catalog.endpoint(name).schema if answer.status_code < 400 else catalog.ERROR_SCHEMA
        out.append((answer.json(), schema))
    return out


def _per_call(fn: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def validators() -> None:
    answers = _answers()
    registry = schemas.registry()
    contents = {name: registry.contents(schemas.BASE_URI + name) for _, name in answers}
    for instance, name in answers:  # warm the caches: the compiled path is what a run uses
        schemas.validate(instance, name)

    def ours() -> None:
        for instance, name in answers:
            schemas.validate(instance, name)

    def plain() -> None:
        for instance, name in answers:
            jsonschema.validate(instance, contents[name], registry=registry)

    def compiled() -> None:  # the compiled check that answers a valid answer in a run
        for instance, name in answers:
            check = schemas._checker(name)
            assert check is not None and check(instance)

    def cached() -> None:  # jsonschema's own validator, built once per schema and kept
        for instance, name in answers:
            for _ in schemas._validator(name).iter_errors(instance):
                pass

    raw = _per_call(compiled, 200) / len(answers)
    fast = _per_call(ours, 200) / len(answers)
    kept = _per_call(cached, 50) / len(answers)
    slow = _per_call(plain, 20) / len(answers)
    print(f"{'compiled check per answer':<52} {raw * 1e3:8.3f} ms")
    print(f"{'conformance.schemas.validate (with findings)':<52} {fast * 1e3:8.3f} ms")
    print(f"{'jsonschema validator built once, iter_errors':<52} {kept * 1e3:8.3f} ms")
    print(f"{'jsonschema.validate per answer':<52} {slow * 1e3:8.3f} ms")
    print(
        f"{'  ratio compiled (target >= 10x)':<52} {slow / raw:8.1f} x "
        f"({len(answers)} answers: message, count_tokens, model list, model, error)"
    )
    print(f"{'  ratio schemas.validate':<52} {slow / fast:8.1f} x")


class _Tokens:
    """Reads the run's own RunLog at the end of the session: the plugin's token count."""

    def __init__(self) -> None:
        self.counts: tuple[int, int, float] = (0, 0, 0.0)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from conformance.plugin import RUNLOG

        log = session.config.stash[RUNLOG]
        self.counts = (log.input_tokens, log.output_tokens, log.cost_usd)


def _billed(extra: list[str]) -> tuple[int, int, int, float]:
    """The exit code and the run's own token count and price for one run of the suite."""
    from conformance.runner import suite_args

    probe = _Tokens()
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main(
            suite_args(["-q", "-p", "no:cacheprovider", "--anthropic-report-dir=none", *extra]),
            plugins=[probe],
        )
    return (int(code), *probe.counts)


def tokens() -> None:
    """Two runs: with the toggles a live run has by default (the reference server behind a base
    URL is a target that bills tokens, so every ``*_live`` toggle is off: the run the < $0.01
    target is about), and every feature (the embedded server runs the ``*_live`` tests too)."""
    with EmbeddedServer() as server:
        default = _billed(
            [
                f"--anthropic-base-url={server.url}",
                f"--anthropic-api-key={reference.DEFAULT_API_KEY}",
            ]
        )
    runs = (
        ("default live toggles", default, " (target < $0.01)"),
        ("every feature", _billed([]), ""),
    )
    for what, (code, inp, out, usd), target in runs:
        print(
            f"{what + ' against the reference server (exit ' + str(code) + ')':<52} "
            f"{inp:,} input + {out:,} output tokens"
        )
        print(f"{'  at list price of ' + catalog.DEFAULT_MODEL + target:<52} ${usd:.4f}")


# --- Schemathesis against our suite ---------------------------------------------------------


def _families(name: str) -> set[str]:
    """Endpoint families of a mutant's features: the endpoints our run of it exercises."""
    return {f.family for f in map(catalog.find_feature, mutation.features_for(name)) if f}


def schemathesis_run(document: Path, mutant: str | None, max_examples: int) -> tuple[bool, float]:
    """Does Schemathesis find a failure on a server with ``mutant`` (None: the faithful one)?"""
    config = ReferenceConfig(mutants=(mutant,) if mutant else (), now=datetime.now(UTC))
    families = _families(mutant) if mutant else {e.family for e in catalog.ENDPOINTS}
    ops = (
        "^("
        + "|".join(e.name.replace(".", r"\.") for e in catalog.ENDPOINTS if e.family in families)
        + ")$"
    )
    start = time.perf_counter()
    found = False
    with EmbeddedServer(config) as server:
        plain, admin = openapi.schemathesis_runs(
            document,
            server.url,
            reference.DEFAULT_API_KEY,
            reference.DEFAULT_ADMIN_API_KEY,
            max_examples=max_examples,
            phases="examples,fuzzing",
            operations=ops,
        )
        runs = ([plain] if families - {"admin"} else []) + ([admin] if "admin" in families else [])
        for cmd in runs:
            found = openapi.run_schemathesis(cmd)[0] or found
    return found, time.perf_counter() - start


def peers(max_examples: int) -> None:
    try:
        import schemathesis
    except ImportError:
        raise SystemExit(
            "bench_peers: Schemathesis is not installed: `pip install -e '.[bench]'` "
            "(or --quick, to leave the peers out)"
        ) from None

    # Fuzzed requests the HTTP parser refuses are expected here: not worth a warning line each
    # (a filter: each server's uvicorn.Config sets the logger's level again).
    logging.getLogger("uvicorn.error").addFilter(
        lambda record: "Invalid HTTP request" not in record.getMessage()
    )

    with tempfile.TemporaryDirectory() as tmp:
        document = Path(tmp, "openapi.json")
        document.write_text(openapi.dump(openapi.build_document()))
        faithful, took = schemathesis_run(document, None, max_examples)
        print(
            f"Schemathesis {schemathesis.SCHEMATHESIS_VERSION} on the faithful server: "
            f"{'FAILURES (a false positive)' if faithful else 'no failure'} in {took:.1f} s"
        )
        start, killed = time.perf_counter(), []
        for name in reference.MUTANTS:
            hit, _ = schemathesis_run(document, name, max_examples)
            if hit:
                killed.append(name)
        st_time = time.perf_counter() - start
    start = time.perf_counter()
    # the reference server's own mutants: what Schemathesis is run against (no profile's)
    score = mutation.mutation_score(jobs=1, profiles=[mutation.CORE])
    ours_time = time.perf_counter() - start
    total = len(reference.MUTANTS)
    print(f"{'mutants killed, one run per mutant, sequential':<52} {'killed':>8} {'wall':>9}")
    print(
        f"{'  anthropic-conformance mutation-score --jobs 1':<52} "
        f"{score.killed:>4}/{total:<3} {ours_time:8.1f} s  (faithful control "
        f"{'passed' if score.faithful and score.faithful.clean else 'FAILED'})"
    )
    print(
        f"{'  Schemathesis, our OpenAPI export, ' + str(max_examples) + ' examples/op':<52} "
        f"{len(killed):>4}/{total:<3} {st_time:8.1f} s"
    )
    missed = [n for n in reference.MUTANTS if n not in killed]
    print("  Schemathesis missed: " + ", ".join(missed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the Schemathesis comparison")
    parser.add_argument("--max-examples", type=int, default=5)
    args = parser.parse_args()
    print(f"bench_peers on {datetime.now(UTC):%Y-%m-%d}, Python {sys.version.split()[0]}")
    replay_vs_collect()
    validators()
    tokens()
    if not args.quick:
        peers(args.max_examples)


if __name__ == "__main__":
    main()
