"""The schema files and the registry: well-formed, resolvable, strict where it matters, open where
the API grows, and findings/drift that point at the right place."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conformance import catalog, schemas

REQUIRED_FILES = {
    "error.json",
    "message.json",
    "usage.json",
    "content_block.json",
    "citation.json",
    "stream_event.json",
    "delta.json",
    "count_tokens.json",
    "model_info.json",
    "model_list.json",
    "id_page.json",
    "text.json",
    "tool_use.json",
    "thinking.json",
    "redacted_thinking.json",
    "server_tool_use.json",
    "web_search_tool_result.json",
    "web_fetch_tool_result.json",
    "code_execution_tool_result.json",
    "bash_code_execution_tool_result.json",
    "text_editor_code_execution_tool_result.json",
    "tool_search_tool_result.json",
    "container_upload.json",
    "message_start.json",
    "content_block_start.json",
    "content_block_delta.json",
    "content_block_stop.json",
    "message_delta.json",
    "message_stop.json",
    "ping.json",
    "text_delta.json",
    "input_json_delta.json",
    "thinking_delta.json",
    "signature_delta.json",
    "citations_delta.json",
}


TS_RE = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$"


def message(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "Hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 2},
    }
    base.update(changes)
    return base


def model_info(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "claude-haiku-4-5-20251001",
        "type": "model",
        "display_name": "Claude Haiku 4.5",
        "created_at": "2025-10-15T00:00:00Z",
    }
    base.update(changes)
    return base


def rules(findings: list[Any]) -> set[tuple[str, str]]:
    return {(f.pointer, f.rule) for f in findings}


# --- the files themselves ------------------------------------------------------------------------


def test_every_required_schema_file_exists() -> None:
    assert set(schemas.schema_names()) >= REQUIRED_FILES


def test_catalog_schemas_exist() -> None:
    names = set(schemas.schema_names())
    for name in [e.schema for e in catalog.ENDPOINTS] + [
        catalog.ERROR_SCHEMA,
        catalog.STREAM_EVENT_SCHEMA,
    ]:
        assert name in names, name


@pytest.mark.parametrize("name", sorted(p.name for p in schemas.SCHEMA_DIR.glob("*.json")))
def test_schema_file_is_valid_draft_2020_12_with_id(name: str) -> None:
    doc = json.loads((schemas.SCHEMA_DIR / name).read_text())
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == f"https://anthropic-conformance.invalid/schemas/{name}"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_every_ref_resolves_in_the_registry() -> None:
    reg = schemas.registry()
    count = 0
    for name in schemas.schema_names():
        doc = json.loads((schemas.SCHEMA_DIR / name).read_text())
        resolver = reg.resolver(base_uri=schemas.BASE_URI + name)
        for ref in _refs(doc):
            assert resolver.lookup(ref).contents is not None
            count += 1
    assert count > 50


def test_registry_is_cached() -> None:
    assert schemas.registry() is schemas.registry()


def test_unknown_schema_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"nope\.json"):
        schemas.validate({}, "nope.json")


@pytest.fixture
def schema_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A scratch schemas directory; caches are reset around the test."""
    monkeypatch.setattr(schemas, "SCHEMA_DIR", tmp_path)
    schemas._clear_caches()
    yield tmp_path
    monkeypatch.undo()
    schemas._clear_caches()


def test_missing_schema_dir_names_it(schema_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schemas, "SCHEMA_DIR", schema_dir / "absent")
    with pytest.raises(schemas.SchemaLoadError, match="absent"):
        schemas.registry()


def test_broken_json_file_is_named(schema_dir: Path) -> None:
    (schema_dir / "broken.json").write_text("{not json")
    with pytest.raises(schemas.SchemaLoadError, match=r"broken\.json"):
        schemas.registry()


def test_invalid_schema_is_named(schema_dir: Path) -> None:
    doc = {"$id": schemas.BASE_URI + "bad.json", "type": "no-such-type"}
    (schema_dir / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(schemas.SchemaLoadError, match=r"bad\.json.*draft 2020-12"):
        schemas.validate({}, "bad.json")


def test_dangling_ref_is_named(schema_dir: Path) -> None:
    doc = {"$id": schemas.BASE_URI + "a.json", "$ref": "missing.json"}
    (schema_dir / "a.json").write_text(json.dumps(doc))
    with pytest.raises(schemas.SchemaLoadError, match=r"a\.json.*missing\.json"):
        schemas.registry()


def test_wrong_id_is_named(schema_dir: Path) -> None:
    (schema_dir / "x.json").write_text(json.dumps({"$id": "https://elsewhere/x.json"}))
    with pytest.raises(schemas.SchemaLoadError, match=r"x\.json.*\$id"):
        schemas.schema_names()


# --- valid objects pass --------------------------------------------------------------------------


VALID: list[tuple[str, Any]] = [
    ("message.json", message()),
    (
        "message.json",
        message(
            content=[
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xx"},
                {
                    "type": "text",
                    "text": "see",
                    "citations": [
                        {
                            "type": "char_location",
                            "cited_text": "a",
                            "document_index": 0,
                            "document_title": None,
                            "start_char_index": 0,
                            "end_char_index": 1,
                        }
                    ],
                },
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"any": ["thing"]}},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_1",
                    "content": [
                        {
                            "type": "web_search_result",
                            "url": "u",
                            "title": "t",
                            "encrypted_content": "e",
                            "page_age": None,
                        }
                    ],
                },
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_1",
                    "content": {
                        "type": "web_search_tool_result_error",
                        "error_code": "unavailable",
                    },
                },
                {
                    "type": "code_execution_tool_result",
                    "tool_use_id": "s",
                    "content": {
                        "type": "code_execution_result",
                        "stdout": "",
                        "stderr": "",
                        "return_code": 0,
                        "content": [],
                    },
                },
                {"type": "container_upload", "file_id": "file_1"},
                {"type": "brand_new_block", "whatever": 1},
            ],
            stop_reason="tool_use",
            usage={
                "input_tokens": 1,
                "output_tokens": 1,
                "cache_creation_input_tokens": None,
                "cache_read_input_tokens": 0,
                "service_tier": "standard",
                "inference_geo": "global",
                "server_tool_use": {"web_search_requests": 1},
            },
        ),
    ),
    ("message.json", message(stop_reason=None, content=[])),  # as in message_start
    (
        "stream_event.json",
        {"type": "message_start", "message": message(content=[], stop_reason=None)},
    ),
    (
        "stream_event.json",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    (
        "stream_event.json",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    ),
    (
        "stream_event.json",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
    ),
    (
        "stream_event.json",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "s"},
        },
    ),
    (
        "stream_event.json",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {
                "type": "citations_delta",
                "citation": {
                    "type": "web_search_result_location",
                    "cited_text": "c",
                    "url": "u",
                    "title": None,
                    "encrypted_index": "e",
                },
            },
        },
    ),
    (
        "stream_event.json",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "future_delta", "x": 1}},
    ),
    ("stream_event.json", {"type": "content_block_stop", "index": 0}),
    (
        "stream_event.json",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
    ),
    ("stream_event.json", {"type": "message_stop"}),
    ("stream_event.json", {"type": "ping"}),
    (
        "stream_event.json",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    ),
    ("stream_event.json", {"type": "some_future_event", "payload": [1]}),
    ("model_info.json", model_info()),
    (
        "model_info.json",
        model_info(
            max_input_tokens=200000,
            max_tokens=None,
            lifecycle="active",
            deprecated_at=None,
            capabilities={
                "batch": {"supported": True},
                "thinking": {"supported": True, "types": {"enabled": {"supported": True}}},
            },
        ),
    ),
    (
        "model_list.json",
        {
            "data": [model_info()],
            "has_more": False,
            "first_id": "claude-haiku-4-5-20251001",
            "last_id": "claude-haiku-4-5-20251001",
        },
    ),
    ("model_list.json", {"data": [], "has_more": False, "first_id": None, "last_id": None}),
    ("count_tokens.json", {"input_tokens": 12}),
    (
        "error.json",
        {
            "type": "error",
            "error": {"type": "not_found_error", "message": "model: x"},
            "request_id": "req_1",
        },
    ),
    (
        "error.json",
        {
            "type": "error",
            "error": {
                "type": "a_type_invented_next_year",
                "message": "m",
                "details": {"error_code": "e"},
            },
        },
    ),
]


@pytest.mark.parametrize(
    ("schema", "instance"), VALID, ids=[f"{s}-{i}" for i, (s, _) in enumerate(VALID)]
)
def test_valid_objects_pass(schema: str, instance: Any) -> None:
    assert schemas.validate(instance, schema) == []


# --- broken objects fail, with readable findings -------------------------------------------------


BROKEN: list[tuple[str, Any, tuple[str, str]]] = [
    ("message.json", {k: v for k, v in message().items() if k != "id"}, ("", "required: 'id'")),
    ("message.json", message(type="completion"), ("/type", "const: 'message'")),
    ("message.json", message(role="user"), ("/role", "const: 'assistant'")),
    (
        "message.json",
        message(stop_reason="finished"),
        (
            "/stop_reason",
            "enum: null|end_turn|max_tokens|stop_sequence|tool_use|pause_turn|refusal|"
            "model_context_window_exceeded",
        ),
    ),
    ("message.json", message(usage={"input_tokens": 1}), ("/usage", "required: 'output_tokens'")),
    (
        "message.json",
        message(usage={"input_tokens": 1, "output_tokens": "2"}),
        ("/usage/output_tokens", "type: integer"),
    ),
    (
        "message.json",
        message(content=[{"type": "tool_use", "id": "t", "name": "f", "input": "x"}]),
        ("/content/0/input", "type: object"),
    ),
    ("message.json", message(content=[{"text": "no type"}]), ("/content/0", "required: 'type'")),
    ("message.json", message(content={"type": "text", "text": "x"}), ("/content", "type: array")),
    (
        "stream_event.json",
        {"type": "content_block_delta", "index": -1, "delta": {"type": "text_delta", "text": "x"}},
        ("/index", "minimum: 0"),
    ),
    (
        "stream_event.json",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}},
        ("/delta", "required: 'text'"),
    ),
    (
        "stream_event.json",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {},
        },
        ("/usage", "required: 'output_tokens'"),
    ),
    (
        "stream_event.json",
        {"type": "message_start", "message": {"type": "message"}},
        ("/message", "required: 'usage'"),
    ),
    ("model_info.json", model_info(type="models"), ("/type", "const: 'model'")),
    ("model_info.json", model_info(created_at="yesterday"), ("/created_at", "pattern: " + TS_RE)),
    (
        "model_list.json",
        {"data": [model_info(id=None)], "has_more": False, "first_id": None, "last_id": None},
        ("/data/0/id", "type: string"),
    ),
    ("model_list.json", {"data": []}, ("", "required: 'has_more'")),
    ("count_tokens.json", {"output_tokens": 3}, ("", "required: 'input_tokens'")),
    ("count_tokens.json", {"input_tokens": 1.5}, ("/input_tokens", "type: integer")),
    (
        "error.json",
        {"type": "error", "error": {"type": "api_error"}},
        ("/error", "required: 'message'"),
    ),
    ("error.json", {"error": "boom"}, ("", "required: 'type'")),
]


@pytest.mark.parametrize(
    ("schema", "instance", "expected"), BROKEN, ids=[f"{s}-{e[1]}" for s, _, e in BROKEN]
)
def test_broken_objects_fail_with_pointer_and_rule(
    schema: str, instance: Any, expected: tuple[str, str]
) -> None:
    findings = schemas.validate(instance, schema)
    assert expected in rules(findings), [f.format() for f in findings]


def test_finding_fields() -> None:
    findings = schemas.validate(
        message(usage={"input_tokens": "ten", "output_tokens": 1}),
        "message.json",
        request_id="req_9",
        pointer="/events/0/message",
    )
    assert len(findings) == 1
    f = findings[0]
    assert f.check == "schema:message.json"
    assert f.pointer == "/events/0/message/usage/input_tokens"
    assert f.rule == "type: integer"
    assert f.value == "ten"
    assert f.request_id == "req_9"
    assert "expected integer" in f.message and '"ten"' in f.message


def test_dispatch_reports_only_the_matching_branch() -> None:
    # A broken tool_use block must not produce errors from the text/thinking/... branches.
    block = {"type": "tool_use", "id": "t", "name": "f"}
    findings = schemas.validate(message(content=[block]), "message.json")
    assert rules(findings) == {("/content/0", "required: 'input'")}


def test_pointers_are_prefixed_and_escaped() -> None:
    findings = schemas.validate({"input_tokens": "x"}, "count_tokens.json", pointer="/p")
    assert findings[0].pointer == "/p/input_tokens"
    drift = schemas.unknown_fields({"input_tokens": 1, "a/b~c": 2}, "count_tokens.json", "/q")
    assert drift == ["/q/a~1b~0c"]


def test_long_values_are_shortened() -> None:
    findings = schemas.validate(message(id=["x" * 500]), "message.json")
    assert findings and all(len(f.value) <= 80 for f in findings)


def test_nullable_fields_accept_null_but_not_other_types() -> None:
    assert schemas.validate(message(stop_sequence=None), "message.json") == []
    assert ("/stop_sequence", "type: string|null") in rules(
        schemas.validate(message(stop_sequence=5), "message.json")
    )


# --- drift ---------------------------------------------------------------------------------------


def test_unknown_fields_reports_new_keys() -> None:
    m = message(foo=1, usage={"input_tokens": 1, "output_tokens": 2, "some_new_field": 3})
    assert sorted(schemas.unknown_fields(m, "message.json")) == ["/foo", "/usage/some_new_field"]


def test_unknown_fields_ignores_declared_and_free_form_keys() -> None:
    m = message(
        content=[
            {"type": "tool_use", "id": "t", "name": "f", "input": {"anything": {"nested": 1}}}
        ],
        stop_details=None,
        container=None,
    )
    assert schemas.unknown_fields(m, "message.json") == []


def test_unknown_fields_does_not_use_branches_that_do_not_apply() -> None:
    # "text" and "citations" are declared by the text branch only: on a tool_use block they are new.
    block = {"type": "tool_use", "id": "t", "name": "f", "input": {}, "text": "?", "citations": []}
    m = message(content=[{"type": "text", "text": "x", "citations": None}, block])
    assert sorted(schemas.unknown_fields(m, "message.json")) == [
        "/content/1/citations",
        "/content/1/text",
    ]


def test_unknown_block_and_event_types_are_marked() -> None:
    m = message(
        content=[
            {"type": "text", "text": "x"},
            {"type": "text", "text": "y"},
            {"type": "new_block_kind", "secret": 1},
        ]
    )
    assert schemas.unknown_fields(m, "message.json") == ["/content/2/type=new_block_kind"]
    assert schemas.unknown_fields({"type": "new_event"}, "stream_event.json", "/events/4") == [
        "/events/4/type=new_event"
    ]
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "new_delta"}}
    assert schemas.unknown_fields(delta, "stream_event.json") == ["/delta/type=new_delta"]


def test_unknown_fields_in_nested_arrays_and_refs() -> None:
    page = {
        "data": [model_info(), model_info(pricing=1)],
        "has_more": False,
        "first_id": None,
        "last_id": None,
        "next": 1,
    }
    assert sorted(schemas.unknown_fields(page, "model_list.json")) == ["/data/1/pricing", "/next"]


def test_unknown_server_tool_result_kind_is_tolerated_and_marked() -> None:
    block = {
        "type": "web_fetch_tool_result",
        "tool_use_id": "s",
        "content": {"type": "web_fetch_result_v2", "x": 1},
    }
    m = message(content=[block])
    assert schemas.validate(m, "message.json") == []
    assert schemas.unknown_fields(m, "message.json") == [
        "/content/0/content/type=web_fetch_result_v2"
    ]
    bad = copy.deepcopy(m)
    bad["content"][0]["content"] = {"type": "web_fetch_tool_result_error"}
    assert ("/content/0/content", "required: 'error_code'") in rules(
        schemas.validate(bad, "message.json")
    )


def test_a_forbidden_secret_field_is_reported_without_its_value() -> None:
    key = {
        "id": "apikey_1",
        "type": "api_key",
        "name": "n",
        "created_at": "2026-01-01T00:00:00Z",
        "created_by": None,
        "partial_key_hint": None,
        "status": "active",
        "workspace_id": None,
        "key": "very-secret-value",
    }
    findings = schemas.validate(key, "api_key.json")
    assert [f.pointer for f in findings] == ["/key"]
    assert "must not be present" in findings[0].message
    assert "very-secret-value" not in findings[0].format()
