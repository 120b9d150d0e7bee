"""The YAML loader of every YAML recording format: safe, plus the few tags recorders write.

Recorders leave language-specific tags in their files: Ruby's Psych writes ``!binary`` (base64
bytes) for bodies that are not UTF-8, vcrpy's aiohttp stubs write header names as
``!!python/object/apply:multidict._multidict.istr [Content-Type]``, Python 2 vcrpy wrote
``!!python/unicode``. Those are read as the data they stand for; every other tag (arbitrary
Python or Ruby objects) stays refused, as a safe loader must.
"""

from __future__ import annotations

from typing import Any

import yaml

from ._model import Unreadable, b64

# The C loader is ~10x faster on big cassettes; fall back when PyYAML was built without libyaml.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: ``callable`` names of ``!!python/object/apply:`` tags that only wrap a string.
_STRING_CALLABLES = (
    "multidict._multidict.istr",
    "multidict._multidict_py.istr",
    "multidict.istr",
    "yarl.URL",
    "builtins.str",
)


class RecordingLoader(_Base):  # type: ignore[misc]
    """A SafeLoader that also understands the harmless tags real recordings carry."""


def _binary(loader: yaml.SafeLoader, node: yaml.Node) -> bytes:
    text = loader.construct_scalar(node)  # type: ignore[arg-type]
    try:
        return b64("".join(str(text).split()), "a !binary value")
    except Unreadable as exc:
        raise yaml.constructor.ConstructorError(None, None, str(exc), node.start_mark) from exc


def _string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _apply(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> str:
    if suffix not in _STRING_CALLABLES:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"refusing the Python object tag !!python/object/apply:{suffix}",
            node.start_mark,
        )
    if isinstance(node, yaml.SequenceNode):
        args = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        args = loader.construct_mapping(node, deep=True).get("args") or []
    else:
        args = [loader.construct_scalar(node)]  # type: ignore[arg-type]
    return str(args[0]) if args else ""


RecordingLoader.add_constructor("!binary", _binary)
for _tag in ("tag:yaml.org,2002:python/unicode", "tag:yaml.org,2002:python/str"):
    RecordingLoader.add_constructor(_tag, _string)
RecordingLoader.add_multi_constructor("tag:yaml.org,2002:python/object/apply:", _apply)


def load_yaml(text: str) -> Any:
    """``text`` parsed with ``RecordingLoader``; ``yaml.YAMLError`` when it is not such YAML."""
    return yaml.load(text, Loader=RecordingLoader)
