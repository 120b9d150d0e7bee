"""``anthropic-conformance check-export FILE [FILE...]``: validate claude.ai Enterprise audit-log
exports, the one source of seed 004 without an API (a file downloaded from the Enterprise
Console).

Each event is judged against the profile's schema ``claude_ai_audit_event.json`` (seed 004's
``ClaudeAiAuditEvent``) and the rules the seed implies: an RFC 3339 timestamp, an e-mail address
to attribute to, the metadata key of its event type, one export spanning at most the 180 days
of retention, and one spelling of each address across the files given. One line per problem:
``file:line N: field: message [rule]``. Exit 0 when there is no error (warnings are printed),
1 when there is one, 2 for a usage error (a file that cannot be read, a format not recognised).

What the real export looks like is not public beyond the seed, so the readers accept the plain
readings of it (README "Profile: usage-analytics"): JSON as an array of events, an object with
an ``events`` (or ``data``) array, or JSON Lines; CSV with a header row whose columns are the
event's fields flattened with dots (``actor.email``) or underscores (``actor_email``), metadata
keys bare or prefixed (``metadata.file_name``), or a ``metadata`` column holding a JSON object.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from conformance.exceptions import ConformanceToolError
from conformance.profiles._schemas import schema_set
from conformance.profiles.usage_analytics import checks, spec
from conformance.timestamps import parse_rfc3339

Format = Literal["auto", "csv", "json", "jsonl"]
FORMATS: tuple[str, ...] = ("auto", "csv", "json", "jsonl")
_SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SCHEMA = "claude_ai_audit_event.json"
#: CSV header -> the event field it fills (path of keys). Unknown columns are ignored.
_COLUMNS: dict[str, tuple[str, ...]] = {
    **{f"actor{sep}{k}": ("actor", k) for sep in (".", "_") for k in ("name", "email")},
    "event_type": ("event_type",),
    "timestamp": ("timestamp",),
    **{
        f"{prefix}{k}": ("metadata", k)
        for prefix in ("metadata.", "metadata_", "")
        for k in ("conversation_id", "project_id", "file_name", "file_size")
    },
}
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_REQUIRED_COLUMNS = {("actor", "email"), ("actor", "name"), ("event_type",), ("timestamp",)}


class ExportUnreadable(ConformanceToolError, ValueError):
    """An export that cannot be read at all (missing, not text, an unknown format): a usage
    error naming the file and what to do."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an export: where (file and line), which field, which rule."""

    file: str
    where: str  # "line 3", "events[2]", "header"
    field: str
    message: str
    rule: str
    severity: Literal["error", "warning"] = "error"

    def format(self) -> str:
        tag = " (warning)" if self.severity == "warning" else ""
        return f"{self.file}:{self.where}: {self.field}: {self.message} [{self.rule}]{tag}"


@dataclass(frozen=True)
class Event:
    where: str
    value: Any


def detect(path: Path, text: str, fmt: Format) -> str:
    """The file's format: as given, else from its suffix, else from its first character/line."""
    if fmt != "auto":
        return fmt
    by_suffix = _SUFFIXES.get(path.suffix.lower())
    if by_suffix:
        return by_suffix
    head = text.lstrip()[:1]
    if head in ("[", "{"):
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        return "json" if head == "[" or not first.rstrip().endswith("}") else "jsonl"
    first_line = text.splitlines()[0] if text else ""
    if "," in first_line and "event_type" in first_line:
        return "csv"
    raise ExportUnreadable(
        f"{path}: format not recognised (not .csv/.json/.jsonl, and the content is neither "
        "JSON nor a CSV header with event_type): give --format csv|json|jsonl"
    )


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _json_array(text: str, start: int) -> Iterator[Event]:
    """The elements of the JSON array at ``text[start] == '['``, each with its line."""
    decoder = json.JSONDecoder()
    pos = start + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return
        value, end = decoder.raw_decode(text, pos)
        yield Event(f"line {_line_of(text, pos)}", value)
        pos = end


def read_json(path: Path, text: str) -> list[Event] | Problem:
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        return Problem(str(path), f"line {exc.lineno}", "(file)", f"not JSON: {exc.msg}", "JSON")
    if isinstance(whole, list):
        return list(_json_array(text, text.index("[")))
    if isinstance(whole, dict):
        for key in ("events", "data"):
            if isinstance(whole.get(key), list):
                return [Event(f"{key}[{i}]", v) for i, v in enumerate(whole[key])]
    return Problem(
        str(path),
        "line 1",
        "(file)",
        f"the JSON is a {type(whole).__name__}, not a list of events",
        "an export is an array of events (or an object with an events array)",
    )


def read_jsonl(path: Path, text: str) -> tuple[list[Event], list[Problem]]:
    events, problems = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(Event(f"line {n}", json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(str(path), f"line {n}", "(line)", f"not JSON: {exc.msg}", "JSON Lines")
            )
    return events, problems


def _cell(path: tuple[str, ...], raw: str) -> Any:
    if path == ("metadata", "file_size") and raw.strip().isdigit():
        return int(raw.strip())  # a CSV cell is text; the size is a count
    return raw


def read_csv(path: Path, text: str) -> tuple[list[Event], list[Problem]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return [], [Problem(str(path), "line 1", "(header)", "the file is empty", "CSV header")]
    names = [h.strip() for h in header]
    fields = {i: _COLUMNS[n] for i, n in enumerate(names) if n in _COLUMNS}
    missing = _REQUIRED_COLUMNS - set(fields.values())
    if missing:
        wanted = ", ".join(sorted(".".join(p) for p in missing))
        return [], [
            Problem(
                str(path),
                "line 1",
                "(header)",
                f"no column for {wanted} (columns: {', '.join(names)})",
                "the header names every required field (actor.email, actor.name, event_type, "
                "timestamp)",
            )
        ]
    json_meta = names.index("metadata") if "metadata" in names else None
    events, problems = [], []
    for row in reader:
        where = f"line {reader.line_num}"
        if not any(c.strip() for c in row):
            continue
        event: dict[str, Any] = {"actor": {}, "metadata": {}}
        if json_meta is not None and json_meta < len(row) and row[json_meta].strip():
            try:
                meta = json.loads(row[json_meta])
            except json.JSONDecodeError as exc:
                problems.append(
                    Problem(str(path), where, "metadata", f"not JSON: {exc.msg}", "JSON object")
                )
                meta = {}
            event["metadata"] = meta
        for i, target in fields.items():
            if i < len(row) and row[i] != "":
                node = event
                for key in target[:-1]:
                    node = node[key] if isinstance(node.get(key), dict) else {}
                node[target[-1]] = _cell(target, row[i])
        events.append(Event(where, event))
    return events, problems


def _read(path: Path, fmt: Format) -> tuple[list[Event], list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ExportUnreadable(f"{path}: cannot read it: {reason}") from None
    kind = detect(path, text, fmt)
    if kind == "csv":
        return read_csv(path, text)
    if kind == "jsonl":
        return read_jsonl(path, text)
    result = read_json(path, text)
    return ([], [result]) if isinstance(result, Problem) else (result, [])


def event_problems(file: str, event: Event) -> list[Problem]:
    """What is wrong with one event: its schema, its timestamp, its event type's metadata."""
    value = event.value
    out = [
        Problem(file, event.where, _field(f.pointer, f.rule), f.message, f.rule)
        for f in schema_set(_schemas_dir(), "usage-analytics").validate(value, SCHEMA)
    ]
    if not isinstance(value, dict):
        return out
    stamp = value.get("timestamp")
    # A stamp the schema's pattern already refused is one problem, not two.
    if isinstance(stamp, str) and _DATED.match(stamp) and parse_rfc3339(stamp) is None:
        out.append(
            Problem(
                file, event.where, "timestamp", f"{stamp!r} is not an RFC 3339 time", "RFC 3339"
            )
        )
    kind = value.get("event_type")
    if isinstance(kind, str) and kind not in spec.EVENT_TYPES:
        out.append(
            Problem(
                file,
                event.where,
                "event_type",
                f"{kind!r} is not one of the seed's event types",
                " | ".join(spec.EVENT_TYPES),
                "warning",
            )
        )
    meta = value.get("metadata")
    key = spec.EVENT_METADATA.get(str(kind))
    if key and isinstance(meta, dict) and key not in meta:
        out.append(
            Problem(
                file,
                event.where,
                f"metadata/{key}",
                f"a {kind} event without metadata.{key}",
                f"{kind} names its {key}",
                "warning",
            )
        )
    return out


def _field(pointer: str, rule: str) -> str:
    """The field a schema finding is about (a missing one: its own name, not its parent)."""
    prefix = "required: '"
    if rule.startswith(prefix):
        pointer = pointer + "/" + rule.removeprefix(prefix).rstrip("'")
    return pointer.lstrip("/") or "(event)"


def _schemas_dir() -> Path:
    return Path(__file__).resolve().parent / "schemas"


def _span_problem(file: str, events: Sequence[Event]) -> Problem | None:
    stamps: list[tuple[datetime, str]] = []
    for e in events:
        moment = parse_rfc3339(e.value.get("timestamp")) if isinstance(e.value, dict) else None
        if moment is not None:
            stamps.append((moment, e.where))
    if not stamps:
        return None
    (oldest, where), (newest, _) = min(stamps), max(stamps)
    if newest - oldest <= spec.RETENTION:
        return None
    return Problem(
        file,
        where,
        "timestamp",
        f"the export spans {(newest - oldest).days} days ({oldest:%Y-%m-%d} to {newest:%Y-%m-%d})",
        "an export holds at most the 180 days of retention",
    )


def _emails(events: Sequence[Event]) -> list[tuple[str, str]]:
    """The actor addresses of ``events``, each with where it is."""
    out = []
    for e in events:
        actor = e.value.get("actor") if isinstance(e.value, dict) else None
        email = actor.get("email") if isinstance(actor, dict) else None
        if isinstance(email, str):
            out.append((email, e.where))
    return out


@dataclass
class ExportResult:
    files: int
    events: int
    problems: list[Problem]

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> int:
        return len(self.problems) - self.errors


def check_files(paths: Sequence[Path], fmt: Format = "auto") -> ExportResult:
    """Every problem of the exports ``paths``; ``ExportUnreadable`` for one that cannot be read."""
    problems: list[Problem] = []
    emails: dict[str, list[tuple[str, str]]] = {}
    count = 0
    for path in paths:
        events, found = _read(path, fmt)
        problems += found
        count += len(events)
        if not events and not found:
            problems.append(Problem(str(path), "line 1", "(file)", "no events", "events"))
        for event in events:
            problems += event_problems(str(path), event)
        span = _span_problem(str(path), events)
        if span is not None:
            problems.append(span)
        emails[str(path)] = _emails(events)
    sources = {name: [e for e, _ in found] for name, found in emails.items()}
    for f in checks.attribution_findings(sources):
        file, where = _second_spelling(emails, f.pointer.removeprefix("/emails/"))
        problems.append(Problem(file, where, "actor/email", f.message, f.rule))
    return ExportResult(len(paths), count, problems)


def _second_spelling(emails: dict[str, list[tuple[str, str]]], key: str) -> tuple[str, str]:
    """Where the address ``key`` first appears spelled unlike its first appearance."""
    first: str | None = None
    for file, found in emails.items():
        for email, where in found:
            if spec.normalized_email(email) != key:
                continue
            if first is None:
                first = email
            elif email != first:
                return file, where
    return "(exports)", "(all)"  # not reached: a finding has two spellings


def command(paths: Sequence[Path], fmt: Format = "auto") -> int:
    """The subcommand: print one line per problem and a summary; the exit code."""
    try:
        result = check_files(paths, fmt)
    except ExportUnreadable as exc:
        print(f"anthropic-conformance check-export: {exc}", file=sys.stderr)
        return 2
    for problem in result.problems:
        print(problem.format())
    print(
        f"check-export: {result.files} file(s), {result.events} event(s): "
        f"{result.errors} error(s), {result.warnings} warning(s)"
    )
    return 1 if result.errors else 0
