"""Small recordings in every format check-cassettes reads, written from each format's docs.

Each writer takes the same plain exchange (method, URL, request body, status, response headers,
response body) and returns the file text the recorder would write, so one planted problem can
be tried in every format. The layouts follow the formats' documentation and source: vcrpy's
YAML/JSON serializers, Ruby VCR's cassette format (``http_interactions``, Psych ``!binary``), R
vcr 2.x (``status: 200``), go-vcr v1 and v2 (``status: "200 OK"`` beside ``code: 200``), HAR 1.2
as Polly.JS writes it, nock's recorder output (``rawHeaders`` as a flat list, gzip bodies as hex
chunks), and bare bodies.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

API = "https://api.anthropic.com"
MESSAGE: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}
REQUEST: dict[str, Any] = {
    "model": "claude-haiku-4-5",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}
DATE = "Wed, 29 Jan 2025 14:24:58 GMT"


def stream_events() -> list[tuple[str, Any]]:
    start = {**MESSAGE, "content": [], "stop_reason": None}
    return [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "hi"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 1},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def sse_text(events: list[tuple[str, Any]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


@dataclass
class Sample:
    """One exchange, format-neutral."""

    body: bytes = field(default_factory=lambda: json.dumps(MESSAGE).encode())
    status: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {
            "content-type": "application/json",
            "request-id": "req_01abc",
            "date": DATE,
        }
    )
    method: str = "POST"
    url: str = f"{API}/v1/messages"
    request: dict[str, Any] | None = field(default_factory=lambda: dict(REQUEST))
    request_headers: dict[str, str] = field(
        default_factory=lambda: {
            "anthropic-version": "2023-06-01",
            "x-api-key": "<ANTHROPIC_API_KEY>",
        }
    )

    @classmethod
    def stream(cls, events: list[tuple[str, Any]] | None = None) -> Sample:
        return cls(
            body=sse_text(events or stream_events()).encode(),
            headers={
                "content-type": "text/event-stream; charset=utf-8",
                "request-id": "req_01abc",
                "date": DATE,
            },
            request={**REQUEST, "stream": True},
        )

    @property
    def request_text(self) -> str:
        return json.dumps(self.request) if self.request is not None else ""


def vcrpy_yaml(*samples: Sample, gzip_body: bool = False) -> str:
    """vcrpy's YAML serializer (``version: 1``), optionally a gzip body as ``!!binary``."""
    items = []
    for s in samples:
        headers = {k: [v] for k, v in s.headers.items()}
        body: Any = {"string": s.body.decode()}
        if gzip_body:
            headers["content-encoding"] = ["gzip"]
            body = {"string": gzip.compress(s.body)}
        items.append(
            {
                "request": {
                    "body": s.request_text or None,
                    "method": s.method,
                    "uri": s.url,
                    "headers": {k: [v] for k, v in s.request_headers.items()},
                },
                "response": {
                    "status": {"code": s.status, "message": "OK"},
                    "headers": headers,
                    "body": body,
                },
            }
        )
    return yaml.safe_dump({"version": 1, "interactions": items})


def vcrpy_json(*samples: Sample) -> str:
    """vcrpy's JSON serializer."""
    return json.dumps(yaml.safe_load(vcrpy_yaml(*samples)), indent=2)


def vcrpy_aiohttp(sample: Sample) -> str:
    """A vcrpy aiohttp recording: header names as multidict ``istr`` objects."""
    headers = "".join(
        f"      ? !!python/object/apply:multidict._multidict.istr\n      - {k}\n      : {v}\n"
        for k, v in sample.headers.items()
    )
    return (
        "interactions:\n- request:\n"
        f"    body: {json.dumps(sample.request_text)}\n"
        "    headers:\n"
        + "".join(
            f"      {k}:\n      - {json.dumps(v)}\n" for k, v in sample.request_headers.items()
        )
        + f"    method: {sample.method}\n    uri: {sample.url}\n"
        "  response:\n"
        f"    body:\n      string: {json.dumps(sample.body.decode())}\n"
        f"    headers:\n{headers}"
        f"    status:\n      code: {sample.status}\n      message: OK\n"
        f"    url: {sample.url}\nversion: 1\n"
    )


def ruby_vcr(*samples: Sample, binary: bool = False, recorded_at: str = DATE) -> str:
    """Ruby VCR 6: ``http_interactions``, capitalised headers, ``!binary`` for raw bytes."""
    out = ["---", "http_interactions:"]
    for s in samples:
        out += [
            "- request:",
            f"    method: {s.method.lower()}",
            f"    uri: {s.url}",
            "    body:",
            "      encoding: UTF-8",
            f"      string: {json.dumps(s.request_text)}",
            "    headers:",
        ]
        for k, v in s.request_headers.items():
            out += [f"      {k.title()}:", f"      - {json.dumps(v)}"]
        out += [
            "  response:",
            "    status:",
            f"      code: {s.status}",
            "      message: OK",
            "    headers:",
        ]
        for k, v in s.headers.items():
            out += [f"      {k.title()}:", f"      - {json.dumps(v)}"]
        out += ["    body:", "      encoding: ASCII-8BIT"]
        if binary:
            out += ["      string: !binary |-", "        " + base64.b64encode(s.body).decode()]
        else:
            out += [f"      string: {json.dumps(s.body.decode())}"]
        out += ["    http_version:", f"  recorded_at: {recorded_at}"]
    out.append("recorded_with: VCR 6.1.0")
    return "\n".join(out) + "\n"


def r_vcr(*samples: Sample, recorded_at: str = "2025-01-29 14:24:58") -> str:
    """R vcr 2.x: Ruby VCR's layout with ``status: 200`` and a naive UTC ``recorded_at``."""
    items = [
        {
            "request": {
                "method": s.method,
                "uri": s.url,
                "body": {"string": s.request_text},
                "headers": dict(s.request_headers),
            },
            "response": {
                "status": s.status,
                "headers": dict(s.headers),
                "body": {"string": s.body.decode()},
            },
            "recorded_at": recorded_at,
        }
        for s in samples
    ]
    return yaml.safe_dump(
        {"http_interactions": items, "recorded_with": "VCR-vcr/2.1.0"}, sort_keys=False
    )


def govcr(*samples: Sample, version: int = 1) -> str:
    """go-vcr v1 (``version: 1``) or v2 (``version: 2``, with proto and content_length)."""
    items = []
    for s in samples:
        req_headers = {k.title(): [v] for k, v in s.request_headers.items()}
        request: dict[str, Any] = {
            "body": s.request_text,
            "form": {},
            "headers": req_headers,
            "url": s.url,
            "method": s.method,
        }
        response: dict[str, Any] = {
            "body": s.body.decode(),
            "headers": {k.title(): [v] for k, v in s.headers.items()},
            "status": f"{s.status} {'OK' if s.status == 200 else 'Error'}",
            "code": s.status,
            "duration": "312ms",
        }
        if version >= 2:
            request = {
                "proto": "HTTP/1.1",
                "proto_major": 1,
                "proto_minor": 1,
                "content_length": len(s.request_text),
                "host": "api.anthropic.com",
                **request,
            }
            response = {"proto": "HTTP/2.0", "content_length": -1, "uncompressed": True, **response}
        items.append({"request": request, "response": response})
    return "---\n" + yaml.safe_dump({"version": version, "interactions": items})


def har(*samples: Sample, base64_body: bool = False) -> str:
    """HAR 1.2 as Polly.JS writes it (``log.creator.name: Polly.JS``)."""
    entries = []
    for i, s in enumerate(samples):
        content: dict[str, Any] = {
            "mimeType": s.headers.get("content-type", ""),
            "size": len(s.body),
            "text": s.body.decode(),
        }
        if base64_body:
            content.update(text=base64.b64encode(s.body).decode(), encoding="base64")
        entries.append(
            {
                "_id": f"id{i}",
                "_order": 0,
                "startedDateTime": "2025-01-29T14:24:58.000Z",
                "request": {
                    "method": s.method,
                    "url": s.url,
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": k, "value": v} for k, v in s.request_headers.items()],
                    "postData": {"mimeType": "application/json", "text": s.request_text},
                },
                "response": {
                    "status": s.status,
                    "statusText": "OK",
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": k, "value": v} for k, v in s.headers.items()],
                    "content": content,
                },
            }
        )
    return json.dumps(
        {
            "log": {
                "_recordingName": "sample",
                "version": "1.2",
                "creator": {"name": "Polly.JS", "version": "6.0.6"},
                "entries": entries,
            }
        },
        indent=2,
    )


def nock(*samples: Sample, gzip_hex: bool = False) -> str:
    """nock recorder output (``output_objects: true``): rawHeaders as a flat list."""
    defs = []
    for s in samples:
        raw_headers: list[str] = []
        for k, v in s.headers.items():
            raw_headers += [k, v]
        response: Any
        if gzip_hex:
            raw_headers += ["content-encoding", "gzip"]
            data = gzip.compress(s.body).hex()
            response = [data[:20], data[20:]]
        else:
            try:
                response = json.loads(s.body)
            except ValueError:
                response = s.body.decode()
        split = s.url.split("/v1/", 1)
        defs.append(
            {
                "scope": f"{split[0]}:443",
                "method": s.method,
                "path": "/v1/" + split[1],
                "body": s.request,
                "status": s.status,
                "response": response,
                "reqheaders": dict(s.request_headers),
                "rawHeaders": raw_headers,
                "responseIsBinary": False,
            }
        )
    return json.dumps(defs, indent=2)


def bare(sample: Sample) -> str:
    """A bare body saved as a fixture (JSON, or an SSE transcript)."""
    return sample.body.decode()


#: Every writer that takes samples and returns file text, with the file name to use.
WRITERS: dict[str, tuple[str, Any]] = {
    "vcrpy-yaml": ("c.yaml", vcrpy_yaml),
    "vcrpy-gzip": ("c.yaml", lambda *s: vcrpy_yaml(*s, gzip_body=True)),
    "vcrpy-json": ("c.json", vcrpy_json),
    "vcrpy-aiohttp": ("c.yaml", lambda s: vcrpy_aiohttp(s)),
    "ruby-vcr": ("c.yml", ruby_vcr),
    "ruby-vcr-binary": ("c.yml", lambda *s: ruby_vcr(*s, binary=True)),
    "r-vcr": ("c.yml", r_vcr),
    "go-vcr-v1": ("c.yaml", govcr),
    "go-vcr-v2": ("c.yaml", lambda *s: govcr(*s, version=2)),
    "har": ("c.har", har),
    "har-base64": ("c.har", lambda *s: har(*s, base64_body=True)),
    "nock": ("c.json", nock),
    "nock-gzip": ("c.json", lambda *s: nock(*s, gzip_hex=True)),
    "bare": ("c.json", lambda s: bare(s)),
}
