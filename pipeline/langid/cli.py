"""``consentcrawl langid``: identify the language of stdin lines (plain text or JSONL).

Each input line yields exactly one JSON object on stdout, in order, so outputs can be pasted
next to inputs. A line that parses as a JSON object is read through its ``text`` field (missing
-> empty text -> ``zxx``); any other line is the text itself.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterable, Iterator

from .identifier import LanguageIdentifier
from .model import ModelNotFoundError

BATCH = 512


def build_parser(prog: str = "consentcrawl langid") -> argparse.ArgumentParser:
    """Argument parser (also used by the main CLI to register the subcommand)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the langid options to an existing (sub)parser."""
    p.add_argument(
        "--model",
        default="default",
        help="default | lid176 | PATH to a fastText .bin/.ftz | HF hub id (local cache only)",
    )
    p.add_argument("--k", type=int, default=3, help="number of top labels to output (default 3)")
    p.add_argument("--thresholds", default=None, help="YAML thresholds file (default: shipped)")
    p.add_argument("--labels", choices=("individual", "macrolanguage"), default="individual",
                   help="label view: individual FineWeb-2 codes (default, cmn_Hani) or macrolanguages (zho_Hani)")


def _line_text(line: str) -> str:
    s = line.strip()
    if s.startswith("{"):
        try:
            obj = json.loads(s)
        except ValueError:
            return line
        if isinstance(obj, dict):
            text = obj.get("text", "")
            return text if isinstance(text, str) else ""
    return line


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(_line_text(line.rstrip("\r\n")))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(ident: LanguageIdentifier, lines: Iterable[str], out: io.TextIOBase) -> int:
    """Stream ``lines`` through ``ident`` and write JSONL; returns the number of lines."""
    n = 0
    for batch in _batches(lines, BATCH):
        for res in ident.predict_batch(batch):
            out.write(json.dumps(res.to_dict(), ensure_ascii=False) + "\n")
        out.flush()
        n += len(batch)
    return n


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns a process exit code."""
    args = build_parser().parse_args(argv)
    try:
        ident = LanguageIdentifier(model=args.model, thresholds=args.thresholds, k=args.k, labels=args.labels)
    except (ModelNotFoundError, ValueError, OSError) as exc:
        print(f"consentcrawl: error: {exc}", file=sys.stderr)
        return 2
    # Undecodable bytes become lone surrogates, which predict() handles (never a crash).
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape")
    run(ident, stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
