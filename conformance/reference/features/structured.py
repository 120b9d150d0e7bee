"""Structured outputs: ``output_config.format: {type: "json_schema", schema}`` (GA) or the beta
``output_format`` (with ``anthropic-beta: structured-outputs-2025-11-13``) make the reference
model answer with one text block holding compact JSON valid against the schema.

The JSON is the generator's ``example_value`` of the schema (string values are a word of the
prompt), so it is deterministic. Recorded real answers stream such JSON as ordinary
``text_delta`` pieces of one text block; that is what this server sends too. Not modelled,
because not documented precisely: the API's list of unsupported schema keywords (it refuses
some, e.g. recursive schemas, with a 400), the extra input tokens the schema costs, and what
happens when both ``output_config.format`` and ``output_format`` are sent (taken here: the GA
field wins).
"""

from __future__ import annotations

import json
from typing import Any

from conformance import catalog
from conformance.reference.errors import invalid

BETA = next(b.header for b in catalog.BETAS if b.feature == "structured_outputs")
FORMAT_TYPES = ("json_schema",)


def _check_format(fmt: Any, path: str) -> None:
    if not isinstance(fmt, dict):
        raise invalid(f"{path}: Input should be a valid dictionary")
    kind = fmt.get("type")
    if kind not in FORMAT_TYPES:
        raise invalid(
            f"{path}.type: Input tag '{kind}' found using 'type' does not match any "
            "of the expected tags: 'json_schema'"
        )
    if "schema" not in fmt:
        raise invalid(f"{path}.json_schema.schema: Field required")
    if not isinstance(fmt["schema"], dict):
        raise invalid(f"{path}.json_schema.schema: Input should be a valid dictionary")


def check_request(body: dict[str, Any], betas: tuple[str, ...]) -> None:
    """``output_config`` is an object whose ``format`` (when given) is a json_schema format;
    ``output_format`` is a beta field the API does not know without its beta header."""
    if "output_config" in body:
        config = body["output_config"]
        if not isinstance(config, dict):
            raise invalid("output_config: Input should be a valid dictionary")
        if config.get("format") is not None:
            _check_format(config["format"], "output_config.format")
    if "output_format" in body:
        if BETA not in betas:
            raise invalid("output_format: Extra inputs are not permitted")
        if body["output_format"] is not None:
            _check_format(body["output_format"], "output_format")


def answer_text(value: Any) -> str:
    """The answer's text: ``value`` (an instance of ``schema``) as compact JSON, like the API."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
