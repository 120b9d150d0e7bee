"""The OpenAPI export: valid OpenAPI 3.1, complete against the catalog, self-contained.

openapi-spec-validator is in the ``test`` extra; Schemathesis only in ``bench``: tests that need
a missing package skip and name the install command.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import referencing
import yaml
from referencing.jsonschema import DRAFT202012

from conformance import catalog, openapi, reference, schemas
from conformance.cli import main

INSTALL_TEST = "pip install -e '.[test]'"
INSTALL_BENCH = "pip install -e '.[bench]'"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.build_document()


def _validate_spec(doc: dict[str, Any]) -> None:
    try:
        from openapi_spec_validator import validate
    except ImportError:
        pytest.skip(f"openapi-spec-validator is not installed: {INSTALL_TEST}")
    validate(doc)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


# --- validity ------------------------------------------------------------------------------------


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    _validate_spec(document)


def test_a_planted_unresolvable_ref_fails_validation(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["components"]["schemas"]["message"]["properties"]["usage"] = {
        "$ref": "#/components/schemas/no_such_schema"
    }
    with pytest.raises(Exception, match="no_such_schema"):
        _validate_spec(broken)


def test_a_planted_missing_field_fails_validation(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    del broken["paths"]["/v1/messages"]["post"]["responses"]["200"]["description"]
    with pytest.raises(Exception, match="description"):
        _validate_spec(broken)


def test_every_ref_resolves_inside_the_document(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert len(refs) > 200
    for ref in refs:
        assert not ref.split("#")[0], f"{ref} points outside the document"
        assert _resolve(document, ref) is not None


def test_no_schema_file_identity_is_left(document: dict[str, Any]) -> None:
    text = json.dumps(document["components"]["schemas"])
    assert '"$id"' not in text and '"$schema"' not in text
    assert schemas.BASE_URI not in text and '.json"' not in text


# --- completeness against the catalog ------------------------------------------------------------


def test_every_catalog_endpoint_appears_with_its_method(document: dict[str, Any]) -> None:
    operations = [(path, method) for path, item in document["paths"].items() for method in item]
    assert len(operations) == len(catalog.ENDPOINTS)
    for endpoint in catalog.ENDPOINTS:
        op = document["paths"][endpoint.path][endpoint.method.lower()]
        assert op["operationId"] == endpoint.name
        assert op["tags"] == [endpoint.family]
        placeholders = {p["name"] for p in op["parameters"] if p.get("in") == "path"}
        assert placeholders == {
            part[1:-1] for part in endpoint.path.split("/") if part.startswith("{")
        }


def test_success_answers_reference_the_endpoint_schema(document: dict[str, Any]) -> None:
    for endpoint in catalog.ENDPOINTS:
        ok = document["paths"][endpoint.path][endpoint.method.lower()]["responses"]["200"]
        refs = _refs(ok["content"])
        if endpoint.body == "bytes":
            assert refs == []
        else:
            want = "#/components/schemas/" + openapi.component_name(endpoint.schema)
            assert want in refs, endpoint.name


def test_the_streaming_endpoint_declares_an_event_stream(document: dict[str, Any]) -> None:
    assert catalog.STREAMING_ENDPOINTS
    for endpoint in catalog.ENDPOINTS:
        content = document["paths"][endpoint.path][endpoint.method.lower()]["responses"]["200"][
            "content"
        ]
        if endpoint.name not in catalog.STREAMING_ENDPOINTS:
            assert "text/event-stream" not in content
            continue
        event = content["text/event-stream"]["schema"]
        assert event["required"] == ["event", "data"]
        assert event["properties"]["data"]["contentSchema"] == {
            "$ref": "#/components/schemas/stream_event"
        }


def test_error_answers_reference_the_error_envelope(document: dict[str, Any]) -> None:
    envelope = "#/components/schemas/" + openapi.component_name(catalog.ERROR_SCHEMA)
    for endpoint in catalog.ENDPOINTS:
        responses = document["paths"][endpoint.path][endpoint.method.lower()]["responses"]
        for status, error_type in catalog.ERROR_TYPES.items():
            answer = _resolve(document, responses[str(status)]["$ref"])
            schema = answer["content"]["application/json"]["schema"]
            assert {"$ref": envelope} in schema["allOf"]
            assert error_type in json.dumps(schema), (endpoint.name, status)


def test_request_id_header_is_declared_on_every_answer(document: dict[str, Any]) -> None:
    header = document["components"]["headers"]["request-id"]
    assert header["required"] is True
    assert header["schema"]["pattern"].startswith("^req")
    for item in document["paths"].values():
        for op in item.values():
            for answer in op["responses"].values():
                resolved = _resolve(document, answer["$ref"]) if "$ref" in answer else answer
                assert resolved["headers"]["request-id"] == {
                    "$ref": "#/components/headers/request-id"
                }


def test_version_beta_and_auth_come_from_the_catalog(document: dict[str, Any]) -> None:
    params = document["components"]["parameters"]
    assert params["anthropic-version"]["required"] is True
    assert params["anthropic-version"]["schema"]["enum"] == list(catalog.API_VERSIONS)
    assert {b.header for b in catalog.BETAS} <= set(params["anthropic-beta"]["schema"]["examples"])
    schemes = document["components"]["securitySchemes"]
    assert schemes["api_key"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    assert schemes["bearer"]["scheme"] == "bearer"
    admin = document["paths"]["/v1/organizations/me"]["get"]
    assert admin["security"] == [{"admin_api_key": []}]


def test_request_bodies_follow_the_catalog(document: dict[str, Any]) -> None:
    for endpoint in catalog.ENDPOINTS:
        op = document["paths"][endpoint.path][endpoint.method.lower()]
        body = catalog.request_body(endpoint.name)
        if body is None:
            assert "requestBody" not in op, endpoint.name
            continue
        media = op["requestBody"]["content"][body.media_type]
        assert media["schema"] == {
            "$ref": "#/components/schemas/" + openapi.component_name(body.schema)
        }
    assert {b.endpoint for b in catalog.REQUEST_BODIES} <= {e.name for e in catalog.ENDPOINTS}


def test_request_examples_match_their_own_schema() -> None:
    # The examples are what Schemathesis sends first: a wrong one would test nothing.
    seen = 0
    for body in catalog.REQUEST_BODIES:
        for example in schemas._documents()[body.schema].get("examples", []):
            assert schemas.validate(example, body.schema) == [], body.schema
            seen += 1
    assert seen >= 5


# --- the rewritten schemas still mean the same -----------------------------------------------


def _component_validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    uri = "urn:openapi"
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        uri, DRAFT202012.create_resource(document)
    )
    return jsonschema.Draft202012Validator(
        {"$ref": f"{uri}#/components/schemas/{name}"}, registry=registry
    )


def test_components_judge_real_answers_like_the_schema_files(document: dict[str, Any]) -> None:
    headers = {"x-api-key": reference.DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
    body = {
        "model": catalog.DEFAULT_MODEL,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Reply with exactly: ok"}],
    }
    with reference.EmbeddedServer() as server, httpx.Client(base_url=server.url) as http:
        message = http.post("/v1/messages", json=body, headers=headers).json()
        models = http.get("/v1/models", headers=headers).json()
    validator = _component_validator(document, "message")
    assert validator.is_valid(message)
    broken = {**message, "usage": {**message["usage"], "output_tokens": "12"}}
    assert schemas.validate(broken, "message.json") != []
    assert not validator.is_valid(broken)
    assert _component_validator(document, "model_list").is_valid(models)
    assert not _component_validator(document, "model_list").is_valid({**models, "data": [{}]})


# --- the command ---------------------------------------------------------------------------------


def test_cli_writes_json_and_yaml(
    tmp_path: Path, document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["openapi", "--out", str(tmp_path / "api.yaml")]) == 0
    assert yaml.safe_load((tmp_path / "api.yaml").read_text()) == document
    assert main(["openapi", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :]) == document


def test_cli_unwritable_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "api.json"
    assert main(["openapi", "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(target) in err and "Traceback" not in err


# --- Schemathesis on a small budget ------------------------------------------------------------


def _schemathesis_finds(tmp_path: Path, mutants: tuple[str, ...]) -> tuple[bool, str]:
    pytest.importorskip("schemathesis", reason=f"Schemathesis is not installed: {INSTALL_BENCH}")
    doc = tmp_path / "openapi.json"
    doc.write_text(openapi.dump(openapi.build_document()))
    config = reference.ReferenceConfig(mutants=mutants)
    with reference.EmbeddedServer(config) as server:
        plain, _admin = openapi.schemathesis_runs(
            doc,
            server.url,
            reference.DEFAULT_API_KEY,
            reference.DEFAULT_ADMIN_API_KEY,
            max_examples=3,
            phases="examples,fuzzing",
            operations=r"^(messages\.create|models\.list|models\.retrieve)$",
        )
        # In a process of its own: an in-process pytest run of another test (pytester) loads
        # Hypothesis' pytest plugin, after which Schemathesis fails with an internal error.
        code = (
            "import sys\n"
            "from conformance import openapi\n"
            "found, output = openapi.run_schemathesis(sys.argv[1:])\n"
            "print(output)\n"
            "sys.exit(1 if found else 0)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, *plain], capture_output=True, text=True, timeout=300
        )
        assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
        return done.returncode == 1, done.stdout


def test_schemathesis_finds_nothing_on_the_faithful_server(tmp_path: Path) -> None:
    found, output = _schemathesis_finds(tmp_path, ())
    assert not found, output[-3000:]


def test_schemathesis_with_our_export_catches_a_mutant(tmp_path: Path) -> None:
    found, output = _schemathesis_finds(tmp_path, ("usage-missing",))
    # usage is dropped from the message and from the stream's events: a schema violation
    assert found and "violates" in output, output[-3000:]
