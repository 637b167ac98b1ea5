"""Consentcrawl vs datatrove vs a bare loop, on the same real pages, cores and run.

python scripts/bench.py [--quick] [--shard-mb 12] [--shards 4] [--repeat 2] [--json bench.json] [--no-datatrove]

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
SAMPLE_SNAPSHOT = SAMPLE / "robots-snapshot.parquet"


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


def input_urls(paths: list[str]) -> list[str]:
    """Target URIs of the input's response records, in order."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    urls = []
    for p in paths:
        with open(p, "rb") as fh:
            urls += [r.headers.get("WARC-Target-URI", "") for r in
                     ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=False)]
    return urls


def bench_snapshot(urls: list[str], folder: Path) -> dict[str, Any]:
    """A robots.txt snapshot covering every host of the input, so every URL meets real rules.

    The pages' own robots.txt files were not captured, so each host is given a real body from the
    shared corpus (2025 files of well-known sites, 2017 top-1M files, big sites' files), chosen by
    the host's sha256: deterministic, and as mixed as the web. Without ../shared: the sample's.
    """
    import hashlib

    from pipeline.optout import build
    from pipeline.optout.build import BuildReport

    corpus = SHARED / "robots_txt"
    if not corpus.is_dir():
        return {"path": str(SAMPLE_SNAPSHOT), "hosts": 0, "source": "bundled sample snapshot"}
    bodies: list[str] = []
    for name in ("gpt_firewall_2025_sample.jsonl", "top1m_2017_sample.jsonl"):
        with open(corpus / name, encoding="utf-8") as fh:
            bodies += [json.loads(line)["body"] for line in fh]
    bodies += [p.read_text("utf-8", "replace") for p in sorted((corpus / "texting_robots_testdata").glob("*.txt"))]
    hosts = sorted({build.host_origin(u) or "" for u in urls} - {""})
    table = folder / "bench-robots.jsonl"
    with open(table, "w", encoding="utf-8") as fh:
        for h in hosts:
            body = bodies[int(hashlib.sha256(h.encode()).hexdigest(), 16) % len(bodies)]
            fh.write(json.dumps({"host": h, "body": body, "date": "2025-06-01"}) + "\n")
    report = BuildReport(builder="from-table")
    out = folder / "bench-robots.parquet"
    build.write(build.from_table([str(table)], report), out, "scripts/bench.py", report)
    return {"path": str(out), "hosts": len(hosts), "bodies": len(bodies),
            "source": "real robots.txt bodies of ../shared/data/robots_txt assigned to the input's hosts"}


def run_consentcrawl(paths: list[str], workers: int, out: Path, snapshot: str) -> dict[str, Any]:
    from pipeline.runner import run_pipeline

    cfg = config_from_dict({"inputs": paths, "output": str(out), "policy": "apertus",
                            "robots_snapshot": snapshot, "workers": workers}, ROOT)
    stamps: dict[str, float] = {}
    t = time.perf_counter()
    report = run_pipeline(cfg, workers=workers,
                          on_start=lambda *_: stamps.setdefault("start", time.perf_counter()),
                          on_shard=lambda *_: stamps.__setitem__("last", time.perf_counter()))
    wall = time.perf_counter() - t
    shutil.rmtree(out, ignore_errors=True)
    counts = report.manifest["counts"]
    docs = counts["records_in"]
    phase = stamps["last"] - stamps["start"]  # cluster up -> last shard back: the shard work itself
    return {"workers": workers, "wall_s": wall, "docs": docs, "docs_per_s": docs / wall,
            "docs_per_s_per_core": docs / wall / workers, "processing_s": phase,
            "docs_per_s_processing": docs / phase, "fixed_s": wall - phase,
            "shard_seconds": sum(r["seconds"] for r in report.shards), "kept": counts["kept"],
            "dropped_robots": sum(r["dropped"].get("optout:robots", 0) for r in report.shards)}


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


def stage_breakdown(path: str, repeat: int, snapshot: str) -> dict[str, Any]:
    """Each stage timed alone over the same documents of one shard (single process), best of `repeat`."""
    import hashlib

    from pipeline.config import LangIdConfig
    from pipeline.extract import Extractor
    from pipeline.host import registrable_domain, url_host
    from pipeline.ingest.warc import WarcReader
    from pipeline.langid.stage import LanguageStage
    from pipeline.manifest import merkle_root
    from pipeline.optout.decide import RobotsFilter
    from pipeline.optout.policy import load_policy
    from pipeline.optout.signals import SignalsFilter
    from pipeline.optout.snapshot import load_snapshot
    from pipeline.write import DATA_SCHEMA, ParquetShardWriter, data_row

    mb = Path(path).stat().st_size / 2**20
    # one-off start-up costs (model and suffix-list loading) are not per-document costs
    registrable_domain("example.co.uk")
    lang = LanguageStage.for_config(LangIdConfig())
    lang.identifier.predict("warm up the language model")
    robots = RobotsFilter(load_snapshot(snapshot), load_policy("apertus"))
    sig = SignalsFilter(load_policy("strict"), load_snapshot(snapshot))
    ex = Extractor()
    best: dict[str, float] = {}
    n = 0

    def clock(name: str, t0: float) -> None:
        best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)

    for _ in range(repeat):
        t = time.perf_counter()
        docs = [d for d in WarcReader(path) if not d.done]
        clock("ingest", t)
        n = len(docs)
        t = time.perf_counter()
        for d in docs:
            d.host = url_host(d.url)
            robots.decide(d.url)
        clock("opt-out (robots)", t)
        t = time.perf_counter()
        for d in docs:
            sig.decide(d)
        clock("signals (strict)", t)
        t = time.perf_counter()
        for d in docs:
            ex.run(d)
        clock("extract", t)
        t = time.perf_counter()
        for d in docs:
            if d.text:
                lang.run(d)
        clock("langid", t)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            w = ParquetShardWriter(Path(tmp), "data/part-00000.parquet", DATA_SCHEMA)
            for d in docs:
                if d.text:
                    w.add(data_row(d, "bench"))
            written = w.close()
            clock("write", t)
            t = time.perf_counter()
            h = hashlib.sha256(Path(tmp, written.path).read_bytes()).hexdigest()
            merkle_root([{"path": written.path, "sha256": h}])
            clock("manifest", t)
    total = sum(best.values())
    ours = total - best["extract"] - best["ingest"]
    return {"docs": n, "mb": mb, "repeat": repeat, "stages": {
        k: {"seconds": v, "docs_per_s": n / v if v else float("inf"), "mb_per_s": mb / v if v else float("inf"),
            "share": v / total} for k, v in best.items()},
        "non_extract_over_extract": ours / best["extract"],
        "non_extract_incl_ingest_over_extract": (ours + best["ingest"]) / best["extract"]}


def run_datatrove(paths: list[str], workers: int, out: Path, docs: int, snapshot: str) -> dict[str, Any]:
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
                  ProtegoUrlFilter(snapshot), lid, ParquetWriter(str(out / "out"))],
        tasks=len(paths), workers=workers, logging_dir=str(out / "logs"), skip_completed=False)
    t = time.perf_counter()
    executor.run()
    wall = time.perf_counter() - t
    return {"workers": workers, "wall_s": wall, "docs": docs, "docs_per_s": docs / wall,
            "docs_per_s_per_core": docs / wall / workers}


def robots_decisions(quick: bool) -> dict[str, Any]:
    """scripts/bench_robots.py's figures over the shared robots.txt corpus (absent without ../shared)."""
    import bench_robots  # type: ignore[import-not-found]

    if not (bench_robots.DATA / "robots_txt").is_dir():
        return {}
    return bench_robots.measure(quick=quick)


def url_decisions(urls: list[str], repeat: int, snapshot: str) -> dict[str, Any]:
    """Opt-out decisions/s on the input's own URLs against the run's snapshot and the apertus policy:
    ours (RobotsFilter, compiled rules per host) vs protego as robots-checker uses it (parse the
    host's robots.txt, check every agent per URL). "cold" includes parsing each host's file."""
    from bench_robots import best as best_cpu  # type: ignore[import-not-found]
    from protego import Protego

    from pipeline.optout.decide import RobotsFilter
    from pipeline.optout.policy import load_policy
    from pipeline.optout.snapshot import load_snapshot

    policy = load_policy("apertus")
    bodies = {h: e.body.decode("utf-8", "replace") for h, e in load_snapshot(snapshot).entries()}

    fresh = [load_snapshot.__wrapped__(snapshot) for _ in range(max(repeat, 3) + 1)]  # read, not parsed

    def ours() -> RobotsFilter:
        f = RobotsFilter(fresh.pop(), policy)
        for u in urls:
            f.decide(u)
        return f

    def protego(parsers: dict[str, Any]) -> dict[str, Any]:
        from urllib.parse import urlsplit

        for u in urls:
            parts = urlsplit(u)
            key = f"{parts.scheme}://{parts.hostname}"
            rp = parsers.get(key)
            if rp is None and key in bodies:
                rp = parsers[key] = Protego.parse(bodies[key])
            if rp is not None:
                all(rp.can_fetch(u, a) for a in policy.agents)
        return parsers

    warm_f, warm_p = ours(), protego({})
    out: dict[str, Any] = {"urls": len(urls), "hosts_in_snapshot": len(bodies),
                           "urls_with_entry": sum(1 for u in urls if warm_f.snapshot.lookup(u)[0] is not None)}
    for name, fn in (("ours cold", ours), ("ours warm", lambda: [warm_f.decide(u) for u in urls]),
                     ("protego cold", lambda: protego({})), ("protego warm", lambda: protego(warm_p))):
        t = best_cpu(fn, max(repeat, 3))
        out[name] = len(urls) / t
    return out


def _fresh(fn: Any, *args: Any) -> Any:
    """fn(*args) in a new interpreter (spawned), so every engine starts from the same clean state."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_child_path) as pool:
        return pool.submit(fn, *args).result()


def _child_path() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke run (CI)")
    ap.add_argument("--shard-mb", type=float, default=12.0)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=2,
                    help="rounds; every figure is the best of its rounds (the same for every engine)")
    ap.add_argument("--json", default="bench.json")
    ap.add_argument("--no-datatrove", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.shard_mb, args.shards, args.repeat = 1.0, 2, 1
    sys.path.insert(0, str(ROOT / "scripts"))
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "repeat": args.repeat,
                               "command": " ".join(["python scripts/bench.py", *sys.argv[1:]])}
    have_dt = not args.no_datatrove
    if have_dt:
        try:
            import datatrove  # noqa: F401
        except ImportError:
            have_dt = False
            print("datatrove not installed (pip install -e '.[bench]'): skipping the peer run")
    tmp = Path(tempfile.mkdtemp(prefix="ccbench-"))
    try:
        inp = build_shards(tmp, args.shards, args.shard_mb)
        results["input"] = {k: v for k, v in inp.items() if k != "paths"}
        urls = input_urls(inp["paths"])
        snap = bench_snapshot(urls, tmp)
        snapshot = snap["path"]
        results["snapshot"] = {k: v for k, v in snap.items() if k != "path"}
        print(f"robots.txt snapshot: {snap['source']} ({snap['hosts']} hosts)", flush=True)
        print(f"input: {inp['records']} records, {inp['mb']:.1f} MB in {args.shards} shards "
              f"({inp['distinct_pages']} distinct real pages, records REPEATED to reach the size)", flush=True)
        results["stages"] = stage_breakdown(inp["paths"][0], args.repeat, snapshot)
        runs: dict[str, list[dict[str, Any]]] = {}
        for rnd in range(args.repeat):  # rounds interleave the engines: load changes hit all of them
            print(f"round {rnd + 1}/{args.repeat}", flush=True)
            # Each run in a fresh process: no engine inherits another's imports, heap or threads.
            runs.setdefault("bare", []).append(_fresh(bare_loop, inp["paths"]))
            for w in (1, 2):
                cc = _fresh(run_consentcrawl, inp["paths"], w, tmp / f"cc{w}", snapshot)
                runs.setdefault(f"cc{w}", []).append(cc)
            if have_dt:
                for w in (1, 2):
                    runs.setdefault(f"dt{w}", []).append(
                        _fresh(run_datatrove, inp["paths"], w, tmp / f"dt{w}-{rnd}", inp["records"], snapshot))
        best = {k: min(v, key=lambda r: r["wall_s"]) for k, v in runs.items()}
        results["bare_loop"] = best["bare"]
        results["consentcrawl"] = [best["cc1"], best["cc2"]]
        if have_dt:
            results["datatrove"] = [best["dt1"], best["dt2"]]
        results["all_rounds"] = runs
        results["url_decisions"] = url_decisions(urls, args.repeat, snapshot)
        results["robots"] = robots_decisions(args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")
    return 0


def report(r: dict[str, Any]) -> None:
    m = r["machine"]
    print(f"\n{r['command']}  (every figure: best of {r['repeat']} round(s))")
    print(f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['platform']}")
    print("libraries: " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()))
    i = r["input"]
    print(f"input: {i['records']} records ({i['distinct_pages']} distinct real pages, REPEATED), {i['mb']:.1f} MB")
    st = r["stages"]
    print(f"\nper stage, one shard, one core ({st['docs']} docs, {st['mb']:.1f} MB):")
    print(f"  {'stage':18s} {'docs/s':>10s} {'MB/s':>8s} {'share':>7s}")
    for name, s in st["stages"].items():
        print(f"  {name:18s} {s['docs_per_s']:10.0f} {s['mb_per_s']:8.1f} {s['share']:7.1%}")
    bare = r["bare_loop"]["docs_per_s"]
    print(f"\n  {'end to end':34s} {'workers':>7s} {'docs/s':>8s} {'docs/s/core':>11s} {'wall s':>7s}")
    bw = r["bare_loop"]["wall_s"]
    print(f"  {'bare loop (no opt-out, no output)':34s} {1:7d} {bare:8.1f} {bare:11.1f} {bw:7.1f}")
    for c in r["consentcrawl"]:
        print(f"  {'consentcrawl':34s} {c['workers']:7d} {c['docs_per_s']:8.1f} {c['docs_per_s_per_core']:11.1f} "
              f"{c['wall_s']:7.1f}   (shards {c['processing_s']:.1f} s + start/stop {c['fixed_s']:.1f} s)")
    for d in r.get("datatrove", []):
        print(f"  {'datatrove (trafilatura)':34s} {d['workers']:7d} {d['docs_per_s']:8.1f} "
              f"{d['docs_per_s_per_core']:11.1f} {d['wall_s']:7.1f}")
    u = r.get("url_decisions") or {}
    if u:
        print(f"\nopt-out decisions on the input's {u['urls']} URLs ({u['urls_with_entry']} with a snapshot entry, "
              "apertus policy), decisions/s:")
        print("  " + ", ".join(f"{k} {u[k]:,.0f}" for k in ("ours cold", "ours warm", "protego cold", "protego warm")))
    rb = r.get("robots") or {}
    if rb:
        print(f"\nrobots.txt corpus ({rb['corpus']['files']} files, {rb['corpus']['urls']} URLs):")
        pf = rb["parse_files_per_s"]
        print("  parse files/s: " + ", ".join(f"{k} {v:,.0f}" for k, v in pf.items()))
        print("  parse per host + check per URL, 13 agents, decisions/s: "
              + ", ".join(f"{k} {v['policy']:,.0f}" for k, v in rb["parse_and_check_per_s"].items()))
        print("  warm: " + ", ".join(f"{k} {v:,.0f}" for k, v in rb["warm_corpus_per_s"].items()))
    c1, c2 = r["consentcrawl"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("\ntargets:")
    if r.get("datatrove"):
        ratio = c1["docs_per_s_per_core"] / max(r["datatrove"][0]["docs_per_s_per_core"], 1e-9)
        ratio2 = c2["docs_per_s_per_core"] / max(r["datatrove"][1]["docs_per_s_per_core"], 1e-9)
        print(f"  consentcrawl / datatrove per core: {ratio:.1f}x on 1 worker, {ratio2:.1f}x on 2 (target ≥8x: "
              f"{verdict(min(ratio, ratio2) >= 8)})")
    share = c1["docs_per_s"] / bare
    print(f"  consentcrawl / bare loop (1 worker, wall incl. cluster start): {share:.0%} (target ≥80%: "
          f"{verdict(share >= 0.8)})")
    ne, ni = st["non_extract_over_extract"], st["non_extract_incl_ingest_over_extract"]
    print(f"  opt-out + signals + langid + write + manifest / extraction: {ne:.0%}; with ingest (WARC read, "
          f"gunzip): {ni:.0%} (target ≤25%: {verdict(ne <= 0.25)})")
    scale, phase = c2["docs_per_s"] / c1["docs_per_s"], c2["docs_per_s_processing"] / c1["docs_per_s_processing"]
    print(f"  2 workers / 1 worker: {scale:.2f}x wall, {phase:.2f}x once the cluster is up (target ≥1.8x: "
          f"{verdict(scale >= 1.8)} on wall, {verdict(phase >= 1.8)} on the shard phase)")
    if rb:
        warm = rb["warm_corpus_per_s"]["ours CompiledPolicy.first_disallowing, 13 agents"]
        vs = rb["parse_speedup_vs"]["protego"]
        print(f"  robots: {warm:,.0f} warm decisions/s with 13 agents (target ≥500,000: {verdict(warm >= 5e5)}); "
              f"parse {vs:.1f}x protego (target ≥5x: {verdict(vs >= 5)})")


if __name__ == "__main__":
    raise SystemExit(main())
