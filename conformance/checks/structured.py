"""Checks of structured outputs: an answer to a request with a JSON-schema output format is JSON
valid against that schema.

The request names the schema in ``output_config.format`` (GA) or ``output_format`` (the beta
surface). Only a message that stopped with ``end_turn`` is judged: a ``max_tokens`` stop cuts the
JSON, a ``refusal`` need not follow the schema (the docs say so), and a ``tool_use`` turn answers
with a tool call instead. The text is the message's text blocks joined in order, as the docs
describe it. A schema the validator itself cannot read is not judged (the API decides which
schemas it takes).
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from conformance import catalog
from conformance.checks._registry import check, success
from conformance.checks.common import finding
from conformance.checks.messages import final_message
from conformance.exchange import Exchange, Finding

STRUCTURED_OUTPUT = "structured-output"
_RULE = (
    "with output_config.format (or output_format) of type json_schema, a message that "
    "ends its turn has text that is JSON valid against the schema"
)


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    return (
        "".join(
            str(b.get("text", ""))
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        )
        if isinstance(content, list)
        else ""
    )


@check(STRUCTURED_OUTPUT, endpoints=("messages.create",), applies=success)
def check_structured_output(exchange: Exchange) -> list[Finding]:
    """The text of a finished structured-output answer parses as JSON and fits the schema."""
    schema = catalog.output_schema(exchange.request_json)
    final = final_message(exchange) if schema is not None else None
    if schema is None or final is None or final.message.get("stop_reason") != "end_turn":
        return []
    text = _text(final.message)
    pointer = final.pointer("content")
    try:
        value = json.loads(text)
    except ValueError as exc:
        return [
            finding(
                STRUCTURED_OUTPUT,
                f"the answer's text is not JSON ({exc})",
                pointer=pointer,
                rule=_RULE,
                value=text,
                request_id=exchange.request_id,
            )
        ]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return []
    error = best_match(Draft202012Validator(schema).iter_errors(value))
    if error is None:
        return []
    where = "/".join(str(p) for p in error.absolute_path) or "(the root)"
    return [
        finding(
            STRUCTURED_OUTPUT,
            f"the answer's JSON does not fit the requested schema at {where}: {error.message}",
            pointer=pointer,
            rule=_RULE,
            value=value,
            request_id=exchange.request_id,
        )
    ]
