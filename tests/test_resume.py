"""Surviving what clusters do to jobs: a killed driver, a killed worker, a shard that kills workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import psutil
import pytest
from conftest import ROOT, start_dask, stop_dask
from dask_plugins import CRASH_ON_ENV, CRASH_PRELOAD

from pipeline.config import ConfigError, load_config
from pipeline.manifest import verify
from pipeline.runner import run_pipeline
from pipeline.shard import STATE_DIR

SAMPLE = ROOT / "pipeline" / "sample"


def _config(tmp: Path, out: Path, copies: int = 4) -> Path:
    """Several real shards (copies of the two sample WARCs, under other names) and the sample snapshot."""
    inputs = tmp / "inputs"
    inputs.mkdir(exist_ok=True)
    for i in range(copies):
        for n in (0, 1):
            shutil.copyfile(SAMPLE / f"sample-0000{n}.warc.gz", inputs / f"copy{i}-{n}.warc.gz")
    cfg = tmp / "run.yaml"
    cfg.write_text(f"inputs: ['{inputs}/*.warc.gz']\noutput: {out}\npolicy: apertus\n"
                   f"robots_snapshot: {SAMPLE / 'robots-snapshot.parquet'}\nworkers: 1\n")
    return cfg


def _same_dataset(a: Path, b: Path) -> None:
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    for f in json.loads((a / "manifest.json").read_text())["files"]:
        assert (a / f["path"]).read_bytes() == (b / f["path"]).read_bytes(), f["path"]
    assert not list(a.rglob("*.tmp"))


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("clean")
    cfg = _config(tmp, tmp / "out")
    run_pipeline(load_config(cfg))
    return cfg, tmp / "out"


def test_killed_driver_then_resume_redoes_only_unfinished_shards(clean_run, tmp_path: Path) -> None:
    cfg = _config(tmp_path, tmp_path / "out")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--config", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / STATE_DIR).glob("shard-*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole job, as a batch system does
    proc.wait(timeout=30)
    time.sleep(0.5)
    finished = sorted(int(p.stem.split("-")[1]) for p in (out / STATE_DIR).glob("shard-*.json"))
    assert 2 <= len(finished) < 8, finished
    assert not (out / "manifest.json").exists()
    report = run_pipeline(load_config(cfg), resume=True)
    assert report.resumed == finished
    log = [json.loads(line) for line in (out / "run-log.jsonl").read_text().splitlines()]
    assert sorted(e["shard"] for e in log if e["event"] == "skipped") == finished
    assert sorted(e["shard"] for e in log if e["event"] == "shard") == sorted(set(range(8)) - set(finished))
    _same_dataset(out, clean_run[1])
    assert verify(out) == []


def test_resume_refuses_a_changed_config(clean_run, tmp_path: Path) -> None:
    """Changed settings are refused; changed file contents are redone (tests/test_integrity_run.py)."""
    cfg = _config(tmp_path, tmp_path / "out", copies=1)
    run_pipeline(load_config(cfg))
    changed = cfg.read_text().replace("policy: apertus", "policy: {name: x, agents: [GPTBot]}")
    cfg2 = tmp_path / "changed.yaml"
    cfg2.write_text(changed)
    with pytest.raises(ConfigError, match="another config"):
        run_pipeline(load_config(cfg2), resume=True)


def test_killed_worker_mid_run_gives_identical_output(clean_run, tmp_path: Path) -> None:
    address, procs = start_dask(tmp_path, workers=2)
    try:
        killed: list[int] = []

        def kill_one(res: object, done: int, total: int) -> None:
            if killed:
                return
            nanny = psutil.Process(procs[1].pid)
            victims = [p for p in nanny.children(recursive=True) if "python" in p.name().lower()]
            victims[-1].send_signal(signal.SIGKILL)
            killed.append(victims[-1].pid)

        cfg = _config(tmp_path, tmp_path / "out")
        report = run_pipeline(load_config(cfg), scheduler=address, on_shard=kill_one)
        assert killed and not report.failed
        _same_dataset(tmp_path / "out", clean_run[1])
    finally:
        stop_dask(procs)


def test_a_shard_that_kills_workers_is_recorded_and_others_finish(tmp_path: Path, monkeypatch) -> None:
    cfg = _config(tmp_path, tmp_path / "out", copies=2)
    # The embedded cluster's real worker processes die hard on that input (tests/dask_plugins.py).
    monkeypatch.setenv(CRASH_ON_ENV, "copy1-0.warc.gz")
    with dask.config.set({"distributed.scheduler.allowed-failures": 1, **CRASH_PRELOAD}):
        report = run_pipeline(load_config(cfg), workers=2)
    assert len(report.failed) == 1 and "copy1-0.warc.gz" in report.failed[0]
    assert "KilledWorker" in report.failed[0]
    statuses = {i["uri"].rsplit("/", 1)[-1]: i["status"] for i in report.manifest["inputs"]}
    assert statuses.pop("copy1-0.warc.gz") == "failed" and set(statuses.values()) == {"complete"}
    assert report.manifest["counts"]["balanced"]
    assert verify(report.out_dir) == []
