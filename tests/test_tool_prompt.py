"""The tool-use system prompt: the reference server bills it on every request with tools, by
model and ``tool_choice`` (``catalog.TOOL_USE_PROMPT_TOKENS``), counts it in count_tokens alike,
caches it as the docs say; and a proxy in front of the reference server bills nothing, so its
author runs the costly tool tests by default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from suite_args import suite

from conformance import catalog
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer, generator
from conformance.reference.features import caching
from conformance.settings import OPTIONS, Settings
from conformance.suite._data import WEATHER_TOOL
from conformance.target import resolve

CHOICES: dict[str, dict[str, Any] | None] = {
    "absent": None,
    "auto": {"type": "auto"},
    "none": {"type": "none"},
    "any": {"type": "any"},
    "tool": {"type": "tool", "name": WEATHER_TOOL["name"]},
}


def _body(model: str, choice: dict[str, Any] | None, *, tools: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Do not use any tool. The city is Paris."}],
    }
    if tools:
        body["tools"] = [WEATHER_TOOL]
    if choice is not None:
        body["tool_choice"] = choice
    return body


@pytest.fixture(scope="module")
def client() -> Iterator[anthropic.Anthropic]:
    with EmbeddedServer() as server:
        yield anthropic.Anthropic(base_url=server.url, api_key=DEFAULT_API_KEY, max_retries=0)


def test_every_model_has_a_tool_prompt_row() -> None:
    assert set(catalog.TOOL_USE_PROMPT_TOKENS) == {m.id for m in catalog.MODELS}
    for auto, forced in catalog.TOOL_USE_PROMPT_TOKENS.values():
        assert auto > 0 and forced > 0


def test_the_table_answers_by_alias_choice_and_unknown_model() -> None:
    haiku = catalog.find_model("claude-haiku-4-5")
    assert haiku is not None
    auto, forced = catalog.TOOL_USE_PROMPT_TOKENS[haiku.id]
    assert catalog.tool_use_prompt_tokens(haiku.alias, None) == auto
    assert catalog.tool_use_prompt_tokens(haiku.id, {"type": "none"}) == auto
    assert catalog.tool_use_prompt_tokens(haiku.alias, {"type": "tool", "name": "x"}) == forced
    largest = max(max(f) for f in catalog.TOOL_USE_PROMPT_TOKENS.values())
    assert catalog.tool_use_prompt_tokens("claude-unknown-9", {"type": "any"}) == largest


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK warns of old models
@pytest.mark.parametrize("model", [m.alias for m in catalog.MODELS])
@pytest.mark.parametrize("choice", CHOICES)
def test_the_bill_and_the_count_carry_the_tool_prompt(
    client: anthropic.Anthropic, model: str, choice: str
) -> None:
    """What the tools add to the bill is their JSON plus the prompt of this model and choice;
    count_tokens says the same, so ``count-tokens-agrees`` holds on the reference server."""
    body = _body(model, CHOICES[choice])
    billed = client.messages.create(**body).usage.input_tokens
    counted = client.messages.count_tokens(
        **{k: v for k, v in body.items() if k != "max_tokens"}
    ).input_tokens
    without = client.messages.create(**_body(model, None, tools=False)).usage.input_tokens
    tools_json = generator.TOOLS_OVERHEAD + generator.count_tokens(generator._dumps([WEATHER_TOOL]))
    prompt = catalog.tool_use_prompt_tokens(model, CHOICES[choice])
    assert billed == counted == without + tools_json + prompt, (model, choice)


def test_a_changed_tool_choice_keeps_the_tools_cache_and_misses_the_messages() -> None:
    """The caching docs: a change of tool_choice invalidates cached message blocks only."""
    model = catalog.find_model(catalog.DEFAULT_MODEL)
    assert model is not None
    long = " ".join(f"w{i % 97}" for i in range(catalog.min_cacheable_tokens(model.id) + 50))
    ephemeral = {"type": "ephemeral"}
    tool = {**WEATHER_TOOL, "description": long, "cache_control": ephemeral}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": long, "cache_control": ephemeral}]}
    ]
    base = {"model": model.id, "max_tokens": 16, "tools": [tool], "messages": messages}
    cache: dict[str, Any] = {}
    first = caching.apply({**base, "tool_choice": {"type": "auto"}}, model, cache)
    assert first.created > 0 and first.read == 0
    forced = {**base, "tool_choice": {"type": "any"}}
    second = caching.apply(forced, model, cache)
    tools_only = caching.segments(forced)[0].tokens
    assert second.read == tools_only, "the cached tools are read"
    assert second.created > 0, "the message prefix is written again under the new tool_choice"
    assert sum(s.tokens for s in caching.segments(forced)) == generator.count_input_tokens(forced)


# --- a proxy in front of the reference server bills nothing ---------------------------------------


def test_a_proxy_with_the_reference_upstream_bills_nothing() -> None:
    proxy = {"base_url": "http://127.0.0.1:1", "api_key": "k"}
    assert resolve(Settings.model_validate(proxy)).bills_tokens
    behind = resolve(Settings.model_validate({**proxy, "upstream_url": "http://127.0.0.1:2"}))
    assert behind.upstream is not None and not behind.bills_tokens
    # the real API is never a proxy in front of our server, whatever the settings say
    live = resolve(Settings.model_validate({"api_key": "k"}))
    assert live.bills_tokens


def test_the_costly_tool_tests_run_by_default_behind_the_reference_upstream(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference server stands in for the proxy and is its own upstream: the target bills
    nothing, so the ``tools_live`` / ``tool_modes_live`` tests run without being named; without
    the upstream the same run skips them with their cost."""
    for option in OPTIONS:
        if option.env:
            monkeypatch.delenv(option.env, raising=False)
    with EmbeddedServer() as server:
        common = (
            *suite("test_tools", "test_tool_modes"),
            "-q",
            "-p",
            "no:randomly",
            f"--anthropic-base-url={server.url}",
            f"--anthropic-api-key={DEFAULT_API_KEY}",
            "--anthropic-report-dir=none",
            "-rs",
        )
        behind = pytester.runpytest(*common, f"--anthropic-upstream-url={server.url}")
        alone = pytester.runpytest(*common)
    out = behind.stdout.str()
    assert behind.ret == pytest.ExitCode.OK, out
    assert "costs money on a live target" not in out, out
    behind.assert_outcomes(passed=13)
    skipped = alone.stdout.str()
    alone.assert_outcomes(passed=2, skipped=11)
    assert "add tools_live" in skipped and "add tool_modes_live" in skipped, skipped
    assert "$0.003" in skipped and "$0.008" in skipped, skipped
