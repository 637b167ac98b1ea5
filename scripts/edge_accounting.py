"""Are all records of the edge-case archives accounted for? Our reader against an independent count.

For each archive in ../shared/data/cc_warc_samples (the 11 edge cases and the other samples) and
each crafted case of tests/crafted.py: records found by an independent framing (gzip members by
zlib, or `WARC/1.` version lines in uncompressed files), rows our reader yields, rows by outcome
and reason, and the accounted-for share (independent records with a row starting at their offset;
target 100%). `--reader PATH` runs another warc.py (e.g. the previous version) for a before/after.

    python scripts/edge_accounting.py [--reader /tmp/old/warc.py]
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import crafted  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "data" / "cc_warc_samples"


def independent_starts(blob: bytes) -> list[int]:
    """Record starts by our own framing: each gzip member holding a record header, or WARC/ lines."""
    if blob[:2] == b"\x1f\x8b":
        starts = []
        for off, _length, intact in crafted.member_spans(blob):
            d = zlib.decompressobj(31)
            try:
                head = d.decompress(blob[off:off + 65536], 64)
            except zlib.error:
                head = b""
            if not intact or head.lstrip(b"\r\n").startswith((b"WARC/", b"filedesc:", b"http")):
                starts.append(off)
        return starts
    return crafted.plain_record_starts(blob)


def load_reader(path: str | None):  # noqa: ANN201 - a WarcReader class from either module
    if path is None:
        from pipeline.ingest.warc import WarcReader

        return WarcReader
    spec = importlib.util.spec_from_file_location("warc_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WarcReader


def account(reader_cls, name: str, path: Path) -> tuple[str, int, int, str, float]:  # noqa: ANN001
    blob = path.read_bytes()
    starts = independent_starts(blob)
    try:
        docs = list(reader_cls(str(path)))
    except Exception as exc:  # a reader that raises accounts for nothing
        return name, len(starts), 0, f"RAISED {type(exc).__name__}", 0.0
    outcomes = collections.Counter(f"{d.outcome.value if d.outcome else 'document'}:{d.reason}".rstrip(":")
                                   for d in docs)
    offsets = {d.source_offset for d in docs}
    covered = sum(1 for s in starts if s in offsets)
    share = covered / len(starts) if starts else 1.0
    return name, len(starts), len(docs), ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())), share


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reader", help="path of a warc.py to measure instead of pipeline/ingest/warc.py")
    args = ap.parse_args(argv)
    reader_cls = load_reader(args.reader)
    rows = []
    files = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and ".warc" in p.name or p.name.endswith(".arc.gz"))
    for p in files:
        rows.append(account(reader_cls, str(p.relative_to(SAMPLES)), p))
    with tempfile.TemporaryDirectory() as tmp:
        for case in crafted.all_cases():
            path = Path(tmp) / (case.name + case.suffix)
            path.write_bytes(case.blob)
            rows.append(account(reader_cls, "crafted/" + case.name, path))
    print("| archive | records (independent) | rows | outcomes | accounted |\n|---|---|---|---|---|")
    total = found = 0
    for name, n, k, outcomes, share in rows:
        print(f"| {name} | {n} | {k} | {outcomes} | {share:.0%} |")
        total += n
        found += round(share * n)
    print(f"\naccounted for: {found}/{total} = {found / max(1, total):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
