"""robots.txt (and other per-host opt-out file) snapshots: dated, checksummed tables.

A snapshot is data published with the dataset. Parquet columns:
`host` (origin as RFC 9309 scopes it: scheme://host[:port], default port omitted),
`fetched_at` (ISO 8601), `http_status`, `body` (bytes, capped), `body_sha256`, `source`,
`entry_sha256` (identifies this entry in evidence). Table metadata holds the snapshot id
(sha256 of its entries), its date range and how it was made.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import shutil
import struct
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.host import canonical_host, netloc_host

BODY_CAP = 500 * 1024  # RFC 9309 section 2.5: parse at least the first 500 KiB
DEFAULT_PORTS = {"http": 80, "https": 443}

SCHEMA = pa.schema(
    [
        ("host", pa.string()),
        ("fetched_at", pa.string()),
        ("http_status", pa.int32()),
        ("body", pa.binary()),
        ("body_sha256", pa.string()),
        ("source", pa.string()),
        ("entry_sha256", pa.string()),
    ]
)
REQUIRED_COLUMNS = ("host", "fetched_at", "http_status", "body")


class SnapshotError(ValueError):
    """A snapshot that cannot be used (missing, not Parquet, lacking columns, changed bytes): one line."""


# URLs whose origin() is plainly their start: lower-case http(s), an ASCII host without port,
# userinfo or trailing dot, then the end or one of / ? #. Anything else takes the general path.
_PLAIN_ORIGIN = re.compile(r"(https?://[a-z0-9_\-.]*[a-z0-9_\-])(?=[/?#]|\Z)")


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, IDN in punycode, default port dropped."""
    m = _PLAIN_ORIGIN.match(url)
    if m is not None:
        return m.group(1)
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").rstrip(".")
    if parts.netloc.rpartition("@")[2].startswith("["):  # an IPv6 literal keeps its brackets
        host = netloc_host(canonical_host(parts.hostname or "", bracketed=True) or host)
    else:
        try:
            host = host.encode("idna").decode("ascii") if host and not host.isascii() else host.lower()
        except UnicodeError:
            host = host.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def entry_sha256(host: str, fetched_at: str, status: int, body_sha256: str) -> str:
    return hashlib.sha256(f"{host}\n{fetched_at}\n{status}\n{body_sha256}".encode()).hexdigest()


class Entry(NamedTuple):
    """One robots.txt fetch of one host (immutable; a NamedTuple: built ~5x faster than a frozen dataclass)."""

    host: str
    fetched_at: str
    http_status: int
    body: bytes
    body_sha256: str
    source: str
    entry_sha256: str


@dataclass(slots=True)
class SnapshotRow:
    host: str
    fetched_at: str
    http_status: int
    body: bytes
    source: str = ""

    def finish(self) -> dict[str, object]:
        body = self.body[:BODY_CAP]
        digest = hashlib.sha256(body).hexdigest()
        host = origin(self.host if "://" in self.host else f"https://{self.host}")
        return {
            "host": host,
            "fetched_at": self.fetched_at,
            "http_status": int(self.http_status),
            "body": body,
            "body_sha256": digest,
            "source": self.source,
            "entry_sha256": entry_sha256(host, self.fetched_at, int(self.http_status), digest),
        }


def write_snapshot(rows: Iterable[SnapshotRow], path: Path, made_by: str,
                   extra: Mapping[str, object] | None = None) -> dict[str, object]:
    """Write a snapshot deterministically (rows sorted by host, then date); return its metadata.

    ``extra`` adds keys to the metadata (a builder's inputs and rejected-row counts, say); the
    core keys (id, entries, date range, made_by) always win, so evidence cannot be overridden.
    """
    records = sorted((r.finish() for r in rows), key=lambda r: (r["host"], r["fetched_at"]))
    ids = hashlib.sha256("".join(f"{r['entry_sha256']}\n" for r in records).encode()).hexdigest()
    dates = sorted(str(r["fetched_at"]) for r in records)
    meta = {
        "snapshot_id": ids,
        "entries": len(records),
        "date_min": dates[0] if dates else "",
        "date_max": dates[-1] if dates else "",
        "made_by": made_by,
    }
    meta = {**{k: v for k, v in (extra or {}).items() if k not in meta}, **meta}
    table = pa.Table.from_pylist(records, schema=SCHEMA).replace_schema_metadata(
        {"consentcrawl.snapshot": json.dumps(meta, sort_keys=True)}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)
    return meta


# --------------------------------------------------------------------------------------------
# Checking a snapshot file
# --------------------------------------------------------------------------------------------

# What each column may hold ("null": a column of nulls only, as pandas writes an empty one).
_KINDS: dict[str, tuple[str, ...]] = {
    "host": ("text",),
    "fetched_at": ("text",),
    "http_status": ("integer",),
    "body": ("bytes", "text", "null"),
    "body_sha256": ("text", "null"),
    "source": ("text", "null"),
    "entry_sha256": ("text", "null"),
}


def _kind(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text"
    if (pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)
            or pa.types.is_fixed_size_binary(t)):
        return "bytes"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "…") if len(text) > 200 else text or type(exc).__name__


def _check_schema(p: Path, schema: pa.Schema) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in schema.names]
    if missing:
        raise SnapshotError(f"robots snapshot {p} lacks column(s): {', '.join(missing)}")
    for name, kinds in _KINDS.items():
        if name in schema.names:
            t = schema.field(name).type
            if _kind(t) not in kinds:
                want = " or ".join(k for k in kinds if k != "null")
                raise SnapshotError(f"robots snapshot {p}: column {name} is {t}, expected {want}")


def _parquet(p: Path, **kwargs: Any) -> pq.ParquetFile:
    """The file opened as Parquet (footer only), or one SnapshotError naming it."""
    if not p.exists():
        raise SnapshotError(f"robots snapshot not found: {p}")
    if p.is_dir():
        raise SnapshotError(f"robots snapshot {p} is a folder, not a Parquet file")
    try:
        return pq.ParquetFile(p, **kwargs)
    except Exception as exc:
        raise SnapshotError(f"robots snapshot {p} is not a readable Parquet file: {_one_line(exc)}") from exc


def _read_table(p: Path) -> pa.Table:
    """The whole snapshot table (for merging), or one SnapshotError naming the file and the problem."""
    pf = _parquet(p)
    missing = [c for c in REQUIRED_COLUMNS if c not in pf.schema_arrow.names]
    if missing:
        raise SnapshotError(f"robots snapshot {p} lacks column(s): {', '.join(missing)}")
    try:
        # ParquetFile, not read_table: read_table imports pyarrow.dataset and with it pandas
        # (0.45 s of every worker's start-up).
        return pf.read()
    except Exception as exc:
        raise SnapshotError(f"robots snapshot {p} is not a readable Parquet file: {_one_line(exc)}") from exc


def validate_snapshot(path: str | Path) -> None:
    """Cheap config-time check (Parquet footer, required columns, their types): one SnapshotError line."""
    p = Path(path)
    _check_schema(p, _parquet(p).schema_arrow)


# --------------------------------------------------------------------------------------------
# The file's identity: its sha256, computed once per version of the file
# --------------------------------------------------------------------------------------------

CACHE_ENV = "CONSENTCRAWL_CACHE_DIR"
_LOCK = threading.RLock()
_HASHED: dict[str, tuple[tuple[int, ...], str]] = {}  # real path -> (stat signature, sha256)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stat_sig(p: Path) -> tuple[int, ...]:
    """What changes whenever the bytes can have changed: a new inode (replaced), size, mtime, ctime.

    ctime cannot be set back by a user, so an in-place rewrite always shows."""
    st = p.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def cache_root() -> Path:
    """Our cache folder: `$CONSENTCRAWL_CACHE_DIR/snapshots`, else `~/.cache/consentcrawl/snapshots`."""
    env = os.environ.get(CACHE_ENV)
    base = Path(env).expanduser() if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
        "consentcrawl"
    return base / "snapshots"


def _writable_cache() -> Path:
    """The cache folder, created; a per-user temp folder when it cannot be (read-only home)."""
    tried = []
    for root in (cache_root(), Path(tempfile.gettempdir()) / f"consentcrawl-{os.getuid()}" / "snapshots"):
        try:
            root.mkdir(parents=True, exist_ok=True)
            if os.access(root, os.W_OK | os.X_OK):
                return root
        except OSError as exc:
            tried.append(f"{root} ({_one_line(exc)})")
            continue
        tried.append(f"{root} (not writable)")
    raise SnapshotError(f"no writable cache folder for snapshot indexes: {'; '.join(tried)}; set {CACHE_ENV}")


def _hash_record(root: Path, real: str) -> Path:
    return root / "hashes" / (hashlib.blake2b(real.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
                              + ".json")


def current_sha256(path: str | Path) -> str:
    """sha256 of the file's bytes now, hashed at most once per version of the file on this node.

    A version is the stat signature (`_stat_sig`); the digest is remembered in this process and in
    the cache folder, so the other worker processes of a node do not hash a multi-GB file again.
    """
    p = Path(path)
    real = os.path.realpath(p)
    try:
        sig = _stat_sig(p)
    except FileNotFoundError as exc:
        raise SnapshotError(f"robots snapshot not found: {p}") from exc
    if p.is_dir():
        raise SnapshotError(f"robots snapshot {p} is a folder, not a Parquet file")
    with _LOCK:
        known = _HASHED.get(real)
        if known is not None and known[0] == sig:
            return known[1]
    record = None
    try:
        record = _hash_record(_writable_cache(), real)
        saved = json.loads(record.read_text())
        if saved.get("path") == real and tuple(saved.get("stat", ())) == sig:
            digest = str(saved["sha256"])
            with _LOCK:
                _HASHED[real] = (sig, digest)
            return digest
    except (OSError, ValueError, KeyError, TypeError, SnapshotError):
        pass
    try:
        digest = file_sha256(p)
    except OSError as exc:
        raise SnapshotError(f"robots snapshot {p} cannot be read: {_one_line(exc)}") from exc
    if _stat_sig(p) != sig:  # written to while we read it: this digest may describe no version at all
        raise SnapshotError(f"robots snapshot {p} changed while it was being hashed")
    with _LOCK:
        _HASHED[real] = (sig, digest)
    if record is not None:
        _atomic_write(record, json.dumps({"path": real, "stat": list(sig), "sha256": digest}).encode())
    return digest


def _atomic_write(dest: Path, data: bytes) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    except OSError:
        pass  # a remembered digest only saves time


# --------------------------------------------------------------------------------------------
# The index: a memory-mapped, zero-copy layout shared by every worker process of a node
# --------------------------------------------------------------------------------------------
#
# <cache>/<file sha256>.<as-of>.v1/
#   rows.arrow  Arrow IPC file, uncompressed: the entry in effect per host (as of the cut-off),
#               in the snapshot's row order (builders write it sorted by host), in record batches
#               of at most 65,536 rows / 64 MiB; its schema metadata holds the snapshot's metadata.
#   keys.arrow  Arrow IPC file, one record batch: `key` (int64 hash of the host, sorted), and
#               `batch`/`row` (uint32) where that host's row is. 16 bytes per host.
# Both are opened with mmap, so their pages live in the page cache once per node, whatever the
# number of worker processes; a lookup touches a few pages of keys.arrow and the host's own row.

INDEX_VERSION = 1
KEY_BITS = 64
ROWS_FILE = "rows.arrow"
KEYS_FILE = "keys.arrow"
BATCH_ROWS = 65536
BATCH_BYTES = 64 * 1024 * 1024
_ROWS_SCHEMA = pa.schema([
    ("host", pa.string()),
    ("fetched_at", pa.string()),
    ("http_status", pa.int64()),
    ("body", pa.large_binary()),
    ("body_sha256", pa.string()),
    ("source", pa.large_string()),
    ("entry_sha256", pa.string()),
])
_PAIR32, _PAIR64, _I64, _U32 = struct.Struct("<ii"), struct.Struct("<qq"), struct.Struct("<q"), struct.Struct("<I")
_new_entry = tuple.__new__  # Entry without NamedTuple.__new__'s argument handling
# the order _Index.entry reads them in
_TEXT_COLS = ("host", "fetched_at", "body", "body_sha256", "source", "entry_sha256")
# Origins as origin() returns them unchanged (lower-case ASCII, no port, no trailing dot): only the
# other hosts need the Python call when an index is built.
_CANONICAL = r"^https?://[a-z0-9_\-]+(\.[a-z0-9_\-]+)*$"


def host_key(host: str, bits: int = KEY_BITS) -> int:
    """The signed 64-bit key of an origin (blake2b); `bits` < 64 keeps the top bits (tests force collisions)."""
    k = int.from_bytes(hashlib.blake2b(host.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little",
                       signed=True)
    return k >> (64 - bits) if bits < 64 else k


def _index_name(sha256: str, bound: str | None) -> str:
    tag = "latest" if bound is None else re.sub(r"[^0-9A-Za-z]", "", bound)
    return f"{sha256}.{tag}.v{INDEX_VERSION}"


_STRING = pa.string()


def _text(col: pa.ChunkedArray | pa.Array, t: pa.DataType = _STRING) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), t)
    return arr.cast(t)


def _normalised_hosts(col: pa.ChunkedArray) -> pa.Array:
    """origin() of every host, as the dict-based loader did (str(None) included); Python only where needed."""
    arr = _text(col)
    ok = pc.fill_null(pc.match_substring_regex(arr, _CANONICAL), False)
    slow = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
    if len(slow):
        vals = [origin(str(h)) for h in arr.take(pa.array(slow)).to_pylist()]
        arr = pc.replace_with_mask(arr, pc.invert(ok), pa.array(vals, pa.string()))
    return arr


def _select(pf: pq.ParquetFile, bound: str | None) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Rows in effect (ascending) plus every row's normalised host and date.

    Per host: the newest entry fetched on or before `bound`; of entries with the same date, the
    later row (what the dict-based loader kept: `>=` while reading rows in order).
    """
    t = pf.read(columns=["host", "fetched_at"])
    hosts = _normalised_hosts(t.column("host"))
    fetched = pc.fill_null(_text(t.column("fetched_at")), "")
    del t
    n = len(hosts)
    if bound is None:
        cand = np.arange(n, dtype=np.int64)
    else:
        cand = np.flatnonzero(pc.less_equal(fetched, pa.scalar(bound)).to_numpy(zero_copy_only=False))
    if not len(cand):
        return np.zeros(0, dtype=np.int64), hosts, fetched
    idx = pa.array(cand)
    sub = pa.table({"h": hosts.take(idx), "f": fetched.take(idx), "i": idx})
    order = pc.sort_indices(sub, sort_keys=[("h", "ascending"), ("f", "ascending"), ("i", "ascending")])
    h = sub.column("h").take(order).combine_chunks()
    last = np.ones(len(h), dtype=bool)
    if len(h) > 1:
        last[:-1] = pc.not_equal(h.slice(0, len(h) - 1), h.slice(1)).to_numpy(zero_copy_only=False)
    rows = sub.column("i").take(order).to_numpy()[last]
    return np.sort(rows), hosts, fetched


def _fill_missing(values: pa.Array, compute: Any) -> pa.Array:
    """Cells that are null or "" replaced by compute(i) (the dict-based loader's `x or computed`)."""
    bad = pc.fill_null(pc.equal(values, ""), True)
    where = np.flatnonzero(bad.to_numpy(zero_copy_only=False))
    if not len(where):
        return values
    return pc.replace_with_mask(values, bad, pa.array([compute(int(i)) for i in where], values.type))


def _finish(rb: pa.RecordBatch, hosts: pa.Array, fetched: pa.Array) -> pa.RecordBatch:
    """One batch of selected rows in the index's schema, with what the dict-based loader filled in."""
    n = rb.num_rows
    names = rb.schema.names
    status = pc.fill_null(rb.column("http_status").cast(pa.int64()), 0)
    body = pc.fill_null(_text(rb.column("body"), pa.large_binary()), b"")

    def column(name: str, t: pa.DataType = _STRING) -> pa.Array:
        return _text(rb.column(name), t) if name in names else pa.nulls(n, t)

    bodies: list[bytes] = []

    def body_digest(i: int) -> str:
        if not bodies:
            bodies.extend(body.to_pylist())
        return hashlib.sha256(bodies[i]).hexdigest()

    digest = _fill_missing(column("body_sha256"), body_digest)
    source = pc.fill_null(column("source", pa.large_string()), "")
    esha = column("entry_sha256")
    if pc.any(pc.fill_null(pc.equal(esha, ""), True)).as_py():
        h, f, st, dg = hosts.to_pylist(), fetched.to_pylist(), status.to_pylist(), digest.to_pylist()
        esha = _fill_missing(esha, lambda i: entry_sha256(h[i], f[i], st[i], dg[i]))
    return pa.record_batch([hosts, fetched, status, body, digest, source, esha], schema=_ROWS_SCHEMA)


def build_index(src: str | Path, sha256: str, bound: str | None, dest: Path, key_bits: int = KEY_BITS) -> None:
    """Write the index folder `dest` for the snapshot file `src` (whose bytes hash to `sha256`).

    Memory: the host and date columns (to choose the rows in effect), then one Parquet batch and
    one output batch at a time. Written under a temporary name beside `dest`, then renamed: a
    concurrent builder of the same index either wins the rename or finds it done.
    """
    p = Path(src)
    pf = _parquet(p)
    _check_schema(p, pf.schema_arrow)
    sig = _stat_sig(p)
    raw_meta = (pf.schema_arrow.metadata or {}).get(b"consentcrawl.snapshot", b"{}")
    try:
        sel, hosts, fetched = _select(pf, bound)
    except SnapshotError:
        raise
    except Exception as exc:
        raise SnapshotError(f"robots snapshot {p} cannot be read: {_one_line(exc)}") from exc
    info = {"version": INDEX_VERSION, "file_sha256": sha256, "as_of": bound, "hosts": int(len(sel)),
            "key_bits": key_bits, "rows_in": pf.metadata.num_rows}
    schema = _ROWS_SCHEMA.with_metadata({"consentcrawl.snapshot": raw_meta,
                                         "consentcrawl.index": json.dumps(info, sort_keys=True)})
    dest.parent.mkdir(parents=True, exist_ok=True)
    _sweep_temp(dest.parent)
    tmp = dest.parent / f".tmp-{dest.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        lengths = _write_rows(p, pf, sel, hosts, fetched, tmp / ROWS_FILE, schema)
        del fetched
        batch = np.repeat(np.arange(len(lengths), dtype=np.uint32), lengths)
        row = np.concatenate([np.arange(k, dtype=np.uint32) for k in lengths]) if lengths else \
            np.zeros(0, dtype=np.uint32)
        keys = np.empty(len(sel), dtype=np.int64)
        step = 1 << 18
        for lo in range(0, len(sel), step):
            chunk = hosts.take(pa.array(sel[lo:lo + step])).to_pylist()
            keys[lo:lo + len(chunk)] = [host_key(h, key_bits) for h in chunk]
        del hosts
        order = np.argsort(keys, kind="stable")
        rb = pa.record_batch([pa.array(keys[order]), pa.array(batch[order]), pa.array(row[order])],
                             names=["key", "batch", "row"])
        with pa.OSFile(str(tmp / KEYS_FILE), "wb") as sink, pa.ipc.new_file(
                sink, rb.schema.with_metadata({"consentcrawl.index": json.dumps(info, sort_keys=True)})) as w:
            w.write_batch(rb)
        if _stat_sig(p) != sig:
            raise SnapshotError(f"robots snapshot {p} changed while it was being indexed")
        try:
            os.rename(tmp, dest)
        except OSError:
            if not (dest / KEYS_FILE).exists():  # not "another process finished it first"
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_rows(p: Path, pf: pq.ParquetFile, sel: np.ndarray, hosts: pa.Array, fetched: pa.Array,
                out: Path, schema: pa.Schema) -> list[int]:
    """Stream the selected rows into `out`; the number of rows of each record batch written."""
    cols = [c for c in _ROWS_SCHEMA.names if c in pf.schema_arrow.names and c not in ("host", "fetched_at")]
    stream = pq.ParquetFile(p, buffer_size=1 << 20, pre_buffer=False)  # column chunks read piecewise
    lengths: list[int] = []
    pending: list[pa.RecordBatch] = []
    size = rows = 0
    with pa.OSFile(str(out), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        def flush() -> None:
            nonlocal size, rows
            if pending:
                table = pa.Table.from_batches(pending, _ROWS_SCHEMA).combine_chunks()
                writer.write_table(table.replace_schema_metadata(schema.metadata), max_chunksize=table.num_rows)
                lengths.append(table.num_rows)
                pending.clear()
                size = rows = 0

        off = 0
        for g in range(pf.metadata.num_row_groups):
            n_g = pf.metadata.row_group(g).num_rows
            lo, hi = np.searchsorted(sel, off), np.searchsorted(sel, off + n_g)
            if hi > lo:
                start = off
                for rb in stream.iter_batches(batch_size=4096, row_groups=[g], columns=cols):
                    a, b = np.searchsorted(sel, start), np.searchsorted(sel, start + rb.num_rows)
                    if b > a:
                        pick = pa.array(sel[a:b])
                        part = _finish(rb.take(pa.array(sel[a:b] - start)), hosts.take(pick), fetched.take(pick))
                        pending.append(part)
                        rows += part.num_rows
                        size += part.nbytes
                        if rows >= BATCH_ROWS or size >= BATCH_BYTES:
                            flush()
                    start += rb.num_rows
            off += n_g
        flush()
    return lengths


def _mmap(path: Path) -> mmap.mmap:
    with open(path, "rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def _sweep_temp(root: Path, older_than: float = 86400.0) -> None:
    """Remove temporary folders that killed builders left behind (a day old: no live build is that slow)."""
    now = time.time()
    for d in root.glob(".tmp-*"):
        try:
            if now - d.stat().st_mtime > older_than:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


class _Index:
    """The two memory-mapped files of an index folder, read without copying.

    Cells are read with `struct.unpack_from` (two offsets) and one slice of the mmap: no pyarrow or
    numpy scalar per lookup. The keys are searched with numpy; everything else is plain Python.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.mm = _mmap(folder / ROWS_FILE)
        self.kmm = _mmap(folder / KEYS_FILE)
        rows = pa.ipc.open_file(pa.py_buffer(self.mm))
        keys = pa.ipc.open_file(pa.py_buffer(self.kmm))
        meta = rows.schema.metadata or {}
        self.info: dict[str, Any] = json.loads(meta.get(b"consentcrawl.index", b"{}"))
        self.raw_meta: bytes = meta.get(b"consentcrawl.snapshot", b"{}")
        if rows.schema.remove_metadata() != _ROWS_SCHEMA:
            raise ValueError("unexpected schema")
        kb = keys.get_batch(0)
        self.keys: np.ndarray = kb.column(0).to_numpy()
        kbase = pa.py_buffer(self.kmm).address
        self.bpos = kb.column(1).buffers()[1].address - kbase  # uint32 batch of each key
        self.rpos = kb.column(2).buffers()[1].address - kbase  # uint32 row of each key
        self.bits = int(self.info.get("key_bits", KEY_BITS))
        base = pa.py_buffer(self.mm).address
        # per batch: (unpack_from, offsets position, offset width, data position) per text column
        # in _TEXT_COLS order, then the position of the int64 statuses; and its row count
        self.cols: list[tuple[tuple[Any, int, int, int], ...]] = []
        self.status: list[int] = []
        self.rows: list[int] = []
        for i in range(rows.num_record_batches):
            rb = rows.get_batch(i)
            views = []
            for name in _TEXT_COLS:
                arr = rb.column(name)
                _, offs, data = arr.buffers()
                fmt = _PAIR64 if pa.types.is_large_binary(arr.type) or pa.types.is_large_string(arr.type) else _PAIR32
                width = fmt.size // 2
                views.append((fmt.unpack_from, offs.address - base + arr.offset * width, width,
                              (data.address - base) if data is not None and data.size else 0))
            self.cols.append(tuple(views))
            st = rb.column("http_status")
            self.status.append(st.buffers()[1].address - base + 8 * st.offset)
            self.rows.append(rb.num_rows)
        if sum(self.rows) != len(self.keys):
            raise ValueError("rows and keys disagree")

    def __len__(self) -> int:
        return len(self.keys)

    def _cell(self, b: int, r: int, col: int) -> bytes:
        unpack, opos, width, dpos = self.cols[b][col]
        s, e = unpack(self.mm, opos + r * width)
        return self.mm[dpos + s:dpos + e]

    def find(self, host: str) -> tuple[int, int] | None:
        """(batch, row) of the host's entry; equal keys (a hash collision) are told apart by the host."""
        keys = self.keys
        k = host_key(host, self.bits)
        i = int(keys.searchsorted(k))
        n = len(keys)
        raw = None
        while i < n and keys[i] == k:
            b, r = _U32.unpack_from(self.kmm, self.bpos + 4 * i)[0], _U32.unpack_from(self.kmm, self.rpos + 4 * i)[0]
            if raw is None:
                raw = host.encode("utf-8", "surrogatepass")
            if self._cell(b, r, 0) == raw:
                return b, r
            i += 1
        return None

    def entry(self, b: int, r: int, host: str | None = None) -> Entry:
        mm = self.mm
        (hu, ho, hw, hd), (fu, fo, fw, fd), (bu, bo, bw, bd), (su, so, sw, sd), (cu, co, cw, cd), (eu, eo, ew, ed) = \
            self.cols[b]
        if host is None:
            s, e = hu(mm, ho + r * hw)
            host = mm[hd + s:hd + e].decode()
        s, e = fu(mm, fo + r * fw)
        fetched = mm[fd + s:fd + e].decode()
        s, e = bu(mm, bo + r * bw)
        body = mm[bd + s:bd + e]
        s, e = su(mm, so + r * sw)
        digest = mm[sd + s:sd + e].decode()
        s, e = cu(mm, co + r * cw)
        source = mm[cd + s:cd + e].decode()
        s, e = eu(mm, eo + r * ew)
        esha = mm[ed + s:ed + e].decode()
        return _new_entry(Entry, (host, fetched, _I64.unpack_from(mm, self.status[b] + 8 * r)[0], body, digest,
                                  source, esha))

    def iter_rows(self) -> Iterator[tuple[int, int]]:
        for b, n in enumerate(self.rows):
            for r in range(n):
                yield b, r


class _HostView(Mapping[str, Entry]):
    """host -> entry in effect, read on demand (what `Snapshot._by_host` was as a dict)."""

    def __init__(self, index: _Index) -> None:
        self._index = index

    def __getitem__(self, host: str) -> Entry:
        at = self._index.find(host)
        if at is None:
            raise KeyError(host)
        return self._index.entry(*at, host=host)

    def __iter__(self) -> Iterator[str]:
        for b, r in self._index.iter_rows():
            yield self._index._cell(b, r, 0).decode()

    def __len__(self) -> int:
        return len(self._index)


class Snapshot:
    """Host -> newest entry fetched on or before `as_of` (if given), read from a memory-mapped index.

    Opening costs a few MiB per process whatever the snapshot's size: the index pages are shared
    through the page cache, and an entry is read only when a lookup meets its host. The results of
    recent lookups (per origin) are kept, bounded by count and body bytes, because a shard's URLs
    repeat hosts and the robots and signals stages look the same URL up.
    """

    __slots__ = ("path", "meta", "file_sha256", "as_of", "index_path", "_index", "_recent", "_recent_bytes",
                 "_lock", "recent_max", "recent_max_bytes")

    def __init__(self, path: str, meta: dict[str, object], file_sha256: str, as_of: str | None,
                 index: _Index, recent_max: int = 4096, recent_max_bytes: int = 32 * 1024 * 1024) -> None:
        self.path = path
        self.meta = meta
        self.file_sha256 = file_sha256
        self.as_of = as_of  # the inclusive bound (as_of_bound), None for "newest"
        self.index_path = str(index.folder)
        self._index = index
        self._recent: OrderedDict[str, tuple[tuple[Entry | None, str], int]] = OrderedDict()
        self._recent_bytes = 0
        self._lock = threading.Lock()  # worker threads share one Snapshot
        self.recent_max = recent_max
        self.recent_max_bytes = recent_max_bytes

    @property
    def snapshot_id(self) -> str:
        return str(self.meta.get("snapshot_id", self.file_sha256))

    def lookup(self, url: str) -> tuple[Entry | None, str]:
        """The entry for a URL's origin; falls back to the same host on the other scheme."""
        key = origin(url)
        with self._lock:
            hit = self._recent.get(key)
            if hit is not None:
                self._recent.move_to_end(key)
                return hit[0]
        found = self._find(key)
        size = 200 + len(key) + (len(found[0].body) if found[0] is not None else 0)
        if self.recent_max <= 0 or size > self.recent_max_bytes:
            return found
        with self._lock:
            if key not in self._recent:
                self._recent[key] = (found, size)
                self._recent_bytes += size
                while len(self._recent) > self.recent_max or self._recent_bytes > self.recent_max_bytes:
                    self._recent_bytes -= self._recent.popitem(last=False)[1][1]
        return found

    def _find(self, key: str) -> tuple[Entry | None, str]:
        index = self._index
        at = index.find(key)
        if at is not None:
            return index.entry(*at, host=key), "origin"
        scheme, _, rest = key.partition("://")
        other = f"{'http' if scheme == 'https' else 'https'}://{rest}"
        at = index.find(other)
        return (index.entry(*at, host=other), "other-scheme") if at is not None else (None, "none")

    def __len__(self) -> int:
        return len(self._index)

    def entries(self) -> Iterator[tuple[str, Entry]]:
        """(origin, entry in effect) per host, in the snapshot's row order, read as iterated."""
        index = self._index
        for b, r in index.iter_rows():
            e = index.entry(b, r)
            yield e.host, e

    @property
    def _by_host(self) -> Mapping[str, Entry]:
        return _HostView(self._index)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as what to open: the receiving process opens (and checks) the same bytes."""
        return (load_snapshot, (self.path, self.as_of, self.file_sha256))

    def __repr__(self) -> str:
        return f"Snapshot({self.path!r}, as_of={self.as_of!r}, hosts={len(self)}, sha256={self.file_sha256[:12]}…)"


def _open_index(p: Path, sha256: str, bound: str | None) -> Snapshot:
    """Open the cached index of these bytes and cut-off, building it first when there is none."""
    root = _writable_cache()
    folder = root / _index_name(sha256, bound)
    for attempt in range(2):
        if not (folder / KEYS_FILE).exists():
            build_index(p, sha256, bound, folder)
        try:
            index = _Index(folder)
            if index.info.get("file_sha256") != sha256 or index.info.get("as_of") != bound or \
                    index.info.get("version") != INDEX_VERSION:
                raise ValueError("index of other bytes")
            break
        except (OSError, ValueError, pa.ArrowException) as exc:
            if attempt:
                raise SnapshotError(f"robots snapshot index {folder} unusable: {_one_line(exc)}") from exc
            # damaged (disk full, edited by hand): set it aside and build it again
            trash = folder.with_name(f".tmp-{folder.name}-broken-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            try:
                os.rename(folder, trash)
                shutil.rmtree(trash, ignore_errors=True)
            except OSError:
                pass
    try:
        meta = json.loads(index.raw_meta)
    except ValueError:
        meta = {}
    return Snapshot(str(p), meta if isinstance(meta, dict) else {}, sha256, bound, index)


_OPEN: OrderedDict[tuple[str, str | None], Snapshot] = OrderedDict()
_OPEN_MAX = 4


def load_snapshot(path: str, as_of: str | None = None, sha256: str | None = None) -> Snapshot:
    """The snapshot at `path` as of a cut-off, opened once per process per (bytes, cut-off).

    `sha256`, when given (the driver hashed the file when it planned the run), is the identity:
    a file whose bytes differ raises SnapshotError, never opens other rules. Without it, the
    file's bytes as they are now. The index is built once per node into the cache folder.
    """
    p = Path(path)
    try:
        bound = as_of_bound(as_of) if as_of is not None else None
    except ValueError as exc:
        raise SnapshotError(f"not a date for as-of: {as_of!r}") from exc
    actual = current_sha256(p)
    if sha256 is not None and actual != sha256.lower():
        raise SnapshotError(f"robots snapshot {p} changed since the run was planned: sha256 {actual} != {sha256} "
                            f"(planned)")
    key = (actual, bound)
    with _LOCK:
        snap = _OPEN.get(key)
        if snap is None:
            snap = _open_index(p, actual, bound)
            _OPEN[key] = snap
            while len(_OPEN) > _OPEN_MAX:
                _OPEN.popitem(last=False)
        else:
            _OPEN.move_to_end(key)
    return snap


def _cache_clear() -> None:
    """Forget opened snapshots and remembered digests (the index files stay in the cache folder)."""
    with _LOCK:
        _OPEN.clear()
        _HASHED.clear()


def _load_uncached(path: str, as_of: str | None = None, sha256: str | None = None) -> Snapshot:
    """A Snapshot object of its own (no per-process reuse), e.g. for benchmarks of a cold filter."""
    p = Path(path)
    bound = as_of_bound(as_of) if as_of is not None else None
    actual = current_sha256(p)
    if sha256 is not None and actual != sha256.lower():
        raise SnapshotError(f"robots snapshot {p} changed since the run was planned: sha256 {actual} != {sha256} "
                            f"(planned)")
    with _LOCK:
        return _open_index(p, actual, bound)


load_snapshot.cache_clear = _cache_clear  # type: ignore[attr-defined]  # the lru_cache API callers use
load_snapshot.__wrapped__ = _load_uncached  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# Reading whole tables (merging, auditing) and "as of" bounds
# --------------------------------------------------------------------------------------------


def read_snapshot_meta(path: str | Path) -> dict[str, object]:
    """The snapshot-level metadata (id, date range, made_by, builder extras) without reading rows."""
    try:
        schema = pq.read_schema(path)
    except FileNotFoundError as exc:
        raise SnapshotError(f"robots snapshot not found: {path}") from exc
    except Exception as exc:
        raise SnapshotError(f"robots snapshot {path} is not a readable Parquet file: {exc}") from exc
    raw = (schema.metadata or {}).get(b"consentcrawl.snapshot", b"{}")
    try:
        meta = json.loads(raw)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def read_snapshot_rows(path: str | Path) -> list[dict[str, object]]:
    """Every row of a snapshot as written (all dates, no per-host reduction), for merging.

    Values are returned as stored (``None`` where a cell or an optional column is missing), so
    the caller decides what a bad row is; a file lacking a required column is one SnapshotError.
    """
    p = Path(path)
    table = _read_table(p)
    names = [c for c in SCHEMA.names if c in table.column_names]
    cols = {c: table.column(c).to_pylist() for c in names}
    return [{c: cols[c][i] if c in cols else None for c in SCHEMA.names} for i in range(table.num_rows)]


def as_of_bound(as_of: str) -> str:
    """The inclusive upper bound for ``fetched_at`` strings meaning "on or before ``as_of``".

    Snapshot dates are ISO 8601 UTC strings compared as strings, so a bare date must become the
    last second of that day ("2025-01-31" -> "2025-01-31T23:59:59Z"), else entries fetched during
    the day itself would compare greater than it and be left out. A month ("2025-01") means its
    last day; a full timestamp is converted to UTC. Raises ValueError for anything else.
    """
    import calendar
    from datetime import datetime, timezone

    text = as_of.strip()
    if len(text) == 7 and text[4] == "-":  # YYYY-MM
        year, month = int(text[:4]), int(text[5:])
        last = calendar.monthrange(year, month)[1]
        return f"{year:04d}-{month:02d}-{last:02d}T23:59:59Z"
    if len(text) == 10:  # YYYY-MM-DD
        d = datetime.strptime(text, "%Y-%m-%d")
        return d.strftime("%Y-%m-%dT23:59:59Z")
    if text[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not read "Z"
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
