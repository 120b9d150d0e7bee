"""``check-cassettes``: lint anyone's recorded cassettes against the contract, and report drift.

Cassettes go stale silently when the API changes. This reads them in every dialect people commit
(``cassettes.interactions``), keeps the interactions with the Anthropic API (by host, or by API
path with ``--all-hosts``), and runs ``validate_exchange`` on each: the very schemas and semantic
checks the suite uses, SSE grammar included. Problems come out one per line; what the schemas and
the catalog do not know (fields, block/delta/event types, stop reasons, headers, betas) comes out
as drift, which is not a failure.

Recordings need judgement, and each judgement is a note counted in the summary, not a problem:

* **Scrubbing, header by header.** Recorders remove headers (pydantic-ai drops every
  ``anthropic-*`` header and ``request-id``; chatlas only ``request-id``) or write placeholders in
  (``<REQUEST_ID>``). A header finding about a header the recording lacks is "not recorded", about
  a placeholder value "redacted" (``cassettes.placeholders``); ``--strict-headers`` judges them.
* **The contract of the recording's day** (``conformance.history``): a field required today
  that a recording made before the field existed lacks is excused. The day is ``--as-of``, else
  the answer's ``Date`` header, else the recorder's own timestamp, else the provenance stamp.
* **The API's edge.** An HTML or ``text/plain`` 5xx (Cloudflare, Envoy) is a transient
  infrastructure answer, not the API's contract; a 4xx in that form is still a problem.
* **Hosts.** The default and ``--host`` judge interactions by host; ``--all-hosts`` judges those
  plus any other host's interaction whose path *and* answer shape are Anthropic's (an OpenAI
  models list is "another provider").

Checking nothing is not a pass: a run that checked no interaction exits 3 with the reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from conformance import catalog, history
from conformance.cassettes import readers
from conformance.cassettes.interactions import (
    API_PATH_PREFIXES,
    CassetteError,
    Interaction,
    cassette_files,
    interactions_of_recording,
)
from conformance.cassettes.placeholders import is_placeholder
from conformance.cassettes.secrets import SecretHit, scan_paths
from conformance.cassettes.serializer import REFERENCE_TARGET
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
#: Exit code of a pass that checked no interaction at all (nothing found, or all skipped).
NOTHING_CHECKED = 3
#: Why an interaction was not checked (keys of ``LintResult.skipped_by``).
OTHER_HOST = "another host"
OTHER_PROVIDER = "another provider"
#: Object types of Anthropic answers, for judging an answer on a host that is not the API's.
_ANTHROPIC_TYPES = frozenset(
    {
        "message",
        "error",
        "model",
        "message_batch",
        "message_batch_deleted",
        "file",
        "file_deleted",
        "completion",
        "user",
        "invite",
        "workspace",
        "workspace_member",
        "api_key",
        "organization",
        "user_deleted",
        "invite_deleted",
        "workspace_member_deleted",
    }
)

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
        if (
            lname.startswith(("anthropic-", "x-anthropic-"))
            and lname not in catalog.RESPONSE_HEADERS
            and not catalog.RATELIMIT_HEADER.fullmatch(lname)
        ):
            out.append(("header", lname))
    known_betas = {b.header for b in catalog.BETAS}
    for value in (exchange.request_headers.get("anthropic-beta") or "").split(","):
        beta = value.strip()
        if beta and beta not in known_betas:
            out.append(("beta header", beta))
    return out


def stop_reason_drift(findings: Iterable[Finding]) -> list[tuple[str, str]]:
    """Stop reasons outside the schema's enum (also findings: the enum is the contract)."""
    return [
        ("stop reason", f.value.strip('"'))
        for f in findings
        if f.pointer.endswith("/stop_reason") and f.rule.startswith("enum:")
    ]


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
class DriftTally:
    """Everything the schemas and catalog do not know, collected across a pass (the report's
    ``conformance.report.model.Drift`` is one such field as a report shows it)."""

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
        where = (
            " ".join(p for p in (self.endpoint, self.pointer or "/") if p)
            if self.index is not None
            else ""
        )
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
    #: ``skipped`` by reason (``OTHER_HOST``, ``OTHER_PROVIDER``).
    skipped_by: Counter[str] = field(default_factory=Counter)
    #: Judgements that are not problems (header not recorded / redacted, edge answers, findings
    #: excused by the contract of the recording's day), with how often.
    notes: Counter[str] = field(default_factory=Counter)
    #: Files read, per format.
    formats: Counter[str] = field(default_factory=Counter)
    #: Hosts of the interactions skipped as another host, for the "nothing checked" hint.
    other_hosts: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)  # unreadable files
    summary: dict[str, EndpointSummary] = field(default_factory=dict)
    drift: DriftTally = field(default_factory=DriftTally)
    provenance: dict[str, str] = field(default_factory=dict)  # file -> what it was recorded against
    secrets: list[SecretHit] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 contract problems or secrets, 2 an input that could not be read,
        3 nothing was checked (no recordings, or every interaction skipped)."""
        if self.errors:
            return 2
        if self.problems or self.secrets:
            return 1
        return NOTHING_CHECKED if self.checked == 0 else 0

    def nothing_checked_reason(self) -> str:
        """Why no interaction was checked, and what to try (empty when some were)."""
        if self.checked:
            return ""
        if self.files == 0:
            return (
                "nothing checked: no recording files found (searched for "
                + ", ".join(f"*{s}" for s in readers.SUFFIXES)
                + ")"
            )
        if self.skipped_by.get(OTHER_HOST):
            hosts = ", ".join(h for h, _ in self.other_hosts.most_common(5)) or "no host"
            return (
                f"nothing checked: {self.skipped_by[OTHER_HOST]} interaction(s) went to "
                f"other hosts ({hosts}): try --host HOST or --all-hosts"
            )
        if self.skipped_by.get(OTHER_PROVIDER):
            return (
                "nothing checked: every interaction is another provider's answer "
                "(its shape is not Anthropic's)"
            )
        return "nothing checked: the recordings hold no interaction"

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "files": self.files,
            "checked": self.checked,
            "skipped": self.skipped,
            "skipped_by": dict(sorted(self.skipped_by.items())),
            "notes": dict(sorted(self.notes.items())),
            "formats": dict(sorted(self.formats.items())),
            "nothing_checked": self.nothing_checked_reason() or None,
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
        if self.notes:
            lines.append("")
            lines.append("notes: judged not to be problems")
            lines += [f"  {what}: {n}x" for what, n in sorted(self.notes.items())]
        drift = self.drift.sorted()
        if drift:
            lines.append("")
            lines.append("drift: what the schemas and the catalog do not know (not failures)")
            lines += ["  " + e.format() for e in drift]
        if self.provenance:
            lines.append("")
            lines.append("provenance:")
            lines += _provenance_lines(self.provenance)
        lines.append("")
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped_by.items()))
        formats = ", ".join(f"{fmt} {n}" for fmt, n in sorted(self.formats.items()))
        lines.append(
            f"{self.files} file(s) ({formats or 'none read'}), {self.checked} interaction(s) "
            f"checked, {self.skipped} skipped ({skipped or 'none'}): {len(self.problems)} "
            f"problem(s), {len(self.secrets)} secret(s), {len(self.errors)} unreadable file(s)"
        )
        reason = self.nothing_checked_reason()
        if reason and not self.errors:
            lines.append(reason)
        return "\n".join(lines)


def _provenance_lines(provenance: dict[str, str]) -> list[str]:
    """One line per distinct description: 139 reference-server cassettes are one line."""
    by_what: dict[str, list[str]] = {}
    for file, what in sorted(provenance.items()):
        # The recording time differs per run; group on the rest of the description.
        key = re.sub(r"recorded [0-9T:\-]+Z, ", "", what)
        by_what.setdefault(key, []).append(file)
    out = []
    for what, files in sorted(by_what.items()):
        shown = files[0] if len(files) == 1 else f"{len(files)} files ({files[0]}, …)"
        out.append(f"  {shown}: {what}")
    return out


def _header_note(f: Finding, exchange: Exchange) -> str | None:
    """ "not recorded" / "redacted" for a header finding the recorder's scrubbing caused."""
    if not f.pointer.startswith("/headers/"):
        return None
    name = f.pointer.split("/")[2]
    value = exchange.response_headers.get(name)
    if value is None:
        return f"{name} not recorded (the recorder removed the header; --strict-headers judges it)"
    if is_placeholder(value):
        return f"{name} redacted (a placeholder the recorder wrote in)"
    return None


def is_edge_answer(exchange: Exchange) -> bool:
    """An HTML or ``text/plain`` 5xx: the API's edge (Cloudflare, Envoy) answered, not the API.

    Such an answer is transient infrastructure, not the contract; a 4xx in that form is a
    proxy turning a client error into something SDKs cannot parse, so it stays a problem.
    """
    if exchange.status < 500 or exchange.is_stream or exchange.json is not None:
        return False
    return exchange.content_type in ("text/html", "text/plain", "")


def recorded_on(
    it: Interaction, exchange: Exchange, file_date: datetime | None, as_of: date | None
) -> date | None:
    """The day whose contract judges a recording: ``--as-of``, else the answer's ``Date``
    header (the server's clock), else the recorder's timestamp, else the file's provenance."""
    if as_of is not None:
        return as_of
    for when in (
        readers.parse_date(exchange.response_headers.get("date")),
        it.recorded_at,
        file_date,
    ):
        if when is not None:
            return when.date()
    return None


def _anthropic_shape(exchange: Exchange) -> bool:
    """True when the answer looks like Anthropic's (used only for hosts that are not the API)."""
    if exchange.events is not None:
        return any(ev.type == "message_start" or ev.type == "error" for ev in exchange.events)
    body = exchange.json
    if not isinstance(body, dict):
        return exchange.status >= 500  # an edge answer has no shape; judged by its path
    if "object" in body:
        return False  # OpenAI, Mistral, xAI: {"object": "list" | "model" | "chat.completion"}
    if body.get("type") in _ANTHROPIC_TYPES:
        return True
    if isinstance(body.get("data"), list):
        items = body["data"]
        if not items:
            return "has_more" in body and ("first_id" in body or "next_page" in body)
        return all(
            isinstance(i, dict) and i.get("type") in _ANTHROPIC_TYPES and "object" not in i
            for i in items
        )
    return set(body) <= {"input_tokens", "context_management"} and "input_tokens" in body


def _describe_provenance(prov: dict[str, str] | None, hosts: set[str]) -> str | None:
    if prov is not None:
        details = ", ".join(
            f"{k} {prov[k]}"
            for k in ("recorded", "suite_version", "model", "api_version")
            if k in prov
        )
        if prov.get("target") == REFERENCE_TARGET:
            return f"recorded against the reference server, not the real API ({details})"
        return f"recorded against {prov.get('target', '?')} ({details})"
    if hosts and hosts <= _LOOPBACK:
        return (
            "recorded against a local server ("
            + ", ".join(sorted(hosts))
            + "), probably the reference server; no provenance stamp"
        )
    return None


def _select(it: Interaction, hosts: set[str] | None, by_path: bool) -> str | None:
    """None when ``it`` is to be checked, else why not (``OTHER_HOST`` / ``OTHER_PROVIDER``).

    ``hosts`` None is ``--all-hosts``: the API's own host as by default, plus any host whose
    path and answer shape are Anthropic's, so it checks a superset of the default.
    """
    if it.by_content:
        return None  # a bare body is Anthropic's by its shape (the reader made sure)
    if by_path:
        return None if it.path.startswith(API_PATH_PREFIXES) else OTHER_HOST
    wanted = hosts if hosts is not None else {catalog.REAL_API_HOST}
    if it.host.lower() in wanted and it.path.startswith("/v1/"):
        return None
    if hosts is not None or not it.path.startswith(API_PATH_PREFIXES):
        return OTHER_HOST
    if it.exchange is None or _anthropic_shape(it.exchange):
        return None
    return OTHER_PROVIDER


def lint_file(
    path: Path,
    result: LintResult,
    *,
    hosts: set[str] | None,
    strict_headers: bool,
    as_of: date | None = None,
) -> None:
    """Add what ``path`` holds to ``result``; never raises for a bad input."""
    name = str(path)
    result.files += 1
    try:
        rec = readers.read(path)
    except CassetteError as exc:
        result.errors.append(Problem(name, None, "", "", "", UNREADABLE, str(exc)))
        return
    result.formats[rec.format] += 1
    items = interactions_of_recording(rec)
    prov = rec.provenance
    selected = []
    for it in items:
        why = _select(it, hosts, prov is not None)
        if why is None:
            selected.append(it)
            continue
        result.skipped += 1
        result.skipped_by[why] += 1
        if why == OTHER_HOST:
            result.other_hosts[it.host or "(no host)"] += 1
    about = _describe_provenance(prov, {it.host for it in selected if it.host})
    if about and selected:
        result.provenance[name] = about
    for it in selected:
        _lint_interaction(it, name, result, strict_headers, rec.recorded_at, as_of)


def _lint_interaction(
    it: Interaction,
    name: str,
    result: LintResult,
    strict_headers: bool,
    file_date: datetime | None = None,
    as_of: date | None = None,
) -> None:
    ex = it.exchange
    if ex is None:
        result.problems.append(
            Problem(
                name,
                it.index,
                it.path or "?",
                "",
                "",
                UNREADABLE,
                f"cannot read this interaction: {it.error}",
            )
        )
        result.summary.setdefault("(unreadable)", EndpointSummary()).problems += 1
        return
    endpoint = ex.endpoint.name if ex.endpoint is not None else "(other)"
    summary = result.summary.setdefault(endpoint, EndpointSummary())
    summary.checked += 1
    result.checked += 1
    where = f"{name}#{it.index}"
    if it.timing_error is not None:
        result.problems.append(
            Problem(
                name,
                it.index,
                endpoint,
                "/timing",
                "",
                TIMING,
                f"malformed timing entry: {it.timing_error}",
            )
        )
        summary.problems += 1
    try:
        validation = validate_exchange(ex)
    except Exception as exc:  # a schema being written or a checker bug: report, never crash
        result.problems.append(
            Problem(
                name,
                it.index,
                endpoint,
                "",
                "",
                INTERNAL,
                f"validation crashed: {type(exc).__name__}: {exc}",
            )
        )
        summary.problems += 1
        return
    if is_edge_answer(ex):
        result.notes[
            f"transient edge answer (an HTML or text/plain {ex.status} from the API's "
            "edge, not the API)"
        ] += 1
        return
    findings = _judged(
        validation.findings,
        it,
        ex,
        result,
        summary,
        strict_headers,
        recorded_on(it, ex, file_date, as_of),
    )
    for f in findings:
        result.problems.append(
            Problem(name, it.index, endpoint, f.pointer, f.rule, f.check, f.message, f.value)
        )
    summary.problems += len(findings)
    for kind, label in (
        *pointer_drift(validation.unknown),
        *header_drift(ex),
        *stop_reason_drift(validation.findings),
    ):
        result.drift.add(kind, label, endpoint, where)


def _judged(
    findings: list[Finding],
    it: Interaction,
    ex: Exchange,
    result: LintResult,
    summary: EndpointSummary,
    strict_headers: bool,
    day: date | None,
) -> list[Finding]:
    """The findings that are problems; the others become notes (scrubbing, the day's contract)."""
    kept: list[Finding] = []
    header_noted = False
    for f in findings:
        note = None if strict_headers else _header_note(f, ex)
        if note is not None:
            result.notes[note] += 1
            header_noted = True
            continue
        change = history.excuse(f.check, f.rule, day)
        if change is not None:
            result.notes[
                f"excused by the contract of the recording's day: {change.subject} "
                f"(required from {change.cutoff}; {change.source})"
            ] += 1
            continue
        if day is None and history.change_for(f.check, f.rule) is not None:
            f = dataclasses.replace(
                f,
                message=f"{f.message} (the field is newer than some "
                "recordings and this one has no date: --as-of DATE judges "
                "it by the contract of its day)",
            )
        kept.append(f)
    summary.headers_not_checked += header_noted
    return kept


def lint_paths(
    paths: Iterable[Path],
    *,
    hosts: Sequence[str] | None = DEFAULT_HOSTS,
    strict_headers: bool = False,
    secrets: bool = False,
    hide_org_ids: bool = False,
    as_of: date | None = None,
) -> LintResult:
    """Check every cassette under ``paths`` (files or directories).

    ``hosts=None`` selects interactions by API path whatever the host (a proxy or a local server
    was recorded). A cassette stamped with this suite's provenance is always selected by path.
    ``secrets`` also runs the secret scanner on every file. ``as_of`` judges every recording by
    the contract of that day instead of its own recording date.
    """
    result = LintResult()
    wanted = {h.lower() for h in hosts} if hosts is not None else None
    files = cassette_files(paths)
    for file in files:
        lint_file(file, result, hosts=wanted, strict_headers=strict_headers, as_of=as_of)
    if secrets:
        result.secrets = scan_paths(files, hide_org_ids=hide_org_ids)
    return result


# --- command line --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run a pass from the parsed ``check-cassettes`` arguments (``conformance.cli``), print
    it, return the exit code."""
    missing = [str(p) for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"check-cassettes: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    hosts = None if args.all_hosts else (tuple(args.host) or DEFAULT_HOSTS)
    # --hide-org-ids only means something to the secret scan, so it switches the scan on.
    result = lint_paths(
        args.paths,
        hosts=hosts,
        strict_headers=args.strict_headers,
        secrets=args.secrets or args.hide_org_ids,
        hide_org_ids=args.hide_org_ids,
        as_of=args.as_of,
    )
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(result.format_text())
    reason = result.nothing_checked_reason()
    if reason and not result.errors:
        print(f"check-cassettes: {reason}", file=sys.stderr)
    return result.exit_code


def count_by_kind(result: LintResult) -> Counter[str]:
    """Problems per check name (for tests and summaries)."""
    return Counter(p.check for p in result.problems)
