"""Every real recorded Anthropic API answer in the shared corpora validates under the schemas.

This is what keeps the schemas honest: they must accept what the API really sends (newer fields,
new block types, padded SSE JSON, CRLF line ends) while still rejecting broken answers (see
test_schemas.py). Both corpora count: ``corpus`` (vcrpy) and ``corpus-formats`` (Ruby VCR, R vcr,
header-stripped vcrpy). A field the API added after a recording was made is judged by the
contract of the recording's day (``conformance.history``). One test per file, so a failure names
the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from corpus_paths import CORPUS_ENV, corpus_dirs

from conformance import catalog, history, schemas, sse
from conformance.cassettes import lint
from conformance.cassettes.interactions import CassetteError, anthropic_exchanges, cassette_files
from conformance.exchange import Exchange, Finding, raise_for_findings

ROOTS = [root for root in corpus_dirs() if root.is_dir()]


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
    if ex.events is None and endpoint.body == "bytes":
        return []  # file content: raw bytes, no schema
    if ex.events is None and endpoint.body == "jsonl":  # batch results: one object per line
        out: list[Finding] = []
        for i, line in enumerate(ex.body.splitlines()):
            if line.strip():
                out += schemas.validate(
                    json.loads(line), endpoint.schema, request_id=rid, pointer=f"/lines/{i}"
                )
        return out
    if ex.events is None:
        if ex.json is None:
            return [
                Finding(
                    "corpus",
                    "answer body is not JSON",
                    value=ex.body[:80].decode("utf-8", "replace"),
                    request_id=rid,
                )
            ]
        return schemas.validate(ex.json, endpoint.schema, request_id=rid)
    findings: list[Finding] = []
    for i, event in enumerate(ex.events):
        where = f"/events/{i}"
        if event.json is None:
            findings.append(
                Finding("corpus", "SSE data is not JSON", where, value=event.data, request_id=rid)
            )
            continue
        findings += schemas.validate(
            event.json, catalog.STREAM_EVENT_SCHEMA, request_id=rid, pointer=where
        )
    if not any(e.type == "error" for e in ex.events):
        try:
            message = sse.accumulate(ex.events)
        except sse.AccumulationError as exc:
            return [*findings, Finding("corpus", f"stream does not fold: {exc}", request_id=rid)]
        findings += schemas.validate(
            message, "message.json", request_id=rid, pointer="/accumulated"
        )
    return findings


@cache
def check_file(path: Path) -> FileResult:
    """Validate every Anthropic interaction of one cassette (cached: also used for the totals)."""
    result = FileResult()
    for it in anthropic_exchanges(path):
        if it.exchange is None:
            result.findings.append(
                Finding("corpus", f"unreadable interaction: {it.error}", f"#{it.index}")
            )
            continue
        ex = it.exchange
        if ex.endpoint is None:
            result.skipped.append(f"{ex.method} {ex.path}")
            continue
        result.checked += 1
        day = lint.recorded_on(it, ex, None, None)
        for f in check_exchange(ex):
            if history.excuse(f.check, f.rule, day) is not None:
                continue  # the field came after this recording was made
            result.findings.append(
                Finding(
                    f.check, f.message, f"#{it.index}{f.pointer}", f.rule, f.value, f.request_id
                )
            )
    return result


FILES = cassette_files(ROOTS)


def _id(path: Path) -> str:
    root = next(r for r in ROOTS if path.is_relative_to(r))
    return f"{root.name}/{path.relative_to(root)}"


@pytest.mark.parametrize("path", FILES or [None], ids=[_id(p) for p in FILES] or ["no-corpus"])
def test_cassette_validates(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"no corpus at {corpus_dirs()} (set {CORPUS_ENV})")
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
        pytest.skip(f"no corpus at {corpus_dirs()} (set {CORPUS_ENV})")
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
    # Each corpus folder present contributes: a reader regression in one format cannot hide.
    for root in ROOTS:
        assert any(check_file(p).checked for p in FILES if p.is_relative_to(root)), root
