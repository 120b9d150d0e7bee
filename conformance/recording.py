"""Safe, faithful cassettes: a readable SSE serializer, provenance, and a secret scanner.

Three promises a recorded cassette must keep, and why each lives here rather than in vcrpy's
filters:

* **Readable and byte-exact.** A streamed answer is written as a YAML literal block (``|``), one
  SSE event per paragraph, so a cassette diff shows which event changed. CRLF line ends are
  stored as ``\\n`` plus an ``sse_line_ending`` marker and trailing spaces of padded JSON are kept,
  so a replay gives back exactly the recorded bytes; every write is verified by loading it back,
  and a body that would not survive falls back to vcrpy's plain quoting. A stream's recorded
  ``timing`` (timing.py) keeps its event offsets on one line.
* **Provenance.** Each cassette carries ``metadata.provenance`` (target, date, suite version, model,
  API version) in vcrpy's own top-level ``metadata`` key, so a reader knows whether it shows the
  real API or the reference server.
* **No secrets.** Filters only see what goes through them; the scanner reads the *written files*
  (headers, URLs, request and response bodies decoded from base64/gzip, and the raw text as a last
  net), so a key that slipped past a filter, or a cassette someone else wrote, is still caught.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

import conformance
from conformance import catalog, interactions, placeholders, timing

# --- provenance ----------------------------------------------------------------------------------

#: ``provenance.target`` of a cassette recorded against the embedded or served reference server.
REFERENCE_TARGET = "reference-server"
PROVENANCE_KEY = "provenance"


def make_provenance(target: str, model: str, api_version: str) -> dict[str, str]:
    """The provenance stamp of a cassette recorded now against ``target`` (a host or
    ``REFERENCE_TARGET``)."""
    return {
        "target": target,
        "recorded": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "suite_version": conformance.__version__,
        "model": model,
        "api_version": api_version,
    }


def target_of(base_url: str, is_reference: bool) -> str:
    """What ``provenance.target`` says for a run against ``base_url``."""
    return REFERENCE_TARGET if is_reference else (urlsplit(base_url).netloc or base_url)


def provenance_of(document: Any) -> dict[str, str] | None:
    """The provenance a loaded cassette document carries, if any."""
    meta = document.get("metadata") if isinstance(document, dict) else None
    prov = meta.get(PROVENANCE_KEY) if isinstance(meta, dict) else None
    return {str(k): str(v) for k, v in prov.items()} if isinstance(prov, dict) else None


# --- the readable serializer ---------------------------------------------------------------------

#: Key in a response ``body`` mapping: the line end the stored ``\n`` stands for.
LINE_ENDING_KEY = "sse_line_ending"

# Characters a YAML literal block cannot carry verbatim (controls, YAML 1.1 line breaks, BOM).
_NOT_LITERAL = re.compile(
    "[^\x09\x0a\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x85\u2028\u2029\ufeff]")


class _Literal(str):
    """A string to be written as a ``|`` literal block."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes ``_Literal`` as a literal block even with trailing spaces.

    PyYAML refuses block style for lines ending in spaces (padded SSE JSON), although YAML keeps
    them in literal blocks; the round-trip check in ``serialize`` guards the exception.
    """

    def choose_scalar_style(self) -> str:
        event: Any = self.event
        if (event.style == "|" and not self.flow_level and not self.simple_key_context
                and not _NOT_LITERAL.search(event.value)):
            return "|"
        return str(super().choose_scalar_style())


def _represent_literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


_Dumper.add_representer(_Literal, _represent_literal)


class _Flow(list[Any]):
    """A list written on one line (``[0.0012, 0.0513]``): recorded event offsets."""


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(data), flow_style=True)


_Dumper.add_representer(_Flow, _represent_flow)


def _readable_timing(entry: Any) -> Any:
    """A ``timing`` entry (see timing.py) with its event offsets on one line."""
    if isinstance(entry, dict) and isinstance(entry.get("events"), list):
        return {**entry, "events": _Flow(entry["events"])}
    return entry


def _is_sse(response: Mapping[str, Any]) -> bool:
    headers = response.get("headers") or {}
    for name, value in headers.items() if isinstance(headers, dict) else ():
        values = value if isinstance(value, list) else [value]
        if str(name).lower() == "content-type" and any(
                "text/event-stream" in str(v).lower() for v in values):
            return True
    return False


def _readable_body(body: Any) -> Any:
    """The body mapping with an SSE text as a literal block (unchanged when that is not exact)."""
    if not isinstance(body, dict) or not isinstance(body.get("string"), str):
        return body
    text: str = body["string"]
    out = dict(body)
    if "\r" in text:
        if "\r" in text.replace("\r\n", ""):
            return body  # bare CR or mixed line ends: keep vcrpy's quoted form
        text = text.replace("\r\n", "\n")
        out[LINE_ENDING_KEY] = "\r\n"
    if _NOT_LITERAL.search(text):
        return body
    out["string"] = _Literal(text)
    return out


def _restore_body(body: Any) -> Any:
    if isinstance(body, dict) and LINE_ENDING_KEY in body:
        body = dict(body)
        ending = str(body.pop(LINE_ENDING_KEY))
        if isinstance(body.get("string"), str):
            body["string"] = body["string"].replace("\n", ending)
    return body


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, width=10_000)


def serialize(cassette_dict: dict[str, Any]) -> str:
    """vcrpy serializer: YAML with readable SSE bodies, verified to load back identically."""
    data = copy.deepcopy(cassette_dict)
    for it in data.get("interactions") or []:
        response = it.get("response") if isinstance(it, dict) else None
        if isinstance(response, dict) and _is_sse(response):
            response["body"] = _readable_body(response.get("body"))
            if timing.TIMING_KEY in response:
                response[timing.TIMING_KEY] = _readable_timing(response[timing.TIMING_KEY])
    text = _dump(data)
    if deserialize(text) != cassette_dict:  # never trade fidelity for readability
        text = _dump(cassette_dict)
    return text


def deserialize(cassette_string: str) -> dict[str, Any]:
    """vcrpy deserializer: any vcrpy YAML, with readable SSE bodies turned back into their bytes."""
    from vcr.serializers.yamlserializer import _CassetteLoader  # vcrpy's safe loader and its tags

    data: Any = yaml.load(cassette_string, Loader=_CassetteLoader)  # vcrpy's safe loader
    if not isinstance(data, dict):
        return data  # type: ignore[no-any-return]  # vcrpy reports the odd shape itself
    for it in data.get("interactions") or []:
        response = it.get("response") if isinstance(it, dict) else None
        if isinstance(response, dict):
            response["body"] = _restore_body(response.get("body"))
    return data


class ReadableSerializer:
    """The object vcrpy's ``register_serializer`` wants (module-level functions as methods)."""

    serialize = staticmethod(serialize)
    deserialize = staticmethod(deserialize)


SERIALIZER_NAME = "conformance-yaml"

# --- the secret scanner --------------------------------------------------------------------------

ORG_ID_HEADER = "anthropic-organization-id"
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
_ADMIN = re.compile(r"sk-ant-admin[A-Za-z0-9_\-]{4,}")
_BEARER = re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/=\-]{16,})")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ORG_IN_TEXT = re.compile(r"(?i)org(?:anization)?[_-]?id\W{1,4}(" + _UUID + ")")
_MASKED = re.compile(
    r"(?i)(bearer\s+)?(\W*|.*redact.*|.*filter.*|.*\*\*\*.*|.*hidden.*|x+|dummy|none|null)")


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
    key is never one, whatever words it contains (``conformance.placeholders``)."""
    return is_masked(value) or placeholders.is_placeholder(value)


def text_secrets(text: str, *, hide_org_ids: bool = False,
                 extra: Iterable[str] = ()) -> Iterator[tuple[str, str]]:
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
            elif lname == ORG_ID_HEADER and hide_org_ids and not _scrubbed(text):
                yield lname, "organization id", _mask(text)


def scan_file(path: Path, *, hide_org_ids: bool = False,
              extra: Iterable[str] = ()) -> list[SecretHit]:
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
            texts: list[tuple[str, str]] = []
            uri = section.get("uri") or section.get("url")
            if isinstance(uri, str):
                texts.append(("request.uri", uri))
            for header, value in _flat_headers(section.get("headers")):
                if header not in catalog.SECRET_HEADERS:
                    texts.append((f"{part}.headers.{header}", value))
            try:
                body = interactions.body_bytes(section, interactions.header_map(
                    section.get("headers") if isinstance(section.get("headers"), dict) else {}))
                texts.append((f"{part}.body", body.decode("utf-8", "replace")))
            except Exception:  # an undecodable body is still scanned raw below
                pass
            for where, text in texts:
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


def _flat_headers(headers: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(headers, dict):
        return
    for name, value in headers.items():
        for v in value if isinstance(value, list) else [value]:
            yield str(name).lower(), interactions.text_of(v)


def scan_paths(paths: Iterable[Path], *, hide_org_ids: bool = False,
               extra: Iterable[str] = ()) -> list[SecretHit]:
    """``scan_file`` over every cassette file under ``paths`` (files or directories)."""
    extra = tuple(extra)
    hits: list[SecretHit] = []
    for file in interactions.cassette_files(paths):
        hits += scan_file(file, hide_org_ids=hide_org_ids, extra=extra)
    return hits
