"""Run shards as dask.distributed tasks and assemble the dataset folder.

One task per input shard with a key derived from the input and the config digest; a task
returns only counts and a file list. Default: an embedded LocalCluster of processes;
`scheduler=` connects to an existing scheduler instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dask
from dask.distributed import Client, LocalCluster, as_completed
from distributed.scheduler import KilledWorker, NoValidWorkerError, NoWorkerError

from pipeline.config import ConfigError, RunConfig
from pipeline.manifest import MANIFEST_NAME, build_manifest
from pipeline.manifest.card import add_card
from pipeline.manifest.dataset import Dataset
from pipeline.optout.snapshot import load_snapshot
from pipeline.shard import (
    STATE_DIR,
    ShardResult,
    input_digest,
    input_mtime_ns,
    marker_rel,
    process_shard,
    read_marker,
    shard_name,
)
from pipeline.storage import OutputFolder
from pipeline.write import sha256_file

SNAPSHOT_DIR = "snapshots"
RUN_LOG = "run-log.jsonl"
#: Tasks fail (NoValidWorkerError) when no worker has been there for this long: Dask's own
#: `distributed.scheduler.no-workers-timeout`, set for the embedded cluster (docs/cluster.md for others).
NO_WORKER_TIMEOUT = os.environ.get("CONSENTCRAWL_NO_WORKER_TIMEOUT", "300s")
CONNECT_TIMEOUT = 30.0


@dataclass(slots=True)
class RunReport:
    out_dir: Path | str  # a local folder, or the URL of a remote one
    manifest: dict[str, Any]
    shards: list[dict[str, Any]]
    wall_seconds: float
    workers: int
    failed: list[str] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def task_key(index: int, uri: str, config: RunConfig, attempt: int = 0) -> str:
    """Keyed by the input's position and name as the config gives them: two names of one file
    can never share a task (and a retry gets a key of its own)."""
    digest = hashlib.sha256(f"{index}\x00{config.display(uri)}\x00{config.sha256}".encode()).hexdigest()[:16]
    return f"consentcrawl-shard-{index:06d}-{digest}" + (f"-retry{attempt}" if attempt else "")


class ResumeError(ConfigError):
    """Resuming would mix outputs of different configs or inputs."""


class OutputInUse(ConfigError):
    """Another run holds the output folder's lock."""


LOCK_NAME = "lock"
RUN_STATE = "run.json"


def _own_files(config: RunConfig) -> list[str]:
    """Every path a run of this config writes: the only files a fresh restart may replace."""
    files = [MANIFEST_NAME, RUN_LOG]
    for i in range(len(config.inputs)):
        files += [f"data/{shard_name(i)}", f"excluded/{shard_name(i)}", marker_rel(i)]
    return files


def check_output(out: OutputFolder, config: RunConfig, resume: bool) -> dict[str, Any] | None:
    """Decide, without writing anything, whether this run may write into `out`.

    Returns the previous run's state (for --resume). A folder that holds anything but this
    config's own unfinished output is refused: a run never deletes or overwrites what it did
    not write.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output folder {out} is a file")
    if not out.list_top():
        return None
    try:
        state = json.loads(out.read_bytes(f"{STATE_DIR}/{RUN_STATE}"))
        if not isinstance(state, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        raise ConfigError(f"output folder {out} is not empty and holds no consentcrawl run: refusing to write "
                          "into it (choose a new or empty folder)") from None
    same_settings = state.get("settings_sha256") == config.settings_sha256()
    if resume:
        if not same_settings:
            raise ResumeError(f"{out} was written with another config (sha256 {str(state.get('config_sha256'))[:12]}"
                              f"…, now {config.sha256[:12]}…): refusing to mix outputs; use a new --out")
        return state
    finished = out.exists(MANIFEST_NAME)
    if same_settings and state.get("config_sha256") == config.sha256 and not finished:
        return state  # this config's own unfinished output: a fresh start redoes it
    what = "finished" if finished else "unfinished"
    raise ConfigError(f"output folder {out} already holds a {what} consentcrawl run"
                      f"{'' if same_settings and state.get('config_sha256') == config.sha256 else ' of another config'}"
                      ": use --resume to continue it, or choose a new folder")


class OutputLock:
    """An exclusive lock on the output folder, held for the whole run (released by the OS on a crash).

    Local folders only: object stores have no locks (docs/cluster.md says to give each run its
    own prefix).
    """

    def __init__(self, out: OutputFolder) -> None:
        self.path = None if out.remote else out.local_path(f"{STATE_DIR}/{LOCK_NAME}")
        self._fh: Any = None

    def held_by_other(self) -> bool:
        """Whether another live process holds the lock (checked before anything is written)."""
        import fcntl

        if self.path is None or not self.path.is_file():
            return False
        with open(self.path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
        return False

    def acquire(self) -> None:
        import fcntl

        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held open for the run
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise OutputInUse(f"another consentcrawl run is writing into {self.path.parent.parent}; "
                              "wait for it or choose another folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}) + "\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _prepare_out(out: OutputFolder, config: RunConfig, state: dict[str, Any] | None, resume: bool) -> None:
    """Called with the lock held: clear this run's own stale state, record what is running."""
    if state is not None and not resume:
        for rel in _own_files(config):
            out.remove(rel)
    for name in (MANIFEST_NAME, RUN_LOG):
        out.remove(name)
    out.write_bytes(f"{STATE_DIR}/{RUN_STATE}", (json.dumps(
        {"config_sha256": config.sha256, "settings_sha256": config.settings_sha256(),
         "file_sha256": dict(config.file_digests)}, sort_keys=True) + "\n").encode())


def _remove_partials(out: OutputFolder) -> None:
    """Temporary files of tasks that died (killed workers) are never part of the dataset.

    Only names our writers use (``.part-NNNNN.parquet.PID.tmp``, ``.shard-NNNNN.json.PID.tmp``);
    uploads to an object store are staged on the workers' disks, never in the folder.
    """
    if out.remote:
        return
    for sub, pattern in (("data", ".part-*.parquet.*.tmp"), ("excluded", ".part-*.parquet.*.tmp"),
                         (STATE_DIR, ".shard-*.json.*.tmp")):
        for tmp in out.local_path(sub).glob(pattern):
            tmp.unlink(missing_ok=True)


def _resumable(config: RunConfig, out: OutputFolder, state: dict[str, Any] | None,
               notes: list[str]) -> dict[int, ShardResult]:
    """Finished shards whose marker matches this run exactly; the others are redone, and why is said."""
    done: dict[int, ShardResult] = {}
    previous = dict((state or {}).get("file_sha256") or {})
    changed = sorted(k for k in set(previous) | set(dict(config.file_digests))
                     if previous.get(k) != config.file_sha256(k))
    for i, uri in enumerate(config.inputs):
        res = read_marker(out, i, config.sha256)
        if res is None:
            continue
        if res.uri != config.display(uri):
            raise ResumeError(f"shard {i} was {res.uri}, now {config.display(uri)}: the input list changed; "
                              "use a new --out")
        if not _input_unchanged(uri, res):
            notes.append(f"input {res.uri} changed since the interrupted run: shard {i} is redone")
            continue
        done[i] = res
    for key in changed:
        notes.append(f"{key} changed since the interrupted run (sha256 {str(previous.get(key))[:12]}… → "
                     f"{str(config.file_sha256(key))[:12]}…): every shard finished with it is redone")
    return done


def _input_unchanged(uri: str, res: ShardResult) -> bool:
    mtime = input_mtime_ns(uri)
    if mtime:
        path = Path(uri.removeprefix("file://"))
        if path.stat().st_size == res.input_bytes and mtime == res.input_mtime_ns:
            return True  # unchanged local file: size and mtime as recorded, no need to re-read it
    return input_digest(uri) == (res.input_bytes, res.input_sha256)


def _publish_snapshot(config: RunConfig, out: OutputFolder) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Copy the snapshot into the dataset and check the copy is the file the run was planned with."""
    if not config.robots_snapshot:
        return [], []
    import pyarrow.parquet as pq

    planned = config.file_sha256("robots_snapshot")
    rel = f"{SNAPSHOT_DIR}/robots.parquet"
    tmp = out.scratch(rel)
    try:
        shutil.copyfile(config.robots_snapshot, tmp)
        digest = sha256_file(tmp)
        if planned and digest != planned:
            raise ConfigError(f"robots snapshot {config.robots_snapshot} changed since the run was planned "
                              f"(sha256 {planned[:12]}… → {digest[:12]}…); run again")
        snap = load_snapshot(str(tmp), config.robots_as_of)
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
        listed = {"path": rel, "sha256": digest, "bytes": tmp.stat().st_size,
                  "rows": pq.ParquetFile(tmp).metadata.num_rows}
        out.put(tmp, rel)
    finally:
        tmp.unlink(missing_ok=True)
    return [meta], [listed]


def _langid_meta(config: RunConfig) -> dict[str, Any]:
    from pipeline.langid.stage import _identifier

    ident = _identifier(config.langid.model, config.langid.thresholds, config.langid.max_chars)
    return {
        "model": ident.model_name,
        "model_sha256": ident.model_sha256,
        "labels": len(ident.labels),
        "label_set": sorted(ident.labels),
        "thresholds": config.langid.thresholds or "bundled",
        "keep_languages": list(config.langid.keep_languages),
    }


def parse_scheduler(address: str) -> str:
    """A Dask scheduler address (tcp://, tls://, ucx://, inproc:// or a scheduler JSON file)."""
    if address.endswith(".json") and Path(address).is_file():
        try:
            return str(json.loads(Path(address).read_text())["address"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"--scheduler {address}: not a Dask scheduler file ({exc})") from None
    scheme, sep, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if not sep or scheme not in ("tcp", "tls", "ucx", "ws", "wss") or not host or not port.isdigit():
        raise ConfigError(f"--scheduler {address!r}: expected a Dask scheduler address such as tcp://HOST:8786 "
                          "or a scheduler JSON file")
    return address


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Client:
    """Connect to an external scheduler before anything is written; one line if it cannot be reached."""
    address = parse_scheduler(address)
    try:
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address} within {timeout:.0f} s "
                          f"({type(exc).__name__}); is it running?") from None


def run_pipeline(
    config: RunConfig,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    on_shard: Callable[[ShardResult, int, int], None] | None = None,
    on_start: Callable[[int, int, str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunReport:
    """Validate, claim the output folder, run every shard, write the manifest.

    Nothing is written before the config, the output folder and the scheduler have been checked;
    only files this run writes are ever replaced.
    """
    started = time.perf_counter()
    out = OutputFolder(config.output)
    n_workers = workers or config.workers
    lock = OutputLock(out)
    if lock.held_by_other():
        raise OutputInUse(f"another consentcrawl run is writing into {out}; wait for it or choose another folder")
    state = check_output(out, config, resume)
    client = connect(scheduler) if scheduler else None
    if client is not None:
        client.run_on_scheduler(_default_no_workers_timeout, NO_WORKER_TIMEOUT)
    # The embedded cluster's worker processes spawn and import on a thread while the driver
    # prepares the output folder (and, on --resume, checks the finished shards).
    starting = None
    if client is None:
        pool = ThreadPoolExecutor(1)
        starting = pool.submit(_local_cluster, n_workers)
        pool.shutdown(wait=False)  # the thread ends with the submitted start
    cluster: LocalCluster | None = None
    notes: list[str] = []
    try:
        out.makedirs()
        lock.acquire()
        _prepare_out(out, config, state, resume)
        finished = _resumable(config, out, state, notes) if resume else {}
        _remove_partials(out)
        snapshots, snapshot_files = _publish_snapshot(config, out)
        if starting is not None:
            cluster = starting.result()
            client = Client(cluster)
        assert client is not None
        plan, planned = None, config
        if config.cc_index is not None:  # index-first: plan (Dask tasks), then fetch shards (docs/index-first.md)
            from pipeline.index_first import plan_run

            plan = plan_run(client, config, out)
            config = replace(config, inputs=plan.warcs)  # same digest: the plan is a function of the config
            finished = _resumable(config, out, state, notes) if resume else {}
        for note in notes:
            if on_note is not None:
                on_note(note)
        # No caller source code captured and shipped with every submit (Dask's default, for its
        # dashboard): at 100,000 shards it is the driver's largest per-task cost.
        with dask.config.set({"distributed.diagnostics.computations.nframes": 0}):
            results, failed, log = _drive(client, config, out, finished, on_shard, on_start,
                                          plan.ranges if plan is not None else None)
    except BaseException:
        lock.release()
        # Interrupted (Ctrl-C) or failed: results still in flight are abandoned on purpose, so the
        # shutdown's "stream closed" errors of Dask's background tasks are not news to the user.
        for name in ("tornado.application", "distributed", "asyncio"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        with contextlib.suppress(Exception):
            if client is not None:
                client.close()
        with contextlib.suppress(Exception):
            if cluster is None and starting is not None:
                cluster = starting.result()
            if cluster is not None:
                cluster.close()
        raise
    client.close()
    if cluster is not None:
        cluster.close()
    try:
        _remove_partials(out)
        index_first: dict[str, Any] = {}
        if plan is not None:
            from pipeline.index_first import manifest_section

            index_first = {"plan_results": plan.shard_results(),
                           "cc_index": manifest_section(plan, config, results)}
            log.lines[:0] = [_line(e) for e in plan.events]
        manifest = build_manifest(
            **index_first,
            config=planned.content_dict(),
            config_sha256=config.sha256,
            policy=config.policy.to_dict(),
            langid=_langid_meta(config),
            snapshots=snapshots,
            results=results,
            extra_files=snapshot_files,
        )
        # README.md first (listed in the manifest): `datasets.load_dataset(DIR)` works on the folder as it is
        manifest = add_card(Dataset(out, manifest, None if out.remote else out.local_path()))
        out.write_json(MANIFEST_NAME, manifest)
        wall = time.perf_counter() - started
        log.lines[:0] = [_line({"event": "note", "text": n}) for n in notes]
        log.append({"event": "run", "wall_seconds": round(wall, 3), "workers": n_workers,
                    "scheduler": scheduler or "local", "resumed_shards": len(finished),
                    "failed_shards": len(failed)})
        out.write_bytes(RUN_LOG, "".join(log.lines).encode())
    finally:
        lock.release()
    where: Path | str = out.url if out.remote else out.local_path()
    return RunReport(where, manifest, results, wall, n_workers, failed, sorted(finished), notes)


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True) + "\n"


class RunLog:
    """run-log.jsonl events, kept as their JSON lines (a third of the memory of dicts at 100,000 shards)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def append(self, entry: dict[str, Any]) -> None:
        self.lines.append(_line(entry))

    def extend(self, entries: Iterable[dict[str, Any]]) -> None:
        self.lines.extend(_line(e) for e in entries)


#: Failures the scheduler has already retried or waited out: submitting again would only repeat them.
NOT_RETRIED = (KilledWorker, NoWorkerError, NoValidWorkerError)

#: Shards in flight at once: bounds the driver's and the scheduler's memory for any crawl size.
MAX_IN_FLIGHT = int(os.environ.get("CONSENTCRAWL_MAX_IN_FLIGHT", "2000"))


def _drive(
    client: Client,
    config: RunConfig,
    out: OutputFolder,
    finished: dict[int, ShardResult],
    on_shard: Callable[[ShardResult, int, int], None] | None,
    on_start: Callable[[int, int, str], None] | None,
    ranges: dict[int, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[str], RunLog]:
    """Submit shards in a bounded window, record each result as it lands, then forget its future.

    A recorded shard's future is released at once, so a worker lost later never makes the
    scheduler recompute it; the driver keeps only the small result dict per shard.
    """
    total = len(config.inputs)
    results: list[dict[str, Any]] = [r.to_dict() for r in finished.values()]
    failed: list[str] = []
    log = RunLog()
    log.extend({"event": "skipped", "shard": i, "uri": r.uri} for i, r in sorted(finished.items()))
    if on_start is not None:
        on_start(total, len(finished), _dashboard(client))
    todo = iter(i for i in range(total) if i not in finished)
    attempts: dict[int, int] = {}
    index_of: dict[str, int] = {}

    def submit(indices: list[int]) -> list[Any]:
        """One graph update for many shards (a `submit` per shard costs the driver ~2 ms each)."""
        if not indices:
            return []
        uris = [config.inputs[i] for i in indices]
        # Each task carries a config holding only its own input (a crawl's input list is large);
        # the digest of the full config travels with it.
        extra = [] if ranges is None else [[ranges[i] for i in indices]]  # index-first: the records to fetch
        futs = client.map(process_shard, indices, uris, [replace(config, inputs=(u,)) for u in uris],
                          [out.url] * len(indices), *extra,
                          key=[task_key(i, u, config, attempts.get(i, 0)) for i, u in zip(indices, uris, strict=True)],
                          pure=False)
        for i, fut in zip(indices, futs, strict=True):
            index_of[fut.key] = i
        return futs

    def record(i: int, res: ShardResult | None, error: str = "") -> None:
        if res is None:
            res = ShardResult(index=i, uri=config.display(config.inputs[i]), failed=error[:500])
            failed.append(f"{res.uri}: {res.failed}")
        row = res.to_dict()
        log.extend({"event": "input-retry", "shard": i, **r} for r in row.pop("input_retries", []))
        results.append(row)
        log.append({"event": "failed" if row["failed"] else "shard", "shard": i, "uri": row["uri"],
                    "seconds": round(row["seconds"], 3), "records": row["records_in"], "error": row["failed"],
                    "attempts": attempts.get(i, 0) + 1})
        if on_shard is not None:
            on_shard(res, len(results), total)

    # Results arrive with their futures (no round trip per shard) and in batches; each batch's
    # replacements (the next shards, and retries) go out as one graph update.
    window = as_completed(submit(list(itertools.islice(todo, MAX_IN_FLIGHT))), with_results=True,
                          raise_errors=False)
    for batch in window.batches():
        again: list[int] = []
        for fut, outcome in batch:
            i = index_of.pop(fut.key)
            failed_now = fut.status == "error"
            fut.release()
            if not failed_now:
                record(i, outcome)
            else:  # KilledWorker, a shard's own error, a lost connection, ...
                exc = outcome[1]
                error = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, NOT_RETRIED) and attempts.get(i, 0) < config.retries:
                    attempts[i] = attempts.get(i, 0) + 1
                    log.append({"event": "retry", "shard": i, "attempt": attempts[i], "error": error[:500]})
                    again.append(i)
                    continue
                record(i, None, error)
            nxt = next(todo, None)
            if nxt is not None:
                again.append(nxt)
        window.update(submit(again))
    results.sort(key=lambda r: r["index"])
    return results, failed, log


def _default_no_workers_timeout(timeout: str | float, dask_scheduler: Any = None) -> float | None:
    """Dask's own `no-workers-timeout` on an external scheduler that has none set (else left alone):
    shards fail with NoWorkerError instead of waiting forever for workers that never come."""
    from dask.utils import parse_timedelta

    if dask_scheduler is not None and dask_scheduler.no_workers_timeout is None:
        dask_scheduler.no_workers_timeout = parse_timedelta(timeout)
    return getattr(dask_scheduler, "no_workers_timeout", None)


def _serves_bokeh_dashboard() -> bool:
    import sys

    return "distributed.dashboard.scheduler" in sys.modules


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
                "distributed.nanny.pre-spawn-environ": environ,
                "distributed.worker.preload": ["pipeline.worker_setup"],
                "distributed.scheduler.no-workers-timeout": NO_WORKER_TIMEOUT}
    with dask.config.set(settings):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,  # a failed shard is reported by the driver, with its reason
        )


def _dashboard(client: Client) -> str:
    """The dashboard address, only when the scheduler serves bokeh's dashboard (not its "needs bokeh" page)."""
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return ""
        # Without bokeh the scheduler still lists a "dashboard" service whose /status says "Dask needs bokeh".
        if not client.run_on_scheduler(_serves_bokeh_dashboard):
            return ""
        return str(client.dashboard_link or "")
    except Exception:
        return ""
