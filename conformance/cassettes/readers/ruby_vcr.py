"""Ruby VCR and R vcr cassettes (the R package copies Ruby VCR's layout).

Layout: ``{http_interactions: [{request: {method: get, uri, body: {encoding, string}, headers},
response: {status: {code: 200, message: OK}, headers, body: {encoding, string | base64_string}},
recorded_at: "Wed, 29 Jan 2025 14:24:58 GMT"}], recorded_with: "VCR 6.1.0"}``. Bodies that are
not UTF-8 are written as ``!binary`` base64 (Psych) or ``base64_string``; R vcr 2.x writes
``status: 200`` and a naive ``recorded_at: 2026-08-02 17:45:05`` (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._model import Recording, parse_date
from ._pairs import read_pair, vcr_status

NAME = "Ruby VCR / R vcr"


def accepts(doc: Any) -> bool:
    return isinstance(doc, Mapping) and isinstance(doc.get("http_interactions"), list)


def _recorded_at(raw: Mapping[str, Any]) -> Any:
    return parse_date(raw.get("recorded_at"))


def read(doc: Any, path: Path) -> Recording:
    items = [read_pair(raw, vcr_status, _recorded_at) for raw in doc["http_interactions"]]
    return Recording(path, NAME, items, document=doc)
