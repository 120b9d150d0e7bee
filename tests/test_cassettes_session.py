"""A run's cassettes without pytest: each test's path, the overwrite refusal before the run, the
cassette a test's clients run in, and the secret scan of what a recording run wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from conformance import catalog
from conformance.cassettes import RunCassettes, serializer
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer
from conformance.settings import RecordMode, Settings
from conformance.target import resolve

KEY = "sk-ant-api03-PLANTEDsecretKEY0123456789"


def _run(tmp_path: Path, mode: RecordMode | None) -> RunCassettes:
    return RunCassettes(
        tmp_path, "2023-06-01", mode, serializer.REFERENCE_TARGET, catalog.DEFAULT_MODEL
    )


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as s:
        yield s


def _call(server: EmbeddedServer, content: str = "hi") -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/messages",
        headers={"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"},
        json={
            "model": catalog.DEFAULT_MODEL,
            "max_tokens": 5,
            "messages": [{"role": "user", "content": content}],
        },
    )


def test_path_per_test_module_and_api_version(tmp_path: Path) -> None:
    run = _run(tmp_path, RecordMode.ONCE)
    assert (
        run.path_for("conformance.suite.test_messages", "test_basic[a/b c]")
        == tmp_path / "2023-06-01" / "test_messages" / "test_basic[a_b_c].yaml"
    )
    assert run.path_for(None, "test_x") == tmp_path / "2023-06-01" / "tests" / "test_x.yaml"


@pytest.mark.parametrize("mode", [RecordMode.ALL, RecordMode.NEW_EPISODES])
def test_overwrite_refused_before_the_run_names_the_files(tmp_path: Path, mode: RecordMode) -> None:
    run = _run(tmp_path, mode)
    existing = run.path_for("m", "test_a")
    existing.parent.mkdir(parents=True)
    existing.write_text("interactions: []\n")
    problem = run.overwrite_error([("m", "test_a"), ("m", "test_b")])
    assert problem is not None
    assert (
        f"--record-mode={mode.value} would write over 1 existing cassette(s) ({existing})"
        in problem
        and "--record-mode=rewrite" in problem
    )
    assert run.overwrite_error([("m", "test_b")]) is None  # nothing recorded yet: fine
    for harmless in (RecordMode.ONCE, RecordMode.REWRITE, RecordMode.NONE, None):
        assert _run(tmp_path, harmless).overwrite_error([("m", "test_a")]) is None


def test_no_record_mode_opens_nothing(tmp_path: Path, server: EmbeddedServer) -> None:
    run = _run(tmp_path, None)
    with run.open("m", "test_a"):
        assert _call(server).status_code == 200
    assert run.opened == set() and not any(tmp_path.iterdir())
    assert run.scan_recorded() == []


def test_a_recorded_cassette_is_stamped_and_replays(tmp_path: Path, server: EmbeddedServer) -> None:
    run = _run(tmp_path, RecordMode.ONCE)
    with run.open("conformance.suite.test_models", "test_a"):
        assert _call(server).status_code == 200
    [path] = run.opened
    document = yaml.safe_load(path.read_text())
    prov = serializer.provenance_of(document)
    assert prov is not None and prov["target"] == serializer.REFERENCE_TARGET
    assert prov["model"] == catalog.DEFAULT_MODEL and prov["api_version"] == "2023-06-01"
    assert run.scan_recorded(extra=[DEFAULT_API_KEY]) == []  # the filters kept the key out
    with _run(tmp_path, RecordMode.NONE).open("conformance.suite.test_models", "test_a"):
        assert _call(server).status_code == 200  # served from the cassette, network blocked


def test_scan_recorded_reads_the_written_files(tmp_path: Path, server: EmbeddedServer) -> None:
    run = _run(tmp_path, RecordMode.ONCE)
    with run.open("m", "test_leak"):
        _call(server, content=KEY)  # the filters mask it; plant one behind their back below
    [path] = run.opened
    path.write_text(path.read_text() + f"# {KEY}\n")
    hits = run.scan_recorded()
    assert [(h.file, h.kind) for h in hits] == [(str(path), "api key")]
    assert KEY not in hits[0].format()
    replay = _run(tmp_path, RecordMode.NONE)  # a replay writes nothing, so it scans nothing
    replay.opened.add(path)
    assert replay.scan_recorded() == []


def test_from_settings_says_what_was_recorded_against() -> None:
    def runs(settings: Settings) -> RunCassettes:
        return RunCassettes.from_settings(settings, resolve(settings).recorded_as)

    reference = runs(Settings.model_validate({"record_mode": "once"}))
    assert reference.target == serializer.REFERENCE_TARGET
    assert reference.record_mode is RecordMode.ONCE
    live = runs(
        Settings.model_validate(
            {"base_url": "http://127.0.0.1:9/", "api_key": KEY, "replay_timing": True}
        )
    )
    assert live.target == "127.0.0.1:9" and live.record_mode is None and live.replay_timing


def test_a_rerecord_that_changes_nothing_leaves_the_file_as_it_was(
    pytester: pytest.Pytester,
) -> None:
    """Two recordings of the same exchanges differ only in the port, Date, the recording time
    and stream timing: the re-record keeps the first file byte for byte (a no-op diff)."""
    from suite_args import SUITE

    args = (
        *SUITE,
        "-q",
        "-p",
        "no:randomly",
        "--anthropic-report-dir=none",
        "--anthropic-target=embedded",
        "-k",
        "test_models_list or test_streaming_text",
        f"--anthropic-cassette-dir={pytester.path / 'c'}",
    )
    assert pytester.runpytest(*args, "--record-mode=once").ret == 0
    files = sorted((pytester.path / "c").rglob("*.yaml"))
    assert len(files) == 2
    first = {p: p.read_bytes() for p in files}
    assert pytester.runpytest(*args, "--record-mode=rewrite").ret == 0
    assert {p: p.read_bytes() for p in files} == first


def test_same_recording_sees_a_real_change() -> None:
    from conformance.cassettes.session import same_recording

    old = "interactions:\n- request: {uri: 'http://127.0.0.1:1/v1/models', headers: {host: [a]}}\n"
    moved = old.replace("127.0.0.1:1", "127.0.0.1:2").replace("[a]", "[b]")
    assert same_recording(old, moved)
    assert not same_recording(old, old.replace("/v1/models", "/v1/files"))
