"""One input shard through every stage: the unit of work a Dask task runs.

Stage order is chosen for cost: the robots decision needs only the URL, so opted-out documents
are dropped before the (expensive) HTML extraction and language ID.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from pipeline.config import RunConfig
from pipeline.document import Document, Outcome
from pipeline.extract import TIMEOUT_REASON, Extractor
from pipeline.host import url_host
from pipeline.ingest import open_reader
from pipeline.langid.stage import LanguageStage
from pipeline.manifest.build import nest_counts
from pipeline.optout.decide import RobotsFilter
from pipeline.optout.policy import Policy
from pipeline.optout.signals import SignalsFilter
from pipeline.optout.snapshot import Snapshot, SnapshotError, load_snapshot
from pipeline.storage import OutputFolder
from pipeline.write import (
    DATA_SCHEMA,
    LEDGER_SCHEMA,
    ParquetShardWriter,
    WrittenFile,
    data_row,
    ledger_row,
    sha256_file,
    should_ledger,
)


class Stage(Protocol):
    def run(self, doc: Document) -> Document: ...


@dataclass(slots=True)
class ShardResult:
    """Small by design: counts and file list travel through the scheduler, data never does."""

    index: int
    uri: str
    records_in: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    errored: dict[str, int] = field(default_factory=dict)
    # reason -> robots.txt group that decided ("*": all crawlers, or the named AI agent) -> drops
    dropped_by_group: dict[str, dict[str, int]] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    chars_kept: int = 0
    chars_by_language: dict[str, int] = field(default_factory=dict)
    signals_found: dict[str, int] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    input_bytes: int = 0
    input_sha256: str = ""
    input_mtime_ns: int = 0  # lets --resume skip re-hashing an unchanged local input
    seconds: float = 0.0
    failed: str = ""
    # Records whose outcome depended on machine speed (the extraction time safety net fired):
    # {"id", "url", "source_offset"}; the manifest lists them and says reproducible: false.
    unreproducible: list[dict[str, Any]] = field(default_factory=list)
    # Reconnections while streaming a remote input ({"offset", "attempt", "error"}): run log only.
    input_retries: list[dict[str, Any]] = field(default_factory=list)
    # Index-first fetch task (pipeline/ingest/ranges.py): {"ranges", "requests", "bytes"} fetched; {} otherwise.
    fetched: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]


class ShardError(RuntimeError):
    """A shard that cannot run, with a one-line reason (always picklable, unlike some library errors)."""


class InputChanged(ShardError):
    """A file the run was planned with no longer has the planned bytes."""


def _snapshot(key: str, path: str | None, sha256: str | None, as_of: str | None) -> Snapshot | None:
    """The snapshot with exactly the planned bytes, or InputChanged: never other rules silently."""
    if not path:
        return None
    try:
        return load_snapshot(path, as_of, sha256)
    except SnapshotError as exc:
        if "changed" in str(exc):
            raise InputChanged(f"{key.replace('_', ' ')}: {exc}") from None
        raise ShardError(str(exc)) from None


def _optout_filters(config: RunConfig) -> tuple[RobotsFilter, SignalsFilter]:
    keys = ("robots_snapshot", "tdmrep_snapshot", "aitxt_snapshot")
    return _filters(config.policy, config.robots_as_of, config.robots_rules_cache_mib,
                    *((getattr(config, k), config.file_sha256(k)) for k in keys))


@lru_cache(maxsize=4)
def _filters(policy: Policy, as_of: str | None, rules_cache_mib: int, robots: tuple[str | None, str | None],
             tdmrep: tuple[str | None, str | None],
             aitxt: tuple[str | None, str | None]) -> tuple[RobotsFilter, SignalsFilter]:
    """Built once per worker process and content digest: a replaced file gets a new entry."""
    rsnap = _snapshot("robots_snapshot", *robots, as_of)
    signals = SignalsFilter(policy, rsnap, _snapshot("tdmrep_snapshot", *tdmrep, as_of),
                            _snapshot("aitxt_snapshot", *aitxt, as_of))
    return RobotsFilter(rsnap, policy, rules_cache_bytes=rules_cache_mib * 1024 * 1024), signals


def _language_stage(config: RunConfig) -> LanguageStage:
    """The language stage for exactly the planned model bytes (checked, as the snapshots are)."""
    cfg = config.langid
    expected = config.file_sha256("langid.model")
    stage = LanguageStage.for_config(cfg)
    if expected and stage.identifier.model_sha256 != expected:
        _reload_models()
        stage = LanguageStage.for_config(cfg)
    if expected and stage.identifier.model_sha256 != expected:
        raise InputChanged(f"langid.model {cfg.model} changed since the run was planned "
                           f"(sha256 {expected[:12]}… planned, {stage.identifier.model_sha256[:12]}… found)")
    return stage


def _reload_models() -> None:
    """Forget models cached by path in this process (a long-lived worker saw an earlier file)."""
    from pipeline.langid import combined, model
    from pipeline.langid import stage as langfilter

    langfilter._identifier.cache_clear()
    for mod in (model, combined):
        for name in ("_CACHE", "_COMBINED_CACHE"):
            cache = getattr(mod, name, None)
            if isinstance(cache, dict):
                cache.clear()


def shard_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


STATE_DIR = ".consentcrawl"
#: The one outcome that depends on machine speed (pipeline/extract.py's last-resort time cap).
UNREPRODUCIBLE_REASON = TIMEOUT_REASON


def marker_path(out_dir: str | Path, index: int) -> Path:
    return Path(out_dir) / marker_rel(index)


def marker_rel(index: int) -> str:
    return f"{STATE_DIR}/shard-{index:05d}.json"


def write_marker(out_dir: str | OutputFolder, result: ShardResult, config_sha256: str) -> None:
    """Written last, atomically: its presence means the shard's files are complete."""
    folder = out_dir if isinstance(out_dir, OutputFolder) else OutputFolder(str(out_dir))
    blob = json.dumps({"config_sha256": config_sha256, "result": result.to_dict()}, sort_keys=True)
    folder.write_bytes(marker_rel(result.index), blob.encode())


def read_marker(out_dir: str | Path | OutputFolder, index: int, config_sha256: str) -> ShardResult | None:
    """The finished shard's result if its marker matches the config and its files are there.

    Trusts the marker (written last, atomically) and each file's size: resuming 100,000 shards
    takes seconds. Re-hashing every byte is `consentcrawl verify`'s job.
    """
    folder = out_dir if isinstance(out_dir, OutputFolder) else OutputFolder(str(out_dir))
    try:
        data = json.loads(folder.read_bytes(marker_rel(index)))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("config_sha256") != config_sha256:
        return None
    try:
        res = ShardResult(**data["result"])
    except (TypeError, KeyError):
        return None
    for f in res.files:
        if folder.size(f["path"]) != f["bytes"]:
            return None
    return res


def process_shard(index: int, uri: str, config: RunConfig, out_dir: str, ranges: Any = None) -> ShardResult:
    """One input through every stage; with `ranges` ((offsets, lengths, urls, barriers) of an index-first plan),
    only those records of the WARC `uri`, fetched by range (docs/index-first.md)."""
    started = time.perf_counter()
    result = ShardResult(index=index, uri=config.display(uri))
    try:
        robots, signals = _optout_filters(config)
        language = _language_stage(config)
    except ShardError:
        raise
    except Exception as exc:
        raise ShardError(_one_line(exc)) from None
    ex = config.extract
    extractor = Extractor(ex.main_content, ex.min_chars, ex.max_seconds, ex.max_elements, ex.max_element_levels,
                          ex.max_text_chars)
    root = OutputFolder(out_dir)
    data = ParquetShardWriter(root, f"data/{shard_name(index)}", DATA_SCHEMA)
    ledger = ParquetShardWriter(root, f"excluded/{shard_name(index)}", LEDGER_SCHEMA)
    dropped: Counter[str] = Counter()
    errored: Counter[str] = Counter()
    groups: Counter[tuple[str, str]] = Counter()
    langs: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    found: Counter[str] = Counter()
    source = result.uri
    try:
        reader = (open_reader(uri, config.limits.max_payload_bytes, config.tabular) if ranges is None
                  else _range_reader(uri, ranges, config))
        for batch in _batches(reader):
            for doc in batch:
                doc.source_uri = source  # ids and provenance name the input as the config does, not by local path
            _run_stages(batch, (robots, signals, extractor, language))
            for doc in batch:
                result.records_in += 1
                found.update(doc.signals)
                if doc.outcome is Outcome.KEPT:
                    result.kept += 1
                    label = f"{doc.lang}_{doc.script}"
                    langs[label] += 1
                    n = len(doc.text or "")
                    chars[label] += n
                    result.chars_kept += n
                    data.add(data_row(doc, source))
                else:
                    if doc.outcome is Outcome.DROPPED:
                        dropped[doc.reason] += 1
                        if doc.evidence.get("group"):
                            groups[doc.reason, str(doc.evidence["group"])] += 1
                    else:
                        errored[doc.reason] += 1
                        if doc.reason == UNREPRODUCIBLE_REASON:
                            result.unreproducible.append(
                                {"id": doc.id, "url": doc.url, "source_offset": doc.source_offset})
                    if should_ledger(doc):
                        ledger.add(ledger_row(doc, source))
    except Exception as exc:
        data.abort()
        ledger.abort()
        # Library errors may not survive pickling back to the driver (aiohttp's carry multidicts):
        # the shard fails with one line either way.
        raise ShardError(_one_line(exc)) from None
    result.input_retries = [{k: v for k, v in r.items() if k != "uri"} for r in getattr(reader, "retries", [])]
    files: list[WrittenFile] = [data.close(), ledger.close()]
    result.files = [f.to_dict() for f in files]
    result.dropped = dict(sorted(dropped.items()))
    result.errored = dict(sorted(errored.items()))
    result.dropped_by_group = nest_counts(groups)
    result.languages = dict(sorted(langs.items()))
    result.chars_by_language = dict(sorted(chars.items()))
    result.signals_found = dict(sorted(found.items()))
    if ranges is None:
        result.input_bytes, result.input_sha256 = input_digest(uri)
    else:  # the whole file is never read: its size and the server's etag identify it
        result.input_bytes, result.input_sha256 = int(reader.size or 0), (f"etag:{reader.etag}" if reader.etag else "")
        result.fetched = {"ranges": len(ranges[0]), "requests": reader.requests, "bytes": reader.bytes_fetched}
    result.input_mtime_ns = input_mtime_ns(uri)
    result.seconds = time.perf_counter() - started
    write_marker(root, result, config.sha256)
    return result


def _range_reader(uri: str, ranges: Any, config: RunConfig) -> Any:
    from pipeline.ingest.ranges import RangeReader

    cc = config.cc_index
    offsets, lengths, urls, barriers = ranges
    return RangeReader(uri, offsets, lengths, urls, gap=cc.coalesce_gap, max_request=cc.max_request_bytes,
                       max_payload_bytes=config.limits.max_payload_bytes, barriers=barriers)


def _one_line(exc: BaseException) -> str:
    text = (str(exc).splitlines() or [""])[0][:500]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def input_mtime_ns(uri: str) -> int:
    if "://" in uri and not uri.startswith("file://"):
        return 0
    return Path(uri.removeprefix("file://")).stat().st_mtime_ns


def input_digest(uri: str) -> tuple[int, str]:
    """Size and sha256 of a local input; remote inputs report their size and the store's etag."""
    if "://" not in uri or uri.startswith("file://"):
        path = Path(uri.removeprefix("file://"))
        return path.stat().st_size, sha256_file(path)
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    info = fs.info(path)
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
    return int(info.get("size") or 0), (f"etag:{etag}" if etag else "")


#: Documents per batch, and the payload bytes a batch may hold (a few 8 MB pages at most).
BATCH_DOCS = 64
BATCH_BYTES = 32 * 1024 * 1024


def _batches(reader: Iterable[Document]) -> Iterator[list[Document]]:
    """Consecutive documents in input order, bounded in count and payload bytes."""
    batch: list[Document] = []
    size = 0
    for doc in reader:
        batch.append(doc)
        size += len(doc.html or b"") + len(doc.text or "")
        if len(batch) >= BATCH_DOCS or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _run_stages(docs: list[Document], stages: tuple[Stage, ...]) -> None:
    """The documents' path through the filters; each stage may end a document with a reason.

    Order: robots.txt (needs only the URL), other opt-out signals (headers and <meta>), extraction,
    language. Cheap decisions first, so opted-out pages cost no extraction. Stage-major over a
    batch: the HTML parser's and the language model's working sets each stay in the CPU cache
    (``scripts/bench_ablation.py`` measures it against taking every document through every stage).
    """
    live: list[Document] = []
    for doc in docs:
        if doc.done:
            continue
        doc.host = url_host(doc.url)
        if not doc.host:
            doc.error("invalid-url", url=doc.url[:300])
        else:
            live.append(doc)
    for stage in stages:
        for doc in live:
            try:
                stage.run(doc)
            except Exception as exc:  # one bad record never ends the shard
                doc.error(f"stage-failed:{type(stage).__name__}", detail=f"{type(exc).__name__}: {exc}"[:300])
        live = [d for d in live if not d.done]
    for doc in live:
        doc.html = None  # extracted: the payload is not needed any more
        doc.keep()
