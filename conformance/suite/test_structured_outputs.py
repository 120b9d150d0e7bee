"""Structured outputs: ``output_config.format`` of type ``json_schema`` (GA, no beta header) and
the beta ``output_format`` (with the catalog's ``structured_outputs`` beta).

``api.expect`` runs the ``structured-output`` check: the text of an answer that ends its turn is
JSON valid against the requested schema. The tests also parse the JSON themselves and compare it
with the prompt, so a target that answers with some other valid JSON still fails. A bad format
is refused for free (400).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from conformance import catalog
from conformance.api import Api
from conformance.suite._data import text_of

pytestmark = pytest.mark.feature("structured_outputs")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "legs": {"type": "integer"},
        "colours": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "legs", "colours"],
    "additionalProperties": False,
}
PROMPT = "Describe a dog called Rex with four legs and the colour Brown, as JSON."
MAX_TOKENS = 128


def _json_of(message: dict[str, Any]) -> dict[str, Any]:
    assert message["stop_reason"] == "end_turn", message
    text = text_of(message)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise AssertionError(f"the answer is not JSON: {text!r} ({exc})") from exc
    jsonschema.validate(value, SCHEMA)
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_output_config_json_schema(api: Api, stream: bool) -> None:
    ex = api.create_message(
        PROMPT,
        max_tokens=MAX_TOKENS,
        stream=stream,
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    )
    value = _json_of(api.expect(ex))
    assert value["name"].strip(), value
    if stream:
        kinds = {
            e.json["delta"]["type"] for e in ex.events or [] if e.type == "content_block_delta"
        }
        assert kinds == {"text_delta"}, f"structured JSON streams as text_delta only: {kinds}"


def test_beta_output_format(api: Api) -> None:
    betas = catalog.betas_for(["structured_outputs"], api.api_version)
    ex = api.call(
        "messages.create",
        api.message_body(
            PROMPT, max_tokens=MAX_TOKENS, output_format={"type": "json_schema", "schema": SCHEMA}
        ),
        headers={"anthropic-beta": ",".join(betas)} if betas else None,
    )
    _json_of(api.expect(ex))


@pytest.mark.feature("errors")
def test_unknown_format_type_rejected(api: Api) -> None:
    ex = api.create_message(
        PROMPT, max_tokens=MAX_TOKENS, output_config={"format": {"type": "yaml", "schema": SCHEMA}}
    )
    body = api.expect_error(ex, 400)
    assert "output_config" in body["error"]["message"], body
