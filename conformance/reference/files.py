"""Routes of the Files API: upload (multipart), list, metadata, content download, delete.

Files live in memory with their real bytes, so sizes and downloads are exact. Like the real API,
uploaded files are ``downloadable: false`` and their content answers 400; the config flag
``downloadable_uploads`` makes them downloadable so tests can prove byte-exact round trips.
Under 2023-06-01 the API is a beta: requests without its ``anthropic-beta`` value are refused.
2026-10-21 lists with page tokens (``{data, next_page}``) instead of ID cursors.
"""

from __future__ import annotations

import mimetypes
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from conformance import catalog, multipart
from conformance.reference.auth import RequestContext
from conformance.reference.errors import ApiError, invalid, not_found
from conformance.reference.paging import id_page, parse_limit
from conformance.reference.routing import Answer, JsonAnswer, RawAnswer, RouteSpec

STORE = "file"
PAGE_TOKEN_PREFIX = "page_"
MAX_UPLOAD_BYTES = 500 * 1024 * 1024  # api-contract.md §1: 500 MB for Files


def rfc3339(epoch: float) -> str:
    """``2026-06-25T16:16:09.340000Z``: the timestamp shape the API sends."""
    micros = round(epoch * 1_000_000)
    seconds, rest = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest:06d}Z"


@dataclass
class StoredFile:
    """One uploaded file: its metadata fields and its bytes."""

    id: str
    filename: str
    mime_type: str
    content: bytes
    created: float
    downloadable: bool
    expires: float | None = None

    def metadata(self, version: str) -> dict[str, Any]:
        """The FileMetadata of this file as API ``version`` shapes it (2.x adds expires_at)."""
        meta: dict[str, Any] = {
            "id": self.id,
            "type": "file",
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": len(self.content),
            "created_at": rfc3339(self.created),
            "downloadable": self.downloadable,
        }
        if version != catalog.VERSION_2023:
            meta["expires_at"] = rfc3339(self.expires) if self.expires is not None else None
        return meta


def _files(ctx: RequestContext) -> dict[str, StoredFile]:
    return ctx.state.store(STORE)


def _require_beta(ctx: RequestContext) -> None:
    """Under a version where Files is a beta, the beta header is required (api-contract.md §6)."""
    needed = catalog.betas_for(["files"], ctx.version)
    missing = [b for b in needed if b not in ctx.betas]
    if missing:
        raise invalid(
            f"The Files API is in beta under anthropic-version {ctx.version}: send "
            f"the header anthropic-beta: {', '.join(missing)}"
        )


def _get(ctx: RequestContext, request: Request) -> StoredFile:
    file_id = str(request.path_params["file_id"])
    found = _files(ctx).get(file_id)
    if found is None:
        raise not_found(f"File not found: {file_id}")
    return found


def _mime_type(part: multipart.Part) -> str:
    given = (part.content_type or "").split(";")[0].strip().lower()
    if given and given != "application/octet-stream":
        return given
    guessed, _ = mimetypes.guess_type(part.filename or "")
    return guessed or "application/octet-stream"


async def upload(request: Request, ctx: RequestContext) -> Answer:
    _require_beta(ctx)
    content_type = request.headers.get("content-type", "")
    if multipart.boundary_of(content_type) is None:
        raise invalid("Content-Type must be multipart/form-data with a `file` part")
    body = await request.body()
    if len(body) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "Request exceeds the maximum allowed number of bytes")
    try:
        parts = {p.name: p for p in multipart.parse(body, content_type)}
    except ValueError as exc:
        raise invalid(f"malformed multipart body: {exc}") from exc
    part = parts.get("file")
    if part is None:
        raise invalid("file: Field required")
    if not part.filename:
        raise invalid("file: a filename is required")
    expires: float | None = None
    now = time.time()
    if "expires_in_seconds" in parts and ctx.version != catalog.VERSION_2023:
        try:
            expires = now + int(parts["expires_in_seconds"].content)
        except ValueError as exc:
            raise invalid("expires_in_seconds: Input should be a valid integer") from exc
    file_id = ctx.state.make_id(catalog.ID_PREFIXES["file"] + "011C", ctx.serial)
    stored = StoredFile(
        file_id,
        part.filename,
        _mime_type(part),
        part.content,
        now,
        ctx.config.downloadable_uploads,
        expires,
    )
    _files(ctx)[file_id] = stored
    return JsonAnswer(stored.metadata(ctx.version))


def _newest_first(ctx: RequestContext) -> list[StoredFile]:
    return sorted(_files(ctx).values(), key=lambda f: f.created, reverse=True)


def _index(items: list[dict[str, Any]], file_id: str, name: str) -> int:
    ids = [i["id"] for i in items]
    if file_id not in ids:
        raise invalid(f"{name}: no file with id '{file_id}'")
    return ids.index(file_id)


async def list_files(request: Request, ctx: RequestContext) -> Answer:
    _require_beta(ctx)
    query = request.query_params
    limit = parse_limit(query.get("limit"))
    items = [f.metadata(ctx.version) for f in _newest_first(ctx)]
    if ctx.version != catalog.VERSION_2023:  # page tokens: {data, next_page}
        token = query.get("page")
        start = 0
        if token:
            if not token.startswith(PAGE_TOKEN_PREFIX):
                raise invalid("page: invalid page token")
            start = _index(items, token.removeprefix(PAGE_TOKEN_PREFIX), "page") + 1
        data = items[start : start + limit]
        more = start + limit < len(items)
        return JsonAnswer(
            {"data": data, "next_page": PAGE_TOKEN_PREFIX + data[-1]["id"] if more else None}
        )
    return JsonAnswer(id_page(items, query, kind="file", limit=limit))


async def retrieve(request: Request, ctx: RequestContext) -> Answer:
    _require_beta(ctx)
    return JsonAnswer(_get(ctx, request).metadata(ctx.version))


async def download(request: Request, ctx: RequestContext) -> Answer:
    _require_beta(ctx)
    stored = _get(ctx, request)
    if not stored.downloadable:
        raise invalid(
            f"File {stored.id} cannot be downloaded: only files created by the API "
            "(downloadable: true) can be downloaded"
        )
    return RawAnswer(stored.content, stored.mime_type)


async def delete(request: Request, ctx: RequestContext) -> Answer:
    _require_beta(ctx)
    stored = _get(ctx, request)
    del _files(ctx)[stored.id]
    return JsonAnswer({"id": stored.id, "type": "file_deleted"})


ROUTES: list[RouteSpec] = [
    RouteSpec("files.upload", upload),
    RouteSpec("files.list", list_files),
    RouteSpec("files.retrieve", retrieve),
    RouteSpec("files.download", download),
    RouteSpec("files.delete", delete),
]
