"""vcrpy configuration: where cassettes live, how requests match, what is scrubbed before writing.

Matching ignores scheme, host and port (cassettes recorded against the reference server on a random
loopback port, or against the real API, replay against anything) and compares JSON bodies as data,
so key order does not matter. Secrets never reach the disk: credential headers are dropped and
key-shaped values in bodies and URLs are masked before vcrpy writes anything.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import vcr
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from conformance import catalog, multipart, redact
from conformance.cassettes import recording, timing
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


class CassetteMiss(AssertionError):
    """A replayed test sent a request its cassette has no answer for."""


class CassetteUnreadable(AssertionError):
    """A cassette file exists but vcrpy cannot load it (broken YAML, wrong shape)."""


class NetworkBlocked(ConnectionError):
    """Something tried to open a socket while replaying offline."""


def cassette_path(cassette_dir: Path, api_version: str, module: str, test_name: str) -> Path:
    """``<dir>/<api version>/<module>/<test>.yaml``: one cassette per test and API version."""
    safe = re.sub(r"[^A-Za-z0-9_.\-\[\]]", "_", test_name)
    return cassette_dir / api_version / module / f"{safe}.yaml"


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
        serializer=recording.SERIALIZER_NAME,
    )
    # Readable SSE bodies (one event per paragraph) that still replay byte-exact.
    recorder.register_serializer(recording.SERIALIZER_NAME, recording.ReadableSerializer)
    recorder.register_matcher("json_body", match_json_body)
    recorder.register_matcher("api_version", match_api_version)
    return recorder


class CassetteOverwrite(RuntimeError):
    """A recording run would write over existing cassettes without ``--record-mode=rewrite``."""


def overwrite_error(record_mode: RecordMode | None, paths: list[Path]) -> str | None:
    """The usage error for a run that would write over ``paths`` that exist, else None.

    ``all`` and ``new_episodes`` change existing cassettes: the user must say ``rewrite`` so that
    a stray flag never silently replaces reviewed recordings. ``once`` never overwrites.
    """
    if record_mode not in (RecordMode.ALL, RecordMode.NEW_EPISODES):
        return None
    existing = sorted({p for p in paths if p.exists()})
    if not existing:
        return None
    shown = ", ".join(str(p) for p in existing[:3]) + (", ..." if len(existing) > 3 else "")
    return (f"--record-mode={record_mode.value} would write over {len(existing)} existing "
            f"cassette(s) ({shown}). Re-recording replaces reviewed recordings: say so with "
            "--record-mode=rewrite, or use --record-mode=once to record only missing ones.")


@contextlib.contextmanager
def use_cassette(path: Path, record_mode: RecordMode,
                 provenance: dict[str, str] | None = None,
                 replay_timing: bool = False) -> Iterator[None]:
    """Record or replay ``path``; replay-only mode also blocks every socket.

    A cassette that gets new interactions is stamped with ``provenance`` (see recording.py).
    With ``replay_timing``, replayed streams that carry a recorded ``timing`` arrive at that pace
    (for clients built on ``timing.TimingTransport``); else at once.
    """
    problem = overwrite_error(record_mode, [path])
    if problem:
        raise CassetteOverwrite(problem)
    if record_mode is RecordMode.REWRITE and path.exists():
        path.unlink()
    if record_mode is RecordMode.NONE and not path.exists():
        raise CassetteMiss(
            f"no cassette {path}: record it first, e.g. "
            "`anthropic-conformance run --record-mode=once` (against the reference server)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if record_mode is RecordMode.NONE:
            stack.enter_context(block_network())
        # Only loading is guarded: an exception from the test body must propagate untouched.
        try:
            cassette = stack.enter_context(make_vcr(record_mode).use_cassette(str(path)))
        except Exception as exc:  # vcrpy/yaml raise anything from TypeError to ParserError
            cause = " ".join(str(exc).split())  # YAML errors span lines; keep the summary one
            raise CassetteUnreadable(
                f"cassette {path} is unreadable: {type(exc).__name__}: {cause}; "
                "re-record it with --record-mode=rewrite"
            ) from None  # the cause is in the message; vcrpy's frames would only be noise
        play = cassette.play_response

        def play_and_note(request: Request) -> Any:
            response = play(request)
            timing.note_played(response, replay_timing)
            return response

        cassette.play_response = play_and_note  # an instance attribute shadows the method
        try:
            yield
        finally:
            if provenance and cassette.dirty and not cassette.write_protected:
                # vcrpy saves its ``metadata`` mapping as a top-level key of the cassette.
                cassette._metadata[recording.PROVENANCE_KEY] = dict(provenance)


def translate_error(exc: Exception) -> Exception | None:
    """Turn vcrpy's long 'cannot overwrite' error into one line that says what to do."""
    if isinstance(exc, CannotOverwriteExistingCassetteException):
        cassette = getattr(exc, "cassette", None)
        where = getattr(cassette, "_path", "the cassette")
        return CassetteMiss(
            f"{where} has no recorded answer for this request (the suite or the request changed). "
            "Re-record: `anthropic-conformance run --record-mode=rewrite` (reference server) or "
            "with ANTHROPIC_API_KEY set (real API); see README 'Recording cassettes'."
        )
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
