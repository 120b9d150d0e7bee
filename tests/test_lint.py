"""check-cassettes: the corpus passes, planted problems are flagged readably, drift is listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from corpus_paths import corpus_dirs
from format_samples import MESSAGE, REQUEST, stream_events

from conformance import cli
from conformance.cassettes import lint
from conformance.cassettes.interactions import read_cassette
from conformance.sse import format_sse

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED = REPO_ROOT / "cassettes"

HEADERS = {"content-type": ["application/json"], "request-id": ["req_01"]}


def interaction(
    body: Any = None,
    *,
    headers: dict[str, list[str]] | None = None,
    request: dict[str, Any] | None = None,
    sse: str | None = None,
    host: str = "api.anthropic.com",
    request_headers: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    resp_headers = dict(HEADERS if headers is None else headers)
    if sse is not None:
        resp_headers["content-type"] = ["text/event-stream; charset=utf-8"]
    return {
        "request": {
            "body": json.dumps(request or REQUEST),
            "method": "POST",
            "uri": f"https://{host}/v1/messages",
            "headers": request_headers or {"anthropic-version": ["2023-06-01"]},
        },
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": resp_headers,
            "body": {
                "string": sse if sse is not None else json.dumps(MESSAGE if body is None else body)
            },
        },
    }


def write(path: Path, *interactions: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "interactions": list(interactions)}))
    return path


def test_clean_cassette_passes(tmp_path: Path) -> None:
    sse = format_sse(stream_events()).decode()
    path = write(
        tmp_path / "ok.yaml",
        interaction(),
        interaction(sse=sse, request={**REQUEST, "stream": True}),
    )
    result = lint.lint_paths([path])
    assert result.problems == [] and result.exit_code == 0
    assert result.summary["messages.create"].checked == 2


def test_removed_required_field_is_flagged(tmp_path: Path) -> None:
    broken = {k: v for k, v in MESSAGE.items() if k != "usage"}
    path = write(tmp_path / "broken.yaml", interaction(), interaction(broken))
    result = lint.lint_paths([path])
    assert result.exit_code == 1
    [problem] = [p for p in result.problems if p.check.startswith("schema:")]
    assert (problem.index, problem.endpoint) == (1, "messages.create")
    assert "required: 'usage'" in problem.rule
    line = problem.format()
    assert line.startswith(f"{path}#1: messages.create /:") and "missing required field" in line
    assert {p.index for p in result.problems} == {1}  # the intact interaction 0 is clean
    assert result.summary["messages.create"].problems == len(result.problems)


def test_reordered_stream_is_flagged(tmp_path: Path) -> None:
    events = stream_events()
    events[1], events[3] = events[3], events[1]  # content_block_stop before its start
    sse = format_sse(events).decode()
    path = write(
        tmp_path / "reordered.yaml", interaction(sse=sse, request={**REQUEST, "stream": True})
    )
    result = lint.lint_paths([path])
    assert result.exit_code == 1
    assert "sse-grammar" in {p.check for p in result.problems}
    text = result.format_text()
    assert f"{path}#0: messages.create /events/" in text and "[sse-grammar]" in text


def test_corrupt_yaml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.yaml"
    bad.write_text("interactions:\n  - request: [unclosed\n")
    good = write(tmp_path / "good.yaml", interaction())
    result = lint.lint_paths([bad, good])
    assert result.exit_code == 2
    [error] = result.errors
    assert str(bad) in error.format() and "invalid YAML" in error.message
    assert result.summary["messages.create"].checked == 1  # the good file was still checked


def test_unreadable_interaction_is_reported_not_raised(tmp_path: Path) -> None:
    odd = interaction()
    odd["response"]["status"] = {"code": None}
    path = write(tmp_path / "odd.yaml", odd)
    result = lint.lint_paths([path])
    [problem] = result.problems
    assert problem.check == lint.UNREADABLE and "status" in problem.message


def test_planted_unknown_field_is_listed_as_drift(tmp_path: Path) -> None:
    grown = {**MESSAGE, "brand_new_field": 1, "content": [{"type": "hologram", "data": "x"}]}
    path = write(
        tmp_path / "drift.yaml",
        interaction(
            grown,
            headers={**HEADERS, "anthropic-new-thing": ["1"]},
            request_headers={"anthropic-beta": ["future-beta-2030-01-01"]},
        ),
    )
    result = lint.lint_paths([path])
    names = {(e.kind, e.name) for e in result.drift.sorted()}
    assert ("field", "/brand_new_field") in names
    assert ("content block type", "hologram") in names
    assert ("header", "anthropic-new-thing") in names
    assert ("beta header", "future-beta-2030-01-01") in names
    text = result.format_text()
    assert (
        "drift:" in text and f"field /brand_new_field (messages.create) seen 1x in {path}#0" in text
    )
    assert result.problems == []  # drift is not a failure


def test_scrubbed_headers_are_judged_header_by_header(tmp_path: Path) -> None:
    path = write(
        tmp_path / "stripped.yaml", interaction(headers={"content-type": ["application/json"]})
    )
    assert lint.lint_paths([path]).exit_code == 0
    strict = lint.lint_paths([path], strict_headers=True)
    assert [p.check for p in strict.problems] == ["request-id"]
    # A recorder that removed only request-id and kept the rest (chatlas): not recorded, a note.
    kept = write(
        tmp_path / "kept.yaml",
        interaction(
            headers={
                "content-type": ["application/json"],
                "anthropic-ratelimit-requests-limit": ["50"],
            }
        ),
    )
    result = lint.lint_paths([kept])
    assert result.problems == []
    assert any(n.startswith("request-id not recorded") for n in result.notes)
    # A placeholder written in is "redacted"; a real but malformed id is still a problem.
    for value in ("<REQUEST_ID>", "REQUEST-ID-XXX"):
        redacted = write(
            tmp_path / "redacted.yaml",
            interaction(headers={"content-type": ["application/json"], "request-id": [value]}),
        )
        got = lint.lint_paths([redacted])
        assert got.problems == [] and any(n.startswith("request-id redacted") for n in got.notes)
    foreign = write(
        tmp_path / "foreign.yaml",
        interaction(
            headers={
                "content-type": ["application/json"],
                "request-id": ["3f2c1a7e-9b4d-4c1e-8a6f-2d9e0b7c5a14"],
            }
        ),
    )
    assert [p.check for p in lint.lint_paths([foreign]).problems] == ["request-id"]


def test_host_selection(tmp_path: Path) -> None:
    path = write(tmp_path / "proxy.yaml", interaction(host="proxy.local"))
    assert lint.lint_paths([path]).checked == 0
    assert lint.lint_paths([path], hosts=["proxy.local"]).checked == 1
    assert lint.lint_paths([path], hosts=None).checked == 1


def test_cli_text_json_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = {k: v for k, v in MESSAGE.items() if k != "id"}
    path = write(tmp_path / "b.yaml", interaction(broken))
    assert cli.main(["check-cassettes", str(path)]) == 1
    out = capsys.readouterr().out
    assert "required: 'id'" in out and "messages.create" in out and "1 problem(s)" in out
    assert cli.main(["check-cassettes", "--format", "json", str(path)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 1 and data["problems"][0]["index"] == 0
    assert data["summary"]["messages.create"] == {
        "checked": 1,
        "problems": 1,
        "headers_not_checked": 0,
    }
    assert cli.main(["check-cassettes", str(tmp_path / "missing.yaml")]) == 2


def test_shipped_cassettes_pass_the_linter_and_the_secret_scanner() -> None:
    result = lint.lint_paths([SHIPPED], hosts=None, secrets=True)
    assert result.files > 0 and result.checked > 0
    assert result.problems == [] and result.errors == [], result.format_text()
    assert result.secrets == [], result.format_text()
    assert all("reference server" in what for what in result.provenance.values())


CORPORA = [p for p in corpus_dirs() if p.is_dir()]


@pytest.mark.skipif(not CORPORA, reason=f"no corpus at {corpus_dirs()}")
def test_every_real_response_in_the_corpus_passes() -> None:
    result = lint.lint_paths(CORPORA)
    assert result.checked > 100
    assert result.errors == [] and result.problems == [], result.format_text()
    # Every file was read, and every interaction is either checked or skipped with a reason.
    assert sum(result.formats.values()) == result.files
    assert sum(result.skipped_by.values()) == result.skipped
    assert result.checked == sum(s.checked for s in result.summary.values())


def _timed(entry: Any) -> dict[str, Any]:
    """A streamed interaction (6 SSE events) carrying the recorded timing ``entry``."""
    it = interaction(sse=format_sse(stream_events()).decode(), request={**REQUEST, "stream": True})
    it["response"]["timing"] = entry
    return it


def test_valid_timing_fills_event_times(tmp_path: Path) -> None:
    offsets = [0.01, 0.02, 0.02, 0.03, 0.05, 0.05]
    path = write(tmp_path / "timed.yaml", _timed({"headers": 0.005, "events": offsets}))
    [it] = read_cassette(path)
    assert it.timing_error is None and it.exchange is not None
    assert it.exchange.event_times == offsets
    result = lint.lint_paths([path])
    assert result.problems == [] and result.exit_code == 0


def test_no_timing_leaves_event_times_unset(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.yaml", _timed({"events": [0.1] * 6}))
    doc = yaml.safe_load(path.read_text())
    del doc["interactions"][0]["response"]["timing"]
    path.write_text(yaml.safe_dump(doc))
    [it] = read_cassette(path)
    assert it.exchange is not None and it.exchange.event_times is None and it.timing_error is None


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"headers": 0.0, "events": [0.1, 0.2, 0.3]}, "3 event offset(s) but the answer has 6"),
        ({"events": [0.1, -0.2, 0.3, 0.4, 0.5, 0.6]}, "negative"),
        ({"events": [0.1, 0.2, 0.15, 0.4, 0.5, 0.6]}, "decrease at 2"),
        ({"events": [0.1, "soon", 0.3, 0.4, 0.5, 0.6]}, "not a number"),
        ({"events": [0.1, True, 0.3, 0.4, 0.5, 0.6]}, "not a number"),
        ({"headers": -1, "events": [0.1] * 6}, "headers offset"),
        ({"events": "0.1 0.2"}, "not a list"),
        ([0.1, 0.2], "not a mapping"),
    ],
)
def test_malformed_timing_is_ignored_and_reported(tmp_path: Path, entry: Any, words: str) -> None:
    path = write(tmp_path / "bad-timing.yaml", interaction(), _timed(entry))
    items = read_cassette(path)  # never raises
    assert items[1].exchange is not None and items[1].exchange.event_times is None
    assert items[1].timing_error is not None and words in items[1].timing_error
    result = lint.lint_paths([path])
    assert result.exit_code == 1
    [problem] = result.problems
    assert (problem.check, problem.index, problem.pointer) == (lint.TIMING, 1, "/timing")
    line = problem.format()
    assert line.startswith(f"{path}#1: messages.create /timing: [timing] malformed timing entry")
    assert words in line
    assert result.summary["messages.create"].problems == 1
