"""go-vcr cassettes, v1 (``version: 1``) and v2+ (``version: 2``, also written by go-vcr v3/v4).

Layout: ``{version, interactions: [{request: {body: "...", form, headers, url, method},
response: {body: "...", headers, status: "200 OK", code: 200, duration}}]}``; v2 adds ``proto``,
``content_length``, ``host`` and the like, v4 an ``id`` per interaction. The status is the
integer ``code``; ``status`` is its text, which vcrpy's reader would misread.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._model import Recording
from ._pairs import read_pair, status_code

NAME = "go-vcr"


def accepts(doc: Any) -> bool:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("interactions"), list):
        return False
    return any(
        isinstance(i, Mapping)
        and isinstance(i.get("response"), Mapping)
        and "code" in i["response"]
        for i in doc["interactions"]
    )


def _status(response: Mapping[str, Any]) -> int:
    return status_code(response.get("code", response.get("status")))


def read(doc: Any, path: Path) -> Recording:
    return Recording(
        path, NAME, [read_pair(raw, _status) for raw in doc["interactions"]], document=doc
    )
