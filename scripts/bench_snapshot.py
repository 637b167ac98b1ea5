"""The robots.txt snapshot at Apertus scale: index build, worker open, lookups, decisions, sharing.

    python scripts/bench_snapshot.py make --hosts 200000 --out /tmp/snap-200k.parquet
    python scripts/bench_snapshot.py make --hosts 2000000 --max-body 1024 --out /tmp/snap-2m.parquet
    python scripts/bench_snapshot.py after --snapshot /tmp/snap-200k.parquet      # the memory-mapped index
    python scripts/bench_snapshot.py before --snapshot /tmp/snap-200k.parquet \\
        --module /tmp/snapshot_before.py      # the dict-based loader, e.g. `git show REV:pipeline/optout/snapshot.py`

The snapshots are SYNTHETIC in their host names and dates only: every body is a real robots.txt
from ../shared/data/robots_txt (top1m_2017_sample.jsonl: 1,500 files of top-1M sites, 2017;
gpt_firewall_2025_sample.jsonl: 190 files of 96 sites, 2025; see its PROVENANCE.md), REPEATED
under made-up host names `https://hNNNNNNN.bench-synthetic.test` (every 10th host also gets an
older entry, so "as of" has work to do). The bodies are read from ../shared, never copied; the
generated Parquet goes where --out says (keep it under /tmp, not in the repository).

Every measurement runs in a fresh process (peak RSS = that process's ru_maxrss):
  build    the index built from the Parquet into an empty cache folder (time, peak RSS)
  open     two worker processes open the index at once (time, RSS increase), then each looks up
           the same URLs: "cold" right after the index files were dropped from the page cache
           (posix_fadvise DONTNEED), "warm" the same URLs again; both report RSS, PSS and USS
           (psutil memory_full_info) while both are alive: shared pages count once in PSS
  decide   RobotsFilter (apertus policy) decisions/s with compiled-rule cache hits (few hosts,
           cache warm) and misses (every URL a new host), and the RSS after the bounded cache filled
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import multiprocessing as mp
import os
import queue
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data" / "robots_txt"
CORPORA = ("top1m_2017_sample.jsonl", "gpt_firewall_2025_sample.jsonl")
MiB = 1024 * 1024
HOST = "https://h{:07d}.bench-synthetic.test"
AS_OF = "2025-06-30T23:59:59Z"


def _rss() -> int:
    return psutil.Process().memory_info().rss


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def real_bodies(max_body: int | None) -> list[bytes]:
    """The real robots.txt bodies of ../shared/data/robots_txt, in file order."""
    out: list[bytes] = []
    for name in CORPORA:
        with open(SHARED / name, encoding="utf-8") as fh:
            for line in fh:
                body = json.loads(line)["body"].encode("utf-8")
                if max_body is None or len(body) <= max_body:
                    out.append(body)
    if not out:
        raise SystemExit(f"no robots.txt bodies under {SHARED}")
    return out


def make(hosts: int, out: Path, max_body: int | None, rows_per_group: int = 1 << 20) -> dict[str, Any]:
    """A snapshot Parquet of `hosts` synthetic hosts, each with a real body, as write_snapshot lays it out."""
    from pipeline.optout.snapshot import SCHEMA, entry_sha256

    bodies = real_bodies(max_body)
    digests = [hashlib.sha256(b).hexdigest() for b in bodies]
    ids = hashlib.sha256()
    t0 = time.perf_counter()
    n_rows = 0
    tmp = out.with_name(out.name + ".tmp")
    writer: pq.ParquetWriter | None = None
    cols: dict[str, list[Any]] = {c: [] for c in SCHEMA.names}

    def flush() -> None:
        nonlocal writer
        if not cols["host"]:
            return
        table = pa.table(cols, schema=SCHEMA)
        if writer is None:
            writer = pq.ParquetWriter(tmp, SCHEMA, compression="zstd")
        writer.write_table(table, row_group_size=rows_per_group)
        for v in cols.values():
            v.clear()

    for i in range(hosts):
        host = HOST.format(i)
        dates = ("2025-01-15T00:00:00Z", "2025-11-15T00:00:00Z") if i % 10 == 0 else ("2025-03-01T00:00:00Z",)
        for k, fetched in enumerate(dates):
            b = (i * 7919 + k * 104729) % len(bodies)
            esha = entry_sha256(host, fetched, 200, digests[b])
            ids.update(f"{esha}\n".encode())
            for c, v in (("host", host), ("fetched_at", fetched), ("http_status", 200), ("body", bodies[b]),
                         ("body_sha256", digests[b]), ("source", f"synthetic:bench#{i}"), ("entry_sha256", esha)):
                cols[c].append(v)
            n_rows += 1
        if len(cols["host"]) >= rows_per_group:
            flush()
    flush()
    assert writer is not None
    writer.close()
    meta = {"snapshot_id": ids.hexdigest(), "entries": n_rows, "date_min": "2025-01-15T00:00:00Z",
            "date_max": "2025-11-15T00:00:00Z", "made_by": "scripts/bench_snapshot.py (synthetic host names)",
            "bench_hosts": hosts}
    # the metadata goes into the footer: rewrite the schema metadata without re-encoding rows
    table = pq.ParquetFile(tmp).schema_arrow.with_metadata({"consentcrawl.snapshot": json.dumps(meta)})
    with pq.ParquetWriter(out, table, compression="zstd") as w:
        pf = pq.ParquetFile(tmp)
        for g in range(pf.num_row_groups):
            w.write_table(pf.read_row_group(g).replace_schema_metadata(table.metadata), row_group_size=rows_per_group)
    tmp.unlink()
    body_bytes = sum(len(bodies[(i * 7919) % len(bodies)]) for i in range(0, hosts, max(1, hosts // 10000)))
    return {"hosts": hosts, "rows": n_rows, "real_bodies": len(bodies), "max_body": max_body,
            "mean_body_bytes_sampled": round(body_bytes / len(range(0, hosts, max(1, hosts // 10000)))),
            "parquet_bytes": out.stat().st_size, "seconds": round(time.perf_counter() - t0, 1), "path": str(out)}


def sample_urls(hosts: int, n: int, seed: int, present: float = 0.9) -> list[str]:
    """URLs on random snapshot hosts (`present` of them) and on hosts it does not hold."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < present:
            host = HOST.format(rng.randrange(hosts))
        else:
            host = f"https://absent{rng.randrange(10**9)}.bench-synthetic.test"
        out.append(f"{host}/p/{rng.randrange(1000)}/index.html?q={rng.randrange(100)}")
    return out


# ---------------------------------------------------------------------------------------------
# child processes
# ---------------------------------------------------------------------------------------------


def _load_module(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("snapshot_before", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["snapshot_before"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def child_before(module: str, snapshot: str, hosts: int, q: Any) -> None:
    """The dict-based loader: load time, RSS increase, lookups/s, and the unbounded compiled-rule cache."""
    mod = _load_module(module)
    from pipeline.optout.decide import compile_entry
    from pipeline.optout.policy import load_policy

    urls = sample_urls(hosts, 200_000, 1)
    rss0 = _rss()
    t0, c0 = time.perf_counter(), time.process_time()
    snap = mod.load_snapshot(snapshot, AS_OF)
    load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    rss1 = _rss()
    found = sum(1 for u in urls if snap.lookup(u)[0] is not None)
    rate = _rate(len(urls), lambda: [snap.lookup(u) for u in urls])
    # the old RobotsFilter cache: a dict entry_sha256 -> CompiledPolicy, never evicted
    policy = load_policy("apertus")
    cache: dict[str, Any] = {}
    rss2 = _rss()
    n = 20_000
    for i in range(n):
        e = snap.lookup(HOST.format(i))[0]
        if e.entry_sha256 not in cache:
            cache[e.entry_sha256] = compile_entry(e, policy)
    rss3 = _rss()
    q.put({"load_s": round(load_s, 2), "load_cpu_s": round(load_cpu, 2), "rss_increase_mib": round((rss1 - rss0) / MiB),
           "peak_rss_mib": round(_peak() / MiB), "hosts_in_effect": len(snap),
           "lookups_per_s": rate[0], "lookups_per_cpu_s": rate[1], "found": found,
           "compiled_cache_kib_per_host": round((rss3 - rss2) / n / 1024, 1)})


def child_build(snapshot: str, cache: str, q: Any) -> None:
    os.environ["CONSENTCRAWL_CACHE_DIR"] = cache
    from pipeline.optout import snapshot as S

    rss0 = _rss()
    t0 = time.perf_counter()
    sha = S.current_sha256(snapshot)  # what the driver does at plan time (and remembers for the node)
    hash_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    c0 = time.process_time()
    snap = S.load_snapshot(snapshot, AS_OF, sha)
    build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    idx = Path(snap.index_path)
    q.put({"sha256": sha, "hash_s": round(hash_s, 2), "build_s": round(build_s, 2), "build_cpu_s": round(build_cpu, 2),
           "peak_rss_mib": round(_peak() / MiB), "rss_before_mib": round(rss0 / MiB),
           "hosts_in_effect": len(snap), "index_bytes": sum(f.stat().st_size for f in idx.iterdir()),
           "index_path": str(idx)})


def _evict(index_dir: str) -> None:
    """Drop the index files from the page cache (no root needed for clean pages)."""
    for f in Path(index_dir).iterdir():
        fd = os.open(f, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _mem() -> dict[str, int]:
    m = psutil.Process().memory_full_info()
    # anon = rss - shared: heap only this process has; the file pages (shared) are the page cache's
    return {"rss_mib": round(m.rss / MiB), "pss_mib": round(m.pss / MiB), "uss_mib": round(m.uss / MiB),
            "rss_file_backed_mib": round(m.shared / MiB), "rss_anon_mib": round((m.rss - m.shared) / MiB)}


def _rate(n: int, fn: Any) -> tuple[int, int]:
    """(per wall second, per CPU second) of n operations: CPU time is what the 2-core VM's noise spares."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return round(n / (time.perf_counter() - w0)), round(n / max(time.process_time() - c0, 1e-9))


def child_worker(snapshot: str, sha: str, cache: str, hosts: int, seed: int, barrier: Any, q: Any) -> None:
    os.environ["CONSENTCRAWL_CACHE_DIR"] = cache
    from pipeline.optout import snapshot as S

    urls = sample_urls(hosts, 200_000, seed)
    rss0 = _rss()
    barrier.wait()
    w0, c0 = time.perf_counter(), time.process_time()
    snap = S.load_snapshot(snapshot, AS_OF, sha)
    open_s, open_cpu = time.perf_counter() - w0, time.process_time() - c0
    rss1 = _rss()
    barrier.wait()
    found = [0]

    def run() -> None:
        found[0] = sum(1 for u in urls if snap.lookup(u)[0] is not None)

    cold = _rate(len(urls), run)
    warm = _rate(len(urls), run)
    few = urls[:1000] * 200  # a shard's URLs repeat hosts: recent-lookup hits
    recent = _rate(len(few), lambda: [snap.lookup(u) for u in few])
    after = _mem()
    barrier.wait()  # both workers alive and done: PSS splits the shared pages between them
    both = _mem()
    barrier.wait()
    q.put({"open_s": round(open_s, 3), "open_cpu_s": round(open_cpu, 3),
           "rss_increase_on_open_mib": round((rss1 - rss0) / MiB),
           "cold_lookups_per_s": cold[0], "cold_lookups_per_cpu_s": cold[1],
           "warm_lookups_per_s": warm[0], "warm_lookups_per_cpu_s": warm[1],
           "recent_host_lookups_per_s": recent[0], "recent_host_lookups_per_cpu_s": recent[1],
           "found": found[0], "after_lookups": after, "while_both_alive": both})


def child_decide(snapshot: str, sha: str, cache: str, hosts: int, q: Any) -> None:
    os.environ["CONSENTCRAWL_CACHE_DIR"] = cache

    from pipeline.optout import snapshot as S
    from pipeline.optout.decide import RobotsFilter
    from pipeline.optout.policy import load_policy

    snap = S.load_snapshot(snapshot, AS_OF, sha)
    policy = load_policy("apertus")
    rng = random.Random(7)
    out: dict[str, Any] = {}
    # hits: 500 hosts, their rules compiled once, then 200k URLs on them
    f = RobotsFilter(snap, policy)
    few = [HOST.format(rng.randrange(hosts)) for _ in range(500)]
    hit_urls = [f"{rng.choice(few)}/a/{rng.randrange(1000)}.html" for _ in range(200_000)]
    for h in few:
        f.decide(h + "/")
    out["hit_decisions_per_s"], out["hit_decisions_per_cpu_s"] = _rate(
        len(hit_urls), lambda: [f.decide(u) for u in hit_urls])
    out["hit_cache"] = f.cache_info()
    # misses: no cache, every decision parses and compiles its host's robots.txt
    nocache = RobotsFilter(snap, policy, rules_cache_bytes=0)
    miss_urls = [f"{HOST.format(i)}/a/{i}.html" for i in rng.sample(range(hosts), 20_000)]
    out["miss_decisions_per_s"], out["miss_decisions_per_cpu_s"] = _rate(
        len(miss_urls), lambda: [nocache.decide(u) for u in miss_urls])
    # the bound: 60k hosts whose bodies are made distinct (a comment line appended to each real
    # body, so every one compiles on its own, as in a snapshot of distinct files), default budget
    bounded = RobotsFilter(snap, policy)
    n = min(hosts, 60_000)
    entries = []
    for i in range(n):
        e = snap.lookup(HOST.format(i))[0]
        body = e.body + f"\n# synthetic host {i}\n".encode()
        entries.append(e._replace(body=body, body_sha256=hashlib.sha256(body).hexdigest()))
    rss0 = _rss()
    for e in entries:
        bounded.decide_entry(e.host + "/a.html", e)
    out["distinct_bodies_decided"] = n
    out["rss_growth_distinct_bodies_mib"] = round((_rss() - rss0) / MiB)
    out["bounded_cache"] = bounded.cache_info()
    out["rss_mib"] = round(_rss() / MiB)
    q.put(out)


def _run(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    while True:
        try:
            out = q.get(timeout=1)
            break
        except queue.Empty:
            if not p.is_alive():
                raise SystemExit(f"{target.__name__} died with exit code {p.exitcode}") from None
    p.join()
    return out


def after(snapshot: str, hosts: int, cache: str | None) -> dict[str, Any]:
    cache = cache or tempfile.mkdtemp(prefix="consentcrawl-bench-cache-", dir="/tmp")
    res: dict[str, Any] = {"cache_dir": cache}
    res["build"] = build = _run(child_build, snapshot, cache)
    print(json.dumps({"build": build}), flush=True)
    _evict(build["index_path"])
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=child_worker, args=(snapshot, build["sha256"], cache, hosts, s, barrier, q))
             for s in (1, 2)]
    for p in procs:
        p.start()
    res["workers"] = [q.get(), q.get()]
    for p in procs:
        p.join()
    print(json.dumps({"workers": res["workers"]}), flush=True)
    res["decide"] = _run(child_decide, snapshot, build["sha256"], cache, hosts)
    print(json.dumps({"decide": res["decide"]}), flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write a synthetic-host snapshot of real bodies")
    m.add_argument("--hosts", type=int, required=True)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--max-body", type=int, default=None, help="use only real bodies of at most this many bytes")
    b = sub.add_parser("before", help="the dict-based loader of an earlier snapshot.py")
    b.add_argument("--snapshot", required=True)
    b.add_argument("--module", required=True, help="path of the earlier pipeline/optout/snapshot.py")
    a = sub.add_parser("after", help="the memory-mapped index")
    a.add_argument("--snapshot", required=True)
    a.add_argument("--cache-dir", default=None, help="index cache folder (default: a new one under /tmp)")
    args = ap.parse_args(argv)
    print("host names and dates are SYNTHETIC; every body is a real robots.txt from ../shared/data/robots_txt, "
          "repeated", flush=True)
    if args.cmd == "make":
        if str(args.out.resolve()).startswith(str(ROOT)):
            raise SystemExit("write generated snapshots outside the repository (e.g. /tmp)")
        print(json.dumps(make(args.hosts, args.out, args.max_body)), flush=True)
        return 0
    meta = json.loads(pq.read_schema(args.snapshot).metadata[b"consentcrawl.snapshot"])
    hosts = int(meta["bench_hosts"])
    if args.cmd == "before":
        print(json.dumps({"before": _run(child_before, args.module, args.snapshot, hosts)}), flush=True)
        return 0
    after(args.snapshot, hosts, args.cache_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
