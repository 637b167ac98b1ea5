"""Worker plugins the tests install on real Dask workers (importable there: see conftest.start_dask)."""

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
