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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

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
    pass


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, IDN in punycode, default port dropped."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").rstrip(".")
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


@dataclass(frozen=True, slots=True)
class Entry:
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


@dataclass(slots=True)
class Snapshot:
    """An in-memory index host → newest entry fetched on or before `as_of` (if given)."""

    path: str
    meta: dict[str, object]
    file_sha256: str
    _by_host: dict[str, Entry] = field(default_factory=dict)

    @property
    def snapshot_id(self) -> str:
        return str(self.meta.get("snapshot_id", self.file_sha256))

    def lookup(self, url: str) -> tuple[Entry | None, str]:
        """The entry for a URL's origin; falls back to the same host on the other scheme."""
        key = origin(url)
        entry = self._by_host.get(key)
        if entry is not None:
            return entry, "origin"
        scheme, _, rest = key.partition("://")
        other = "http" if scheme == "https" else "https"
        entry = self._by_host.get(f"{other}://{rest}")
        return (entry, "other-scheme") if entry is not None else (None, "none")

    def __len__(self) -> int:
        return len(self._by_host)

    def entries(self) -> Iterable[tuple[str, Entry]]:
        """(origin, entry in effect) per host, for tools that read the snapshot wholesale."""
        return self._by_host.items()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_table(p: Path) -> pa.Table:
    """The snapshot table, or one SnapshotError naming the file and the problem."""
    if not p.exists():
        raise SnapshotError(f"robots snapshot not found: {p}")
    try:
        # ParquetFile, not read_table: read_table imports pyarrow.dataset and with it pandas
        # (0.45 s of every worker's start-up).
        table = pq.ParquetFile(p).read()
    except Exception as exc:
        raise SnapshotError(f"robots snapshot {p} is not a readable Parquet file: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise SnapshotError(f"robots snapshot {p} lacks column(s): {', '.join(missing)}")
    return table


@lru_cache(maxsize=4)
def load_snapshot(path: str, as_of: str | None = None) -> Snapshot:
    """Load once per worker process; the cache key is the path and the as-of date."""
    p = Path(path)
    table = _read_table(p)
    raw_meta = (table.schema.metadata or {}).get(b"consentcrawl.snapshot", b"{}")
    snap = Snapshot(path=str(p), meta=json.loads(raw_meta), file_sha256=file_sha256(p))
    cols = {c: table.column(c).to_pylist() for c in table.column_names}
    n = table.num_rows
    if as_of is not None:
        as_of = as_of_bound(as_of)  # "2025-01-31" includes entries fetched during that day
    for i in range(n):
        fetched = str(cols["fetched_at"][i] or "")
        if as_of is not None and fetched > as_of:
            continue
        body = cols["body"][i] or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        digest = (cols.get("body_sha256") or [None] * n)[i] or hashlib.sha256(body).hexdigest()
        host = origin(str(cols["host"][i]))
        status = int(cols["http_status"][i] or 0)
        esha = (cols.get("entry_sha256") or [None] * n)[i] or entry_sha256(host, fetched, status, digest)
        entry = Entry(host, fetched, status, body, digest, str((cols.get("source") or [""] * n)[i] or ""), esha)
        prev = snap._by_host.get(host)
        if prev is None or entry.fetched_at >= prev.fetched_at:
            snap._by_host[host] = entry
    return snap


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
