"""Secret redaction, shared by logs, assertion messages and cassettes.

Two nets: headers that carry credentials are masked by name, and any text is scrubbed of values
that look like Anthropic keys plus the exact keys this run was given (a proxy key need not look
like ``sk-ant-…``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from conformance import catalog

MASK = "<redacted>"

_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret of this run so that it is scrubbed wherever it shows up."""
    if value and len(value) >= 6:
        _known.add(value)


def known_secrets() -> frozenset[str]:
    return frozenset(_known)


def redact_text(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every key-shaped value and every registered secret masked."""
    for secret in sorted({*_known, *extra}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = catalog.SECRET_PATTERN.sub(MASK, text)
    return re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]{6,}", r"\1" + MASK, text)


def redact_bytes(raw: bytes, extra: Iterable[str] = ()) -> bytes:
    """``raw`` with every secret masked, whatever its encoding: undecodable bytes pass through
    unchanged (surrogateescape), so a binary body keeps every byte that is not a secret."""
    text = raw.decode("utf-8", errors="surrogateescape")
    scrubbed = redact_text(text, extra)
    return raw if scrubbed == text else scrubbed.encode("utf-8", errors="surrogateescape")


def holds_secret(text: str, extra: Iterable[str] = ()) -> bool:
    """Whether ``redact_text`` would change ``text``."""
    return redact_text(text, extra) != text


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased headers with credentials masked (by name, and by value anywhere else)."""
    return {
        k.lower(): MASK if k.lower() in catalog.SECRET_HEADERS else redact_text(v)
        for k, v in headers.items()
    }
