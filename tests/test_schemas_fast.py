"""The compiled yes/no check of ``conformance.schemas`` says what jsonschema says.

``schemas.validate`` answers a valid instance from the compiled check alone, so the two must
agree on every instance: here on every recorded answer (JSON bodies and stream events) of the
cassettes, on every request body, and on broken variants of each (a field dropped, retyped,
nulled or added), against every schema.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from conformance import schemas
from conformance.cassettes import readers
from conformance.sse import parse_sse

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
_REPLACEMENTS: tuple[Any, ...] = (None, 0, -1, 1.5, 2.0, True, "", "x", [], {}, [1], {"type": 1})


def _bodies() -> Iterator[Any]:
    for path in sorted(CASSETTES.rglob("*.yaml")):
        for item in readers.read(path).items:
            if not isinstance(item, readers.Interaction):
                continue
            for raw in (item.request_body, item.response_body):
                text = raw.decode("utf-8", "replace")
                try:
                    yield json.loads(text)
                except ValueError:
                    for event in parse_sse(text):
                        if event.json is not None:
                            yield event.json


def _paths(node: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*here, i))


def _broken(instance: Any, rng: random.Random, count: int) -> Iterator[Any]:
    paths = list(_paths(instance))
    for _ in range(count):
        path = rng.choice(paths)
        copied = copy.deepcopy(instance)
        if not path:
            yield rng.choice(_REPLACEMENTS)
            continue
        parent = copied
        for step in path[:-1]:
            parent = parent[step]
        how = rng.randrange(3)
        if how == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == 1 and isinstance(parent, dict):
            parent["unexpected_field"] = rng.choice(_REPLACEMENTS)
        else:
            parent[path[-1]] = rng.choice(_REPLACEMENTS)
        yield copied


@pytest.fixture(scope="module")
def instances() -> list[Any]:
    seen: dict[str, Any] = {}
    for body in _bodies():
        for path in _paths(body):  # each object inside too: a content block, a delta, usage
            node = body
            for step in path:
                node = node[step]
            if isinstance(node, dict):
                seen.setdefault(json.dumps(node, sort_keys=True), node)
    originals = list(seen.values())
    assert len(originals) > 100, "the cassettes hold fewer answers than expected"
    rng = random.Random(14)
    return originals + [b for o in originals for b in _broken(o, rng, 1)]


def test_every_schema_is_compiled() -> None:
    """Every schema gets the fast path (a new keyword the check does not implement would
    silently send its schema back to jsonschema's pace)."""
    assert [n for n in schemas.schema_names() if schemas._checker(n) is None] == []


@pytest.mark.parametrize("name", schemas.schema_names())
def test_compiled_check_agrees_with_jsonschema(name: str, instances: list[Any]) -> None:
    check, validator = schemas._checker(name), schemas._validator(name)
    assert check is not None
    disagree = [i for i in instances if check(i) != validator.is_valid(i)]
    assert not disagree, f"{name}: {len(disagree)} disagreements, e.g. {disagree[0]!r:.300}"
    if name in _SEEN_BOTH_WAYS:  # the answers the suite sees most: valid ones and broken ones
        assert {check(i) for i in instances} == {True, False}, name


_SEEN_BOTH_WAYS = frozenset(
    {"message.json", "error.json", "usage.json", "text.json", "tool_use.json", "model_info.json"}
)


def test_findings_are_the_same_with_and_without_the_compiled_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A valid answer has no findings either way; an invalid one gets jsonschema's."""
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    assert schemas.validate(message, "message.json") == []
    broken = {**message, "usage": {"input_tokens": "1", "output_tokens": 1}}
    before = schemas.validate(broken, "message.json")
    assert [f.pointer for f in before] == ["/usage/input_tokens"]
    monkeypatch.setattr(schemas, "_checker", lambda name: None)  # jsonschema alone
    assert schemas.validate(message, "message.json") == []
    assert schemas.validate(broken, "message.json") == before


def _passes_check_schema(doc: Any) -> bool:
    try:
        Draft202012Validator.check_schema(doc)
    except SchemaError:
        return False
    return True


def test_compiled_metaschema_agrees_with_check_schema() -> None:
    """Loading the schemas checks each against the metaschema through the compiled check:
    it agrees with ``check_schema`` on every shipped schema and broken variants of each."""
    check = schemas._metaschema_check()
    assert check is not None
    rng = random.Random(15)
    docs = list(schemas._documents().values())
    cases: list[Any] = [
        *docs,
        *(b for d in docs for b in _broken(d, rng, 4)),
        {"type": 5},
        {"pattern": "("},  # the format checker's regex, as check_schema asserts it
        {"required": ["a", "a"]},  # uniqueItems
        {"properties": {"a": {"items": False}}},
        {"x-anything": 1},
    ]
    disagree = [c for c in cases if check(c) != _passes_check_schema(c)]
    assert not disagree, disagree[:3]
    assert {check(c) for c in cases} == {True, False}


def test_a_broken_schema_file_is_still_refused_with_jsonschema_words(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(
        json.dumps({"$id": schemas.BASE_URI + "x.json", "type": "objekt"})
    )
    with pytest.raises(schemas.SchemaLoadError, match=r"x\.json: not a valid draft 2020-12 schema"):
        schemas._load_documents(tmp_path)
