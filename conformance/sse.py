"""Server-sent events: framing (LF, CRLF or CR line ends) and the accumulator of a streamed message.

Real streams pad their JSON with spaces (``{"type":"ping"}      ``) and may end lines with
``\\r\\n``; both are legal SSE and must parse.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from conformance.exchange import SseEvent

#: Where an SSE line ends: CRLF, LF or a lone CR (WHATWG). Splitting on these bytes is safe in
#: UTF-8, whose multi-byte sequences never contain them.
_LINE_END = re.compile(rb"\r\n|\r|\n")
_LINE_ENDS_TEXT = re.compile(r"\r\n|\r|\n")


class Frame(NamedTuple):
    """One event of a stream body as framed, before decoding: where it ends and its fields."""

    end: int  # byte offset just past the event (past the blank line that dispatched it)
    name: bytes  # the last ``event`` field, b"" when there was none
    data: list[bytes]  # each ``data`` field's value, in order


def frames(body: bytes) -> Iterator[Frame]:
    """The events of an ``text/event-stream`` body: the one statement of where an event ends.

    A blank line ends an event that has at least one ``data`` field (a block without one, e.g.
    only an ``event`` name or only comments, dispatches nothing); the end of the body flushes the
    last event even without its blank line (a stream cut short still shows what arrived).
    Comments (``:``) and ``id``/``retry`` fields are dropped; one leading space of a value is not
    part of it. ``parse_sse`` decodes these frames; recorded timing cuts bodies at their ``end``.
    """
    name = b""
    data: list[bytes] = []
    pos = 0
    for m in _LINE_END.finditer(body):
        line = body[pos : m.start()]
        pos = m.end()
        if line:
            name = _field(line, name, data)
            continue
        if data:
            yield Frame(pos, name, data)
        name, data = b"", []
    if pos < len(body):
        name = _field(body[pos:], name, data)
    if data:
        yield Frame(len(body), name, data)


def _field(line: bytes, name: bytes, data: list[bytes]) -> bytes:
    """Apply one non-blank line: append a ``data`` value; return the (new) event name."""
    if line.startswith(b":"):
        return name
    key, _, value = line.partition(b":")
    value = value[1:] if value.startswith(b" ") else value
    if key == b"data":
        data.append(value)
    elif key == b"event":
        return value
    return name


def event_ends(body: bytes) -> list[int]:
    """Byte offset just past each event ``parse_sse`` yields, in order (same count, same order)."""
    return [frame.end for frame in frames(body)]


def line_ends(text: str) -> set[str]:
    """The distinct line ends ``text`` uses (``"\n"``, ``"\r\n"``, ``"\r"``), by the same rule
    as ``frames``: a body is stored with normalized line ends only when this is one of them."""
    return set(_LINE_ENDS_TEXT.findall(text))


def is_event_stream(content_type: str) -> bool:
    """True for a ``content-type`` value that announces an SSE body."""
    return "text/event-stream" in content_type.lower()


def parse_sse(raw: bytes | str) -> list[SseEvent]:
    """Split an ``text/event-stream`` body into events (per the WHATWG SSE grammar, see ``frames``).

    Multi-line ``data`` is joined with ``\\n``. ``json`` is the decoded data, or ``None`` when it is
    not JSON. Bytes must be UTF-8 (``UnicodeDecodeError`` otherwise, in a field that is kept).
    """
    # A str (already decoded, maybe with surrogate escapes) goes through the same byte framing.
    errors = "strict" if isinstance(raw, bytes) else "surrogatepass"
    body = raw if isinstance(raw, bytes) else raw.encode("utf-8", errors)
    events: list[SseEvent] = []
    for frame in frames(body):
        joined = b"\n".join(frame.data).decode("utf-8", errors)
        name = frame.name.decode("utf-8", errors) or "message"
        events.append(SseEvent(name, joined, _decode(joined)))
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
                    f"content_block_start index {index}, expected {len(content)}"
                )
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
