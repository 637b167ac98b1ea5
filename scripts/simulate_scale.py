"""What Dask's per-task overhead costs on a 90,000-file crawl, measured on this machine.

    python scripts/simulate_scale.py [--tasks 10000] [--work-ms 10] [--workers 2] [--files 90000]
    python scripts/simulate_scale.py --tasks 2000 --config-arg     # the runner's argument pattern

1. One real shard: `process_shard` on a bundled sample WARC (after a warm-up shard, as a worker
   that has loaded the language model), scaled by bytes to a 1 GiB Common Crawl WARC.
2. N cheap shard-tasks (sleep or spin ~X ms, keys from `pipeline.runner.task_key`, small dict
   results) on a LocalCluster of W worker processes, submitted and collected as the runner does.
   Overhead = wall - ideal, ideal = sum of work / W; per task, and as % of work.
3. The runner's own per-input costs that grow with the number of inputs (key derivation,
   each task's config), timed at a few sizes, with the digest cached as `load_config` does.
4. Extrapolation to --files shards: overhead per shard as % of one real shard's work.
5. `--driver N`: N no-op shards (empty files) through the real `run_pipeline` (real config
   validation, bounded submission window, result recording, manifest, markers): driver CPU per
   task, driver peak RSS and per-shard memory, then `--resume` over the N markers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import pickle
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.config import RunConfig, config_from_dict  # noqa: E402
from pipeline.optout.policy import load_policy  # noqa: E402
from pipeline.runner import task_key  # noqa: E402

SAMPLE = ROOT / "pipeline" / "sample"
GiB = 1024**3
CC_URI = ("s3://commoncrawl/crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc/"
          "CC-MAIN-20240517233122-20240518023122-{:05d}.warc.gz")


def fake_shard(index: int, uri: str, work_s: float, mode: str, config: Any = None) -> dict[str, Any]:
    """Stands in for process_shard: ~work_s of work, a result as small as a ShardResult's."""
    started = time.perf_counter()
    if mode == "spin":
        while time.perf_counter() - started < work_s:
            pass
    else:
        time.sleep(work_s)
    return {"index": index, "uri": uri, "records_in": 0, "kept": 0, "dropped": {}, "errored": {}, "files": [],
            "seconds": time.perf_counter() - started, "failed": ""}


def measure_real_shard(sample: Path) -> dict[str, Any]:
    """Seconds for one real sample shard on a warm worker, and the same scaled to 1 GiB."""
    from pipeline.shard import process_shard

    with tempfile.TemporaryDirectory(prefix="consentcrawl-scale-") as tmp:
        warm = sorted(SAMPLE.glob("sample-*.warc.gz"))
        cfg = config_from_dict({"inputs": [str(p) for p in warm], "output": tmp, "policy": "apertus",
                                "robots_snapshot": str(SAMPLE / "robots-snapshot.parquet"), "workers": 1}, ROOT)
        other = next(p for p in warm if p != sample)
        process_shard(0, str(other), cfg, tmp)  # loads the language model, the snapshot, resiliparse
        res = process_shard(1, str(sample), cfg, tmp)
    size = sample.stat().st_size
    return {"sample": sample.name, "bytes": size, "records": res.records_in, "seconds": res.seconds,
            "mib_per_s": size / 2**20 / res.seconds, "seconds_per_gib": res.seconds * GiB / size}


def small_config(uris: tuple[str, ...] = ()) -> RunConfig:
    cfg = RunConfig(inputs=uris, output="/tmp/consentcrawl-sim", policy=load_policy("apertus"))
    return replace(cfg, digest=cfg.compute_sha256())  # as load_config does: hashed once per run


def noop_shard(index: int, uri: str, config: RunConfig, out_dir: str) -> Any:
    """A shard that does nothing but what the driver sees: a result and its completion marker."""
    from pipeline.shard import ShardResult, input_mtime_ns, write_marker

    res = ShardResult(index=index, uri=config.display(uri), input_bytes=0, input_mtime_ns=input_mtime_ns(uri),
                      input_sha256=hashlib.sha256(b"").hexdigest())
    write_marker(out_dir, res, config.sha256)
    return res


class PeakRss:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _dask_cluster(tmp: Path, workers: int) -> tuple[str, list[Any]]:
    """A real `dask scheduler` and worker processes, so that the driver's CPU is the driver's own."""
    import os
    import shutil
    import subprocess

    dask_cmd = shutil.which("dask") or "dask"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "scripts")])}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": tmp}
    sched = tmp / "scheduler.json"
    procs = [subprocess.Popen([dask_cmd, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched)], **quiet)]
    while not sched.is_file() or not sched.read_text().strip():
        time.sleep(0.1)
    time.sleep(0.2)
    address = json.loads(sched.read_text())["address"]
    procs += [subprocess.Popen([dask_cmd, "worker", address, "--nthreads", "1", "--no-dashboard", "--host",
                                "127.0.0.1"], **quiet) for _ in range(workers)]
    from dask.distributed import Client

    with Client(address, timeout="60s") as c:
        c.wait_for_workers(workers, timeout=120)
    return address, procs


def driver_at_scale(n: int, workers: int) -> dict[str, Any]:
    """N no-op shards through the real run_pipeline, then --resume over their N markers.

    The scheduler and workers are separate processes (as on a cluster): the driver's CPU and
    memory are measured alone.
    """
    from simulate_scale import noop_shard as importable_noop  # by reference: workers import it

    import pipeline.runner as runner
    from pipeline.config import load_config

    with tempfile.TemporaryDirectory(prefix="consentcrawl-driver-") as tmp:
        root = Path(tmp)
        address, procs = _dask_cluster(root, workers)
        (root / "in").mkdir()
        for i in range(n):
            (root / "in" / f"f{i:06d}.warc.gz").touch()
        cfg = root / "run.yaml"
        cfg.write_text(f"inputs: ['in/*.warc.gz']\noutput: {root / 'out'}\nworkers: {workers}\n"
                       f"robots_snapshot: {SAMPLE / 'robots-snapshot.parquet'}\n")
        t = time.perf_counter()
        config = load_config(cfg)
        plan_s = time.perf_counter() - t
        real = runner.process_shard
        runner.process_shard = importable_noop
        me = psutil.Process()
        try:
            with PeakRss() as mem:
                cpu0 = me.cpu_times()
                t = time.perf_counter()
                report = runner.run_pipeline(config, scheduler=address)
                wall = time.perf_counter() - t
                cpu1 = me.cpu_times()
            (root / "out" / "manifest.json").unlink()
            t = time.perf_counter()
            resumed = runner.run_pipeline(load_config(cfg), resume=True, scheduler=address)
            resume_s = time.perf_counter() - t
        finally:
            runner.process_shard = real
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    assert not report.failed and len(resumed.resumed) == n
    return {"shards": n, "workers": workers, "plan_s": plan_s, "wall_s": wall, "driver_cpu_s": cpu,
            "driver_cpu_per_task_ms": cpu / n * 1e3, "driver_peak_rss_mib": mem.peak / 2**20,
            "driver_growth_per_shard_bytes": (mem.peak - mem.base) / n, "resume_s": resume_s}


def run_tasks(n: int, work_s: float, workers: int, mode: str, config_arg: bool) -> dict[str, Any]:
    """Submit n fake shard tasks the way run_pipeline does and time them end to end."""
    from dask.distributed import Client, LocalCluster, as_completed

    uris = [CC_URI.format(i) for i in range(n)]
    keyed = small_config()  # keys by the real task_key; a one-input config keeps that O(1) here
    arg = small_config(tuple(uris)) if config_arg else None
    me = psutil.Process()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        client.submit(fake_shard, -1, "warm-up", 0.0, mode, pure=False).result()
        client.run(lambda: None)
        cpu0 = me.cpu_times()
        t0 = time.perf_counter()
        futures = {client.submit(fake_shard, i, u, work_s, mode, arg, key=task_key(i, u, keyed), pure=False): i
                   for i, u in enumerate(uris)}
        submitted = time.perf_counter() - t0
        results = 0
        worked = 0.0
        for fut in as_completed(futures):
            r = fut.result()
            worked += r["seconds"]
            results += 1
        wall = time.perf_counter() - t0
        cpu1 = me.cpu_times()
    ideal = n * work_s / workers
    driver_cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    return {"tasks": n, "workers": workers, "work_ms": work_s * 1e3, "mode": mode, "config_arg": config_arg,
            "wall_s": wall, "ideal_s": ideal, "submit_s": submitted, "measured_work_s": worked,
            "overhead_per_task_ms": (wall - ideal) / n * 1e3,
            "worker_overhead_per_task_ms": (wall - ideal) * workers / n * 1e3,
            "overhead_pct_of_work": (wall - ideal) / ideal * 100,
            "driver_cpu_per_task_ms": driver_cpu / n * 1e3, "results": results}


def runner_costs(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """Per-input costs of run_pipeline that depend on the number of inputs."""
    rows = []
    for n in sizes:
        uris = tuple(CC_URI.format(i) for i in range(n))
        cfg = small_config(uris)
        calls = 10
        t = time.perf_counter()
        for i, u in enumerate(uris[:calls]):
            task_key(i, u, cfg)
        per_key = (time.perf_counter() - t) / calls
        rows.append({"inputs": n, "task_key_ms": per_key * 1e3, "all_keys_s": per_key * n,
                     "pickled_config_bytes": len(pickle.dumps(cfg))})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--work-ms", type=float, default=10.0, help="work per fake task, ms")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mode", choices=("sleep", "spin"), default="sleep",
                    help="sleep (default: no CPU, fair on a shared machine) or spin (busy CPU)")
    ap.add_argument("--config-arg", action="store_true",
                    help="pass a RunConfig holding all task URIs to every task, as run_pipeline does")
    ap.add_argument("--files", type=int, default=90_000, help="crawl size to extrapolate to")
    ap.add_argument("--sample", default=str(SAMPLE / "sample-00000.warc.gz"), help="real shard to time")
    ap.add_argument("--skip-real", action="store_true", help="skip timing the real shard (use --shard-s-per-gib)")
    ap.add_argument("--shard-s-per-gib", type=float, default=None, help="seconds one 1 GiB shard takes")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--driver", type=int, default=0,
                    help="only: N no-op shards through the real run_pipeline, then --resume (e.g. 100000)")
    args = ap.parse_args(argv)

    out: dict[str, Any] = {}
    if args.driver:
        d = driver_at_scale(args.driver, args.workers)
        print(f"{d['shards']:,} no-op shards through run_pipeline on {d['workers']} workers: plan (config "
              f"validation) {d['plan_s']:.1f}s, run {d['wall_s']:.1f}s wall; driver CPU {d['driver_cpu_s']:.1f}s = "
              f"{d['driver_cpu_per_task_ms']:.2f} ms per task (target <= 2); driver peak RSS "
              f"{d['driver_peak_rss_mib']:.0f} MiB (target <= 500), growth {d['driver_growth_per_shard_bytes']:,.0f} "
              f"bytes per shard; --resume over {d['shards']:,} markers {d['resume_s']:.1f}s (target <= 30)")
        if args.json:
            Path(args.json).write_text(json.dumps(d, indent=2))
        return 0
    if args.skip_real:
        if args.shard_s_per_gib is None:
            ap.error("--skip-real needs --shard-s-per-gib")
        per_gib = args.shard_s_per_gib
    else:
        real = measure_real_shard(Path(args.sample))
        out["real_shard"] = real
        per_gib = real["seconds_per_gib"]
        print(f"real shard: {real['sample']} ({real['bytes'] / 2**20:.2f} MiB, {real['records']} records) in "
              f"{real['seconds']:.2f}s on a warm worker = {real['mib_per_s']:.2f} MiB/s -> a 1 GiB Common Crawl "
              f"WARC ~ {per_gib:,.0f}s ({per_gib / 60:.1f} min) per worker (scaled by bytes)")
    if args.shard_s_per_gib is not None:
        per_gib = args.shard_s_per_gib

    sim = run_tasks(args.tasks, args.work_ms / 1e3, args.workers, args.mode, args.config_arg)
    out["simulation"] = sim
    print(f"\n{sim['tasks']:,} tasks x {sim['work_ms']:.0f} ms ({sim['mode']}) on {sim['workers']} worker processes"
          f"{' (each carrying the full RunConfig)' if sim['config_arg'] else ''}: wall {sim['wall_s']:.1f}s, "
          f"ideal {sim['ideal_s']:.1f}s, submitting took {sim['submit_s']:.1f}s")
    print(f"  overhead: {sim['overhead_per_task_ms']:.2f} ms of wall time per task "
          f"({sim['worker_overhead_per_task_ms']:.2f} ms of each worker's time per task) = "
          f"{sim['overhead_pct_of_work']:.1f}% of {sim['work_ms']:.0f} ms tasks; driver+scheduler CPU "
          f"{sim['driver_cpu_per_task_ms']:.2f} ms per task")

    costs = runner_costs((1_000, 5_000, 10_000))
    out["runner_costs"] = costs
    # Both grow linearly per call with the number of inputs, so n calls grow quadratically.
    slope = costs[-1]["task_key_ms"] / costs[-1]["inputs"]
    key_s_at_files = slope * args.files / 1e3 * args.files
    cfg_bytes_at_files = costs[-1]["pickled_config_bytes"] / costs[-1]["inputs"] * args.files
    print("\nrun_pipeline's per-input costs (grow with the input count):")
    for c in costs:
        mb = c["pickled_config_bytes"] / 1e6
        print(f"  {c['inputs']:>6,} inputs: task_key {c['task_key_ms']:.2f} ms per call (hashes the whole config) "
              f"-> {c['all_keys_s']:.1f}s for all keys; RunConfig pickled per task {mb:.2f} MB")
    print(f"  at {args.files:,} inputs: ~{key_s_at_files / 3600:.1f} h of driver time to derive the keys, and "
          f"~{cfg_bytes_at_files / 1e6:.0f} MB of config in every task ({cfg_bytes_at_files * args.files / 1e12:.1f}"
          f" TB through the scheduler) unless the digest is cached and the config scattered once")

    worker_ms = sim["worker_overhead_per_task_ms"]
    pct = worker_ms / 1e3 / per_gib * 100
    print(f"\nextrapolation: {args.files:,} files x {per_gib:,.0f}s of work each ({args.files * per_gib / 3600:,.0f} "
          f"worker-hours); Dask overhead {worker_ms:.2f} ms per shard on its worker = {pct:.4f}% of shard work "
          f"(target <= 5%)")
    cpu = sim["driver_cpu_per_task_ms"] / 1e3
    print(f"  scheduler+client CPU {cpu * 1e3:.2f} ms per task: {args.files * cpu / 60:.1f} min in total; task "
          f"handling alone would saturate one scheduler at ~{per_gib / cpu:,.0f} busy workers (worker heartbeats "
          f"and connections are not modelled here)")
    for k in (100, 1_000, 10_000):
        ideal_h = args.files * per_gib / k / 3600
        print(f"  {k:>6,} workers: ideal {ideal_h:,.1f} h, + Dask overhead {args.files * worker_ms / 1e3 / k / 60:.2f} "
              f"min")
    out["extrapolation"] = {"files": args.files, "shard_seconds_per_gib": per_gib,
                            "overhead_pct_of_shard_work": pct, "task_key_hours_at_files": key_s_at_files / 3600,
                            "config_bytes_per_task_at_files": cfg_bytes_at_files}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
