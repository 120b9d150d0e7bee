"""``multipart/form-data`` bodies, parsed exactly (bytes in, bytes out).

Two places need it: the reference server reads file uploads (Starlette's form parser needs an
extra dependency), and the cassette matcher compares uploads by their parts, because the random
boundary differs on every request. The standard ``email`` parser is avoided on purpose: it may
rewrite line ends inside binary parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_PARAM = re.compile(r';\s*([A-Za-z_*]+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Part:
    """One part of a form: its field name, optional filename and content type, and the bytes."""

    name: str
    content: bytes
    filename: str | None = None
    content_type: str | None = None


def boundary_of(content_type: str) -> str | None:
    """The boundary of a ``multipart/*`` content type, or None for anything else."""
    if not content_type.lower().startswith("multipart/"):
        return None
    found = _BOUNDARY.search(content_type)
    return found.group(1) if found else None


def parse(body: bytes, content_type: str) -> list[Part]:
    """The parts of ``body``; ``ValueError`` when it is not a well-formed multipart body."""
    boundary = boundary_of(content_type)
    if boundary is None:
        raise ValueError("not a multipart content type with a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("multipart body has no closing boundary")
    parts: list[Part] = []
    for chunk in chunks[1:-1]:
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without a blank line after its headers")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params = dict(_PARAM.findall(headers.get("content-disposition", "")))
        if "name" not in params:
            raise ValueError("multipart part without a name")
        parts.append(
            Part(
                params["name"],
                content.removesuffix(b"\r\n"),
                params.get("filename"),
                headers.get("content-type"),
            )
        )
    return parts
