"""Prompt caching: ``cache_control`` breakpoints, cache writes and reads, the usage they yield.

The prompt is cut into segments in the order the API caches it (tools, then system, then
messages), each carrying its tokens by the generator's one counting rule, so the segments add up
to ``generator.count_input_tokens`` exactly. A breakpoint caches the prefix up to and including
its segment when that prefix holds at least the model's minimum cacheable length
(``catalog.MIN_CACHEABLE_TOKENS``). A later request whose prefix up to a breakpoint is identical
(same model, same segments) reads it. Like the real API, ``input_tokens`` then counts only what
was neither read nor written (api-contract.md §2; recorded answers show ``input_tokens: 2`` next
to ``cache_read_input_tokens: 1590``).

Not modelled, because this server never forgets: entries do not expire after their TTL, and the
API's 20-block lookback before a breakpoint is not applied (a hit needs a breakpoint at the same
place). The order rule of mixed TTLs (1h entries before 5m ones) is not enforced here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from conformance import catalog
from conformance.reference import generator
from conformance.reference.errors import invalid
from conformance.reference.features import thinking

#: The API's limit on explicit breakpoints in one request.
MAX_BREAKPOINTS = 4
TTLS = ("5m", "1h")
DEFAULT_TTL = "5m"
#: The state store holding cached prefixes: key -> ttl.
STORE = "prompt_cache"


@dataclass(frozen=True)
class Segment:
    """One cacheable unit of the prompt: a tool, a system block or a message content block."""

    tokens: int
    payload: Any
    ttl: str | None  # the breakpoint's TTL when the unit carries cache_control


@dataclass(frozen=True)
class CacheUsage:
    """What caching did to one request's input tokens."""

    input_tokens: int
    read: int = 0
    created_5m: int = 0
    created_1h: int = 0

    @property
    def created(self) -> int:
        return self.created_5m + self.created_1h


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_cache_control(value: Any, path: str) -> str:
    """Validate one ``cache_control`` object; returns its TTL."""
    if not isinstance(value, dict):
        raise invalid(f"{path}: Input should be a valid dictionary")
    if value.get("type") != "ephemeral":
        raise invalid(f"{path}.type: Input should be 'ephemeral'")
    ttl = value.get("ttl", DEFAULT_TTL)
    if ttl not in TTLS:
        raise invalid(f"{path}.ttl: Input should be '5m' or '1h'")
    for key in value:
        if key not in ("type", "ttl"):
            raise invalid(f"{path}.{key}: Extra inputs are not permitted")
    return str(ttl)


def _key(unit: Any) -> Any:
    """What a segment contributes to the cache key: a string content is the text block it stands
    for, and where the breakpoint sits (cache_control itself) is not content."""
    if isinstance(unit, str):
        return {"type": "text", "text": unit}
    if isinstance(unit, dict):
        return {k: v for k, v in unit.items() if k != "cache_control"}
    return unit


def _ttl(unit: Any) -> str | None:
    control = unit.get("cache_control") if isinstance(unit, dict) else None
    return str(control.get("ttl", DEFAULT_TTL)) if isinstance(control, dict) else None


def segments(body: dict[str, Any]) -> list[Segment]:
    """The prompt as cacheable segments, in cache order; their tokens sum to the input tokens."""
    out: list[Segment] = []
    extra = generator.BASE_TOKENS  # framing tokens, carried by the first segment

    def add(tokens: int, payload: Any, ttl: str | None) -> None:
        nonlocal extra
        out.append(Segment(tokens + extra, payload, ttl))
        extra = 0

    tools = body.get("tools") or []
    for i, tool in enumerate(tools):
        # dumps(list) is "[" + ",".join(dumps(tool)) + "]": brackets and commas are one token each
        framing = generator.TOOLS_OVERHEAD + 2 if i == 0 else 1
        add(
            framing + generator.count_tokens(generator._dumps(tool)),
            ["tool", _key(tool)],
            _ttl(tool),
        )
    system = body.get("system")
    if system:
        extra += generator.SYSTEM_OVERHEAD
        if isinstance(system, str):
            add(generator.count_tokens(system), ["system", _key(system)], None)
        else:
            for block in system:
                add(generator.content_tokens([block]), ["system", _key(block)], _ttl(block))
    # Thinking's own system prompt comes after tools and system: changing the thinking
    # parameters invalidates cached message prefixes (so the config joins the first message's
    # key) and leaves cached tools and system alone.
    thought = thinking.wants_thinking(body)
    if thought:
        extra += generator.THINKING_TOKENS
    # The tool-use system prompt depends on tool_choice, which the caching docs say invalidates
    # cached message blocks only ("What invalidates the cache"): it sits here too, and the
    # choice joins the first message's key. Where the API really places it is not documented.
    tool_prompt = generator.tool_prompt_tokens(body)
    extra += tool_prompt
    choice: list[Any] = (
        [["tool_choice", body.get("tool_choice") or {"type": "auto"}]] if tool_prompt else []
    )
    for message in body.get("messages") or []:
        extra += generator.MESSAGE_OVERHEAD
        content = message.get("content")
        role = message.get("role")
        first: list[Any] = [["thinking", body["thinking"]]] if thought else []
        first += choice
        thought, choice = False, []
        if isinstance(content, list) and content:
            for block in content:
                add(generator.content_tokens([block]), [*first, role, _key(block)], _ttl(block))
                first = []
        else:
            add(generator.content_tokens(content), [*first, role, _key(content)], None)
    if extra and out:  # an empty prompt cannot happen after validation; keep the sum exact
        last = out[-1]
        out[-1] = Segment(last.tokens + extra, last.payload, last.ttl)
    return out


def validate(body: dict[str, Any]) -> None:
    """The breakpoints of a request are well formed and at most ``MAX_BREAKPOINTS``."""
    found = 0
    if "cache_control" in body:  # automatic caching: the API places the breakpoint itself
        check_cache_control(body["cache_control"], "cache_control")
    for i, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict) and "cache_control" in tool:
            check_cache_control(tool["cache_control"], f"tools.{i}.cache_control")
            found += 1
    system = body.get("system")
    if isinstance(system, list):
        for i, block in enumerate(system):
            if isinstance(block, dict) and "cache_control" in block:
                check_cache_control(block["cache_control"], f"system.{i}.cache_control")
                found += 1
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else []):
            if isinstance(block, dict) and "cache_control" in block:
                check_cache_control(
                    block["cache_control"], f"messages.{i}.content.{j}.cache_control"
                )
                found += 1
    if found > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be "
            f"provided. Found {found}."
        )


def apply(body: dict[str, Any], model: catalog.Model, cache: dict[str, Any]) -> CacheUsage:
    """Read and write ``cache`` for a validated messages ``body``; the usage that results."""
    segs = segments(body)
    total = sum(s.tokens for s in segs)
    breakpoints = {i: s.ttl for i, s in enumerate(segs) if s.ttl is not None}
    automatic = _ttl(body)
    if automatic is not None and segs:
        breakpoints.setdefault(len(segs) - 1, automatic)
    if not breakpoints:
        return CacheUsage(total)
    minimum = catalog.min_cacheable_tokens(model.id)
    digest = hashlib.sha256(model.id.encode())
    prefix, keys, sums = 0, [], []
    for seg in segs:
        digest.update(_dumps(seg.payload).encode() + b"\x1e")
        prefix += seg.tokens
        keys.append(digest.hexdigest())
        sums.append(prefix)
    eligible = [i for i in sorted(breakpoints) if sums[i] >= minimum]
    hits = [i for i in eligible if keys[i] in cache]
    read = sums[hits[-1]] if hits else 0
    done = read
    created = {"5m": 0, "1h": 0}
    for i in eligible:
        if sums[i] <= done:
            continue
        created[breakpoints[i]] += sums[i] - done
        done = sums[i]
        cache[keys[i]] = breakpoints[i]
    return CacheUsage(total - done, read, created["5m"], created["1h"])
