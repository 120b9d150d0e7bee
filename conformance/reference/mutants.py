"""Named, deliberate contract violations of the reference server.

A mutant is data: a name, the family and suite feature that should notice it, and hooks that
rewrite the faithful answer after it was generated. The app applies every enabled mutant's hooks
in order, so a mutant never touches route code and each stays a few lines. ``mutation-score``
runs the suite once per mutant and expects it to fail.

Hooks get copies they may mutate freely:

* ``json(endpoint, status, headers, body) -> (status, headers, body)`` for every JSON answer,
  errors included (``endpoint`` is a catalog endpoint name, or ``""`` for an unknown route);
* ``sse(events) -> events`` for a streamed answer, as ``(event name, payload)`` pairs;
* ``headers(endpoint, status, headers) -> headers`` for every answer, JSON or streamed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

JsonHook = Callable[[str, int, dict[str, str], Any], tuple[int, dict[str, str], Any]]
SseHook = Callable[[list[tuple[str, dict[str, Any]]]], list[tuple[str, dict[str, Any]]]]
HeadersHook = Callable[[str, int, dict[str, str]], dict[str, str]]
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


def _is_message(endpoint: str, status: int, body: Any) -> bool:
    return endpoint == "messages.create" and status == 200 and isinstance(body, dict)


def _index(events: Events, name: str, last: bool = False) -> int | None:
    hits = [i for i, (ev, _) in enumerate(events) if ev == name]
    if not hits:
        return None
    return hits[-1] if last else hits[0]


# --- hooks ----------------------------------------------------------------------------------------


def _sse_reordered(events: Events) -> Events:
    stop, delta = _index(events, "content_block_stop", last=True), _index(events, "message_delta")
    if stop is None or delta is None:
        return events
    moved = events.pop(delta)
    events.insert(stop, moved)
    return events


def _usage_missing_json(endpoint: str, status: int, headers: dict[str, str], body: Any
                        ) -> tuple[int, dict[str, str], Any]:
    if _is_message(endpoint, status, body):
        body.pop("usage", None)
    return status, headers, body


def _usage_missing_sse(events: Events) -> Events:
    for name, payload in events:
        if name == "message_start":
            payload.get("message", {}).pop("usage", None)
        elif name == "message_delta":
            payload.pop("usage", None)
    return events


def _foreign_envelope(endpoint: str, status: int, headers: dict[str, str], body: Any
                      ) -> tuple[int, dict[str, str], Any]:
    if status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        body = {"error": {"message": err.get("message"), "type": err.get("type"), "code": None}}
    return status, headers, body


def _stop_reason_null(endpoint: str, status: int, headers: dict[str, str], body: Any
                      ) -> tuple[int, dict[str, str], Any]:
    if _is_message(endpoint, status, body):
        body["stop_reason"] = None
    return status, headers, body


def _request_id_missing(endpoint: str, status: int, headers: dict[str, str]) -> dict[str, str]:
    headers.pop("request-id", None)
    return headers


def _input_json_broken(events: Events) -> Events:
    last = max((i for i, (name, p) in enumerate(events) if name == "content_block_delta"
                and p.get("delta", {}).get("type") == "input_json_delta"), default=None)
    if last is not None:
        extra = {**events[last][1], "delta": {"type": "input_json_delta", "partial_json": "}"}}
        events.insert(last + 1, ("content_block_delta", extra))
    return events


def _wrong_prefix(message_id: Any) -> Any:
    if isinstance(message_id, str):
        return "chatcmpl-" + message_id.split("_", 1)[-1]
    return message_id


def _wrong_id_prefix_json(endpoint: str, status: int, headers: dict[str, str], body: Any
                          ) -> tuple[int, dict[str, str], Any]:
    if _is_message(endpoint, status, body):
        body["id"] = _wrong_prefix(body.get("id"))
    return status, headers, body


def _wrong_id_prefix_sse(events: Events) -> Events:
    for name, payload in events:
        if name == "message_start":
            message = payload.get("message", {})
            message["id"] = _wrong_prefix(message.get("id"))
    return events


def _models_pagination_broken(endpoint: str, status: int, headers: dict[str, str], body: Any
                              ) -> tuple[int, dict[str, str], Any]:
    if endpoint == "models.list" and status == 200 and isinstance(body, dict):
        data = body.get("data") or []
        body["last_id"] = data[-2]["id"] if len(data) > 1 else "model-that-is-not-on-the-page"
    return status, headers, body


_ALL: tuple[Mutant, ...] = (
    Mutant("sse-reordered", "messages", "streaming",
           "message_delta is sent before the last content_block_stop", sse=_sse_reordered),
    Mutant("usage-missing", "messages", "messages",
           "usage is missing from the message, message_start and message_delta",
           json=_usage_missing_json, sse=_usage_missing_sse),
    Mutant("error-envelope-foreign", "common", "errors",
           "errors use OpenAI's {error:{message,type,code}} shape", json=_foreign_envelope),
    Mutant("stop-reason-null", "messages", "messages",
           "a non-streamed message has stop_reason null", json=_stop_reason_null),
    Mutant("request-id-missing", "common", "messages",
           "answers carry no request-id header", headers=_request_id_missing),
    Mutant("input-json-broken", "messages", "tools",
           "input_json_delta pieces do not join to valid JSON", sse=_input_json_broken),
    Mutant("wrong-id-prefix", "messages", "messages",
           "message ids start with chatcmpl- instead of msg_",
           json=_wrong_id_prefix_json, sse=_wrong_id_prefix_sse),
    Mutant("models-pagination-broken", "models", "models",
           "last_id of a models page is not the id of its last item",
           json=_models_pagination_broken),
)

#: Every mutant by name, in a stable order.
MUTANTS: Mapping[str, Mutant] = {m.name: m for m in _ALL}
