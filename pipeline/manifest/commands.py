"""CLI subcommands that work on a finished dataset folder (verify, ...)."""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """A problem the user can fix: printed as one line, exit 2."""


def cmd_verify(args: argparse.Namespace) -> int:
    from pipeline.manifest import verify

    if not Path(args.dir).is_dir():
        raise UsageError(f"dataset folder not found: {args.dir}")
    problems = verify(args.dir)
    for p in problems:
        print(f"FAIL {p}")
    if problems:
        print(f"{args.dir}: {len(problems)} problem(s)")
        return EXIT_FAIL
    print(f"{args.dir}: OK, every file matches manifest.json")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="recompute every checksum listed in DIR/manifest.json")
    p.add_argument("dir")
    p.set_defaults(func=cmd_verify)
