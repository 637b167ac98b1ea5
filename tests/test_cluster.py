"""The pipeline on a real external Dask scheduler with two `dask worker` processes on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline.config import load_config
from pipeline.manifest import verify
from pipeline.runner import run_pipeline

SAMPLE_CONFIG = ROOT / "pipeline" / "sample" / "dry-run.yaml"
DASK = shutil.which("dask")


def _wait_for(path: Path, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except ValueError:
                pass
        time.sleep(0.2)
    raise TimeoutError(f"{path} did not appear")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    if DASK is None:
        pytest.skip("the `dask` command is not on PATH")
    tmp = tmp_path_factory.mktemp("cluster")
    sched_file = tmp / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                          "--scheduler-file", str(sched_file)], env=env, cwd=tmp,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ]
    try:
        address = _wait_for(sched_file)["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1",
                                           "--no-dashboard", "--host", "127.0.0.1"], env=env, cwd=tmp,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from dask.distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def test_run_on_external_scheduler_matches_local_run(cluster, tmp_path: Path) -> None:
    address, _ = cluster
    remote = run_pipeline(load_config(SAMPLE_CONFIG, {"output": str(tmp_path / "remote")}), scheduler=address)
    local = run_pipeline(load_config(SAMPLE_CONFIG, {"output": str(tmp_path / "local")}), workers=1)
    assert not remote.failed and verify(remote.out_dir) == []
    assert (remote.out_dir / "manifest.json").read_bytes() == (local.out_dir / "manifest.json").read_bytes()


def test_cli_run_with_scheduler_flag(cluster, tmp_path: Path) -> None:
    address, _ = cluster
    config = str(ROOT / "configs" / "sample.yaml")
    res = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--config", config,
                          "--out", str(tmp_path / "ds"), "--scheduler", address],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "kept + dropped + errored = in" in res.stdout
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["config"]["robots_as_of"] == "2025-01-31"


def test_a_scheduler_without_workers_fails_the_shards_instead_of_hanging(tmp_path: Path, monkeypatch) -> None:
    if DASK is None:
        pytest.skip("the `dask` command is not on PATH")
    import pipeline.runner as runner

    monkeypatch.setattr(runner, "NO_WORKER_TIMEOUT", 3.0)
    sched_file = tmp_path / "s.json"
    proc = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                             "--scheduler-file", str(sched_file)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        address = _wait_for(sched_file)["address"]
        report = run_pipeline(load_config(SAMPLE_CONFIG, {"output": str(tmp_path / "o")}), scheduler=address)
        assert len(report.failed) == 5 and all("NoWorkers" in f for f in report.failed)
        assert {i["status"] for i in report.manifest["inputs"]} == {"failed"}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
