"""``anthropic-conformance``: run the suite, serve the reference server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import conformance

SUITE = "conformance.suite"


def _run(pytest_args: Sequence[str]) -> int:
    """Run the shipped suite; any pytest argument passes through."""
    import pytest

    # The CLI imported this package before pytest could mark it for assertion rewriting; the
    # suite's own test modules are still rewritten, so that warning is noise here.
    return int(pytest.main(["--pyargs", SUITE, "-p", "no:cacheprovider",
                            "-o", "asyncio_default_fixture_loop_scope=function",
                            "-W", "ignore::pytest.PytestAssertRewriteWarning", *pytest_args]))


def _serve(args: argparse.Namespace) -> int:
    from conformance import reference

    keys = tuple(args.api_key) or (reference.DEFAULT_API_KEY,)
    try:
        config = reference.ReferenceConfig(api_keys=keys, mutants=tuple(args.mutant))
    except ValueError as exc:
        print(f"anthropic-conformance serve: {exc}", file=sys.stderr)
        return 2
    shown = "the default key" if keys == (reference.DEFAULT_API_KEY,) else f"{len(keys)} key(s)"
    print(f"reference server on http://{args.host}:{args.port} accepting {shown}"
          f"{' with mutants ' + ', '.join(args.mutant) if args.mutant else ''}", flush=True)
    reference.serve(args.host, args.port, config)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:  # everything after `run` belongs to pytest, --help included
        return _run(args[1:])
    parsed = build_parser().parse_args(args)
    if parsed.command == "serve":
        return _serve(parsed)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
