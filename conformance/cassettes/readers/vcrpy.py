"""vcrpy cassettes: YAML or JSON serializer, any version, any body encoding.

Layout: ``{version: 1, interactions: [{request: {method, uri, headers, body}, response: {status:
{code, message}, headers, body: {string: ...}}}]}``; vcrpy < 1.0 wrote the bare list. Bodies come
as strings, bytes (``!!binary``, often gzip), ``{string: ...}``, pydantic-ai's ``parsed_body``,
or this project's readable SSE form; aiohttp recordings carry ``istr`` header-name tags (read
by the shared YAML loader). vcrpy keeps no recording date, so the answer's ``Date`` header (or
this project's ``metadata.provenance``) dates an interaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._model import Recording, parse_date
from ._pairs import read_pair, vcr_status

NAME = "vcrpy"


def _interactions(doc: Any) -> list[Any] | None:
    if isinstance(doc, Mapping) and isinstance(doc.get("interactions"), list):
        return list(doc["interactions"])
    if (
        isinstance(doc, list)
        and doc
        and all(isinstance(d, Mapping) and "request" in d for d in doc)
    ):
        return doc  # vcrpy < 1.0 wrote a bare list of interactions
    return None


def accepts(doc: Any) -> bool:
    """A vcrpy document: an ``interactions`` list whose answers keep their status under
    ``status`` (go-vcr puts a ``code`` beside a textual status instead)."""
    items = _interactions(doc)
    if items is None:
        return False
    return not any(
        isinstance(i, Mapping)
        and isinstance(i.get("response"), Mapping)
        and "code" in i["response"]
        for i in items
    )


def provenance_of(doc: Any) -> dict[str, str] | None:
    """This project's ``metadata.provenance`` stamp, if the cassette carries one."""
    meta = doc.get("metadata") if isinstance(doc, Mapping) else None
    prov = meta.get("provenance") if isinstance(meta, Mapping) else None
    return {str(k): str(v) for k, v in prov.items()} if isinstance(prov, Mapping) else None


def read(doc: Any, path: Path) -> Recording:
    prov = provenance_of(doc)
    return Recording(
        path,
        NAME,
        [read_pair(raw, vcr_status) for raw in _interactions(doc) or []],
        provenance=prov,
        recorded_at=parse_date((prov or {}).get("recorded")),
        document=doc,
    )
