"""``anthropic-conformance``: run the suite, serve the reference server."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import conformance


def _run(pytest_args: Sequence[str]) -> int:
    """Run the shipped suite; any pytest argument passes through."""
    import pytest

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

    keys = tuple(args.api_key) or (reference.DEFAULT_API_KEY,)
    admin_keys = tuple(args.admin_api_key) or (reference.DEFAULT_ADMIN_API_KEY,)
    try:
        # The wall clock: a suite pointed at this server asks for reports of the last days.
        config = reference.ReferenceConfig(api_keys=keys, admin_api_keys=admin_keys,
                                           mutants=tuple(args.mutant), now=datetime.now(UTC),
                                           stream_delay=args.stream_delay)
    except ValueError as exc:
        print(f"anthropic-conformance serve: {exc}", file=sys.stderr)
        return 2
    try:
        sock = reference.listen(args.host, args.port)
    except OSError as exc:
        print(f"anthropic-conformance serve: cannot listen on {args.host}:{args.port}: "
              f"{_listen_failure(exc)}", file=sys.stderr)
        return 2
    mutants = f" with mutants {', '.join(args.mutant)}" if args.mutant else ""
    print(f"reference server on {reference.url_of(sock)}{mutants}\n"
          f"  API keys:   {_shown_keys(args.api_key, reference.DEFAULT_API_KEY)}\n"
          f"  admin keys: {_shown_keys(args.admin_api_key, reference.DEFAULT_ADMIN_API_KEY)}",
          flush=True)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anthropic-conformance",
        description="Conformance suite for the Anthropic HTTP API and compatible proxies.")
    parser.add_argument("--version", action="version", version=conformance.__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the conformance suite (extra arguments go to pytest)",
                   add_help=False)
    serve = sub.add_parser("serve", help="start the reference server")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=_port, default=8765,
                       help="TCP port (default 8765; 0 = any free port, printed at start)")
    serve.add_argument("--api-key", action="append", default=[],
                       help="an API key to accept (repeatable; default: the reference key)")
    serve.add_argument("--admin-api-key", action="append", default=[],
                       help="an Admin API key to accept on /v1/organizations (repeatable; "
                            "default: the reference admin key)")
    serve.add_argument("--mutant", action="append", default=[],
                       help="switch on a named contract violation (repeatable)")
    serve.add_argument("--stream-delay", type=float, default=0.0, metavar="SECONDS",
                       help="pause between SSE events, to serve slow streams (default 0)")
    report = sub.add_parser("report", help="re-render a saved report.json as Markdown/HTML")
    report.add_argument("file", type=Path, metavar="FILE.json")
    report.add_argument("--out", type=Path, default=None,
                        help="directory to write into (default: the file's directory)")
    report.add_argument("--format", choices=("md", "html", "all"), default="all",
                        help="md = report.md, html = report.html, all = both plus badge.svg")
    from conformance import mutation, resources

    resources.add_arguments(sub.add_parser(
        "cleanup", help="delete resources that crashed runs left behind (run marker only)"))
    mutation.add_arguments(sub.add_parser(
        "mutation-score", help="run the suite against every mutant of the reference server"))
    from conformance.cassettes import lint

    lint.build_parser(sub.add_parser(
        "check-cassettes", help="lint vcrpy cassettes against the contract; drift; secrets"))
    from conformance import openapi

    openapi.add_arguments(sub.add_parser(
        "openapi", help="export the catalog and schemas as an OpenAPI 3.1 document"))
    sub.add_parser("profiles", help="list the profiles (API surfaces) the suite can check")
    return parser


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
    if parsed.command == "profiles":
        from conformance import profiles

        return profiles.command()
    if parsed.command == "openapi":
        from conformance import openapi

        return openapi.command(parsed)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
