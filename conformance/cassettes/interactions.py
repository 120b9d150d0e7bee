"""Read anyone's recorded cassettes into ``Exchange`` values.

Public projects commit cassettes in several dialects: vcrpy YAML (``version: 1`` or no version key),
vcrpy JSON, bodies as plain strings, as ``!!binary`` base64 (often gzip-compressed), as
``{string: ...}`` dicts, or as pydantic-ai's ``parsed_body`` (already-decoded JSON). The checks and
the corpus test want one shape, so this module folds every dialect into an ``Exchange``.

A file that cannot be read at all raises ``CassetteError``; one interaction that cannot be
understood becomes an ``Interaction`` with ``exchange=None`` and an ``error``, so that one odd
recording never hides the others.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import math
import zlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from conformance import catalog
from conformance.cassettes.timing import TIMING_KEY
from conformance.exchange import Exchange
from conformance.sse import parse_sse

# The C loader is ~10x faster on big cassettes; fall back when PyYAML was built without libyaml.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Paths that belong to the Anthropic API, used when the caller does not filter by host: the
#: first two segments of every catalog endpoint (/v1/messages, /v1/models, /v1/files, ...).
API_PATH_PREFIXES: tuple[str, ...] = tuple(sorted(
    {"/".join(e.path.split("/")[:3]) for e in catalog.ENDPOINTS}))

_GZIP_MAGIC = b"\x1f\x8b"
_REDACTED = "<redacted>"


class CassetteError(Exception):
    """A cassette file that cannot be read at all; the message names the file and the cause."""


@dataclass(frozen=True)
class Interaction:
    """One recorded request/response pair of a cassette.

    ``index`` is the 0-based position in the file's ``interactions`` list; ``source`` is
    ``"<file>#<index>"``. Exactly one of ``exchange`` and ``error`` is set. ``path`` is the request
    path as recorded (kept even when the exchange could not be built, so it can still be filtered).
    """

    source: str
    index: int
    exchange: Exchange | None
    host: str
    error: str | None
    path: str = ""
    #: Why the interaction's recorded ``timing`` entry was ignored (None: absent or valid).
    timing_error: str | None = None


class _Unreadable(ValueError):
    """An interaction whose shape this reader does not understand."""


def read_cassette(path: Path) -> list[Interaction]:
    """Every interaction of the cassette at ``path``, in recorded order.

    Raises ``CassetteError`` when the file is missing, not UTF-8, not YAML/JSON, uses tags a safe
    loader refuses (e.g. old ``!!python/...`` objects) or has no interactions list.
    """
    path = Path(path)
    return interactions_from(_load(path), path)


def interactions_from(data: Any, path: Path) -> list[Interaction]:
    """``read_cassette`` on an already loaded document (the linter also reads its metadata)."""
    raw_interactions = _interactions_of(data, path)
    out: list[Interaction] = []
    for index, raw in enumerate(raw_interactions):
        source = f"{path}#{index}"
        host, req_path = _host_and_path(raw)
        try:
            exchange = _build_exchange(raw, source)
        except (_Unreadable, ValueError, TypeError, KeyError, AttributeError, EOFError,
                OSError, zlib.error) as exc:
            out.append(Interaction(source, index, None, host, f"{type(exc).__name__}: {exc}",
                                   req_path))
            continue
        timing_error = _apply_timing(raw, exchange)
        out.append(Interaction(source, index, exchange, host, None, exchange.path, timing_error))
    return out


def timing_problem(entry: Any, event_count: int) -> str | None:
    """What is wrong with a recorded ``timing`` entry for an answer of ``event_count`` SSE events.

    None when it is usable: a mapping whose ``events`` are one finite, non-negative,
    non-decreasing offset per event, and whose optional ``headers`` offset is a non-negative
    number. A replay paces by these offsets, so a bad one would silently mis-time a stream.
    """
    if not isinstance(entry, Mapping):
        return f"timing entry is a {type(entry).__name__}, not a mapping"
    headers = entry.get("headers")
    if headers is not None and (not _is_offset(headers) or headers < 0):
        return f"timing headers offset {headers!r} is not a non-negative number"
    events = entry.get("events")
    if not isinstance(events, list):
        return f"timing events is a {type(events).__name__}, not a list"
    for i, value in enumerate(events):
        if not _is_offset(value):
            return f"timing event offset {i} is {value!r}, not a number"
        if value < 0:
            return f"timing event offset {i} is negative ({value})"
        if i and value < events[i - 1]:
            return f"timing event offsets decrease at {i} ({events[i - 1]} -> {value})"
    if len(events) != event_count:
        return (f"timing has {len(events)} event offset(s) but the answer has {event_count} "
                "SSE event(s)")
    return None


def _is_offset(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _apply_timing(raw: Mapping[str, Any], exchange: Exchange) -> str | None:
    """Fill ``exchange.event_times`` from the interaction's timing entry; the problem, if any."""
    response = raw.get("response")
    if not isinstance(response, Mapping) or TIMING_KEY not in response:
        return None
    entry = response[TIMING_KEY]
    problem = timing_problem(entry, len(exchange.events or []))
    if problem is None and exchange.events is not None:
        exchange.event_times = [float(v) for v in entry["events"]]
    return problem


def anthropic_exchanges(
    path: Path,
    hosts: Collection[str] = (catalog.REAL_API_HOST,),
    path_prefix: str = "/v1/",
) -> list[Interaction]:
    """The interactions of ``path`` that went to the Anthropic API.

    With ``hosts``, an interaction counts when its host is one of them and its path starts with
    ``path_prefix``. With empty ``hosts`` (a proxy or a local server was recorded), the path must
    start with one of ``API_PATH_PREFIXES``. Unreadable interactions are kept when they match,
    so the caller can report them.
    """
    wanted = {h.lower() for h in hosts}
    selected: list[Interaction] = []
    for it in read_cassette(path):
        if wanted:
            if it.host.lower() in wanted and it.path.startswith(path_prefix):
                selected.append(it)
        elif it.path.startswith(API_PATH_PREFIXES):
            selected.append(it)
    return selected


# --- loading -------------------------------------------------------------------------------------


def _load(path: Path) -> Any:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise CassetteError(f"{path}: cannot read cassette: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CassetteError(f"{path}: cassette is not UTF-8 text: {exc}") from exc
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            if path.suffix.lower() == ".json":
                raise CassetteError(f"{path}: invalid JSON cassette: {exc}") from exc
            # A YAML flow mapping also starts with "{": fall through to YAML.
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        # ConstructorError (e.g. !!python/object in vcrpy < 1.0 files) is a YAMLError too.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CassetteError(f"{path}: invalid YAML cassette: {first}") from exc


def _interactions_of(data: Any, path: Path) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("interactions"), list):
        return list(data["interactions"])
    if isinstance(data, list) and all(isinstance(d, dict) and "request" in d for d in data):
        return data  # vcrpy < 1.0 wrote a bare list of interactions
    kind = type(data).__name__
    raise CassetteError(f"{path}: not a cassette (no 'interactions' list; top level is {kind})")


# --- one interaction -----------------------------------------------------------------------------


def _host_and_path(raw: Any) -> tuple[str, str]:
    """Host and API path of a raw interaction, best effort (empty strings when unknown)."""
    request = raw.get("request") if isinstance(raw, dict) else None
    if not isinstance(request, dict):
        return "", ""
    uri = request.get("uri") or request.get("url") or ""
    if not isinstance(uri, str):
        return "", ""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if not host:
        headers = _headers(request.get("headers"))
        host = headers.get("host", "").split(":")[0]
    return host.lower(), _api_path(parts.path)


def _api_path(path: str) -> str:
    # Exchange.path is relative to the API root, whatever proxy prefix was recorded.
    idx = path.find("/v1/")
    return path[idx:] if idx > 0 else path


def _build_exchange(raw: Any, source: str) -> Exchange:
    if not isinstance(raw, dict):
        raise _Unreadable(f"interaction is a {type(raw).__name__}, not a mapping")
    request, response = raw.get("request"), raw.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise _Unreadable("interaction lacks a request or response mapping")
    uri = request.get("uri") or request.get("url")
    if not isinstance(uri, str) or not uri:
        raise _Unreadable("request has no uri")
    method = request.get("method")
    if not isinstance(method, str):
        raise _Unreadable("request has no method")

    req_headers = _headers(request.get("headers"))
    redacted = {k: (_REDACTED if k in catalog.SECRET_HEADERS else v)
                for k, v in req_headers.items()}
    req_body = _body(request, req_headers)
    resp_headers = _headers(response.get("headers"))
    body = _body(response, resp_headers)

    events = None
    content_type = resp_headers.get("content-type", "").lower()
    if "text/event-stream" in content_type or body.lstrip().startswith(b"event:"):
        events = parse_sse(body)

    return Exchange(
        method=method.upper(),
        path=_api_path(urlsplit(uri).path),
        status=_status(response),
        response_headers=resp_headers,
        body=body,
        request_json=_json_or_none(req_body),
        request_headers=redacted,
        events=events,
        url=uri,
        source=source,
    )


def _status(response: Mapping[str, Any]) -> int:
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else status
    if isinstance(code, bool) or not isinstance(code, int | str):
        raise _Unreadable(f"response has no status code (got {status!r})")
    return int(code)


def _headers(raw: Any) -> dict[str, str]:
    """Lower-cased headers, one string each; repeated values are joined with ", "."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _Unreadable(f"headers are a {type(raw).__name__}, not a mapping")
    out: dict[str, str] = {}
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        text = ", ".join(_text(v) for v in values if v is not None)
        key = str(name).lower()
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _body(part: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
    """The decoded body bytes of a request or response, whatever dialect recorded it."""
    if "parsed_body" in part:  # pydantic-ai: the JSON body, already decoded
        return json.dumps(part["parsed_body"], ensure_ascii=False).encode()
    raw = part.get("body")
    if isinstance(raw, dict):
        if "base64_string" in raw:  # betamax-style
            try:
                raw = base64.b64decode(raw["base64_string"])
            except (binascii.Error, TypeError) as exc:
                raise _Unreadable(f"body base64_string is not base64: {exc}") from exc
        else:
            ending = raw.get("sse_line_ending")  # this project's readable SSE form (recording.py)
            raw = raw.get("string")
            if isinstance(raw, str) and isinstance(ending, str):
                raw = raw.replace("\n", ending)
    if raw is None:
        return b""
    if isinstance(raw, str):
        data = raw.encode("utf-8")
    elif isinstance(raw, bytes):
        data = raw
    else:
        raise _Unreadable(f"body is a {type(raw).__name__}, not text or bytes")
    return _decompress(data, headers.get("content-encoding", ""))


def _decompress(data: bytes, encoding: str) -> bytes:
    # Recorders differ: some keep the compressed bytes and the header, some decode and keep the
    # header, some drop it. So sniff the magic bytes and only trust the header when they agree.
    encoding = encoding.lower()
    if data.startswith(_GZIP_MAGIC):
        return gzip.decompress(data)
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
            raise _Unreadable(
                f"body is {encoding}-compressed, which this reader cannot decode"
            ) from None
    return data


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


# --- public helpers for the linter and the secret scanner ----------------------------------------

#: File suffixes a cassette may have.
CASSETTE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")


def load_document(path: Path) -> Any:
    """The parsed YAML/JSON document of a cassette file; ``CassetteError`` names the file."""
    return _load(Path(path))


def interactions_of(document: Any, path: Path) -> list[Any]:
    """The raw interaction mappings of a loaded cassette document."""
    return _interactions_of(document, Path(path))


def body_bytes(part: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
    """The decoded body of a raw request or response mapping (base64, gzip, parsed_body...)."""
    return _body(part, headers)


def header_map(raw: Any) -> dict[str, str]:
    """Lower-cased, single-string headers of a raw request or response mapping."""
    return _headers(raw)


def text_of(value: Any) -> str:
    """One header value as text (bytes are decoded as latin-1)."""
    return _text(value)


def cassette_files(paths: Iterable[Path]) -> list[Path]:
    """Every cassette file named by ``paths``: files as given, directories searched recursively."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.rglob("*")
                          if p.is_file() and p.suffix.lower() in CASSETTE_SUFFIXES)
        else:
            out.append(path)
    return out
