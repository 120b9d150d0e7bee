"""Faithful, readable cassettes: the YAML serializer vcrpy writes with, and provenance.

Two promises a recorded cassette must keep, and why each lives here rather than in vcrpy:

* **Readable and byte-exact.** A streamed answer is written as a YAML literal block (``|``), one
  SSE event per paragraph, so a cassette diff shows which event changed. CRLF line ends are
  stored as ``\\n`` plus an ``sse_line_ending`` marker and trailing spaces of padded JSON are
  kept, so a replay gives back exactly the recorded bytes; every write is verified by loading it
  back, and a body that would not survive falls back to vcrpy's plain quoting. A stream's recorded
  ``timing`` (timing.py) keeps its event offsets on one line.
* **Provenance.** Each cassette carries ``metadata.provenance`` (target, date, suite version, model,
  API version) in vcrpy's own top-level ``metadata`` key, so a reader knows whether it shows the
  real API or the reference server.

The secrets a cassette must not keep are the scanner's (secrets.py).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import yaml

import conformance
from conformance import sse
from conformance.cassettes import timing

# --- provenance ----------------------------------------------------------------------------------

#: ``provenance.target`` of a cassette recorded against the embedded or served reference server.
REFERENCE_TARGET = "reference-server"
PROVENANCE_KEY = "provenance"


def make_provenance(target: str, model: str, api_version: str) -> dict[str, str]:
    """The provenance stamp of a cassette recorded now against ``target`` (a host or
    ``REFERENCE_TARGET``)."""
    return {
        "target": target,
        "recorded": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "suite_version": conformance.__version__,
        "model": model,
        "api_version": api_version,
    }


def target_of(base_url: str, is_reference: bool) -> str:
    """What ``provenance.target`` says for a run against ``base_url``."""
    return REFERENCE_TARGET if is_reference else (urlsplit(base_url).netloc or base_url)


def provenance_of(document: Any) -> dict[str, str] | None:
    """The provenance a loaded cassette document carries, if any."""
    meta = document.get("metadata") if isinstance(document, dict) else None
    prov = meta.get(PROVENANCE_KEY) if isinstance(meta, dict) else None
    return {str(k): str(v) for k, v in prov.items()} if isinstance(prov, dict) else None


# --- the readable serializer ---------------------------------------------------------------------

#: Key in a response ``body`` mapping: the line end the stored ``\n`` stands for.
LINE_ENDING_KEY = "sse_line_ending"

# Characters a YAML literal block cannot carry verbatim (controls, YAML 1.1 line breaks, BOM).
_NOT_LITERAL = re.compile(
    "[^\x09\x0a\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x85\u2028\u2029\ufeff]"
)


class _Literal(str):
    """A string to be written as a ``|`` literal block."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes ``_Literal`` as a literal block even with trailing spaces.

    PyYAML refuses block style for lines ending in spaces (padded SSE JSON), although YAML keeps
    them in literal blocks; the round-trip check in ``serialize`` guards the exception.
    """

    def choose_scalar_style(self) -> str:
        event: Any = self.event
        if (
            event.style == "|"
            and not self.flow_level
            and not self.simple_key_context
            and not _NOT_LITERAL.search(event.value)
        ):
            return "|"
        return str(super().choose_scalar_style())


def _represent_literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


_Dumper.add_representer(_Literal, _represent_literal)


class _Flow(list[Any]):
    """A list written on one line (``[0.0012, 0.0513]``): recorded event offsets."""


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(data), flow_style=True)


_Dumper.add_representer(_Flow, _represent_flow)


def _readable_timing(entry: Any) -> Any:
    """A ``timing`` entry (see timing.py) with its event offsets on one line."""
    if isinstance(entry, dict) and isinstance(entry.get("events"), list):
        return {**entry, "events": _Flow(entry["events"])}
    return entry


def _is_sse(response: Mapping[str, Any]) -> bool:
    headers = response.get("headers") or {}
    for name, value in headers.items() if isinstance(headers, dict) else ():
        values = value if isinstance(value, list) else [value]
        if str(name).lower() == "content-type" and any(sse.is_event_stream(str(v)) for v in values):
            return True
    return False


def _readable_body(body: Any) -> Any:
    """The body mapping with an SSE text as a literal block (unchanged when that is not exact)."""
    if not isinstance(body, dict) or not isinstance(body.get("string"), str):
        return body
    text: str = body["string"]
    out = dict(body)
    ends = sse.line_ends(text)  # the line ends of the SSE framing rule (sse.frames)
    if ends == {"\r\n"}:
        text = text.replace("\r\n", "\n")
        out[LINE_ENDING_KEY] = "\r\n"
    elif ends - {"\n"}:
        return body  # lone CR or mixed line ends: keep vcrpy's quoted form
    if _NOT_LITERAL.search(text):
        return body
    out["string"] = _Literal(text)
    return out


def _restore_body(body: Any) -> Any:
    if isinstance(body, dict) and LINE_ENDING_KEY in body:
        body = dict(body)
        ending = str(body.pop(LINE_ENDING_KEY))
        if isinstance(body.get("string"), str):
            body["string"] = body["string"].replace("\n", ending)
    return body


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, width=10_000)


def serialize(cassette_dict: dict[str, Any]) -> str:
    """vcrpy serializer: YAML with readable SSE bodies, verified to load back identically."""
    data = copy.deepcopy(cassette_dict)
    for it in data.get("interactions") or []:
        response = it.get("response") if isinstance(it, dict) else None
        if isinstance(response, dict) and _is_sse(response):
            response["body"] = _readable_body(response.get("body"))
            if timing.TIMING_KEY in response:
                response[timing.TIMING_KEY] = _readable_timing(response[timing.TIMING_KEY])
    text = _dump(data)
    if deserialize(text) != cassette_dict:  # never trade fidelity for readability
        text = _dump(cassette_dict)
    return text


def deserialize(cassette_string: str) -> dict[str, Any]:
    """vcrpy deserializer: any vcrpy YAML, with readable SSE bodies turned back into their bytes."""
    from vcr.serializers.yamlserializer import _CassetteLoader  # vcrpy's safe loader and its tags

    data: Any = yaml.load(cassette_string, Loader=_CassetteLoader)  # vcrpy's safe loader
    if not isinstance(data, dict):
        return data  # type: ignore[no-any-return]  # vcrpy reports the odd shape itself
    for it in data.get("interactions") or []:
        response = it.get("response") if isinstance(it, dict) else None
        if isinstance(response, dict):
            response["body"] = _restore_body(response.get("body"))
    return data


class ReadableSerializer:
    """The object vcrpy's ``register_serializer`` wants (module-level functions as methods)."""

    serialize = staticmethod(serialize)
    deserialize = staticmethod(deserialize)


SERIALIZER_NAME = "conformance-yaml"
