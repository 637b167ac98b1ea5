"""What each speed decision of issue 9 is worth, and what bounds 2-worker scaling on this machine.

python scripts/bench_ablation.py [--shard-mb 12] [--repeat 3] [--json ablation.json]

Same input as scripts/bench.py (real pages REPEATED into shards, a robots.txt snapshot covering
every host). Every figure is the best of --repeat runs. Sections:

1. stage order: one shard in process, every document through every stage in turn (batch of 1)
   vs stage-major batches of 16 and 64 (pipeline/shard.py BATCH_DOCS);
2. Dask worker settings: the same warm shard in a LocalCluster worker with Dask's defaults, with
   the profiler off, and with ours (profiler off, no MALLOC_TRIM_THRESHOLD_), in the driver, and
   in a fresh interpreter with and without Dask's MALLOC_TRIM_THRESHOLD_=65536 (taking turns);
3. two-way scaling of this machine, no Dask: a pure-Python loop pinned to each vCPU alone and
   together (taskset), the bare loop and our shard in 1 vs 2 processes;
4. costs left alone: importing pyarrow.dataset (what pq.read_table pulls in, with pandas) in a
   fresh interpreter, the sha256 of an input shard, language ID combined vs lid.176 alone on short
   long-tail text (needs ../shared).
Numbers only, no assertions.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench  # noqa: E402

SPIN = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(30_000_000): x += i\nprint(time.perf_counter() - t)"


def best(fn: Callable[[], float], repeat: int) -> float:
    return min(fn() for _ in range(repeat))


def _config(path: str, snapshot: str, out: str) -> Any:
    from pipeline.config import config_from_dict

    return config_from_dict({"inputs": [path], "output": out, "policy": "apertus", "robots_snapshot": snapshot},
                            ROOT)


def shard_seconds(path: str, snapshot: str, out: str, batch: int | None = None) -> float:
    """Wall seconds of process_shard on a warm process (batch: BATCH_DOCS override)."""
    import pipeline.shard as shard

    if batch is not None:
        shard.BATCH_DOCS = batch
    cfg = _config(path, snapshot, out)
    t = time.perf_counter()
    shard.process_shard(0, path, cfg, out)
    shutil.rmtree(out, ignore_errors=True)
    return time.perf_counter() - t


def stage_order(path: str, snapshot: str, tmp: Path, repeat: int) -> dict[str, float]:
    shard_seconds(path, snapshot, str(tmp / "warm"))  # models, snapshot, suffix list
    out = {}
    for batch in (1, 16, 64):
        out[f"batch {batch}"] = best(lambda b=batch: shard_seconds(path, snapshot, str(tmp / "o"), b), repeat)
    return out


def dask_settings(path: str, snapshot: str, tmp: Path, repeat: int) -> dict[str, float]:
    """The three clusters stay up side by side and take turns, so a slow spell hits all of them."""
    import dask
    from dask.distributed import Client, LocalCluster

    from pipeline.runner import _local_cluster

    defaults = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    variants: dict[str, Callable[[], LocalCluster]] = {
        "Dask defaults": lambda: _with({}),
        "profiler off": lambda: _with({"distributed.worker.profile.enabled": False,
                                       "distributed.nanny.pre-spawn-environ": defaults}),
        "ours (profiler off, glibc trim)": lambda: _local_cluster(1),
    }
    clusters = {name: make() for name, make in variants.items()}
    clients = {name: Client(c) for name, c in clusters.items()}
    times: dict[str, list[float]] = {name: [] for name in clients}
    times["driver process (no Dask)"] = []
    times["subprocess, MALLOC_TRIM_THRESHOLD_=65536"] = []
    times["subprocess, glibc default trim"] = []
    try:
        for client in clients.values():
            client.submit(shard_seconds, path, snapshot, str(tmp / "warm"), pure=False).result()
        for _ in range(repeat):
            for name, client in clients.items():
                times[name].append(client.submit(shard_seconds, path, snapshot, str(tmp / "o"), pure=False).result())
            times["driver process (no Dask)"].append(shard_seconds(path, snapshot, str(tmp / "o")))
            for trim in ("65536", None):
                key = f"subprocess, {'MALLOC_TRIM_THRESHOLD_=65536' if trim else 'glibc default trim'}"
                times[key].append(_subprocess_shard(path, snapshot, str(tmp / "s"), trim))
    finally:
        for name in clients:
            clients[name].close()
            clusters[name].close()
    return {k: min(v) for k, v in times.items()}


def _subprocess_shard(path: str, snapshot: str, out: str, trim: str | None) -> float:
    """A warm second run of the shard in a fresh interpreter's main thread, with or without the trim."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    if trim:
        env["MALLOC_TRIM_THRESHOLD_"] = trim
    code = (f"import sys; sys.path[:0] = {[str(ROOT), str(ROOT / 'scripts')]!r}\n"
            "from bench_ablation import shard_seconds\n"
            f"shard_seconds({path!r}, {snapshot!r}, {out + '-w'!r})\n"
            f"print(shard_seconds({path!r}, {snapshot!r}, {out!r}))")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def _with(settings: dict[str, Any]) -> Any:
    import logging

    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(settings):
        return LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0", silence_logs=logging.ERROR)


def _job(kind: str, path: str, snapshot: str, out: str, barrier: Any, queue: Any) -> None:
    if kind == "bare":
        bench.bare_loop([path])
        barrier.wait()
        queue.put(bench.bare_loop([path])["wall_s"])
    else:
        shard_seconds(path, snapshot, out + "-warm")
        barrier.wait()
        queue.put(shard_seconds(path, snapshot, out))


def two_processes(kind: str, paths: list[str], snapshot: str, tmp: Path) -> tuple[float, float]:
    """(speed-up of 2 processes over 1, slowest/fastest of the pair): each process one shard."""
    ctx = multiprocessing.get_context("spawn")
    rates = {}
    for n in (1, 2):
        queue, barrier = ctx.Queue(), ctx.Barrier(n)
        procs = [ctx.Process(target=_job, args=(kind, paths[i], snapshot, str(tmp / f"{kind}{n}{i}"), barrier, queue))
                 for i in range(n)]
        for p in procs:
            p.start()
        secs = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        rates[n] = secs
    speedup = sum(rates[1][0] / s for s in rates[2])
    return speedup, max(rates[2]) / min(rates[2])


def spin(cpus: list[int]) -> list[float]:
    procs = [subprocess.Popen(["taskset", "-c", str(c), sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True)
             for c in cpus]
    return [float(p.communicate()[0]) for p in procs]


def scaling(paths: list[str], snapshot: str, tmp: Path, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": []}
    for _ in range(repeat):
        rnd: dict[str, Any] = {}
        if shutil.which("taskset"):
            alone = spin([0]) + spin([1])
            together = spin([0, 1])
            rnd["spin alone s (cpu0, cpu1)"] = alone
            rnd["spin together s (cpu0, cpu1)"] = together
        rnd["bare loop 2 procs: speed-up, slow/fast"] = two_processes("bare", paths, snapshot, tmp)
        rnd["our shard 2 procs: speed-up, slow/fast"] = two_processes("shard", paths, snapshot, tmp)
        out["rounds"].append(rnd)
    return out


def left_alone(path: str, repeat: int) -> dict[str, Any]:
    import hashlib

    out: dict[str, Any] = {}
    code = "import time; t = time.perf_counter(); import pyarrow.dataset; print(time.perf_counter() - t)"
    base = "import time; t = time.perf_counter(); import pyarrow.parquet; print(time.perf_counter() - t)"
    run = lambda c: float(subprocess.run([sys.executable, "-c", c], capture_output=True, text=True).stdout)  # noqa: E731
    out["import pyarrow.dataset (s, fresh interpreter)"] = best(lambda: run(code), repeat)
    out["import pyarrow.parquet only (s)"] = best(lambda: run(base), repeat)

    def sha() -> float:
        t = time.perf_counter()
        hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return time.perf_counter() - t

    out["sha256 of one input shard (s)"] = best(sha, repeat)
    out["input shard MB"] = Path(path).stat().st_size / 2**20
    mt = bench.SHARED / "multilingual_text" / "udhr_dev.jsonl"
    bible = bench.SHARED / "lid_train" / "ebible_dev.jsonl.gz"
    if mt.is_file() and bible.is_file():
        import gzip

        from pipeline.langid import LanguageIdentifier
        from pipeline.langid.evaluate import load_udhr

        sets = {"UDHR paragraphs": [e.text for e in load_udhr(mt)],
                "Bible verses": [json.loads(line)["text"] for line in gzip.open(bible, "rt", encoding="utf-8")][:20000]}
        for name, texts in sets.items():
            secs = {}
            for model in ("lid176", "default"):
                ident = LanguageIdentifier(model)
                ident.predict("warm up")

                def once(i: Any = ident, t: list[str] = texts) -> float:
                    t0 = time.perf_counter()
                    i.predict_batch(t)
                    return time.perf_counter() - t0

                secs[model] = best(once, repeat)
            out[f"langid combined / lid.176 alone, {name} ({len(texts)})"] = secs["default"] / secs["lid176"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard-mb", type=float, default=12.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default="ablation.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ccablation-"))
    try:
        inp = bench.build_shards(tmp, 2, args.shard_mb)
        paths = inp["paths"]
        snapshot = bench.bench_snapshot(bench.input_urls(paths), tmp)["path"]
        print(f"input: 2 shards of {args.shard_mb} MB, {inp['records']} records (real pages REPEATED); "
              f"best of {args.repeat}", flush=True)
        r: dict[str, Any] = {"machine": bench.machine()}
        r["stage order (s per shard)"] = stage_order(paths[0], snapshot, tmp, args.repeat)
        r["Dask worker settings (s per warm shard)"] = dask_settings(paths[0], snapshot, tmp, args.repeat)
        r["two-way scaling, no Dask"] = scaling(paths, snapshot, tmp, args.repeat)
        r["costs left alone"] = left_alone(paths[0], args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for section, values in r.items():
        if section == "machine":
            continue
        print(f"\n{section}:")
        rows = values.get("rounds", [values]) if isinstance(values, dict) else [values]
        for row in rows:
            for k, v in row.items():
                print(f"  {k:52s} {json.dumps(v) if not isinstance(v, float) else f'{v:.3f}'}")
            if len(rows) > 1:
                print("  --")
    Path(args.json).write_text(json.dumps(r, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
