"""Consentcrawl vs datatrove vs a bare loop, on the same real pages, cores and run.

python scripts/bench.py [--quick] [--shard-mb 12] [--shards 4] [--json bench.json] [--no-datatrove]

Input: the real pages of ../shared/data/web_pages and ../shared/data/cc_warc_samples (or the bundled
sample when ../shared is absent), their WARC records REPEATED (copied byte for byte) into shards of
the given size. Prints a table and writes bench.json. No assertions: this measures, it does not test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import config_from_dict  # noqa: E402
from pipeline.ingest.warc import member_spans  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "pipeline" / "sample"
SNAPSHOT = SAMPLE / "robots-snapshot.parquet"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    libs = {}
    for name in ("fastwarc", "resiliparse", "fasttext-predict", "fasttext-numpy2-wheel", "dask", "distributed",
                 "pyarrow", "datatrove", "trafilatura", "protego", "robotexclusionrulesparser"):
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = "-"
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "libraries": libs}


def source_files() -> list[Path]:
    if (SHARED / "web_pages").is_dir():
        return sorted((SHARED / "web_pages").glob("*.warc.gz")) + [
            SHARED / "cc_warc_samples/resiliparse_cc-main-2020-34/warcfile.warc.gz"]
    return sorted(SAMPLE.glob("*.warc.gz"))


def build_shards(folder: Path, shards: int, shard_mb: float) -> dict[str, Any]:
    """Repeat the real records (round robin over every response) until each shard reaches its size."""
    members: list[tuple[Path, int, int]] = []
    for f in source_files():
        members += [(f, off, n) for _, rtype, off, n in member_spans(str(f)) if rtype == "response"]
    target = int(shard_mb * 1024 * 1024)
    handles = {f: open(f, "rb") for f in {m[0] for m in members}}
    paths, records = [], 0
    try:
        k = 0
        for s in range(shards):
            p = folder / f"bench-{s:05d}.warc.gz"
            written = 0
            with open(p, "wb") as out:
                while written < target:
                    f, off, n = members[k % len(members)]
                    k += 1
                    handles[f].seek(off)
                    out.write(handles[f].read(n))
                    written += n
                    records += 1
            paths.append(p)
    finally:
        for h in handles.values():
            h.close()
    total = sum(p.stat().st_size for p in paths)
    return {"paths": [str(p) for p in paths], "records": records, "mb": total / 2**20,
            "distinct_pages": len(members), "repeated": True}


def run_consentcrawl(paths: list[str], workers: int, out: Path) -> dict[str, Any]:
    from pipeline.runner import run_pipeline

    cfg = config_from_dict({"inputs": paths, "output": str(out), "policy": "apertus",
                            "robots_snapshot": str(SNAPSHOT), "workers": workers}, ROOT)
    t = time.perf_counter()
    report = run_pipeline(cfg, workers=workers)
    wall = time.perf_counter() - t
    docs = report.manifest["counts"]["records_in"]
    busy = sum(r["seconds"] for r in report.shards)
    return {"workers": workers, "wall_s": wall, "docs": docs, "docs_per_s": docs / wall,
            "docs_per_s_per_core": docs / wall / workers, "shard_seconds": busy,
            "docs_per_s_excluding_startup": docs / max(busy / workers, 1e-9)}


def bare_loop(paths: list[str]) -> dict[str, Any]:
    """fastwarc → resiliparse → fastText predict: no opt-out, no writing, no manifest. Our ceiling."""
    import fasttext
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    from pipeline.langid.model import lid176_path

    fasttext.FastText.eprint = lambda *a, **k: None
    model = fasttext.load_model(str(lid176_path()))
    t = time.perf_counter()
    docs = 0
    for p in paths:
        for rec in ArchiveIterator(open(p, "rb"), record_types=WarcRecordType.response, parse_http=True):
            html = rec.reader.read()
            text = extract_plain_text(bytes_to_str(html, detect_encoding(html)), main_content=True)
            model.predict(text.replace("\n", " "), k=1)
            docs += 1
    wall = time.perf_counter() - t
    return {"docs": docs, "wall_s": wall, "docs_per_s": docs / wall}


def stage_breakdown(path: str) -> dict[str, Any]:
    """Each stage timed alone over the same documents of one shard (single process)."""
    import hashlib

    from pipeline.config import LangIdConfig
    from pipeline.extract import Extractor
    from pipeline.host import registrable_domain, url_host
    from pipeline.ingest.warc import WarcReader
    from pipeline.langfilter import LanguageStage
    from pipeline.manifest import merkle_root
    from pipeline.optout.decide import RobotsFilter
    from pipeline.optout.policy import load_policy
    from pipeline.optout.signals import SignalsFilter
    from pipeline.optout.snapshot import load_snapshot
    from pipeline.write import DATA_SCHEMA, ParquetShardWriter, data_row

    mb = Path(path).stat().st_size / 2**20
    times: dict[str, float] = {}
    # one-off start-up costs (model and suffix-list loading) are not per-document costs
    registrable_domain("example.co.uk")
    LanguageStage.for_config(LangIdConfig()).identifier.predict("warm up the language model")
    t = time.perf_counter()
    docs = [d for d in WarcReader(path) if not d.done]
    times["ingest"] = time.perf_counter() - t
    n = len(docs)
    robots = RobotsFilter(load_snapshot(str(SNAPSHOT)), load_policy("apertus"))
    t = time.perf_counter()
    for d in docs:
        d.host = url_host(d.url)
        robots.decide(d.url)
    times["opt-out (robots)"] = time.perf_counter() - t
    ex = Extractor()
    sig = SignalsFilter(load_policy("strict"), load_snapshot(str(SNAPSHOT)))
    t = time.perf_counter()
    for d in docs:
        sig.decide(d)
    times["signals (strict)"] = time.perf_counter() - t
    t = time.perf_counter()
    for d in docs:
        ex.run(d)
    times["extract"] = time.perf_counter() - t
    lang = LanguageStage.for_config(LangIdConfig())
    t = time.perf_counter()
    for d in docs:
        if d.text:
            lang.run(d)
    times["langid"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        w = ParquetShardWriter(Path(tmp), "data/part-00000.parquet", DATA_SCHEMA)
        for d in docs:
            if d.text:
                w.add(data_row(d, "bench"))
        written = w.close()
        times["write"] = time.perf_counter() - t
        t = time.perf_counter()
        h = hashlib.sha256(Path(tmp, written.path).read_bytes()).hexdigest()
        merkle_root([{"path": written.path, "sha256": h}])
        times["manifest"] = time.perf_counter() - t
    total = sum(times.values())
    return {"docs": n, "mb": mb, "stages": {
        k: {"seconds": v, "docs_per_s": n / v if v else float("inf"), "mb_per_s": mb / v if v else float("inf"),
            "share": v / total} for k, v in times.items()},
        "non_extract_over_extract": (total - times["extract"] - times["ingest"]) / times["extract"]}


def run_datatrove(paths: list[str], workers: int, out: Path, docs: int) -> dict[str, Any]:
    """datatrove's WARC reader → Trafilatura → protego URL filter on the same snapshot → fastText LID →
    its Parquet writer: the equivalent of our pipeline, as FineWeb built it."""
    from bench_peers import LocalLanguageFilter, ProtegoUrlFilter  # type: ignore[import-not-found]
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter

    folder = out / "in"
    folder.mkdir(parents=True, exist_ok=True)
    for p in paths:
        os.symlink(p, folder / Path(p).name)
    lid = LocalLanguageFilter(language_threshold=0.0)
    executor = LocalPipelineExecutor(
        pipeline=[WarcReader(str(folder), glob_pattern="*.warc.gz"), Trafilatura(favour_precision=True, timeout=5),
                  ProtegoUrlFilter(str(SNAPSHOT)), lid, ParquetWriter(str(out / "out"))],
        tasks=len(paths), workers=workers, logging_dir=str(out / "logs"), skip_completed=False)
    t = time.perf_counter()
    executor.run()
    wall = time.perf_counter() - t
    return {"workers": workers, "wall_s": wall, "docs": docs, "docs_per_s": docs / wall,
            "docs_per_s_per_core": docs / wall / workers}


def robots_decisions(quick: bool) -> dict[str, Any]:
    try:
        import bench_robots  # type: ignore[import-not-found]
    except ImportError:
        return {}
    fn = getattr(bench_robots, "measure", None)
    return fn(quick=quick) if fn else {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke run (CI)")
    ap.add_argument("--shard-mb", type=float, default=12.0)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--json", default="bench.json")
    ap.add_argument("--no-datatrove", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.shard_mb, args.shards = 1.0, 2
    sys.path.insert(0, str(ROOT / "scripts"))
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    tmp = Path(tempfile.mkdtemp(prefix="ccbench-"))
    try:
        inp = build_shards(tmp, args.shards, args.shard_mb)
        results["input"] = {k: v for k, v in inp.items() if k != "paths"}
        print(f"input: {inp['records']} records, {inp['mb']:.1f} MB in {args.shards} shards "
              f"({inp['distinct_pages']} distinct real pages, records REPEATED to reach the size)")
        results["stages"] = stage_breakdown(inp["paths"][0])
        results["bare_loop"] = bare_loop(inp["paths"])
        results["consentcrawl"] = [run_consentcrawl(inp["paths"], w, tmp / f"cc{w}") for w in (1, 2)]
        have_dt = not args.no_datatrove
        if have_dt:
            try:
                import datatrove  # noqa: F401
            except ImportError:
                have_dt = False
                print("datatrove not installed (pip install -e '.[bench]'): skipping the peer run")
        if have_dt:
            results["datatrove"] = [run_datatrove(inp["paths"], w, tmp / f"dt{w}", inp["records"]) for w in (1, 2)]
        results["robots"] = robots_decisions(args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")
    return 0


def report(r: dict[str, Any]) -> None:
    m = r["machine"]
    print(f"\nmachine: {m['cores']} cores, {m['cpu']}, Python {m['python']}")
    print("libraries: " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()))
    st = r["stages"]
    print(f"\nper stage, one shard, one core ({st['docs']} docs, {st['mb']:.1f} MB):")
    print(f"  {'stage':18s} {'docs/s':>10s} {'MB/s':>8s} {'share':>7s}")
    for name, s in st["stages"].items():
        print(f"  {name:18s} {s['docs_per_s']:10.0f} {s['mb_per_s']:8.1f} {s['share']:7.1%}")
    print(f"  everything but ingest+extraction costs {st['non_extract_over_extract']:.0%} of extraction time")
    bare = r["bare_loop"]["docs_per_s"]
    print(f"\nbare loop (fastwarc → resiliparse → fastText, 1 core): {bare:.0f} docs/s")
    print(f"\n  {'end to end':28s} {'workers':>7s} {'docs/s':>8s} {'docs/s/core':>11s} {'wall s':>7s}")
    for c in r["consentcrawl"]:
        print(f"  {'consentcrawl':28s} {c['workers']:7d} {c['docs_per_s']:8.1f} {c['docs_per_s_per_core']:11.1f} "
              f"{c['wall_s']:7.1f}")
    for d in r.get("datatrove", []):
        print(f"  {'datatrove (trafilatura)':28s} {d['workers']:7d} {d['docs_per_s']:8.1f} "
              f"{d['docs_per_s_per_core']:11.1f} {d['wall_s']:7.1f}")
    c1, c2 = r["consentcrawl"]
    print("\ntargets:")
    if r.get("datatrove"):
        ratio = c1["docs_per_s_per_core"] / max(r["datatrove"][0]["docs_per_s_per_core"], 1e-9)
        print(f"  consentcrawl / datatrove per core (1 worker): {ratio:.1f}x  (target ≥8x: "
              f"{'met' if ratio >= 8 else 'NOT met'})")
    share = c1["docs_per_s"] / bare
    print(f"  consentcrawl / bare loop (1 worker, wall incl. cluster start): {share:.0%}; excluding start-up: "
          f"{c1['docs_per_s_excluding_startup'] / bare:.0%} (target ≥80%)")
    print(f"  non-extraction cost / extraction: {st['non_extract_over_extract']:.0%} (target ≤25%)")
    print(f"  2 workers / 1 worker: {c2['docs_per_s'] / c1['docs_per_s']:.2f}x (target ≥1.8x)")
    if r.get("robots"):
        print("  robots: " + json.dumps(r["robots"]))


if __name__ == "__main__":
    raise SystemExit(main())
