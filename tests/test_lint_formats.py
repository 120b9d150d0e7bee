"""check-cassettes over every format: planted problems are flagged, real recording habits are not.

The samples are written by ``format_samples`` in each format's own layout; the same planted
problem (a removed required field, a reordered stream, a real-looking key) must be found in all.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from format_samples import MESSAGE, WRITERS, Sample, ruby_vcr, sse_text, stream_events

from conformance import cli
from conformance.cassettes import lint

PLANTED_KEY = "sk-ant-api03-PLANTEDrealLOOKING0123456789abcdefXYZ"
STREAM_FORMATS = sorted(set(WRITERS) - {"vcrpy-aiohttp"})


def write(tmp_path: Path, fmt: str, *samples: Sample) -> Path:
    name, writer = WRITERS[fmt]
    if fmt == "bare" and samples[0].body.startswith(b"event:"):
        name = "c.sse"
    path = tmp_path / fmt / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(writer(*samples), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_a_clean_answer_passes_in_every_format(tmp_path: Path, fmt: str) -> None:
    result = lint.lint_paths([write(tmp_path, fmt, Sample())])
    assert result.exit_code == 0, result.format_text()
    assert result.checked == 1 and result.summary["messages.create"].checked == 1


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_a_removed_required_field_is_flagged_in_every_format(tmp_path: Path, fmt: str) -> None:
    broken = {k: v for k, v in MESSAGE.items() if k != "usage"}
    result = lint.lint_paths([write(tmp_path, fmt, Sample(body=json.dumps(broken).encode()))])
    assert result.exit_code == 1
    assert any("required: 'usage'" in p.rule for p in result.problems), result.format_text()


@pytest.mark.parametrize("fmt", STREAM_FORMATS)
def test_a_reordered_stream_is_flagged_in_every_format(tmp_path: Path, fmt: str) -> None:
    events = stream_events()
    events[1], events[3] = events[3], events[1]  # content_block_stop before its start
    result = lint.lint_paths([write(tmp_path, fmt, Sample.stream(events))])
    assert "sse-grammar" in {p.check for p in result.problems}, result.format_text()
    clean = lint.lint_paths([write(tmp_path / "ok", fmt, Sample.stream())])
    assert clean.exit_code == 0, clean.format_text()


@pytest.mark.parametrize("fmt", sorted(set(WRITERS) - {"bare"}))
def test_a_real_looking_key_is_caught_and_placeholders_are_not(tmp_path: Path, fmt: str) -> None:
    placeholder = write(tmp_path / "p", fmt, Sample())  # x-api-key: <ANTHROPIC_API_KEY>
    assert lint.lint_paths([placeholder], secrets=True).secrets == []
    leaked = Sample(request_headers={"anthropic-version": "2023-06-01", "x-api-key": PLANTED_KEY})
    hits = lint.lint_paths([write(tmp_path / "k", fmt, leaked)], secrets=True).secrets
    assert hits and all(PLANTED_KEY not in h.format() for h in hits)  # reported, masked


@pytest.mark.parametrize(
    "value",
    [
        "<ANTHROPIC_API_KEY>",
        "\u2039ANTHROPIC_API_KEY\u203a",
        "X-API-KEY-PLACEHOLDER",
        "sk-ant-xxxxxxxxxxxx",
        "REDACTED",
    ],
)
def test_redaction_placeholders_are_not_credentials(tmp_path: Path, value: str) -> None:
    sample = Sample(request_headers={"x-api-key": value, "authorization": f"Bearer {value}"})
    assert lint.lint_paths([write(tmp_path, "vcrpy-yaml", sample)], secrets=True).secrets == []


def test_old_batches_are_judged_by_the_contract_of_their_day(tmp_path: Path) -> None:
    batch: dict[str, Any] = {
        "id": "msgbatch_01",
        "type": "message_batch",
        "processing_status": "in_progress",
        "request_counts": {
            "processing": 1,
            "succeeded": 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        },
        "ended_at": None,
        "created_at": "2024-10-10T02:05:27Z",
        "expires_at": "2024-10-11T02:05:27Z",
        "cancel_initiated_at": None,
        "results_url": None,
    }
    sample = Sample(
        method="GET",
        url="https://api.anthropic.com/v1/messages/batches/msgbatch_01",
        body=json.dumps(batch).encode(),
        request=None,
        headers={"content-type": "application/json", "request-id": "req_01"},
    )
    old = tmp_path / "old.yml"
    old.write_text(ruby_vcr(sample, recorded_at="Thu, 10 Oct 2024 02:05:27 GMT"))
    result = lint.lint_paths([old])
    assert result.exit_code == 0, result.format_text()
    assert any("archived_at" in n for n in result.notes)
    # The same answer recorded after the field existed is a problem, and --as-of overrides.
    new = tmp_path / "new.yml"
    new.write_text(ruby_vcr(sample, recorded_at="Wed, 29 Jan 2025 14:24:58 GMT"))
    assert any("archived_at" in p.rule for p in lint.lint_paths([new]).problems)
    assert lint.lint_paths([new], as_of=date(2024, 10, 1)).exit_code == 0
    assert lint.lint_paths([old], as_of=date(2026, 1, 1)).exit_code == 1
    # With no date at all, today's contract applies and the message says how to date it.
    [undated] = lint.lint_paths([write(tmp_path, "vcrpy-yaml", sample)]).problems
    assert "--as-of" in undated.message


@pytest.mark.parametrize("content_type", ["text/plain", "text/html; charset=utf-8"])
def test_an_edge_5xx_is_a_note_but_a_4xx_in_that_form_is_a_problem(
    tmp_path: Path, content_type: str
) -> None:
    edge = Sample(
        status=503,
        body=b"upstream connect error or disconnect/reset before headers",
        headers={"content-type": content_type, "server": "envoy"},
    )
    result = lint.lint_paths([write(tmp_path / "e", "go-vcr-v1", edge)])
    assert result.problems == [] and result.exit_code == 0
    assert any(n.startswith("transient edge answer") for n in result.notes)
    client = Sample(status=400, body=b"Bad Request", headers={"content-type": content_type})
    assert lint.lint_paths([write(tmp_path / "c", "go-vcr-v1", client)]).exit_code == 1


def _models(host: str, body: dict[str, Any]) -> Sample:
    return Sample(
        method="GET",
        url=f"https://{host}/v1/models",
        body=json.dumps(body).encode(),
        request=None,
        headers={"content-type": "application/json", "request-id": "req_01"},
    )


def test_all_hosts_is_a_superset_and_skips_other_providers(tmp_path: Path) -> None:
    anthropic_page = {
        "data": [
            {
                "type": "model",
                "id": "claude-haiku-4-5",
                "display_name": "Claude Haiku 4.5",
                "created_at": "2025-10-01T00:00:00Z",
            }
        ],
        "has_more": False,
        "first_id": "claude-haiku-4-5",
        "last_id": "claude-haiku-4-5",
    }
    openai_page = {
        "object": "list",
        "data": [{"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "openai"}],
    }
    legacy = Sample(
        url="https://api.anthropic.com/v1/complete",
        body=json.dumps(
            {
                "type": "completion",
                "id": "compl_01",
                "completion": " hi",
                "stop_reason": "stop_sequence",
                "model": "claude-2.1",
                "stop": "\n\nHuman:",
            }
        ).encode(),
    )
    path = write(
        tmp_path,
        "vcrpy-yaml",
        Sample(),
        legacy,
        _models("api.openai.com", openai_page),
        _models("api.mistral.ai", openai_page),
        _models("gateway.local", anthropic_page),
    )
    default = lint.lint_paths([path])
    every = lint.lint_paths([path], hosts=None)
    assert default.checked == 2  # /v1/messages and /v1/complete on the API's host
    assert every.checked == 3  # ... plus the Anthropic-shaped page on another host
    assert every.skipped_by == {lint.OTHER_PROVIDER: 2}
    assert every.problems == [], every.format_text()
    assert "2 another provider" in every.format_text()


def test_checking_nothing_is_not_a_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["check-cassettes", str(empty)]) == lint.NOTHING_CHECKED
    assert "no recording files found" in capsys.readouterr().err
    proxy = write(tmp_path, "vcrpy-yaml", Sample(url="https://proxy.local/v1/messages"))
    assert cli.main(["check-cassettes", str(proxy)]) == lint.NOTHING_CHECKED
    err = capsys.readouterr().err
    assert "proxy.local" in err and "--host" in err and "--all-hosts" in err
    assert cli.main(["check-cassettes", "--host", "proxy.local", str(proxy)]) == 0


def test_an_unreadable_file_is_an_error_naming_the_formats_tried(tmp_path: Path) -> None:
    odd = tmp_path / "notes.json"
    odd.write_text(json.dumps({"hello": "world"}))
    result = lint.lint_paths([odd, write(tmp_path, "har", Sample())])
    assert result.exit_code == 2 and result.checked == 1
    [error] = result.errors
    assert "go-vcr" in error.message and "nock" in error.message


def test_hide_org_ids_implies_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = Sample(
        headers={
            "content-type": "application/json",
            "request-id": "req_01",
            "anthropic-organization-id": "67bb8feb-7bca-4369-9e04-339d73646b40",
        }
    )
    path = write(tmp_path, "vcrpy-yaml", sample)
    assert cli.main(["check-cassettes", str(path)]) == 0
    capsys.readouterr()
    assert cli.main(["check-cassettes", "--hide-org-ids", str(path)]) == 1
    assert "organization id" in capsys.readouterr().out


def test_bad_as_of_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["check-cassettes", "--as-of", "last tuesday", str(tmp_path)])
    assert info.value.code == 2 and "not a date" in capsys.readouterr().err


def test_provenance_is_one_line_per_kind_of_recording(tmp_path: Path) -> None:
    stamp = {
        "target": "reference-server",
        "recorded": "2026-11-24T07:34:05Z",
        "suite_version": "0.1.0",
        "model": "claude-haiku-4-5",
        "api_version": "2023-06-01",
    }
    for i in range(3):
        doc = yaml.safe_load(WRITERS["vcrpy-yaml"][1](Sample()))
        doc["metadata"] = {"provenance": {**stamp, "recorded": f"2026-11-24T07:34:0{i}Z"}}
        (tmp_path / f"c{i}.yaml").write_text(yaml.safe_dump(doc))
    text = lint.lint_paths([tmp_path]).format_text()
    lines = [ln for ln in text.splitlines() if "reference server" in ln]
    assert len(lines) == 1 and "3 files" in lines[0]


def test_bare_sse_transcript_is_judged_as_a_stream(tmp_path: Path) -> None:
    path = tmp_path / "stream.sse"
    events = stream_events()
    del events[-1]  # no message_stop
    path.write_text(sse_text(events))
    result = lint.lint_paths([path])
    assert result.exit_code == 1 and result.summary["messages.create"].checked == 1
