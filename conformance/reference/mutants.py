"""Named, deliberate contract violations of the reference server.

A mutant is data: a name, the family and suite feature that should notice it, and hooks that
rewrite the faithful answer after it was generated. The app applies every enabled mutant's hooks
in order, so a mutant never touches route code and each stays a few lines. ``mutation-score``
runs the suite once per mutant and expects it to fail.

Hooks get copies they may mutate freely:

* ``json(endpoint, status, headers, body) -> (status, headers, body)`` for every JSON answer,
  errors included (``endpoint`` is a catalog endpoint name, or ``""`` for an unknown route);
* ``sse(events) -> events`` for a streamed answer, as ``(event name, payload)`` pairs;
* ``headers(endpoint, status, headers) -> headers`` for every answer, JSON or streamed (a
  stream's headers include its ``content-type``);
* ``wire(chunks) -> chunks`` for the framed bytes of a stream, one chunk per event: for the
  bugs no ``(event, payload)`` pair can express (data that is not JSON, a ``[DONE]`` line);
* ``raw(endpoint, status, body) -> (status, body)`` for the bytes of every non-streamed answer,
  after serialization: JSON lines of batch results, file content, and the JSON text of a JSON
  answer (so a mutant can answer 204 with no body at all, which no JSON body can express);
* ``request(endpoint, body) -> body`` for the JSON body of every request, before the route
  reads it: the bugs of a proxy that loses or rewrites part of what it forwards (a dropped
  system prompt, a dropped ``tool_choice``, a truncated history), which the answer only shows
  through its effect (fewer billed input tokens, a tool not called).

Most hooks are built by combinators from a change of one object (``_on_message``,
``_on_success``, ``_on_objects``, ``_on_error``, ``_on_events``, ``_each``), so a mutant row says
*what* it breaks and the combinator *where*; only bugs that move, add or drop events or bytes
are written out as whole hooks.

``feature`` is the suite toggle whose tests should fail; ``also`` lists toggles the catching test
needs besides (a streamed tool test is marked ``tools`` and ``streaming``), so that
``mutation-score`` can run just ``features`` against the mutant. ``caught_by`` names what must
notice it: check names (``sse-grammar``) or suite tests (``test_tools.py::test_tool_choice``);
the project's tests assert the killing failure is one of them, so a mutant that only an
unrelated check happens to trip counts as a gap.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conformance import catalog

JsonHook = Callable[[str, int, dict[str, str], Any], tuple[int, dict[str, str], Any]]
SseHook = Callable[[list[tuple[str, dict[str, Any]]]], list[tuple[str, dict[str, Any]]]]
HeadersHook = Callable[[str, int, dict[str, str]], dict[str, str]]
WireHook = Callable[[list[bytes]], list[bytes]]
RawHook = Callable[[str, int, bytes], tuple[int, bytes]]
RequestHook = Callable[[str, dict[str, Any]], dict[str, Any]]
Events = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Mutant:
    """One deliberate violation; ``feature`` names the suite feature expected to catch it."""

    name: str
    family: str
    feature: str
    description: str
    json: JsonHook | None = None
    sse: SseHook | None = None
    headers: HeadersHook | None = None
    wire: WireHook | None = None
    raw: RawHook | None = None
    also: tuple[str, ...] = ()
    request: RequestHook | None = None
    caught_by: tuple[str, ...] = ()

    @property
    def features(self) -> tuple[str, ...]:
        """Every toggle a run must switch on for the catching test to run."""
        return (self.feature, *self.also)


def _is_message(endpoint: str, status: int, body: Any) -> bool:
    return endpoint == "messages.create" and status == 200 and isinstance(body, dict)


def _index(events: Events, name: str, last: bool = False) -> int | None:
    hits = [i for i, (ev, _) in enumerate(events) if ev == name]
    if not hits:
        return None
    return hits[-1] if last else hits[0]


# --- combinators: a hook from a change of one object ----------------------------------------------

Body = tuple[int, dict[str, str], Any]
#: Anthropic stop reasons -> the OpenAI finish_reason a translating proxy puts in their place.
_OPENAI_STOP = {
    "end_turn": "stop",
    "max_tokens": "length",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
}


def _on_message(change: Callable[[dict[str, Any]], None]) -> JsonHook:
    """A JSON hook applying ``change`` to every successful non-streamed message."""

    def hook(endpoint: str, status: int, headers: dict[str, str], body: Any) -> Body:
        if _is_message(endpoint, status, body):
            change(body)
        return status, headers, body

    return hook


def _on_success(
    endpoints: str | Collection[str], change: Callable[[dict[str, Any]], None]
) -> JsonHook:
    """A JSON hook applying ``change`` to every 200 answer of ``endpoints`` (one name or many)."""
    names = {endpoints} if isinstance(endpoints, str) else set(endpoints)

    def hook(endpoint: str, status: int, headers: dict[str, str], body: Any) -> Body:
        if endpoint in names and status == 200 and isinstance(body, dict):
            change(body)
        return status, headers, body

    return hook


def _on_error(change: Callable[[int, dict[str, str], dict[str, Any]], Body]) -> JsonHook:
    """A JSON hook rewriting every error answer (status >= 400 with an envelope)."""

    def hook(endpoint: str, status: int, headers: dict[str, str], body: Any) -> Body:
        if status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), dict):
            return change(status, headers, body)
        return status, headers, body

    return hook


def _on_events(name: str, change: Callable[[dict[str, Any]], None]) -> SseHook:
    """An SSE hook applying ``change`` to the payload of every event called ``name``."""

    def hook(events: Events) -> Events:
        for event, payload in events:
            if event == name:
                change(payload)
        return events

    return hook


def _each(*hooks: SseHook) -> SseHook:
    """One SSE hook applying ``hooks`` in order (a change to several kinds of event)."""

    def hook(events: Events) -> Events:
        for one in hooks:
            events = one(events)
        return events

    return hook


def _drop_events(name: str) -> SseHook:
    def hook(events: Events) -> Events:
        return [(event, payload) for event, payload in events if event != name]

    return hook


def _tool_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message.get("content") or [] if b.get("type") == "tool_use"]


# --- messages (JSON) ------------------------------------------------------------------------------


def _drop_usage(holder: dict[str, Any]) -> None:
    holder.pop("usage", None)


def _null_stop_reason(message: dict[str, Any]) -> None:
    message["stop_reason"] = None


def _chatcmpl_id(message: dict[str, Any]) -> None:
    if isinstance(message.get("id"), str):
        message["id"] = "chatcmpl-" + message["id"].split("_", 1)[-1]


def _openai_stop(holder: dict[str, Any]) -> None:
    reason = holder.get("stop_reason")
    holder["stop_reason"] = _OPENAI_STOP.get(str(reason), reason)


def _drop_stop_sequence(message: dict[str, Any]) -> None:
    if message.get("stop_reason") == "stop_sequence":
        message["stop_sequence"] = None


def _output_tokens_string(message: dict[str, Any]) -> None:
    usage = message.get("usage") or {}
    if "output_tokens" in usage:
        usage["output_tokens"] = str(usage["output_tokens"])


def _content_as_string(message: dict[str, Any]) -> None:
    blocks = message.get("content") or []
    if all(b.get("type") == "text" for b in blocks):
        message["content"] = "".join(b.get("text", "") for b in blocks)


# --- common headers -------------------------------------------------------------------------------


def _request_id_missing(endpoint: str, status: int, headers: dict[str, str]) -> dict[str, str]:
    headers.pop("request-id", None)
    return headers


def _request_id_foreign(endpoint: str, status: int, headers: dict[str, str]) -> dict[str, str]:
    if "request-id" in headers:  # the gateway's own trace id replaces the API's
        headers["request-id"] = "3f2b7c1e-9a4d-4e8b-b6f0-" + headers["request-id"][-12:].lower()
    return headers


def _json_as_text(endpoint: str, status: int, headers: dict[str, str], body: Any) -> Body:
    headers["content-type"] = "text/plain; charset=utf-8"
    return status, headers, body


def _version_not_enforced(endpoint: str, status: int, headers: dict[str, str], body: Any) -> Body:
    """The proxy pins its own anthropic-version, so a bad one reaches no one and succeeds."""
    err = body.get("error") if isinstance(body, dict) else None
    if (
        endpoint != "messages.create"
        or status != 400
        or not isinstance(err, dict)
        or not str(err.get("message", "")).startswith("anthropic-version")
    ):
        return status, headers, body
    rid = headers.get("request-id", "req_0")
    return (
        200,
        headers,
        {
            "id": "msg_" + rid.removeprefix("req_"),
            "type": "message",
            "role": "assistant",
            "model": catalog.CHEAPEST_MODEL.id,
            "content": [{"type": "text", "text": "Hello."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 8, "output_tokens": 3},
        },
    )


# --- streaming ------------------------------------------------------------------------------------


def _sse_reordered(events: Events) -> Events:
    stop, delta = _index(events, "content_block_stop", last=True), _index(events, "message_delta")
    if stop is None or delta is None:
        return events
    moved = events.pop(delta)
    events.insert(stop, moved)
    return events


def _shift_indexes(events: Events) -> Events:
    for event, payload in events:
        if event.startswith("content_block_") and isinstance(payload.get("index"), int):
            payload["index"] += 1
    return events


def _generic_event_names(events: Events) -> Events:
    return [("message", payload) for _, payload in events]


def _truncate_data(chunks: list[bytes]) -> list[bytes]:
    """A re-chunking proxy loses the tail of the first delta's data line."""
    for i, chunk in enumerate(chunks):
        if chunk.startswith(b"event: content_block_delta\n"):
            head, _, data = chunk.rstrip(b"\n").partition(b"\ndata: ")
            chunks[i] = head + b"\ndata: " + data[: len(data) // 2] + b"\n\n"
            break
    return chunks


def _done_sentinel(chunks: list[bytes]) -> list[bytes]:
    return [*chunks, b"data: [DONE]\n\n"]


def _zero_usage(payload: dict[str, Any]) -> None:
    usage = payload.get("usage")
    if isinstance(usage, dict):
        for key, value in usage.items():
            if isinstance(value, int) and not isinstance(value, bool):
                usage[key] = 0


def _stream_as_json(endpoint: str, status: int, headers: dict[str, str]) -> dict[str, str]:
    if headers.get("content-type", "").startswith("text/event-stream"):
        headers["content-type"] = "application/json"
    return headers


# --- tools ----------------------------------------------------------------------------------------


def _input_json_broken(events: Events) -> Events:
    last = max(
        (
            i
            for i, (name, p) in enumerate(events)
            if name == "content_block_delta"
            and p.get("delta", {}).get("type") == "input_json_delta"
        ),
        default=None,
    )
    if last is not None:
        extra = {**events[last][1], "delta": {"type": "input_json_delta", "partial_json": "}"}}
        events.insert(last + 1, ("content_block_delta", extra))
    return events


def _tool_input_string(message: dict[str, Any]) -> None:
    for block in _tool_blocks(message):
        block["input"] = json.dumps(block["input"])


def _openai_tool_id(block: dict[str, Any]) -> None:
    if block.get("type") == "tool_use" and isinstance(block.get("id"), str):
        block["id"] = "call_" + block["id"].split("_", 1)[-1]


def _tool_ids_json(message: dict[str, Any]) -> None:
    for block in _tool_blocks(message):
        _openai_tool_id(block)


def _tool_end_turn(holder: dict[str, Any]) -> None:
    if holder.get("stop_reason") == "tool_use":
        holder["stop_reason"] = "end_turn"


# --- count_tokens ---------------------------------------------------------------------------------


def _count_as_string(body: dict[str, Any]) -> None:
    body["input_tokens"] = str(body.get("input_tokens"))


def _count_tokens_missing(endpoint: str, status: int, headers: dict[str, str], body: Any) -> Body:
    if endpoint != "messages.count_tokens":
        return status, headers, body
    return (
        404,
        headers,
        {
            "type": "error",
            "request_id": headers.get("request-id"),
            "error": {"type": "not_found_error", "message": "Not Found"},
        },
    )


# --- models ---------------------------------------------------------------------------------------


def _last_id_wrong(page: dict[str, Any]) -> None:
    data = page.get("data") or []
    page["last_id"] = data[-2]["id"] if len(data) > 1 else "model-that-is-not-on-the-page"


def _first_id_wrong(page: dict[str, Any]) -> None:
    page["first_id"] = page.get("last_id")


def _has_more_stuck(page: dict[str, Any]) -> None:
    page["has_more"] = True


def _page_twice(page: dict[str, Any]) -> None:
    page["data"] = [*page.get("data", []), *page.get("data", [])]


def _retrieve_newest(model: dict[str, Any]) -> None:
    newest = max(catalog.MODELS, key=lambda m: m.created_at)
    model.update(id=newest.id, display_name=newest.display_name, created_at=newest.created_at)


def _created_epoch(model: dict[str, Any]) -> None:
    stamp = model.get("created_at")
    if isinstance(stamp, str):
        model["created_at"] = int(datetime.fromisoformat(stamp).timestamp())


def _models_created_epoch(page: dict[str, Any]) -> None:
    for model in page.get("data", []):
        _created_epoch(model)


# --- errors ---------------------------------------------------------------------------------------


def _openai_envelope(status: int, headers: dict[str, str], body: dict[str, Any]) -> Body:
    err = body["error"]
    return (
        status,
        headers,
        {"error": {"message": err.get("message"), "type": err.get("type"), "code": None}},
    )


def _status_as(old: int, new: int) -> JsonHook:
    def change(status: int, headers: dict[str, str], body: dict[str, Any]) -> Body:
        if status != old:
            return status, headers, body
        body["error"]["type"] = catalog.ERROR_TYPES[new]
        return new, headers, body

    return _on_error(change)


def _flatten_type(status: int, headers: dict[str, str], body: dict[str, Any]) -> Body:
    body["error"]["type"] = "invalid_request_error"
    return status, headers, body


def _drop_top_type(status: int, headers: dict[str, str], body: dict[str, Any]) -> Body:
    body.pop("type", None)
    return status, headers, body


def _error_as_200(status: int, headers: dict[str, str], body: dict[str, Any]) -> Body:
    return 200, headers, body


# --- batches, files, admin ------------------------------------------------------------------------


def _stale_counts(batch: dict[str, Any]) -> None:
    """An ended batch still counts every request as processing (counts cached at creation)."""
    counts = batch.get("request_counts")
    if batch.get("processing_status") == "ended" and isinstance(counts, dict):
        total = sum(v for v in counts.values() if isinstance(v, int))
        batch["request_counts"] = {**dict.fromkeys(counts, 0), "processing": total}


def _on_objects(family: str, kind: str, change: Callable[[dict[str, Any]], None]) -> JsonHook:
    """A JSON hook applying ``change`` to every ``kind`` object of a 200 answer of ``family``."""

    def hook(endpoint: str, status: int, headers: dict[str, str], body: Any) -> Body:
        if endpoint.startswith(f"{family}.") and status == 200 and isinstance(body, dict):
            for item in body.get("data") or [body]:
                if isinstance(item, dict) and item.get("type") == kind:
                    change(item)
        return status, headers, body

    return hook


def _on_batches(change: Callable[[dict[str, Any]], None]) -> JsonHook:
    return _on_objects("batches", "message_batch", change)


def _openai_batch_id(batch: dict[str, Any]) -> None:
    if isinstance(batch.get("id"), str):
        batch["id"] = "batch_" + batch["id"].split("_", 1)[-1]


def _results_without_custom_id(endpoint: str, status: int, body: bytes) -> tuple[int, bytes]:
    if endpoint != "batches.results" or status != 200:
        return status, body
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    for line in lines:
        line.pop("custom_id", None)
    return status, b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def _on_files(change: Callable[[dict[str, Any]], None]) -> JsonHook:
    return _on_objects("files", "file", change)


def _size_as_base64(meta: dict[str, Any]) -> None:
    """The gateway reports the size of the base64 text it forwarded, not of the file."""
    size = meta.get("size_bytes")
    if isinstance(size, int):
        meta["size_bytes"] = 4 * ((size + 2) // 3)


def _openai_file_id(meta: dict[str, Any]) -> None:
    if isinstance(meta.get("id"), str):
        meta["id"] = "file-" + meta["id"].split("_", 1)[-1]


def _deleted_as_file(body: dict[str, Any]) -> None:
    body["type"] = "file"


def _delete_as_204(endpoint: str, status: int, body: bytes) -> tuple[int, bytes]:
    """A REST-minded gateway answers a successful delete with 204 and no body."""
    if endpoint == "files.delete" and status == 200:
        return 204, b""
    return status, body


def _cost_amount_number(report: dict[str, Any]) -> None:
    """Amounts as JSON numbers (floats lose cents), not the API's decimal strings."""
    for bucket in report.get("data") or []:
        for row in bucket.get("results") or []:
            if isinstance(row.get("amount"), str):
                row["amount"] = float(row["amount"])


def _octet_stream(meta: dict[str, Any]) -> None:
    meta["mime_type"] = "application/octet-stream"


#: Every Admin API list (users, invites, workspaces, members, keys), from the catalog.
_ADMIN_LISTS = tuple(
    e.name for e in catalog.ENDPOINTS if e.name.startswith("admin.") and e.name.endswith(".list")
)


def _leak_key(key: dict[str, Any]) -> None:
    key["key"] = "reference-secret-" + str(key.get("id", ""))[-8:]


# --- today's Messages features (issue 13) --------------------------------------------------------

_CACHE_KEYS = ("cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation")


def _usage_holders(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The usage objects of a message, a message_start or a message_delta payload."""
    message = payload.get("message")
    holders = [payload.get("usage"), message.get("usage") if isinstance(message, dict) else None]
    return [u for u in holders if isinstance(u, dict)]


def _drop_cache_fields(payload: dict[str, Any]) -> None:
    """A translating proxy rebuilds usage from OpenAI's prompt/completion counts only."""
    for usage in _usage_holders(payload):
        for key in _CACHE_KEYS:
            usage.pop(key, None)


def _cache_read_as_input(payload: dict[str, Any]) -> None:
    """A proxy reports cached tokens as ordinary input (OpenAI's prompt_tokens includes them)."""
    for usage in _usage_holders(payload):
        read = usage.get("cache_read_input_tokens")
        if isinstance(read, int) and read and isinstance(usage.get("input_tokens"), int):
            usage["input_tokens"] += read
            usage["cache_read_input_tokens"] = 0


def _on_usage_events(change: Callable[[dict[str, Any]], None]) -> SseHook:
    def hook(events: Events) -> Events:
        for event, payload in events:
            if event in ("message_start", "message_delta"):
                change(payload)
        return events

    return hook


def _is_signature_delta(event: str, payload: dict[str, Any]) -> bool:
    return (
        event == "content_block_delta"
        and (payload.get("delta") or {}).get("type") == "signature_delta"
    )


def _drop_signature_deltas(events: Events) -> Events:
    return [
        (event, payload) for event, payload in events if not _is_signature_delta(event, payload)
    ]


def _drop_thinking_blocks(message: dict[str, Any]) -> None:
    """An Anthropic-to-OpenAI translator has nowhere to put thinking, so it drops it."""
    if isinstance(message.get("content"), list):
        message["content"] = [
            b for b in message["content"] if b.get("type") not in ("thinking", "redacted_thinking")
        ]


def _first_tool_call_only(message: dict[str, Any]) -> None:
    """A gateway that maps to a one-call-per-turn API keeps only the first tool_use block."""
    calls = _tool_blocks(message)
    if len(calls) > 1:
        message["content"] = [b for b in message["content"] if b not in calls[1:]]


def _shift_citation(citation: Any) -> None:
    if isinstance(citation, dict) and isinstance(citation.get("start_char_index"), int):
        citation["start_char_index"] += 1
        citation["end_char_index"] += 1


def _shift_citations(message: dict[str, Any]) -> None:
    """A proxy that counts characters differently (bytes, or after trimming a BOM)."""
    for block in message.get("content") or []:
        for citation in block.get("citations") or []:
            _shift_citation(citation)


def _shift_citation_deltas(payload: dict[str, Any]) -> None:
    if (payload.get("delta") or {}).get("type") == "citations_delta":
        _shift_citation(payload["delta"].get("citation"))


# --- request-side and value-changing bugs (the answer stays well-formed) -----------------------

#: The endpoints whose request bodies are messages requests.
_MESSAGE_REQUESTS = frozenset({"messages.create", "messages.count_tokens"})


def _on_request(
    endpoints: Collection[str], change: Callable[[dict[str, Any]], None]
) -> RequestHook:
    """A request hook applying ``change`` to the JSON body of every request to ``endpoints``."""
    names = set(endpoints)

    def hook(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        if endpoint in names:
            change(body)
        return body

    return hook


def _drop_keys(*keys: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        for key in keys:
            body.pop(key, None)

    return change


def _last_message_only(body: dict[str, Any]) -> None:
    """A gateway that keeps no history forwards only the newest turn."""
    messages = body.get("messages")
    if isinstance(messages, list) and len(messages) > 1:
        body["messages"] = messages[-1:]


def _drop_blocks(kind: str) -> Callable[[dict[str, Any]], None]:
    """Blocks of ``kind`` removed from every message (a translator that knows only text)."""

    def change(body: dict[str, Any]) -> None:
        for message in body.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                kept = [b for b in content if not (isinstance(b, dict) and b.get("type") == kind)]
                message["content"] = kept or content  # never leave a turn empty

    return change


def _drop_block_system(body: dict[str, Any]) -> None:
    """A translator that knows only the string form of ``system`` loses a list of text blocks."""
    if isinstance(body.get("system"), list):
        body.pop("system")


def _bare_tool_schemas(body: dict[str, Any]) -> None:
    """Tools reach the counter as bare names: no description, an empty object schema."""
    tools = body.get("tools")
    if isinstance(tools, list):
        body["tools"] = [
            {"name": t.get("name"), "input_schema": {"type": "object"}}
            if isinstance(t, dict) and t.get("type") in (None, "custom")
            else t
            for t in tools
        ]


def _route_to_other_model(body: dict[str, Any]) -> None:
    """Every request goes to the gateway's own default model, whatever was asked."""
    asked = catalog.find_model(str(body.get("model")))
    others = [m for m in catalog.MODELS if asked is None or m.id != asked.id]
    body["model"] = max(others, key=lambda m: (m.max_tokens, m.created_at)).id


def _emptied(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _emptied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_emptied(v) for v in value]
    return "" if isinstance(value, str) else value


def _empty_tool_inputs(message: dict[str, Any]) -> None:
    for block in _tool_blocks(message):
        block["input"] = _emptied(block.get("input"))


def _empty_streamed_tool_inputs(events: Events) -> Events:
    """The input_json_delta pieces of each tool block carry the emptied input (same events)."""
    pieces: dict[int, list[dict[str, Any]]] = {}
    for name, payload in events:
        delta = payload.get("delta") or {}
        if name == "content_block_delta" and delta.get("type") == "input_json_delta":
            pieces.setdefault(int(payload["index"]), []).append(delta)
    for deltas in pieces.values():
        try:
            value = json.loads("".join(d.get("partial_json", "") for d in deltas) or "{}")
        except ValueError:
            continue
        for i, delta in enumerate(deltas):
            delta["partial_json"] = json.dumps(_emptied(value)) if i == len(deltas) - 1 else ""
    return events


def _duplicate_first_text_delta(events: Events) -> Events:
    """A re-chunking proxy sends the first text delta twice (a retried write)."""
    for i, (name, payload) in enumerate(events):
        if (
            name == "content_block_delta"
            and (payload.get("delta") or {}).get("type") == "text_delta"
        ):
            events.insert(i + 1, (name, json.loads(json.dumps(payload))))
            break
    return events


def _drop_last_text_delta(events: Events) -> Events:
    """A proxy that stops reading at message_delta flushes all but its last text delta."""
    last = max(
        (
            i
            for i, (name, p) in enumerate(events)
            if name == "content_block_delta" and (p.get("delta") or {}).get("type") == "text_delta"
        ),
        default=None,
    )
    if last is not None:
        events.pop(last)
    return events


def _estimated_input(payload: dict[str, Any]) -> None:
    """input_tokens from the gateway's own tokenizer (a third more), not the API's count."""
    holder = (
        payload.get("message", payload) if isinstance(payload.get("message"), dict) else payload
    )
    usage = holder.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("input_tokens"), int):
        usage["input_tokens"] = usage["input_tokens"] * 4 // 3 + 1


def _generic_message(status: int, headers: dict[str, str], body: dict[str, Any]) -> Body:
    if status == 400:
        body["error"]["message"] = "Bad Request"
    return status, headers, body


def _zero_based_page(citation: Any) -> None:
    if isinstance(citation, dict) and citation.get("type") == "page_location":
        citation["start_page_number"] -= 1
        citation["end_page_number"] -= 1


def _zero_based_pages(message: dict[str, Any]) -> None:
    """A proxy that converts page numbers to 0-based indexes (page 1 becomes 0)."""
    for block in message.get("content") or []:
        for citation in block.get("citations") or []:
            _zero_based_page(citation)


def _zero_based_page_deltas(payload: dict[str, Any]) -> None:
    if (payload.get("delta") or {}).get("type") == "citations_delta":
        _zero_based_page(payload["delta"].get("citation"))


_KNOWN_IN_2023 = ("end_turn", "max_tokens", "stop_sequence", "tool_use")


def _newer_stops_as_end_turn(obj: dict[str, Any]) -> None:
    """A proxy whose stop-reason enum predates refusal / pause_turn / context-window stops."""
    if obj.get("stop_reason") not in (None, *_KNOWN_IN_2023):
        obj["stop_reason"] = "end_turn"


def _drop_service_tier(obj: dict[str, Any]) -> None:
    """A proxy that rebuilds usage from the token counts alone."""
    (obj.get("usage") or {}).pop("service_tier", None)


def _drop_server_tool_use(obj: dict[str, Any]) -> None:
    """A proxy that rebuilds usage from the token counts alone (no server tool counts)."""
    (obj.get("usage") or {}).pop("server_tool_use", None)


def _web_fetch_uncounted(holder: dict[str, Any]) -> None:
    counts = (holder.get("usage") or {}).get("server_tool_use")
    if isinstance(counts, dict) and "web_fetch_requests" in counts:
        counts["web_fetch_requests"] = 0


def _search_errors_as_no_results(block: dict[str, Any]) -> None:
    content = block.get("content")
    if block.get("type") == "web_search_tool_result" and isinstance(content, dict):
        block["content"] = []


def _search_errors_message(message: dict[str, Any]) -> None:
    for block in message.get("content") or []:
        _search_errors_as_no_results(block)


def _output_file_newline(endpoint: str, status: int, body: bytes) -> tuple[int, bytes]:
    return status, body + b"\n" if endpoint == "files.download" and status == 200 else body


def _fence_json(text: str) -> str:
    return f"```json\n{text}\n```"


def _fence_json_blocks(message: dict[str, Any]) -> None:
    """A gateway that renders JSON answers as markdown (a code fence around them)."""
    for block in message.get("content") or []:
        if block.get("type") == "text" and str(block.get("text", "")).startswith("{"):
            block["text"] = _fence_json(block["text"])


def _fence_json_deltas(events: Events) -> Events:
    """The streamed twin: a fence opens the first text_delta of a JSON block, closes its last."""
    pieces: dict[int, list[dict[str, Any]]] = {}
    for event, payload in events:
        delta = payload.get("delta") or {}
        if event == "content_block_delta" and delta.get("type") == "text_delta":
            pieces.setdefault(payload["index"], []).append(delta)
    for deltas in pieces.values():
        if str(deltas[0].get("text", "")).startswith("{"):
            deltas[0]["text"] = "```json\n" + deltas[0]["text"]
            deltas[-1]["text"] += "\n```"
    return events


_ALL: tuple[Mutant, ...] = (
    # messages, JSON answers
    Mutant(
        "usage-missing",
        "messages",
        "messages",
        "usage is missing from the message, message_start and message_delta",
        json=_on_message(_drop_usage),
        sse=_each(
            _on_events("message_start", lambda p: _drop_usage(p.get("message", {}))),
            _on_events("message_delta", _drop_usage),
        ),
        caught_by=("final-usage",),
    ),
    Mutant(
        "stop-reason-null",
        "messages",
        "messages",
        "a non-streamed message has stop_reason null",
        json=_on_message(_null_stop_reason),
        caught_by=("stop-fields",),
    ),
    Mutant(
        "wrong-id-prefix",
        "messages",
        "messages",
        "message ids start with chatcmpl- instead of msg_",
        json=_on_message(_chatcmpl_id),
        sse=_on_events("message_start", lambda p: _chatcmpl_id(p.get("message", {}))),
        caught_by=("id-prefix",),
    ),
    Mutant(
        "stop-reason-openai",
        "messages",
        "messages",
        "stop_reason carries OpenAI finish reasons (stop, length, tool_calls)",
        json=_on_message(_openai_stop),
        sse=_on_events("message_delta", lambda p: _openai_stop(p["delta"])),
        caught_by=("schema",),
    ),
    Mutant(
        "stop-sequence-dropped",
        "messages",
        "messages",
        'stop_reason "stop_sequence" comes with stop_sequence null',
        json=_on_message(_drop_stop_sequence),
        caught_by=("stop-fields",),
    ),
    Mutant(
        "output-tokens-string",
        "messages",
        "messages",
        'usage.output_tokens is a string ("12") instead of an integer',
        json=_on_message(_output_tokens_string),
        caught_by=("final-usage", "usage-arithmetic"),
    ),
    Mutant(
        "content-not-blocks",
        "messages",
        "messages",
        "a text-only message has content as a plain string, not a list of blocks",
        json=_on_message(_content_as_string),
        caught_by=("schema",),
    ),
    # headers of every answer
    Mutant(
        "request-id-missing",
        "common",
        "messages",
        "answers carry no request-id header",
        headers=_request_id_missing,
        caught_by=("request-id",),
    ),
    Mutant(
        "request-id-foreign",
        "common",
        "messages",
        "the request-id header is the gateway's own UUID, not the API's req_ id",
        headers=_request_id_foreign,
        caught_by=("request-id",),
    ),
    Mutant(
        "content-type-wrong",
        "common",
        "messages",
        "JSON answers are labelled text/plain",
        json=_json_as_text,
        caught_by=("content-type",),
    ),
    # streaming
    Mutant(
        "sse-reordered",
        "messages",
        "streaming",
        "message_delta is sent before the last content_block_stop",
        sse=_sse_reordered,
        caught_by=("sse-grammar",),
    ),
    Mutant(
        "sse-no-message-stop",
        "messages",
        "streaming",
        "streams end without message_stop",
        sse=_drop_events("message_stop"),
        caught_by=("sse-grammar",),
    ),
    Mutant(
        "sse-no-block-stop",
        "messages",
        "streaming",
        "content_block_stop events are dropped",
        sse=_drop_events("content_block_stop"),
        caught_by=("sse-grammar",),
    ),
    Mutant(
        "sse-index-shifted",
        "messages",
        "streaming",
        "content block indexes start at 1 instead of 0",
        sse=_shift_indexes,
        caught_by=("sse-grammar",),
    ),
    Mutant(
        "sse-event-names-generic",
        "messages",
        "streaming",
        "every event: line says message instead of the event's JSON type",
        sse=_generic_event_names,
        caught_by=("sse-grammar",),
    ),
    Mutant(
        "sse-data-truncated",
        "messages",
        "streaming",
        "the data line of the first content_block_delta is cut in half (not JSON)",
        wire=_truncate_data,
        caught_by=("sse-grammar",),
    ),
    Mutant(
        "sse-done-sentinel",
        "messages",
        "streaming",
        "an OpenAI-style data: [DONE] line follows message_stop",
        wire=_done_sentinel,
        caught_by=("sse-grammar",),
    ),
    Mutant(
        "sse-usage-zeroed",
        "messages",
        "streaming",
        "every count in message_delta usage is 0 (output_tokens goes down)",
        sse=_on_events("message_delta", _zero_usage),
        caught_by=("final-usage",),
    ),
    Mutant(
        "sse-content-type-json",
        "messages",
        "streaming",
        "streams are labelled application/json instead of text/event-stream",
        headers=_stream_as_json,
        # the label is a run-level root cause; the test itself fails on the body it cannot read
        caught_by=("content-type", "json-body"),
    ),
    # tools
    Mutant(
        "input-json-broken",
        "messages",
        "tools",
        "input_json_delta pieces do not join to valid JSON",
        sse=_input_json_broken,
        also=("streaming",),
        caught_by=("input-json",),
    ),
    Mutant(
        "tool-input-string",
        "messages",
        "tools",
        "tool_use input is a JSON-encoded string instead of an object",
        json=_on_message(_tool_input_string),
        caught_by=("schema",),
    ),
    Mutant(
        "tool-id-prefix",
        "messages",
        "tools",
        "tool_use ids start with call_ (OpenAI) instead of toolu_",
        json=_on_message(_tool_ids_json),
        sse=_on_events("content_block_start", lambda p: _openai_tool_id(p["content_block"])),
        caught_by=("id-prefix",),
    ),
    Mutant(
        "tool-stop-end-turn",
        "messages",
        "tools",
        'a message with a tool_use block stops with "end_turn" instead of "tool_use"',
        json=_on_message(_tool_end_turn),
        sse=_on_events("message_delta", lambda p: _tool_end_turn(p["delta"])),
        caught_by=("stop-fields",),
    ),
    # count_tokens
    Mutant(
        "count-tokens-string",
        "count_tokens",
        "count_tokens",
        "count_tokens answers input_tokens as a string",
        json=_on_success("messages.count_tokens", _count_as_string),
        caught_by=("schema", "usage-arithmetic"),
    ),
    Mutant(
        "count-tokens-missing",
        "count_tokens",
        "count_tokens",
        "POST /v1/messages/count_tokens is not routed: 404 for the whole family",
        json=_count_tokens_missing,
        caught_by=("test_count_tokens.py::test_count_tokens",),
    ),
    # models
    Mutant(
        "models-pagination-broken",
        "models",
        "models",
        "last_id of a models page is not the id of its last item",
        json=_on_success("models.list", _last_id_wrong),
        caught_by=("page-cursors",),
    ),
    Mutant(
        "models-first-id-wrong",
        "models",
        "models",
        "first_id of a models page repeats last_id",
        json=_on_success("models.list", _first_id_wrong),
        caught_by=("page-cursors",),
    ),
    Mutant(
        "models-has-more-stuck",
        "models",
        "models",
        "has_more is always true, so a client walking the pages never stops",
        json=_on_success("models.list", _has_more_stuck),
        caught_by=("pagination-walk",),
    ),
    Mutant(
        "models-page-twice",
        "models",
        "models",
        "every models page lists its items twice (a gateway merging two upstreams)",
        json=_on_success("models.list", _page_twice),
        caught_by=("page-cursors", "pagination-walk"),
    ),
    Mutant(
        "model-alias-unresolved",
        "models",
        "models",
        "GET /v1/models/{id} answers with the newest model, whatever id or alias was asked",
        json=_on_success("models.retrieve", _retrieve_newest),
        caught_by=("model-alias",),
    ),
    Mutant(
        "model-created-epoch",
        "models",
        "models",
        "created_at is a Unix timestamp (OpenAI style) instead of an RFC 3339 string",
        json=_on_success("models.retrieve", _created_epoch),
        caught_by=("schema",),
    ),
    # errors
    Mutant(
        "error-envelope-foreign",
        "common",
        "errors",
        "errors use OpenAI's {error:{message,type,code}} shape",
        json=_on_error(_openai_envelope),
        caught_by=("error-envelope",),
    ),
    Mutant(
        "error-type-missing",
        "common",
        "errors",
        'error bodies lack the top-level "type": "error"',
        json=_on_error(_drop_top_type),
        caught_by=("error-envelope",),
    ),
    Mutant(
        "error-type-flattened",
        "common",
        "errors",
        "every error has error.type invalid_request_error, whatever the status",
        json=_on_error(_flatten_type),
        caught_by=("error-envelope", "error-type"),
    ),
    Mutant(
        "not-found-as-500",
        "common",
        "errors",
        "a 404 (unknown model) comes back as 500 api_error",
        json=_status_as(404, 500),
        caught_by=("test_errors.py::test_bad_request",),
    ),
    Mutant(
        "auth-error-403",
        "common",
        "errors",
        "a missing or wrong key gets 403 permission_error instead of 401",
        json=_status_as(401, 403),
        caught_by=("test_errors.py::test_missing_key",),
    ),
    Mutant(
        "error-as-200",
        "common",
        "errors",
        "errors come back with HTTP 200 and the envelope in the body",
        json=_on_error(_error_as_200),
        caught_by=("test_errors.py::test_bad_request",),
    ),
    Mutant(
        "version-not-enforced",
        "messages",
        "errors",
        "a bad anthropic-version is not rejected (the proxy pins its own version)",
        json=_version_not_enforced,
        caught_by=("test_errors.py::test_bad_anthropic_version",),
    ),
    # batches
    Mutant(
        "batch-counts-stale",
        "batches",
        "batches",
        "an ended batch still counts every request as processing",
        json=_on_batches(_stale_counts),
        caught_by=("batch-request-counts",),
    ),
    Mutant(
        "batch-id-prefix",
        "batches",
        "batches",
        "batch ids start with batch_ (OpenAI) instead of msgbatch_",
        json=_on_batches(_openai_batch_id),
        caught_by=("id-prefix",),
    ),
    Mutant(
        "batch-results-no-custom-id",
        "batches",
        "batches",
        "batch result lines lack custom_id, so results cannot be matched to requests",
        raw=_results_without_custom_id,
        caught_by=("batch-results-coverage",),
    ),
    # files
    Mutant(
        "file-size-wrong",
        "files",
        "files",
        "size_bytes is the size of the base64 text, not of the file",
        json=_on_files(_size_as_base64),
        caught_by=("file-metadata",),
    ),
    Mutant(
        "file-id-prefix",
        "files",
        "files",
        "file ids start with file- (OpenAI) instead of file_",
        json=_on_files(_openai_file_id),
        caught_by=("id-prefix",),
    ),
    Mutant(
        "file-delete-wrong-type",
        "files",
        "files",
        'deleting a file answers type "file" instead of "file_deleted"',
        json=_on_success("files.delete", _deleted_as_file),
        caught_by=("deleted-shape",),
    ),
    Mutant(
        "file-mime-octet-stream",
        "files",
        "files",
        "every file is described as application/octet-stream, whatever was uploaded",
        json=_on_files(_octet_stream),
        caught_by=("file-metadata",),
    ),
    Mutant(
        "file-delete-204",
        "files",
        "files",
        "deleting a file answers 204 with an empty body instead of the file_deleted object",
        raw=_delete_as_204,
        caught_by=("deleted-shape",),
    ),
    # admin
    Mutant(
        "admin-has-more-stuck",
        "admin",
        "admin",
        "Admin API lists always say has_more true, so walking users never ends",
        json=_on_success(_ADMIN_LISTS, _has_more_stuck),
        caught_by=("pagination-walk",),
    ),
    Mutant(
        "api-key-secret-leaked",
        "admin",
        "admin",
        "Admin API key objects carry the secret key itself",
        json=_on_objects("admin.api_keys", "api_key", _leak_key),
        caught_by=("schema",),
    ),
    Mutant(
        "cost-amount-number",
        "admin",
        "admin",
        "cost report amounts are JSON numbers instead of decimal strings",
        json=_on_success("admin.cost_report", _cost_amount_number),
        caught_by=("decimal-amount",),
    ),
    # prompt caching
    Mutant(
        "cache-usage-dropped",
        "messages",
        "caching",
        "usage lacks cache_creation_input_tokens, cache_read_input_tokens and cache_creation",
        json=_on_message(_drop_cache_fields),
        sse=_on_usage_events(_drop_cache_fields),
        caught_by=("cache-usage-fields",),
    ),
    Mutant(
        "cache-read-as-input",
        "messages",
        "caching",
        "tokens read from the prompt cache are reported as input_tokens, cache_read_input_tokens 0",
        json=_on_message(_cache_read_as_input),
        sse=_on_usage_events(_cache_read_as_input),
        also=("caching_live",),
        caught_by=("cache-accounting",),
    ),
    # extended thinking
    Mutant(
        "signature-delta-dropped",
        "messages",
        "thinking",
        "signature_delta events are dropped, so streamed thinking blocks have no signature",
        sse=_drop_signature_deltas,
        also=("thinking_live",),
        caught_by=("signature-delta", "thinking-signature"),
    ),
    Mutant(
        "thinking-dropped",
        "messages",
        "thinking",
        "thinking and redacted_thinking blocks are dropped from messages",
        json=_on_message(_drop_thinking_blocks),
        also=("thinking_live",),
        caught_by=("test_thinking.py::test_thinking_block_is_signed",),
    ),
    # tool modes
    Mutant(
        "parallel-tools-merged",
        "messages",
        "tool_modes",
        "parallel tool calls are cut to the first tool_use block of the turn",
        json=_on_message(_first_tool_call_only),
        also=("tool_modes_live",),
        caught_by=("test_tool_modes.py::test_parallel_tool_calls_answered_together",),
    ),
    # documents and citations
    Mutant(
        "citation-offsets-shifted",
        "messages",
        "documents",
        "char_location citations point one character past the text they quote",
        json=_on_message(_shift_citations),
        sse=_on_events("content_block_delta", _shift_citation_deltas),
        caught_by=("citation-location",),
    ),
    # request-side and value-changing bugs: the answer is well-formed, only its values show it
    Mutant(
        "system-dropped",
        "messages",
        "messages",
        "the system prompt is not forwarded (string or blocks)",
        request=_on_request(_MESSAGE_REQUESTS, _drop_keys("system")),
        caught_by=("test_messages.py::test_system_prompt_string_and_blocks",),
    ),
    Mutant(
        "history-truncated",
        "messages",
        "messages",
        "only the last message of the conversation is forwarded (no history)",
        request=_on_request(_MESSAGE_REQUESTS, _last_message_only),
        caught_by=("test_messages.py::test_multi_turn",),
    ),
    Mutant(
        "model-rewritten",
        "messages",
        "messages",
        "every request is routed to the gateway's default model, whatever model was asked",
        request=_on_request(_MESSAGE_REQUESTS, _route_to_other_model),
        caught_by=("model-echo",),
    ),
    Mutant(
        "tool-choice-dropped",
        "messages",
        "tools",
        "tool_choice is not forwarded, so a forced tool becomes auto",
        request=_on_request(_MESSAGE_REQUESTS, _drop_keys("tool_choice")),
        caught_by=("tool-choice",),
    ),
    Mutant(
        "tool-input-emptied",
        "messages",
        "tools",
        "the string values of tool_use inputs arrive empty (a lossy arguments translation)",
        json=_on_message(_empty_tool_inputs),
        sse=_empty_streamed_tool_inputs,
        caught_by=("test_tools.py::test_tool_choice", "test_tools.py::test_tool_result_round_trip"),
    ),
    Mutant(
        "images-dropped",
        "messages",
        "vision",
        "image blocks are removed from the request (a translator that knows only text)",
        request=_on_request(_MESSAGE_REQUESTS, _drop_blocks("image")),
        caught_by=("test_vision.py::test_png_image_block",),
    ),
    Mutant(
        "documents-dropped",
        "messages",
        "files",
        "document blocks are removed from the request",
        request=_on_request(_MESSAGE_REQUESTS, _drop_blocks("document")),
        caught_by=("test_files.py::test_file_in_message",),
    ),
    Mutant(
        "count-tokens-messages-only",
        "count_tokens",
        "count_tokens",
        "count_tokens counts the messages only: system prompt and tools are not forwarded",
        request=_on_request({"messages.count_tokens"}, _drop_keys("system", "tools")),
        caught_by=("test_count_tokens.py::test_count_tokens",),
    ),
    Mutant(
        "sse-delta-duplicated",
        "messages",
        "streaming",
        "the first text_delta of a stream is sent twice",
        sse=_duplicate_first_text_delta,
        caught_by=("test_streaming.py::test_streaming_text",),
    ),
    Mutant(
        "sse-text-truncated",
        "messages",
        "streaming",
        "the last text_delta of a stream is lost, so the streamed text is cut short",
        sse=_drop_last_text_delta,
        caught_by=("test_streaming.py::test_streaming_text",),
    ),
    Mutant(
        "sse-input-tokens-estimated",
        "messages",
        "streaming",
        "a stream bills input_tokens from the gateway's own estimate, not the API's count",
        sse=_each(
            _on_events("message_start", _estimated_input),
            _on_events("message_delta", _estimated_input),
        ),
        caught_by=("test_streaming.py::test_stream_agrees_with_the_json_answer",),
    ),
    Mutant(
        "rate-limit-as-500",
        "common",
        "headers",
        "a 429 comes back as 500 api_error, so clients retry at once instead of backing off",
        json=_status_as(429, 500),
        caught_by=("test_headers.py::test_retry_after_on_429",),
    ),
    Mutant(
        "error-message-generic",
        "common",
        "errors",
        'every 400 says only "Bad Request", not what is wrong with the request',
        json=_on_error(_generic_message),
        caught_by=("error-message",),
    ),
    Mutant(
        "citation-pages-zero-based",
        "messages",
        "documents",
        "page_location citations count pages from 0 instead of 1",
        json=_on_message(_zero_based_pages),
        sse=_on_events("content_block_delta", _zero_based_page_deltas),
        also=("documents_live",),
        caught_by=("citation-location", "test_documents.py::test_pdf_document_page_citations"),
    ),
    # stop reasons
    Mutant(
        "newer-stops-as-end-turn",
        "messages",
        "stop_reasons",
        "refusal, pause_turn and model_context_window_exceeded come back as end_turn",
        json=_on_message(_newer_stops_as_end_turn),
        sse=_on_events("message_delta", lambda p: _newer_stops_as_end_turn(p["delta"])),
        caught_by=("test_stop_reasons.py::test_refusal_has_stop_details",),
    ),
    # request fields
    Mutant(
        "usage-service-tier-dropped",
        "messages",
        "request_fields",
        "usage lacks service_tier, so a client cannot tell which tier served it",
        json=_on_message(_drop_service_tier),
        sse=_on_events("message_start", lambda p: _drop_service_tier(p.get("message", {}))),
        caught_by=("test_request_fields.py::test_service_tier_reported_in_usage",),
    ),
    # server tools
    Mutant(
        "server-tool-usage-dropped",
        "messages",
        "server_tools",
        "usage lacks server_tool_use, so web searches go uncounted",
        json=_on_message(_drop_server_tool_use),
        sse=_each(
            _on_events("message_start", lambda p: _drop_server_tool_use(p.get("message", {}))),
            _on_events("message_delta", _drop_server_tool_use),
        ),
        also=("server_tools_live",),
        caught_by=("server-tool-results",),
    ),
    # structured outputs
    Mutant(
        "structured-json-fenced",
        "messages",
        "structured_outputs",
        "JSON answers come wrapped in a markdown code fence (```json ... ```)",
        json=_on_message(_fence_json_blocks),
        sse=_fence_json_deltas,
        caught_by=(
            "structured-output",
            "test_structured_outputs.py::test_output_config_json_schema",
        ),
    ),
    # count_tokens across features: the counting leaves out what /v1/messages bills
    Mutant(
        "count-tokens-images-dropped",
        "count_tokens",
        "count_tokens",
        "count_tokens does not count image blocks, which /v1/messages bills",
        request=_on_request({"messages.count_tokens"}, _drop_blocks("image")),
        also=("vision",),
        caught_by=("test_count_tokens_features.py::test_feature_adds_tokens",),
    ),
    Mutant(
        "count-tokens-documents-dropped",
        "count_tokens",
        "count_tokens",
        "count_tokens does not count document blocks (text or PDF), which /v1/messages bills",
        request=_on_request({"messages.count_tokens"}, _drop_blocks("document")),
        also=("documents",),
        caught_by=("test_count_tokens_features.py::test_feature_adds_tokens",),
    ),
    Mutant(
        "count-tokens-thinking-dropped",
        "count_tokens",
        "count_tokens",
        "count_tokens drops the thinking parameter, so thinking's own system prompt is not counted",
        request=_on_request({"messages.count_tokens"}, _drop_keys("thinking")),
        also=("thinking",),
        caught_by=("test_count_tokens_features.py::test_feature_adds_tokens",),
    ),
    Mutant(
        "count-tokens-system-blocks-dropped",
        "count_tokens",
        "count_tokens",
        "count_tokens drops a system prompt given as text blocks (only the string form counts)",
        request=_on_request({"messages.count_tokens"}, _drop_block_system),
        caught_by=("test_count_tokens_features.py::test_feature_adds_tokens",),
    ),
    Mutant(
        "count-tokens-tool-schemas-dropped",
        "count_tokens",
        "count_tokens",
        "count_tokens counts tools by name only: descriptions and input schemas are dropped",
        request=_on_request({"messages.count_tokens"}, _bare_tool_schemas),
        also=("tools",),
        caught_by=(
            "test_count_tokens.py::test_count_tokens_matches_billed_input",
            "count-tokens-agrees",
        ),
    ),
    # server tools: web fetch, code execution, web search errors
    Mutant(
        "web-fetch-uncounted",
        "messages",
        "server_tools",
        "usage.server_tool_use.web_fetch_requests is 0 although the answer fetched a page",
        json=_on_message(_web_fetch_uncounted),
        sse=_on_events("message_delta", _web_fetch_uncounted),
        also=("server_tools_live",),
        caught_by=("server-tool-results", "test_server_tools.py::test_web_fetch"),
    ),
    Mutant(
        "container-dropped",
        "messages",
        "server_tools",
        "the request's container is dropped (as a proxy forwarding known fields only does), "
        "so code runs in a fresh container that lacks the earlier request's files",
        request=_on_request(("messages.create",), _drop_keys("container")),
        also=("server_tools_live",),
        caught_by=(
            "server-tool-results",
            "test_server_tools.py::test_code_execution_container_reused",
        ),
    ),
    Mutant(
        "code-output-file-newline",
        "files",
        "server_tools",
        "a downloaded file gains a trailing newline, so its bytes are not what the code wrote",
        raw=_output_file_newline,
        also=("files", "server_tools_live"),
        caught_by=("test_server_tools.py::test_code_output_file_download",),
    ),
    Mutant(
        "search-error-as-no-results",
        "messages",
        "server_tools",
        "a web_search_tool_result_error (max_uses_exceeded) comes back as an empty result list",
        json=_on_message(_search_errors_message),
        sse=_on_events(
            "content_block_start", lambda p: _search_errors_as_no_results(p["content_block"])
        ),
        also=("server_tools_live",),
        caught_by=("test_server_tools.py::test_web_search_max_uses_error",),
    ),
)

#: Every mutant by name, in a stable order.
MUTANTS: Mapping[str, Mutant] = {m.name: m for m in _ALL}
