"""``anthropic-conformance``: run the suite, serve the reference server."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

import conformance
from conformance import catalog


def run_help() -> str:
    """``run --help``: the suite's own settings first (pytest's help is ``pytest --help``)."""
    from conformance import catalog
    from conformance.settings import OPTIONS

    lines = [
        "usage: anthropic-conformance run [options] [pytest options]",
        "",
        "Runs the conformance suite. Each setting: option, else env variable, else ini "
        "key, else default.",
        "",
    ]
    for opt in OPTIONS:
        env = f"  [{opt.env}]" if opt.env else ""
        lines.append(f"  {opt.flag}=VALUE{env}")
        lines.append(f"      {opt.help}")
    lines += [
        "",
        f"anthropic-version values: {', '.join(catalog.API_VERSIONS)} "
        f"(default {catalog.DEFAULT_API_VERSION})",
        "features (default on): " + ", ".join(f.name for f in catalog.FEATURES if f.default),
        "features (off unless named): "
        + ", ".join(f.name for f in catalog.FEATURES if not f.default),
        "",
        "Any pytest option works too (-k, -x, -q, -n 4, --lf, ...): see pytest --help.",
    ]
    return "\n".join(lines)


def _run(pytest_args: Sequence[str]) -> int:
    """Run the shipped suite; any pytest argument passes through."""
    import pytest

    if any(arg in ("-h", "--help") for arg in pytest_args):
        print(run_help())
        return 0

    from conformance.runner import suite_args

    return int(pytest.main(suite_args(pytest_args)))


def _port(text: str) -> int:
    """An argparse type: a TCP port, 0 (a free one) to 65535; anything else is a usage error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 0 (any free port) to 65535")
    return port


def _listen_failure(exc: OSError) -> str:
    """Why a port could not be had, and what to do instead, in a few words."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({reason}); use an address of this machine, e.g. 127.0.0.1"
    if exc.errno == errno.EADDRINUSE:
        return f"{reason}; choose another --port, or --port 0 for any free one"
    if exc.errno == errno.EACCES:
        return f"{reason}; ports below 1024 need privileges, choose a higher --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{reason}; --host must be an address of this machine, e.g. 127.0.0.1"
    return reason


def _shown_keys(given: Sequence[str], default: str) -> str:
    """The keys for the banner. The defaults are printed in full: they are public constants of
    this package and the user needs them verbatim to configure a proxy. Keys given on the command
    line are masked to their last four characters: the user already knows them, and a "local"
    key is sometimes a copy of a real one (so that a proxy forwards it unchanged) while this line
    ends up in terminal scrollback and CI logs."""
    if not given:
        return f"{default} (the default)"
    hints = [f"****{key[-4:]}" if len(key) >= 12 else "*" * len(key) for key in given]
    return f"{', '.join(hints)} (given, masked)"


def _serve(args: argparse.Namespace) -> int:
    from conformance import reference
    from conformance.reference import latency

    keys = tuple(args.api_key) or (reference.DEFAULT_API_KEY,)
    admin_keys = tuple(args.admin_api_key) or (reference.DEFAULT_ADMIN_API_KEY,)
    try:
        # The wall clock: a suite pointed at this server asks for reports of the last days.
        config = reference.ReferenceConfig(
            api_keys=keys,
            admin_api_keys=admin_keys,
            mutants=tuple(args.mutant),
            now=datetime.now(UTC),
            stream_delay=args.stream_delay,
            faults=args.faults,
            fault_seed=args.fault_seed,
            latency=args.latency,
        )
    except ValueError as exc:
        print(f"anthropic-conformance serve: {exc}", file=sys.stderr)
        return 2
    config.batch_seconds = latency.batch_seconds(config.latency, config.batch_seconds)
    try:
        sock = reference.listen(args.host, args.port)
    except OSError as exc:
        print(
            f"anthropic-conformance serve: cannot listen on {args.host}:{args.port}: "
            f"{_listen_failure(exc)}",
            file=sys.stderr,
        )
        return 2
    mutants = f" with mutants {', '.join(args.mutant)}" if args.mutant else ""
    flaky = (
        f"\n  faults:     {args.faults:.0%} of requests at random (seed {args.fault_seed!r})"
        if args.faults
        else ""
    )
    if args.latency:
        flaky += f"\n  latency:    {args.latency:g} s before each answer"
    print(
        f"reference server on {reference.url_of(sock)}{mutants}{flaky}\n"
        f"  API keys:   {_shown_keys(args.api_key, reference.DEFAULT_API_KEY)}\n"
        f"  admin keys: {_shown_keys(args.admin_api_key, reference.DEFAULT_ADMIN_API_KEY)}",
        flush=True,
    )
    reference.serve(sock, config)
    return 0


def _report(args: argparse.Namespace) -> int:
    """Re-render a saved report; a bad file is one clear line naming it, not a traceback."""
    from conformance.report import render

    try:
        report = render.load_report(args.file)
    except render.ReportFileError as exc:
        print(f"anthropic-conformance report: {exc}", file=sys.stderr)
        return 2
    out = args.out or args.file.parent
    formats = {"md": ["md"], "html": ["html"], "all": ["md", "html", "svg"]}[args.format]
    if out.resolve() != args.file.parent.resolve():
        formats.insert(0, "json")  # a copy of the data next to its renderings
    try:
        written = render.write_report(report, out, formats)
    except OSError as exc:
        print(f"anthropic-conformance report: cannot write to {out}: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


def _version() -> str:
    """What ``--version`` says: this package, and the pytest and Python it runs on."""
    import platform

    import pytest

    return (
        f"anthropic-conformance {conformance.__version__} (pytest {pytest.__version__}, "
        f"Python {platform.python_version()})"
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every subcommand's options are defined below, one
    ``_add_<command>_arguments`` function each (``run`` takes pytest's)."""
    parser = argparse.ArgumentParser(
        prog="anthropic-conformance",
        description="Conformance suite for the Anthropic HTTP API and compatible proxies.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run", help="run the conformance suite (extra arguments go to pytest)", add_help=False
    )
    _add_serve_arguments(sub.add_parser("serve", help="start the reference server"))
    _add_report_arguments(
        sub.add_parser("report", help="re-render a saved report.json as Markdown/HTML")
    )
    _add_cleanup_arguments(
        sub.add_parser(
            "cleanup", help="delete resources that crashed runs left behind (run marker only)"
        )
    )
    _add_mutation_score_arguments(
        sub.add_parser(
            "mutation-score",
            help="run the suites against every mutant of the reference server and profiles",
        )
    )
    _add_check_cassettes_arguments(
        sub.add_parser(
            "check-cassettes", help="lint vcrpy cassettes against the contract; drift; secrets"
        )
    )
    _add_check_export_arguments(
        sub.add_parser(
            "check-export", help="validate claude.ai Enterprise audit-log exports (CSV, JSON)"
        )
    )
    _add_openapi_arguments(
        sub.add_parser("openapi", help="export the catalog and schemas as an OpenAPI 3.1 document")
    )
    _add_profiles_arguments(
        sub.add_parser("profiles", help="list the profiles (API surfaces) the suite can check")
    )
    return parser


def _add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=8765,
        help="TCP port (default 8765; 0 = any free port, printed at start)",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="an API key to accept (repeatable; default: the reference key)",
    )
    serve.add_argument(
        "--admin-api-key",
        action="append",
        default=[],
        help="an Admin API key to accept on /v1/organizations (repeatable; "
        "default: the reference admin key)",
    )
    serve.add_argument(
        "--mutant",
        action="append",
        default=[],
        help="switch on a named contract violation (repeatable)",
    )
    serve.add_argument(
        "--stream-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pause between SSE events, to serve slow streams (default 0)",
    )
    serve.add_argument(
        "--faults",
        type=float,
        default=0.0,
        metavar="RATE",
        help="answer this share of requests (0 to 1) with a random transient fault: 429, "
        "529, 5xx, a plain-text 503, a dropped connection, a cut stream, a late first byte "
        "(default 0)",
    )
    serve.add_argument(
        "--fault-seed",
        default="conformance",
        metavar="SEED",
        help="seed of those faults: the same seed meets the same faults (default conformance)",
    )
    serve.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before answering each request, like a distant API (default 0)",
    )


def _add_report_arguments(report: argparse.ArgumentParser) -> None:
    report.add_argument("file", type=Path, metavar="FILE.json")
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory to write into (default: the file's directory)",
    )
    report.add_argument(
        "--format",
        choices=("md", "html", "all"),
        default="all",
        help="md = report.md, html = report.html, all = both plus badge.svg",
    )


def _add_cleanup_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite's own target flags (``--anthropic-base-url``, the keys, ...), plus the marker."""
    from conformance.resources import RUN_MARKER_PREFIX
    from conformance.settings import OPTIONS

    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted, delete nothing"
    )
    parser.add_argument(
        "--run",
        default=RUN_MARKER_PREFIX,
        metavar="MARKER",
        help=f"only resources of this run marker (default: every suite run, {RUN_MARKER_PREFIX!r})",
    )
    for opt in OPTIONS:
        if opt.field in (
            "base_url",
            "api_key",
            "admin_api_key",
            "api_version",
            "auth",
            "max_retries",
            "retry_deadline",
            "timeout",
        ):
            parser.add_argument(
                opt.flag, dest=f"opt_{opt.field}", default=None, help=f"{opt.help} Env: {opt.env}."
            )


def _add_mutation_score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mutant",
        action="append",
        default=[],
        metavar="NAME",
        help="score only this mutant (repeatable; a profile's as PROFILE:MUTANT; default: all)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME",
        help="score the mutants of this profile (repeatable; anthropic is the reference "
        "server's own; default: every registered profile)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--jobs",
        type=_positive,
        default=None,
        help="worker processes, 1 or more (default: the number of CPUs)",
    )
    parser.add_argument(
        "--anthropic-version",
        dest="api_version",
        choices=catalog.API_VERSIONS,
        default=None,
        help="anthropic-version of the runs (default: the suite's default)",
    )
    parser.add_argument(
        "--api-version",
        action=_Renamed,
        nargs="?",
        help=argparse.SUPPRESS,
        new="--anthropic-version",
    )


def _add_check_cassettes_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="cassette files or directories (searched for *.yaml, *.yml, *.json)",
    )
    p.add_argument(
        "--host",
        action="append",
        default=[],
        help=f"host of the API to check (repeatable; default {catalog.REAL_API_HOST})",
    )
    p.add_argument(
        "--all-hosts",
        action="store_true",
        help="check every interaction whose path is an Anthropic API path, any host",
    )
    p.add_argument(
        "--strict-headers",
        action="store_true",
        help="check request-id even where the recorder stripped the API's headers",
    )
    p.add_argument(
        "--secrets",
        action="store_true",
        help="also scan for keys, tokens, cookies and credential headers",
    )
    p.add_argument(
        "--hide-org-ids",
        action="store_true",
        help="organization ids count as secrets too (implies --secrets)",
    )
    p.add_argument(
        "--as-of",
        type=_day,
        default=None,
        metavar="YYYY-MM-DD",
        help="judge every recording by the contract of this day (default: each "
        "recording's own date: Date header, recorder timestamp, provenance)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")


def _add_check_export_arguments(p: argparse.ArgumentParser) -> None:
    from conformance.profiles.usage_analytics.export import FORMATS

    p.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="audit-log export files (.csv, .json, .jsonl); one spelling of each e-mail "
        "address is also checked across them",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="the files' format (default auto: from the suffix, else the content)",
    )


def _add_profiles_arguments(parser: argparse.ArgumentParser) -> None:
    """``profiles`` takes no options: it lists every profile the registry knows."""


def _add_openapi_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the document here (default: standard output)",
    )
    parser.add_argument(
        "--format",
        choices=("json", "yaml"),
        default=None,
        help="json or yaml (default: from the --out suffix, else json)",
    )


def _positive(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def _day(text: str) -> date:
    """``--as-of``: an ISO date; argparse turns the error into a one-line usage error."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class _Renamed(argparse.Action):
    """An option that was renamed: refused with the new name, not silently ignored."""

    def __init__(self, *args: Any, new: str, **kw: Any) -> None:
        self.new = new
        super().__init__(*args, **kw)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        parser.error(f"{self.option_strings[0]} is now {self.new} (one name in every command)")


def console() -> NoReturn:
    """The console script and ``python -m conformance``: ``main`` in a process of its own."""
    from conformance.runner import own_the_process

    own_the_process()
    raise SystemExit(main())


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; output piped into ``head`` ends quietly, not in a traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away: point stdout at devnull so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for SIGPIPE
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:  # everything after `run` belongs to pytest, --help included
        return _run(args[1:])
    parsed = build_parser().parse_args(args)
    if parsed.command == "serve":
        return _serve(parsed)
    if parsed.command == "report":
        return _report(parsed)
    if parsed.command == "cleanup":
        from conformance import resources

        return resources.command(parsed)
    if parsed.command == "mutation-score":
        from conformance import mutation

        return mutation.command(parsed)
    if parsed.command == "check-cassettes":
        from conformance.cassettes import lint

        return lint.run(parsed)
    if parsed.command == "check-export":
        from conformance.profiles.usage_analytics import export

        return export.command(parsed.paths, parsed.format)
    if parsed.command == "profiles":
        from conformance import profiles

        return profiles.command()
    if parsed.command == "openapi":
        from conformance import openapi

        return openapi.command(parsed)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
