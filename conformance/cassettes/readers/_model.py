"""The one shape every recording format is read into, and the decoding helpers they share.

Each reader turns its format's document into ``Interaction`` values (method, URL, headers, body
bytes, status, when it was recorded); everything downstream (the linter, the corpus tests, the
secret scanner) sees only this shape, so supporting a new format is one reader module.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from conformance.exceptions import ConformanceToolError

_GZIP_MAGIC = b"\x1f\x8b"


class CassetteError(ConformanceToolError):
    """A recording file that cannot be read at all; the message names the file and the cause."""


class Unreadable(ValueError):
    """One interaction whose shape its reader does not understand (the others are still read)."""


@dataclass(frozen=True)
class Interaction:
    """One recorded request and its answer, whatever format recorded it.

    Headers are lower-cased, one string per name (repeated values joined with ", "); bodies are
    the decoded bytes (base64, gzip and deflate undone). ``recorded_at`` is when the recorder
    says it recorded this interaction (None: the format or file does not say). ``timing`` is
    this project's recorded event offsets (``conformance.timing``), present only when
    ``has_timing``.
    """

    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: bytes
    status: int
    response_headers: Mapping[str, str]
    response_body: bytes
    recorded_at: datetime | None = None
    timing: Any = None
    has_timing: bool = False


@dataclass(frozen=True)
class BadInteraction:
    """An interaction its reader could not understand: why, and where it was going if known."""

    error: str
    method: str = ""
    url: str = ""


@dataclass
class Recording:
    """Everything one file holds: its format, its interactions and what it says about itself.

    ``by_content`` is set for bare bodies: no request was recorded, so the endpoint was inferred
    from the body and the interaction is Anthropic's by its shape, whatever host is asked for.
    """

    path: Path
    format: str
    items: list[Interaction | BadInteraction] = field(default_factory=list)
    provenance: dict[str, str] | None = None
    recorded_at: datetime | None = None
    by_content: bool = False
    #: The parsed document (None for text formats), for callers that read more of it.
    document: Any = None


# --- shared decoding -----------------------------------------------------------------------------


def text_of(value: Any) -> str:
    """One header value as text (bytes are decoded as latin-1, as HTTP/1.1 does)."""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def header_map(raw: Any) -> dict[str, str]:
    """Lower-cased headers, one string each, from a mapping of names to a value or a list."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise Unreadable(f"headers are a {type(raw).__name__}, not a mapping")
    return header_pairs(
        (name, v)
        for name, value in raw.items()
        for v in (value if isinstance(value, list) else [value])
    )


def header_pairs(pairs: Any) -> dict[str, str]:
    """Lower-cased headers from ``(name, value)`` pairs; repeated names are joined with ", "."""
    out: dict[str, str] = {}
    for name, value in pairs:
        if value is None:
            continue
        key, text = str(name).lower(), text_of(value)
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def as_bytes(raw: Any, what: str = "body") -> bytes:
    """Text or bytes as bytes (None is an empty body)."""
    if raw is None:
        return b""
    if isinstance(raw, str):
        return raw.encode("utf-8")
    if isinstance(raw, bytes):
        return raw
    raise Unreadable(f"{what} is a {type(raw).__name__}, not text or bytes")


def b64(text: Any, what: str = "body") -> bytes:
    """Base64 text decoded; a clear ``Unreadable`` when it is not base64."""
    try:
        return base64.b64decode(text if isinstance(text, bytes | str) else str(text))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise Unreadable(f"{what} is not base64: {exc}") from exc


def decompress(data: bytes, encoding: str) -> bytes:
    """The body with gzip/deflate undone, when the bytes really are compressed.

    Recorders differ: some keep the compressed bytes and the header, some decode and keep the
    header, some drop it. So sniff the magic bytes and only trust the header when they agree.
    """
    encoding = encoding.lower()
    if data.startswith(_GZIP_MAGIC):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise Unreadable(f"body looks gzip-compressed but is not: {exc}") from exc
    if "deflate" in encoding:
        for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
            try:
                return zlib.decompress(data, wbits)
            except zlib.error:
                continue
    if encoding.strip() in ("br", "zstd"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise Unreadable(
                f"body is {encoding}-compressed, which this reader cannot decode"
            ) from None
    return data


def json_bytes(value: Any) -> bytes:
    """An already-decoded JSON body (pydantic-ai's ``parsed_body``, nock's objects) as bytes."""
    return json.dumps(value, ensure_ascii=False).encode()


_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def parse_date(value: Any) -> datetime | None:
    """A recorder's timestamp as an aware UTC datetime; None when absent or not a date.

    Formats seen: RFC 1123 (``Wed, 29 Jan 2025 14:24:58 GMT``: HTTP ``Date``, Ruby VCR),
    RFC 3339 (HAR, this project's provenance), R vcr's naive ``2026-08-02 17:45:05`` (UTC).
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        if not _NAIVE.match(text) and "," not in text:
            return None
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
