"""A profile's JSON Schemas: one registry per profile directory, findings shaped like the core's.

The core registry (``conformance.schemas``) holds the Anthropic API's objects under one base URI;
a profile's schemas live in its own directory and under its own base URI
(``.../profiles/<name>/``), so a file name may repeat across profiles without a clash.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import referencing
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, relevance
from referencing.jsonschema import DRAFT202012

from conformance import schemas as core
from conformance.exchange import Finding, shorten

BASE_URI = "https://anthropic-conformance.invalid/profiles/"


class SchemaSet:
    """The schemas of one directory; ``$id`` of each file must be ``<base>/<file name>``."""

    def __init__(self, directory: Path, profile: str) -> None:
        self.directory = directory
        self.base = f"{BASE_URI}{profile}/"
        docs: dict[str, dict[str, Any]] = {}
        if not directory.is_dir():
            raise core.SchemaLoadError(f"schemas directory not found: {directory}")
        for file in sorted(directory.glob("*.json")):
            try:
                doc = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise core.SchemaLoadError(f"{file}: not a readable JSON file: {exc}") from exc
            if not isinstance(doc, dict) or doc.get("$id") != self.base + file.name:
                raise core.SchemaLoadError(f"{file}: $id must be {self.base + file.name!r}")
            try:
                Draft202012Validator.check_schema(doc)
            except SchemaError as exc:
                raise core.SchemaLoadError(
                    f"{file}: not a valid 2020-12 schema: {exc.message}"
                ) from exc
            docs[file.name] = doc
        self.documents = docs
        self.registry: referencing.Registry[Any] = (
            referencing.Registry()
            .with_resources(
                (self.base + name, DRAFT202012.create_resource(doc)) for name, doc in docs.items()
            )
            .crawl()
        )
        self._validators: dict[str, Draft202012Validator] = {}

    def names(self) -> list[str]:
        return sorted(self.documents)

    def validator(self, name: str) -> Draft202012Validator:
        if name not in self.documents:
            raise ValueError(
                f"unknown schema {name!r} in {self.directory}; known: {', '.join(self.names())}"
            )
        if name not in self._validators:
            self._validators[name] = Draft202012Validator(
                self.documents[name], registry=self.registry
            )
        return self._validators[name]

    def validate(self, instance: Any, name: str, *, pointer: str = "") -> list[Finding]:
        """Findings for every way ``instance`` breaks schema ``name``, most relevant first."""
        errors = core._leaf_errors(self.validator(name).iter_errors(instance))
        out: list[Finding] = []
        seen: set[tuple[str, str]] = set()
        for error in sorted(errors, key=relevance, reverse=True):
            where = pointer + core._pointer(error.absolute_path)
            rule = core._rule(error)
            if (where, rule) in seen:
                continue
            seen.add((where, rule))
            out.append(
                Finding(
                    f"schema:{name}",
                    core._message(error),
                    pointer=where,
                    rule=rule,
                    value=shorten(error.instance),
                )
            )
        return out


@cache
def schema_set(directory: Path, profile: str) -> SchemaSet:
    return SchemaSet(directory, profile)
