"""The schema check of a raw answer, shared by the tests that drive the official SDK."""

from __future__ import annotations

from typing import Any

from conformance import schemas


def assert_schema_valid(instance: Any, schema: str = "message.json") -> None:
    findings = schemas.validate(instance, schema)
    assert findings == [], [f.format() for f in findings]
