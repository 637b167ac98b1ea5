"""Index-first vs full-file runs: bytes fetched and docs/s, at the measured and at synthetic opt-out rates.

python scripts/bench_index_first.py [--shard-mb 6] [--shards 2] [--repeat 1] [--json bench-index-first.json]

Input: the repeated real pages of scripts/bench.py (`build_shards`), served by a loopback HTTP
server with Range support; a cc-index Parquet built from them (tests/cc_index_helper.py).
Opt-out rates:

* measured: scripts/bench.py's snapshot (real robots.txt bodies of ../shared/data/robots_txt assigned
  to the input's hosts by hash), policy apertus;
* synthetic 10%, 30%, 50%: hosts taken in sha256 order into an opted-out set until their records
  reach the rate; those hosts get `User-agent: CCBot / Disallow: /` (the commonest real AI opt-out),
  the others `User-agent: * / Disallow:` (allow all).

Both runs read the same WARC files over the same HTTP server, one worker each; docs/s counts
wall time including the cluster start and, for index-first, planning. No assertions: it measures.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import shutil
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "tests")]

from bench import bench_snapshot, build_shards, input_urls  # noqa: E402
from cc_index_helper import build_index  # noqa: E402

from pipeline.config import config_from_dict  # noqa: E402


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single Range requests (`bytes=a-b`), counting the bytes sent."""

    sent = 0
    lock = threading.Lock()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = Path(self.translate_path(self.path))
        rng = self.headers.get("Range", "")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start, end, code = 0, len(data), 200
        if rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start, end, code = int(a), min(len(data), int(b) + 1 if b else len(data)), 206
        self.send_response(code)
        self.send_header("Content-Length", str(end - start))
        self.send_header("ETag", '"' + hashlib.sha256(data[:4096]).hexdigest()[:16] + '"')
        if code == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.end_headers()
        self.wfile.write(data[start:end])
        with RangeHandler.lock:
            RangeHandler.sent += end - start


def synthetic_snapshot(urls: list[str], rate: float, folder: Path) -> tuple[str, float]:
    from pipeline.optout import build
    from pipeline.optout.build import BuildReport

    per_host: dict[str, int] = {}
    for u in urls:
        h = build.host_origin(u) or ""
        per_host[h] = per_host.get(h, 0) + 1
    hosts = sorted(per_host, key=lambda h: hashlib.sha256(h.encode()).hexdigest())
    out, n = set(), 0
    for h in hosts:
        if n >= rate * len(urls):
            break
        out.add(h)
        n += per_host[h]
    table = folder / f"synthetic-{int(rate * 100)}.jsonl"
    with open(table, "w", encoding="utf-8") as fh:
        for h in hosts:
            body = "User-agent: CCBot\nDisallow: /\n" if h in out else "User-agent: *\nDisallow:\n"
            fh.write(json.dumps({"host": h, "body": body, "date": "2025-06-01"}) + "\n")
    report = BuildReport(builder="from-table")
    path = folder / f"synthetic-{int(rate * 100)}.parquet"
    build.write(build.from_table([str(table)], report), path, "scripts/bench_index_first.py", report)
    return str(path), n / len(urls)


def run(cfg: dict[str, Any], out: Path) -> dict[str, Any]:
    from pipeline.runner import run_pipeline

    cfg = {**cfg, "output": str(out), "policy": "apertus", "workers": 1}
    before = RangeHandler.sent
    t = time.perf_counter()
    report = run_pipeline(config_from_dict(cfg, out.parent))
    wall = time.perf_counter() - t
    c = report.manifest["counts"]
    shutil.rmtree(out, ignore_errors=True)
    return {"wall_s": wall, "docs": c["records_in"], "docs_per_s_per_core": c["records_in"] / wall,
            "bytes_served": RangeHandler.sent - before, "kept": c["kept"],
            "optout": c["dropped_by_reason"].get("optout:robots", 0), "balanced": c["balanced"],
            "failed": report.failed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard-mb", type=float, default=6.0)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="rounds; the best wall time of each is kept")
    ap.add_argument("--json", default="bench-index-first.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ccbench-ix-"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(RangeHandler, directory=str(tmp)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    results: dict[str, Any] = {"command": " ".join(["python scripts/bench_index_first.py", *sys.argv[1:]]),
                               "rates": []}
    try:
        inp = build_shards(tmp, args.shards, args.shard_mb)
        names = [Path(p).name for p in inp["paths"]]
        build_index({n: tmp / n for n in names}, tmp / "index.parquet")
        whole = sum((tmp / n).stat().st_size for n in names)
        urls = input_urls(inp["paths"])
        results["input"] = {"records": inp["records"], "mb": inp["mb"], "distinct_pages": inp["distinct_pages"]}
        snaps = [("measured", bench_snapshot(urls, tmp)["path"], None)]
        for rate in (0.1, 0.3, 0.5):
            path, actual = synthetic_snapshot(urls, rate, tmp)
            snaps.append((f"synthetic {int(rate * 100)}%", path, actual))
        for label, snap, _ in snaps:
            best: dict[str, dict[str, Any]] = {}
            for _ in range(args.repeat):
                full = run({"inputs": [f"{url}/{n}" for n in names], "robots_snapshot": snap}, tmp / "o-full")
                first = run({"cc_index": {"files": [str(tmp / "index.parquet")], "warc_prefix": url},
                             "robots_snapshot": snap}, tmp / "o-index")
                for k, r in (("full", full), ("index", first)):
                    if r["failed"]:  # a failed run is fast and fetched little: never "best"
                        print(f"{label} {k}: FAILED {r['failed'][:2]}", flush=True)
                        continue
                    if k not in best or r["wall_s"] < best[k]["wall_s"]:
                        best[k] = r
            share = best["full"]["optout"] / max(1, best["full"]["docs"])
            row = {"label": label, "optout_share": share, "whole_bytes": whole, **{
                f"{k}_{m}": v[m] for k, v in best.items() for m in ("bytes_served", "docs_per_s_per_core", "wall_s",
                                                                    "docs", "kept", "balanced")}}
            row["bytes_ratio"] = row["index_bytes_served"] / row["full_bytes_served"]
            row["target_ratio"] = 1 - share + 0.05
            row["speed_ratio"] = row["index_docs_per_s_per_core"] / row["full_docs_per_s_per_core"]
            results["rates"].append(row)
            print(f"{label:>15}: opt-out {share:6.1%}  bytes {row['bytes_ratio']:6.1%} of full (target <= "
                  f"{row['target_ratio']:.1%})  docs/s/core full {row['full_docs_per_s_per_core']:6.1f} "
                  f"index-first {row['index_docs_per_s_per_core']:6.1f} ({row['speed_ratio']:.2f}x)", flush=True)
    finally:
        httpd.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
