"""vcrpy configuration: how requests match, what is scrubbed before writing, how replay is offline.

Matching ignores scheme, host and port (cassettes recorded against the reference server on a random
loopback port, or against the real API, replay against anything) and compares JSON bodies as data,
so key order does not matter. Secrets never reach the disk: credential headers are dropped and
key-shaped values in bodies and URLs are masked before vcrpy writes anything.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import vcr
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from conformance import catalog, multipart, redact
from conformance.cassettes import serializer, timing
from conformance.exceptions import ConformanceToolError
from conformance.settings import RecordMode

# vcrpy's own record modes; "rewrite" is pytest-recording's "delete, then record all".
_VCR_MODES = {
    RecordMode.NONE: "none",
    RecordMode.ONCE: "once",
    RecordMode.NEW_EPISODES: "new_episodes",
    RecordMode.ALL: "all",
    RecordMode.REWRITE: "all",
}

#: Response headers that identify a session or an account, never useful in a replay.
_DROPPED_RESPONSE_HEADERS = frozenset({"set-cookie", "anthropic-organization-id", "cf-ray"})


class CassetteMiss(ConformanceToolError, AssertionError):
    """A replayed test sent a request its cassette has no answer for (or has no cassette).

    The message is one line naming the cassette; how to record is said once per run (the
    plugin's terminal summary, ``RECORD_HINT``), not in every failing test."""


class CassetteUnreadable(ConformanceToolError, AssertionError):
    """A cassette file exists but vcrpy cannot load it (broken YAML, wrong shape)."""


#: How to (re)record, said once at the end of a run that had cassette misses.
RECORD_HINT = (
    "record missing cassettes with `anthropic-conformance run --anthropic-target=embedded "
    "--record-mode=once`, re-record changed or unreadable ones with --record-mode=rewrite (add "
    "--anthropic-cassette-dir DIR for your own); README: 'Cassettes: offline replay and "
    "recording'")


class NetworkBlocked(ConformanceToolError, ConnectionError):
    """Something tried to open a socket while replaying offline."""


def _json_or_bytes(body: Any) -> Any:
    if body is None or body == b"" or body == "":
        return None
    raw = body if isinstance(body, bytes) else str(body).encode()
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _comparable(request: Request) -> Any:
    """A multipart upload as its sorted parts (the boundary is random), else JSON or bytes."""
    content_type = request.headers.get("content-type") or request.headers.get("Content-Type")
    if isinstance(content_type, list):  # vcrpy keeps recorded header values as lists
        content_type = content_type[0] if content_type else None
    if content_type and multipart.boundary_of(str(content_type)) and request.body:
        raw = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        try:
            return sorted(multipart.parse(raw, str(content_type)), key=lambda p: p.name)
        except ValueError:
            pass
    return _json_or_bytes(request.body)


def match_json_body(r1: Request, r2: Request) -> None:
    """Bodies match when they are equal as JSON (any key order), as multipart parts, else byte
    for byte."""
    a, b = _comparable(r1), _comparable(r2)
    if a != b:
        raise AssertionError(f"bodies differ: {redact.redact_text(str(a))[:200]!r} != "
                             f"{redact.redact_text(str(b))[:200]!r}")


def match_api_version(r1: Request, r2: Request) -> None:
    v1, v2 = r1.headers.get("anthropic-version"), r2.headers.get("anthropic-version")
    if v1 != v2:
        raise AssertionError(f"anthropic-version {v1!r} != {v2!r}")


def scrub_request(request: Request) -> Request:
    """Drop credential headers and mask secrets in the URL and body of a request to be written."""
    for name in list(request.headers):
        if name.lower() in catalog.SECRET_HEADERS:
            del request.headers[name]
    request.uri = redact.redact_text(request.uri)
    if request.body:
        raw = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        text = raw.decode("utf-8", errors="surrogateescape")
        scrubbed = redact.redact_text(text)
        if scrubbed != text:
            request.body = scrubbed.encode("utf-8", errors="surrogateescape")
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Drop session headers and mask secrets in the body of a response to be written."""
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in catalog.SECRET_HEADERS | _DROPPED_RESPONSE_HEADERS:
            del headers[name]
    body = response.get("body", {})
    raw = body.get("string")
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", errors="surrogateescape")
        scrubbed = redact.redact_text(text)
        if scrubbed != text:
            body["string"] = scrubbed.encode("utf-8", errors="surrogateescape")
    elif isinstance(raw, str):
        body["string"] = redact.redact_text(raw)
    return response


def make_vcr(record_mode: RecordMode) -> vcr.VCR:
    """A VCR configured for this project's matching and scrubbing rules."""
    recorder = vcr.VCR(
        record_mode=_VCR_MODES[record_mode],
        match_on=("method", "path", "query", "api_version", "json_body"),
        before_record_request=scrub_request,
        # The measured arrival of each SSE event is kept as the interaction's ``timing``.
        before_record_response=(scrub_response, timing.attach_recorded),
        decode_compressed_response=True,
        filter_headers=sorted(catalog.SECRET_HEADERS),
        serializer=serializer.SERIALIZER_NAME,
    )
    # Readable SSE bodies (one event per paragraph) that still replay byte-exact.
    recorder.register_serializer(serializer.SERIALIZER_NAME, serializer.ReadableSerializer)
    recorder.register_matcher("json_body", match_json_body)
    recorder.register_matcher("api_version", match_api_version)
    return recorder


def translate_error(exc: Exception) -> Exception | None:
    """Turn vcrpy's long 'cannot overwrite' error into one line that says what to do."""
    if isinstance(exc, CannotOverwriteExistingCassetteException):
        cassette = getattr(exc, "cassette", None)
        where = getattr(cassette, "_path", "the cassette")
        request = getattr(exc, "failed_request", None)
        what = f"{request.method} {urlsplit(request.uri).path}" if request is not None \
            else "this request"
        return CassetteMiss(f"{where} has no recorded answer for {what} (the suite or the "
                            "request changed since it was recorded)")
    return None


@contextlib.contextmanager
def block_network() -> Iterator[None]:
    """Refuse every outgoing IP connection for the duration (replay must be offline)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def refuse(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkBlocked(
                f"network access to {address!r} blocked while replaying cassettes "
                "(--record-mode=none)"
            )
        return real_connect(self, address)

    def refuse_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            refuse(self, address)
        return real_connect_ex(self, address)

    socket.socket.connect = refuse  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = refuse_ex  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
