"""HAR 1.2 archives, as Polly.JS (and browsers) write them.

Layout: ``{log: {creator: {name: "Polly.JS"}, entries: [{startedDateTime, request: {method, url,
headers: [{name, value}], postData: {mimeType, text}}, response: {status, headers: [...],
content: {mimeType, text, encoding?}}}]}}``. ``content.encoding: base64`` marks binary text;
``startedDateTime`` dates each entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._model import (
    BadInteraction,
    Interaction,
    Recording,
    Unreadable,
    as_bytes,
    b64,
    decompress,
    header_pairs,
    parse_date,
)
from ._pairs import status_code

NAME = "HAR (Polly.JS)"


def accepts(doc: Any) -> bool:
    log = doc.get("log") if isinstance(doc, Mapping) else None
    return isinstance(log, Mapping) and isinstance(log.get("entries"), list)


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(isinstance(h, Mapping) for h in raw):
        raise Unreadable("HAR headers are not a list of {name, value}")
    return header_pairs((h.get("name", ""), h.get("value")) for h in raw)


def _entry(raw: Any) -> Interaction | BadInteraction:
    method = url = ""
    try:
        if not isinstance(raw, Mapping):
            raise Unreadable(f"entry is a {type(raw).__name__}, not a mapping")
        request, response = raw.get("request"), raw.get("response")
        if not isinstance(request, Mapping) or not isinstance(response, Mapping):
            raise Unreadable("entry lacks a request or response")
        method, url = str(request.get("method") or "").upper(), str(request.get("url") or "")
        if not method or not url:
            raise Unreadable("request has no method or url")
        req_headers, resp_headers = (
            _headers(request.get("headers")),
            _headers(response.get("headers")),
        )
        post = request.get("postData")
        req_body = as_bytes(post.get("text")) if isinstance(post, Mapping) else b""
        content = response.get("content")
        body = b""
        if isinstance(content, Mapping):
            text = content.get("text")
            body = (
                b64(text, "content.text") if content.get("encoding") == "base64" else as_bytes(text)
            )
        return Interaction(
            method,
            url,
            req_headers,
            req_body,
            status_code(response.get("status")),
            resp_headers,
            decompress(body, resp_headers.get("content-encoding", "")),
            recorded_at=parse_date(raw.get("startedDateTime")),
        )
    except (Unreadable, ValueError, TypeError) as exc:
        return BadInteraction(f"{type(exc).__name__}: {exc}", method, url)


def read(doc: Any, path: Path) -> Recording:
    return Recording(path, NAME, [_entry(e) for e in doc["log"]["entries"]], document=doc)
