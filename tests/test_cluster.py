"""The pipeline on a real external Dask scheduler with two `dask worker` processes on loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, start_dask, stop_dask

from pipeline.config import load_config
from pipeline.manifest import verify
from pipeline.runner import run_pipeline

SAMPLE_CONFIG = ROOT / "pipeline" / "sample" / "dry-run.yaml"
DASK = shutil.which("dask")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    address, procs = start_dask(tmp_path_factory.mktemp("cluster"), workers=2)
    try:
        yield address, procs
    finally:
        stop_dask(procs)


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
    import pipeline.runner as runner

    monkeypatch.setattr(runner, "NO_WORKER_TIMEOUT", 3.0)
    address, procs = start_dask(tmp_path, workers=0)
    try:
        report = run_pipeline(load_config(SAMPLE_CONFIG, {"output": str(tmp_path / "o")}), scheduler=address)
        assert len(report.failed) == 5 and all("NoWorkerError" in f for f in report.failed)
        assert {i["status"] for i in report.manifest["inputs"]} == {"failed"}
    finally:
        stop_dask(procs)
