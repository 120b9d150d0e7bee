"""A run's cassettes: one per test, opened for recording or replay, refused before they would
overwrite reviewed recordings, and scanned for secrets once written.

Plain values and functions, no pytest: plugin.py only wires them to hooks and fixtures, so the
same rules hold for anyone driving the suite's client from their own harness.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from conformance.cassettes import secrets, serializer, timing
from conformance.cassettes import vcr as vcr_config
from conformance.cassettes.vcr import CassetteMiss, CassetteUnreadable

if TYPE_CHECKING:
    from vcr.request import Request
from conformance.exceptions import ConformanceToolError
from conformance.settings import RecordMode, Settings


class CassetteOverwrite(ConformanceToolError, RuntimeError):
    """A recording run would write over existing cassettes without ``--record-mode=rewrite``."""


def cassette_path(cassette_dir: Path, api_version: str, module: str, test_name: str) -> Path:
    """``<dir>/<api version>/<module>/<test>.yaml``: one cassette per test and API version."""
    safe = re.sub(r"[^A-Za-z0-9_.\-\[\]]", "_", test_name)
    return cassette_dir / api_version / module / f"{safe}.yaml"


def overwrite_error(record_mode: RecordMode | None, paths: Iterable[Path]) -> str | None:
    """The usage error for a run that would write over ``paths`` that exist, else None.

    ``all`` and ``new_episodes`` change existing cassettes: the user must say ``rewrite`` so that
    a stray flag never silently replaces reviewed recordings. ``once`` never overwrites.
    """
    if record_mode not in (RecordMode.ALL, RecordMode.NEW_EPISODES):
        return None
    existing = sorted({p for p in paths if p.exists()})
    if not existing:
        return None
    shown = ", ".join(str(p) for p in existing[:3]) + (", ..." if len(existing) > 3 else "")
    return (
        f"--record-mode={record_mode.value} would write over {len(existing)} existing "
        f"cassette(s) ({shown}). Re-recording replaces reviewed recordings: say so with "
        "--record-mode=rewrite, or use --record-mode=once to record only missing ones."
    )


#: How many answers cassettes have played back in this process (``plays``).
_PLAYS = [0]


def plays() -> int:
    """How many answers cassettes have played back so far in this process: a run log that sees
    this grow while an exchange was made knows the answer came from a cassette, not the target."""
    return _PLAYS[0]


@contextlib.contextmanager
def use_cassette(
    path: Path,
    record_mode: RecordMode,
    provenance: dict[str, str] | None = None,
    replay_timing: bool = False,
) -> Iterator[None]:
    """Record or replay ``path``; replay-only mode also blocks every socket.

    A cassette that gets new interactions is stamped with ``provenance`` (serializer.py).
    With ``replay_timing``, replayed streams that carry a recorded ``timing`` arrive at that pace
    (for clients built on ``timing.TimingTransport``); else at once.
    """
    problem = overwrite_error(record_mode, [path])
    if problem:
        raise CassetteOverwrite(problem)
    before = path.read_text() if record_mode is RecordMode.REWRITE and path.exists() else None
    if before is not None:
        path.unlink()
    if record_mode is RecordMode.NONE and not path.exists():
        raise CassetteMiss(f"no cassette {path} to replay (--record-mode=none)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if record_mode is RecordMode.NONE:
            stack.enter_context(vcr_config.block_network())
        # Only loading is guarded: an exception from the test body must propagate untouched.
        try:
            cassette = stack.enter_context(vcr_config.make_vcr(record_mode).use_cassette(str(path)))
        except Exception as exc:  # vcrpy/yaml raise anything from TypeError to ParserError
            cause = " ".join(str(exc).split())  # YAML errors span lines; keep the summary one
            raise CassetteUnreadable(
                f"cassette {path} is unreadable: {type(exc).__name__}: {cause[:300]}"
            ) from None  # the cause is in the message; vcrpy's frames would only be noise
        play = cassette.play_response

        def play_and_note(request: Request) -> Any:
            response = play(request)
            timing.note_played(response, replay_timing)
            _PLAYS[0] += 1
            return response

        cassette.play_response = play_and_note  # an instance attribute shadows the method
        try:
            yield
        finally:
            if provenance and cassette.dirty and not cassette.write_protected:
                # vcrpy saves its ``metadata`` mapping as a top-level key of the cassette.
                cassette._metadata[serializer.PROVENANCE_KEY] = dict(provenance)
    if before is not None and path.exists() and same_recording(before, path.read_text()):
        path.write_text(before)  # a re-record that changed nothing leaves the file as it was


#: What changes between two recordings of the same exchange: where the server listened, when it
#: answered, how fast its events came. A re-record that differs only there is no change.
_VOLATILE_HEADERS = frozenset({"host", "date"})


def same_recording(old: str, new: str) -> bool:
    """Whether two cassette texts record the same exchanges, volatile fields aside (the
    ephemeral port in ``host``/``uri``, ``Date``, the recording time, stream timing)."""
    try:
        return bool(_stable(yaml.safe_load(old)) == _stable(yaml.safe_load(new)))
    except yaml.YAMLError:
        return False


def _stable(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {
            k: _stable(v, str(k))
            for k, v in value.items()
            if str(k).lower() not in _VOLATILE_HEADERS and k not in (timing.TIMING_KEY, "recorded")
        }
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if key == "uri" and isinstance(value, str):
        return re.sub(r"^(\w+://)[^/]+", r"\1", value)  # the path and query, not the host
    return value


def _module_folder(module: str | None) -> str:
    """The folder of a test module's cassettes: its last dotted name (``tests`` without one)."""
    return module.rsplit(".", 1)[-1] if module else "tests"


@dataclass
class RunCassettes:
    """The cassettes of one run: where each test's lives, and which ones the run opened.

    ``record_mode`` None means no cassettes at all (the client talks to the target).
    """

    cassette_dir: Path
    api_version: str
    record_mode: RecordMode | None
    target: str  # what ``provenance.target`` says (serializer.target_of)
    model: str
    replay_timing: bool = False
    opened: set[Path] = field(default_factory=set)
    #: When the run began (``time.time()``): ``written_since_start`` finds what it wrote.
    started_at: float = field(default_factory=time.time)

    @classmethod
    def from_settings(cls, settings: Settings, recorded_as: str) -> RunCassettes:
        """``recorded_as``: the target a recording names (``RunTarget.recorded_as``)."""
        return cls(
            cassette_dir=settings.cassette_dir,
            api_version=settings.api_version,
            record_mode=settings.record_mode,
            target=recorded_as,
            model=settings.model,
            replay_timing=settings.replay_timing,
        )

    def path_for(self, module: str | None, test_name: str) -> Path:
        """The cassette of test ``test_name`` in the module named ``module`` (dotted)."""
        return cassette_path(self.cassette_dir, self.api_version, _module_folder(module), test_name)

    def recorded_calls(self, module: str | None, test_name: str) -> int:
        """How many requests the test's cassette holds (0 without one): what the test costs on
        a distant target, read without parsing the YAML."""
        try:
            text = self.path_for(module, test_name).read_bytes()
        except OSError:
            return 0
        return text.count(b"\n- request:") + text.startswith(b"- request:")

    def overwrite_error(self, tests: Iterable[tuple[str | None, str]]) -> str | None:
        """Before anything runs: the usage error when recording ``(module, test)`` pairs would
        write over existing cassettes (see ``overwrite_error``), else None."""
        return overwrite_error(self.record_mode, (self.path_for(m, t) for m, t in tests))

    def replay_dir_error(self) -> str | None:
        """Before anything runs: the usage error when a replay has no cassettes at all for
        its API version (a mistyped ``--anthropic-cassette-dir``), else None."""
        if self.record_mode is not RecordMode.NONE:
            return None
        version_dir = self.cassette_dir / self.api_version
        if version_dir.is_dir():
            return None
        found = (
            "no such directory"
            if not self.cassette_dir.is_dir()
            else f"it has no {self.api_version}/ folder"
        )
        return (
            f"--anthropic-cassette-dir {self.cassette_dir}: {found}, so there is nothing "
            f"to replay for anthropic-version {self.api_version}; cassettes live in "
            "<dir>/<anthropic-version>/<test module>/<test>.yaml. Check the path, or record "
            "them first: --record-mode=once"
        )

    def open(self, module: str | None, test_name: str) -> contextlib.AbstractContextManager[None]:
        """The context a test's clients run in: its cassette, or nothing without a record mode."""
        if self.record_mode is None:
            return contextlib.nullcontext()
        path = self.path_for(module, test_name)
        self.opened.add(path)
        provenance = serializer.make_provenance(self.target, self.model, self.api_version)
        return use_cassette(path, self.record_mode, provenance, replay_timing=self.replay_timing)

    def written_since_start(self) -> list[Path]:
        """Cassette files under the cassette dir modified since the run began: what a process
        that could not say which files it wrote (a dead xdist worker) may have written."""
        if self.record_mode in (None, RecordMode.NONE) or not self.cassette_dir.is_dir():
            return []
        # A second of slack: some filesystems store modification times coarsely.
        since = self.started_at - 1.0
        return sorted(
            p
            for p in self.cassette_dir.rglob("*.yaml")
            if p.is_file() and p.stat().st_mtime >= since
        )

    def scan_recorded(self, extra: Iterable[str] = ()) -> list[secrets.SecretHit]:
        """After a recording run: the secrets in the cassettes it wrote (the files, not the
        filters), organization ids included; ``extra`` are this run's own keys."""
        if self.record_mode in (None, RecordMode.NONE):
            return []
        written = sorted(p for p in self.opened if p.exists())
        return secrets.scan_paths(written, hide_org_ids=True, extra=extra)
