"""Snapshot builders: Common Crawl robots.txt WARCs, published tables, merges; policy agent lists.

Every builder (`build_from_warc`, `build_from_table`, `merge_snapshots`, `write`) streams with
bounded memory (one task per input file spilling runs, then an external reduce by host: see
"Streaming" below) and fills a `BuildReport`: what it read, what it rejected and why (counts plus
a few examples per reason), what it noticed (capped bodies, followed redirects, duplicates).
The report is printed by the CLI and stored in the snapshot's metadata, so a published
snapshot says how it was made and what it left out. Bad rows never stop a build; only
an input that cannot be used at all (missing file, missing required columns) is a `BuildError`.
"""

from __future__ import annotations

import calendar
import contextlib
import csv
import hashlib
import io
import itertools
import json
import math
import os
import re
import shutil
import sys
import tempfile
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.optout.snapshot import (
    BODY_CAP,
    REQUIRED_COLUMNS,
    SCHEMA,
    SnapshotError,
    SnapshotRow,
    as_of_bound,
    entry_sha256,
    file_sha256,
    origin,
    read_snapshot_meta,
)

#: RFC 9309 section 2.3.1.2: follow at least five consecutive redirects.
MAX_REDIRECTS = 5
#: Raw (still content-encoded) bytes read per body: enough for BODY_CAP of decoded text.
RAW_LIMIT = 4 * BODY_CAP
EXAMPLES_PER_REASON = 5
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class BuildError(ValueError):
    """An input that cannot be used at all (missing, unreadable, lacking required columns)."""


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


@dataclass
class BuildReport:
    """What a builder read, rejected (with reasons) and noticed; printed and stored in metadata."""

    builder: str
    inputs: list[dict[str, object]] = field(default_factory=list)
    rows_in: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    entries: int = 0

    def reject(self, reason: str, where: str, detail: str = "") -> None:
        self.rejected[reason] += 1
        ex = self.examples[reason]
        if len(ex) < EXAMPLES_PER_REASON:
            ex.append(f"{where}: {detail}" if detail else where)

    def note(self, what: str, n: int = 1) -> None:
        self.notes[what] += n

    def add_input(self, uri: str, **extra: object) -> str:
        """Record an input (name, size and sha256 when local); returns the name used in sources."""
        name = Path(urlsplit(uri).path).name or uri
        info: dict[str, object] = {"name": name, **extra}
        p = Path(uri)
        if p.is_file():
            info["bytes"] = p.stat().st_size
            info["sha256"] = file_sha256(p)
        else:
            info["uri"] = uri
        self.inputs.append(info)
        return name

    def to_meta(self) -> dict[str, object]:
        """The keys stored next to the snapshot id in the Parquet metadata."""
        return {
            "builder": self.builder,
            "inputs": self.inputs,
            "rows_in": self.rows_in,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": sum(self.rejected.values()),
            "rejected_examples": {k: list(v) for k, v in sorted(self.examples.items())},
            "notes": dict(sorted(self.notes.items())),
        }

    def summary(self) -> list[str]:
        """Human-readable lines: totals, then each rejection reason with count and examples."""
        lines = [f"{self.builder}: {len(self.inputs)} input(s), {self.rows_in} record(s)/row(s) read, "
                 f"{self.entries} entr{'y' if self.entries == 1 else 'ies'} written, "
                 f"{sum(self.rejected.values())} rejected"]
        for reason, n in sorted(self.rejected.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  rejected {reason}: {n}")
            for ex in self.examples.get(reason, []):
                lines.append(f"    e.g. {ex}")
        for what, n in sorted(self.notes.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  note {what}: {n}")
        return lines


# --------------------------------------------------------------------------------------------
# Values: dates, statuses, hosts, bodies
# --------------------------------------------------------------------------------------------

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def normalise_date(value: object) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC) for the date forms tables and WARCs use; None if unreadable.

    One format for every builder, because snapshot dates are compared as strings ("as of").
    Accepted: ISO 8601 dates and timestamps (naive ones are taken as UTC), ``YYYY-MM``, 8- or
    14-digit ``YYYYMMDD[hhmmss]`` (Common Crawl's index), Unix seconds or milliseconds, HTTP/RFC
    2822 dates, and datetime/date objects. Years outside 1994-2100 (robots.txt dates from 1994)
    are treated as unreadable.
    """
    dt: datetime | None = None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if float(value).is_integer() and len(str(int(value))) in (8, 14):
            return normalise_date(str(int(value)))
        seconds = float(value) / 1000 if abs(float(value)) > 1e11 else float(value)
        try:
            dt = datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        try:
            if s.isdigit() and len(s) in (8, 14):
                dt = datetime.strptime(s, "%Y%m%d%H%M%S" if len(s) == 14 else "%Y%m%d")
            elif len(s) == 7 and _MONTH.fullmatch(s):
                y, m = int(s[:4]), int(s[5:])
                calendar.monthrange(y, m)  # validates the month
                dt = datetime(y, m, 1)
            else:
                iso = s[:-1] + "+00:00" if s[-1] in "Zz" else s
                try:
                    dt = datetime.fromisoformat(iso)
                except ValueError:
                    dt = parsedate_to_datetime(s)
        except (ValueError, TypeError, IndexError, calendar.IllegalMonthError):
            return None
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    if not 1994 <= dt.year <= 2100:
        return None
    return dt.strftime(DATE_FORMAT)


def parse_status(value: object) -> int | None:
    """An HTTP status from an int, float or string cell; raises ValueError when it is not one.

    None means "no status given". 0 is accepted and means "no HTTP answer" (unreachable), the
    code the fetcher stores; anything else must be 100-599.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a status: {value!r}")
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        try:
            f = float(s)
        except ValueError:
            raise ValueError(f"not a number: {s[:40]!r}") from None
    elif isinstance(value, (int, float)):
        f = float(value)
    else:
        raise ValueError(f"not a status: {type(value).__name__}")
    if not f.is_integer():
        raise ValueError(f"not an integer: {value!r}")
    code = int(f)
    if code != 0 and not 100 <= code <= 599:
        raise ValueError(f"out of range: {code}")
    return code


_HOSTNAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?")


def host_origin(value: str) -> str | None:
    """The snapshot key (scheme://host[:port]) of a host, domain, origin or URL; None if invalid.

    A value without a scheme is taken as ``https://value`` (sites answer on https today; lookups
    fall back to the other scheme anyway).
    """
    v = value.strip()
    if not v or any(c.isspace() for c in v):
        return None
    url = v if "://" in v else f"https://{v.lstrip('/')}"
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        return None
    o = origin(url)
    host = o.split("://", 1)[1]
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name.startswith("["):
        return o
    if not name or len(name) > 253 or not _HOSTNAME.fullmatch(name) or ".." in name:
        return None
    return o


def _looks_zlib(raw: bytes) -> bool:
    return len(raw) >= 2 and raw[0] & 0x0F == 8 and ((raw[0] << 8) | raw[1]) % 31 == 0


def decode_content(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo an HTTP Content-Encoding (gzip, deflate, br), producing at most ``limit`` bytes.

    The output bound makes compression bombs harmless; a stream cut short (a capped or
    WARC-truncated record) decodes as far as it goes. Raises ValueError when a known coding does
    not decode. Unknown tokens (misconfigured servers send "utf-8" or "text") are ignored: such
    bodies are plain text in practice.
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return raw[:limit]
    if len(codings) > 1:
        raise ValueError(f"stacked content-encodings not supported: {content_encoding}")
    coding = codings[0]
    if coding == "br":
        try:
            import brotli  # optional: not a dependency
        except ImportError:
            raise ValueError("content-encoding br (brotli not installed)") from None
        try:
            out: bytes = brotli.Decompressor().process(raw, output_buffer_limit=limit)
        except Exception as exc:
            raise ValueError(f"content-encoding br: {exc}") from exc
        return out[:limit]
    if coding in ("gzip", "x-gzip"):
        wbits = 32 + zlib.MAX_WBITS  # gzip or zlib header, detected
    elif coding == "deflate":  # RFC 9110 says zlib-wrapped; some servers send raw deflate
        wbits = zlib.MAX_WBITS if _looks_zlib(raw) else -zlib.MAX_WBITS
    else:
        return raw[:limit]
    try:
        return zlib.decompressobj(wbits).decompress(raw, limit)
    except zlib.error as exc:
        raise ValueError(f"content-encoding {coding}: {exc}") from exc


def dechunk(raw: bytes) -> bytes:
    """Undo HTTP/1.1 chunked transfer coding (lenient about a missing last chunk); ValueError if broken."""
    out = bytearray()
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        if end < 0:
            break
        size_text = raw[pos:end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError(f"bad chunk size {size_text[:20]!r}") from None
        if size == 0:
            break
        start = end + 1
        out += raw[start:start + size]
        pos = start + size
        if raw[pos:pos + 2] == b"\r\n":
            pos += 2
        elif raw[pos:pos + 1] == b"\n":
            pos += 1
    return bytes(out)


def _to_body(value: object) -> bytes | None:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:  # undecodable bytes read with surrogateescape go back to the original bytes
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # lone surrogates from JSON "\ud800" escapes
            return value.encode("utf-8", "surrogatepass")
    return None


def _row(host: str, fetched: str, status: int, body: bytes, source: str, report: BuildReport) -> SnapshotRow:
    """A row with its body capped now (not only when written), so huge bodies are not kept in memory."""
    if len(body) > BODY_CAP:
        report.note("bodies-capped-at-500KiB")
        body = body[:BODY_CAP]
    return SnapshotRow(host, fetched, status, body, source)


def _seconds(ts: str) -> float:
    try:
        return datetime.strptime(ts, DATE_FORMAT).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return 0.0


# --------------------------------------------------------------------------------------------
# Streaming: spilled runs, an external reduce, one task per input
# --------------------------------------------------------------------------------------------
#
# Every builder works in two stages so that memory does not grow with the input:
#  1. map: one task per input file (in this process, or one Dask task each) reads its records or
#     rows and spills them, a batch at a time, as numbered Parquet "runs" into a temporary folder
#     (next to the output by default, so that workers of a cluster see it too): row runs without
#     bodies, and body runs holding each distinct body of the batch once (keyed by sha256);
#  2. reduce: DuckDB, with a memory limit and spilling to that folder, resolves redirects across
#     all files (WARC), drops duplicate entries, sorts by (host, fetched_at, entry sha256), joins
#     the bodies back and streams the sorted rows to the Parquet writer a row group at a time.
# Batch sizes, worker counts and file order change nothing in the output: every choice in the
# reduce has a total order (ties broken by the input order, as the in-memory builder did).

#: Row groups of the written snapshot: pyarrow's default row count (so that small snapshots are
#: byte-identical to what `write_snapshot` writes), and a byte bound on bodies
#: (`StreamOptions.row_group_bytes`) so that a group never has to sit in memory whole.
ROW_GROUP_ROWS = 1024 * 1024

ROW_RUN = pa.schema([("host", pa.string()), ("fetched_at", pa.string()), ("http_status", pa.int32()),
                     ("body_sha256", pa.string()), ("source", pa.string()), ("ord", pa.int64())])
BODY_RUN = pa.schema([("body_sha256", pa.string()), ("bin", pa.int32()), ("off", pa.int64()),
                      ("clen", pa.int32()), ("rlen", pa.int32())])
#: One HTTP response of a WARC file. `cid` (input index << 40 | record offset) orders captures as
#: the files were given and read; `tkey`/`why` are the redirect target's lookup key or why a 3xx
#: cannot be followed; `target` is the Location resolved against the URL (for the source text).
CAPTURE_RUN = pa.schema([("cid", pa.int64()), ("ukey", pa.string()), ("url", pa.string()),
                         ("is_robots", pa.bool_()), ("host", pa.string()), ("date", pa.string()),
                         ("secs", pa.int64()), ("status", pa.int32()), ("target", pa.string()),
                         ("tkey", pa.string()), ("why", pa.string()), ("body_sha256", pa.string()),
                         ("place", pa.string())])
ORD_SHIFT = 40  # ords/cids: input index in the high bits, row number or byte offset below


@dataclass(frozen=True)
class StreamOptions:
    """Where a build runs and how much it holds at once; none of it changes the output's bytes."""

    workers: int = 1
    scheduler: str | None = None
    batch_rows: int = 20_000
    row_group_bytes: int = 32 * 1024 * 1024  # not on the CLI: it changes the file's layout (not its rows)
    memory_limit: str = "1GB"
    threads: int = 2
    temp_dir: str | None = None


def _store_host(host: str) -> str:
    """The host as `SnapshotRow.finish` stores it (origin of an origin or of a bare domain)."""
    return origin(host if "://" in host else f"https://{host}")


class _Runs:
    """Buffers rows of one schema and spills them as Parquet runs; bodies go straight to disk.

    Each distinct body (per batch) is appended zstd-compressed to the task's own body file
    (`<prefix>-bodies.bin`) and indexed in body runs (sha256, file number, offset, lengths), so the
    reduce sorts small keys and reads each body back only when its row is written.
    """

    def __init__(self, run_dir: Path, index: int, schema: pa.Schema, options: StreamOptions) -> None:
        self.run_dir, self.index, self.schema = run_dir, index, schema
        self.prefix = f"p{index:06d}"
        self.max_rows = max(1, options.batch_rows)
        self.cols: dict[str, list[object]] = {n: [] for n in schema.names}
        self.seen: set[str] = set()
        self.index_cols: dict[str, list[object]] = {n: [] for n in BODY_RUN.names}
        self.bin: io.BufferedWriter | None = None
        self.bin_pos = 0
        self.row_files: list[str] = []
        self.body_files: list[str] = []

    def body(self, digest: str, body: bytes) -> None:
        if digest in self.seen:
            return
        self.seen.add(digest)
        if self.bin is None:
            self.bin = open(_bin_path(self.run_dir, self.index), "wb")  # noqa: SIM115 (closed in close())
        packed = pa.compress(body, codec="zstd", asbytes=True)
        self.bin.write(packed)
        for col, v in zip(self.index_cols.values(), (digest, self.index, self.bin_pos, len(packed), len(body)),
                          strict=True):
            col.append(v)
        self.bin_pos += len(packed)

    def add(self, values: Sequence[object]) -> None:
        for col, v in zip(self.cols.values(), values, strict=True):
            col.append(v)
        if len(self.cols["body_sha256"]) >= self.max_rows:
            self.flush()

    def add_row(self, row: SnapshotRow, ord_: int) -> None:
        """A builder's row: its stored host and its capped body's digest (the body written once)."""
        body = row.body[:BODY_CAP]
        digest = hashlib.sha256(body).hexdigest()
        self.body(digest, body)
        self.add((_store_host(row.host), row.fetched_at, int(row.http_status), digest, row.source, ord_))

    def _spill(self, table: pa.Table, kind: str, files: list[str]) -> None:
        path = self.run_dir / f"{self.prefix}-{kind}-{len(files):05d}.parquet"
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
        files.append(str(path))

    def flush(self) -> None:
        if self.cols["body_sha256"]:
            self._spill(pa.Table.from_pydict(self.cols, schema=self.schema), "rows", self.row_files)
            self.cols = {n: [] for n in self.schema.names}
        if self.index_cols["body_sha256"]:
            self._spill(pa.Table.from_pydict(self.index_cols, schema=BODY_RUN), "bodies", self.body_files)
            self.index_cols = {n: [] for n in BODY_RUN.names}
        self.seen = set()

    def close(self) -> None:
        self.flush()
        if self.bin is not None:
            self.bin.close()
            self.bin = None


def _bin_path(run_dir: Path, index: int) -> Path:
    return run_dir / f"p{index:06d}-bodies.bin"


@dataclass
class _Part:
    """What one map task hands back: its report and the run files it wrote."""

    report: BuildReport
    row_files: list[str]
    body_files: list[str]


def _part_runs(run_dir: str, index: int, schema: pa.Schema, options: StreamOptions) -> _Runs:
    """A task's runs, after removing what an earlier attempt of the same task left behind."""
    folder = Path(run_dir)
    for old in folder.glob(f"p{index:06d}-*"):
        old.unlink()
    return _Runs(folder, index, schema, options)


def _merge_reports(report: BuildReport, parts: Sequence[BuildReport]) -> None:
    """Fold the tasks' reports into ``report`` in input order (the first examples win, as when serial)."""
    for p in parts:
        report.inputs.extend(p.inputs)
        report.rows_in += p.rows_in
        report.rejected.update(p.rejected)
        report.notes.update(p.notes)
        for reason, ex in p.examples.items():
            mine = report.examples[reason]
            mine.extend(ex[:max(0, EXAMPLES_PER_REASON - len(mine))])


def _map(task: Callable[..., _Part], uris: Sequence[str], run_dir: Path, options: StreamOptions,
         *args: object) -> list[_Part]:
    """Run ``task(index, uri, run_dir, options, *args)`` per input: here, or one Dask task each."""
    if options.workers <= 1 and not options.scheduler:
        return [task(i, uri, str(run_dir), options, *args) for i, uri in enumerate(uris)]
    from dask.distributed import Client

    cluster = None
    if options.scheduler:
        client = Client(options.scheduler, timeout="30s")
    else:
        from pipeline.runner import _local_cluster

        cluster = _local_cluster(options.workers)
        client = Client(cluster)
    try:
        futures = [client.submit(task, i, uri, str(run_dir), options, *args, pure=False, retries=1,
                                 key=f"robots-build-{task.__name__}-{i}-{uuid.uuid4().hex[:8]}")
                   for i, uri in enumerate(uris)]
        return list(client.gather(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _workspace(out: Path, options: StreamOptions) -> Iterator[Path]:
    """A temporary folder for runs and DuckDB's spill files, removed afterwards whatever happens."""
    base = Path(options.temp_dir) if options.temp_dir else out.parent
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _duckdb(folder: Path, options: StreamOptions):  # type: ignore[no-untyped-def]
    """An in-memory DuckDB bounded by ``options.memory_limit``: beyond it, it spills to the workspace."""
    import duckdb

    (folder / "spill").mkdir(exist_ok=True)
    con = duckdb.connect(":memory:", config={
        "memory_limit": options.memory_limit, "threads": max(1, options.threads),
        "temp_directory": str(folder / "spill"), "preserve_insertion_order": False})
    con.execute("SET enable_progress_bar = false")  # the CLI prints its own summary
    return con


_SQL_TYPES = {pa.string(): "VARCHAR", pa.int32(): "INTEGER", pa.int64(): "BIGINT", pa.bool_(): "BOOLEAN"}


def _load(con, table: str, schema: pa.Schema, files: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
    """CREATE TABLE ``table`` of ``schema`` filled from Parquet runs (empty when there are none)."""
    cols = ", ".join(f"{n} {_SQL_TYPES[t]}" for n, t in zip(schema.names, schema.types, strict=True))
    con.execute(f"CREATE TABLE {table} ({cols})")
    if files:
        con.execute(f"INSERT INTO {table} SELECT {', '.join(schema.names)} FROM read_parquet(?)", [list(files)])


def _arrow_reader(con, sql: str, params: Sequence[object] = (), batch: int = 4096) -> pa.RecordBatchReader:  # type: ignore[no-untyped-def]
    """Stream a query's result as Arrow batches (DuckDB 1.x and 2.x spell this differently)."""
    rel = con.sql(sql, params=list(params) or None)
    if hasattr(rel, "to_arrow_reader"):
        return rel.to_arrow_reader(batch)
    return rel.fetch_record_batch(batch)


def _scalar(con, sql: str, params: Sequence[object] = ()) -> object:  # type: ignore[no-untyped-def]
    rows = con.execute(sql, list(params)).fetchall()  # fetchall: DuckDB 2 refuses new work after a partial fetch
    return rows[0][0] if rows else None


def _finish(con, folder: Path, out: Path, made_by: str, report: BuildReport,  # type: ignore[no-untyped-def]
            extra: Mapping[str, object] | None, as_of: str | None = None,
            row_group_bytes: int = StreamOptions.row_group_bytes) -> dict[str, object]:
    """From tables `rows` and `bodies` (the body index): drop duplicates (or keep the newest per host as of a date),
    then write the snapshot sorted by (host, fetched_at, entry sha256); return its metadata.

    Of identical entries the one with the smallest source is kept (then the first in input
    order), so the file does not depend on the order of inputs or on how they were batched.
    """
    nl = "chr(10)"
    con.execute(f"""CREATE TABLE keyed AS SELECT *, sha256(host || {nl} || fetched_at || {nl}
                    || http_status::VARCHAR || {nl} || body_sha256) AS entry_sha256 FROM rows""")
    if as_of is not None:
        after = int(_scalar(con, "SELECT count(*) FROM keyed WHERE fetched_at > ?", [as_of]) or 0)
        con.execute("""CREATE TABLE newest AS SELECT * FROM keyed WHERE fetched_at <= ?
                       QUALIFY row_number() OVER (PARTITION BY host
                                                  ORDER BY fetched_at DESC, entry_sha256 DESC, ord) = 1""", [as_of])
        older = int(_scalar(con, "SELECT count(*) FROM keyed WHERE fetched_at <= ?", [as_of]) or 0)
        older -= int(_scalar(con, "SELECT count(*) FROM newest") or 0)
        if after:
            report.note("entries-after-as-of-dropped", after)
        if older:
            report.note("older-entries-superseded", older)
        con.execute("DROP TABLE keyed")
        con.execute("ALTER TABLE newest RENAME TO keyed")
    con.execute("""CREATE TABLE final AS SELECT * FROM keyed
                   QUALIFY row_number() OVER (PARTITION BY host, fetched_at, entry_sha256 ORDER BY source, ord) = 1""")
    n_in = int(_scalar(con, "SELECT count(*) FROM keyed") or 0)
    n, date_min, date_max = con.execute("SELECT count(*), min(fetched_at), max(fetched_at) FROM final").fetchall()[0]
    times = int(_scalar(con, "SELECT count(*) FROM (SELECT DISTINCT host, fetched_at FROM final)") or 0)
    if n_in - n:
        report.note("duplicate-entries-dropped", n_in - n)
    if n - times:
        report.note("same-host-same-time-different-content", n - times)
    report.entries = int(n)
    ids = hashlib.sha256()
    for batch in _arrow_reader(con, "SELECT entry_sha256 FROM final ORDER BY host, fetched_at, entry_sha256",
                               batch=65536):
        ids.update("".join(f"{e}\n" for e in batch.column(0).to_pylist()).encode())
    meta: dict[str, object] = {"snapshot_id": ids.hexdigest(), "entries": int(n), "date_min": date_min or "",
                               "date_max": date_max or "", "made_by": made_by}
    meta = {**{k: v for k, v in {**report.to_meta(), **(extra or {})}.items() if k not in meta}, **meta}
    schema = SCHEMA.with_metadata({"consentcrawl.snapshot": json.dumps(meta, sort_keys=True)})
    con.execute("""CREATE TABLE bodyidx AS SELECT * FROM bodies
                   QUALIFY row_number() OVER (PARTITION BY body_sha256 ORDER BY bin, off) = 1""")
    sql = """SELECT f.host, f.fetched_at, f.http_status, f.body_sha256, f.source, f.entry_sha256,
                    b.bin, b.off, b.clen, b.rlen
             FROM final f JOIN bodyidx b ON f.body_sha256 = b.body_sha256
             ORDER BY f.host, f.fetched_at, f.entry_sha256"""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")  # two builds to one --out do not share it
    written = 0
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer, _Bodies(folder) as bodies:
        group: dict[str, list[object]] = {c: [] for c in SCHEMA.names}
        size = 0
        for batch in _arrow_reader(con, sql, batch=1024):  # keys only: bodies are read one at a time
            cols = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for host, fetched, status, digest, source, esha, b, off, clen, rlen in zip(*cols, strict=True):
                body = bodies.read(b, off, clen, rlen)
                for c, v in zip(group.values(), (host, fetched, status, body, digest, source, esha), strict=True):
                    c.append(v)
                size += len(body)
                if len(group["host"]) >= ROW_GROUP_ROWS or size >= row_group_bytes:
                    written += _write_group(writer, group, schema)
                    group, size = {c: [] for c in SCHEMA.names}, 0
        if group["host"] or written == 0:
            written += _write_group(writer, group, schema)
    if written != n:
        raise RuntimeError(f"wrote {written} rows of {n}: a body went missing between the runs")
    tmp.replace(out)
    return meta


class _Bodies:
    """Reads bodies back from the tasks' body files (a few kept open), in the order rows are written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fds: dict[int, int] = {}

    def __enter__(self) -> _Bodies:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def _fd(self, bin_no: int) -> int:
        fd = self.fds.pop(bin_no, None)
        if fd is None:
            if len(self.fds) >= 256:
                os.close(self.fds.pop(next(iter(self.fds))))
            fd = os.open(_bin_path(self.folder, bin_no), os.O_RDONLY)
        self.fds[bin_no] = fd  # most recently used last
        return fd

    def read(self, bin_no: int, off: int, clen: int, rlen: int) -> bytes:
        packed = os.pread(self._fd(bin_no), clen, off)
        return pa.decompress(packed, decompressed_size=rlen, codec="zstd", asbytes=True)


def _write_group(writer: pq.ParquetWriter, group: dict[str, list[object]], schema: pa.Schema) -> int:
    """One row group (one contiguous table, as `pq.write_table` writes it)."""
    table = pa.Table.from_pydict(group, schema=schema)
    writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    return table.num_rows


def _reduce_rows(parts: Sequence[_Part], out: Path, folder: Path, made_by: str, report: BuildReport,
                 options: StreamOptions, extra: Mapping[str, object] | None = None,
                 as_of: str | None = None) -> dict[str, object]:
    """The reduce of builders whose runs already hold final rows (tables, merges, in-memory rows)."""
    con = _duckdb(folder, options)
    try:
        _load(con, "rows", ROW_RUN, [f for p in parts for f in p.row_files])
        _load(con, "bodies", BODY_RUN, [f for p in parts for f in p.body_files])
        return _finish(con, folder, out, made_by, report, extra, as_of, options.row_group_bytes)
    finally:
        con.close()


def _rows_part(index: int, uri: str, run_dir: str, options: StreamOptions, rows: Iterable[SnapshotRow]) -> _Part:
    runs = _part_runs(run_dir, index, ROW_RUN, options)
    for n, row in enumerate(rows):
        runs.add_row(row, (index << ORD_SHIFT) + n)
    runs.close()
    return _Part(BuildReport("part"), runs.row_files, runs.body_files)


def write(rows: Iterable[SnapshotRow], out: Path, made_by: str, report: BuildReport,
          extra: Mapping[str, object] | None = None, options: StreamOptions | None = None) -> dict[str, object]:
    """Drop duplicate rows, then write the snapshot with the report in its metadata (spilling as needed)."""
    options = options or StreamOptions()
    with _workspace(out, options) as folder:
        part = _rows_part(0, "", str(folder), options, rows)
        return _reduce_rows([part], out, folder, made_by, report, options, extra)


def _entry_key(row: SnapshotRow) -> tuple[str, str, str]:
    """(host origin, fetched_at, entry sha256) as the snapshot will store the row."""
    host = _store_host(row.host)
    digest = hashlib.sha256(row.body[:BODY_CAP]).hexdigest()
    return host, row.fetched_at, entry_sha256(host, row.fetched_at, int(row.http_status), digest)


def dedup(rows: Iterable[SnapshotRow], report: BuildReport) -> list[SnapshotRow]:
    """Drop rows identical to another (same host, date, status and body), whatever their source.

    In memory, for callers holding a few rows; `write` does the same out of core. Rows come back
    sorted by (host, date, entry sha256); of duplicates the one with the smallest source is kept.
    """
    keyed = sorted(((*_entry_key(r), r.source, i), r) for i, r in enumerate(rows))
    out: list[SnapshotRow] = []
    last: tuple[str, str, str] | None = None
    for (host, fetched, esha, _src, _i), row in keyed:
        if last is not None and (host, fetched, esha) == last:
            report.note("duplicate-entries-dropped")
            continue
        if last is not None and (host, fetched) == last[:2]:
            report.note("same-host-same-time-different-content")
        last = (host, fetched, esha)
        out.append(row)
    return out


# --------------------------------------------------------------------------------------------
# From WARC files (Common Crawl's robotstxt subset)
# --------------------------------------------------------------------------------------------


def url_key(url: str) -> str:
    """A URL as a lookup key: origin (lower-cased, default port dropped) + path + query."""
    parts = urlsplit(url.strip())
    return origin(url) + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _is_robots_url(url: str) -> bool:
    return urlsplit(url).path == "/robots.txt"


def _clean_uri(uri: str | None) -> str:
    uri = (uri or "").strip()
    return uri[1:-1] if uri.startswith("<") and uri.endswith(">") else uri


def _warc_part(index: int, uri: str, run_dir: str, options: StreamOptions) -> _Part:
    """Map task: every HTTP response of one WARC file as a capture run (bodies once per batch)."""
    import fsspec
    from fastwarc.warc import ArchiveIterator

    report = BuildReport("part")
    name = report.add_input(uri)
    runs = _part_runs(run_dir, index, CAPTURE_RUN, options)
    base = index << ORD_SHIFT
    pos = 0
    seen = 0
    try:
        with fsspec.open(uri, "rb") as fh:
            for record in ArchiveIterator(fh, parse_http=False):
                seen += 1
                pos = record.stream_pos
                report.rows_in += 1
                rtype = str(record.record_type).rsplit(".", 1)[-1]
                if rtype != "response":
                    report.note(f"skipped-{rtype}-records")
                    continue
                try:
                    cap = _capture(record, f"{name}@{pos}", report, runs)
                except OSError:
                    raise  # the stream itself is broken: handled below for the whole file
                except Exception as exc:  # one odd record must not end the file
                    report.reject("record-unreadable", f"{name}@{pos}", f"{type(exc).__name__}: {exc}"[:200])
                    continue
                if cap is not None:
                    runs.add((base + pos, *cap))
    except FileNotFoundError as exc:
        raise BuildError(f"WARC file not found: {uri}") from exc
    except OSError as exc:  # not a WARC, or unreadable from here on: the rest of the file is lost
        report.reject("warc-unreadable", f"{name}@{pos}", str(exc)[:200])
    else:
        if seen == 0:
            report.reject("warc-unreadable", name, "no WARC records")
    runs.close()
    return _Part(report, runs.row_files, runs.body_files)


def _capture(record: object, where: str, report: BuildReport, runs: _Runs) -> tuple[object, ...] | None:
    """The capture columns (after `cid`) of one response record; its body goes to ``runs``."""
    headers = record.headers  # type: ignore[attr-defined]
    url = _clean_uri(headers.get("WARC-Target-URI"))
    if not url:
        report.reject("missing-target-uri", where)
        return None
    if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
        report.reject("not-an-http-url", where, url[:200])
        return None
    fetched = normalise_date(headers.get("WARC-Date"))
    if fetched is None:
        report.reject("unparsable-date", where, str(headers.get("WARC-Date"))[:60])
        return None
    if not record.is_http:  # type: ignore[attr-defined]
        report.reject("not-an-http-response", where, url[:200])
        return None
    try:
        record.parse_http(quirks_mode=True)  # type: ignore[attr-defined]
    except Exception as exc:
        report.reject("bad-http-headers", where, f"{url[:200]} ({exc})")
        return None
    http = record.http_headers  # type: ignore[attr-defined]
    status = http.status_code if http is not None else None
    if status is None:
        report.reject("no-http-status", where, url[:200])
        return None
    if not 100 <= int(status) <= 599:
        report.reject("invalid-status", where, f"{url[:200]} status {status}")
        return None
    raw = record.reader.read(RAW_LIMIT)  # type: ignore[attr-defined]
    try:
        if "chunked" in (http.get("Transfer-Encoding") or "").lower():
            raw = dechunk(raw)
        body = decode_content(raw, http.get("Content-Encoding"), BODY_CAP + 1)
    except ValueError as exc:
        report.reject("undecodable-body", where, f"{url[:200]} ({exc})")
        return None
    if headers.get("WARC-Truncated"):
        report.note(f"warc-truncated-{headers.get('WARC-Truncated')}")
    if len(body) > BODY_CAP:
        report.note("bodies-capped-at-500KiB")
        body = body[:BODY_CAP]
    digest = hashlib.sha256(body).hexdigest()
    status = int(status)
    location = (http.get("Location") or "").strip()
    target = tkey = None
    why = ""
    if 300 <= status < 400:  # what following this redirect needs, worked out once here
        if not location:
            why = "no-location"
        else:
            try:
                target = urljoin(url, location)
                if urlsplit(target).scheme.lower() not in ("http", "https"):
                    why = "non-http-target"
                else:
                    tkey = url_key(target)
            except ValueError:  # e.g. an unbalanced IPv6 bracket
                target, why = location, "bad-location"
    robots = _is_robots_url(url)
    runs.body(digest, body)
    return (url_key(url), url, robots, _store_host(origin(url)) if robots else None, fetched, int(_seconds(fetched)),
            status, target, tkey, why, digest, where)


#: Redirect resolution over all captures, one hop per round (RFC 9309: at least 5 hops). A chain
#: starts at each 3xx /robots.txt capture; each round closes chains that end (not a 3xx, or a 3xx
#: that cannot be followed), takes for the others the capture of the target closest in time (then
#: earliest date, smallest place, first read), and closes the chain as `uncaptured` or `loop`.
_CHAIN_START = """
CREATE TABLE chain AS
SELECT cid AS start, [cid] AS ids, cid AS cur, status AS cur_status, secs AS cur_secs, tkey AS cur_tkey,
       why AS cur_why, target AS cur_target, date AS max_date, '' AS hops, 0 AS nhops, NULL::VARCHAR AS done
FROM caps WHERE is_robots AND status BETWEEN 300 AND 399
"""
_CHAIN_ROUND = [
    """UPDATE chain SET done = CASE WHEN cur_status BETWEEN 300 AND 399 THEN cur_why ELSE '' END
       WHERE done IS NULL AND (cur_status NOT BETWEEN 300 AND 399 OR cur_why <> '')""",
    """CREATE OR REPLACE TABLE step AS
       SELECT ch.start, c.cid, c.status, c.secs, c.tkey, c.why, c.target, c.date, c.url, c.place
       FROM chain ch JOIN caps c ON c.ukey = ch.cur_tkey
       WHERE ch.done IS NULL
       QUALIFY row_number() OVER (PARTITION BY ch.start ORDER BY abs(c.secs - ch.cur_secs), c.date, c.place,
                                                                 c.cid) = 1""",
    """UPDATE chain SET done = 'uncaptured'
       WHERE done IS NULL AND NOT EXISTS (SELECT 1 FROM step s WHERE s.start = chain.start)""",
    """UPDATE chain SET done = 'loop' FROM step s
       WHERE chain.start = s.start AND chain.done IS NULL AND list_contains(chain.ids, s.cid)""",
    """UPDATE chain SET ids = list_append(ids, s.cid), cur = s.cid, cur_status = s.status, cur_secs = s.secs,
              cur_tkey = s.tkey, cur_why = s.why, cur_target = s.target, max_date = greatest(max_date, s.date),
              hops = hops || ' -> ' || cur_status::VARCHAR || ' ' || s.url || ' (warc:' || s.place || ')',
              nhops = nhops + 1
       FROM step s WHERE chain.start = s.start AND chain.done IS NULL""",
]
_CHAIN_END = """UPDATE chain SET done = CASE WHEN cur_status BETWEEN 300 AND 399 THEN 'too-many-redirects' ELSE '' END
                WHERE done IS NULL"""
#: One row per /robots.txt capture: as captured, or (3xx) with the end of its chain: the last
#: hop's status and body, dated by the latest capture of the chain; or, unresolved, its own 3xx.
_WARC_ROWS = """
CREATE TABLE rows AS
SELECT host, date AS fetched_at, status AS http_status, body_sha256, 'warc:' || place AS source, cid AS ord
FROM caps WHERE is_robots AND status NOT BETWEEN 300 AND 399
UNION ALL
SELECT c.host,
       CASE WHEN ch.done = '' THEN ch.max_date ELSE c.date END,
       CASE WHEN ch.done = '' THEN f.status ELSE c.status END,
       CASE WHEN ch.done = '' THEN f.body_sha256 ELSE c.body_sha256 END,
       CASE WHEN ch.done = '' THEN 'warc:' || c.place || ch.hops
            ELSE 'warc:' || c.place || ' (' || c.status::VARCHAR || ' unresolved: ' || ch.done
                 || CASE WHEN ch.cur_target IS NULL THEN ')' ELSE ' -> ' || ch.cur_target || ')' END END,
       c.cid
FROM chain ch JOIN caps c ON c.cid = ch.start JOIN caps f ON f.cid = ch.cur
"""


def build_from_warc(uris: Sequence[str], out: Path, made_by: str, report: BuildReport,
                    options: StreamOptions | None = None) -> dict[str, object]:
    """Write a snapshot from robots.txt WARC files: one entry per captured ``/robots.txt`` response.

    A 3xx whose Location was captured too (in any of the files) takes the status and body of the
    target, up to MAX_REDIRECTS hops, dated by the latest capture in the chain (the entry is only
    known once its last hop was fetched). A redirect that cannot be followed keeps its 3xx
    status (RFC 9309 2.3.1.2: unresolved redirects count as "unavailable"). Memory stays bounded
    (see "Streaming" above); with ``options.workers``/``scheduler`` each file is one Dask task.
    Inputs of which not one WARC record could be read are a BuildError (a usage error).
    """
    options = options or StreamOptions()
    for uri in uris:
        if "://" not in uri and not Path(uri).is_file():
            raise BuildError(f"WARC file not found: {uri}")
    with _workspace(out, options) as folder:
        parts = _map(_warc_part, uris, folder, options)
        _merge_reports(report, [p.report for p in parts])
        if report.rows_in == 0:
            raise BuildError(f"not a WARC file: {uris[0]} (no WARC record could be read)" if len(uris) == 1 else
                             f"not a WARC file: none of the {len(uris)} inputs (e.g. {uris[0]}) has a readable record")
        con = _duckdb(folder, options)
        try:
            _load(con, "caps", CAPTURE_RUN, [f for p in parts for f in p.row_files])
            _load(con, "bodies", BODY_RUN, [f for p in parts for f in p.body_files])
            con.execute(_CHAIN_START)
            for _ in range(MAX_REDIRECTS):
                for sql in _CHAIN_ROUND:
                    con.execute(sql)
            con.execute(_CHAIN_END)
            con.execute(_WARC_ROWS)
            for why, n in con.execute("SELECT done, count(*) FROM chain WHERE done <> '' GROUP BY done").fetchall():
                report.note(f"redirect-unresolved:{why}", int(n))
            followed = int(_scalar(con, "SELECT count(*) FROM chain WHERE done = '' AND nhops > 0") or 0)
            if followed:
                report.note("redirects-followed", followed)
            others = int(_scalar(con, """SELECT count(*) FROM caps WHERE NOT is_robots AND cid NOT IN
                                         (SELECT unnest(ids) FROM chain)""") or 0)
            if others:
                report.note("responses-not-robots-txt-ignored", others)
            return _finish(con, folder, out, made_by, report, None, None, options.row_group_bytes)
        finally:
            con.close()


# --------------------------------------------------------------------------------------------
# From published tables (Parquet / JSONL / CSV)
# --------------------------------------------------------------------------------------------

#: Accepted column names per role, in order of preference (matched case-insensitively).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "host": ("host", "origin", "domain", "hostname", "site", "url", "robots_url"),
    "body": ("body", "content", "robots_txt", "robotstxt", "robots", "robots_content", "robots_body",
             "text", "txt"),
    "status": ("http_status", "status", "status_code", "http_code", "response_code", "code"),
    "date": ("fetched_at", "date", "fetch_date", "fetch_time", "fetched", "timestamp", "crawl_date",
             "retrieved_at", "captured_at", "snapshot_date", "snapshot_month", "time"),
    "source": ("source",),
}
TABLE_SUFFIXES = {
    ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
    ".csv": "csv", ".tsv": "tsv",
}


def table_format(path: str) -> str:
    name = path.lower()
    for comp in (".gz", ".zst", ".bz2", ".xz"):
        name = name.removesuffix(comp)
    for suffix, fmt in TABLE_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    raise BuildError(f"cannot tell the format of {path!r}: expected .parquet, .jsonl/.ndjson/.json or .csv/.tsv "
                     "(optionally compressed)")


def choose_columns(names: Sequence[str], overrides: Mapping[str, str], need_date: bool,
                   where: str) -> dict[str, str]:
    """Map roles (host, body, status, date, source) to the table's column names; BuildError if unusable."""
    lower = {n.lower(): n for n in reversed(list(names))}  # first spelling wins on case clashes
    chosen: dict[str, str] = {}
    for role, candidates in TABLE_COLUMNS.items():
        if role in overrides:
            col = overrides[role]
            if col not in names and col.lower() not in lower:
                raise BuildError(f"{where}: column {col!r} given for {role} is not in the table "
                                 f"(columns: {', '.join(names) or 'none'})")
            chosen[role] = col if col in names else lower[col.lower()]
            continue
        for c in candidates:
            if c in lower:
                chosen[role] = lower[c]
                break
    missing = [r for r in ("host", "body") if r not in chosen]
    if need_date and "date" not in chosen:
        missing.append("date")
    if missing:
        hints = "; ".join(f"{r}: {', '.join(TABLE_COLUMNS[r])}" for r in missing)
        extra = " (or pass --date for a table without dates)" if "date" in missing else ""
        raise BuildError(f"{where}: missing required column(s) {', '.join(missing)}{extra}. "
                         f"Accepted names: {hints}. Table columns: {', '.join(names) or 'none'}")
    return chosen


def _open_text(path: str) -> io.TextIOBase:
    import fsspec

    return fsspec.open(path, "rt", compression="infer", encoding="utf-8", errors="surrogateescape",
                       newline="").open()


def _table_rows(path: str, fmt: str, report: BuildReport, name: str) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """(column names, iterator of (row number, row)) for one table file, read in a streaming way."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as exc:
            raise BuildError(f"{path}: not a readable Parquet file: {exc}") from exc
        names = list(pf.schema_arrow.names)

        def parquet_rows() -> Iterator[tuple[int, dict]]:
            n = 0
            for batch in pf.iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    n += 1
                    yield n, row

        return names, parquet_rows()
    if fmt in ("csv", "tsv"):
        fh = _open_text(path)
        reader = csv.DictReader(fh, delimiter="\t" if fmt == "tsv" else ",")
        try:
            names = list(reader.fieldnames or [])
        except csv.Error as exc:
            raise BuildError(f"{path}: not a readable CSV header: {exc}") from exc

        def csv_rows() -> Iterator[tuple[int, dict]]:
            with fh:
                n = 0
                while True:
                    n += 1
                    try:
                        row = next(reader)
                    except StopIteration:
                        return
                    except csv.Error as exc:
                        report.rows_in += 1
                        report.reject("unreadable-row", f"{name}:row {n}", str(exc)[:200])
                        continue
                    yield n, row

        return names, csv_rows()
    fh = _open_text(path)
    if fmt == "json":  # a JSON array of objects, or JSON lines under a .json name
        with fh:
            text = fh.read()
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, list):
            items = [(i + 1, r) for i, r in enumerate(data)]
            names = list(dict.fromkeys(k for _, r in items if isinstance(r, dict) for k in r))
            return names, _json_objects(items, report, name)
        fh = io.StringIO(text)
    buffered: list[tuple[int, str]] = []
    names: list[str] = []
    for line in fh:  # the first JSON object (within 1000 lines) names the columns
        buffered.append((len(buffered) + 1, line))
        try:
            obj = json.loads(line) if line.strip() else None
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            names = list(obj)
            break
        if len(buffered) >= 1000:
            break

    def lines() -> Iterator[tuple[int, object]]:
        with fh:
            for n, line in itertools.chain(buffered, enumerate(fh, start=len(buffered) + 1)):
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line)
                except ValueError as exc:
                    yield n, exc

    return names, _json_objects(lines(), report, name)


def _json_objects(items: Iterable[tuple[int, object]], report: BuildReport, name: str) -> Iterator[tuple[int, dict]]:
    """Pass JSON objects on; count anything else as a rejected row."""
    for n, obj in items:
        if isinstance(obj, dict):
            yield n, obj
        else:
            report.rows_in += 1
            detail = str(obj)[:120] if isinstance(obj, Exception) else f"a JSON {type(obj).__name__}, not an object"
            report.reject("invalid-json", f"{name}:line {n}", detail)


def _table_date(default_date: str | None) -> str | None:
    if default_date is None:
        return None
    fallback = normalise_date(default_date)
    if fallback is None:
        raise BuildError(f"--date {default_date!r} is not a date (use YYYY-MM-DD or an ISO 8601 timestamp)")
    return fallback


def _check_tables(paths: Sequence[str]) -> None:
    for path in paths:
        if "://" not in path and not Path(path).is_file():
            raise BuildError(f"table not found: {path}")
        table_format(path)


def _iter_table(path: str, report: BuildReport, overrides: Mapping[str, str], fallback: str | None,
                source_label: str | None) -> Iterator[SnapshotRow]:
    """The rows of one table file, read in a streaming way; rejected rows are counted in ``report``."""
    old_limit = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # robots.txt bodies can be megabytes
    try:
        fmt = table_format(path)
        name = report.add_input(path, format=fmt)
        names, it = _table_rows(path, fmt, report, name)
        cols = choose_columns(names, overrides, need_date=fallback is None, where=path)
        report.inputs[-1]["columns"] = cols
        label = source_label or f"table:{name}"
        for n, row in it:
            report.rows_in += 1
            made = _table_row(row, n, cols, fallback, label, name, report)
            if made is not None:
                yield made
    finally:
        csv.field_size_limit(old_limit)


def from_table(paths: Sequence[str], report: BuildReport, *, default_date: str | None = None,
               columns: Mapping[str, str] | None = None, source_label: str | None = None) -> list[SnapshotRow]:
    """Rows from tables of (host or domain, body[, status, date]), such as published robots.txt crawls.

    A domain without scheme becomes ``https://domain``; no status column means 200 (a body was
    published); rows without a date take ``default_date``. Rows with a missing or invalid host,
    a missing body, an unparsable date or an invalid status are rejected with their reason.
    In memory: for small tables and tests; `build_from_table` streams.
    """
    fallback = _table_date(default_date)
    rows: list[SnapshotRow] = []
    for path in paths:
        _check_tables([path])
        rows.extend(_iter_table(path, report, dict(columns or {}), fallback, source_label))
    return rows


def _table_part(index: int, uri: str, run_dir: str, options: StreamOptions, overrides: Mapping[str, str],
                fallback: str | None, source_label: str | None) -> _Part:
    """Map task: one table file's rows as runs."""
    report = BuildReport("part")
    runs = _part_runs(run_dir, index, ROW_RUN, options)
    for n, row in enumerate(_iter_table(uri, report, overrides, fallback, source_label)):
        runs.add_row(row, (index << ORD_SHIFT) + n)
    runs.close()
    return _Part(report, runs.row_files, runs.body_files)


def build_from_table(paths: Sequence[str], out: Path, made_by: str, report: BuildReport, *,
                     default_date: str | None = None, columns: Mapping[str, str] | None = None,
                     source_label: str | None = None, options: StreamOptions | None = None) -> dict[str, object]:
    """`from_table`, streaming: each table file is one task spilling runs; then the common reduce."""
    options = options or StreamOptions()
    fallback = _table_date(default_date)
    _check_tables(paths)
    with _workspace(out, options) as folder:
        parts = _map(_table_part, paths, folder, options, dict(columns or {}), fallback, source_label)
        _merge_reports(report, [p.report for p in parts])
        return _reduce_rows(parts, out, folder, made_by, report, options)


def _table_row(row: Mapping[str, object], n: int, cols: Mapping[str, str], fallback: str | None,
               label: str, name: str, report: BuildReport) -> SnapshotRow | None:
    where = f"{name}:row {n}"
    host_v = row.get(cols["host"])
    if host_v is None or (isinstance(host_v, str) and not host_v.strip()):
        report.reject("missing-host", where)
        return None
    host = host_origin(str(host_v)) if isinstance(host_v, str) else None
    if host is None:
        report.reject("invalid-host", where, repr(host_v)[:80])
        return None
    try:
        status = parse_status(row.get(cols["status"])) if "status" in cols else None
    except ValueError as exc:
        report.reject("invalid-status", where, str(exc))
        return None
    raw_date = row.get(cols["date"]) if "date" in cols else None
    if raw_date is None or (isinstance(raw_date, str) and not raw_date.strip()) or (
            isinstance(raw_date, float) and math.isnan(raw_date)):
        if fallback is None:
            report.reject("missing-date", where)
            return None
        fetched = fallback
    else:
        parsed = normalise_date(raw_date)
        if parsed is None:
            report.reject("unparsable-date", where, repr(raw_date)[:60])
            return None
        fetched = parsed
    body_v = row.get(cols["body"])
    if isinstance(body_v, float) and math.isnan(body_v):
        body_v = None
    if body_v is None:  # an empty body ("") is a real, empty robots.txt; a missing one is not
        if status is None or 200 <= status < 300:
            report.reject("missing-body", where, "no body, and no status saying there was none")
            return None
        body = b""
    else:
        body = _to_body(body_v)
        if body is None:
            report.reject("invalid-body", where, f"a {type(body_v).__name__}, not text or bytes")
            return None
    src = row.get(cols["source"]) if "source" in cols else None
    source = str(src) if src not in (None, "") else f"{label}#{n}"
    return _row(host, fetched, 200 if status is None else status, body, source, report)


# --------------------------------------------------------------------------------------------
# Merging snapshots
# --------------------------------------------------------------------------------------------


def _snapshot_batches(path: str) -> tuple[dict[str, object], int, Iterator[dict[str, object]]]:
    """(metadata, row count, rows as stored) of a snapshot, read a row group at a time.

    The same errors as `read_snapshot_rows` (missing, not Parquet, lacking a required column),
    without holding the table.
    """
    meta = read_snapshot_meta(path)
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise SnapshotError(f"robots snapshot {path} is not a readable Parquet file: {exc}") from exc
    names = pf.schema_arrow.names
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise SnapshotError(f"robots snapshot {path} lacks column(s): {', '.join(missing)}")
    present = [c for c in SCHEMA.names if c in names]

    def rows() -> Iterator[dict[str, object]]:
        for batch in pf.iter_batches(batch_size=1024, columns=present):
            cols = {c: batch.column(c).to_pylist() for c in present}
            for i in range(batch.num_rows):
                yield {c: cols[c][i] if c in cols else None for c in SCHEMA.names}

    return meta, pf.metadata.num_rows, rows()


def _merge_part(index: int, uri: str, run_dir: str, options: StreamOptions) -> _Part:
    """Map task: one snapshot's valid rows as runs (entries keep their date, status, body, source)."""
    report = BuildReport("part")
    try:
        meta, count, stored = _snapshot_batches(uri)
    except SnapshotError as exc:
        raise BuildError(str(exc)) from exc
    name = report.add_input(uri, snapshot_id=str(meta.get("snapshot_id", "")), entries=count)
    runs = _part_runs(run_dir, index, ROW_RUN, options)
    for i, r in enumerate(stored):
        report.rows_in += 1
        made = _snapshot_row(r, f"{name}:row {i + 1}", f"snapshot:{name}#{i + 1}", report)
        if made is not None:
            runs.add_row(made, (index << ORD_SHIFT) + i)
    runs.close()
    return _Part(report, runs.row_files, runs.body_files)


def merge_snapshots(paths: Sequence[str], out: Path, made_by: str, report: BuildReport, as_of: str | None = None,
                    options: StreamOptions | None = None) -> dict[str, object]:
    """Write all entries of several snapshots (identical ones once), or with ``as_of`` the latest per host.

    Entries keep their dates, statuses, bodies and sources, so their entry sha256 (the evidence
    a dataset cites) is unchanged unless the stored row was inconsistent (then it is recomputed
    and counted). With ``as_of``, entries fetched after the cut-off are dropped and each host
    keeps only its newest remaining entry (of equal ones, the first in input order): what
    `load_snapshot(path, as_of)` would use. Streams like the builders.
    """
    options = options or StreamOptions()
    bound = None
    if as_of is not None:
        try:
            bound = as_of_bound(as_of)
        except ValueError as exc:
            raise BuildError(f"--as-of {as_of!r} is not a date: {exc}") from exc
    for path in paths:
        if "://" not in path and not Path(path).exists():
            raise BuildError(f"robots snapshot not found: {path}")
    with _workspace(out, options) as folder:
        parts = _map(_merge_part, paths, folder, options)
        _merge_reports(report, [p.report for p in parts])
        extra = {"as_of": as_of} if as_of else None
        return _reduce_rows(parts, out, folder, made_by, report, options, extra, bound)


def _snapshot_row(r: Mapping[str, object], where: str, default_source: str,
                  report: BuildReport) -> SnapshotRow | None:
    host_v = r.get("host")
    host = host_origin(host_v) if isinstance(host_v, str) else None
    if host is None:
        report.reject("missing-host" if not host_v else "invalid-host", where, repr(host_v)[:80])
        return None
    fetched_v = r.get("fetched_at")
    if isinstance(fetched_v, str) and normalise_date(fetched_v) is not None:
        fetched = fetched_v  # as stored: rewriting it would change the entry's sha256
    else:
        parsed = normalise_date(fetched_v)
        if parsed is None:
            report.reject("unparsable-date", where, repr(fetched_v)[:60])
            return None
        fetched = parsed
        report.note("dates-normalised")
    try:
        status = parse_status(r.get("http_status"))
    except ValueError as exc:
        report.reject("invalid-status", where, str(exc))
        return None
    if status is None:
        report.reject("invalid-status", where, "missing")
        return None
    body_v = r.get("body")
    body = _to_body(body_v) if body_v is not None else b""
    if body is None:
        report.reject("invalid-body", where, type(body_v).__name__)
        return None
    row = _row(str(host_v), fetched, status, body, str(r.get("source") or default_source), report)
    stored = r.get("entry_sha256")
    if stored and stored != _entry_key(row)[2]:
        report.note("entry-sha256-recomputed")
    return row


# --------------------------------------------------------------------------------------------
# Policy agent lists from ai.robots.txt
# --------------------------------------------------------------------------------------------

#: An agent is a training crawler when its `function` mentions training, scraping or data (or
#: machine learning), or its `description` says it trains ("train", "trains", "trained",
#: "training"). The second test catches Applebot-Extended and Linguee Bot, whose `function`
#: only names products. See docs/snapshots.md.
TRAINING_FUNCTION = re.compile(r"train|scrap|data|machine learning", re.IGNORECASE)
TRAINING_DESCRIPTION = re.compile(r"\btrain(?:s|ed|ing)?\b", re.IGNORECASE)


def load_ai_robots_json(path: str | Path) -> dict[str, dict[str, str]]:
    """The agent table of an ai.robots.txt robots.json, or of our copy with its provenance header."""
    data = json.loads(Path(path).read_text("utf-8"))
    if isinstance(data, dict) and isinstance(data.get("robots"), dict) and "source" in data:
        data = data["robots"]
    if not isinstance(data, dict):
        raise BuildError(f"{path}: not an ai.robots.txt robots.json (expected an object of agents)")
    return data


def training_agents(robots_json: Mapping[str, Mapping[str, object]]) -> list[str]:
    """The AI-training crawler tokens of an ai.robots.txt table, in its order (see TRAINING_*)."""
    out = []
    for agent, info in robots_json.items():
        function = str(info.get("function") or "")
        description = str(info.get("description") or "")
        if TRAINING_FUNCTION.search(function) or TRAINING_DESCRIPTION.search(description):
            out.append(agent)
    return out
