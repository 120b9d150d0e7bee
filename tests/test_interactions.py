"""Reading cassettes in the dialects public projects commit them in."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.cassettes.interactions import (
    CassetteError,
    Interaction,
    anthropic_exchanges,
    read_cassette,
)

MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
REQUEST = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
SSE = (
    'event: message_start\r\ndata: {"type":"message_start","message":{}}   \r\n\r\n'
    'event: ping\r\ndata: {"type": "ping"}\r\n\r\n'
    'event: message_stop\r\ndata: {"type":"message_stop"}\r\n\r\n'
)


def interaction(
    response_body: Any = None,
    *,
    uri: str = "https://api.anthropic.com/v1/messages?beta=true",
    method: str = "POST",
    request_body: Any = None,
    headers: dict[str, list[str]] | None = None,
    status: Any = None,
) -> dict[str, Any]:
    return {
        "request": {
            "body": json.dumps(REQUEST) if request_body is None else request_body,
            "headers": {"x-api-key": ["sk-ant-api03-secret"], "anthropic-version": ["2023-06-01"]},
            "method": method,
            "uri": uri,
        },
        "response": {
            "body": {"string": json.dumps(MESSAGE) if response_body is None else response_body},
            "headers": headers
            if headers is not None
            else {"Content-Type": ["application/json"], "request-id": ["req_1"]},
            "status": {"code": 200, "message": "OK"} if status is None else status,
        },
    }


def write_yaml(path: Path, interactions: list[dict[str, Any]], version: int | None = 1) -> Path:
    doc: dict[str, Any] = {"interactions": interactions}
    if version is not None:
        doc["version"] = version
    path.write_text(yaml.safe_dump(doc))
    return path


def only(items: list[Interaction]) -> Interaction:
    assert len(items) == 1, items
    return items[0]


def test_plain_yaml_v1(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path / "plain.yaml",
        [
            interaction(
                headers={
                    "Content-Type": ["application/json"],
                    "Request-Id": ["req_1"],
                    "Vary": ["Accept-Encoding", "Origin"],
                }
            )
        ],
    )
    it = only(read_cassette(path))
    assert it.error is None and it.exchange is not None
    ex = it.exchange
    assert (it.index, it.host, it.source) == (0, "api.anthropic.com", f"{path}#0")
    assert (ex.method, ex.path, ex.status) == ("POST", "/v1/messages", 200)
    assert ex.url == "https://api.anthropic.com/v1/messages?beta=true"
    assert ex.response_headers == {
        "content-type": "application/json",
        "request-id": "req_1",
        "vary": "Accept-Encoding, Origin",
    }
    assert ex.json == MESSAGE
    assert ex.request_json == REQUEST
    assert ex.request_id == "req_1"
    assert ex.events is None
    assert ex.source == it.source


def test_yaml_without_version_key(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "nover.yaml", [interaction(), interaction()], version=None)
    got = read_cassette(path)
    assert [i.index for i in got] == [0, 1]
    assert all(i.exchange is not None and i.exchange.json == MESSAGE for i in got)


def test_secret_request_headers_are_redacted(tmp_path: Path) -> None:
    ex = only(read_cassette(write_yaml(tmp_path / "s.yaml", [interaction()]))).exchange
    assert ex is not None
    assert "secret" not in json.dumps(dict(ex.request_headers))
    assert ex.request_headers["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize("with_header", [True, False], ids=["content-encoding", "sniffed"])
def test_gzip_binary_body(tmp_path: Path, with_header: bool) -> None:
    headers = {"content-type": ["application/json"]}
    if with_header:
        headers["Content-Encoding"] = ["gzip"]
    raw = interaction(gzip.compress(json.dumps(MESSAGE).encode()), headers=headers)
    path = write_yaml(tmp_path / "gz.yaml", [raw])
    assert "!!binary" in path.read_text()
    ex = only(read_cassette(path)).exchange
    assert ex is not None and ex.json == MESSAGE


def test_content_encoding_header_on_already_decoded_body(tmp_path: Path) -> None:
    raw = interaction(json.dumps(MESSAGE).encode(), headers={"content-encoding": ["gzip"]})
    ex = only(read_cassette(write_yaml(tmp_path / "dec.yaml", [raw]))).exchange
    assert ex is not None and ex.json == MESSAGE


def test_parsed_body(tmp_path: Path) -> None:
    raw = interaction()
    del raw["request"]["body"]
    raw["request"]["parsed_body"] = REQUEST
    del raw["response"]["body"]
    raw["response"]["parsed_body"] = MESSAGE
    ex = only(read_cassette(write_yaml(tmp_path / "pb.yaml", [raw]))).exchange
    assert ex is not None
    assert ex.json == MESSAGE and ex.request_json == REQUEST


def test_json_cassette(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "interactions": [
                    interaction(
                        uri="https://api.anthropic.com/v1/models", method="GET", request_body=None
                    )
                ],
            }
        )
    )
    ex = only(read_cassette(path)).exchange
    assert ex is not None and (ex.method, ex.path, ex.json) == ("GET", "/v1/models", MESSAGE)


def test_sse_body_by_content_type_and_by_sniffing(tmp_path: Path) -> None:
    typed = interaction(SSE, headers={"content-type": ["text/event-stream; charset=utf-8"]})
    untyped = interaction(SSE, headers={})
    got = read_cassette(write_yaml(tmp_path / "sse.yaml", [typed, untyped]))
    for it in got:
        assert it.exchange is not None and it.exchange.events is not None
        assert [e.type for e in it.exchange.events] == ["message_start", "ping", "message_stop"]
        assert it.exchange.json is None  # a stream is not a JSON body


def test_proxy_prefix_is_stripped_from_path(tmp_path: Path) -> None:
    raw = interaction(uri="http://127.0.0.1:8080/anthropic/v1/messages/count_tokens")
    ex = only(read_cassette(write_yaml(tmp_path / "p.yaml", [raw]))).exchange
    assert ex is not None and ex.path == "/v1/messages/count_tokens"
    assert ex.endpoint is not None and ex.endpoint.name == "messages.count_tokens"


def test_corrupt_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.yaml"
    path.write_text("interactions:\n  - request: [unclosed\n")
    with pytest.raises(CassetteError, match=r"corrupt\.yaml"):
        read_cassette(path)


def test_python_tags_are_a_cassette_error(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text("interactions:\n- !!python/object:vcr.request.Request {uri: x}\n")
    with pytest.raises(CassetteError, match=r"old\.yaml"):
        read_cassette(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("list.yaml", "- 1\n- 2\n"),
        ("empty.yaml", ""),
        ("broken.json", '{"interactions": ['),
    ],
)
def test_not_a_cassette(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CassetteError, match=name.replace(".", r"\.")):
        read_cassette(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match=r"nowhere\.yaml"):
        read_cassette(tmp_path / "nowhere.yaml")


def test_uninterpretable_interaction_becomes_an_error_entry(tmp_path: Path) -> None:
    no_status = interaction(status={"message": "OK"})
    bad_gzip = interaction(b"\x1f\x8b not really gzip")
    got = read_cassette(
        write_yaml(tmp_path / "bad.yaml", [no_status, interaction(), bad_gzip, "junk"])
    )  # type: ignore[list-item]
    assert [i.error is None for i in got] == [False, True, False, False]
    assert got[0].exchange is None and "status" in (got[0].error or "")
    assert got[0].host == "api.anthropic.com"
    assert got[1].exchange is not None and got[1].exchange.json == MESSAGE
    assert got[3].source.endswith("bad.yaml#3")


def test_anthropic_exchanges_filters_hosts_and_paths(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path / "mixed.yaml",
        [
            interaction(),
            interaction(uri="https://example.com/image.png", method="GET"),
            interaction(uri="https://api.openai.com/v1/chat/completions"),
            interaction(uri="http://localhost:8000/v1/models", method="GET"),
            interaction(status={"message": "OK"}),  # unreadable but Anthropic: kept for reporting
        ],
    )
    got = anthropic_exchanges(path)
    assert [i.index for i in got] == [0, 4]
    assert got[1].error is not None
    local = anthropic_exchanges(path, hosts=())
    assert [i.index for i in local] == [0, 3, 4]
    assert [i.index for i in anthropic_exchanges(path, hosts=("localhost",))] == [3]
