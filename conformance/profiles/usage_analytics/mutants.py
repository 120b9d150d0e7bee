"""The mutants of this profile: name -> the bug ``reference.py`` plants (``Profile.mutants``)."""

from __future__ import annotations

from collections.abc import Mapping

MUTANTS: Mapping[str, str] = {
    "cc-wrong-day": "Claude Code records are dated the day before the day asked for",
    "cc-limit-ignored": "the Claude Code report ignores limit (every record on one page)",
    "cc-page-loops": "the Claude Code report's next_page always leads back to the first page",
    "usage-bucket-early": "the usage report's buckets start a day before starting_at",
    "cost-total-drift": "an ungrouped cost report's amounts are 10% above their breakdown",
    "cost-amount-number": "cost report amounts are JSON numbers, not decimal strings",
    "cursor-range-unchecked": "Cursor answers ranges longer than 90 days",
    "cursor-range-off-by-one": "Cursor refuses a range of exactly 90 days",
    "cursor-date-outside": "Cursor adds a row for the day before startDate",
    "cursor-duplicate-row": "Cursor lists one user's day twice",
    "cursor-accepted-over-total": "Cursor counts more accepted lines than lines added",
    "cursor-subscription-over": "Cursor counts more than 500 subscription-included requests",
    "cursor-auth-unchecked": "Cursor answers requests without credentials",
    "cursor-email-case": "Cursor spells e-mail addresses with capitals (attribution splits)",
    "cursor-period-wrong": "Cursor's period ends a day after the endDate asked for",
}
