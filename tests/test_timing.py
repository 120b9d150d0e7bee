"""Recorded timing: a slow stream is measured below vcrpy, stored in the cassette, and replayed at
its pace only when asked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conformance import cassettes, catalog
from conformance.cassettes import lint, serializer, timing
from conformance.client import ApiClient, AsyncApiClient, Target
from conformance.reference import DEFAULT_API_KEY, EmbeddedServer
from conformance.reference.state import ReferenceConfig
from conformance.settings import RecordMode
from conformance.sse import parse_sse
from conformance.target import TargetKind

DELAY = 0.05  # seconds between two events of the slow reference stream
STREAM = {"model": catalog.DEFAULT_MODEL, "max_tokens": 8, "stream": True,
          "messages": [{"role": "user", "content": "Hi"}]}
REPLAY = Target(TargetKind.REPLAY, "http://replay.invalid", "replay-no-key",
                catalog.DEFAULT_API_VERSION)


@pytest.fixture(scope="module")
def slow_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ReferenceConfig(stream_delay=DELAY)) as server:
        yield server


@pytest.fixture(scope="module")
def recorded(slow_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, list[float]]:
    """A cassette of one slow stream, and the event offsets the recording client reported."""
    path = tmp_path_factory.mktemp("timing") / "slow.yaml"
    target = Target(TargetKind.REFERENCE, slow_server.url, DEFAULT_API_KEY,
                    catalog.DEFAULT_API_VERSION)
    with cassettes.use_cassette(path, RecordMode.ONCE):
        client = ApiClient(target)
        try:
            ex = client.post("/v1/messages", STREAM)
        finally:
            client.close()
    assert ex.status == 200 and ex.events and ex.event_times is not None
    return path, ex.event_times


def _timing_entry(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    entry = document["interactions"][0]["response"][timing.TIMING_KEY]
    assert isinstance(entry, dict)
    return entry


def test_recording_measures_a_slow_stream_below_vcrpy(recorded: tuple[Path, list[float]]
                                                      ) -> None:
    path, times = recorded
    # vcrpy read the whole body before the client saw it: spaced offsets prove the wire timing
    assert len(times) >= 5 and times == sorted(times)
    assert times[-1] - times[0] >= (len(times) - 1) * DELAY * 0.8
    entry = _timing_entry(path)
    assert entry["events"] == times
    assert 0 <= entry["headers"] <= times[0]
    # one readable line of offsets in the file, and nothing the linter or scanner dislikes
    assert any(line.strip().startswith("events: [") for line in path.read_text().splitlines())
    result = lint.lint_paths([path], hosts=None, secrets=True)
    assert result.exit_code == 0, result.format_text()


def test_replay_without_timing_is_instant(recorded: tuple[Path, list[float]]) -> None:
    path, times = recorded
    start = time.monotonic()
    with cassettes.use_cassette(path, RecordMode.NONE):
        client = ApiClient(REPLAY)
        ex = client.post("/v1/messages", STREAM)
        client.close()
    assert time.monotonic() - start < times[-1] / 2
    assert ex.event_times is not None and len(ex.event_times) == len(times)
    assert ex.event_times[-1] - ex.event_times[0] < DELAY


def test_replay_with_timing_keeps_the_recorded_pace(recorded: tuple[Path, list[float]]
                                                    ) -> None:
    path, times = recorded
    start = time.monotonic()
    with cassettes.use_cassette(path, RecordMode.NONE, replay_timing=True):
        client = ApiClient(REPLAY)
        ex = client.post("/v1/messages", STREAM)
        client.close()
    assert time.monotonic() - start >= times[-1] * 0.9
    assert ex.event_times is not None and len(ex.event_times) == len(times)
    for replayed, original in zip(ex.event_times, times, strict=True):
        assert replayed >= original - 0.005  # never early; late only by scheduling noise
        assert replayed - original < 2 * DELAY
    assert [e.json for e in ex.events or []] == [e.json for e in parse_sse(ex.body)]


async def test_async_replay_with_timing(recorded: tuple[Path, list[float]]) -> None:
    path, times = recorded
    with cassettes.use_cassette(path, RecordMode.NONE, replay_timing=True):
        client = AsyncApiClient(REPLAY)
        ex = await client.post("/v1/messages", STREAM)
        await client.aclose()
    assert ex.event_times is not None
    assert ex.event_times[-1] >= times[-1] * 0.9
    assert ex.event_times[0] < ex.event_times[-1] - DELAY


async def test_async_recording_measures_the_wire(slow_server: EmbeddedServer,
                                                 tmp_path: Path) -> None:
    target = Target(TargetKind.REFERENCE, slow_server.url, DEFAULT_API_KEY,
                    catalog.DEFAULT_API_VERSION)
    path = tmp_path / "async.yaml"
    with cassettes.use_cassette(path, RecordMode.ONCE):
        client = AsyncApiClient(target)
        ex = await client.post("/v1/messages", STREAM)
        await client.aclose()
    assert ex.event_times is not None
    assert ex.event_times[-1] - ex.event_times[0] >= (len(ex.event_times) - 1) * DELAY * 0.8
    assert _timing_entry(path)["events"] == ex.event_times


def test_timing_survives_the_serializer_round_trip() -> None:
    data = {"version": 1, "interactions": [{"request": {}, "response": {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["text/event-stream"]},
        "body": {"string": "event: a\ndata: {}\n\n"},
        timing.TIMING_KEY: {"headers": 0.01, "events": [0.0123, 0.5]}}}]}
    text = serializer.serialize(data)
    assert "events: [0.0123, 0.5]" in text
    assert serializer.deserialize(text) == data


def test_cap_and_malformed_entries_do_not_stall() -> None:
    assert timing._offsets({"headers": 99, "events": [1, 500, -3]}, cap=2.0) == (2.0, [1, 2, 0])
    assert timing._offsets({"events": ["soon"]}, cap=2.0) == (0.0, [])


def test_without_the_private_pool_the_client_read_is_timed(
        slow_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx internals changed (no ``_pool`` to wrap): a live stream is timed as it is read."""
    monkeypatch.setattr(timing, "_wrap_pool", lambda transport, wrapper: None)
    target = Target(TargetKind.REFERENCE, slow_server.url, DEFAULT_API_KEY,
                    catalog.DEFAULT_API_VERSION)
    client = ApiClient(target)
    try:
        ex = client.post("/v1/messages", STREAM)
    finally:
        client.close()
    assert ex.event_times is not None and len(ex.event_times) == len(ex.events or [])
    assert ex.event_times[-1] - ex.event_times[0] >= (len(ex.event_times) - 1) * DELAY * 0.8


def test_answers_that_are_not_streams_are_left_alone() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"type": "message"})

    transport = timing.TimingTransport(httpx.MockTransport(answer))  # type: ignore[arg-type]
    client = ApiClient(REPLAY, http=httpx.Client(base_url="http://x.invalid",
                                                 transport=transport))
    ex = client.post("/v1/messages", {"stream": False})
    client.close()
    assert ex.status == 200 and ex.event_times is None and ex.json == {"type": "message"}


def test_replay_timing_setting_is_off_unless_asked() -> None:
    from conformance.settings import load_settings

    assert load_settings(environ={}).replay_timing is False
    on = load_settings(environ={"ANTHROPIC_CONFORMANCE_REPLAY_TIMING": "on"})
    assert on.replay_timing is True
