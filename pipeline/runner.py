"""Run shards as dask.distributed tasks and assemble the dataset folder.

One task per input shard with a key derived from the input and the config digest; a task
returns only counts and a file list. Default: an embedded LocalCluster of processes;
`scheduler=` connects to an existing scheduler instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dask
from dask.distributed import Client, LocalCluster, wait

from pipeline.config import ConfigError, RunConfig
from pipeline.manifest import MANIFEST_NAME, build_manifest, dump_manifest
from pipeline.optout.snapshot import load_snapshot
from pipeline.shard import STATE_DIR, ShardResult, input_digest, input_mtime_ns, process_shard, read_marker
from pipeline.write import sha256_file

SNAPSHOT_DIR = "snapshots"
RUN_LOG = "run-log.jsonl"
NO_WORKER_TIMEOUT = float(os.environ.get("CONSENTCRAWL_NO_WORKER_TIMEOUT", "300"))


@dataclass(slots=True)
class RunReport:
    out_dir: Path
    manifest: dict[str, Any]
    shards: list[dict[str, Any]]
    wall_seconds: float
    workers: int
    failed: list[str] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)


def task_key(uri: str, config: RunConfig) -> str:
    digest = hashlib.sha256(f"{config.display(uri)}\x00{config.sha256}".encode()).hexdigest()[:16]
    return f"consentcrawl-shard-{digest}"


class ResumeError(ConfigError):
    """Resuming would mix outputs of different configs or inputs."""


def _prepare_out(out: Path, config: RunConfig, resume: bool) -> None:
    """A fresh run clears the folder's outputs; a resumed one first checks it may continue."""
    state = out / STATE_DIR / "run.json"
    if resume and state.is_file():
        previous = json.loads(state.read_text()).get("config_sha256")
        if previous != config.sha256:
            raise ResumeError(
                f"{out} was written with another config (sha256 {str(previous)[:12]}…, now "
                f"{config.sha256[:12]}…): refusing to mix outputs; use a new --out"
            )
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        for sub in ("data", "excluded", SNAPSHOT_DIR, STATE_DIR):
            shutil.rmtree(out / sub, ignore_errors=True)
    for name in (MANIFEST_NAME, RUN_LOG):
        (out / name).unlink(missing_ok=True)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"config_sha256": config.sha256}) + "\n")


def _remove_partials(out: Path) -> None:
    """Temporary files of tasks that died (killed workers) are never part of the dataset."""
    for sub in ("data", "excluded", STATE_DIR):
        for tmp in (out / sub).glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _resumable(config: RunConfig, out: Path) -> dict[int, ShardResult]:
    done: dict[int, ShardResult] = {}
    for i, uri in enumerate(config.inputs):
        res = read_marker(out, i, config.sha256)
        if res is None:
            continue
        if res.uri != config.display(uri):
            raise ResumeError(f"shard {i} was {res.uri}, now {config.display(uri)}: the input list changed; "
                              "use a new --out")
        mtime = input_mtime_ns(uri)
        same_size = mtime and Path(uri.removeprefix("file://")).stat().st_size == res.input_bytes
        if same_size and mtime == res.input_mtime_ns:
            done[i] = res  # unchanged local file: size and mtime as recorded, no need to re-read it
            continue
        size, digest = input_digest(uri)
        if (size, digest) != (res.input_bytes, res.input_sha256):
            raise ResumeError(f"input {res.uri} changed since the interrupted run; use a new --out")
        done[i] = res
    return done


def _publish_snapshot(config: RunConfig, out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not config.robots_snapshot:
        return [], []
    snap = load_snapshot(config.robots_snapshot, config.robots_as_of)
    rel = f"{SNAPSHOT_DIR}/robots.parquet"
    dest = out / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config.robots_snapshot, dest)
    digest = sha256_file(dest)
    meta = {
        "kind": "robots.txt",
        "path": rel,
        "snapshot_id": snap.snapshot_id,
        "sha256": digest,
        "entries": int(snap.meta.get("entries", len(snap))),
        "hosts_in_effect": len(snap),
        "date_min": snap.meta.get("date_min", ""),
        "date_max": snap.meta.get("date_max", ""),
        "as_of": config.robots_as_of,
        "made_by": snap.meta.get("made_by", ""),
    }
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(dest).metadata.num_rows
    return [meta], [{"path": rel, "sha256": digest, "bytes": dest.stat().st_size, "rows": rows}]


def _langid_meta(config: RunConfig) -> dict[str, Any]:
    from pipeline.langfilter import _identifier

    ident = _identifier(config.langid.model, config.langid.thresholds, config.langid.max_chars)
    return {
        "model": ident.model_name,
        "model_sha256": ident.model_sha256,
        "labels": len(ident.labels),
        "label_set": sorted(ident.labels),
        "thresholds": config.langid.thresholds or "bundled",
        "keep_languages": list(config.langid.keep_languages),
    }


def run_pipeline(
    config: RunConfig,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    on_shard: Callable[[ShardResult, int, int], None] | None = None,
    on_start: Callable[[int, int, str], None] | None = None,
) -> RunReport:
    started = time.perf_counter()
    out = Path(config.output)
    n_workers = workers or config.workers
    # The embedded cluster's worker processes spawn and import on a thread while the driver
    # prepares the output folder (and, on --resume, checks the finished shards).
    starting = None
    if not scheduler:
        pool = ThreadPoolExecutor(1)
        starting = pool.submit(_local_cluster, n_workers)
        pool.shutdown(wait=False)  # the thread ends with the submitted start
    try:
        _prepare_out(out, config, resume)
        finished = _resumable(config, out) if resume else {}
        _remove_partials(out)
        snapshots, snapshot_files = _publish_snapshot(config, out)
    except BaseException:
        if starting is not None:
            with contextlib.suppress(Exception):
                starting.result().close()
        raise
    cluster: LocalCluster | None = None
    if starting is None:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = starting.result()
        client = Client(cluster)
    results: list[dict[str, Any]] = [r.to_dict() for r in finished.values()]
    failed: list[str] = []
    log: list[dict[str, Any]] = [{"event": "skipped", "shard": i, "uri": r.uri} for i, r in sorted(finished.items())]
    try:
        if on_start is not None:
            on_start(len(config.inputs), len(finished), _dashboard(client))
        # Each task carries a config holding only its own input (a crawl's input list is large);
        # the digest of the full config travels with it.
        futures = {
            client.submit(process_shard, i, uri, replace(config, inputs=(uri,)), str(out),
                          key=task_key(uri, config), pure=False): (i, uri)
            for i, uri in enumerate(config.inputs)
            if i not in finished
        }

        def record(i: int, uri: str, res: ShardResult | None, error: str = "") -> None:
            if res is None:
                res = ShardResult(index=i, uri=config.display(uri), failed=error[:500])
                failed.append(f"{config.display(uri)}: {res.failed}")
            results.append(res.to_dict())
            if on_shard is not None:
                on_shard(res, len(results), len(config.inputs))

        pending = set(futures)
        idle_since: float | None = None
        while pending:
            try:
                done, pending = wait(pending, timeout=2, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished in 2 s: check that someone is working
                done = set()
            for fut in done:
                i, uri = futures[fut]
                try:
                    record(i, uri, fut.result())
                except Exception as exc:  # KilledWorker, a shard's own exception, ...
                    record(i, uri, None, f"{type(exc).__name__}: {exc}")
            if done or not pending:
                idle_since = None
                continue
            if client.scheduler_info().get("workers"):
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > NO_WORKER_TIMEOUT:
                for fut in sorted(pending, key=lambda f: futures[f][0]):
                    fut.cancel()
                    record(*futures[fut], None, f"NoWorkers: no Dask worker for {NO_WORKER_TIMEOUT:.0f} s")
                pending = set()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    _remove_partials(out)
    results.sort(key=lambda r: r["index"])
    manifest = build_manifest(
        config=config.content_dict(),
        config_sha256=config.sha256,
        policy=config.policy.to_dict(),
        langid=_langid_meta(config),
        snapshots=snapshots,
        results=results,
        extra_files=snapshot_files,
    )
    dump_manifest(manifest, out / MANIFEST_NAME)
    wall = time.perf_counter() - started
    done_now = [r for r in results if r["index"] not in finished]
    log += [{"event": "failed" if r["failed"] else "shard", "shard": r["index"], "uri": r["uri"],
             "seconds": round(r["seconds"], 3), "records": r["records_in"], "error": r["failed"]} for r in done_now]
    log.append({"event": "run", "wall_seconds": round(wall, 3), "workers": n_workers,
                "scheduler": scheduler or "local", "resumed_shards": len(finished), "failed_shards": len(failed)})
    with open(out / RUN_LOG, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(entry, sort_keys=True) + "\n" for entry in log)
    return RunReport(out, manifest, results, wall, n_workers, failed, sorted(finished))


def _local_cluster(n_workers: int) -> LocalCluster:
    # Dask's sampling profiler samples the worker thread 100 times a second; our run log already
    # times every shard (its cost is within this VM's noise in scripts/bench_ablation.py).
    # Saturation 1.0: a worker holds only the shard it runs, so a shard that kills its worker
    # (OOM, segfault) never takes a queued innocent shard's retry budget with it.
    # MALLOC_TRIM_THRESHOLD_: Dask sets it to 64 KiB in workers to hand freed memory back to the OS
    # at once; HTML trees and page strings are allocated and freed per document, so that costs
    # page faults: a shard took 1.50 s with it and 1.27 s without in a fresh interpreter
    # (scripts/bench_ablation.py). glibc's adaptive threshold is used instead; a worker's memory
    # stays bounded by the batch size (pipeline/shard.py).
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    settings = {"distributed.worker.profile.enabled": False, "distributed.scheduler.worker-saturation": 1.0,
                "distributed.nanny.pre-spawn-environ": environ}
    with dask.config.set(settings):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )


def _dashboard(client: Client) -> str:
    """The dashboard address, only when the scheduler actually serves one (needs bokeh)."""
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return ""
        return str(client.dashboard_link or "")
    except Exception:
        return ""
