"""Every recording format is read by content into the same interactions, and odd files are named."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from format_samples import MESSAGE, WRITERS, Sample, govcr, r_vcr, ruby_vcr, sse_text, stream_events

from conformance.cassettes import readers
from conformance.cassettes.interactions import read_cassette

EXPECTED_FORMAT = {
    "vcrpy-yaml": "vcrpy",
    "vcrpy-gzip": "vcrpy",
    "vcrpy-json": "vcrpy",
    "vcrpy-aiohttp": "vcrpy",
    "ruby-vcr": "Ruby VCR / R vcr",
    "ruby-vcr-binary": "Ruby VCR / R vcr",
    "r-vcr": "Ruby VCR / R vcr",
    "go-vcr-v1": "go-vcr",
    "go-vcr-v2": "go-vcr",
    "har": "HAR (Polly.JS)",
    "har-base64": "HAR (Polly.JS)",
    "nock": "nock",
    "nock-gzip": "nock",
    "bare": "bare JSON body",
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_every_format_reads_to_the_same_interaction(tmp_path: Path, fmt: str) -> None:
    name, writer = WRITERS[fmt]
    rec = readers.read(write(tmp_path, name, writer(Sample())))
    assert rec.format == EXPECTED_FORMAT[fmt]
    [item] = rec.items
    assert isinstance(item, readers.Interaction), item
    assert item.method == "POST" and item.url.endswith("/v1/messages")
    assert item.status == 200
    assert json.loads(item.response_body) == MESSAGE
    if fmt != "bare":
        assert item.response_headers["request-id"] == "req_01abc"
        assert item.response_headers["content-type"] == "application/json"


# Bare bodies hold one answer; the aiohttp sample writer writes one interaction.
@pytest.mark.parametrize("fmt", sorted(set(WRITERS) - {"bare", "vcrpy-aiohttp"}))
def test_every_format_keeps_several_interactions_in_order(tmp_path: Path, fmt: str) -> None:
    name, writer = WRITERS[fmt]
    second = Sample(
        url="https://api.anthropic.com/v1/messages/count_tokens", body=b'{"input_tokens": 7}'
    )
    got = read_cassette(write(tmp_path, name, writer(Sample(), second)))
    assert [i.path for i in got] == ["/v1/messages", "/v1/messages/count_tokens"]
    assert got[1].exchange is not None and got[1].exchange.json == {"input_tokens": 7}


def test_detection_is_by_content_not_extension(tmp_path: Path) -> None:
    # Ruby VCR in a .yaml, go-vcr in a .yml, vcrpy JSON in a .yaml: the content decides.
    assert readers.detect(write(tmp_path, "a.yaml", ruby_vcr(Sample()))) == "Ruby VCR / R vcr"
    assert readers.detect(write(tmp_path, "b.yml", govcr(Sample()))) == "go-vcr"
    assert readers.detect(write(tmp_path, "c.yaml", WRITERS["vcrpy-json"][1](Sample()))) == "vcrpy"


def test_ruby_binary_and_gzip_bodies_are_decoded(tmp_path: Path) -> None:
    packed = Sample(
        body=gzip.compress(json.dumps(MESSAGE).encode()),
        headers={
            "content-type": "application/json",
            "content-encoding": "gzip",
            "request-id": "req_1",
        },
    )
    text = ruby_vcr(packed, binary=True)
    assert "!binary" in text
    [item] = readers.read(write(tmp_path, "g.yml", text)).items
    assert isinstance(item, readers.Interaction) and json.loads(item.response_body) == MESSAGE


def test_recorded_at_is_read_per_format(tmp_path: Path) -> None:
    when = datetime(2025, 1, 29, 14, 24, 58, tzinfo=UTC)
    for name, text in (
        ("r.yml", ruby_vcr(Sample())),
        ("rv.yml", r_vcr(Sample())),
        ("h.har", WRITERS["har"][1](Sample())),
    ):
        [item] = readers.read(write(tmp_path, name, text)).items
        assert isinstance(item, readers.Interaction) and item.recorded_at == when, name
    [item] = readers.read(write(tmp_path, "v.yaml", WRITERS["vcrpy-yaml"][1](Sample()))).items
    assert isinstance(item, readers.Interaction) and item.recorded_at is None  # vcrpy keeps none


def test_govcr_status_text_is_not_a_problem(tmp_path: Path) -> None:
    # vcrpy's reader used to turn "200 OK" into ValueError problems for every interaction.
    got = read_cassette(
        write(
            tmp_path,
            "g.yaml",
            govcr(
                Sample(
                    status=429,
                    body=json.dumps(
                        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
                    ).encode(),
                )
            ),
        )
    )
    assert got[0].error is None and got[0].exchange is not None
    assert got[0].exchange.status == 429


@pytest.mark.parametrize(
    ("body", "method", "path", "status"),
    [
        (MESSAGE, "POST", "/v1/messages", 200),
        ({"input_tokens": 12}, "POST", "/v1/messages/count_tokens", 200),
        (
            {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
            "POST",
            "/v1/messages",
            529,
        ),
        (
            {
                "data": [
                    {
                        "type": "model",
                        "id": "claude-haiku-4-5",
                        "display_name": "Haiku",
                        "created_at": "2025-10-01T00:00:00Z",
                    }
                ],
                "has_more": False,
                "first_id": "claude-haiku-4-5",
                "last_id": "claude-haiku-4-5",
            },
            "GET",
            "/v1/models",
            200,
        ),
        (
            {"id": "msgbatch_01", "type": "message_batch"},
            "GET",
            "/v1/messages/batches/msgbatch_01",
            200,
        ),
    ],
)
def test_bare_json_is_judged_as_the_endpoint_its_shape_shows(
    tmp_path: Path, body: object, method: str, path: str, status: int
) -> None:
    rec = readers.read(write(tmp_path, "body.json", json.dumps(body)))
    assert rec.format == "bare JSON body" and rec.by_content
    [item] = rec.items
    assert isinstance(item, readers.Interaction)
    assert (item.method, item.url, item.status) == (method, path, status)
    assert item.response_headers == {}


def test_bare_sse_transcript(tmp_path: Path) -> None:
    rec = readers.read(write(tmp_path, "stream.sse", sse_text(stream_events())))
    assert rec.format == "bare SSE transcript"
    [it] = read_cassette(tmp_path / "stream.sse")
    assert it.exchange is not None and it.exchange.events is not None
    assert it.exchange.events[0].type == "message_start"


def test_bare_batch_results_jsonl(tmp_path: Path) -> None:
    lines = [
        {"custom_id": f"r{i}", "result": {"type": "succeeded", "message": MESSAGE}}
        for i in range(2)
    ]
    rec = readers.read(write(tmp_path, "results.json", "\n".join(map(json.dumps, lines))))
    assert rec.format == "bare JSON-lines body"
    [item] = rec.items
    assert isinstance(item, readers.Interaction) and item.url.endswith("/results")


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        (
            "openai.json",
            json.dumps({"id": "chatcmpl-1", "object": "chat.completion"}),
            "top level is a dict",
        ),
        ("list.yaml", "- 1\n- 2\n", "top level is a list"),
        ("empty.yaml", "", "empty file"),
        (
            "obj.yaml",
            "interactions:\n- !!python/object:vcr.request.Request {uri: x}\n",
            "invalid YAML",
        ),
        ("apply.yaml", "x: !!python/object/apply:os.system [ls]\n", "refusing"),
        (
            "openai.sse",
            'data: {"id": "chatcmpl-1", "object": "chat.completion.chunk"}\n\n',
            "without message_start",
        ),
    ],
)
def test_unreadable_files_name_the_formats_tried(
    tmp_path: Path, name: str, text: str, words: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(readers.CassetteError) as info:
        readers.read(path)
    message = str(info.value)
    assert name in message and words in message
    if words.startswith("top level"):
        assert all(fmt in message for fmt in readers.FORMATS)


def test_one_bad_interaction_does_not_hide_the_others(tmp_path: Path) -> None:
    text = govcr(Sample(), Sample()).replace("code: 200", "code: soon", 1)
    got = read_cassette(write(tmp_path, "g.yaml", text))
    assert got[0].exchange is None and "status" in (got[0].error or "")
    assert got[0].path == "/v1/messages"  # still selectable, so the linter reports it
    assert got[1].exchange is not None


def test_nock_hex_chunks_and_flat_raw_headers(tmp_path: Path) -> None:
    text = WRITERS["nock-gzip"][1](Sample())
    assert isinstance(json.loads(text)[0]["response"], list)
    [item] = readers.read(write(tmp_path, "n.json", text)).items
    assert isinstance(item, readers.Interaction) and json.loads(item.response_body) == MESSAGE
    assert item.response_headers["content-encoding"] == "gzip"
