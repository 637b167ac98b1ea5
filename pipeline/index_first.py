"""Index-first runs: decide robots.txt opt-outs from Common Crawl's columnar URL index, fetch only the rest.

Why: the robots.txt decision needs only the URL, and Common Crawl publishes one row per capture
(`url`, `warc_filename`, `warc_record_offset`, `warc_record_length`, ...) in its cc-index table.
Deciding from the index before downloading turns the opt-out stage from a cost into a saving: an
opted-out record's bytes are never requested (docs/index-first.md).

Shape of a run (pipeline/runner.py calls `plan_run`, then the usual shard loop; the index's config,
schema and filters are in pipeline/ingest/cc_index.py):

1. **Planning**, one Dask task per index file (`plan_index_file`): read the projected columns in
   batches, apply the config's filters (rows removed are counted per filter, not listed), decide
   robots.txt per row grouped by origin (one snapshot lookup and one compiled policy per host),
   write the opted-out rows to `excluded/part-index-NNNNN.parquet` with their evidence, and return
   the allowed rows grouped by WARC file.
2. **Merging** on the driver (`merge_plans`): per WARC, the allowed rows of every index file,
   sorted by offset (a record listed twice is counted once, as `index-duplicate-row`). WARC files
   sorted by location are the fetch shards 0..N-1.
3. **Fetching**, one task per WARC (`pipeline.shard.process_shard` with `ranges`): coalesced range
   requests (pipeline/ingest/ranges.py), each record read alone and sent through the usual stages.

Decisions are pure (`pipeline.optout.decide`); this module does the reading and the grouping.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.ingest.cc_index import (
    BATCH_ROWS,
    DUPLICATE_REASON,
    OPTIONAL_COLUMNS,
    PLAN_LEDGER,
    REQUIRED_COLUMNS,
    CcIndexConfig,
    digest_key,
    filter_masks,
    index_file_digest,
    open_index_parquet,
    warc_location,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from pipeline.config import RunConfig
    from pipeline.storage import OutputFolder

# --- planning (one Dask task per index file) ---------------------------------------------------


@dataclass(slots=True)
class PlanResult:
    """What one planning task returns: counts, its ledger file, and the allowed rows per WARC file."""

    index: int
    uri: str
    bytes: int = 0
    digest: str = ""
    rows_read: int = 0
    filtered_out: dict[str, int] = field(default_factory=dict)
    selected: int = 0
    shard: dict[str, Any] = field(default_factory=dict)  # a ShardResult dict of the rows decided at plan time
    # warc_filename -> pa.Table(offset, length, url, row, allowed, plan), every selected row by offset
    ranges: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _record_id(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bytes) and len(raw) == 16:
        return f"<urn:uuid:{uuid.UUID(bytes=raw)}>"
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
    text = text.strip()
    return text if text.startswith("<") else f"<urn:uuid:{text}>"


def _warc_date(value: Any) -> str:
    if value is None:
        return ""
    try:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    except AttributeError:
        return str(value)


def plan_index_file(index: int, uri: str, config: RunConfig, out_dir: str) -> PlanResult:
    """Filter and decide one index file; opted-out rows go to its ledger, allowed rows come back by WARC."""
    import time

    import pyarrow as pa

    from pipeline.document import Document
    from pipeline.host import url_host
    from pipeline.optout.decide import DROP_REASON
    from pipeline.optout.snapshot import origin
    from pipeline.shard import InputChanged, ShardError, ShardResult, _one_line, _optout_filters
    from pipeline.storage import OutputFolder
    from pipeline.write import LEDGER_SCHEMA, ParquetShardWriter, ledger_row

    started = time.perf_counter()
    cfg = config.cc_index
    assert cfg is not None
    display = config.display(uri)
    planned = config.file_sha256(digest_key(display))
    try:
        digest = index_file_digest(uri)
    except Exception as exc:
        raise ShardError(f"cc_index file {display}: {_one_line(exc)}") from None
    if planned and digest != planned:
        raise InputChanged(f"cc_index file {display} changed since the run was planned "
                           f"({planned[:18]}… planned, {digest[:18]}… now)")
    robots, _signals = _optout_filters(config)
    snapshot = robots.snapshot
    res = PlanResult(index=index, uri=display, digest=digest)
    shard = ShardResult(index=index, uri=display, input_sha256=digest)
    removed: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    errored: Counter[str] = Counter()
    groups: Counter[tuple[str, str]] = Counter()
    ledger = ParquetShardWriter(OutputFolder(out_dir), PLAN_LEDGER.format(index), LEDGER_SCHEMA)
    allowed_parts: list[pa.Table] = []  # every selected row, with `allowed`
    try:
        pf = open_index_parquet(uri)
        names = set(pf.schema_arrow.names)
        cols = list(dict.fromkeys([*REQUIRED_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in names),
                                   *(f.column for f in cfg.filters)]))
        res.bytes = _size_of(uri)
        row0 = 0
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
            n = batch.num_rows
            res.rows_read += n
            keep = filter_masks(batch, cfg.filters, removed)
            rows = pa.array(range(row0, row0 + n), pa.int64())
            row0 += n
            sel = batch.filter(keep)
            rows = rows.filter(keep)
            res.selected += sel.num_rows
            if not sel.num_rows:
                continue
            urls: list[str] = sel.column("url").to_pylist()
            allowed = [True] * len(urls)
            ended: list[tuple[int, Document]] = []
            by_origin: dict[str, list[int]] = {}
            for k, u in enumerate(urls):
                by_origin.setdefault(origin(u or ""), []).append(k)
            for org, ks in by_origin.items():
                entry, how = snapshot.lookup(org) if snapshot is not None else (None, "none")
                # One decision serves the whole host unless its rules depend on the path.
                uniform = snapshot is None or entry is None or not 200 <= entry.http_status < 300
                shared = None
                for k in ks:
                    u = urls[k] or ""
                    host = url_host(u)
                    if not host:
                        ended.append((k, _index_doc(sel, k, config).error("invalid-url", url=u[:300])))
                        allowed[k] = False
                        continue
                    if uniform:
                        if shared is None:
                            shared = robots.decide(u) if snapshot is None else robots.decide_entry(u, entry, how)
                        decision = shared
                    else:
                        decision = robots.decide_entry(u, entry, how)
                    if not decision.allowed:
                        doc = _index_doc(sel, k, config)
                        doc.host = host
                        doc.robots_entry = decision.entry_sha256 or ""
                        ended.append((k, doc.drop(DROP_REASON, **decision.evidence())))
                        allowed[k] = False
            for _k, doc in sorted(ended, key=lambda kd: kd[0]):  # the ledger keeps index order
                shard.records_in += 1
                if doc.outcome is not None and doc.outcome.value == "dropped":
                    dropped[doc.reason] += 1
                    if doc.evidence.get("group"):
                        groups[doc.reason, str(doc.evidence["group"])] += 1
                else:
                    errored[doc.reason] += 1
                ledger.add(ledger_row(doc, doc.source_uri))
            allowed_parts.append(pa.table({  # decided rows too: their offsets are never to be requested
                "warc_filename": sel.column("warc_filename"),
                "offset": sel.column("warc_record_offset").cast(pa.int64()),
                "length": sel.column("warc_record_length").cast(pa.int64()),
                "url": sel.column("url"),
                "row": rows,
                "allowed": pa.array(allowed, pa.bool_()),
            }))
    except (InputChanged, ShardError):
        ledger.abort()
        raise
    except Exception as exc:
        ledger.abort()
        raise ShardError(f"cc_index file {display}: {_one_line(exc)}") from None
    from pipeline.manifest.build import nest_counts

    shard.files = [ledger.close().to_dict()]
    shard.dropped = dict(sorted(dropped.items()))
    shard.errored = dict(sorted(errored.items()))
    shard.dropped_by_group = nest_counts(groups)
    shard.input_bytes = res.bytes
    res.filtered_out = dict(sorted(removed.items()))
    res.ranges = _by_warc(allowed_parts, index)
    shard.seconds = time.perf_counter() - started
    res.shard = shard.to_dict()
    res.seconds = shard.seconds
    return res


def _size_of(uri: str) -> int:
    if "://" not in uri or uri.startswith("file://"):
        return os.path.getsize(uri.removeprefix("file://"))
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    return int(fs.info(path).get("size") or 0)


def _index_doc(sel: Any, k: int, config: RunConfig) -> Any:
    """A Document for an index row decided at plan time: the provenance a full-file run would give it."""
    from pipeline.document import Document

    assert config.cc_index is not None
    names = sel.schema.names
    offset = int(sel.column("warc_record_offset")[k].as_py())
    rid = _record_id(sel.column("warc_record_id")[k].as_py()) if "warc_record_id" in names else ""
    digest = sel.column("content_digest")[k].as_py() if "content_digest" in names else None
    warc = sel.column("warc_filename")[k].as_py() or ""
    try:
        where = config.display(warc_location(config.cc_index.warc_prefix, warc))
    except ValueError:
        where = warc
    return Document(
        source_uri=where,
        source_record_id=rid or f"offset:{offset}",
        source_offset=offset,
        source_length=int(sel.column("warc_record_length")[k].as_py()),
        record_type="response",
        url=sel.column("url")[k].as_py() or "",
        crawl_date=_warc_date(sel.column("fetch_time")[k].as_py()) if "fetch_time" in names else "",
        payload_digest=(digest if ":" in digest else f"sha1:{digest}") if digest else "",
    )


def _by_warc(parts: list[pa.Table], plan_index: int) -> dict[str, pa.Table]:
    """Selected rows split by WARC file, each sorted by offset (then index row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not parts:
        return {}
    table = pa.concat_tables(parts)
    table = table.append_column("plan", pa.array([plan_index] * table.num_rows, pa.int32()))
    out: dict[str, pa.Table] = {}
    for name in pc.unique(table.column("warc_filename")).to_pylist():
        sub = table.filter(pc.equal(table.column("warc_filename"), name))
        out[str(name)] = sub.drop_columns(["warc_filename"]).sort_by([("offset", "ascending"), ("row", "ascending")])
    return out


# --- the driver: planning tasks, merge, manifest section -------------------------------------------


@dataclass(slots=True)
class FetchPlan:
    """The fetch shards of an index-first run and what planning decided."""

    warcs: tuple[str, ...]  # fetch shard i reads warcs[i]
    # shard -> (offsets, lengths, urls, barriers): the allowed records sorted by offset, and the offsets of
    # the records decided at plan time (never requested: pipeline.ingest.ranges.coalesce)
    ranges: dict[int, tuple[Any, Any, list[str], Any]]
    plans: list[PlanResult]
    duplicates: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    def shard_results(self) -> list[dict[str, Any]]:
        """Plan-time outcomes as ShardResult dicts, numbered after the fetch shards: each index file is
        an input of the manifest whose records are the rows decided from it (their ledgers are its files)."""
        return [{**p.shard, "index": len(self.warcs) + p.index} for p in sorted(self.plans, key=lambda p: p.index)]


def merge_plans(plans: list[PlanResult], cfg: CcIndexConfig) -> FetchPlan:
    """Per WARC, the allowed rows of every index file, sorted by offset; equal offsets kept once."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    per_warc: dict[str, list[pa.Table]] = {}
    for p in sorted(plans, key=lambda p: p.index):
        for name, table in p.ranges.items():
            per_warc.setdefault(name, []).append(table)
    located = sorted((warc_location(cfg.warc_prefix, name), name) for name in per_warc)
    ranges: dict[int, tuple[Any, Any, list[str], Any]] = {}
    duplicates = 0
    extra: Counter[int] = Counter()
    warcs: list[str] = []
    for loc, name in located:
        everything = pa.concat_tables(per_warc[name])
        allowed = everything.column("allowed")
        barriers = np.unique(everything.filter(pc.invert(allowed)).column("offset").to_numpy()).astype(np.int64)
        table = everything.filter(allowed).sort_by([("offset", "ascending"), ("plan", "ascending"),
                                                    ("row", "ascending")])
        if not table.num_rows:
            continue
        offsets = table.column("offset").to_numpy()
        first = np.ones(len(offsets), dtype=bool)
        first[1:] = offsets[1:] != offsets[:-1]
        duplicates += int((~first).sum())
        for k in np.flatnonzero(~first):  # a record listed again: the later index row is counted, not fetched
            extra[int(table.column("plan")[int(k)].as_py())] += 1
        keep = np.flatnonzero(first)
        urls = table.column("url").to_pylist()
        ranges[len(ranges)] = (offsets[keep].astype(np.int64),
                               table.column("length").to_numpy()[keep].astype(np.int64),
                               [urls[int(k)] or "" for k in keep], barriers)
        warcs.append(loc)
    for p in plans:
        if extra[p.index]:
            s = p.shard
            s["records_in"] += extra[p.index]
            s["dropped"] = dict(sorted(Counter({**s["dropped"], DUPLICATE_REASON: extra[p.index]}).items()))
    return FetchPlan(tuple(warcs), ranges, plans, duplicates)


def plan_task_key(index: int, display: str, config: RunConfig) -> str:
    digest = hashlib.sha256(f"plan\x00{index}\x00{display}\x00{config.sha256}".encode()).hexdigest()[:16]
    return f"consentcrawl-plan-{index:06d}-{digest}"


def plan_run(client: Any, config: RunConfig, out: OutputFolder) -> FetchPlan:
    """Run one planning task per index file on the cluster (Dask's retries), then merge on the driver."""
    from pipeline.config import ConfigError

    cfg = config.cc_index
    assert cfg is not None
    files = list(cfg.files)
    futures = client.map(plan_index_file, list(range(len(files))), files, [config] * len(files),
                         [out.url] * len(files), key=[plan_task_key(i, config.display(f), config)
                                                      for i, f in enumerate(files)],
                         retries=config.retries, pure=False)
    plans: list[PlanResult] = []
    for fut, f in zip(futures, files, strict=True):
        try:
            plans.append(fut.result())
        except Exception as exc:
            raise ConfigError(f"planning cc_index file {config.display(f)} failed: "
                              f"{(str(exc).splitlines() or [type(exc).__name__])[0][:300]}") from None
        finally:
            fut.release()
    plan = merge_plans(plans, cfg)
    plan.events = [{"event": "plan", "index_file": p.uri, "rows": p.rows_read, "selected": p.selected,
                    "decided": p.shard["records_in"], "seconds": round(p.seconds, 3)} for p in plans]
    return plan


def manifest_section(plan: FetchPlan, config: RunConfig, results: list[dict[str, Any]]) -> dict[str, Any]:
    """`cc_index` in manifest.json: the index files used, what planning decided, bytes fetched vs whole WARCs."""
    cfg = config.cc_index
    assert cfg is not None
    removed: Counter[str] = Counter()
    for p in plan.plans:
        removed.update(p.filtered_out)
    done = [r for r in results if not r.get("failed")]
    fetched = sum(int((r.get("fetched") or {}).get("bytes", 0)) for r in done)
    whole = sum(int(r.get("input_bytes") or 0) for r in done)
    files = []
    for p in sorted(plan.plans, key=lambda p: p.index):
        ident = {"etag": p.digest[5:]} if p.digest.startswith("etag:") else {"sha256": p.digest}
        files.append({"uri": p.uri, "bytes": p.bytes, **ident, "rows": p.rows_read, "selected": p.selected,
                      "decided_at_plan": int(p.shard["records_in"]), "ledger": p.shard["files"][0]["path"]})
    selected = sum(p.selected for p in plan.plans)
    return {
        "files": files,
        "filters": [{"column": f.column, "op": f.op, "values": list(f.values)} for f in cfg.filters],
        "warc_prefix": config.display(cfg.warc_prefix),
        "coalesce_gap": cfg.coalesce_gap,
        "rows_read": sum(p.rows_read for p in plan.plans),
        "rows_filtered_out": dict(sorted(removed.items())),
        "rows_selected": selected,
        "rows_decided_at_plan": sum(int(p.shard["records_in"]) for p in plan.plans),
        "rows_duplicate": plan.duplicates,
        "rows_fetched": sum(len(r[0]) for r in plan.ranges.values()),
        "warc_files": len(plan.warcs),
        "requests": sum(int((r.get("fetched") or {}).get("requests", 0)) for r in done),
        "bytes_fetched": fetched,
        "bytes_whole_warcs": whole,
    }
