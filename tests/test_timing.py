"""Recorded timing: a slow stream is measured below vcrpy, stored in the cassette, and replayed at
its pace only when asked.

No test bounds its own duration: a replay's pace is checked on a fake clock put into
``timing.clock`` / ``timing.sleep`` (it moves only when the pacing sleeps), and a recording's
offsets only by what causality guarantees whatever the load (the last event cannot arrive before
the server sent it; the first arrived before the last was sent)."""

from __future__ import annotations

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
STREAM = {
    "model": catalog.DEFAULT_MODEL,
    "max_tokens": 8,
    "stream": True,
    "messages": [{"role": "user", "content": "Hi"}],
}
REPLAY = Target(
    TargetKind.REPLAY, "http://replay.invalid", "replay-no-key", catalog.DEFAULT_API_VERSION
)


class FakeClock:
    """A clock that moves only when the pacing sleeps; it notes every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(timing, "clock", fake)
    monkeypatch.setattr(timing, "sleep", fake.sleep)
    monkeypatch.setattr(timing, "async_sleep", fake.async_sleep)
    return fake


def _measured_on_the_wire(times: list[float]) -> None:
    """Offsets of the slow stream as measured while it arrived (not after vcrpy read it all).

    The server sleeps DELAY between events, so the last cannot arrive before (n-1)*DELAY (load
    only delays it further), and the first was read before the last was sent: a client lagging
    by less than the whole stream still sees them apart, while a body timed after vcrpy had read
    it would give every event the same offset."""
    assert len(times) >= 5 and times == sorted(times)
    assert times[-1] >= (len(times) - 1) * DELAY
    assert times[0] < times[-1] - DELAY


@pytest.fixture(scope="module")
def slow_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ReferenceConfig(stream_delay=DELAY)) as server:
        yield server


@pytest.fixture(scope="module")
def recorded(
    slow_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[float]]:
    """A cassette of one slow stream, and the event offsets the recording client reported."""
    path = tmp_path_factory.mktemp("timing") / "slow.yaml"
    target = Target(
        TargetKind.REFERENCE, slow_server.url, DEFAULT_API_KEY, catalog.DEFAULT_API_VERSION
    )
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


def test_recording_measures_a_slow_stream_below_vcrpy(recorded: tuple[Path, list[float]]) -> None:
    path, times = recorded
    # vcrpy read the whole body before the client saw it: spaced offsets prove the wire timing
    _measured_on_the_wire(times)
    entry = _timing_entry(path)
    assert entry["events"] == times
    assert 0 <= entry["headers"] <= times[0]
    # one readable line of offsets in the file, and nothing the linter or scanner dislikes
    assert any(line.strip().startswith("events: [") for line in path.read_text().splitlines())
    result = lint.lint_paths([path], hosts=None, secrets=True)
    assert result.exit_code == 0, result.format_text()


def test_replay_without_timing_is_instant(
    recorded: tuple[Path, list[float]], fake_clock: FakeClock
) -> None:
    path, times = recorded
    with cassettes.use_cassette(path, RecordMode.NONE):
        client = ApiClient(REPLAY)
        ex = client.post("/v1/messages", STREAM)
        client.close()
    assert fake_clock.slept == []  # never paced
    assert ex.event_times is not None and len(ex.event_times) == len(times)
    assert set(ex.event_times) == {0.0}  # every event at once


def _paced_exactly(times: list[float], replayed: list[float] | None, fake: FakeClock) -> None:
    """Each event was delivered at its recorded offset, and the pacing slept exactly that long."""
    assert replayed == pytest.approx(times, abs=1e-4)
    assert sum(fake.slept) == pytest.approx(times[-1], abs=1e-4)
    assert all(s >= 0 for s in fake.slept)


def test_replay_with_timing_keeps_the_recorded_pace(
    recorded: tuple[Path, list[float]], fake_clock: FakeClock
) -> None:
    path, times = recorded
    with cassettes.use_cassette(path, RecordMode.NONE, replay_timing=True):
        client = ApiClient(REPLAY)
        ex = client.post("/v1/messages", STREAM)
        client.close()
    _paced_exactly(times, ex.event_times, fake_clock)
    assert [e.json for e in ex.events or []] == [e.json for e in parse_sse(ex.body)]


async def test_async_replay_with_timing(
    recorded: tuple[Path, list[float]], fake_clock: FakeClock
) -> None:
    path, times = recorded
    with cassettes.use_cassette(path, RecordMode.NONE, replay_timing=True):
        client = AsyncApiClient(REPLAY)
        ex = await client.post("/v1/messages", STREAM)
        await client.aclose()
    _paced_exactly(times, ex.event_times, fake_clock)


async def test_async_recording_measures_the_wire(
    slow_server: EmbeddedServer, tmp_path: Path
) -> None:
    target = Target(
        TargetKind.REFERENCE, slow_server.url, DEFAULT_API_KEY, catalog.DEFAULT_API_VERSION
    )
    path = tmp_path / "async.yaml"
    with cassettes.use_cassette(path, RecordMode.ONCE):
        client = AsyncApiClient(target)
        ex = await client.post("/v1/messages", STREAM)
        await client.aclose()
    assert ex.event_times is not None
    _measured_on_the_wire(ex.event_times)
    assert _timing_entry(path)["events"] == ex.event_times


def test_timing_survives_the_serializer_round_trip() -> None:
    data = {
        "version": 1,
        "interactions": [
            {
                "request": {},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"content-type": ["text/event-stream"]},
                    "body": {"string": "event: a\ndata: {}\n\n"},
                    timing.TIMING_KEY: {"headers": 0.01, "events": [0.0123, 0.5]},
                },
            }
        ],
    }
    text = serializer.serialize(data)
    assert "events: [0.0123, 0.5]" in text
    assert serializer.deserialize(text) == data


def test_cap_and_malformed_entries_do_not_stall() -> None:
    assert timing._offsets({"headers": 99, "events": [1, 500, -3]}, cap=2.0) == (2.0, [1, 2, 0])
    assert timing._offsets({"events": ["soon"]}, cap=2.0) == (0.0, [])


def test_without_the_private_pool_the_client_read_is_timed(
    slow_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx internals changed (no ``_pool`` to wrap): a live stream is timed as it is read."""
    monkeypatch.setattr(timing, "_wrap_pool", lambda transport, wrapper: None)
    target = Target(
        TargetKind.REFERENCE, slow_server.url, DEFAULT_API_KEY, catalog.DEFAULT_API_VERSION
    )
    client = ApiClient(target)
    try:
        ex = client.post("/v1/messages", STREAM)
    finally:
        client.close()
    assert ex.event_times is not None and len(ex.event_times) == len(ex.events or [])
    _measured_on_the_wire(ex.event_times)


def test_answers_that_are_not_streams_are_left_alone() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"type": "message"})

    transport = timing.TimingTransport(httpx.MockTransport(answer))  # type: ignore[arg-type]
    client = ApiClient(REPLAY, http=httpx.Client(base_url="http://x.invalid", transport=transport))
    ex = client.post("/v1/messages", {"stream": False})
    client.close()
    assert ex.status == 200 and ex.event_times is None and ex.json == {"type": "message"}


def test_replay_timing_setting_is_off_unless_asked() -> None:
    from conformance.settings import load_settings

    assert load_settings(environ={}).replay_timing is False
    on = load_settings(environ={"ANTHROPIC_CONFORMANCE_REPLAY_TIMING": "on"})
    assert on.replay_timing is True
