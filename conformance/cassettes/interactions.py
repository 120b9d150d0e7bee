"""Read anyone's recorded cassettes into ``Exchange`` values.

Public projects commit recordings in many formats (vcrpy YAML/JSON, Ruby VCR, R vcr, go-vcr,
Polly HAR, nock, bare bodies) and dialects (bodies as strings, ``!!binary`` base64, gzip,
``{string: ...}``, pydantic-ai's ``parsed_body``). ``cassettes.readers`` reads each format,
chosen by content, into one ``Interaction`` shape; this module turns those into the
``Exchange`` values the checks and the corpus test want.

A file that cannot be read at all raises ``CassetteError``; one interaction that cannot be
understood becomes an ``Interaction`` with ``exchange=None`` and an ``error``, so that one odd
recording never hides the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance import catalog
from conformance.cassettes import readers
from conformance.cassettes.readers import CassetteError, Recording
from conformance.exchange import Exchange
from conformance.sse import parse_sse

#: Paths that belong to the Anthropic API, used when the caller does not filter by host: the
#: first two segments of every catalog endpoint (/v1/messages, /v1/models, /v1/files, ...).
API_PATH_PREFIXES: tuple[str, ...] = tuple(
    sorted({"/".join(e.path.split("/")[:3]) for e in catalog.ENDPOINTS})
)

_REDACTED = "<redacted>"
_SSE_STARTS = (b"event:", b"data:")


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
    #: When the recorder says it recorded this interaction (None: it does not say).
    recorded_at: datetime | None = None
    #: A bare body: no request was recorded, the endpoint was inferred from the answer's shape.
    by_content: bool = False


def read_cassette(path: Path) -> list[Interaction]:
    """Every interaction of the recording at ``path``, in recorded order.

    Raises ``CassetteError`` when the file is missing, not UTF-8, or none of the formats of
    ``conformance.cassettes.readers`` (each tried by content) can read it.
    """
    return interactions_of_recording(readers.read(Path(path)))


def interactions_of_recording(recording: Recording) -> list[Interaction]:
    """The ``Interaction`` values of a recording ``conformance.cassettes.readers`` read."""
    out: list[Interaction] = []
    for index, item in enumerate(recording.items):
        source = f"{recording.path}#{index}"
        if isinstance(item, readers.BadInteraction):
            host, req_path = _host_and_path(item.url, {})
            out.append(
                Interaction(
                    source, index, None, host, item.error, req_path, by_content=recording.by_content
                )
            )
            continue
        host, req_path = _host_and_path(item.url, item.request_headers)
        exchange = _build_exchange(item, source)
        timing_error = _apply_timing(item, exchange)
        out.append(
            Interaction(
                source,
                index,
                exchange,
                host,
                None,
                exchange.path,
                timing_error,
                item.recorded_at,
                recording.by_content,
            )
        )
    return out


def interactions_from(data: Any, path: Path) -> list[Interaction]:
    """``read_cassette`` on an already loaded vcrpy document (kept for callers that load it)."""
    return interactions_of_recording(readers.vcrpy.read(data, Path(path)))


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
        return (
            f"timing has {len(events)} event offset(s) but the answer has {event_count} "
            "SSE event(s)"
        )
    return None


def _is_offset(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _apply_timing(item: readers.Interaction, exchange: Exchange) -> str | None:
    """Fill ``exchange.event_times`` from the interaction's timing entry; the problem, if any."""
    if not item.has_timing:
        return None
    entry = item.timing
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
    start with one of ``API_PATH_PREFIXES``. Bare bodies (no request recorded) always count.
    Unreadable interactions are kept when they match, so the caller can report them.
    """
    wanted = {h.lower() for h in hosts}
    selected: list[Interaction] = []
    for it in read_cassette(path):
        if it.by_content:
            selected.append(it)  # a bare body: Anthropic's by its shape, whatever the host
        elif wanted:
            if it.host.lower() in wanted and it.path.startswith(path_prefix):
                selected.append(it)
        elif it.path.startswith(API_PATH_PREFIXES):
            selected.append(it)
    return selected


# --- one interaction -----------------------------------------------------------------------------


def _host_and_path(url: str, request_headers: Mapping[str, str]) -> tuple[str, str]:
    """Host and API path of a recorded request, best effort (empty strings when unknown)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        host = request_headers.get("host", "").split(":")[0]
    return host.lower(), _api_path(parts.path)


def _api_path(path: str) -> str:
    # Exchange.path is relative to the API root, whatever proxy prefix was recorded.
    idx = path.find("/v1/")
    return path[idx:] if idx > 0 else path


def _build_exchange(item: readers.Interaction, source: str) -> Exchange:
    redacted = {
        k: (_REDACTED if k in catalog.SECRET_HEADERS else v)
        for k, v in item.request_headers.items()
    }
    body = item.response_body
    events = None
    content_type = item.response_headers.get("content-type", "").lower()
    if "text/event-stream" in content_type or body.lstrip().startswith(_SSE_STARTS):
        events = parse_sse(body)
    return Exchange(
        method=item.method.upper(),
        path=_api_path(urlsplit(item.url).path),
        status=item.status,
        response_headers=dict(item.response_headers),
        body=body,
        request_json=_json_or_none(item.request_body),
        request_headers=redacted,
        events=events,
        url=item.url,
        source=source,
    )


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


# --- public helpers for the linter and the secret scanner ----------------------------------------

#: File suffixes a directory search picks up (one list, kept by the readers).
CASSETTE_SUFFIXES: tuple[str, ...] = readers.SUFFIXES


def load_document(path: Path) -> Any:
    """The parsed document of a recording file (None for text formats such as bare SSE);
    ``CassetteError`` names the file."""
    return readers.read(Path(path)).document


def interactions_of(document: Any, path: Path) -> list[Any]:
    """The raw ``{request, response}`` mappings of a loaded vcrpy, Ruby VCR, R vcr or go-vcr
    document (the secret scanner walks them by header name); ``CassetteError`` otherwise."""
    if isinstance(document, dict):
        for key in ("interactions", "http_interactions"):
            if isinstance(document.get(key), list):
                return list(document[key])
    if (
        isinstance(document, list)
        and document
        and all(isinstance(d, dict) and "request" in d for d in document)
    ):
        return document  # vcrpy < 1.0 wrote a bare list of interactions
    raise CassetteError(f"{path}: no request/response interactions to walk")


def body_bytes(part: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
    """The decoded body of a raw request or response mapping (base64, gzip, parsed_body...)."""
    return readers.body_of(part, headers)


def header_map(raw: Any) -> dict[str, str]:
    """Lower-cased, single-string headers of a raw request or response mapping."""
    return readers.header_map(raw)


def text_of(value: Any) -> str:
    """One header value as text (bytes are decoded as latin-1)."""
    return readers.text_of(value)


__all__ = [
    "API_PATH_PREFIXES",
    "CASSETTE_SUFFIXES",
    "CassetteError",
    "Interaction",
    "anthropic_exchanges",
    "body_bytes",
    "cassette_files",
    "header_map",
    "interactions_from",
    "interactions_of",
    "interactions_of_recording",
    "load_document",
    "read_cassette",
    "text_of",
    "timing_problem",
]


def cassette_files(paths: Iterable[Path]) -> list[Path]:
    """Every cassette file named by ``paths``: files as given, directories searched recursively."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CASSETTE_SUFFIXES
            )
        else:
            out.append(path)
    return out
