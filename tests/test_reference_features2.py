"""Today's Messages features, second part (structured outputs, stop reasons, request fields):
the reference server's behaviour, the official SDK parsing it, and the checks that judge it.

Streams go through the SDK's accumulator (``client.messages.stream``); every JSON answer also
passes the shipped message schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from conformance import catalog, schemas
from conformance.checks import structured
from conformance.exchange import Exchange
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer

MODEL = catalog.DEFAULT_MODEL


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as running:
        yield running


@pytest.fixture
def client(server: EmbeddedServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=DEFAULT_API_KEY, base_url=server.url, max_retries=0)


def _schema_ok(instance: Any) -> None:
    findings = schemas.validate(instance, "message.json")
    assert findings == [], [f.format() for f in findings]


# --- structured outputs ---------------------------------------------------------------------------

DOG: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 3},
                   "kind": {"enum": ["dog", "cat"]},
                   "toys": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "age", "kind", "toys"], "additionalProperties": False,
}
ASK: Any = [{"role": "user", "content": "Invent a dog called Rex."}]
FORMAT: Any = {"format": {"type": "json_schema", "schema": DOG}}


def test_structured_output_through_the_sdk(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=ASK,
                                                   output_config=FORMAT)
    _schema_ok(raw.http_response.json())
    message = raw.parse()
    assert message.stop_reason == "end_turn" and len(message.content) == 1
    block = message.content[0]
    assert block.type == "text"
    assert json.loads(block.text) == {"name": "Rex", "age": 3, "kind": "dog", "toys": ["Rex"]}
    with client.messages.stream(model=MODEL, max_tokens=64, messages=ASK,
                                output_config=FORMAT) as stream:
        folded = stream.get_final_message()
    assert folded.content[0].type == "text" and folded.content[0].text == block.text


def test_beta_output_format_needs_its_beta(client: anthropic.Anthropic) -> None:
    fmt: Any = FORMAT["format"]
    with pytest.raises(anthropic.BadRequestError, match="output_format"):
        client.messages.create(model=MODEL, max_tokens=64, messages=ASK,
                               extra_body={"output_format": fmt})
    # SDK 2.x no longer types the beta field: it goes in extra_body, with the beta header
    beta = client.beta.messages.create(model=MODEL, max_tokens=64, messages=ASK,
                                       extra_body={"output_format": fmt},
                                       betas=[structured_beta()])
    assert json.loads(beta.content[0].text)["name"] == "Rex"  # type: ignore[union-attr]


def structured_beta() -> str:
    return next(b.header for b in catalog.BETAS if b.feature == "structured_outputs")


@pytest.mark.parametrize(("config", "match"), [
    ({"format": {"type": "yaml", "schema": DOG}}, r"output_config\.format\.type"),
    ({"format": {"type": "json_schema"}}, r"schema: Field required"),
    ({"format": {"type": "json_schema", "schema": "object"}}, r"schema: Input should be"),
    ("json", r"output_config: Input should be a valid dictionary"),
])
def test_bad_output_config_rejected(client: anthropic.Anthropic, config: Any,
                                    match: str) -> None:
    with pytest.raises(anthropic.BadRequestError, match=match):
        client.messages.create(model=MODEL, max_tokens=8, messages=ASK, output_config=config)


def test_max_tokens_cuts_the_json(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=3, messages=ASK,
                                     output_config=FORMAT)
    assert message.stop_reason == "max_tokens"
    with pytest.raises(ValueError):
        json.loads(message.content[0].text)  # type: ignore[union-attr]


def _exchange(text: str, stop_reason: str = "end_turn", *,
              request: dict[str, Any] | None = None) -> Exchange:
    body = {"id": "msg_01x", "type": "message", "role": "assistant", "model": MODEL,
            "content": [{"type": "text", "text": text}], "stop_reason": stop_reason,
            "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}
    req = request if request is not None else {"model": MODEL, "max_tokens": 9,
                                               "messages": ASK, "output_config": FORMAT}
    return Exchange("POST", "/v1/messages", 200, {"content-type": "application/json"},
                    json.dumps(body).encode(), request_json=req)


@pytest.mark.parametrize(("text", "stop", "problem"), [
    ('{"name":"Rex","age":3,"kind":"dog","toys":[]}', "end_turn", None),
    ('```json\n{"name":"Rex"}\n```', "end_turn", "is not JSON"),
    ('{"name":"Rex","age":1,"kind":"dog","toys":[]}', "end_turn", "at age"),
    ('{"name":"Rex","age":3,"kind":"dog","toys":[],"x":1}', "end_turn", "(the root)"),
    ('{"name":"Re', "max_tokens", None),  # a cut answer is not judged
])
def test_structured_output_check(text: str, stop: str, problem: str | None) -> None:
    found = structured.check_structured_output(_exchange(text, stop))
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0].message, found


def test_structured_output_check_reads_the_beta_field_and_ignores_plain_requests() -> None:
    beta = {"model": MODEL, "max_tokens": 9, "messages": ASK, "output_format": FORMAT["format"]}
    assert structured.check_structured_output(_exchange("not json", request=beta))
    plain = {"model": MODEL, "max_tokens": 9, "messages": ASK}
    assert structured.check_structured_output(_exchange("not json", request=plain)) == []
