"""The secret scanner: keys, tokens, cookies and credential headers in written cassette files.

Filters only see what goes through them; the scanner reads the *written files* (headers, URLs,
request and response bodies decoded from base64/gzip, and the raw text as a last net), so a key
that slipped past a filter, or a cassette someone else wrote, is still caught. A recording run
scans what it wrote (``session.scan_recorded``); ``check-cassettes --secrets`` scans anyone's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conformance import catalog
from conformance.cassettes import interactions, placeholders

# --- the secret scanner --------------------------------------------------------------------------

ORG_ID_HEADER = "anthropic-organization-id"
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
_ADMIN = re.compile(r"sk-ant-admin[A-Za-z0-9_\-]{4,}")
_BEARER = re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/=\-]{16,})")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
#: An organization id: uuid-shaped, or ``org_…`` / ``org-…`` (other APIs' and gateways' style).
_ORG_VALUE = _UUID + r"|org[_-][A-Za-z0-9]{8,}"
#: A key or header name holding one: ``org_id``, ``organization_id``, ``organizationId``,
#: ``x-org-id``, ``anthropic-organization-id`` (any case, ``_``/``-``/nothing between).
_ORG_KEY = r"(?:org|organi[sz]ation)[_-]?id"
_ORG_NAME = re.compile(r"(?i)(?:^|[^A-Za-z0-9])" + _ORG_KEY + "$")
#: ``"org_id": "…"``, ``org_id: …``, ``organizationId=…``, ``'org-id' => '…'`` in any text.
_ORG_IN_TEXT = re.compile(
    r"(?i)(?<![A-Za-z0-9])"
    + _ORG_KEY
    + r"""["']?\s*(?:[:=]|=>)\s*["']?("""
    + _ORG_VALUE
    + r")(?![A-Za-z0-9])"
)
_MASKED = re.compile(
    r"(?i)(bearer\s+)?(\W*|.*redact.*|.*filter.*|.*\*\*\*.*|.*hidden.*|x+|dummy|none|null)"
)


@dataclass(frozen=True)
class SecretHit:
    """Something secret-looking in a cassette file; ``excerpt`` is already masked."""

    file: str
    index: int | None  # interaction index; None: outside the interactions (or an unparsed file)
    where: str  # e.g. "request.headers.x-api-key", "response.body", "request.uri", "line 12"
    kind: str  # "api key", "admin key", "bearer token", "credential header", "cookie", ...
    excerpt: str

    def format(self) -> str:
        at = f"#{self.index} " if self.index is not None else ""
        return f"{self.file}: {at}{self.where}: {self.kind}: {self.excerpt}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mask(value: str) -> str:
    """Enough of ``value`` to find it, not enough to use it."""
    value = value.strip()
    return value[:10] + "…" if len(value) > 10 else value[:3] + "…"


def is_masked(value: str) -> bool:
    """True for a placeholder a recorder left instead of a secret (``<redacted>``, ``***``…)."""
    return bool(_MASKED.fullmatch(value.strip()))


def _scrubbed(value: str) -> bool:
    """True for a value a recorder scrubbed: ``is_masked`` words or a well-known placeholder
    shape (``<ANTHROPIC_API_KEY>``, ``X-API-KEY-PLACEHOLDER``, ``sk-ant-xxxx``); a real-looking
    key is never one, whatever words it contains (``conformance.cassettes.placeholders``)."""
    return is_masked(value) or placeholders.is_placeholder(value)


def text_secrets(
    text: str, *, hide_org_ids: bool = False, extra: Iterable[str] = ()
) -> Iterator[tuple[str, str]]:
    """``(kind, masked excerpt)`` for every secret-looking value in free text."""
    for secret in extra:
        if secret and secret in text:
            yield "this run's key", _mask(secret)
    for m in catalog.SECRET_PATTERN.finditer(text):
        if _scrubbed(m.group(0)):
            continue
        kind = "admin key" if _ADMIN.match(m.group(0)) else "api key"
        yield kind, _mask(m.group(0))
    for m in _BEARER.finditer(text):
        token = m.group(1)
        if any(c.isdigit() for c in token) and not _scrubbed(token):
            yield "bearer token", "Bearer " + _mask(token)
    if hide_org_ids:
        for m in _ORG_IN_TEXT.finditer(text):
            yield "organization id", _mask(m.group(1))


def _header_secrets(headers: Any, hide_org_ids: bool) -> Iterator[tuple[str, str, str]]:
    """``(header name, kind, excerpt)`` of credential headers whose value is not masked."""
    if not isinstance(headers, dict):
        return
    for name, value in headers.items():
        lname = str(name).lower()
        values = value if isinstance(value, list) else [value]
        for v in values:
            text = interactions.text_of(v)
            if lname in catalog.SECRET_HEADERS and not _scrubbed(text):
                kind = "cookie" if lname in _COOKIE_HEADERS else "credential header"
                yield lname, kind, f"{lname}: {_mask(text)}"
            elif hide_org_ids and _is_org_header(lname, text):
                yield lname, "organization id", _mask(text)


def _is_org_header(name: str, value: str) -> bool:
    """A header carrying an organization id: the API's own, or any ``*org*-id`` name whose
    value has an org id's shape."""
    if _scrubbed(value):
        return False
    if name == ORG_ID_HEADER:
        return True
    return bool(_ORG_NAME.search(name)) and bool(re.fullmatch(_ORG_VALUE, value.strip()))


def scan_file(
    path: Path, *, hide_org_ids: bool = False, extra: Iterable[str] = ()
) -> list[SecretHit]:
    """Every secret-looking value in the cassette file at ``path``.

    Structured pass per interaction (headers by name, URL, decoded bodies), then the raw text
    line by line for anything the structure hid (unknown keys, metadata, an unparsable file);
    a raw hit already reported by the structured pass is not repeated.
    """
    extra = tuple(extra)
    name = str(path)
    hits: list[SecretHit] = []
    seen: set[str] = set()
    try:
        document = interactions.load_document(path)
        raws = interactions.interactions_of(document, path)
    except interactions.CassetteError:
        raws = []
    for index, raw in enumerate(raws):
        for part in ("request", "response"):
            section = raw.get(part) if isinstance(raw, dict) else None
            if not isinstance(section, dict):
                continue
            for header, kind, excerpt in _header_secrets(section.get("headers"), hide_org_ids):
                hits.append(SecretHit(name, index, f"{part}.headers.{header}", kind, excerpt))
            for where, text in _section_texts(part, section):
                for kind, excerpt in text_secrets(text, hide_org_ids=hide_org_ids, extra=extra):
                    hits.append(SecretHit(name, index, where, kind, excerpt))
                    seen.add(excerpt)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for number, line in enumerate(lines, 1):
        for kind, excerpt in text_secrets(line, hide_org_ids=hide_org_ids, extra=extra):
            if excerpt not in seen:
                seen.add(excerpt)
                hits.append(SecretHit(name, None, f"line {number}", kind, excerpt))
    return hits


def _section_texts(part: str, section: dict[str, Any]) -> list[tuple[str, str]]:
    """``(where, text)`` of a request or response to scan as text: its URL, the headers that
    are not credentials (those are judged by name), its decoded body."""
    texts: list[tuple[str, str]] = []
    uri = section.get("uri") or section.get("url")
    if isinstance(uri, str):
        texts.append(("request.uri", uri))
    for header, value in _flat_headers(section.get("headers")):
        if header not in catalog.SECRET_HEADERS:
            texts.append((f"{part}.headers.{header}", value))
    try:
        body = interactions.body_bytes(
            section,
            interactions.header_map(
                section.get("headers") if isinstance(section.get("headers"), dict) else {}
            ),
        )
        texts.append((f"{part}.body", body.decode("utf-8", "replace")))
    except Exception:  # an undecodable body is still scanned raw by the caller
        pass
    return texts


def _flat_headers(headers: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(headers, dict):
        return
    for name, value in headers.items():
        for v in value if isinstance(value, list) else [value]:
            yield str(name).lower(), interactions.text_of(v)


def scan_paths(
    paths: Iterable[Path], *, hide_org_ids: bool = False, extra: Iterable[str] = ()
) -> list[SecretHit]:
    """``scan_file`` over every cassette file under ``paths`` (files or directories)."""
    extra = tuple(extra)
    hits: list[SecretHit] = []
    for file in interactions.cassette_files(paths):
        hits += scan_file(file, hide_org_ids=hide_org_ids, extra=extra)
    return hits
