"""Deterministic "model": a tiny tokenizer, input-token counting and the reply to a request.

Nothing here is random: the reply is a function of the (validated) request body and the seed, so
a suite run against the reference server is reproducible and cassettes can be re-recorded
identically. Replies follow a few plain instructions so the same suite prompt works on a real
model too: ``Reply with exactly: <text>`` yields exactly that text, naming a tool under
``tool_choice: auto`` calls it, a ``tool_result`` gets quoted back, enabled extended thinking
opens the reply with a short thinking block, and a final assistant message (a prefill) is
continued rather than repeated.

Token counts use one rule everywhere (``\\w+`` runs and single punctuation marks), which makes
``count_tokens`` equal the billed ``input_tokens`` and ``output_tokens`` equal the tokens of the
emitted text, by construction.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance import catalog
from conformance.reference.features import (
    citations,
    code_execution,
    server_tools,
    stops,
    structured,
    thinking,
)

_TOKEN = re.compile(r"\w+|[^\w\s]")
_EXACT = re.compile(r"Reply with exactly:[ \t]*(.*)")
_WORD = re.compile(r"[A-Za-z][\w-]*")

#: Fixed overheads, roughly the shape of the real tokenizer's framing.
BASE_TOKENS = 3
SYSTEM_OVERHEAD = 3
MESSAGE_OVERHEAD = 4
#: The framing of the ``tools`` list itself (its JSON is counted by the one rule). The tool-use
#: system prompt the API adds to every request with tools is billed on top, by model and
#: ``tool_choice``, from ``catalog.TOOL_USE_PROMPT_TOKENS`` (``tool_prompt_tokens``).
TOOLS_OVERHEAD = 10
TOOL_BLOCK_OVERHEAD = 3
IMAGE_TOKENS = 85
DOCUMENT_TOKENS = 150
#: With thinking on (``enabled`` or ``adaptive``) the API adds "a specialized system prompt"
#: (the extended-thinking docs, "Pricing"), so thinking adds input tokens. The docs do not say
#: how many: this figure is the reference server's own, not the real API's. count_tokens and the
#: bill of /v1/messages count it alike (``count_input_tokens``, ``caching.segments``).
THINKING_TOKENS = 40

_VOCABULARY = (
    "amber",
    "bright",
    "calm",
    "river",
    "lantern",
    "forest",
    "quiet",
    "harbor",
    "silver",
    "meadow",
    "copper",
    "window",
    "gentle",
    "orchard",
    "signal",
    "morning",
    "paper",
    "stone",
    "garden",
    "compass",
    "north",
    "velvet",
    "thunder",
    "maple",
    "echo",
    "island",
    "ladder",
    "candle",
    "harvest",
    "pebble",
    "violet",
    "winter",
)


def tokens(text: str) -> list[str]:
    """The tokens of ``text``: word runs and single punctuation marks."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return len(tokens(text))


def truncate_tokens(text: str, limit: int) -> str:
    """The prefix of ``text`` that holds exactly its first ``limit`` tokens."""
    if limit <= 0:
        return ""
    for i, match in enumerate(_TOKEN.finditer(text), start=1):
        if i == limit:
            return text[: match.end()]
    return text


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- input tokens ---------------------------------------------------------------------------------


def content_tokens(content: Any) -> int:
    """Tokens of a message ``content``: a string, or a list of blocks."""
    if isinstance(content, str):
        return count_tokens(content)
    if isinstance(content, list):
        return sum(block_tokens(b) for b in content if isinstance(b, dict))
    return 0


def block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return count_tokens(str(block.get("text", "")))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        source = block.get("source") or {}
        if isinstance(source, dict) and source.get("type") == "text":
            return count_tokens(str(source.get("data", "")))
        return DOCUMENT_TOKENS
    if kind == "tool_use":
        return (
            TOOL_BLOCK_OVERHEAD
            + count_tokens(str(block.get("name", "")))
            + count_tokens(_dumps(block.get("input", {})))
        )
    if kind == "tool_result":
        return TOOL_BLOCK_OVERHEAD + content_tokens(block.get("content", ""))
    if kind == "thinking":
        return count_tokens(str(block.get("thinking", "")))
    return count_tokens(_dumps(block))


def tool_prompt_tokens(body: dict[str, Any]) -> int:
    """The tool-use system prompt's tokens: on every request with ``tools``, by model and
    ``tool_choice`` (``catalog.TOOL_USE_PROMPT_TOKENS``, the tool use docs' figures).

    The docs bill it "when you use tools" without telling client tools from server tools, so a
    request with server tools only pays it too (unknown: the docs do not say). count_tokens
    counts it the same way, which keeps count_tokens equal to the bill here. Whether the real
    count_tokens includes it is not documented (the token counting docs only call the count an
    estimate that "may differ by a small amount"): assumed here because a count meant to
    forecast the bill must. Were the real count to leave it out, ``count-tokens-agrees`` would
    fail on a live run for the requests with tools (hundreds of tokens apart), which is the
    evidence to change this.
    """
    if not body.get("tools"):
        return 0
    return catalog.tool_use_prompt_tokens(str(body.get("model", "")), body.get("tool_choice"))


def count_input_tokens(body: dict[str, Any]) -> int:
    """Input tokens of a (validated) messages or count_tokens body: system, thinking's own
    system prompt, the tool-use system prompt, messages, tools. One rule for both endpoints, so
    count_tokens equals the bill (``features.caching.segments`` splits the same sum into
    cacheable segments)."""
    total = BASE_TOKENS
    system = body.get("system")
    if system:
        total += SYSTEM_OVERHEAD + content_tokens(system)
    if thinking.wants_thinking(body):
        total += THINKING_TOKENS
    total += tool_prompt_tokens(body)
    for message in body.get("messages") or []:
        total += MESSAGE_OVERHEAD + content_tokens(message.get("content"))
    tools = body.get("tools")
    if tools:
        total += TOOLS_OVERHEAD + count_tokens(_dumps(tools))
    return total


# --- reading the request ----------------------------------------------------------------------


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def last_user_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    return _blocks(users[-1].get("content")) if users else []


def prefill_text(body: dict[str, Any]) -> str:
    """The text of a final ``assistant`` message (a "prefill"), or "" when there is none.

    The API continues such a message instead of starting a new turn: the answer holds only what
    comes after the prefill.
    """
    messages = body.get("messages") or []
    if not messages or messages[-1].get("role") != "assistant":
        return ""
    return "".join(
        str(b.get("text", ""))
        for b in _blocks(messages[-1].get("content"))
        if b.get("type") == "text"
    )


def continue_prefill(answer: str, prefill: str, seed: str, body: dict[str, Any]) -> str:
    """What follows ``prefill`` when the whole answer would be ``answer``.

    When the answer starts with the prefill (verbatim, or token by token with other spacing),
    the rest of it; otherwise a deterministic sentence after a space, so prefill + continuation
    always reads as one text.
    """
    if not prefill:
        return answer
    if answer.startswith(prefill):
        return answer[len(prefill) :]
    wanted = tokens(prefill)
    found = list(_TOKEN.finditer(answer))
    if wanted and [m.group(0) for m in found[: len(wanted)]] == wanted:
        return answer[found[len(wanted) - 1].end() :]
    return " " + _sentence(seed, body)


def last_user_text(body: dict[str, Any]) -> str:
    return "\n".join(str(b.get("text", "")) for b in last_user_blocks(body) if b["type"] == "text")


def exact_instruction(text: str) -> str | None:
    """The text after the last ``Reply with exactly:`` (rest of its line), if any."""
    found = [m.group(1).strip() for m in _EXACT.finditer(text)]
    return found[-1] if found and found[-1] else None


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(
        str(b.get("text", "")) if b.get("type") == "text" else f"[{b.get('type')}]"
        for b in _blocks(content)
        if b.get("type") in ("text", "image", "document")
    )


def _sentence(seed: str, body: dict[str, Any]) -> str:
    """A deterministic sentence derived from a hash of the conversation."""
    key = _dumps([seed, body.get("system"), body.get("messages")])
    digest = hashlib.sha256(key.encode()).digest()
    count = 6 + digest[0] % 5
    words = [_VOCABULARY[b % len(_VOCABULARY)] for b in digest[1 : 1 + count]]
    return " ".join(words).capitalize() + "."


def prompt_word(text: str, exclude: set[str]) -> str:
    """A word to fill string tool inputs: the first capitalised word not opening a sentence."""
    for match in _WORD.finditer(text):
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".?!:\n":
            continue
        word = match.group(0)
        if word[0].isupper() and word not in exclude:
            return word
    return "example"


def example_value(schema: Any, word: str, depth: int = 0) -> Any:
    """A value satisfying the simple JSON Schema ``schema``: the tool input the model fills."""
    if not isinstance(schema, dict) or depth > 6:
        return word
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return example_value(options[0], word, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        return [example_value(schema.get("items", {}), word, depth + 1)]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        value = {k: example_value(v, word, depth + 1) for k, v in props.items()}
        for name in schema.get("required") or []:
            value.setdefault(name, word)
        return value
    return word


# --- the reply ------------------------------------------------------------------------------------


@dataclass
class Reply:
    """The generated assistant turn, before it is wrapped into a Message."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    output_tokens: int = 0
    stop_details: dict[str, Any] | None = None
    server_tool_use: dict[str, int] | None = None


def _custom_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body.get("tools") or [] if t.get("type") in (None, "custom")]


def _chosen_tool(body: dict[str, Any], text: str, has_results: bool) -> dict[str, Any] | None:
    tools = _custom_tools(body)
    choice = body.get("tool_choice") or {"type": "auto"}
    if not tools or choice.get("type") == "none":
        return None
    if choice.get("type") == "any":
        return tools[0]
    if choice.get("type") == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), None)
    if has_results:  # auto after a tool_result: answer with text
        return None
    return next((t for t in tools if str(t.get("name")) in text), None)


def _parallel_tools(body: dict[str, Any], text: str, first: dict[str, Any]) -> list[dict[str, Any]]:
    """Under ``auto``, every tool the prompt names is called in one turn (parallel tool use),
    unless ``disable_parallel_tool_use`` asks for at most one call."""
    choice = body.get("tool_choice") or {"type": "auto"}
    if choice.get("type") != "auto" or choice.get("disable_parallel_tool_use"):
        return [first]
    named = [t for t in _custom_tools(body) if str(t.get("name")) in text]
    return named if first in named else [first]


def _answer_text(body: dict[str, Any], seed: str, text: str) -> str:
    exact = exact_instruction(text)
    if exact is not None:
        return exact
    blocks = last_user_blocks(body)
    results = [b for b in blocks if b.get("type") == "tool_result"]
    if results:
        quoted = "; ".join(_result_text(r.get("content", "")) for r in results)
        verb = "reported an error" if any(r.get("is_error") for r in results) else "returned"
        return f'The tool {verb}: "{quoted}".'
    images = [b for b in blocks if b.get("type") == "image"]
    if images:
        source = images[0].get("source") or {}
        kind = source.get("media_type") or "linked"
        return f"I see an {kind} image. {_sentence(seed, body)}"
    return _sentence(seed, body)


def tool_use_tokens(block: dict[str, Any]) -> int:
    return (
        TOOL_BLOCK_OVERHEAD
        + count_tokens(str(block["name"]))
        + count_tokens(_dumps(block["input"]))
    )


def generate(
    body: dict[str, Any],
    seed: str,
    tool_id: Callable[[int], str],
    sandbox: code_execution.Sandbox | None = None,
) -> Reply:
    """The reply to a validated messages body; ``tool_id(i)`` mints the id of content block i;
    ``sandbox`` is the server state code execution runs against (none: it does not run)."""
    text = last_user_text(body)
    forced_stop = stops.triggered(text)
    if forced_stop is not None:  # a test-only trigger (features.stops)
        reply = _fit(forced_stop.content, int(body["max_tokens"]), [])
        reply.stop_reason, reply.stop_details = forced_stop.reason, forced_stop.details
        reply.output_tokens = reply.output_tokens if forced_stop.content else 0
        return reply
    searched = (
        server_tools.turn(body, text, tool_id, sandbox)
        if exact_instruction(text) is None and not prefill_text(body)
        else None
    )
    if searched is not None:  # the server tool runs within the turn (features.server_tools)
        return _fit(searched, int(body["max_tokens"]), list(body.get("stop_sequences") or []))
    has_results = any(b.get("type") == "tool_result" for b in last_user_blocks(body))
    tool = _chosen_tool(body, text, has_results)
    forced = (body.get("tool_choice") or {}).get("type") in ("any", "tool")
    planned: list[dict[str, Any]] = []
    if thinking.wants_thinking(body):
        planned.append(_thinking_block(body, seed, text))
    if tool is None or not forced:
        answer = _answer_text(body, seed, text)
        if tool is not None and exact_instruction(text) is None:
            answer = " and ".join(str(t["name"]) for t in _parallel_tools(body, text, tool))
            answer = f"I'll use the {answer} tool{'s' if ' and ' in answer else ''}."
        schema = catalog.output_schema(body)
        if schema is not None and tool is None:  # the whole text answer follows the schema
            answer = structured.answer_text(example_value(schema, prompt_word(text, set())))
        answer = continue_prefill(answer, prefill_text(body), seed, body)
        cited = (
            citations.cited_answer(body)
            if tool is None
            and not prefill_text(body)
            and exact_instruction(text) is None
            and schema is None
            else None
        )
        if cited is not None:
            planned += cited
        elif answer:  # a prefill that already holds the whole answer leaves nothing to add
            planned.append({"type": "text", "text": answer})
    if tool is not None:
        names = {str(t.get("name")) for t in _custom_tools(body)}
        word = prompt_word(text, names)
        for called in _parallel_tools(body, text, tool):
            tool_input = example_value(called.get("input_schema") or {}, word)
            planned.append(
                {
                    "type": "tool_use",
                    "id": tool_id(len(planned)),
                    "name": called["name"],
                    "input": tool_input if isinstance(tool_input, dict) else {},
                }
            )
    return _fit(planned, int(body["max_tokens"]), list(body.get("stop_sequences") or []))


def _thinking_block(body: dict[str, Any], seed: str, text: str) -> dict[str, Any]:
    """A short, deterministic thinking block with a signature the server can verify (or
    redacted_thinking on the trigger prompt): ``features.thinking``."""
    thought = (
        f"The user wrote {count_tokens(text)} tokens. "
        "I should follow their instructions and answer briefly."
    )
    return thinking.block(body, seed, text, thought)


def _fit(planned: list[dict[str, Any]], max_tokens: int, stops: list[str]) -> Reply:
    """Apply stop sequences and the max_tokens budget to the planned blocks."""
    last = planned[-1]["type"] if planned else None
    reply = Reply(stop_reason="tool_use" if last == "tool_use" else "end_turn")
    used = 0
    for block in planned:
        if block["type"] == "tool_use":
            cost = tool_use_tokens(block)
            if used + cost > max_tokens:
                reply.stop_reason, used = "max_tokens", max_tokens
                break
            reply.content.append(block)
            used += cost
            continue
        if block["type"] in server_tools.SERVER_BLOCKS:  # run by the server: never cut
            reply.content.append(block)
            used += count_tokens(_dumps(block.get("input", {})))
            continue
        if block["type"] == "redacted_thinking":
            reply.content.append(block)
            used += count_tokens(block["data"][:64])  # opaque: a fixed share of the budget
            continue
        if block["type"] == "thinking":
            cost = count_tokens(block["thinking"])
            if used + cost > max_tokens:
                cut = truncate_tokens(block["thinking"], max_tokens - used)
                reply.content.append({**block, "thinking": cut})
                reply.stop_reason, used = "max_tokens", max_tokens
                break
            reply.content.append(block)
            used += cost
            continue
        text = block["text"]
        hits = [(text.find(s), s) for s in stops if s and s in text]
        if hits:
            pos, seq = min(hits)
            text, reply.stop_reason, reply.stop_sequence = text[:pos], "stop_sequence", seq
        cost = count_tokens(text)
        if used + cost > max_tokens:
            text = truncate_tokens(text, max_tokens - used)
            reply.content.append({"type": "text", "text": text})
            reply.stop_reason, reply.stop_sequence, used = "max_tokens", None, max_tokens
            break
        if block.get("citations") and text == block["text"]:  # a cut quote loses its citation
            reply.content.append({"type": "text", "text": text, "citations": block["citations"]})
        else:
            reply.content.append({"type": "text", "text": text})
        used += cost
        if reply.stop_sequence is not None:
            break
    reply.output_tokens = max(used, 1)
    reply.server_tool_use = server_tools.usage(reply.content)
    return reply
