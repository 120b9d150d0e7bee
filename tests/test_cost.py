"""Cost: tokens and dollars per test from usage, the summary, ``--anthropic-max-cost``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from suite_args import suite

from conformance import catalog
from conformance.cost import Budget, summary_lines
from conformance.exchange import Exchange
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer
from conformance.reference.app import inventory
from conformance.report.render import load_report
from conformance.runlog import RunLog
from conformance.settings import ConfigError, load_settings

HAIKU = catalog.CHEAPEST_MODEL


def _message(model: str, inp: int, out: int, **usage: Any) -> Exchange:
    body = {"type": "message", "usage": {"input_tokens": inp, "output_tokens": out, **usage}}
    return Exchange(
        "POST",
        "/v1/messages",
        200,
        body=json.dumps(body).encode(),
        request_json={"model": model, "max_tokens": 5, "messages": []},
    )


# --- per test, from the one price table -----------------------------------------------------------


def test_each_test_gets_its_own_tokens_and_cost_at_list_price() -> None:
    opus = next(m for m in catalog.MODELS if m.input_price > HAIKU.input_price)
    log = RunLog()
    log.current = "a"
    log.record(_message(HAIKU.id, 1_000, 100))
    log.record(_message(HAIKU.id, 500, 0, cache_read_input_tokens=1_000))
    log.current = "b"
    log.record(_message(opus.id, 1_000, 100))
    a, b = log.cost_of("a"), log.cost_of("b")
    assert a is not None and b is not None
    assert (a.input_tokens, a.output_tokens) == (1_500, 100)
    assert a.cost_usd == pytest.approx(
        (1_500 * HAIKU.input_price + 100 * HAIKU.output_price + 100 * HAIKU.input_price) / 1e6
    )
    assert b.cost_usd == pytest.approx((1_000 * opus.input_price + 100 * opus.output_price) / 1e6)
    assert log.cost_usd == pytest.approx(a.cost_usd + b.cost_usd)
    assert a.unpriced == () and log.cost_of("c") is None


def test_a_model_without_a_price_row_is_said_to_be_unpriced() -> None:
    log = RunLog()
    log.current = "t"
    log.record(_message("claude-future-9", 1_000_000, 0))
    spent = log.cost_of("t")
    assert spent is not None and spent.unpriced == ("claude-future-9",)
    lines = summary_lines({"t": spent.as_dict()}, spent.cost_usd, 1_000_000, 0, billed=True)
    assert any("no list price known for claude-future-9" in line for line in lines), lines
    assert any(HAIKU.id in line and "unknown" in line for line in lines), lines


def test_the_summary_names_the_most_expensive_tests_dearest_first() -> None:
    costs = {
        f"t{i}": {"input_tokens": i, "output_tokens": 0, "cost_usd": i / 100, "unpriced": []}
        for i in range(8)
    }
    lines = summary_lines(costs, 0.28, 28, 0, billed=True, top=3)
    assert "about $0.2800 at list price" in lines[0]
    assert [line.split()[-1] for line in lines[2:]] == ["t7", "t6", "t5"]
    unbilled = summary_lines(costs, 0.28, 28, 0, billed=False)
    assert "if the real API had answered" in unbilled[0]


# --- the cap --------------------------------------------------------------------------------------


def test_the_cap_stops_before_a_test_that_could_exceed_it() -> None:
    log = RunLog()
    budget = Budget(cap_usd=0.01)
    assert budget.check(log, "first") is None  # nothing spent, nothing known yet
    log.current = "first"
    log.record(_message(HAIKU.id, 4_000, 0))  # 4k input tokens
    per_test = log.cost_usd
    allowed = int(0.01 // per_test)  # how many such tests fit under the cap
    ran = 1
    while (stopped := budget.check(log, f"t{ran}")) is None:
        log.current = f"t{ran}"
        log.record(_message(HAIKU.id, 4_000, 0))
        ran += 1
    assert ran == allowed  # the next one would have gone over
    assert stopped.test == f"t{ran}"
    assert stopped.spent_usd + stopped.estimate_usd > 0.01 >= stopped.spent_usd
    assert "stopped before t" in stopped.message
    assert "--anthropic-max-cost $0.0100" in stopped.message


def test_each_xdist_worker_gets_an_equal_share_of_the_cap() -> None:
    log = RunLog()
    log.current = "t"
    log.record(_message(HAIKU.id, 4_000, 0))
    cap = log.cost_usd * 3
    assert Budget(cap, workers=1).check(log, "next") is None
    stopped = Budget(cap, workers=2).check(log, "next")
    assert stopped is not None and "share of 2 workers" in stopped.message


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "lots"])
def test_max_cost_must_be_a_positive_number_of_dollars(value: str) -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_CONFORMANCE_MAX_COST"):
        load_settings(environ={"ANTHROPIC_CONFORMANCE_MAX_COST": value})


def test_max_cost_from_flag_env_and_ini_in_dollars() -> None:
    assert load_settings(environ={"ANTHROPIC_CONFORMANCE_MAX_COST": "$0.50"}).max_cost == 0.5
    assert load_settings(option=lambda o: "2" if o.field == "max_cost" else None).max_cost == 2
    ini = {"anthropic_max_cost": "0.25"}
    assert load_settings(ini=lambda o: ini.get(o.ini), environ={}).max_cost == 0.25
    assert load_settings(environ={}).max_cost is None


# --- a run of the suite ---------------------------------------------------------------------------


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_tiny_cap_stops_the_suite_cleanly_and_teardown_still_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: tuple[str, ...]
) -> None:
    """The files tests create (and tear down) files; the first messages test spends; the cap
    then stops the run before the next test, and nothing is left on the server."""
    with EmbeddedServer() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_API_KEY)
        result = pytester.runpytest(
            *suite("test_files", "test_messages"),
            "-q",
            "-p",
            "no:randomly",
            *xdist,
            "--anthropic-max-cost=0.000001",
            f"--anthropic-report-dir={pytester.path / 'out'}",
        )
        out = result.stdout.str()
        assert result.ret == pytest.ExitCode.INTERRUPTED, out
        left = {kind: ids for kind, ids in inventory(server.app).items() if ids}
        assert left == {}, out
    report = load_report(Path(pytester.path / "out" / "report.json"))
    stopped = report.stopped_at
    assert stopped is not None, out
    ran = {t.nodeid for t in report.tests}
    assert stopped.test not in ran
    assert any("test_files.py" in nodeid for nodeid in ran), ran
    spent = sum(t.cost_usd for t in report.tests)
    # serially the run's spending; under xdist the stopping worker's, part of the run's
    assert 0 < stopped.spent_usd <= spent + 1e-9 and report.cost_usd == pytest.approx(spent)
    if not xdist:
        assert stopped.spent_usd == pytest.approx(spent)
    assert stopped.spent_usd + stopped.estimate_usd > stopped.cap_usd == 0.000001
    assert f"stopped before {stopped.test}" in out
    assert "most expensive test(s)" in out
    assert "Stopped:" in (pytester.path / "out" / "report.md").read_text()


def test_without_a_cap_the_suite_runs_on_and_an_unbilled_target_prints_no_cost(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest(
        *suite("test_messages"),
        "-q",
        "-p",
        "no:randomly",
        "--anthropic-target=embedded",
        f"--anthropic-report-dir={pytester.path / 'out'}",
    )
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, out
    assert "cost cap" not in out and "most expensive" not in out
    report = load_report(Path(pytester.path / "out" / "report.json"))
    assert report.stopped_at is None
    assert any(t.cost_usd > 0 for t in report.tests)  # the report has the figures anyway
