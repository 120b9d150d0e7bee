"""Every subcommand's options are defined in ``conformance/cli.py``, one naming scheme."""

from __future__ import annotations

import argparse

import pytest

from conformance import cli, mutation, resources
from conformance.cassettes import lint


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_each_subcommand_has_its_add_arguments_function_in_cli() -> None:
    names = set(_subcommands()) - {"run"}  # `run` hands every argument to pytest
    assert names == {
        "serve",
        "report",
        "cleanup",
        "mutation-score",
        "check-cassettes",
        "check-export",
        "openapi",
        "profiles",
    }
    for name in names:
        assert callable(getattr(cli, f"_add_{name.replace('-', '_')}_arguments")), name


@pytest.mark.parametrize("module", [lint, resources, mutation])
def test_no_module_defines_a_parser_of_its_own(module: object) -> None:
    assert not hasattr(module, "build_parser") and not hasattr(module, "add_arguments")


def test_the_options_are_unchanged() -> None:
    sub = _subcommands()
    args = sub["check-cassettes"].parse_args(["x.yaml", "--as-of", "2024-10-10", "--secrets"])
    assert str(args.as_of) == "2024-10-10" and args.secrets and args.paths[0].name == "x.yaml"
    args = sub["cleanup"].parse_args(["--dry-run", "--anthropic-base-url", "http://127.0.0.1:9"])
    assert args.dry_run and args.opt_base_url == "http://127.0.0.1:9"
    args = sub["mutation-score"].parse_args(["--mutant", "usage-missing", "--jobs", "2"])
    assert args.mutant == ["usage-missing"] and args.jobs == 2


def test_the_mutation_module_entry_is_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m conformance.mutation`` without ``--worker`` is ``mutation-score``."""
    with pytest.raises(SystemExit) as exited:
        mutation.main(["--jobs", "0"])
    assert exited.value.code == 2
    assert "mutation-score: error: argument --jobs" in capsys.readouterr().err
