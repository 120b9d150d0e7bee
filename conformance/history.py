"""The contract has a history: what the API added to its answers, and since when.

A recording shows the API of its day. A batch recorded in October 2024 has no ``archived_at``
because the field did not exist yet, not because anything was broken, while a batch answered
today without it is broken. So each change that made an answer *stricter* (a field that is
required today) carries the date it became part of the answer, and ``excuse`` tells the linter
whether a finding about it is excused for a recording made on a given day. Additions that only
widen the contract (an optional field, a new enum value or block type) are listed too, so the
table is the one place that says when what appeared; they never produce a finding to excuse.

Every date names its source. Anthropic publishes no per-field changelog for most of these, so
many dates are **unknown**: for those the table records the corpus evidence instead (the latest
recording known to lack the field, the earliest known to carry it), and a recording made before
the earliest known carrier is treated as predating the field. The live suite judges today's
answers by today's contract, so this table never loosens a live run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

Kind = Literal["field", "enum value", "block type", "header"]


@dataclass(frozen=True)
class Change:
    """One addition to the answers of the API.

    ``subject`` is ``object.field`` (or ``object.field=value`` for an enum value); ``since`` is
    the day it became part of the answer, None when unknown; ``source`` says where ``since`` (or
    the evidence) comes from. ``absent_until`` / ``present_from`` are recording dates that bound
    an unknown ``since``. ``required_today`` says whether today's schemas require it, i.e.
    whether an older answer without it draws a finding that this row may excuse; ``schemas``
    are the schema files whose ``required`` finding it excuses.
    """

    subject: str
    kind: Kind
    since: date | None
    source: str
    absent_until: date | None = None
    present_from: date | None = None
    required_today: bool = False
    schemas: tuple[str, ...] = ()

    @property
    def field(self) -> str:
        return self.subject.rsplit(".", 1)[-1].split("=", 1)[0]

    @property
    def cutoff(self) -> date | None:
        """The first day an answer must carry it: ``since``, else the earliest known carrier."""
        return self.since or self.present_from

    def describe(self) -> str:
        when = (
            f"since {self.since}"
            if self.since
            else "date unknown"
            + (f", absent in recordings up to {self.absent_until}" if self.absent_until else "")
            + (f", present from {self.present_from}" if self.present_from else "")
        )
        return f"{self.subject} ({when}; source: {self.source})"


_CORPUS_BATCHES = (
    "corpus-formats alexrudall+anthropic: Ruby VCR recordings of 2024-10-09.."
    "2024-10-11 lack it, those of 2025-01-29 carry it"
)

CHANGES: tuple[Change, ...] = (
    Change(
        "message_batch.archived_at",
        "field",
        None,
        _CORPUS_BATCHES,
        absent_until=date(2024, 10, 11),
        present_from=date(2025, 1, 29),
        required_today=True,
        schemas=("message_batch.json", "message_batch_list.json"),
    ),
    Change(
        "message_batch",
        "field",
        date(2024, 9, 24),
        "beta header message-batches-2024-09-24 (the Message Batches API itself)",
    ),
    Change(
        "model_info.display_name",
        "field",
        None,
        "corpus-formats alexrudall+anthropic: the earliest Models API recordings "
        "(2024-12-23) carry it; no recording without it is known",
        present_from=date(2024, 12, 23),
        required_today=True,
        schemas=("model_info.json", "model_list.json"),
    ),
    Change(
        "usage.cache_creation_input_tokens",
        "field",
        date(2024, 7, 31),
        "beta header prompt-caching-2024-07-31 (optional in today's schema)",
    ),
    Change(
        "usage.cache_read_input_tokens",
        "field",
        date(2024, 7, 31),
        "beta header prompt-caching-2024-07-31 (optional in today's schema)",
    ),
    Change(
        "usage.cache_creation",
        "field",
        None,
        "unknown; came with the 1-hour cache TTL (beta header extended-cache-ttl-2025-04-11 "
        "names a lower bound); optional in today's schema",
    ),
    Change("usage.service_tier", "field", None, "unknown; optional in today's schema"),
    Change(
        "usage.server_tool_use",
        "field",
        None,
        "unknown; came with server tools (web search); optional in today's schema",
    ),
    Change(
        "file_metadata.downloadable",
        "field",
        date(2025, 4, 14),
        "beta header files-api-2025-04-14 (the Files API itself); optional in today's schema",
    ),
    Change(
        "content_block.type=thinking",
        "block type",
        None,
        "unknown (extended thinking); a new block type only widens the contract",
    ),
    Change(
        "content_block.type=server_tool_use",
        "block type",
        None,
        "unknown (server tools); a new block type only widens the contract",
    ),
    Change(
        "message.stop_reason=pause_turn",
        "enum value",
        None,
        "unknown (server tools); a new enum value only widens the contract",
    ),
    Change(
        "message.stop_reason=refusal",
        "enum value",
        None,
        "unknown; a new enum value only widens the contract",
    ),
    Change(
        "message.stop_reason=model_context_window_exceeded",
        "enum value",
        None,
        "unknown; a new enum value only widens the contract",
    ),
)


def _day(when: date | datetime) -> date:
    return when.date() if isinstance(when, datetime) else when


def excuse(check: str, rule: str, recorded: date | datetime | None) -> Change | None:
    """The change that excuses a finding (``check``, ``rule``) on a recording made ``recorded``.

    Only ``required`` schema findings about a field required today can be excused, and only
    when the recording predates the field's cutoff. An undated recording is judged by today's
    contract (None): the linter says how to pass ``--as-of`` instead.
    """
    change = change_for(check, rule)
    if change is None or recorded is None or change.cutoff is None:
        return None
    return change if _day(recorded) < change.cutoff else None


def change_for(check: str, rule: str) -> Change | None:
    """The row a ``required`` schema finding (``check`` ``schema:<file>``) is about, if any."""
    if not check.startswith("schema:") or not rule.startswith("required: "):
        return None
    schema, field = check.split(":", 1)[1], rule.split(":", 1)[1].strip().strip("'\"")
    for change in CHANGES:
        if change.required_today and schema in change.schemas and change.field == field:
            return change
    return None


def markdown_table() -> str:
    """The table for README: what changed, since when, and the source of the date."""
    lines = ["| what | kind | since | evidence / source |", "| --- | --- | --- | --- |"]
    for c in CHANGES:
        since = str(c.since) if c.since else "unknown"
        bounds = ", ".join(
            x
            for x in (
                f"absent up to {c.absent_until}" if c.absent_until else "",
                f"present from {c.present_from}" if c.present_from else "",
            )
            if x
        )
        lines.append(
            f"| `{c.subject}` | {c.kind} | {since} | {c.source}{'; ' + bounds if bounds else ''} |"
        )
    return "\n".join(lines)


__all__ = ["CHANGES", "Change", "change_for", "excuse", "markdown_table"]
