"""vcrpy configuration: how requests match, what is scrubbed before writing, how replay is offline.

Matching ignores scheme, host and port (cassettes recorded against the reference server on a random
loopback port, or against the real API, replay against anything) and compares JSON bodies as data,
so key order does not matter. Secrets never reach the disk: credential headers are dropped and
key-shaped values in bodies and URLs are masked before vcrpy writes anything.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import json
import socket
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conformance import catalog, multipart, redact
from conformance.cassettes import serializer, timing
from conformance.exceptions import ConformanceToolError
from conformance.settings import RecordMode

if TYPE_CHECKING:
    import vcr
    from vcr.request import Request

# vcrpy itself is imported when a cassette is used (``make_vcr``): a run that records and
# replays nothing (against a base URL, every xdist worker of it) never loads it.

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
    "recording'"
)


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
        raise AssertionError(
            f"bodies differ: {redact.redact_text(str(a))[:200]!r} != "
            f"{redact.redact_text(str(b))[:200]!r}"
        )


def match_api_version(r1: Request, r2: Request) -> None:
    v1, v2 = r1.headers.get("anthropic-version"), r2.headers.get("anthropic-version")
    if v1 != v2:
        raise AssertionError(f"anthropic-version {v1!r} != {v2!r}")


class CassetteRefused(ConformanceToolError, AssertionError):
    """An answer the filters cannot scrub (a body in an encoding they cannot read): not written."""


def _decoder(encoding: str) -> Callable[[bytes], bytes] | None:
    """How to read a body of ``content-encoding`` ``encoding`` to scrub it, or None.

    vcrpy's ``decode_compressed_response`` already decodes gzip and deflate answers (and br when
    brotli is installed) before the filters run; httpx may ask for br or zstd when their packages
    are installed, so those are decoded here when the package is there.
    """
    if encoding == "gzip":
        return lambda raw: zlib.decompress(raw, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompress
    module = {"br": "brotli", "zstd": "zstandard"}.get(encoding)
    if module is None:
        return None
    try:
        lib = importlib.import_module(module)
    except ImportError:
        return None
    if encoding == "zstd":
        return lambda raw: bytes(lib.ZstdDecompressor().decompressobj().decompress(raw))
    return lambda raw: bytes(lib.decompress(raw))


def _decoded(raw: bytes, encoding: str) -> bytes | None:
    decode = _decoder(encoding)
    if decode is None:
        return None
    try:
        return decode(raw)
    except Exception:  # a corrupt or truncated body: unreadable, so refused
        return None


def _scrub_header_value(value: Any) -> Any:
    """A header value (vcrpy keeps a response's as a list) with every credential masked."""
    if isinstance(value, list):
        return [_scrub_header_value(v) for v in value]
    if isinstance(value, bytes):
        return redact.redact_bytes(value)
    return redact.redact_text(value) if isinstance(value, str) else value


def _encoding(headers: Any) -> str | None:
    for name, value in dict(headers).items():
        if name.lower() == "content-encoding":
            values = value if isinstance(value, list) else [value]
            found = [
                str(v).strip().lower()
                for v in values
                if str(v).strip().lower() not in ("", "identity")
            ]
            return ",".join(found) or None
    return None


def _refuse(what: str, encoding: str) -> CassetteRefused:
    return CassetteRefused(
        f"{what} is {encoding}-encoded and cannot be scrubbed of credentials, so it is not "
        "written to the cassette: record without compression (an `accept-encoding: identity` "
        "request, or a proxy that does not compress)"
    )


def scrub_request(request: Request) -> Request:
    """Drop credential headers and mask every credential of the run (``redact.known_secrets``
    and anything key-shaped) in the URL, every other header value and the body."""
    for name in list(request.headers):
        if name.lower() in catalog.SECRET_HEADERS:
            del request.headers[name]
        else:
            request.headers[name] = _scrub_header_value(request.headers[name])
    request.uri = redact.redact_text(request.uri)
    if request.body:
        raw = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        encoding = _encoding(request.headers)
        if encoding is not None:
            # Masking inside compressed bytes would break them: look, and refuse on a secret.
            plain = _decoded(raw, encoding)
            if plain is None:
                raise _refuse(f"the request body of {request.method} {request.uri}", encoding)
            if redact.redact_bytes(plain) != plain:
                raise CassetteRefused(
                    f"the {encoding} request body of {request.method} {request.uri} holds a "
                    "credential and cannot be scrubbed without breaking it: not written"
                )
            return request
        scrubbed = redact.redact_bytes(raw)
        if scrubbed != raw:
            request.body = scrubbed
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Drop session headers, and mask every credential of the run in every other header value
    and in the body (a target may echo a key anywhere, under any header name)."""
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in catalog.SECRET_HEADERS | _DROPPED_RESPONSE_HEADERS:
            del headers[name]
        else:
            headers[name] = _scrub_header_value(headers[name])
    body = response.get("body", {})
    raw = body.get("string")
    encoding = _encoding(headers)
    if encoding is not None and isinstance(raw, bytes) and raw:
        plain = _decoded(raw, encoding)
        if plain is None:
            raise _refuse("an answer body", encoding)
        # Written decoded, like vcrpy's own decode_compressed_response does.
        for name in [n for n in headers if n.lower() in ("content-encoding", "content-length")]:
            del headers[name]
        headers["content-length"] = [str(len(plain))]
        raw = body["string"] = plain
    if isinstance(raw, bytes):
        body["string"] = redact.redact_bytes(raw)
    elif isinstance(raw, str):
        body["string"] = redact.redact_text(raw)
    return response


@functools.cache
def _vcr_class() -> type[Any]:
    """``_VCR``, made on first use (it subclasses vcrpy's ``VCR``)."""
    import vcr

    class _VCR(vcr.VCR):  # type: ignore[misc]  # vcrpy has no type hints
        """vcrpy's VCR, its request filter run once per distinct request of a cassette.

        vcrpy filters a request (a deep copy, the header filter, ``scrub_request``) once per
        recorded interaction at load and three times for each request it plays (can it play, is it
        there, play it); the result depends on the request's method, URI, headers and body only, so
        each distinct one is filtered once per cassette. A cassette's ``use`` builds its own filter,
        so nothing is kept across cassettes. A request with a plain body is filtered as a shallow
        copy with its own headers (``scrub_request`` drops the credential headers the header
        filter would, and replaces the URI and body rather than changing them): the deep copy was
        a tenth of a replay.
        """

        def _build_before_record_request(self, options: Any) -> Callable[[Request], Any]:
            build: Callable[[Request], Any] = super()._build_before_record_request(options)
            seen: dict[tuple[Any, ...], Any] = {}
            # Only this project's own filters are taken over (a VCR reconfigured keeps vcrpy's).
            ours = (
                options.get("before_record_request", self.before_record_request) is scrub_request
                and {h.lower() for h in options.get("filter_headers", self.filter_headers)}
                <= catalog.SECRET_HEADERS
                and not options.get("filter_query_parameters", self.filter_query_parameters)
                and not options.get("filter_post_data_parameters", self.filter_post_data_parameters)
                and not options.get("ignore_hosts", self.ignore_hosts)
                and not options.get("ignore_localhost", self.ignore_localhost)
            )

            def before_record_request(request: Request) -> Any:
                body = request.body
                if not ours or not isinstance(body, bytes | str | None):
                    return build(request)
                key = (
                    request.method,
                    request.uri,
                    body,
                    tuple(
                        (k, v if isinstance(v, str) else repr(v))
                        for k, v in request.headers.items()
                    ),
                )
                if key not in seen:
                    copied = copy.copy(request)
                    copied.headers = request.headers.copy()
                    seen[key] = scrub_request(copied)
                return seen[key]

            return before_record_request

    return _VCR


#: Every HTTP library vcrpy patches but httpx, the only one the suite speaks: vcrpy builds its
#: mock patchers anew for each cassette, a fifth of a replay's time for libraries no test uses
#: (sockets are blocked by ``block_network`` whatever the library). vcrpy before 8 has no
#: ``skip_patchers``, and patches everything.
def _skipped_patchers() -> tuple[str, ...]:
    import vcr.patch

    return tuple(n for n in getattr(vcr.patch, "PATCHER_NAMES", ()) if n != "httpx")


def make_vcr(record_mode: RecordMode) -> vcr.VCR:
    """A VCR configured for this project's matching and scrubbing rules."""
    skipped = _skipped_patchers()
    recorder = _vcr_class()(
        record_mode=_VCR_MODES[record_mode],
        match_on=("method", "path", "query", "api_version", "json_body"),
        before_record_request=scrub_request,
        # The measured arrival of each SSE event is kept as the interaction's ``timing``.
        before_record_response=(scrub_response, timing.attach_recorded),
        decode_compressed_response=True,
        filter_headers=sorted(catalog.SECRET_HEADERS),
        serializer=serializer.SERIALIZER_NAME,
        **({"skip_patchers": skipped} if skipped else {}),
    )
    # Readable SSE bodies (one event per paragraph) that still replay byte-exact.
    recorder.register_serializer(serializer.SERIALIZER_NAME, serializer.ReadableSerializer)
    recorder.register_matcher("json_body", match_json_body)
    recorder.register_matcher("api_version", match_api_version)
    return recorder


def translate_error(exc: Exception) -> Exception | None:
    """Turn vcrpy's long 'cannot overwrite' error into one line that says what to do."""
    from vcr.errors import CannotOverwriteExistingCassetteException

    if isinstance(exc, CannotOverwriteExistingCassetteException):
        cassette = getattr(exc, "cassette", None)
        where = getattr(cassette, "_path", "the cassette")
        request = getattr(exc, "failed_request", None)
        what = (
            f"{request.method} {urlsplit(request.uri).path}"
            if request is not None
            else "this request"
        )
        return CassetteMiss(
            f"{where} has no recorded answer for {what} (the suite or the "
            "request changed since it was recorded)"
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
