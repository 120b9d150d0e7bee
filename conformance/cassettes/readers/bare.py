"""Bare answers saved as fixtures: a JSON body, a JSON-lines body, or an SSE transcript.

No request was recorded, so the endpoint is the one the body's shape shows (``type: message``
is a ``POST /v1/messages`` answer, a page of ``type: model`` items a ``GET /v1/models`` answer,
``{"input_tokens": N}`` a count_tokens answer, an ``error`` envelope an error of the status its
``error.type`` stands for). A body whose shape names no Anthropic endpoint is not read: this
reader must not guess. No headers were recorded either, so no header check applies, and no date.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance import catalog

from ._model import Interaction, Recording

NAME_JSON = "bare JSON body"
NAME_SSE = "bare SSE transcript"
NAME_JSONL = "bare JSON-lines body"

#: The status each error type stands for (the catalog maps status -> type).
_ERROR_STATUS = {t: s for s, t in sorted(catalog.ERROR_TYPES.items(), reverse=True)}
_PLACEHOLDER_ID = "recorded"

#: ``type`` of a single object -> (method, path template) of the endpoint that answers it.
_BY_TYPE: dict[str, tuple[str, str]] = {
    "message": ("POST", "/v1/messages"),
    "message_batch": ("GET", "/v1/messages/batches/{id}"),
    "message_batch_deleted": ("DELETE", "/v1/messages/batches/{id}"),
    "model": ("GET", "/v1/models/{id}"),
    "file": ("GET", "/v1/files/{id}"),
    "file_deleted": ("DELETE", "/v1/files/{id}"),
    "completion": ("POST", "/v1/complete"),
}
#: ``type`` of the items of a page -> (method, path) of the list endpoint.
_PAGE_BY_ITEM = {
    "model": ("GET", "/v1/models"),
    "message_batch": ("GET", "/v1/messages/batches"),
    "file": ("GET", "/v1/files"),
}


def _id_of(body: Mapping[str, Any]) -> str:
    value = body.get("id")
    return value if isinstance(value, str) and value and "/" not in value else _PLACEHOLDER_ID


def endpoint_of(body: Any) -> tuple[str, str, int] | None:
    """``(method, path, status)`` of the answer ``body`` is, or None when its shape says none."""
    if not isinstance(body, Mapping):
        return None
    kind = body.get("type")
    if kind == "error" and isinstance(body.get("error"), Mapping):
        status = _ERROR_STATUS.get(str(body["error"].get("type")), 400)
        return "POST", "/v1/messages", status  # an error of unknown origin: judged as such
    if isinstance(kind, str) and kind in _BY_TYPE:
        method, template = _BY_TYPE[kind]
        return method, template.format(id=_id_of(body)), 200
    if set(body) == {"input_tokens"} or (
        set(body) >= {"input_tokens"}
        and "type" not in body
        and "output_tokens" not in body
        and len(body) <= 3
    ):
        return "POST", "/v1/messages/count_tokens", 200
    data = body.get("data")
    if isinstance(data, list) and data and "object" not in body:
        kinds = {item.get("type") for item in data if isinstance(item, Mapping)}
        if len(kinds) == 1 and (item_kind := kinds.pop()) in _PAGE_BY_ITEM:
            method, path = _PAGE_BY_ITEM[str(item_kind)]
            return method, path, 200
    return None


def accepts_json(doc: Any) -> bool:
    return endpoint_of(doc) is not None


def read_json(doc: Any, path: Path, text: str) -> Recording:
    found = endpoint_of(doc)
    assert found is not None  # accepts_json said so
    method, api_path, status = found
    item = Interaction(method, api_path, {}, b"", status, {}, text.encode("utf-8"))
    return Recording(path, NAME_JSON, [item], by_content=True, document=doc)


def looks_like_sse(text: str) -> bool:
    """An SSE transcript: its first non-blank line is an ``event:`` or ``data:`` field."""
    for line in text.splitlines():
        if line.strip():
            return line.startswith(("event:", "data:"))
    return False


def _event_types(text: str) -> set[str]:
    out: set[str] = set()
    for line in text.splitlines():
        if line.startswith("event:"):
            out.add(line[6:].strip())
        elif line.startswith("data:"):
            try:
                data = json.loads(line[5:])
            except ValueError:
                continue
            if isinstance(data, Mapping) and isinstance(data.get("type"), str):
                out.add(data["type"])
    return out


def accepts_sse(text: str) -> bool:
    """An Anthropic stream: it has a ``message_start`` (event types the API adds later are
    tolerated, api-contract.md; an OpenAI-style transcript has none)."""
    return looks_like_sse(text) and "message_start" in _event_types(text)


def read_sse(text: str, path: Path) -> Recording:
    item = Interaction("POST", "/v1/messages", {}, b"", 200, {}, text.encode("utf-8"))
    return Recording(path, NAME_SSE, [item], by_content=True)


def accepts_jsonl(text: str) -> bool:
    """Batch results: every non-blank line a JSON object with ``custom_id`` and ``result``."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 1:
        return False
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            return False
        if not (isinstance(item, Mapping) and "custom_id" in item and "result" in item):
            return False
    return True


def read_jsonl(text: str, path: Path) -> Recording:
    item = Interaction(
        "GET",
        f"/v1/messages/batches/{_PLACEHOLDER_ID}/results",
        {},
        b"",
        200,
        {},
        text.encode("utf-8"),
    )
    return Recording(path, NAME_JSONL, [item], by_content=True)
