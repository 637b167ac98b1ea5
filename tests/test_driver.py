"""The driver at crawl scale: a finished shard is never computed again, whatever happens to workers.

Executions are counted by a worker plugin on a real `dask scheduler` with real `dask worker`
processes: each time a shard task starts executing, the worker appends its key to a file.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import psutil
from conftest import ROOT, start_dask, stop_dask
from dask_plugins import ExecutionLog
from distributed import Client

from pipeline.config import load_config
from pipeline.manifest import verify
from pipeline.runner import run_pipeline

SAMPLE = ROOT / "pipeline" / "sample"


def test_a_worker_lost_after_shards_finished_never_recomputes_them(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(6):
        shutil.copyfile(SAMPLE / "sample-00000.warc.gz", inputs / f"c{i}.warc.gz")
    out = tmp_path / "out"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{inputs}/*.warc.gz']\noutput: {out}\n"
                   f"robots_snapshot: {SAMPLE / 'robots-snapshot.parquet'}\n")
    log = tmp_path / "executions.txt"
    address, procs = start_dask(tmp_path, workers=2)
    try:
        with Client(address, timeout="30s") as c:
            c.register_plugin(ExecutionLog(str(log)))
        finished: list[int] = []
        killed: list[int] = []

        def kill_after_two(res: object, done: int, total: int) -> None:
            finished.append(res.index)  # type: ignore[attr-defined]
            if len(finished) == 2 and not killed:
                nanny = psutil.Process(procs[1].pid)
                victims = [p for p in nanny.children(recursive=True) if "python" in p.name().lower()]
                os.kill(victims[-1].pid, signal.SIGKILL)
                killed.append(victims[-1].pid)

        report = run_pipeline(load_config(cfg), scheduler=address, on_shard=kill_after_two)
    finally:
        stop_dask(procs)
    assert killed and not report.failed
    executions = log.read_text().split()
    by_shard: dict[int, int] = {}
    for key in executions:
        shard = int(key.split("-")[2])
        by_shard[shard] = by_shard.get(shard, 0) + 1
    assert sorted(by_shard) == list(range(6))
    # shards recorded before the kill ran exactly once: their futures were released on arrival
    assert [by_shard[i] for i in finished[:2]] == [1, 1], by_shard
    # at most the shard running on the killed worker ran twice
    assert sum(by_shard.values()) <= 6 + 1, by_shard
    assert report.manifest["counts"]["balanced"]
    assert verify(out) == []
