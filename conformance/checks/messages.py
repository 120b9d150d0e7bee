"""Semantic checks of ``POST /v1/messages`` answers, streamed and not.

What a JSON Schema cannot say: the order of the SSE events, which delta fits which block, that
the tool-input fragments join to JSON, that stop fields agree with each other and with the
request, and that token counts add up. Stream pointers go into the event list
(``/events/<i>/...``); pointers under ``/accumulated`` go into the message folded from the stream
by ``conformance.sse.accumulate``.

Each ``check_*`` takes an ``Exchange``; the ``*_findings`` helpers take plain values (a list of
events, a message dict) so they can be reused on data that did not come from one exchange.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conformance.checks._registry import check, streams, success
from conformance.checks.common import (
    describe_type,
    error_envelope_findings,
    escape,
    finding,
    is_count,
)
from conformance.exchange import Exchange, Finding, SseEvent
from conformance.sse import AccumulationError, accumulate

SSE_GRAMMAR = "sse-grammar"
DELTA_TYPES = "delta-types"
INPUT_JSON = "input-json"
STREAM_ACCUMULATES = "stream-accumulates"
FINAL_USAGE = "final-usage"
STOP_FIELDS = "stop-fields"
MAX_TOKENS = "max-tokens"
USAGE_ARITHMETIC = "usage-arithmetic"

#: The endpoint whose answers are messages.
_MESSAGES = ("messages.create",)

_BLOCK_EVENTS = frozenset({"content_block_start", "content_block_delta", "content_block_stop"})
#: Block type -> the delta types it may receive. Blocks missing here get no delta check.
ALLOWED_DELTAS: dict[str, frozenset[str]] = {
    "text": frozenset({"text_delta", "citations_delta"}),
    "tool_use": frozenset({"input_json_delta"}),
    "server_tool_use": frozenset({"input_json_delta"}),
    "thinking": frozenset({"thinking_delta", "signature_delta"}),
    "redacted_thinking": frozenset(),
}
_KNOWN_DELTAS = frozenset().union(*ALLOWED_DELTAS.values())
_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use"})


#: Blocks the model writes in one sampling pass; any other block means the server ran more
#: rounds itself (server tools, compaction) and summed their usage into one message.
_ONE_PASS_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "tool_use"})


def _server_side(block: dict[str, Any]) -> bool:
    return block.get("type") not in _ONE_PASS_BLOCKS


def _payload(ev: SseEvent) -> dict[str, Any]:
    return ev.json if isinstance(ev.json, dict) else {}


def _index(payload: dict[str, Any]) -> int | None:
    index = payload.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else None


def _has_error_event(events: Sequence[SseEvent]) -> bool:
    return any(ev.type == "error" for ev in events)


def _events(exchange: Exchange) -> list[SseEvent]:
    """The events of a stream (the ``streams`` guard has made sure there are some)."""
    return exchange.events or []


# --- sse-grammar ----------------------------------------------------------------------------------

_GRAMMAR_RULE = (
    "message_start, then per block content_block_start / content_block_delta* / "
    "content_block_stop (indexes 0, 1, ...), then message_delta+, then message_stop; "
    "ping anywhere; error may end the stream"
)


def sse_grammar_findings(  # noqa: C901 - one state machine over the stream, kept whole
    events: Sequence[SseEvent], request_id: str | None = None
) -> list[Finding]:
    """The ways ``events`` break the order of a message stream (api-contract.md §3).

    Unknown event types are skipped (the API may add some within a version); ``ping`` may come
    anywhere; an ``error`` event may end the stream early, and must then carry the envelope.
    """
    out: list[Finding] = []

    def bad(i: int, message: str, value: Any, at: str = "", rule: str = _GRAMMAR_RULE) -> None:
        out.append(
            finding(
                SSE_GRAMMAR,
                message,
                pointer=f"/events/{i}{at}",
                rule=rule,
                value=value,
                request_id=request_id,
            )
        )

    started = False  # message_start seen
    early = False  # a known event came before message_start (reported once)
    deltas = 0  # message_delta events seen
    ended: str | None = None  # "message_stop" or "error" once the stream is over
    next_block = 0  # index the next content_block_start must carry
    open_block: int | None = None
    begun: set[int] = set()
    stopped: set[int] = set()
    for i, ev in enumerate(events):
        if ev.json is None:
            if ev.data.strip() == "[DONE]":  # the mistake of a proxy translating from OpenAI
                bad(
                    i,
                    "data: [DONE] is the OpenAI end-of-stream sentinel; an Anthropic stream "
                    "ends with message_stop and sends nothing after it",
                    ev.data,
                    "/data",
                    "each data line is JSON; nothing follows message_stop",
                )
                continue
            bad(
                i,
                f"the data of event {ev.event!r} is not JSON",
                ev.data,
                "/data",
                "each data line is JSON",
            )
            continue
        payload = _payload(ev)
        json_type = payload.get("type")
        if isinstance(json_type, str) and json_type != ev.event:
            bad(
                i,
                f"the event: line says {ev.event!r} but the JSON type is {json_type!r}",
                json_type,
                "/type",
                "the event: name equals the JSON type",
            )
        kind = ev.type
        if kind == "ping":
            continue
        if ended is not None:
            bad(i, f"{kind} arrived after the stream had ended with {ended}", kind)
            continue
        if kind == "error":
            out += error_envelope_findings(
                payload, None, pointer=f"/events/{i}", request_id=request_id
            )
            ended = "error"
            continue
        if kind not in _BLOCK_EVENTS | {"message_start", "message_delta", "message_stop"}:
            continue  # an event type added after this suite was written
        if kind == "message_start":
            if started:
                bad(i, "a second message_start; a stream has exactly one, first", kind)
            elif early:
                bad(i, "message_start is not the first event", kind)
            started = True
            continue
        if not started and not early:
            bad(i, f"{kind} arrived before message_start", kind)
        early = early or not started  # report the missing start once, then check the rest
        if kind in _BLOCK_EVENTS:
            index = _index(payload)
            if index is None:
                bad(
                    i,
                    f"{kind} needs an integer index, got {describe_type(payload.get('index'))}",
                    payload.get("index"),
                    "/index",
                )
                continue
            if deltas:
                bad(
                    i,
                    f"{kind} for block {index} arrived after message_delta; every block "
                    "must be stopped before the first message_delta",
                    kind,
                )
            if kind == "content_block_start":
                if open_block is not None:
                    bad(
                        i,
                        f"content_block_start for block {index} while block {open_block} is "
                        "still open (no content_block_stop)",
                        index,
                        "/index",
                    )
                if index != next_block:
                    bad(
                        i,
                        f"content_block_start has index {index}, expected {next_block} "
                        "(indexes start at 0 and go up by one)",
                        index,
                        "/index",
                    )
                open_block, next_block = index, max(next_block, index + 1)
                begun.add(index)
            elif index != open_block:
                state = (
                    "was already stopped"
                    if index in stopped
                    else "was never started"
                    if index not in begun
                    else "is not the open block"
                )
                what = "delta" if kind == "content_block_delta" else "content_block_stop"
                bad(
                    i,
                    f"{what} for block {index}, which {state}"
                    + (f" (open block: {open_block})" if open_block is not None else ""),
                    index,
                    "/index",
                )
            elif kind == "content_block_stop":
                open_block = None
                stopped.add(index)
            continue
        if kind == "message_delta":
            if open_block is not None:
                bad(
                    i,
                    f"message_delta arrived while block {open_block} was still open "
                    "(its content_block_stop must come first)",
                    kind,
                )
            deltas += 1
            continue
        # message_stop
        if not deltas:
            bad(
                i,
                "message_stop without a message_delta before it (the stop_reason and final "
                "usage travel in message_delta)",
                kind,
            )
        if open_block is not None:
            bad(i, f"message_stop while block {open_block} is still open", kind)
        ended = "message_stop"
    if not events:
        out.append(
            finding(
                SSE_GRAMMAR,
                "the stream has no events at all",
                pointer="/events",
                rule=_GRAMMAR_RULE,
                request_id=request_id,
            )
        )
        return out
    if not started and not early:
        out.append(
            finding(
                SSE_GRAMMAR,
                "the stream has no message_start event",
                pointer="/events",
                rule=_GRAMMAR_RULE,
                request_id=request_id,
            )
        )
    if ended is None:
        last = len(events) - 1
        extra = f"; block {open_block} was left open" if open_block is not None else ""
        out.append(
            finding(
                SSE_GRAMMAR,
                f"the stream ended without message_stop (last event: "
                f"{events[last].type} at /events/{last}){extra}",
                pointer="/events",
                rule=_GRAMMAR_RULE,
                value=events[last].type,
                request_id=request_id,
            )
        )
    return out


@check(SSE_GRAMMAR, endpoints=_MESSAGES, applies=success & streams)
def check_sse_grammar(exchange: Exchange) -> list[Finding]:
    """The events of a streamed message come in the documented order."""
    return sse_grammar_findings(_events(exchange), exchange.request_id)


# --- delta-types ----------------------------------------------------------------------------------


def delta_types_findings(
    events: Sequence[SseEvent], request_id: str | None = None
) -> list[Finding]:
    """Each ``content_block_delta`` fits its block: text gets text, tool input gets JSON, ...

    Unknown delta types and unknown block types are tolerated: both may be added.
    """
    out: list[Finding] = []
    block_types: dict[int, str] = {}
    for i, ev in enumerate(events):
        payload = _payload(ev)
        index = _index(payload)
        if index is None:
            continue
        if ev.type == "content_block_start":
            block = payload.get("content_block")
            if isinstance(block, dict) and isinstance(block.get("type"), str):
                block_types[index] = block["type"]
        elif ev.type == "content_block_delta":
            delta = payload.get("delta")
            dtype = delta.get("type") if isinstance(delta, dict) else None
            btype = block_types.get(index)
            if btype not in ALLOWED_DELTAS or dtype not in _KNOWN_DELTAS:
                continue
            allowed = ALLOWED_DELTAS[btype]
            if dtype not in allowed:
                want = ", ".join(sorted(allowed)) or "no deltas at all"
                out.append(
                    finding(
                        DELTA_TYPES,
                        f"block {index} is a {btype} block, which takes {want}; got {dtype}",
                        pointer=f"/events/{i}/delta/type",
                        rule=f"a {btype} block only receives {want}",
                        value=dtype,
                        request_id=request_id,
                    )
                )
    return out


@check(DELTA_TYPES, endpoints=_MESSAGES, applies=success & streams)
def check_delta_types(exchange: Exchange) -> list[Finding]:
    """Each content_block_delta of a stream fits the type of its block."""
    return delta_types_findings(_events(exchange), exchange.request_id)


# --- input-json -----------------------------------------------------------------------------------


def input_json_findings(events: Sequence[SseEvent], request_id: str | None = None) -> list[Finding]:
    """The ``input_json_delta`` pieces of each block join to a JSON object (empty join = ``{}``).

    The SDKs parse the joined text when the block stops; text that does not parse is a tool call
    the client cannot make.
    """
    pieces: dict[int, list[str]] = {}
    last_event: dict[int, int] = {}
    for i, ev in enumerate(events):
        payload = _payload(ev)
        index = _index(payload)
        delta = payload.get("delta")
        if (
            ev.type != "content_block_delta"
            or index is None
            or not isinstance(delta, dict)
            or delta.get("type") != "input_json_delta"
        ):
            continue
        piece = delta.get("partial_json")
        pieces.setdefault(index, []).append(piece if isinstance(piece, str) else "")
        last_event[index] = i
        if not isinstance(piece, str):
            return [
                finding(
                    INPUT_JSON,
                    f"partial_json of block {index} should be a string, got {describe_type(piece)}",
                    pointer=f"/events/{i}/delta/partial_json",
                    rule="partial_json is a string fragment of JSON",
                    value=piece,
                    request_id=request_id,
                )
            ]
    out: list[Finding] = []
    rule = "the input_json_delta pieces of a block join to a JSON object ('' means {})"
    for index, parts in pieces.items():
        joined = "".join(parts)
        if not joined.strip():
            continue
        ptr = f"/events/{last_event[index]}/delta/partial_json"
        try:
            parsed = json.loads(joined)
        except ValueError as exc:
            out.append(
                finding(
                    INPUT_JSON,
                    f"the {len(parts)} input_json_delta piece(s) of block "
                    f"{index} join to text that is not JSON ({exc})",
                    pointer=ptr,
                    rule=rule,
                    value=joined,
                    request_id=request_id,
                )
            )
            continue
        if not isinstance(parsed, dict):
            out.append(
                finding(
                    INPUT_JSON,
                    f"the input_json_delta pieces of block {index} join "
                    f"to {describe_type(parsed)}; a tool input is an object",
                    pointer=ptr,
                    rule=rule,
                    value=joined,
                    request_id=request_id,
                )
            )
    return out


@check(INPUT_JSON, endpoints=_MESSAGES, applies=success & streams)
def check_input_json(exchange: Exchange) -> list[Finding]:
    """The input_json_delta pieces of each tool block join to a JSON object."""
    return input_json_findings(_events(exchange), exchange.request_id)


# --- the final message, streamed or not -----------------------------------------------------------


@dataclass(frozen=True)
class FinalMessage:
    """The finished message of an answer, with where each of its parts came from.

    For a JSON answer that is the body. For a stream it is the folded message: stop fields and
    final usage point at the last ``message_delta``, everything else under ``/accumulated``.
    """

    message: dict[str, Any]
    last_delta: int | None = None  # index of the last message_delta event, for streams

    def pointer(self, *path: str | int) -> str:
        tail = "".join(f"/{escape(p)}" for p in path)
        if self.last_delta is None:
            return tail
        head = path[0] if path else ""
        if head in ("stop_reason", "stop_sequence", "stop_details"):
            return f"/events/{self.last_delta}/delta{tail}"
        if head == "usage":
            return f"/events/{self.last_delta}{tail}"
        return f"/accumulated{tail}"


def final_message(exchange: Exchange) -> FinalMessage | None:
    """The finished message of a successful answer, or None when there is none to judge.

    A stream that failed to fold, ended with an ``error`` event or has no ``message_delta``
    gives None: sse-grammar and stream-accumulates report those.
    """
    if exchange.status >= 400:
        return None
    if exchange.events is None:
        body = exchange.json
        if isinstance(body, dict) and body.get("type") == "message":
            return FinalMessage(body)
        return None
    events = exchange.events
    deltas = [i for i, ev in enumerate(events) if ev.type == "message_delta"]
    if not deltas or _has_error_event(events):
        return None
    try:
        folded = accumulate(events)
    except AccumulationError:
        return None
    return FinalMessage(folded, deltas[-1])


def _request(exchange: Exchange) -> dict[str, Any]:
    req = exchange.request_json
    return req if isinstance(req, dict) else {}


# --- stream-accumulates ---------------------------------------------------------------------------

_FINAL_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "thinking": ("thinking", "signature"),
}


@check(STREAM_ACCUMULATES, endpoints=_MESSAGES, applies=success & streams)
def check_stream_accumulates(exchange: Exchange) -> list[Finding]:
    """The stream folds into a finished message, the way the SDKs fold it.

    A stream that only an SDK-specific workaround could read is a broken stream: the fold must
    succeed, leave a non-null stop_reason, and every block must end with its text or its input.
    """
    rid = exchange.request_id
    rule = "the stream folds into a message with a stop_reason and complete content blocks"
    events = _events(exchange)
    try:
        message = accumulate(events)
    except AccumulationError as exc:
        return [
            finding(
                STREAM_ACCUMULATES,
                f"the stream cannot be folded into a message: {exc}",
                pointer="/events",
                rule=rule,
                request_id=rid,
            )
        ]
    if _has_error_event(events):
        return []  # the stream was cut short on purpose; sse-grammar checked the error event
    out: list[Finding] = []
    if message.get("stop_reason") is None:
        out.append(
            finding(
                STREAM_ACCUMULATES,
                "after folding the whole stream, stop_reason is "
                "still null (no message_delta set it)",
                pointer="/accumulated/stop_reason",
                rule=rule,
                value=None,
                request_id=rid,
            )
        )
    content = message.get("content")
    for i, block in enumerate(content if isinstance(content, list) else []):
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        for key in _FINAL_TEXT_FIELDS.get(str(btype), ()):
            if not isinstance(block.get(key), str):
                out.append(
                    finding(
                        STREAM_ACCUMULATES,
                        f"folded {btype} block {i} has no "
                        f"{key} string (got {describe_type(block.get(key))})",
                        pointer=f"/accumulated/content/{i}/{key}",
                        rule=rule,
                        value=block.get(key),
                        request_id=rid,
                    )
                )
        if btype in _TOOL_BLOCKS and not isinstance(block.get("input"), dict):
            out.append(
                finding(
                    STREAM_ACCUMULATES,
                    f"folded {btype} block {i} has no input "
                    f"object (got {describe_type(block.get('input'))})",
                    pointer=f"/accumulated/content/{i}/input",
                    rule=rule,
                    value=block.get("input"),
                    request_id=rid,
                )
            )
    return out


# --- final-usage ----------------------------------------------------------------------------------


def _usage_counts(
    usage: Any, pointer: str, where: str, keys: Sequence[str], rid: str | None
) -> list[Finding]:
    rule = "usage reports input_tokens and output_tokens as non-negative integers"
    if not isinstance(usage, dict):
        return [
            finding(
                FINAL_USAGE,
                f"{where} has no usage object (got {describe_type(usage)})",
                pointer=pointer,
                rule=rule,
                value=usage,
                request_id=rid,
            )
        ]
    return [
        finding(
            FINAL_USAGE,
            f"{where}: usage.{key} should be a non-negative integer, got {usage[key]!r}"
            if key in usage
            else f"{where}: usage.{key} is missing",
            pointer=f"{pointer}/{key}",
            rule=rule,
            value=usage.get(key),
            request_id=rid,
        )
        for key in keys
        if not is_count(usage.get(key))
    ]


@check(FINAL_USAGE, endpoints=_MESSAGES, applies=success)
def check_final_usage(exchange: Exchange) -> list[Finding]:
    """Usage is reported where clients read it, and output_tokens only grows in a stream.

    Billing dashboards and the SDKs' ``usage`` read message.usage (JSON), the message_start usage
    and the last message_delta usage (streams); a missing count is a silent billing gap.
    """
    rid = exchange.request_id
    if exchange.events is None:
        body = exchange.json
        if not (isinstance(body, dict) and body.get("type") == "message"):
            return []
        return _usage_counts(
            body.get("usage"), "/usage", "the message", ("input_tokens", "output_tokens"), rid
        )
    out: list[Finding] = []
    last_delta: int | None = None
    seen: list[tuple[int, int, str]] = []  # (event index, output_tokens, pointer)
    for i, ev in enumerate(exchange.events):
        payload = _payload(ev)
        if ev.type == "message_start":
            message = payload.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            ptr = f"/events/{i}/message/usage"
            out += _usage_counts(
                usage, ptr, "message_start", ("input_tokens", "output_tokens"), rid
            )
            if isinstance(usage, dict) and is_count(usage.get("output_tokens")):
                seen.append((i, usage["output_tokens"], f"{ptr}/output_tokens"))
        elif ev.type == "message_delta":
            last_delta = i
            usage = payload.get("usage")
            if isinstance(usage, dict) and is_count(usage.get("output_tokens")):
                seen.append((i, usage["output_tokens"], f"/events/{i}/usage/output_tokens"))
    if last_delta is not None:
        out += _usage_counts(
            _payload(exchange.events[last_delta]).get("usage"),
            f"/events/{last_delta}/usage",
            "the last message_delta",
            ("output_tokens",),
            rid,
        )
    for (_, before, _), (_, after, ptr) in itertools.pairwise(seen):
        if after < before:
            out.append(
                finding(
                    FINAL_USAGE,
                    f"cumulative output_tokens went down from {before} "
                    f"to {after}; message_delta usage is a running total",
                    pointer=ptr,
                    rule="cumulative output_tokens never decreases",
                    value=after,
                    request_id=rid,
                )
            )
    return out


# --- stop-fields ----------------------------------------------------------------------------------


def stop_fields_findings(
    final: FinalMessage, request: Any = None, request_id: str | None = None
) -> list[Finding]:
    """stop_reason, stop_sequence and the content agree (and agree with the request).

    Lenient where the real API is: a tool_use block may come with max_tokens, refusal,
    pause_turn or model_context_window_exceeded, and server tools end with end_turn/pause_turn.
    """
    msg = final.message
    req = request if isinstance(request, dict) else {}
    out: list[Finding] = []

    def bad(message: str, rule: str, field: str, value: Any) -> None:
        out.append(
            finding(
                STOP_FIELDS,
                message,
                pointer=final.pointer(field),
                rule=rule,
                value=value,
                request_id=request_id,
            )
        )

    reason = msg.get("stop_reason")
    seq = msg.get("stop_sequence")
    if reason is None:
        bad(
            "stop_reason is null in a finished message",
            "a final message has a stop_reason",
            "stop_reason",
            reason,
        )
        return out
    if reason == "stop_sequence":
        stops = req.get("stop_sequences")
        if not isinstance(seq, str):
            bad(
                f'stop_reason is "stop_sequence" but stop_sequence is {seq!r}; it should name '
                "the sequence that matched",
                'stop_reason "stop_sequence" comes with the sequence',
                "stop_sequence",
                seq,
            )
        elif isinstance(stops, list) and seq not in stops:
            bad(
                f"stop_sequence {seq!r} is not one of the request's stop_sequences {stops!r}",
                "stop_sequence is one of the request's stop_sequences",
                "stop_sequence",
                seq,
            )
    elif seq is not None:
        bad(
            f"stop_sequence is {seq!r} but stop_reason is {reason!r}; stop_sequence is only set "
            'when stop_reason is "stop_sequence"',
            'stop_sequence is non-null iff stop_reason is "stop_sequence"',
            "stop_sequence",
            seq,
        )
    content = msg.get("content")
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    tool_blocks = [i for i, b in enumerate(blocks) if b.get("type") == "tool_use"]
    if reason == "tool_use" and not tool_blocks:
        bad(
            'stop_reason is "tool_use" but the message has no tool_use block',
            'stop_reason "tool_use" comes with a tool_use block',
            "stop_reason",
            reason,
        )
    elif tool_blocks and reason in ("end_turn", "stop_sequence"):
        bad(
            f"the message has a tool_use block (content/{tool_blocks[0]}) but stop_reason is "
            f'{reason!r}; a client tool call ends the turn with "tool_use"',
            'a tool_use block comes with stop_reason "tool_use"',
            "stop_reason",
            reason,
        )
    return out


@check(STOP_FIELDS, endpoints=_MESSAGES, applies=success)
def check_stop_fields(exchange: Exchange) -> list[Finding]:
    """The stop fields of the finished message (and, in a stream, null in message_start)."""
    out: list[Finding] = []
    rid = exchange.request_id
    for i, ev in enumerate(exchange.events or []):
        message = _payload(ev).get("message")
        if ev.type == "message_start" and isinstance(message, dict):
            for field in ("stop_reason", "stop_sequence"):
                if message.get(field) is not None:
                    out.append(
                        finding(
                            STOP_FIELDS,
                            f"message_start carries {field} {message[field]!r}; it is "
                            "null until the message_delta at the end",
                            pointer=f"/events/{i}/message/{field}",
                            rule=f"{field} is null in message_start",
                            value=message[field],
                            request_id=rid,
                        )
                    )
    final = final_message(exchange)
    if final is not None:
        out += stop_fields_findings(final, _request(exchange), rid)
    return out


# --- max-tokens -----------------------------------------------------------------------------------


@check(MAX_TOKENS, endpoints=_MESSAGES, applies=success)
def check_max_tokens(exchange: Exchange) -> list[Finding]:
    """output_tokens stays within the request's max_tokens; stopping on max_tokens means output.

    Server tools (web search, code execution) and compaction loop inside one request and the API
    sums usage over the rounds, so the ceiling is not checked when the message holds such blocks.
    """
    final = final_message(exchange)
    if final is None:
        return []
    rid = exchange.request_id
    usage = final.message.get("usage")
    out_tokens = usage.get("output_tokens") if isinstance(usage, dict) else None
    if not is_count(out_tokens):
        return []  # final-usage reports it
    content = final.message.get("content")
    server_tools = isinstance(content, list) and any(
        isinstance(b, dict) and _server_side(b) for b in content
    )
    limit = _request(exchange).get("max_tokens")
    out: list[Finding] = []
    if is_count(limit) and not server_tools and out_tokens > limit:
        out.append(
            finding(
                MAX_TOKENS,
                f"usage.output_tokens is {out_tokens} but the request allowed max_tokens {limit}",
                pointer=final.pointer("usage", "output_tokens"),
                rule="output_tokens <= the request's max_tokens",
                value=out_tokens,
                request_id=rid,
            )
        )
    if final.message.get("stop_reason") == "max_tokens" and out_tokens == 0:
        out.append(
            finding(
                MAX_TOKENS,
                'stop_reason is "max_tokens" but usage.output_tokens is 0',
                pointer=final.pointer("usage", "output_tokens"),
                rule='stop_reason "max_tokens" implies output_tokens > 0',
                value=out_tokens,
                request_id=rid,
            )
        )
    return out


# --- usage-arithmetic -----------------------------------------------------------------------------


def usage_arithmetic_findings(
    usage: Any, pointer: str, request_id: str | None = None
) -> list[Finding]:
    """Every ``*_tokens`` / ``*_requests`` count in ``usage`` (nested too) is an integer >= 0,
    and the cache_creation breakdown does not exceed cache_creation_input_tokens."""
    out: list[Finding] = []

    def walk(node: Any, ptr: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{ptr}/{escape(key)}"
                counted = key.endswith(("_tokens", "_requests"))
                if counted and value is not None and not is_count(value):
                    out.append(
                        finding(
                            USAGE_ARITHMETIC,
                            f"{key} should be a non-negative integer, got {value!r}",
                            pointer=here,
                            rule="token counts are non-negative integers",
                            value=value,
                            request_id=request_id,
                        )
                    )
                elif isinstance(value, dict):
                    walk(value, here)

    walk(usage, pointer)
    if isinstance(usage, dict):
        total = usage.get("cache_creation_input_tokens")
        parts = usage.get("cache_creation")
        if is_count(total) and isinstance(parts, dict):
            counts = {k: v for k, v in parts.items() if k.startswith("ephemeral_") and is_count(v)}
            if sum(counts.values()) > total:
                out.append(
                    finding(
                        USAGE_ARITHMETIC,
                        f"cache_creation breakdown {counts} adds up to "
                        f"{sum(counts.values())}, more than cache_creation_input_tokens {total}",
                        pointer=f"{pointer}/cache_creation",
                        rule="sum of cache_creation.ephemeral_* <= cache_creation_input_tokens",
                        value=parts,
                        request_id=request_id,
                    )
                )
    return out


@check(USAGE_ARITHMETIC, endpoints=(*_MESSAGES, "messages.count_tokens"), applies=success)
def check_usage_arithmetic(exchange: Exchange) -> list[Finding]:
    """Token counts are sane integers and agree with each other.

    In a stream, a message_delta that repeats input_tokens repeats the message_start figure,
    except when the server did work of its own (server tools, compaction): its extra sampling
    rounds add input, so the figure may only grow (seen in recorded web-search and compaction
    streams).
    """
    rid = exchange.request_id
    if exchange.events is None:
        body = exchange.json
        if isinstance(body, dict) and body.get("type") == "message":
            return usage_arithmetic_findings(body.get("usage"), "/usage", rid)
        return usage_arithmetic_findings(body, "", rid) if isinstance(body, dict) else []
    out: list[Finding] = []
    start_input: int | None = None
    server_tools = False
    for i, ev in enumerate(exchange.events):
        payload = _payload(ev)
        if ev.type == "message_start" and isinstance(payload.get("message"), dict):
            usage = payload["message"].get("usage")
            out += usage_arithmetic_findings(usage, f"/events/{i}/message/usage", rid)
            if isinstance(usage, dict) and is_count(usage.get("input_tokens")):
                start_input = usage["input_tokens"]
        elif ev.type == "content_block_start":
            block = payload.get("content_block")
            server_tools |= isinstance(block, dict) and _server_side(block)
        elif ev.type == "message_delta":
            usage = payload.get("usage")
            out += usage_arithmetic_findings(usage, f"/events/{i}/usage", rid)
            delta_input = usage.get("input_tokens") if isinstance(usage, dict) else None
            if start_input is None or not is_count(delta_input):
                continue
            if (delta_input < start_input) if server_tools else (delta_input != start_input):
                relation = "at least" if server_tools else "equal to"
                out.append(
                    finding(
                        USAGE_ARITHMETIC,
                        f"message_delta says input_tokens {delta_input} but "
                        f"message_start said {start_input}; it should be {relation} that",
                        pointer=f"/events/{i}/usage/input_tokens",
                        rule="message_delta input_tokens repeats message_start input_tokens",
                        value=delta_input,
                        request_id=rid,
                    )
                )
    return out
