"""``check-cassettes``: lint anyone's recorded cassettes against the contract, and report drift.

Cassettes go stale silently when the API changes. This reads them in every dialect people commit
(``conformance.interactions``), keeps the interactions with the Anthropic API (by host, or by API
path with ``--all-hosts``), and runs ``validate_exchange`` on each: the very schemas and semantic
checks the suite uses, SSE grammar included. Problems come out one per line; what the schemas and
the catalog do not know (fields, block/delta/event types, stop reasons, headers, betas) comes out
as drift, which is not a failure.

Recorded headers need judgement: many recorders keep only a few response headers (pydantic-ai
drops every ``anthropic-*`` header and ``request-id``). A missing ``request-id`` is therefore only
a problem when the interaction evidently kept the API's headers (it has some ``anthropic-*`` or
``request-id`` header); with no headers recorded at all, no header check applies.
``--strict-headers`` checks every interaction regardless.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance import catalog
from conformance.cassettes.interactions import (
    API_PATH_PREFIXES,
    CassetteError,
    Interaction,
    cassette_files,
    interactions_from,
    load_document,
)
from conformance.cassettes.secrets import SecretHit, scan_paths
from conformance.cassettes.serializer import REFERENCE_TARGET, provenance_of
from conformance.checks.common import REQUEST_ID
from conformance.exchange import Exchange, Finding
from conformance.validation import validate_exchange

DEFAULT_HOSTS: tuple[str, ...] = (catalog.REAL_API_HOST,)
#: Check name of an interaction or file the reader could not understand.
UNREADABLE = "unreadable"
#: Check name of a validation that crashed (a bug, a schema being written): reported, not raised.
INTERNAL = "internal-error"
#: Check name of a malformed recorded ``timing`` entry (ignored by replays, so reported here).
TIMING = "timing"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})

# --- drift ---------------------------------------------------------------------------------------


def _kind_of_type(pointer: str) -> str:
    """What an unknown ``.../type=<value>`` pointer names: a block, a delta, an event..."""
    head = pointer.rsplit("/type=", 1)[0]
    if head.endswith("/delta"):
        return "delta type"
    if head.endswith("/content_block") or re.search(r"/content/\d+$", head):
        return "content block type"
    if re.fullmatch(r"/events/\d+", head):
        return "event type"
    if "citation" in head:
        return "citation type"
    return "type"


def _generic(pointer: str) -> str:
    """``/content/3/foo`` -> ``/content/*/foo``: one drift entry however many items carry it."""
    return re.sub(r"/\d+(?=/|$)", "/*", pointer)


def pointer_drift(unknown: Iterable[str]) -> list[tuple[str, str]]:
    """``(kind, name)`` for the unknown-field pointers ``validate_exchange`` reports."""
    out: list[tuple[str, str]] = []
    for pointer in unknown:
        if pointer.rsplit("/", 1)[-1].startswith("type="):
            out.append((_kind_of_type(pointer), pointer.rsplit("=", 1)[1]))
        else:
            out.append(("field", _generic(pointer)))
    return out


def header_drift(exchange: Exchange) -> list[tuple[str, str]]:
    """API response headers and ``anthropic-beta`` values the catalog does not know.

    Only ``anthropic-*`` / ``x-anthropic-*`` response headers count: CDN and HTTP headers
    (``cf-ray``, ``date``, ``vary``) are not the API's contract.
    """
    out: list[tuple[str, str]] = []
    for name in exchange.response_headers:
        lname = name.lower()
        if (lname.startswith(("anthropic-", "x-anthropic-"))
                and lname not in catalog.RESPONSE_HEADERS
                and not catalog.RATELIMIT_HEADER.fullmatch(lname)):
            out.append(("header", lname))
    known_betas = {b.header for b in catalog.BETAS}
    for value in (exchange.request_headers.get("anthropic-beta") or "").split(","):
        beta = value.strip()
        if beta and beta not in known_betas:
            out.append(("beta header", beta))
    return out


def stop_reason_drift(findings: Iterable[Finding]) -> list[tuple[str, str]]:
    """Stop reasons outside the schema's enum (also findings: the enum is the contract)."""
    return [("stop reason", f.value.strip('"')) for f in findings
            if f.pointer.endswith("/stop_reason") and f.rule.startswith("enum:")]


@dataclass
class DriftEntry:
    """How often one unknown thing was seen, and (a few of) the places."""

    kind: str
    name: str
    endpoint: str
    count: int = 0
    where: list[str] = field(default_factory=list)

    def format(self) -> str:
        shown = ", ".join(self.where[:3]) + (", …" if len(self.where) > 3 else "")
        return f"{self.kind} {self.name} ({self.endpoint}) seen {self.count}x in {shown}"


@dataclass
class Drift:
    """Everything the schemas and catalog do not know, collected across a pass."""

    entries: dict[tuple[str, str, str], DriftEntry] = field(default_factory=dict)

    def add(self, kind: str, name: str, endpoint: str, where: str) -> None:
        entry = self.entries.setdefault((kind, name, endpoint), DriftEntry(kind, name, endpoint))
        entry.count += 1
        if where not in entry.where:
            entry.where.append(where)

    def sorted(self) -> list[DriftEntry]:
        return [self.entries[k] for k in sorted(self.entries)]


# --- the lint pass -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One contract problem (or an unreadable input) found in a cassette."""

    file: str
    index: int | None
    endpoint: str
    pointer: str
    rule: str
    check: str
    message: str
    value: str = ""

    def format(self) -> str:
        at = f"#{self.index}" if self.index is not None else ""
        where = " ".join(p for p in (self.endpoint, self.pointer or "/") if p) \
            if self.index is not None else ""
        rule = f" | rule: {self.rule}" if self.rule else ""
        value = f" | value: {self.value}" if self.value else ""
        head = f"{self.file}{at}: " + (f"{where}: " if where else "")
        return f"{head}[{self.check}] {self.message}{rule}{value}"


@dataclass
class EndpointSummary:
    checked: int = 0
    problems: int = 0
    headers_not_checked: int = 0


@dataclass
class LintResult:
    """What one ``check-cassettes`` pass found."""

    files: int = 0
    checked: int = 0
    skipped: int = 0  # interactions that are not Anthropic API calls
    problems: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)  # unreadable files
    summary: dict[str, EndpointSummary] = field(default_factory=dict)
    drift: Drift = field(default_factory=Drift)
    provenance: dict[str, str] = field(default_factory=dict)  # file -> what it was recorded against
    secrets: list[SecretHit] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 contract problems or secrets, 2 an input that could not be read."""
        if self.errors:
            return 2
        return 1 if self.problems or self.secrets else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "files": self.files,
            "checked": self.checked,
            "skipped": self.skipped,
            "problems": [asdict(p) for p in self.problems],
            "errors": [asdict(p) for p in self.errors],
            "summary": {k: asdict(v) for k, v in sorted(self.summary.items())},
            "drift": [asdict(e) for e in self.drift.sorted()],
            "provenance": dict(sorted(self.provenance.items())),
            "secrets": [h.to_json() for h in self.secrets],
        }

    def format_text(self) -> str:
        lines = [p.format() for p in (*self.errors, *self.problems)]
        lines += [h.format() for h in self.secrets]
        if self.summary:
            lines.append("")
            lines.append(f"{'endpoint':<32} {'checked':>8} {'problems':>9}")
            for name, s in sorted(self.summary.items()):
                lines.append(f"{name:<32} {s.checked:>8} {s.problems:>9}")
            unchecked = sum(s.headers_not_checked for s in self.summary.values())
            if unchecked:
                lines.append(f"request-id not checked in {unchecked} interaction(s) whose "
                             "recorder stripped the API's headers (--strict-headers checks them)")
        drift = self.drift.sorted()
        if drift:
            lines.append("")
            lines.append("drift: what the schemas and the catalog do not know (not failures)")
            lines += ["  " + e.format() for e in drift]
        if self.provenance:
            lines.append("")
            lines.append("provenance:")
            lines += [f"  {f}: {what}" for f, what in sorted(self.provenance.items())]
        lines.append("")
        lines.append(
            f"{self.files} file(s), {self.checked} interaction(s) checked, {self.skipped} "
            f"skipped (not the Anthropic API): {len(self.problems)} problem(s), "
            f"{len(self.secrets)} secret(s), {len(self.errors)} unreadable file(s)")
        return "\n".join(lines)


def _keeps_api_headers(exchange: Exchange) -> bool:
    return any(k == "request-id" or k.startswith("anthropic-") for k in exchange.response_headers)


def _lenient(findings: list[Finding], exchange: Exchange) -> tuple[list[Finding], bool]:
    """Drop header findings a header-stripping recorder caused; True when something was dropped."""
    if not exchange.response_headers:
        kept = [f for f in findings if not f.pointer.startswith("/headers/")]
    elif not _keeps_api_headers(exchange):
        kept = [f for f in findings if not (f.check == REQUEST_ID and exchange.request_id is None)]
    else:
        return findings, False
    return kept, len(kept) != len(findings)


def _describe_provenance(prov: dict[str, str] | None, hosts: set[str]) -> str | None:
    if prov is not None:
        details = ", ".join(f"{k} {prov[k]}" for k in ("recorded", "suite_version", "model",
                                                        "api_version") if k in prov)
        if prov.get("target") == REFERENCE_TARGET:
            return f"recorded against the reference server, not the real API ({details})"
        return f"recorded against {prov.get('target', '?')} ({details})"
    if hosts and hosts <= _LOOPBACK:
        return ("recorded against a local server (" + ", ".join(sorted(hosts)) +
                "), probably the reference server; no provenance stamp")
    return None


def _select(it: Interaction, hosts: set[str] | None, by_path: bool) -> bool:
    if by_path or hosts is None:
        return it.path.startswith(API_PATH_PREFIXES)
    return it.host.lower() in hosts and it.path.startswith("/v1/")


def lint_file(path: Path, result: LintResult, *, hosts: set[str] | None,
              strict_headers: bool) -> None:
    """Add what ``path`` holds to ``result``; never raises for a bad input."""
    name = str(path)
    result.files += 1
    try:
        document = load_document(path)
        items = interactions_from(document, path)
    except CassetteError as exc:
        result.errors.append(Problem(name, None, "", "", "", UNREADABLE, str(exc)))
        return
    prov = provenance_of(document)
    selected = [it for it in items if _select(it, hosts, prov is not None)]
    result.skipped += len(items) - len(selected)
    about = _describe_provenance(prov, {it.host for it in selected if it.host})
    if about and selected:
        result.provenance[name] = about
    for it in selected:
        _lint_interaction(it, name, result, strict_headers)


def _lint_interaction(it: Interaction, name: str, result: LintResult,
                      strict_headers: bool) -> None:
    ex = it.exchange
    if ex is None:
        result.problems.append(Problem(name, it.index, it.path or "?", "", "", UNREADABLE,
                                       f"cannot read this interaction: {it.error}"))
        result.summary.setdefault("(unreadable)", EndpointSummary()).problems += 1
        return
    endpoint = ex.endpoint.name if ex.endpoint is not None else "(other)"
    summary = result.summary.setdefault(endpoint, EndpointSummary())
    summary.checked += 1
    result.checked += 1
    where = f"{name}#{it.index}"
    if it.timing_error is not None:
        result.problems.append(Problem(name, it.index, endpoint, "/timing", "", TIMING,
                                       f"malformed timing entry: {it.timing_error}"))
        summary.problems += 1
    try:
        validation = validate_exchange(ex)
    except Exception as exc:  # a schema being written or a checker bug: report, never crash
        result.problems.append(Problem(name, it.index, endpoint, "", "", INTERNAL,
                                       f"validation crashed: {type(exc).__name__}: {exc}"))
        summary.problems += 1
        return
    findings = validation.findings
    if not strict_headers:
        findings, dropped = _lenient(findings, ex)
        summary.headers_not_checked += dropped
    for f in findings:
        result.problems.append(Problem(name, it.index, endpoint, f.pointer, f.rule, f.check,
                                       f.message, f.value))
    summary.problems += len(findings)
    for kind, label in (*pointer_drift(validation.unknown), *header_drift(ex),
                        *stop_reason_drift(validation.findings)):
        result.drift.add(kind, label, endpoint, where)


def lint_paths(
    paths: Iterable[Path],
    *,
    hosts: Sequence[str] | None = DEFAULT_HOSTS,
    strict_headers: bool = False,
    secrets: bool = False,
    hide_org_ids: bool = False,
) -> LintResult:
    """Check every cassette under ``paths`` (files or directories).

    ``hosts=None`` selects interactions by API path whatever the host (a proxy or a local server
    was recorded). A cassette stamped with this suite's provenance is always selected by path.
    ``secrets`` also runs the secret scanner on every file.
    """
    result = LintResult()
    wanted = {h.lower() for h in hosts} if hosts is not None else None
    files = cassette_files(paths)
    for file in files:
        lint_file(file, result, hosts=wanted, strict_headers=strict_headers)
    if secrets:
        result.secrets = scan_paths(files, hide_org_ids=hide_org_ids)
    return result


# --- command line --------------------------------------------------------------------------------


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The ``check-cassettes`` options (added to ``parser`` when the main CLI passes its own)."""
    p = parser or argparse.ArgumentParser(prog="anthropic-conformance check-cassettes")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="cassette files or directories (searched for *.yaml, *.yml, *.json)")
    p.add_argument("--host", action="append", default=[],
                   help=f"host of the API to check (repeatable; default {catalog.REAL_API_HOST})")
    p.add_argument("--all-hosts", action="store_true",
                   help="check every interaction whose path is an Anthropic API path, any host")
    p.add_argument("--strict-headers", action="store_true",
                   help="check request-id even where the recorder stripped the API's headers")
    p.add_argument("--secrets", action="store_true",
                   help="also scan for keys, tokens, cookies and credential headers")
    p.add_argument("--hide-org-ids", action="store_true",
                   help="with --secrets: organization ids count as secrets too")
    p.add_argument("--format", choices=("text", "json"), default="text")
    return p


def run(args: argparse.Namespace) -> int:
    """Run a pass from parsed arguments, print it, return the exit code."""
    missing = [str(p) for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"check-cassettes: no such file or directory: {', '.join(missing)}",
              file=sys.stderr)
        return 2
    hosts = None if args.all_hosts else (tuple(args.host) or DEFAULT_HOSTS)
    result = lint_paths(args.paths, hosts=hosts, strict_headers=args.strict_headers,
                        secrets=args.secrets or args.hide_org_ids,
                        hide_org_ids=args.hide_org_ids)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(result.format_text())
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def count_by_kind(result: LintResult) -> Counter[str]:
    """Problems per check name (for tests and summaries)."""
    return Counter(p.check for p in result.problems)
