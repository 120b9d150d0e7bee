"""The contract's history: every dated change is sourced, and a finding is excused only for
recordings made before the change."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from conformance import history, schemas

README = Path(__file__).resolve().parent.parent / "README.md"

ARCHIVED = "required: 'archived_at'"


def test_every_row_names_a_source_and_required_rows_have_a_cutoff() -> None:
    assert history.CHANGES
    for change in history.CHANGES:
        assert change.source.strip(), change.subject
        if change.required_today:
            assert change.cutoff is not None and change.schemas, change.subject
        if change.since is None:  # unknown dates must say so in the source or the bounds
            assert "unknown" in change.source or change.present_from or change.absent_until


def test_required_rows_match_todays_schemas() -> None:
    """A row that excuses a missing field must be about a field today's schema requires."""
    for change in history.CHANGES:
        if change.required_today:
            schema = json.loads((schemas.SCHEMA_DIR / change.schemas[0]).read_text())
            assert change.field in schema["required"], change.subject


def test_archived_at_is_excused_before_its_cutoff_only() -> None:
    check = "schema:message_batch.json"
    assert history.excuse(check, ARCHIVED, date(2024, 10, 10)) is not None
    assert history.excuse(check, ARCHIVED, datetime(2025, 1, 28, 23, 59)) is not None
    assert history.excuse(check, ARCHIVED, date(2025, 1, 29)) is None
    assert history.excuse(check, ARCHIVED, date(2026, 8, 2)) is None
    assert history.excuse(check, ARCHIVED, None) is None  # undated: today's contract


def test_only_required_findings_about_a_listed_field_are_excused() -> None:
    old = date(2020, 1, 1)
    assert history.excuse("schema:message_batch.json", "required: 'id'", old) is None
    assert history.excuse("schema:message.json", ARCHIVED, old) is None
    assert history.excuse("batch-timeline", ARCHIVED, old) is None
    assert history.excuse("schema:message_batch.json", "type: string", old) is None


def test_markdown_table_lists_every_row_with_its_date_or_unknown() -> None:
    table = history.markdown_table()
    for change in history.CHANGES:
        assert f"`{change.subject}`" in table
    assert "unknown" in table and "2024-10-11" in table


def test_readme_table_is_generated_from_the_history() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- history:begin", 1)[1].split("<!-- history:end -->", 1)[0]
    assert block.split("\n", 1)[1].strip() == history.markdown_table()
