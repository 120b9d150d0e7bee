"""Every real recorded Anthropic API answer in the shared corpus validates under the schemas.

This is what keeps the schemas honest: they must accept what the API really sends (newer fields,
new block types, padded SSE JSON, CRLF line ends) while still rejecting broken answers (see
test_schemas.py). One test per cassette file, so a failure names the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from conformance import catalog, schemas, sse
from conformance.cassettes.interactions import CassetteError, anthropic_exchanges
from conformance.exchange import Exchange, Finding, raise_for_findings

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_ENV = "ANTHROPIC_CONFORMANCE_CORPUS"


def corpus_dir() -> Path:
    """The corpus: ``$ANTHROPIC_CONFORMANCE_CORPUS``, else ``<repo>/../shared/corpus``."""
    configured = os.environ.get(CORPUS_ENV)
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "corpus"


def cassette_files() -> list[Path]:
    root = corpus_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".yaml", ".yml", ".json"))


@dataclass
class FileResult:
    checked: int = 0
    skipped: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def check_exchange(ex: Exchange) -> list[Finding]:
    """Schema findings for one exchange whose endpoint the catalog knows."""
    endpoint = ex.endpoint
    assert endpoint is not None
    rid = ex.request_id
    if ex.status >= 400:
        if ex.events is not None:
            return [Finding("corpus", "error status with an SSE body", request_id=rid)]
        return schemas.validate(ex.json, catalog.ERROR_SCHEMA, request_id=rid)
    if ex.events is None:
        if ex.json is None:
            return [Finding("corpus", "answer body is not JSON", value=ex.body[:80].decode(
                "utf-8", "replace"), request_id=rid)]
        return schemas.validate(ex.json, endpoint.schema, request_id=rid)
    findings: list[Finding] = []
    for i, event in enumerate(ex.events):
        where = f"/events/{i}"
        if event.json is None:
            findings.append(Finding("corpus", "SSE data is not JSON", where, value=event.data,
                                    request_id=rid))
            continue
        findings += schemas.validate(event.json, catalog.STREAM_EVENT_SCHEMA, request_id=rid,
                                     pointer=where)
    if not any(e.type == "error" for e in ex.events):
        try:
            message = sse.accumulate(ex.events)
        except sse.AccumulationError as exc:
            return [*findings, Finding("corpus", f"stream does not fold: {exc}", request_id=rid)]
        findings += schemas.validate(message, "message.json", request_id=rid,
                                     pointer="/accumulated")
    return findings


@cache
def check_file(path: Path) -> FileResult:
    """Validate every Anthropic interaction of one cassette (cached: also used for the totals)."""
    result = FileResult()
    for it in anthropic_exchanges(path):
        if it.exchange is None:
            result.findings.append(Finding("corpus", f"unreadable interaction: {it.error}",
                                           f"#{it.index}"))
            continue
        ex = it.exchange
        if ex.endpoint is None:
            result.skipped.append(f"{ex.method} {ex.path}")
            continue
        result.checked += 1
        for f in check_exchange(ex):
            result.findings.append(Finding(f.check, f.message, f"#{it.index}{f.pointer}", f.rule,
                                           f.value, f.request_id))
    return result


FILES = cassette_files()


def _id(path: Path) -> str:
    return str(path.relative_to(corpus_dir()))


@pytest.mark.parametrize("path", FILES or [None], ids=[_id(p) for p in FILES] or ["no-corpus"])
def test_cassette_validates(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"no corpus at {corpus_dir()} (set {CORPUS_ENV})")
    try:
        result = check_file(path)
    except CassetteError as exc:
        pytest.fail(str(exc))
    if result.checked == 0 and not result.findings:
        skipped = ", ".join(result.skipped) or "none"
        pytest.skip(f"no interaction with a schema (skipped: {skipped})")
    raise_for_findings(result.findings, _id(path))


def test_corpus_totals() -> None:
    """The corpus really was exercised: a silent zero would make every file test meaningless."""
    if not FILES:
        pytest.skip(f"no corpus at {corpus_dir()} (set {CORPUS_ENV})")
    checked = skipped = 0
    for path in FILES:
        try:
            result = check_file(path)
        except CassetteError:
            continue  # reported by test_cassette_validates
        checked += result.checked
        skipped += len(result.skipped)
    print(f"corpus: {checked} interactions checked, {skipped} skipped (no endpoint in catalog)")
    assert checked > 0
