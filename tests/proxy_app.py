"""A tiny Anthropic pass-through proxy, for testing the suite's proxy support.

An ASGI app forwarding ``/v1/*`` to an upstream with httpx, the way a real gateway does: optional
path prefix (``/anthropic``), optionally serving only ``/v1/messages`` (anything else gets a plain
text 404, like a narrow proxy), optionally minting its own request-ids, and optionally altering
answers of one path, ``/v1/messages`` by default (to prove the pass-through checks catch a
proxy bug), or the requests it forwards, or the errors it hands back (to prove the request
fidelity checks and the forced faults catch what LiteLLM-like gateways do).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from itertools import count
from typing import Any

import httpx

from conformance.reference.faults import HOP_HEADERS
from conformance.sse import format_sse, parse_sse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Events = list[tuple[str, Any]]


@dataclass
class ProxyConfig:
    """How the proxy behaves; the defaults are a faithful pass-through."""

    upstream: str
    prefix: str = ""
    only_messages: bool = False
    own_request_ids: bool = False
    alter_json: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    alter_events: Callable[[Events], Events] | None = None
    alter_path: str = "/v1/messages"  # the one path whose 200 answers are altered
    #: Rewrites each JSON request body before it is forwarded (any path).
    alter_request: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    #: Rewrites the request headers (lower-cased names) before they are forwarded.
    alter_request_headers: Callable[[dict[str, str]], dict[str, str]] | None = None
    #: Answer headers the proxy does not hand back (e.g. ``request-id``).
    drop_answer_headers: tuple[str, ...] = ()
    #: Hands back a 529 as a 500, and overloaded_error as api_error (JSON and SSE error events).
    remap_overloaded: bool = False


def make_proxy(config: ProxyConfig) -> Callable[[Scope, Receive, Send], Awaitable[None]]:  # noqa: C901
    """The ASGI app of a proxy configured by ``config``."""
    serial = count(1)
    clients: list[httpx.AsyncClient] = []  # one, made inside the server's event loop

    # one switch per configured fault, read top to bottom: splitting it would hide the order
    async def app(scope: Scope, receive: Receive, send: Send) -> None:  # noqa: C901
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if config.prefix:
            if not path.startswith(config.prefix + "/"):
                await _plain(send, 404, b"404 page not found")
                return
            path = path[len(config.prefix) :]
        if not path.startswith("/v1/") or (config.only_messages and path != "/v1/messages"):
            await _plain(send, 404, b"404 page not found")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if not clients:
            clients.append(httpx.AsyncClient(timeout=30))
        query = scope.get("query_string", b"").decode()
        url = config.upstream.rstrip("/") + path + (f"?{query}" if query else "")
        headers = [
            (k.decode().lower(), v.decode())
            for k, v in scope["headers"]
            if k.decode().lower() not in HOP_HEADERS
        ]
        if config.alter_request_headers:
            headers = list(config.alter_request_headers(dict(headers)).items())
        if config.alter_request and body:
            body = json.dumps(config.alter_request(json.loads(body))).encode()
        request = clients[0].build_request(scope["method"], url, headers=headers, content=body)
        response = await clients[0].send(request, stream=True)
        try:
            out = [
                (k.encode(), v.encode())
                for k, v in response.headers.items()
                if k.lower() not in HOP_HEADERS
            ]
            if config.own_request_ids:
                out = [(k, v) for k, v in out if k != b"request-id"]
                out.append((b"request-id", f"req_proxy{next(serial):08d}".encode()))
            out = [(k, v) for k, v in out if k.decode() not in config.drop_answer_headers]
            ctype = response.headers.get("content-type", "")
            alter = path == config.alter_path and response.status_code == 200
            if config.remap_overloaded and ctype.startswith("text/event-stream"):
                raw = await response.aread()
                events = [(e.event, _overloaded_as_api_error(e.json)) for e in parse_sse(raw)]
                await _whole(send, response.status_code, out, format_sse(events))
            elif config.remap_overloaded and response.status_code == 529:
                data = _overloaded_as_api_error(json.loads(await response.aread()))
                await _whole(send, 500, out, json.dumps(data).encode())
            elif alter and ctype.startswith("text/event-stream") and config.alter_events:
                raw = await response.aread()
                events: Events = [(e.event, e.json) for e in parse_sse(raw)]
                await _whole(
                    send, response.status_code, out, format_sse(config.alter_events(events))
                )
            elif alter and ctype.startswith("application/json") and config.alter_json:
                data = json.loads(await response.aread())
                await _whole(
                    send, response.status_code, out, json.dumps(config.alter_json(data)).encode()
                )
            else:
                await send(
                    {"type": "http.response.start", "status": response.status_code, "headers": out}
                )
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    return app


async def _whole(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _plain(send: Send, status: int, text: bytes) -> None:
    await _whole(send, status, [(b"content-type", b"text/plain; charset=utf-8")], text)


def _overloaded_as_api_error(payload: Any) -> Any:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("type") == "overloaded_error":
        error["type"] = "api_error"
    return payload


# --- alterations: realistic proxy bugs ----------------------------------------------------------


def drop_cache_fields_json(body: dict[str, Any]) -> dict[str, Any]:
    for key in ("cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation"):
        (body.get("usage") or {}).pop(key, None)
    return body


def drop_cache_fields_events(events: Events) -> Events:
    for name, payload in events:
        usage = (payload.get("message", {}) if name == "message_start" else payload).get("usage")
        for key in ("cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation"):
            (usage or {}).pop(key, None)
    return events


def rewrite_tool_id_json(body: dict[str, Any]) -> dict[str, Any]:
    for block in body.get("content") or []:
        if block.get("type") == "tool_use":
            block["id"] = "toolu_rewritten_by_proxy"
    return body


def rewrite_tool_id_events(events: Events) -> Events:
    for name, payload in events:
        block = payload.get("content_block") if name == "content_block_start" else None
        if block and block.get("type") == "tool_use":
            block["id"] = "toolu_rewritten_by_proxy"
    return events


def swap_first_deltas(events: Events) -> Events:
    """Two text deltas swapped: every event is there, in the wrong order."""
    idx = [i for i, (name, _) in enumerate(events) if name == "content_block_delta"]
    if len(idx) >= 2:
        a, b = idx[0], idx[1]
        events[a], events[b] = events[b], events[a]
    return events


def strip_signature_json(body: dict[str, Any]) -> dict[str, Any]:
    for block in body.get("content") or []:
        if block.get("type") == "thinking":
            block.pop("signature", None)
    return body


def strip_signature_events(events: Events) -> Events:
    return [
        (name, p)
        for name, p in events
        if not (
            name == "content_block_delta"
            and (p.get("delta") or {}).get("type") == "signature_delta"
        )
    ]


def count_one_more(body: dict[str, Any]) -> dict[str, Any]:
    """count_tokens off by one (a gateway adding its own system prompt's tokens, say)."""
    body["input_tokens"] += 1
    return body


def drop_display_name(body: dict[str, Any]) -> dict[str, Any]:
    """Each model of a page without ``display_name`` (a gateway mapping to its own model type)."""
    for model in body.get("data") or []:
        model.pop("display_name", None)
    return body


# --- request rewrites: what translating gateways do to requests ---------------------------------


def strip_metadata(body: dict[str, Any]) -> dict[str, Any]:
    """LiteLLM-style: ``metadata`` is the gateway's own, never forwarded."""
    body.pop("metadata", None)
    return body


def add_stream_false(body: dict[str, Any]) -> dict[str, Any]:
    """A translator that spells out ``"stream": false`` on every non-streamed request."""
    if "messages" in body and "max_tokens" in body:
        body.setdefault("stream", False)
    return body


def rewrite_model(body: dict[str, Any]) -> dict[str, Any]:
    """A router sending every request to the dated id of the model the client named."""
    if body.get("model") == "claude-haiku-4-5":
        body["model"] = "claude-haiku-4-5-20251001"
    return body


def answer_with_alias(body: dict[str, Any]) -> dict[str, Any]:
    """The answer's model mapped back to the gateway's own name for it."""
    if body.get("type") == "message":
        body["model"] = "gateway-haiku"
    return body


def drop_first_beta(headers: dict[str, str]) -> dict[str, str]:
    """A gateway that forwards only the last anthropic-beta value."""
    betas = [b for b in headers.get("anthropic-beta", "").split(",") if b]
    if len(betas) > 1:
        headers["anthropic-beta"] = ",".join(betas[1:])
    return headers


def invent_version(headers: dict[str, str]) -> dict[str, str]:
    """A gateway that fills in its default anthropic-version when the client sent none."""
    headers.setdefault("anthropic-version", "2023-06-01")
    return headers
