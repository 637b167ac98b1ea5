"""Rebuild the bundled sample shard from ../shared/data, deterministically.

Output (pipeline/sample/):
- sample-0000{0,1}.warc.gz: real pages from ../shared/data/web_pages, only from collections whose
  licence allows redistribution (not L3S-GN1, not CleanEval). Each WARC record is copied byte for
  byte (the per-record gzip member), so its digests and offsets stay those of the source file.
- cc-main-2020-34-excerpt.warc.gz, cc-main-2024-22-whirlwind.warc.gz / .warc.wet.gz: real Common
  Crawl records, copied unchanged from ../shared/data/cc_warc_samples.
- robots-snapshot.parquet: the real robots.txt bodies (MIT-licensed sources only) of the sample's
  hosts, dated by when they were captured.
Usage: python scripts/build_sample.py [--shared ../shared/data] [--out pipeline/sample]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.ingest.warc import WarcReader, member_spans  # noqa: E402
from pipeline.optout.signals.meta import meta_tags  # noqa: E402
from pipeline.optout.snapshot import SnapshotRow, write_snapshot  # noqa: E402

NOT_REDISTRIBUTABLE = {"l3s-gn1", "cleaneval-final", "cleaneval-dev"}  # research-only / no licence
PAGES_PER_SHARD = 60
PER_LANGUAGE = 3
CC_FILES = {
    "cc-main-2020-34-excerpt.warc.gz": "resiliparse_cc-main-2020-34/warcfile.warc.gz",
    "cc-main-2024-22-whirlwind.warc.gz": "whirlwind_cc-main-2024-22/whirlwind.warc.gz",
    "cc-main-2024-22-whirlwind.warc.wet.gz": "whirlwind_cc-main-2024-22/whirlwind.warc.wet.gz",
}
# Capture dates of the robots.txt sources (see ../shared/data/robots_txt/PROVENANCE.md).
FIREWALL_DATES = {"2025-01": "2025-01-01T00:00:00Z", "2025-11": "2025-11-01T00:00:00Z"}
TEXTING_ROBOTS_DATE = "2022-03-01T00:00:00Z"


def _key(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def pages_with_signals(shared: Path) -> set[str]:
    """Record ids of pages whose head carries a machine-readable AI opt-out or search directive."""
    ids: set[str] = set()
    for f in sorted((shared / "web_pages").glob("*.warc.gz")):
        for doc in WarcReader(str(f)):
            if doc.html is None:
                continue
            for name, content in meta_tags(doc.html):
                if name.startswith("tdm-") or (name == "robots" and ("noai" in content or "noindex" in content)):
                    ids.add(doc.source_record_id)
    return ids


def select_pages(pages: list[dict[str, str]], robots_hosts: set[str], signal_ids: set[str]) -> list[dict[str, str]]:
    ok = [p for p in pages if p["source_collection"] not in NOT_REDISTRIBUTABLE]
    chosen: dict[str, dict[str, str]] = {}
    # 1. every page whose host has a real robots.txt in the snapshot: real opt-out decisions,
    #    and every page carrying another real opt-out signal (TDMRep, noai) or search directive
    for p in ok:
        if p["host"] in robots_hosts or p["record_id"] in signal_ids:
            chosen[p["record_id"]] = p
    # 2. a few pages per declared language, for language diversity
    by_lang: dict[str, list[dict[str, str]]] = defaultdict(list)
    for p in ok:
        by_lang[p["html_lang"].split("-")[0].lower() or "?"].append(p)
    for lang in sorted(by_lang):
        if lang in ("en", "?"):
            continue
        for p in sorted(by_lang[lang], key=lambda p: _key(p["record_id"]))[:PER_LANGUAGE]:
            chosen[p["record_id"]] = p
    # 3. fill up with other pages, chosen by hash
    rest = sorted((p for p in ok if p["record_id"] not in chosen), key=lambda p: _key(p["record_id"]))
    for p in rest:
        if len(chosen) >= 2 * PAGES_PER_SHARD:
            break
        if int(p["payload_bytes"]) <= 400_000:
            chosen[p["record_id"]] = p
    return sorted(chosen.values(), key=lambda p: _key(p["record_id"]))


def record_spans(path: Path) -> dict[str, tuple[int, int]]:
    """WARC-Record-ID → (offset, length) of its gzip member in the file."""
    return {rid: (off, length) for rid, _, off, length in member_spans(str(path))}


def robots_rows(shared: Path) -> list[SnapshotRow]:
    rows: list[SnapshotRow] = []
    for line in (shared / "robots_txt/gpt_firewall_2025_sample.jsonl").read_text("utf-8").splitlines():
        d = json.loads(line)
        rows.append(
            SnapshotRow(d["domain"], FIREWALL_DATES[d["snapshot_month"]], 200, d["body"].encode("utf-8"),
                        f"samber/the-great-gpt-firewall:{d['source_path']} (MIT; body lower-cased upstream)")
        )
    tr = shared / "robots_txt/texting_robots_testdata"
    names = {"reddit": "www.reddit.com", "twitter": "twitter.com", "quora": "www.quora.com",
             "ebay": "www.ebay.com", "cnet": "www.cnet.com", "zillow": "www.zillow.com",
             "substack": "substack.com", "ipwatchdog": "ipwatchdog.com",
             "aviation-safety.net": "aviation-safety.net", "sgppto": "www.sgppto.com"}
    for f in sorted(tr.glob("*.robots.txt")):
        host = names.get(f.name.removesuffix(".robots.txt"))
        if host:
            rows.append(SnapshotRow(host, TEXTING_ROBOTS_DATE, 200, f.read_bytes(),
                                    f"Smerity/texting_robots:testdata/{f.name} (MIT)"))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "pipeline" / "sample")
    args = ap.parse_args()
    shared: Path = args.shared
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.warc*"):
        old.unlink()

    all_rows = robots_rows(shared)
    robots_hosts = {r.host for r in all_rows}
    pages = list(csv.DictReader(open(shared / "web_pages/pages.csv", encoding="utf-8")))
    chosen = select_pages(pages, robots_hosts, pages_with_signals(shared))
    spans = {f: record_spans(shared / "web_pages" / f) for f in sorted({p["warc_file"] for p in chosen})}
    shards = [chosen[i::2] for i in range(2)]
    for n, shard in enumerate(shards):
        with open(out / f"sample-{n:05d}.warc.gz", "wb") as dst:
            for p in shard:
                off, length = spans[p["warc_file"]][p["record_id"]]
                with open(shared / "web_pages" / p["warc_file"], "rb") as src:
                    src.seek(off)
                    dst.write(src.read(length))
    for name, rel in CC_FILES.items():
        shutil.copyfile(shared / "cc_warc_samples" / rel, out / name)

    sample_hosts = {p["host"] for p in chosen}
    snap_rows = [r for r in all_rows if r.host in sample_hosts]
    meta = write_snapshot(snap_rows, out / "robots-snapshot.parquet",
                          made_by="scripts/build_sample.py from ../shared/data/robots_txt (MIT sources)")
    with open(out / "pages.csv", "w", newline="", encoding="utf-8") as fh:
        cols = ["warc_file", "record_id", "url", "host", "source_collection", "source_repo",
                "source_commit", "source_path", "html_lang", "payload_bytes", "sha256"]
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for n, shard in enumerate(shards):
            for p in shard:
                w.writerow({**p, "warc_file": f"sample-{n:05d}.warc.gz"})
    print(f"pages: {len(chosen)} in {len(shards)} shards; robots entries: {meta['entries']} "
          f"for {len({r.host for r in snap_rows})} hosts; snapshot id {str(meta['snapshot_id'])[:16]}")
    for f in sorted(out.iterdir()):
        print(f"  {f.name}: {f.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
