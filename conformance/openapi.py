"""The contract as an OpenAPI 3.1 document, built from the single sources only.

Why: other tools (Schemathesis, client generators, API gateways) read OpenAPI, not our catalog.
Every fact comes from a table that already exists: operations from ``catalog.ENDPOINTS``, request
bodies from ``catalog.REQUEST_BODIES``, streaming from ``catalog.STREAMING_ENDPOINTS``, error
answers from ``catalog.ERROR_TYPES``, versions and betas from the catalog, and every schema from
``schemas/`` through ``conformance.schemas``. Nothing about a single endpoint is written here.

The schema files ``$ref`` each other by file name (``"usage.json"``, ``"common.json#/$defs/x"``);
in the document each file becomes ``#/components/schemas/<stem>`` and every ``$ref`` is rewritten
to point there, so the document stands alone. OpenAPI 3.1 schemas are JSON Schema 2020-12, so the
files' ``if``/``then``, ``const`` and ``$defs`` stay as they are.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import conformance
from conformance import catalog, schemas

__all__ = [
    "OPENAPI_VERSION",
    "SCHEMATHESIS_EXCLUDED_CHECKS",
    "build_document",
    "command",
    "component_name",
    "dump",
    "operation_id",
    "run_schemathesis",
    "schemathesis_runs",
]

OPENAPI_VERSION = "3.1.0"
_COMPONENTS = "#/components/schemas/"

#: How each kind of successful body (``Endpoint.body``) is described. Batch results are JSON
#: lines served, like the real API does, as ``application/binary``; a downloaded file has the
#: media type it was uploaded with, so any type is allowed.
_RESULTS_MEDIA_TYPE = "application/binary"
_ANY_MEDIA_TYPE = "*/*"
#: The JSON-lines body of one line schema: a string in OpenAPI terms (no JSON Schema for lines).
_LINES_NOTE = "JSON lines: every line is one object of the schema in x-line-schema."

#: ID-cursor pages (schemas that build on ``id_page.json``) take these query parameters.
_ID_PAGE_SCHEMA = "id_page.json"
_ID_PAGE_PARAMETERS: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "items per page"),
    ("before_id", {"type": "string"}, "the page before this object id"),
    ("after_id", {"type": "string"}, "the page after this object id"),
)
_REQUEST_ID_PATTERN = "^" + re.escape(catalog.ID_PREFIXES["request"])


def component_name(schema_file: str) -> str:
    """``"message.json"`` -> ``"message"``: the name of a schema file under components."""
    return schema_file.removesuffix(".json")


def operation_id(endpoint: catalog.Endpoint) -> str:
    """The operationId of an endpoint: its catalog name (``messages.create``)."""
    return endpoint.name


def _rewrite_ref(ref: str, current: str) -> str:
    """A schema file's ``$ref`` as a pointer inside the document."""
    target, _, fragment = ref.partition("#")
    name = component_name(target) if target else component_name(current)
    return _COMPONENTS + name + fragment


def _rewrite(node: Any, current: str) -> Any:
    """A copy of ``node`` with every ``$ref`` rewritten and the file-level keywords dropped."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = _rewrite_ref(value, current)
            else:
                out[key] = _rewrite(value, current)
        return out
    if isinstance(node, list):
        return [_rewrite(v, current) for v in node]
    return node


def _file_refs(node: Any, current: str) -> Iterator[str]:
    """Names of the schema files ``node`` refers to (itself included for local refs)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = ref.partition("#")[0]
            yield target or current
        for value in node.values():
            yield from _file_refs(value, current)
    elif isinstance(node, list):
        for value in node:
            yield from _file_refs(value, current)


def _closure(roots: list[str], docs: dict[str, dict[str, Any]]) -> list[str]:
    """Every schema file reachable from ``roots`` (the report's own schema is not API)."""
    seen: list[str] = []
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in docs:
            # A dangling name would leave a $ref that resolves nowhere: say which one.
            raise schemas.SchemaLoadError(f"schema {name!r} named by the catalog does not exist")
        seen.append(name)
        todo.extend(_file_refs(docs[name], name))
    return sorted(seen)


def _components(docs: dict[str, dict[str, Any]], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        doc = {k: v for k, v in docs[name].items() if k not in ("$schema", "$id")}
        out[component_name(name)] = _rewrite(doc, name)
    return out


def _ref(schema_file: str) -> dict[str, str]:
    return {"$ref": _COMPONENTS + component_name(schema_file)}


def _builds_on(schema_file: str, base: str, docs: dict[str, dict[str, Any]]) -> bool:
    return base in set(_file_refs(docs.get(schema_file, {}), schema_file))


def _parameters(endpoint: catalog.Endpoint, docs: dict[str, dict[str, Any]]) -> list[Any]:
    params: list[Any] = [
        {"$ref": "#/components/parameters/anthropic-version"},
        {"$ref": "#/components/parameters/anthropic-beta"},
    ]
    for name in re.findall(r"\{([a-z_]+)\}", endpoint.path):
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            }
        )
    if endpoint.method == "GET" and _builds_on(endpoint.schema, _ID_PAGE_SCHEMA, docs):
        for name, schema, description in _ID_PAGE_PARAMETERS:
            # allowEmptyValue: the reference server reads `?limit=` as no limit; what the real
            # API answers to an empty value is not known.
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": schema,
                    "allowEmptyValue": True,
                    "description": description,
                }
            )
    elif "next_page" in (docs.get(endpoint.schema, {}).get("properties") or {}):
        params.append(
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "the next_page token of the previous page",
            }
        )
    return params


def _success_content(endpoint: catalog.Endpoint) -> dict[str, Any]:
    if endpoint.body == "jsonl":
        return {
            _RESULTS_MEDIA_TYPE: {
                "schema": {"type": "string", "description": _LINES_NOTE},
                "x-line-schema": _ref(endpoint.schema),
            }
        }
    if endpoint.body == "bytes":
        return {
            _ANY_MEDIA_TYPE: {
                "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
            }
        }
    content: dict[str, Any] = {"application/json": {"schema": _ref(endpoint.schema)}}
    if endpoint.name in catalog.STREAMING_ENDPOINTS:
        # Before OpenAPI 3.2 (itemSchema) the schema of an event stream describes one event,
        # {event, data, id, retry}; the JSON carried in `data` is described by contentSchema.
        content["text/event-stream"] = {
            "schema": {
                "description": 'Server-sent events, sent when the request says "stream": true.',
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string"},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": _ref(catalog.STREAM_EVENT_SCHEMA),
                    },
                },
            }
        }
    return content


def _request_body(
    endpoint: catalog.Endpoint, docs: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    body = catalog.request_body(endpoint.name)
    if body is None:
        return None
    media: dict[str, Any] = {"schema": _ref(body.schema)}
    examples = docs[body.schema].get("examples")
    if isinstance(examples, list) and examples:
        media["examples"] = {
            f"example{i}": {"value": value} for i, value in enumerate(examples, start=1)
        }
    return {"required": True, "content": {body.media_type: media}}


def _operation(endpoint: catalog.Endpoint, docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    description = catalog.find_feature(endpoint.family)
    op: dict[str, Any] = {
        "operationId": operation_id(endpoint),
        "tags": [endpoint.family],
        "summary": endpoint.name,
        "parameters": _parameters(endpoint, docs),
    }
    if description is not None:
        op["description"] = description.description
    body = _request_body(endpoint, docs)
    if body is not None:
        op["requestBody"] = body
    op["responses"] = {
        "200": {
            "description": "success",
            "headers": _success_headers(),
            "content": _success_content(endpoint),
        },
        **{
            str(status): {"$ref": f"#/components/responses/error_{status}"}
            for status in sorted(catalog.ERROR_TYPES)
        },
    }
    security: list[dict[str, list[str]]] = (
        [{"admin_api_key": []}] if endpoint.family == "admin" else [{"api_key": []}, {"bearer": []}]
    )
    op["security"] = security
    return op


def _success_headers() -> dict[str, Any]:
    return {
        "request-id": {"$ref": "#/components/headers/request-id"},
        "anthropic-organization-id": {"$ref": "#/components/headers/anthropic-organization-id"},
    }


def _error_responses() -> dict[str, Any]:
    """One reusable answer per status of ``catalog.ERROR_TYPES``: the envelope with its type."""
    out: dict[str, Any] = {}
    for status, error_type in sorted(catalog.ERROR_TYPES.items()):
        headers: dict[str, Any] = {"request-id": {"$ref": "#/components/headers/request-id"}}
        if status == 429:
            headers["retry-after"] = {"$ref": "#/components/headers/retry-after"}
        out[f"error_{status}"] = {
            "description": f"{status} {error_type}",
            "headers": headers,
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [
                            _ref(catalog.ERROR_SCHEMA),
                            {
                                "properties": {
                                    "error": {"properties": {"type": {"const": error_type}}}
                                }
                            },
                        ]
                    }
                }
            },
        }
    return out


def _shared_components() -> dict[str, Any]:
    betas = sorted({b.header for b in catalog.BETAS})
    return {
        "parameters": {
            "anthropic-version": {
                "name": "anthropic-version",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "enum": list(catalog.API_VERSIONS)},
                "description": "the API version; a missing or unknown one is refused with 400",
            },
            "anthropic-beta": {
                "name": "anthropic-beta",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "examples": betas},
                "description": "comma-separated beta names, e.g. " + ", ".join(betas),
            },
        },
        "headers": {
            "request-id": {
                "required": True,
                "description": "the id of this request",
                "schema": {"type": "string", "pattern": _REQUEST_ID_PATTERN},
            },
            "anthropic-organization-id": {"required": False, "schema": {"type": "string"}},
            "retry-after": {
                "required": False,
                "description": "seconds to wait",
                "schema": {"type": "string"},
            },
        },
        "securitySchemes": {
            "api_key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "the API key as Authorization: Bearer (current SDKs)",
            },
            "admin_api_key": {
                "type": "apiKey",
                "in": "header",
                "name": "x-api-key",
                "description": "an Admin API key (sk-ant-admin...)",
            },
        },
        "responses": _error_responses(),
    }


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every catalog endpoint, as plain JSON data."""
    docs = {name: schemas._documents()[name] for name in schemas.schema_names()}
    roots = [e.schema for e in catalog.ENDPOINTS] + [b.schema for b in catalog.REQUEST_BODIES]
    roots += [catalog.ERROR_SCHEMA, catalog.STREAM_EVENT_SCHEMA]
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in catalog.ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, docs)
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Anthropic API (as checked by anthropic-conformance)",
            "version": conformance.__version__,
            "description": "Generated by `anthropic-conformance openapi` from the suite's "
            "catalog and JSON Schemas. Request schemas state the shape only: "
            "the API refuses more than they do.",
        },
        "servers": [{"url": catalog.REAL_API_URL}],
        "tags": [{"name": f} for f in dict.fromkeys(e.family for e in catalog.ENDPOINTS)],
        "paths": paths,
        "components": {"schemas": _components(docs, _closure(roots, docs)), **_shared_components()},
    }


def dump(document: dict[str, Any], fmt: str = "json") -> str:
    """The document as JSON (indented) or YAML text."""
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    if fmt != "json":
        raise ValueError(f"unknown format {fmt!r}: use json or yaml")
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- the command ---------------------------------------------------------------------------------


def command(args: argparse.Namespace) -> int:
    """Print or write the document; an unwritable file is one line naming it."""
    out: Path | None = args.out
    fmt = args.format or ("yaml" if out is not None and out.suffix in (".yaml", ".yml") else "json")
    try:
        text = dump(build_document(), fmt)
    except schemas.SchemaLoadError as exc:
        print(f"anthropic-conformance openapi: {exc}", file=sys.stderr)
        return 2
    if out is None:
        sys.stdout.write(text)
        return 0
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(
            f"anthropic-conformance openapi: cannot write {out}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    print(out)
    return 0


# --- driving Schemathesis (optional: pip install 'anthropic-conformance[bench]') -----------------

#: Schemathesis checks left out, and why. ``positive_data_acceptance`` expects every body that
#: matches the request schema to be accepted, but the schemas state the shape only (the API also
#: refuses e.g. an unknown model or an empty user turn). ``allow_header_conformance``: the
#: reference server's 405 answers list only the methods of the first route matching the path
#: (Starlette), e.g. ``Allow: POST`` on /v1/messages/batches, which also serves GET; what the
#: real API sends in ``Allow`` is not known.
SCHEMATHESIS_EXCLUDED_CHECKS: tuple[str, ...] = (
    "positive_data_acceptance",
    "allow_header_conformance",
)


def schemathesis_runs(
    document: Path,
    url: str,
    api_key: str,
    admin_api_key: str,
    *,
    version: str = catalog.DEFAULT_API_VERSION,
    max_examples: int = 10,
    seed: int = 1,
    phases: str | None = None,
    operations: str | None = None,
) -> list[list[str]]:
    """``st run`` command lines that test ``url`` with the exported ``document``.

    Two runs: the Admin API with the admin key, everything else with the API key (one key per
    run, as a caller has). ``operations`` is a regex of operationIds to keep (default: all).
    A ``schemathesis.toml`` written next to ``document`` turns off Schemathesis's crash cache
    (``.schemathesis/`` in the working directory), which would replay one run's failures in
    the next and leave files behind.
    """
    config = document.with_name("schemathesis.toml")
    config.write_text("[cache]\nenabled = false\n", encoding="utf-8")
    betas = ",".join(catalog.betas_for(list(catalog.FEATURE_NAMES), version))
    runs = []
    for key, scope in (
        (api_key, "--exclude-operation-id-regex"),
        (admin_api_key, "--include-operation-id-regex"),
    ):
        cmd = [
            "st",
            "--config-file",
            str(config),
            "run",
            str(document),
            "--url",
            url,
            "-H",
            f"x-api-key: {key}",
            "-H",
            f"anthropic-version: {version}",
            "--max-examples",
            str(max_examples),
            "--seed",
            str(seed),
            "--generation-database",
            "none",
            "--no-color",
            "--exclude-checks",
            ",".join(SCHEMATHESIS_EXCLUDED_CHECKS),
            scope,
            r"^admin\.",
        ]
        if betas:
            cmd += ["-H", f"anthropic-beta: {betas}"]
        if phases:
            cmd += ["--phases", phases]
        if operations:
            cmd += ["--include-operation-id-regex", operations]
        runs.append(cmd)
    return runs


def run_schemathesis(cmd: list[str]) -> tuple[bool, str]:
    """Run one command of ``schemathesis_runs`` in this process: (found a failure, its output).

    In-process because Schemathesis takes seconds to start; a run that breaks (bad options, no
    operation selected) raises ``RuntimeError`` with its closing line, rather than counting as
    a finding.
    """
    import contextlib
    import io

    from schemathesis.cli import schemathesis as cli

    sink = io.StringIO()
    code: int | str | None = 0
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            cli.main(cmd[1:], standalone_mode=False, prog_name="st")
        except SystemExit as exc:
            code = exc.code
    lines = [line for line in sink.getvalue().splitlines() if line.strip()]
    last = lines[-1].strip("= ") if lines else ""
    if code not in (0, 1, None) or (code == 1 and "failure" not in last):
        # Schemathesis's own error ends in a "report a bug" link: the lines above it say what
        tail = "\n".join(lines[-15:])
        raise RuntimeError(f"schemathesis exited with {code}: {last}\n{tail}")
    return code == 1, sink.getvalue()
