"""The JSON Schemas of the API objects, loaded once into one ``referencing.Registry``.

Every check that asks "is this answer shaped right?" goes through ``validate`` so that findings
look the same everywhere (pointer, rule, shortened value), and ``unknown_fields`` tells apart a
broken answer from an API that grew a field since the schemas were written ("drift").

Schemas dispatch on ``type`` with ``allOf`` of ``if``/``then`` so only the matching branch is
evaluated: errors then point into that branch instead of a ``oneOf`` error soup.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator
from jsonschema._utils import equal as _equal
from jsonschema._utils import uniq as _uniq
from jsonschema.exceptions import SchemaError, ValidationError, best_match, relevance
from referencing.jsonschema import DRAFT202012

from conformance.exceptions import ConformanceToolError
from conformance.exchange import Finding, shorten

if TYPE_CHECKING:  # not exported by referencing, only needed for annotations
    from referencing._core import Resolver

#: The base every schema ``$id`` sits under; ``$ref`` between files uses the bare file name.
BASE_URI = "https://anthropic-conformance.invalid/schemas/"
#: Annotation on the open fallback branch of a ``type`` dispatch (a block/event/delta type the
#: schemas do not know yet): validation tolerates it, ``unknown_fields`` reports it as drift.
UNKNOWN_VARIANT = "x-unknown-variant"


def _find_schema_dir() -> Path:
    # An installed wheel ships the schemas inside the package; a checkout has them at the root.
    here = Path(__file__).resolve().parent
    packaged = here / "schemas"
    return packaged if packaged.is_dir() else here.parent / "schemas"


SCHEMA_DIR: Path = _find_schema_dir()


class SchemaLoadError(ConformanceToolError, RuntimeError):
    """The schemas directory or one of its files is missing or broken; the message names it."""


def schema_names() -> list[str]:
    """File names of every schema, sorted (e.g. ``["citation.json", ...]``)."""
    return sorted(_documents())


@cache
def registry() -> referencing.Registry[Any]:
    """One registry holding every schema file, crawled, with every ``$ref`` checked to resolve."""
    return _build_registry(_documents())


@cache
def _documents() -> dict[str, dict[str, Any]]:
    return _load_documents(SCHEMA_DIR)


#: Digests of schema directories whose every file already passed ``check_schema`` in another
#: process of the run (an xdist controller hands its digest to its workers: ``trust``).
_TRUSTED: set[str] = set()


def checked_digest() -> str:
    """The digest of ``SCHEMA_DIR``'s files, once every one of them passed the metaschema check
    (done here, once per process); "" when they do not (each process then reports it)."""
    try:
        _documents()
    except SchemaLoadError:
        return ""
    return _digest(SCHEMA_DIR)


def trust(digest: str) -> None:
    """Skip the metaschema check of a schema directory whose files have ``digest``: another
    process of the run checked those very bytes (``checked_digest``). The check is most of the
    schemas' load time, paid again by every xdist worker otherwise."""
    if digest:
        _TRUSTED.add(digest)


def _digest(directory: Path) -> str:
    sha = hashlib.sha256()
    for file in sorted(directory.glob("*.json")):
        sha.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return sha.hexdigest()


def _load_documents(directory: Path) -> dict[str, dict[str, Any]]:
    if not directory.is_dir():
        raise SchemaLoadError(f"schemas directory not found: {directory}")
    docs: dict[str, dict[str, Any]] = {}
    trusted = bool(_TRUSTED) and _digest(directory) in _TRUSTED
    for file in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SchemaLoadError(f"{file}: not a readable JSON file: {exc}") from exc
        if not isinstance(doc, dict):
            raise SchemaLoadError(f"{file}: a schema must be a JSON object")
        expected_id = BASE_URI + file.name
        if doc.get("$id") != expected_id:
            raise SchemaLoadError(f"{file}: $id must be {expected_id!r}, got {doc.get('$id')!r}")
        try:
            if not trusted:
                _check_schema(doc)
        except SchemaError as exc:
            raise SchemaLoadError(
                f"{file}: not a valid draft 2020-12 schema: {exc.message}"
            ) from exc
        docs[file.name] = doc
    if not docs:
        raise SchemaLoadError(f"no *.json schema files in {directory}")
    return docs


def _build_registry(docs: dict[str, dict[str, Any]]) -> referencing.Registry[Any]:
    reg: referencing.Registry[Any] = (
        referencing.Registry()
        .with_resources(
            (BASE_URI + name, DRAFT202012.create_resource(doc)) for name, doc in docs.items()
        )
        .crawl()
    )
    # Fail at load time, naming the file, rather than at the first answer that reaches a bad $ref.
    for name, doc in docs.items():
        resolver = reg.resolver(base_uri=BASE_URI + name)
        for ref in _refs(doc):
            try:
                resolver.lookup(ref)
            except referencing.exceptions.Unresolvable as exc:
                raise SchemaLoadError(
                    f"{SCHEMA_DIR / name}: $ref {ref!r} does not resolve"
                ) from exc
    return reg


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@cache
def _validator(schema: str) -> Draft202012Validator:
    reg = registry()
    uri = BASE_URI + schema
    try:
        contents = reg.contents(uri)
    except referencing.exceptions.NoSuchResource:
        raise ValueError(f"unknown schema {schema!r}; known: {', '.join(schema_names())}") from None
    return Draft202012Validator(contents, registry=reg)


def _clear_caches() -> None:
    """Forget loaded schemas (tests point ``SCHEMA_DIR`` elsewhere)."""
    _documents.cache_clear()
    registry.cache_clear()
    _validator.cache_clear()
    _dispatch_table.cache_clear()
    _checker.cache_clear()
    _COMPILED.clear()


# --- a compiled yes/no check ---------------------------------------------------------------------
#
# jsonschema builds a new validator object for every subschema it descends into and resolves
# each ``$ref`` anew: most of a validation's time. Nearly every answer is valid, so ``validate``
# first asks a yes/no check compiled once per schema into nested closures, and only for an
# invalid answer runs jsonschema itself, whose errors make the findings: the findings are the
# same, only a valid answer is answered sooner. The check implements exactly jsonschema's
# draft 2020-12 semantics of the keywords below (formats are annotations: the validators have no
# format checker); a schema using any other assertion keyword is not compiled and always goes to
# jsonschema (``tests/test_schemas_fast.py`` compares both on every schema and many answers).

Check: TypeAlias = Callable[[Any], bool]


class _Unsupported(Exception):
    """A schema uses a keyword the compiled check does not implement: use jsonschema."""


#: Keywords jsonschema asserts nothing for here: without a format checker, ``format`` is an
#: annotation (any keyword jsonschema does not know is one too).
_NOT_ASSERTED = frozenset({"format", "$defs", "$id", "$schema", "$comment", "$anchor"})
_TYPES: dict[str, Check] = {
    "object": lambda i: isinstance(i, dict),
    "array": lambda i: isinstance(i, list),
    "string": lambda i: isinstance(i, str),
    "null": lambda i: i is None,
    "boolean": lambda i: isinstance(i, bool),
    "number": lambda i: isinstance(i, numbers.Number) and not isinstance(i, bool),
    "integer": lambda i: (
        (isinstance(i, int) and not isinstance(i, bool))
        or (isinstance(i, float) and i.is_integer())
    ),
}
#: Compiled checks by the id of their (sub)schema dict, which the cached registry keeps alive.
_COMPILED: dict[int, Check] = {}


def _true(_: Any) -> bool:
    return True


def _false(_: Any) -> bool:
    return False


@dataclass
class _Meta:
    """Compiling the draft 2020-12 metaschema as ``check_schema`` uses it: its formats asserted
    by jsonschema's own format checker, and every ``$dynamicRef: "#meta"`` resolving to the
    metaschema itself (the outermost ``$dynamicAnchor: meta`` when it is the entry point)."""

    format_checker: Any
    root: dict[str, Any]
    root_resolver: Resolver[Any]
    memo: dict[int, Check] = field(default_factory=dict)


def _compile(schema: Any, resolver: Resolver[Any], meta: _Meta | None = None) -> Check:
    if schema is True:
        return _true
    if schema is False:
        return _false
    if not isinstance(schema, dict):
        raise _Unsupported(f"schema {schema!r}")
    memo = _COMPILED if meta is None else meta.memo
    key = id(schema)
    if key in memo:
        return memo[key]
    checks: list[Check] = []
    # a recursive $ref reaches this schema again while it compiles: it calls the finished check
    memo[key] = lambda i: all(c(i) for c in checks)
    try:
        for keyword, value in schema.items():
            check = _keyword(keyword, value, schema, resolver, meta)
            if check is not None:
                checks.append(check)
    except _Unsupported:
        del memo[key]
        raise
    return memo[key]


Sub: TypeAlias = Callable[[Any], Check]
#: keyword -> (its value, the schema holding it, compile a subschema) -> its check (None: none)
_Builder: TypeAlias = Callable[[Any, dict[str, Any], Sub], Check | None]


def _type(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    tests = [_TYPES[t] for t in ([value] if isinstance(value, str) else value)]
    return lambda i: any(t(i) for t in tests)


def _properties(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    props = [(name, sub(s)) for name, s in value.items()]
    return lambda i: not isinstance(i, dict) or all(c(i[n]) for n, c in props if n in i)


def _required(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    names = list(value)
    return lambda i: not isinstance(i, dict) or all(n in i for n in names)


def _additional(value: Any, schema: dict[str, Any], sub: Sub) -> Check | None:
    if "patternProperties" in schema:
        raise _Unsupported("additionalProperties with patternProperties")
    declared = frozenset(schema.get("properties", {}))
    if isinstance(value, dict):
        extra = sub(value)
        return lambda i: (
            not isinstance(i, dict) or all(extra(v) for k, v in i.items() if k not in declared)
        )
    if value:
        return None
    return lambda i: not isinstance(i, dict) or all(k in declared for k in i)


def _items(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    if "prefixItems" in schema:
        raise _Unsupported("items with prefixItems")
    item = sub(value)  # true and false too: every item valid, or none
    return lambda i: not isinstance(i, list) or all(item(x) for x in i)


def _bound(kind: Check, holds: Callable[[Any, Any], bool]) -> _Builder:
    """A keyword that only constrains instances of one type (``minimum``, ``minLength``...)."""
    return lambda value, schema, sub: lambda i: not kind(i) or holds(i, value)


def _pattern(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    search = re.compile(value).search  # what jsonschema's re.search(pattern, ...) compiles
    return lambda i: not isinstance(i, str) or search(i) is not None


def _all_of(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    parts = [sub(s) for s in value]
    return lambda i: all(p(i) for p in parts)


def _any_of(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    parts = [sub(s) for s in value]
    return lambda i: any(p(i) for p in parts)


def _one_of(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    parts = [sub(s) for s in value]
    return lambda i: sum(1 for p in parts if p(i)) == 1


def _not(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    negated = sub(value)
    return lambda i: not negated(i)


def _if(value: Any, schema: dict[str, Any], sub: Sub) -> Check:
    test = sub(value)
    then = sub(schema["then"]) if "then" in schema else _true
    other = sub(schema["else"]) if "else" in schema else _true
    return lambda i: then(i) if test(i) else other(i)


_NUMBER = _TYPES["number"]
_STRING = _TYPES["string"]
_ARRAY = _TYPES["array"]
_BUILDERS: dict[str, _Builder] = {
    "type": _type,
    "properties": _properties,
    "required": _required,
    "additionalProperties": _additional,
    "items": _items,
    "const": lambda value, schema, sub: lambda i: bool(_equal(i, value)),
    "enum": lambda value, schema, sub: lambda i: any(_equal(v, i) for v in value),
    "minimum": _bound(_NUMBER, lambda i, v: not i < v),
    "maximum": _bound(_NUMBER, lambda i, v: not i > v),
    "exclusiveMinimum": _bound(_NUMBER, lambda i, v: not i <= v),
    "exclusiveMaximum": _bound(_NUMBER, lambda i, v: not i >= v),
    "minLength": _bound(_STRING, lambda i, v: len(i) >= v),
    "maxLength": _bound(_STRING, lambda i, v: len(i) <= v),
    "minItems": _bound(_ARRAY, lambda i, v: len(i) >= v),
    "maxItems": _bound(_ARRAY, lambda i, v: len(i) <= v),
    "pattern": _pattern,
    "allOf": _all_of,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "not": _not,
    "if": _if,
    "then": lambda value, schema, sub: None,  # evaluated by ``if``
    "else": lambda value, schema, sub: None,
}


def _keyword(
    keyword: str,
    value: Any,
    schema: dict[str, Any],
    resolver: Resolver[Any],
    meta: _Meta | None = None,
) -> Check | None:
    """The check of one keyword of ``schema`` (None for an annotation)."""
    if meta is not None and keyword in _META_KEYWORDS:
        return _meta_keyword(keyword, value, resolver, meta)
    if keyword not in Draft202012Validator.VALIDATORS or keyword in _NOT_ASSERTED:
        return None
    if keyword == "$ref":  # a recursive one gets the check being compiled, complete once done
        resolved = resolver.lookup(value)
        return _compile(resolved.contents, resolved.resolver, meta)
    builder = _BUILDERS.get(keyword)
    if builder is None:
        raise _Unsupported(keyword)
    return builder(value, schema, lambda s: _compile(s, resolver, meta))


_META_KEYWORDS = frozenset({"format", "$dynamicRef", "propertyNames", "uniqueItems"})


def _meta_keyword(keyword: str, value: Any, resolver: Resolver[Any], meta: _Meta) -> Check:
    """The keywords only the metaschema uses, as jsonschema evaluates them there."""
    if keyword == "format":
        conforms = meta.format_checker.conforms
        return lambda i: bool(conforms(i, value))
    if keyword == "$dynamicRef":
        if value != "#meta" or meta.root.get("$dynamicAnchor") != "meta":
            raise _Unsupported(f"$dynamicRef {value!r}")
        return _compile(meta.root, meta.root_resolver, meta)
    if keyword == "propertyNames":
        names = _compile(value, resolver, meta)
        return lambda i: not isinstance(i, dict) or all(names(k) for k in i)
    if value:  # uniqueItems: true
        return lambda i: not isinstance(i, list) or bool(_uniq(i))
    return _true


@cache
def _metaschema_check() -> Check | None:
    """The compiled yes/no check of what ``Draft202012Validator.check_schema`` asserts."""
    cls = Draft202012Validator
    resolver = cls(cls.META_SCHEMA)._resolver
    resolved = resolver.lookup(cls.META_SCHEMA["$id"])
    meta = _Meta(cls.FORMAT_CHECKER, resolved.contents, resolved.resolver)
    try:
        return _compile(resolved.contents, resolved.resolver, meta)
    except _Unsupported:
        return None


def _check_schema(doc: dict[str, Any]) -> None:
    """``Draft202012Validator.check_schema``: a passing schema is known from the compiled check
    alone; only a failing one is checked by jsonschema itself, whose error it raises."""
    check = _metaschema_check()
    if check is None or not check(doc):
        Draft202012Validator.check_schema(doc)


@cache
def _checker(schema: str) -> Check | None:
    """The compiled yes/no check of a schema file, or None when it uses what is not compiled."""
    validator = _validator(schema)
    if validator.format_checker is not None:  # formats would be asserted: not compiled
        return None
    resolved = registry().resolver().lookup(BASE_URI + schema)
    try:
        return _compile(resolved.contents, resolved.resolver)
    except _Unsupported:
        return None


def is_valid(instance: Any, schema: str) -> bool:
    """Whether ``instance`` satisfies ``schema``: the compiled check, else jsonschema's."""
    check = _checker(schema)
    return check(instance) if check is not None else _validator(schema).is_valid(instance)


# --- validation ----------------------------------------------------------------------------------


@cache
def _dispatch_table(schema: str) -> dict[str, str]:
    """``type`` value -> target file, when ``schema`` is a pure ``allOf`` of if-type-then-$ref.

    Read from the schema itself, so the data stays the single source: it lets ``validate`` jump
    to the one branch that applies instead of evaluating every ``if`` (streams have many events).
    """
    doc = _documents().get(schema, {})
    table: dict[str, str] = {}
    for branch in doc.get("allOf") or []:
        test = ((branch.get("if") or {}).get("properties") or {}).get("type") or {}
        ref = (branch.get("then") or {}).get("$ref")
        if "enum" in (test.get("not") or {}):
            continue  # the open fallback for unknown types: never applies to a known one
        if not (
            isinstance(test.get("const"), str) and isinstance(ref, str) and ref in _documents()
        ):
            return {}
        table[test["const"]] = ref
    return table


def _dispatch(instance: Any, schema: str) -> str:
    """The most specific schema for ``instance``: follows known ``type`` dispatches."""
    while isinstance(instance, dict) and isinstance(instance.get("type"), str):
        target = _dispatch_table(schema).get(instance["type"])
        if target is None:
            break
        schema = target
    return schema


def validate(
    instance: Any, schema: str, *, request_id: str | None = None, pointer: str = ""
) -> list[Finding]:
    """Findings for every way ``instance`` breaks ``schema`` (a file name like ``"message.json"``).

    ``pointer`` is prefixed to every finding's pointer (e.g. ``"/events/3"`` for one SSE event).
    Findings are ordered most relevant first and de-duplicated on (pointer, rule).
    """
    _validator(schema)  # an unknown schema name fails loudly even when dispatch would skip it
    schema = _dispatch(instance, schema)
    check = _checker(schema)
    if check is not None and check(instance):
        return []  # what jsonschema finds in a valid instance: nothing
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    errors = _leaf_errors(_validator(schema).iter_errors(instance))
    for error in sorted(errors, key=relevance, reverse=True):
        where = pointer + _pointer(error.absolute_path)
        rule = _rule(error)
        if (where, rule) in seen:
            continue
        seen.add((where, rule))
        findings.append(
            Finding(
                check=f"schema:{schema}",
                message=_message(error),
                pointer=where,
                rule=rule,
                value=_FORBIDDEN if error.validator == "not" else shorten(error.instance),
                request_id=request_id,
            )
        )
    return findings


def _leaf_errors(errors: Iterator[ValidationError]) -> Iterator[ValidationError]:
    # anyOf/oneOf wrap their branches' errors: keep the most relevant branch's error instead.
    for error in errors:
        if error.context:
            yield best_match(error.context) or error
        else:
            yield error


def _pointer(path: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _missing(error: ValidationError) -> str:
    names = error.validator_value if isinstance(error.validator_value, list) else []
    instance = error.instance if isinstance(error.instance, dict) else {}
    for name in names:
        if name not in instance and error.message.startswith(repr(name)):
            return str(name)
    return str(error.message).split(" ", 1)[0].strip("'\"")


def _types(value: Any) -> str:
    return "|".join(value) if isinstance(value, list) else str(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _rule(error: ValidationError) -> str:
    keyword, expected = str(error.validator), error.validator_value
    if keyword == "required":
        return f"required: {_missing(error)!r}"
    if keyword == "type":
        return f"type: {_types(expected)}"
    if keyword == "const":
        return f"const: {expected!r}"
    if keyword == "enum" and isinstance(expected, list):
        return "enum: " + "|".join("null" if v is None else str(v) for v in expected)
    if keyword == "pattern":
        return f"pattern: {expected}"
    return f"{keyword}: {shorten(expected, 60)}"


def _message(error: ValidationError) -> str:
    keyword, expected, got = str(error.validator), error.validator_value, error.instance
    if keyword == "required":
        return f"missing required field {_missing(error)!r}"
    if keyword == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return f"expected {wanted}, got {_json_type(got)} {_show(got)}"
    if keyword == "const":
        return f"expected {json.dumps(expected)}, got {_show(got)}"
    if keyword == "enum":
        return f"{_show(got)} is not one of the allowed values"
    if keyword == "pattern":
        return f"{_show(got)} does not match the expected format"
    if keyword == "not" and error.path:
        # `"field": {"not": {}}` is how a schema says a field must never appear: a secret, so
        # its value is not repeated here.
        return f"field {str(error.path[-1])!r} must not be present (its value is withheld)"
    return shorten(error.message, 160)


_FORBIDDEN = "<withheld>"


def _show(value: Any) -> str:
    # Quote strings so that "got string 5" cannot be mistaken for a number.
    return shorten(json.dumps(value, ensure_ascii=False, default=str), 40)


# --- drift ---------------------------------------------------------------------------------------

_Applied: TypeAlias = "list[tuple[dict[str, Any], Resolver[Any]]]"


def unknown_fields(instance: Any, schema: str, pointer: str = "") -> list[str]:
    """JSON pointers of object keys ``schema`` does not declare where they occur ("drift").

    Only branches that apply to ``instance`` count (the matching ``if``/``then`` of a dispatch, the
    ``anyOf``/``oneOf`` branches that validate). An object whose schema declares no properties
    (tool ``input``) is free-form and never reported. A ``type`` the schemas do not know yet is
    reported as ``"<pointer>/type=<value>"`` and not descended into.
    """
    _validator(schema)
    schema = _dispatch(instance, schema)
    validator = _validator(schema)
    resolved = registry().resolver().lookup(BASE_URI + schema)
    out: list[str] = []
    _drift(instance, [(resolved.contents, resolved.resolver)], pointer, validator, out)
    return out


def _drift(
    instance: Any, schemas: _Applied, where: str, validator: Draft202012Validator, out: list[str]
) -> None:
    if not isinstance(instance, dict | list):
        return  # a scalar has no keys: which of its schemas apply would decide nothing
    applied = _applicable(instance, schemas, validator)
    if isinstance(instance, dict):
        if any(s.get(UNKNOWN_VARIANT) is True for s, _ in applied):
            out.append(f"{where}/type={instance.get('type')}")
            return
        declared: dict[str, _Applied] = {}
        for s, res in applied:
            for key, sub in (s.get("properties") or {}).items():
                if isinstance(sub, dict):
                    declared.setdefault(key, []).append((sub, res))
        free_form = not any("properties" in s for s, _ in applied) or any(
            s.get("additionalProperties", False) is not False or "patternProperties" in s
            for s, _ in applied
        )
        for key, value in instance.items():
            child = f"{where}/{_pointer([key])[1:]}"
            if key in declared:
                _drift(value, declared[key], child, validator, out)
            elif not free_form:
                out.append(child)
    elif isinstance(instance, list):
        items = [(s["items"], res) for s, res in applied if isinstance(s.get("items"), dict)]
        for i, value in enumerate(instance):
            prefix = [
                (s["prefixItems"][i], res)
                for s, res in applied
                if isinstance(s.get("prefixItems"), list) and i < len(s["prefixItems"])
            ]
            _drift(value, prefix or items, f"{where}/{i}", validator, out)


def _applicable(instance: Any, schemas: _Applied, validator: Draft202012Validator) -> _Applied:
    """Every (sub)schema that applies to ``instance`` itself, following $ref and combinators."""
    out: _Applied = []
    todo = list(schemas)
    while todo:
        schema, resolver = todo.pop(0)
        if not isinstance(schema, dict):
            continue
        out.append((schema, resolver))
        ref = schema.get("$ref")
        if isinstance(ref, str):
            resolved = resolver.lookup(ref)
            todo.append((resolved.contents, resolved.resolver))
        todo.extend((s, resolver) for s in schema.get("allOf", []))
        for keyword in ("anyOf", "oneOf"):
            todo.extend(
                (s, resolver)
                for s in schema.get(keyword, [])
                if _is_valid(instance, s, resolver, validator)
            )
        if "if" in schema:
            branch = "then" if _is_valid(instance, schema["if"], resolver, validator) else "else"
            if branch in schema:
                todo.append((schema[branch], resolver))
    return out


def _is_valid(
    instance: Any, schema: Any, resolver: Resolver[Any], validator: Draft202012Validator
) -> bool:
    try:
        return _compile(schema, resolver)(instance)
    except _Unsupported:
        return bool(validator.evolve(schema=schema, _resolver=resolver).is_valid(instance))
