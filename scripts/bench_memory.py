"""Peak memory of a worker processing one Common-Crawl-sized WARC, and its throughput.

    python scripts/bench_memory.py --size-mb 1000          # ~1 GB, the size of one CC WARC file
    python scripts/bench_memory.py --size-mb 50 --quick    # short run

No 1 GB Common Crawl file is available offline, so the input is built by REPEATING real records:
the gzip members of ../shared/data/web_pages/*.warc.gz (1,006 real pages; the bundled sample's
120 when ../shared is absent) are copied byte for byte, over and over, until the file reaches the
size. Nothing is rewritten, so record ids repeat; every copy is still processed in full.

The pipeline runs as in production (`run_pipeline`, a LocalCluster with --workers worker
processes, the bundled robots snapshot). A thread samples the RSS of every process the cluster
started every 0.2 s; the peak per worker is the number to hold under 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.config import config_from_dict  # noqa: E402
from pipeline.ingest.warc import member_spans  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "pipeline" / "sample"
SNAPSHOT = SAMPLE / "robots-snapshot.parquet"
GiB = 1024**3


def source_files() -> list[Path]:
    shared = sorted((SHARED / "web_pages").glob("*.warc.gz"))
    return shared or sorted(SAMPLE.glob("sample-*.warc.gz"))


def build_warc(path: Path, size_mb: float) -> dict[str, Any]:
    """Copy the source files' gzip members round robin until `size_mb`; return what was written."""
    spans = [(f, off, n) for f in source_files() for _id, _type, off, n in member_spans(str(f))]
    target = int(size_mb * 1024 * 1024)
    handles = {f: open(f, "rb") for f in {s[0] for s in spans}}
    written = copies = 0
    try:
        with open(path, "wb") as out:
            while written < target:
                f, off, n = spans[copies % len(spans)]
                handles[f].seek(off)
                out.write(handles[f].read(n))
                written += n
                copies += 1
    finally:
        for h in handles.values():
            h.close()
    return {"path": str(path), "bytes": written, "records_written": copies, "distinct_records": len(spans),
            "sources": [str(f) for f in source_files()], "repeated": True}


class RssSampler:
    """Peak RSS of each process below this one (nannies' workers, spawn helpers), every `interval` s."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.me = psutil.Process()
        self.peaks: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.driver_peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        self.samples += 1
        try:
            self.driver_peak = max(self.driver_peak, self.me.memory_info().rss)
            children = self.me.children(recursive=True)
        except psutil.Error:
            return
        for p in children:
            try:
                rss = p.memory_info().rss
                if p.pid not in self.names:
                    self.names[p.pid] = " ".join(p.cmdline()[-3:])[-80:]
            except psutil.Error:
                continue
            self.peaks[p.pid] = max(self.peaks.get(p.pid, 0), rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(path: Path, out: Path, workers: int, interval: float) -> dict[str, Any]:
    from pipeline.runner import run_pipeline

    config = config_from_dict({"inputs": [str(path)], "output": str(out), "policy": "apertus",
                               "robots_snapshot": str(SNAPSHOT), "workers": workers}, ROOT)
    started = time.perf_counter()
    with RssSampler(interval) as rss:
        report = run_pipeline(config, workers=workers)
    wall = time.perf_counter() - started
    counts = report.manifest["counts"]
    shard_seconds = sum(r["seconds"] for r in report.shards)
    # Worker processes do the work; tiny helpers (resource tracker, spawn server) stay at ~10-30 MB.
    workers_rss = sorted(rss.peaks.items(), key=lambda kv: -kv[1])[:workers]
    return {
        "wall_seconds": wall,
        "shard_seconds": shard_seconds,
        "records_in": counts["records_in"],
        "kept": counts.get("kept"),
        "dropped": counts.get("dropped"),
        "errored": counts.get("errored"),
        "failed_shards": report.failed,
        "peak_rss_per_worker": {str(pid): peak for pid, peak in workers_rss},
        "peak_rss_all_children": {str(pid): [peak, rss.names.get(pid, "")] for pid, peak in rss.peaks.items()},
        "driver_peak_rss": rss.driver_peak,
        "rss_samples": rss.samples,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=None, help="input WARC size (default 1000; 50 with --quick)")
    ap.add_argument("--quick", action="store_true", help="short run: 50 MB unless --size-mb is given")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (default 1: per-worker peak)")
    ap.add_argument("--interval", type=float, default=0.2, help="RSS sampling interval, seconds")
    ap.add_argument("--tmp", default=None, help="folder for the temporary WARC and dataset (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    size_mb = args.size_mb if args.size_mb is not None else (50.0 if args.quick else 1000.0)
    tmp = Path(tempfile.mkdtemp(prefix="consentcrawl-membench-", dir=args.tmp))
    try:
        t = time.perf_counter()
        built = build_warc(tmp / "repeated-00000.warc.gz", size_mb)
        build_s = time.perf_counter() - t
        mb = built["bytes"] / 2**20
        print(f"input: {mb:,.1f} MiB, {built['records_written']:,} WARC records = the "
              f"{built['distinct_records']:,} records of {len(built['sources'])} real file(s) REPEATED "
              f"(gzip members copied byte for byte, not rewritten); built in {build_s:.1f}s")
        res = run(Path(built["path"]), tmp / "out", args.workers, args.interval)
        worst = max(res["peak_rss_per_worker"].values(), default=0)
        print(f"run: {args.workers} worker process(es), {res['records_in']:,} records in (kept {res['kept']}, "
              f"dropped {res['dropped']}, errored {res['errored']}), failed shards: {len(res['failed_shards'])}")
        for pid, peak in res["peak_rss_per_worker"].items():
            print(f"  worker pid {pid}: peak RSS {peak / 2**20:,.0f} MiB")
        print(f"  driver (this process): peak RSS {res['driver_peak_rss'] / 2**20:,.0f} MiB; "
              f"{res['rss_samples']} samples every {args.interval}s")
        wall, busy = res["wall_seconds"], res["shard_seconds"]
        print(f"throughput: {mb / wall:.2f} MiB/s, {res['records_in'] / wall:,.0f} records/s end to end "
              f"({wall:.1f}s incl. cluster start and manifest); {mb / busy:.2f} MiB/s, "
              f"{res['records_in'] / busy:,.0f} records/s inside the shard task ({busy:.1f}s)")
        verdict = "OK" if worst <= GiB else "OVER"
        print(f"peak RSS per worker {worst / 2**20:,.0f} MiB vs target 1,024 MiB: {verdict}")
        if args.json:
            Path(args.json).write_text(json.dumps({"input": built, "build_seconds": build_s, "size_mib": mb,
                                                   "workers": args.workers, **res}, indent=2, default=str))
        return 0 if worst <= GiB and not res["failed_shards"] else 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
