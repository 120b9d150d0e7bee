"""``anthropic-conformance``: run the suite, serve the reference server."""

from __future__ import annotations

import argparse
import os
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


def _serve(args: argparse.Namespace) -> int:
    from conformance import reference

    keys = tuple(args.api_key) or (reference.DEFAULT_API_KEY,)
    try:
        # The wall clock: a suite pointed at this server asks for reports of the last days.
        config = reference.ReferenceConfig(api_keys=keys, mutants=tuple(args.mutant),
                                           now=datetime.now(UTC),
                                           stream_delay=args.stream_delay)
    except ValueError as exc:
        print(f"anthropic-conformance serve: {exc}", file=sys.stderr)
        return 2
    shown = "the default key" if keys == (reference.DEFAULT_API_KEY,) else f"{len(keys)} key(s)"
    print(f"reference server on http://{args.host}:{args.port} accepting {shown}"
          f"{' with mutants ' + ', '.join(args.mutant) if args.mutant else ''}", flush=True)
    reference.serve(args.host, args.port, config)
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
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--api-key", action="append", default=[],
                       help="a key to accept (repeatable; default: the reference key)")
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
    from conformance import lint

    lint.build_parser(sub.add_parser(
        "check-cassettes", help="lint vcrpy cassettes against the contract; drift; secrets"))
    from conformance import openapi

    openapi.add_arguments(sub.add_parser(
        "openapi", help="export the catalog and schemas as an OpenAPI 3.1 document"))
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
        from conformance import lint

        return lint.run(parsed)
    if parsed.command == "openapi":
        from conformance import openapi

        return openapi.command(parsed)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
