"""Server-sent events: framing (LF, CRLF or CR line ends) and the accumulator of a streamed message.

Real streams pad their JSON with spaces (``{"type":"ping"}      ``) and may end lines with
``\\r\\n``; both are legal SSE and must parse.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from typing import Any

from conformance.exchange import SseEvent

_LINE_END = re.compile(r"\r\n|\r|\n")


def parse_sse(raw: bytes | str) -> list[SseEvent]:
    """Split an ``text/event-stream`` body into events (per the WHATWG SSE grammar).

    Comments (``:``) and ``id``/``retry`` fields are dropped; multi-line ``data`` is joined with
    ``\\n``. ``json`` is the decoded data, or ``None`` when it is not JSON.
    """
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    events: list[SseEvent] = []
    name = ""
    data: list[str] = []
    has_data = False
    for line in [*_LINE_END.split(text), ""]:
        if line == "":
            if has_data:
                joined = "\n".join(data)
                events.append(SseEvent(name or "message", joined, _decode(joined)))
            name, data, has_data = "", [], False
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)
            has_data = True
    return events


def _decode(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def format_sse(events: Iterable[tuple[str, Any]]) -> bytes:
    """Frame ``(event name, JSON payload)`` pairs the way the API does."""
    out = []
    for name, payload in events:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        out.append(f"event: {name}\ndata: {data}\n\n")
    return "".join(out).encode()


class AccumulationError(ValueError):
    """The stream cannot be folded into a message (an index or a delta that makes no sense)."""


def accumulate(events: Iterable[SseEvent]) -> dict[str, Any]:
    """Fold a message stream into the final Message, the way the SDKs do.

    Text, thinking and signature deltas are concatenated; ``input_json_delta`` pieces are joined
    and parsed (an empty join is ``{}``); ``message_delta`` sets stop fields and merges usage.
    Raises ``AccumulationError`` on a stream that cannot be folded.
    """
    message: dict[str, Any] | None = None
    partial_json: dict[int, str] = {}
    for ev in events:
        payload = ev.json if isinstance(ev.json, dict) else {}
        kind = ev.type
        if kind == "message_start":
            message = copy.deepcopy(payload.get("message") or {})
            message.setdefault("content", [])
            continue
        if kind in ("ping", "error") or kind not in _BLOCK_EVENTS | {"message_delta"}:
            continue
        if message is None:
            raise AccumulationError(f"{kind} before message_start")
        if kind == "message_delta":
            message.update(payload.get("delta") or {})
            usage = message.setdefault("usage", {})
            usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
            continue
        index = payload.get("index")
        content: list[dict[str, Any]] = message["content"]
        if not isinstance(index, int):
            raise AccumulationError(f"{kind} without an integer index")
        if kind == "content_block_start":
            if index != len(content):
                raise AccumulationError(
                    f"content_block_start index {index}, expected {len(content)}")
            content.append(copy.deepcopy(payload.get("content_block") or {}))
            continue
        if index >= len(content):
            raise AccumulationError(f"{kind} for block {index} that was never started")
        block = content[index]
        if kind == "content_block_delta":
            _apply_delta(block, payload.get("delta") or {}, index, partial_json)
        elif kind == "content_block_stop" and index in partial_json:
            joined = partial_json.pop(index)
            try:
                block["input"] = json.loads(joined) if joined.strip() else {}
            except ValueError as exc:
                raise AccumulationError(
                    f"input_json_delta pieces of block {index} do not join to JSON: {exc}"
                ) from exc
    if message is None:
        raise AccumulationError("no message_start event")
    return message


_BLOCK_EVENTS = {"content_block_start", "content_block_delta", "content_block_stop"}
_DELTA_FIELDS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "signature",
}


def _apply_delta(
    block: dict[str, Any], delta: dict[str, Any], index: int, partial_json: dict[int, str]
) -> None:
    kind = delta.get("type")
    if kind in _DELTA_FIELDS:
        key = _DELTA_FIELDS[str(kind)]
        block[key] = str(block.get(key) or "") + str(delta.get(key, ""))
    elif kind == "input_json_delta":
        partial_json[index] = partial_json.get(index, "") + str(delta.get("partial_json", ""))
    elif kind == "citations_delta":
        block.setdefault("citations", [])
        if block["citations"] is None:
            block["citations"] = []
        block["citations"].append(delta.get("citation"))
    # Unknown delta types are tolerated: the API may add new ones within a version.
