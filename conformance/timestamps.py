"""``parse_rfc3339``: the one reading of the API's timestamps for the checks.

The API writes RFC 3339 timestamps (``2025-10-15T00:00:00Z``, sometimes with fractional seconds
or an offset). The checks compare them (bucket ranges, batch timelines, invite expiry), so they
need aware datetimes; a value that is not a timestamp is None and the schema reports it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["parse_rfc3339"]


def parse_rfc3339(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime (UTC when it has no offset), else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
