"""Read recordings of any ecosystem into one ``Interaction`` shape, the format chosen by content.

Projects record HTTP traffic with vcrpy, Ruby VCR, R vcr, go-vcr, Polly (HAR), nock, or just
save a body. ``read(path)`` parses the file once, asks each reader whether the document is its
format (never the file extension: Ruby VCR files end in ``.yml`` like vcrpy's) and returns a
``Recording``. A file no reader accepts raises ``CassetteError`` naming the formats it was tried
as; one interaction a reader cannot understand is a ``BadInteraction`` beside the others.

| format | module | recognised by |
|---|---|---|
| vcrpy (YAML/JSON, any version, aiohttp too) | ``vcrpy`` | ``interactions`` with ``status`` |
| Ruby VCR / R vcr | ``ruby_vcr`` | ``http_interactions`` |
| go-vcr v1/v2+ | ``govcr`` | ``interactions`` whose answers carry ``code`` |
| HAR (Polly.JS) | ``har`` | ``log.entries`` |
| nock | ``nock`` | a list of ``{scope, method, ...}`` |
| bare JSON / JSON lines / SSE | ``bare`` | an Anthropic answer's shape |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from . import bare, govcr, har, nock, ruby_vcr, vcrpy
from ._model import (
    BadInteraction,
    CassetteError,
    Interaction,
    Recording,
    Unreadable,
    decompress,
    header_map,
    parse_date,
    text_of,
)
from ._pairs import body_of
from ._yaml import load_yaml

#: Document readers, in the order they are asked: (name, accepts, read).
_DOCUMENT_READERS: tuple[
    tuple[str, Callable[[Any], bool], Callable[[Any, Path], Recording]], ...
] = (
    (vcrpy.NAME, vcrpy.accepts, vcrpy.read),
    (ruby_vcr.NAME, ruby_vcr.accepts, ruby_vcr.read),
    (govcr.NAME, govcr.accepts, govcr.read),
    (har.NAME, har.accepts, har.read),
    (nock.NAME, nock.accepts, nock.read),
)

#: Every format a file is tried as, for the "unreadable" message and the README.
FORMATS: tuple[str, ...] = (
    *(name for name, _, _ in _DOCUMENT_READERS),
    bare.NAME_JSON,
    bare.NAME_JSONL,
    bare.NAME_SSE,
)

#: File suffixes a directory search picks up (an explicitly named file is read whatever it is).
SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json", ".har", ".sse")


def _tried() -> str:
    return "tried as " + ", ".join(FORMATS)


def _parse(text: str, path: Path) -> Any:
    """The YAML/JSON document of ``text``; ``CassetteError`` naming the file when it is neither."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError as exc:
            if path.suffix.lower() in (".json", ".har"):
                raise CassetteError(f"{path}: invalid JSON: {exc} ({_tried()})") from exc
            # A YAML flow mapping also starts with "{": fall through to YAML.
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        # ConstructorError (e.g. !!python/object in vcrpy < 1.0 files) is a YAMLError too.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CassetteError(f"{path}: invalid YAML cassette: {first} ({_tried()})") from exc


def read_text(text: str, path: Path) -> Recording:
    """The recording ``text`` (the content of ``path``) holds, in whichever format it is."""
    if not text.strip():
        raise CassetteError(f"{path}: empty file, not a recording ({_tried()})")
    if bare.looks_like_sse(text):
        if bare.accepts_sse(text):
            return bare.read_sse(text, path)
        raise CassetteError(
            f"{path}: an SSE transcript without message_start: not an Anthropic stream"
        )
    if bare.accepts_jsonl(text) and len([ln for ln in text.splitlines() if ln.strip()]) > 1:
        return bare.read_jsonl(text, path)
    doc = _parse(text, path)
    for _name, accepts, reader in _DOCUMENT_READERS:
        if accepts(doc):
            return reader(doc, path)
    if bare.accepts_json(doc):
        return bare.read_json(doc, path, text)
    if bare.accepts_jsonl(text):
        return bare.read_jsonl(text, path)
    kind = type(doc).__name__
    raise CassetteError(
        f"{path}: not a recording this tool can read ({_tried()}); top level "
        f"is a {kind}"
        + (f" with keys {', '.join(map(str, list(doc)[:5]))}" if isinstance(doc, dict) else "")
    )


def read(path: Path) -> Recording:
    """The recording in the file at ``path``; ``CassetteError`` names the file and the cause."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise CassetteError(f"{path}: cannot read cassette: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CassetteError(f"{path}: cassette is not UTF-8 text: {exc}") from exc
    return read_text(text, path)


def detect(path: Path) -> str:
    """The name of the format of the file at ``path`` (``CassetteError`` when none fits)."""
    return read(path).format


__all__ = [
    "FORMATS",
    "SUFFIXES",
    "BadInteraction",
    "CassetteError",
    "Interaction",
    "Recording",
    "Unreadable",
    "body_of",
    "decompress",
    "detect",
    "header_map",
    "parse_date",
    "read",
    "read_text",
    "text_of",
]
