"""Worker plugins and preloads the tests install on real Dask workers (importable there: see
conftest.start_dask; spawned LocalCluster workers inherit the test process's sys.path)."""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin


class ExecutionLog(WorkerPlugin):
    """Appends the key of every shard task a worker starts executing to a shared file."""

    name = "consentcrawl-test-execution-log"

    def __init__(self, path: str) -> None:
        self.path = path

    def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
        if finish == "executing" and str(key).startswith("consentcrawl-shard-"):
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(f"{key}\n")


# --- Fault injection: a worker process killed by the OS (OOM killer, preemption) -------------------
#
# Test-only; production code has no trace of it. A test sets CRASH_ON_ENV to a piece of an input name
# and runs with `dask.config.set(CRASH_PRELOAD)`: every Nanny the embedded LocalCluster starts (in the
# test's own process) then runs `dask_setup` below, which adds this module to its worker process's
# preloads; in the worker process `dask_setup` wraps `pipeline.shard.process_shard`. The driver sends
# that function by reference (module + name), so the worker resolves it to the wrapper, which exits
# hard before doing any work on a matching input. A restarted worker preloads it again.

CRASH_ON_ENV = "CONSENTCRAWL_TEST_CRASH_ON"
CRASH_EXIT_CODE = 70
CRASH_PRELOAD = {"distributed.nanny.preload": [__name__]}


def _crash_on(part: str) -> None:
    import functools
    import os

    import pipeline.shard as shard

    original = shard.process_shard

    @functools.wraps(original)
    def process_shard(index: int, uri: str, *args: object, **kwargs: object) -> object:
        if part in uri:
            os._exit(CRASH_EXIT_CODE)  # no cleanup, no exception: as SIGKILL leaves a worker
        return original(index, uri, *args, **kwargs)

    shard.process_shard = process_shard


def dask_setup(server: object) -> None:
    """Nanny: preload this module in its worker too. Worker: die on shards whose input matches."""
    import os

    from distributed import Nanny, Worker

    if isinstance(server, Nanny):
        if __name__ not in server.preload:
            server.preload = [*server.preload, __name__]
    elif isinstance(server, Worker) and os.environ.get(CRASH_ON_ENV):
        _crash_on(os.environ[CRASH_ON_ENV])
