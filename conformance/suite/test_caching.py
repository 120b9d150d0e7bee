"""Prompt caching: ``cache_control`` breakpoints on system, tools and message blocks.

The cheap tests run everywhere: every answer of today's API carries the cache usage fields (a
proxy that drops them breaks cost dashboards), breakpoints are accepted in each place, a prefix
below the model's minimum cacheable length is not cached, and a fifth breakpoint is refused.
Writing and then reading a real cache entry needs a prefix above that minimum (4,096 tokens on
claude-haiku-4-5), so on a live target it runs only with ``caching_live``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conformance import catalog
from conformance.api import Api
from conformance.checks.caching import cache_accounting_findings, check_cache_fields
from conformance.exchange import raise_for_findings
from conformance.settings import Settings
from conformance.suite._data import WEATHER_TOOL
from conformance.suite._live import require_live_toggle
from conformance.target import RunTarget

pytestmark = pytest.mark.feature("caching")

EPHEMERAL: dict[str, Any] = {"type": "ephemeral"}
PROMPT = "Reply with exactly: cached"
#: Short common words: one token each on the real tokenizer, and small cassettes.
_WORDS = (
    "cat",
    "dog",
    "sun",
    "map",
    "red",
    "box",
    "tea",
    "pen",
    "cup",
    "hat",
    "sky",
    "oak",
    "fox",
    "bee",
    "owl",
    "ink",
)


def _long_text(run_id: str, tokens: int) -> str:
    """Plain words, about one token each on the real tokenizer; the run id makes the prefix
    unique, so a run never reads a cache entry an earlier run wrote."""
    words = [f"Reference notes {run_id}."]
    words += [_WORDS[(i * 7 + i // 16) % len(_WORDS)] for i in range(tokens)]
    return " ".join(words)


def _placed(where: str, text: str, control: dict[str, Any]) -> dict[str, Any]:
    """Request fields with ``text`` behind a breakpoint in ``where``."""
    if where == "system":
        return {
            "system": [{"type": "text", "text": text, "cache_control": control}],
            "messages": [{"role": "user", "content": PROMPT}],
        }
    if where == "tools":
        tool = {**copy.deepcopy(WEATHER_TOOL), "description": text, "cache_control": control}
        return {"tools": [tool], "messages": [{"role": "user", "content": PROMPT}]}
    return {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": text, "cache_control": control},
                    {"type": "text", "text": PROMPT},
                ],
            }
        ]
    }


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_cache_usage_fields_present(api: Api, stream: bool) -> None:
    ex = api.create_message(PROMPT, max_tokens=8, stream=stream)
    api.expect(ex)
    raise_for_findings(check_cache_fields(ex), "an answer without caching")


@pytest.mark.parametrize("where", ["system", "tools", "message"])
def test_breakpoint_below_minimum_is_not_cached(api: Api, where: str) -> None:
    fields = _placed(
        where, "A short note that is far below any minimum cacheable length.", EPHEMERAL
    )
    ex = api.call("messages.create", api.message_body(max_tokens=8, **fields))
    message = api.expect(ex)
    raise_for_findings(check_cache_fields(ex), f"a breakpoint on {where}")
    usage = message["usage"]
    assert (usage["cache_creation_input_tokens"], usage["cache_read_input_tokens"]) == (0, 0), (
        f"a prefix shorter than {catalog.min_cacheable_tokens(api.model)} tokens is processed "
        f"without caching, but usage says {usage}"
    )


@pytest.mark.feature("errors")
def test_fifth_breakpoint_rejected(api: Api) -> None:
    content = [{"type": "text", "text": f"Part {i}.", "cache_control": EPHEMERAL} for i in range(5)]
    ex = api.create_message(
        messages=[{"role": "user", "content": [*content, {"type": "text", "text": PROMPT}]}],
        max_tokens=8,
    )
    body = api.expect_error(ex, 400)
    assert "cache_control" in body["error"]["message"], body


@pytest.mark.parametrize(("where", "ttl"), [("system", "5m"), ("tools", "1h"), ("message", "5m")])
def test_cache_write_then_read(
    api: Api,
    conformance_settings: Settings,
    conformance_target: RunTarget,
    conformance_run_id: str,
    where: str,
    ttl: str,
) -> None:
    require_live_toggle(conformance_target, conformance_settings, "caching_live")
    minimum = catalog.min_cacheable_tokens(api.model)
    fields = _placed(
        where,
        _long_text(conformance_run_id, minimum + minimum // 4),
        {"type": "ephemeral", "ttl": ttl},
    )
    request = api.message_body(max_tokens=8, **fields)
    first_ex = api.call("messages.create", request)
    first = api.expect(first_ex)["usage"]
    raise_for_findings(
        cache_accounting_findings(first, written=minimum, ttl=ttl, request_id=first_ex.request_id),
        "the first request (cache write)",
    )
    second_ex = api.call("messages.create", request)
    second = api.expect(second_ex)["usage"]
    raise_for_findings(
        cache_accounting_findings(
            second, read=first["cache_creation_input_tokens"], request_id=second_ex.request_id
        ),
        "the second request (cache read)",
    )
    assert second["input_tokens"] == first["input_tokens"] < minimum, (
        "input_tokens counts only what follows the breakpoint, the same on write and read: "
        f"{first['input_tokens']} then {second['input_tokens']}"
    )
