"""nock fixtures (``nock.back`` / ``nock.recorder.rec({output_objects: true})``) as JSON.

Layout: a list of ``{scope: "https://api.anthropic.com:443", method, path, body, status,
response, rawHeaders | headers, reqheaders}``. ``response`` is the decoded JSON, a string, or,
for a compressed answer, a list of hex chunks of the raw bytes. ``rawHeaders`` is a flat
``[name, value, name, value]`` list in nock < 13 and a mapping after. nock keeps no date.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._model import (
    BadInteraction,
    Interaction,
    Recording,
    Unreadable,
    as_bytes,
    decompress,
    header_map,
    header_pairs,
    json_bytes,
)
from ._pairs import status_code

NAME = "nock"


def accepts(doc: Any) -> bool:
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(d, Mapping) and "scope" in d and "method" in d for d in doc)
    )


def _headers(raw: Any) -> dict[str, str]:
    if isinstance(raw, list):
        if len(raw) % 2:
            raise Unreadable("rawHeaders has an odd number of items")
        return header_pairs(zip(raw[0::2], raw[1::2], strict=True))
    return header_map(raw)


def _body(value: Any, *, hex_chunks: bool) -> bytes:
    if value is None or value == "":
        return b""
    if isinstance(value, list) and hex_chunks and all(isinstance(c, str) for c in value):
        try:
            return b"".join(binascii.unhexlify(c) for c in value)
        except (binascii.Error, ValueError) as exc:
            raise Unreadable(f"response chunks are not hex: {exc}") from exc
    if isinstance(value, str):
        return as_bytes(value)
    return json_bytes(value)


def _definition(raw: Mapping[str, Any]) -> Interaction | BadInteraction:
    method = str(raw.get("method") or "").upper()
    url = f"{str(raw.get('scope') or '').rstrip('/')}{raw.get('path') or ''}"
    try:
        resp_headers = _headers(raw.get("rawHeaders", raw.get("headers")))
        chunks = isinstance(raw.get("response"), list) and "content-encoding" in resp_headers
        body = _body(raw.get("response"), hex_chunks=chunks or bool(raw.get("responseIsBinary")))
        return Interaction(
            method,
            url,
            header_map(raw.get("reqheaders")),
            _body(raw.get("body"), hex_chunks=False),
            status_code(raw.get("status", 200)),
            resp_headers,
            decompress(body, resp_headers.get("content-encoding", "")),
        )
    except (Unreadable, ValueError, TypeError) as exc:
        return BadInteraction(f"{type(exc).__name__}: {exc}", method, url)


def read(doc: Any, path: Path) -> Recording:
    return Recording(path, NAME, [_definition(d) for d in doc], document=doc)
