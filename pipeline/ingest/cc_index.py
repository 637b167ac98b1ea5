"""Common Crawl's columnar URL index (cc-index table) as an input: its config, schema and filters.

An index-first run (docs/index-first.md; the planning and fetching live in pipeline/index_first.py)
reads the index instead of whole WARC files. This module is what the config needs at start-up:
the `cc_index:` section, the table's columns and types, the filters, the files' digests.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.ingest.listing import DEFAULT_INPUT_PREFIX, glob_sorted, is_glob, resolve_path
from pipeline.ingest.ranges import DEFAULT_GAP, DEFAULT_MAX_REQUEST

if TYPE_CHECKING:
    import pyarrow as pa


#: The cc-index table's columns and types (commoncrawl/cc-index-table,
#: src/main/resources/schema/cc-index-schema-flat.json; Spark integer = int32, short = int16).
CC_INDEX_COLUMNS: dict[str, str] = {
    "url_surtkey": "string", "url": "string", "url_host_name": "string", "url_host_tld": "string",
    "url_host_2nd_last_part": "string", "url_host_3rd_last_part": "string", "url_host_4th_last_part": "string",
    "url_host_5th_last_part": "string", "url_host_registry_suffix": "string",
    "url_host_registered_domain": "string", "url_host_private_suffix": "string",
    "url_host_private_domain": "string", "url_host_name_reversed": "string", "url_protocol": "string",
    "url_port": "int32", "url_path": "string", "url_query": "string", "fetch_time": "timestamp",
    "fetch_status": "int16", "fetch_redirect": "string", "content_digest": "string",
    "content_mime_type": "string", "content_mime_detected": "string", "content_charset": "string",
    "content_languages": "string", "content_truncated": "string", "warc_record_id": "binary",
    "warc_filename": "string", "warc_record_offset": "int32", "warc_record_length": "int32",
    "warc_segment": "string", "crawl": "string", "subset": "string",
}
#: Columns a plan needs besides the filters' (warc_record_id, fetch_time, content_digest are read
#: when present: they make a ledger row's id and provenance those of a full-file run).
REQUIRED_COLUMNS = ("url", "warc_filename", "warc_record_offset", "warc_record_length")
OPTIONAL_COLUMNS = ("warc_record_id", "fetch_time", "content_digest")
INT_COLUMNS = frozenset(k for k, t in CC_INDEX_COLUMNS.items() if t.startswith("int"))
BATCH_ROWS = 65536
PLAN_LEDGER = "excluded/part-index-{:05d}.parquet"
DUPLICATE_REASON = "index-duplicate-row"


class IndexConfigError(ValueError):
    """A `cc_index:` section that cannot be used; one line naming the key."""


@dataclass(frozen=True, slots=True)
class IndexFilter:
    """Keep rows whose `column` is one of `values` (op "in"), or whose comma-separated list holds one
    of them (op "contains", e.g. `content_languages`)."""

    column: str
    values: tuple[Any, ...]
    op: str = "in"

    @property
    def label(self) -> str:
        return self.column if self.op == "in" else f"{self.column} {self.op}"


@dataclass(frozen=True, slots=True)
class CcIndexConfig:
    files: tuple[str, ...]
    filters: tuple[IndexFilter, ...] = ()
    warc_prefix: str = DEFAULT_INPUT_PREFIX  # where `warc_filename` is joined, like input_prefix for listings
    coalesce_gap: int = DEFAULT_GAP  # bytes: two wanted records closer than this are fetched in one request
    max_request_bytes: int = DEFAULT_MAX_REQUEST


_KEYS = {"files", "filters", "warc_prefix", "coalesce_gap", "max_request_bytes"}


def _expand_files(patterns: list[str], base: Path) -> tuple[str, ...]:
    """Local globs sorted (planning numbers files in this order); remote globs listed through fsspec."""
    out: list[str] = []
    for pat in patterns:
        remote = "://" in pat and not pat.startswith("file://")
        where = pat if remote else resolve_path(pat.removeprefix("file://"), base)
        if is_glob(where):
            found = glob_sorted(where)
            if not found:
                raise IndexConfigError(f"cc_index.files pattern matches no file: {pat}")
            out += found
        elif remote:
            out.append(pat)
        elif not Path(where).is_file():
            raise IndexConfigError(f"cc_index.files: index file not found: {pat}")
        else:
            out.append(where)
    if len(set(out)) != len(out):
        raise IndexConfigError("cc_index.files: an index file is listed twice")
    for f in out:
        if not f.lower().split("?", 1)[0].endswith(".parquet"):
            raise IndexConfigError(f"cc_index.files: {f} is not a Parquet file (the cc-index table is Parquet)")
    return tuple(out)


def _parse_filter(column: str, spec: Any) -> IndexFilter:
    if column not in CC_INDEX_COLUMNS:
        raise IndexConfigError(f"cc_index.filters: unknown cc-index column '{column}'")
    op = "in"
    if isinstance(spec, dict):
        if set(spec) != {"contains"}:
            raise IndexConfigError(f"cc_index.filters.{column}: expected a value, a list, or {{contains: ...}}")
        op, spec = "contains", spec["contains"]
        if column in INT_COLUMNS or CC_INDEX_COLUMNS[column] != "string":
            raise IndexConfigError(f"cc_index.filters.{column}: 'contains' applies to text columns only")
    values = spec if isinstance(spec, list) else [spec]
    if not values:
        raise IndexConfigError(f"cc_index.filters.{column}: expected at least one value")
    want = int if column in INT_COLUMNS else str
    for v in values:
        if isinstance(v, bool) or not isinstance(v, want):
            raise IndexConfigError(f"cc_index.filters.{column}: expected {want.__name__} values, got {v!r}")
    if CC_INDEX_COLUMNS[column] in ("binary", "timestamp"):
        raise IndexConfigError(f"cc_index.filters.{column}: filtering on a {CC_INDEX_COLUMNS[column]} column "
                               "is not supported")
    return IndexFilter(column, tuple(values), op)


def cc_index_from_config(data: Any, base: Path) -> CcIndexConfig:
    """The validated `cc_index:` section; paths resolve against the config's folder (the one path rule)."""
    if not isinstance(data, dict):
        raise IndexConfigError("config key 'cc_index': expected a mapping with 'files' (and optional 'filters', "
                               "'warc_prefix', 'coalesce_gap', 'max_request_bytes')")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise IndexConfigError(f"unknown config key 'cc_index.{unknown[0]}'")
    files = data.get("files")
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise IndexConfigError("config key 'cc_index.files': expected a non-empty list of index Parquet files or globs")
    filters = data.get("filters") or {}
    if not isinstance(filters, dict):
        raise IndexConfigError("config key 'cc_index.filters': expected a mapping of cc-index column -> values")
    prefix = data.get("warc_prefix", DEFAULT_INPUT_PREFIX)
    if not isinstance(prefix, str) or not prefix:
        raise IndexConfigError("config key 'cc_index.warc_prefix': expected a URL or a folder")
    numbers: dict[str, int] = {}
    for key, default, least in (("coalesce_gap", DEFAULT_GAP, 0), ("max_request_bytes", DEFAULT_MAX_REQUEST, 1)):
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise IndexConfigError(f"config key 'cc_index.{key}': expected int, got {type(value).__name__}")
        if value < least:
            raise IndexConfigError(f"config key 'cc_index.{key}': must be {least} or more")
        numbers[key] = value
    cfg = CcIndexConfig(
        files=_expand_files(files, base),
        filters=tuple(_parse_filter(str(c), v) for c, v in filters.items()),
        warc_prefix=prefix if "://" in prefix else resolve_path(prefix, base),
        **numbers,
    )
    check_index_schema(cfg.files[0], cfg)
    return cfg


def open_index_parquet(uri: str) -> Any:
    import pyarrow.parquet as pq

    if "://" in uri and not uri.startswith("file://"):
        import fsspec

        return pq.ParquetFile(fsspec.open(uri, "rb").open())
    return pq.ParquetFile(uri.removeprefix("file://"))


def check_index_schema(uri: str, cfg: CcIndexConfig) -> None:
    """The file's footer has the columns a plan and the filters need (read once at config time)."""
    try:
        names = set(open_index_parquet(uri).schema_arrow.names)
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise IndexConfigError(f"cc_index.files: {uri} is not a readable Parquet file: {first}") from None
    needed = list(REQUIRED_COLUMNS) + [f.column for f in cfg.filters]
    missing = [c for c in needed if c not in names]
    if missing:
        raise IndexConfigError(f"cc_index.files: {uri} lacks cc-index column(s) {', '.join(missing)} "
                               "(expected Common Crawl's cc-index table)")


def index_file_digest(uri: str) -> str:
    """sha256 of a local index file (hashed once per version per node), or `etag:` of a remote one."""
    if "://" not in uri or uri.startswith("file://"):
        from pipeline.optout.snapshot import current_sha256

        return current_sha256(uri.removeprefix("file://"))
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    info = fs.info(path)
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
    return f"etag:{etag}" if etag else f"size:{int(info.get('size') or 0)}"


def digest_key(display: str) -> str:
    """The `file_digests` key of an index file (part of the config digest)."""
    return f"cc_index:{display}"


def warc_location(prefix: str, warc_filename: str) -> str:
    """`warc_filename` (a path below the crawl's bucket) joined to `warc_prefix`; never escaping it."""
    rel = warc_filename.lstrip("/")
    if ".." in rel.split("/"):
        raise ValueError(f"warc_filename {warc_filename!r} has a '..' segment")
    if "://" in prefix:
        return prefix.rstrip("/") + "/" + rel
    return os.path.join(prefix, rel)


# --- filters -------------------------------------------------------------------------------------


def filter_masks(batch: pa.RecordBatch, filters: tuple[IndexFilter, ...], removed: Counter[str]) -> pa.Array:
    """Rows passing every filter; each removed row is counted under the first filter (in config order) it fails."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = pa.array([True] * batch.num_rows, pa.bool_())
    for f in filters:
        col = batch.column(f.column)
        if f.op == "contains":
            alts = "|".join(re.escape(str(v)) for v in f.values)
            mask = pc.match_substring_regex(col, f"(^|,)\\s*(?:{alts})\\s*(,|$)")
        else:
            mask = pc.is_in(col, value_set=pa.array(list(f.values)).cast(col.type))
        mask = pc.fill_null(mask, False)
        failing = pc.sum(pc.and_(keep, pc.invert(mask))).as_py() or 0
        if failing:
            removed[f.label] += failing
        keep = pc.and_(keep, mask)
    return keep


def iter_index_rows(uri: str, columns: list[str]) -> Iterator[dict[str, Any]]:
    """Rows of an index file as dicts (for tools and tests; planning itself stays columnar)."""
    for batch in open_index_parquet(uri).iter_batches(batch_size=BATCH_ROWS, columns=columns):
        yield from batch.to_pylist()
