from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TEST_DATA = ROOT / "tests" / "data"


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared/data, skipping the test when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"../shared/data/{'/'.join(parts)} not present (only CI and dev machines have it)")
    return p


@pytest.fixture(scope="session", autouse=True)
def _snapshot_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Snapshot indexes go to a folder of this test session, not the user's ~/.cache (workers inherit it)."""
    import os

    os.environ.setdefault("CONSENTCRAWL_CACHE_DIR", str(tmp_path_factory.mktemp("consentcrawl-cache")))


@pytest.fixture
def shared() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared/data not present (only CI and dev machines have it)")
    return SHARED


def start_dask(tmp: Path, workers: int) -> tuple[str, list]:
    """A real `dask scheduler` and `workers` single-thread `dask worker` processes on 127.0.0.1.

    Returns the scheduler address and the processes (scheduler first; pass them to `stop_dask`).
    """
    import json
    import os
    import shutil
    import subprocess
    import time

    dask_cmd = shutil.which("dask")
    if dask_cmd is None:
        pytest.skip("the `dask` command is not on PATH")
    sched_file = tmp / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": tmp,
             "env": {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}}
    procs = [subprocess.Popen([dask_cmd, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], **quiet)]
    try:
        deadline = time.monotonic() + 60
        address = ""
        while not address:
            if time.monotonic() > deadline:
                raise TimeoutError("the dask scheduler did not start")
            try:
                address = json.loads(sched_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        for _ in range(workers):
            procs.append(subprocess.Popen([dask_cmd, "worker", address, "--nworkers", "1", "--nthreads", "1",
                                           "--no-dashboard", "--host", "127.0.0.1"], **quiet))
        if workers:
            from dask.distributed import Client

            with Client(address, timeout="30s") as client:
                client.wait_for_workers(workers, timeout=60)
    except BaseException:
        stop_dask(procs)
        raise
    return address, procs


def stop_dask(procs: list) -> None:
    import subprocess

    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


class PeakRss:
    """Samples this process's RSS every 5 ms in a thread while the code under test runs in the main thread."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 1e6
