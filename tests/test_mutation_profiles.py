"""The mutation score covers profiles: each registered profile's mutants are scored from what
the profile declares (its reference implementation and ``mutants``), under its name."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import cli, mutation, profiles
from conformance.mutation import FAITHFUL, Outcome, Score

HERE = Path(__file__).resolve().parent
CCAS = "claude-code-api-service"

#: A profile whose one test looks at nothing its mutant changes: the mutant must survive.
QUIET = """
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.profiles import Probe, Profile, Toggle


def create_app(mutants: tuple[str, ...] = ()) -> Any:
    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "noise": "mutant" if mutants else "faithful"})

    return Starlette(routes=[Route("/ping", ping)])


PROFILE = Profile(
    name="quiet-ping",
    description="a ping whose suite misses its mutant",
    prefix="quiet",
    suite_dir=Path(__file__).resolve().parent / "suite",
    probes=(Probe("GET", "/ping"),),
    toggles=(Toggle("ping", "GET /ping"),),
    reference=create_app,
    mutants={"noise-changed": "the noise field changes, which no test reads"},
)
"""

QUIET_TEST = """
import pytest

from conformance.profiles import ProfileClient

pytestmark = pytest.mark.conformance_profile("quiet-ping", "ping")


def test_ping(profile_client: ProfileClient) -> None:
    assert profile_client.expect(profile_client.get("/ping"))["ok"] is True
"""


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example profile (its mutant is caught) and ``quiet-ping`` (its mutant is not),
    installed through the entry-point group, for this process and the score's workers."""
    package = tmp_path / "quiet_profile"
    (package / "suite").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(QUIET))
    (package / "suite" / "__init__.py").write_text("")
    (package / "suite" / "test_quiet.py").write_text(textwrap.dedent(QUIET_TEST))
    dist = tmp_path / "third_party-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: third-party\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{profiles.ENTRY_POINT_GROUP}]\n"
        "example-echo = example_profile:PROFILE\n"
        "quiet-ping = quiet_profile:PROFILE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{HERE}")  # the workers load them too
    profiles.refresh()
    yield
    profiles.refresh()


def test_a_profile_mutant_is_counted_killed_and_a_survivor_fails_the_command(
    third_party: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["mutation-score", "--profile", "example-echo", "--jobs", "2"]
    assert cli.main([*args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["score"] == {"killed": 1, "total": 1, "ok": True}
    (echo,) = data["mutants"]
    assert echo["name"] == "example-echo:length-off-by-one" and echo["verdict"] == "killed"
    assert echo["profile"] == "example-echo" and echo["features"] == ["echo"]
    assert echo["failures"][0]["test"] == "test_echo.py::test_echo"
    assert echo["failures"][0]["checks"] == ["echo-length"]
    assert data["faithful"] is None  # no mutant of the reference server was asked for
    assert [(c["name"], c["verdict"]) for c in data["controls"]] == [
        ("example-echo:faithful", "passed")
    ]

    assert cli.main([*args, "--profile", "quiet-ping"]) == 1
    out = capsys.readouterr().out
    assert "example-echo:length-off-by-one  killed    by test_echo.py::test_echo" in out
    assert "quiet-ping:noise-changed        SURVIVED" in out
    assert "faithful reference of quiet-ping: passed (1 tests" in out
    assert out.splitlines()[-1] == ("Mutation score: 1/2 killed (example-echo 1/1, quiet-ping 0/1)")


def test_one_profile_mutant_by_its_qualified_name(
    third_party: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["mutation-score", "--mutant", "quiet-ping:noise-changed", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "quiet-ping:noise-changed  SURVIVED  no test of feature(s) ping failed" in out
    assert "faithful server" not in out  # only the control of the mutant's profile ran


def test_selection_by_profile_and_name() -> None:
    core = mutation.select(profile_names=["anthropic"])
    assert core == list(mutation.MUTANTS)
    ccas = mutation.select(profile_names=[CCAS])
    assert ccas == [f"{CCAS}:{m}" for m in profiles.get(CCAS).mutants]
    everything = mutation.select()
    assert everything[: len(core)] == core and set(ccas) <= set(everything)
    assert mutation.select([f"{CCAS}:cost-rounded", "usage-missing"]) == [
        f"{CCAS}:cost-rounded",
        "usage-missing",
    ]
    with pytest.raises(ValueError, match=r"unknown profile.*nexus.*known: anthropic"):
        mutation.select(profile_names=["nexus"])
    with pytest.raises(ValueError, match=r"unknown mutant.*cost-rounded.*PROFILE:MUTANT"):
        mutation.select(["cost-rounded"])  # a profile's mutant needs its profile's name
    with pytest.raises(ValueError, match="usage-missing"):  # not among the selected profile's
        mutation.select(["usage-missing"], [CCAS])


def test_unknown_profile_is_one_usage_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["mutation-score", "--profile", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown profile(s): nope; known: anthropic" in err[0]


def test_profile_run_args_select_its_suite_and_switch_the_mutant_on() -> None:
    args = mutation.pytest_args(f"{CCAS}:cost-rounded", "2026-10-21")
    assert args[0].endswith("claude_code_api_service/suite")
    assert args[args.index("--conformance-profile") :][:2] == ["--conformance-profile", CCAS]
    assert "--ccas-mutant=cost-rounded" in args and "-x" in args
    assert not any(a.startswith(("--anthropic-features", "--anthropic-version")) for a in args)
    control = mutation.pytest_args(f"{CCAS}:{FAITHFUL}")
    assert not any(a.startswith("--ccas-mutant") for a in control)
    assert mutation.features_for(f"{CCAS}:cost-rounded") == tuple(
        t.name for t in profiles.get(CCAS).toggles if t.default
    )


def test_score_of_profiles_needs_every_control_to_pass() -> None:
    def run(name: str, code: int) -> Outcome:
        return Outcome(name, (), code, 1, [], 0.1)

    killed = Outcome(f"{CCAS}:cost-rounded", ("chat",), 1, 0, [mutation.Failure("t", "r")])
    good = Score(run(FAITHFUL, 0), [killed], [run(f"{CCAS}:{FAITHFUL}", 0)])
    assert good.ok and killed.profile == CCAS and not killed.control
    assert mutation.score_line(good) == (
        f"Mutation score: 1/1 killed ({CCAS} 1/1), and the faithful server and the faithful "
        f"reference of {CCAS} pass."
    )
    broken = Score(run(FAITHFUL, 0), [killed], [run(f"{CCAS}:{FAITHFUL}", 1)])
    assert not broken.ok
    assert mutation.score_line(broken).endswith(f"the faithful reference of {CCAS} FAILS.")
    assert "; the faithful reference of claude-code-api-service FAILED" in (
        mutation.format_text(broken)
    )
    assert not Score(None, [killed], []).ok  # no control ran: "killed" would mean nothing


def test_readme_lists_every_profile_mutant() -> None:
    table = mutation.markdown_profile_table()
    assert f"| `{CCAS}:cost-rounded` | costs are rounded to 4 decimals |" in table
    assert table.count("\n") == 1 + sum(
        len(p.mutants)
        for p in profiles.available().values()
        if mutation.scorable(p) and not p.native
    )
