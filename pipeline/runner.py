"""Run shards as dask.distributed tasks and assemble the dataset folder.

One task per input shard with a key derived from the input and the config digest; a task
returns only counts and a file list. Default: an embedded LocalCluster of processes;
`scheduler=` connects to an existing scheduler instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dask.distributed import Client, LocalCluster, as_completed

from pipeline.config import RunConfig
from pipeline.manifest import MANIFEST_NAME, build_manifest, dump_manifest
from pipeline.optout.snapshot import load_snapshot
from pipeline.shard import ShardResult, process_shard
from pipeline.write import sha256_file

SNAPSHOT_DIR = "snapshots"
RUN_LOG = "run-log.jsonl"


@dataclass(slots=True)
class RunReport:
    out_dir: Path
    manifest: dict[str, Any]
    shards: list[dict[str, Any]]
    wall_seconds: float
    workers: int
    failed: list[str] = field(default_factory=list)


def task_key(uri: str, config: RunConfig) -> str:
    digest = hashlib.sha256(f"{config.display(uri)}\x00{config.sha256}".encode()).hexdigest()[:16]
    return f"consentcrawl-shard-{digest}"


def _prepare_out(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "excluded", SNAPSHOT_DIR):
        shutil.rmtree(out / sub, ignore_errors=True)
    for name in (MANIFEST_NAME, RUN_LOG):
        (out / name).unlink(missing_ok=True)


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

    ident = _identifier(config.langid.model, config.langid.thresholds)
    return {
        "model": ident.model_name,
        "model_sha256": ident.model_sha256,
        "labels": len(ident.labels),
        "thresholds": config.langid.thresholds or "bundled",
        "keep_languages": list(config.langid.keep_languages),
    }


def run_pipeline(
    config: RunConfig,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    on_shard: Callable[[ShardResult, int, int], None] | None = None,
) -> RunReport:
    started = time.perf_counter()
    out = Path(config.output)
    _prepare_out(out)
    snapshots, snapshot_files = _publish_snapshot(config, out)
    n_workers = workers or config.workers
    cluster: LocalCluster | None = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    results: list[dict[str, Any]] = []
    failed: list[str] = []
    try:
        futures = {
            client.submit(
                process_shard, i, uri, config, str(out), key=task_key(uri, config), pure=False, retries=1
            ): (i, uri)
            for i, uri in enumerate(config.inputs)
        }
        for fut in as_completed(futures):
            i, uri = futures[fut]
            try:
                res: ShardResult = fut.result()
            except Exception as exc:
                res = ShardResult(index=i, uri=config.display(uri), failed=f"{type(exc).__name__}: {exc}"[:500])
                failed.append(f"{config.display(uri)}: {res.failed}")
            results.append(res.to_dict())
            if on_shard is not None:
                on_shard(res, len(results), len(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
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
    with open(out / RUN_LOG, "w", encoding="utf-8") as log:
        for r in results:
            log.write(json.dumps({"event": "shard", "shard": r["index"], "uri": r["uri"],
                                  "seconds": round(r["seconds"], 3), "records": r["records_in"],
                                  "failed": r["failed"]}) + "\n")
        log.write(json.dumps({"event": "run", "wall_seconds": round(wall, 3), "workers": n_workers,
                              "scheduler": scheduler or "local"}) + "\n")
    return RunReport(out, manifest, results, wall, n_workers, failed)
