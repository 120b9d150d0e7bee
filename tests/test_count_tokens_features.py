"""count_tokens across features: the ``count-tokens-agrees`` check, the reference server's
counting (each feature adds tokens; count_tokens equals the bill, JSON and streamed, through the
official SDK), the suite module against its mutants, and what a default live run costs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from suite_args import SUITE, suite

from conformance import catalog
from conformance.checks import lookup
from conformance.checks.count_tokens import (
    COUNT_AGREES,
    TOLERANCE,
    Tolerance,
    count_agreement_findings,
)
from conformance.reference import (
    DEFAULT_API_KEY,
    MUTANTS,
    EmbeddedServer,
    ReferenceConfig,
    generator,
)
from conformance.reference.features import caching
from conformance.report.render import load_report
from conformance.settings import OPTIONS
from conformance.suite.test_count_tokens_features import FEATURES, request_body

MODEL = catalog.DEFAULT_MODEL
#: The mutants this work added: the suite module alone must kill each of them.
NEW_MUTANTS = (
    "count-tokens-images-dropped",
    "count-tokens-documents-dropped",
    "count-tokens-thinking-dropped",
    "count-tokens-system-blocks-dropped",
    "count-tokens-tool-schemas-dropped",
)
#: What a default live run may cost at list price on the cheapest model (issue 13).
LIVE_RUN_BUDGET_USD = 0.01


# --- the check: faithful and broken answers ------------------------------------------------------


def test_check_is_registered_on_demand() -> None:
    info = lookup(COUNT_AGREES)
    assert info is not None and info.severity == "error"


@pytest.mark.parametrize(
    ("counted", "billed"),
    [(50, 50), (48, 52), (52, 48), (1000, 1090), (3, 11)],
    ids=["equal", "under", "over", "within-share", "within-floor"],
)
def test_agreeing_counts_pass(counted: int, billed: int) -> None:
    assert count_agreement_findings(counted, billed, feature="tools") == []


@pytest.mark.parametrize(
    ("counted", "billed", "phrase"),
    [
        (12, 97, "drift +85, allowed ±10"),  # the image was not counted
        (60, 50, "drift -10, allowed ±8"),  # counted more than billed, past the floor
        (1000, 1200, "drift +200, allowed ±120"),  # the share of a big bill
        ("12", 12, "both must be token counts"),
        (12, None, "both must be token counts"),
        (True, 1, "both must be token counts"),
    ],
    ids=["feature-left-out", "over-counted", "big-bill", "string", "missing", "bool"],
)
def test_disagreeing_counts_are_reported(counted: Any, billed: Any, phrase: str) -> None:
    found = count_agreement_findings(counted, billed, feature="an image", request_id="req_1")
    assert len(found) == 1, found
    f = found[0]
    assert f.check == COUNT_AGREES and f.pointer == "/input_tokens" and f.rule
    assert phrase in f.message and "a request with an image" in f.message, f.message
    assert f.request_id == "req_1" and f.severity == "error"


def test_tolerance_is_a_share_with_a_floor() -> None:
    assert TOLERANCE.allowed(10) == TOLERANCE.floor
    assert TOLERANCE.allowed(10_000) == pytest.approx(TOLERANCE.share * 10_000)
    strict = Tolerance(share=0.0, floor=0)
    assert count_agreement_findings(10, 11, tolerance=strict)
    assert not count_agreement_findings(10, 11)


@pytest.mark.parametrize("name", FEATURES)
def test_each_feature_adds_more_than_the_tolerance(name: str) -> None:
    """What each feature adds to the suite's request, on the reference server, is more than the
    check allows: a count that leaves the feature out is caught by the agreement check too."""
    without = generator.count_input_tokens(request_body(MODEL, None))
    with_it = generator.count_input_tokens(request_body(MODEL, FEATURES[name]))
    assert with_it - without > TOLERANCE.allowed(with_it), (name, without, with_it)


# --- the reference server counts each feature alike on both endpoints -----------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[anthropic.Anthropic]:
    with EmbeddedServer() as server:
        yield anthropic.Anthropic(base_url=server.url, api_key=DEFAULT_API_KEY, max_retries=0)


@pytest.mark.parametrize("name", FEATURES)
def test_reference_count_equals_the_bill_json_and_streamed(
    client: anthropic.Anthropic, name: str
) -> None:
    body = request_body(MODEL, FEATURES[name])
    count_body = {k: v for k, v in body.items() if k != "max_tokens"}
    counted = client.messages.count_tokens(**count_body).input_tokens
    plain = client.messages.count_tokens(
        **{k: v for k, v in request_body(MODEL, None).items() if k != "max_tokens"}
    ).input_tokens
    assert counted > plain, (name, counted, plain)
    assert counted == generator.count_input_tokens(body)
    billed = client.messages.create(**body).usage.input_tokens
    with client.messages.stream(**body) as stream:
        started = None
        for event in stream:
            if event.type == "message_start":
                started = event.message.usage.input_tokens
        final = stream.get_final_message()
    assert counted == billed == started == final.usage.input_tokens, name


@pytest.mark.parametrize("name", FEATURES)
def test_cache_segments_add_up_to_the_count(name: str) -> None:
    body = request_body(MODEL, FEATURES[name])
    assert sum(s.tokens for s in caching.segments(body)) == generator.count_input_tokens(body)


def test_changing_thinking_keeps_the_system_cache_and_misses_the_messages() -> None:
    """Thinking's system prompt sits after tools and system: a change of the thinking
    parameters reads a cached system prompt, not a cached message prefix."""
    long = " ".join(f"w{i % 97}" for i in range(catalog.min_cacheable_tokens(MODEL) + 50))
    model = catalog.find_model(MODEL)
    assert model is not None
    ephemeral = {"type": "ephemeral"}
    system = [{"type": "text", "text": long, "cache_control": ephemeral}]
    messages = [
        {"role": "user", "content": [{"type": "text", "text": long, "cache_control": ephemeral}]}
    ]
    base = {"model": MODEL, "max_tokens": 2048, "system": system, "messages": messages}
    cache: dict[str, Any] = {}
    first = caching.apply(base, model, cache)
    assert first.created > 0 and first.read == 0
    thought = {**base, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    second = caching.apply(thought, model, cache)
    system_only = sum(s.tokens for s in caching.segments(base)[:1])
    assert second.read == system_only, "the cached system prompt is read"
    assert second.created > 0, "the message prefix is written again under the new thinking"
    assert caching.apply(thought, model, cache).read == second.read + second.created


# --- the suite module kills each new mutant -------------------------------------------------------


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting of the developer's environment (features, keys, record mode) reaches a run."""
    for option in OPTIONS:
        if option.env:
            monkeypatch.delenv(option.env, raising=False)


@pytest.mark.parametrize("name", NEW_MUTANTS)
def test_the_module_alone_kills_each_new_mutant(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    _clean_environment(monkeypatch)
    mutant = MUTANTS[name]
    with EmbeddedServer(ReferenceConfig(mutants=(name,))) as server:
        result = pytester.runpytest(
            *suite("test_count_tokens_features"),
            "-q",
            "-p",
            "no:randomly",
            f"--anthropic-base-url={server.url}",
            f"--anthropic-api-key={DEFAULT_API_KEY}",
            f"--anthropic-features={','.join(mutant.features)}",
            "--anthropic-report-dir=none",
        )
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    assert "test_count_tokens_features.py::" in out and "FAILED" in out, out


def test_the_module_passes_against_the_faithful_server(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_environment(monkeypatch)
    with EmbeddedServer() as server:
        result = pytester.runpytest(
            *suite("test_count_tokens_features"),
            "-q",
            "-p",
            "no:randomly",
            f"--anthropic-base-url={server.url}",
            f"--anthropic-api-key={DEFAULT_API_KEY}",
            "--anthropic-features=all",
            "--anthropic-report-dir=none",
            "-rs",
        )
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, out
    # a target that bills tokens: the costly calls wait for their *_live toggle, said in the reason
    result.assert_outcomes(passed=10, skipped=2)
    assert "add documents_live" in out and "add thinking_live" in out, out


# --- the cost of a default live run ------------------------------------------------------------


@pytest.mark.parametrize("version", catalog.API_VERSIONS)
def test_a_default_live_run_costs_under_a_cent(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    """The whole suite with the toggles a live run has by default (the reference server behind
    a base URL is a target that bills tokens, so every ``*_live`` toggle is off), priced by the
    run's own accounting from the reference server's deterministic token counts."""
    _clean_environment(monkeypatch)
    out_dir = pytester.path / "out"
    with EmbeddedServer() as server:
        result = pytester.runpytest(
            *SUITE,
            "-q",
            "-p",
            "no:randomly",
            f"--anthropic-base-url={server.url}",
            f"--anthropic-api-key={DEFAULT_API_KEY}",
            f"--anthropic-version={version}",
            f"--anthropic-report-dir={out_dir}",
        )
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, out
    report = load_report(Path(out_dir / "report.json"))
    assert catalog.find_model(report.model) == catalog.CHEAPEST_MODEL, report.model
    assert 0 < report.cost_usd < LIVE_RUN_BUDGET_USD, out
    assert "at list price" in out and "if the real API had answered" not in out
    live_skips = [t for t in report.tests if "costs money on a live target" in t.reason]
    assert live_skips, "the *_live tests are skipped on a target that bills tokens"
    # The figure includes the tool-use system prompt (the reference server bills it like the
    # API), and the core tool checks stay in the default run: every tool_choice mode, the
    # round trip and a streamed call; the repeats and the tool modes wait for their toggle.
    verdicts = {t.nodeid.split("suite/")[-1]: t for t in report.tests}
    for core in (
        "test_tools.py::test_tool_result_round_trip",
        "test_tools.py::test_streaming_tool_use",
    ):
        assert verdicts[core].verdict == "pass", verdicts[core]
    reasons = " ".join(t.reason for t in live_skips)
    assert "add tools_live" in reasons and "add tool_modes_live" in reasons, reasons
    prompt = catalog.tool_use_prompt_tokens(report.model, None)
    assert report.input_tokens > 10 * prompt, "requests with tools bill their system prompt"
