"""Snapshot builders: Common Crawl robots.txt WARCs, published tables, merges; policy agent lists.

Every builder returns `SnapshotRow`s and fills a `BuildReport`: what it read, what it rejected and
why (counts plus a few examples per reason), what it noticed (capped bodies, followed redirects,
duplicates). The report is printed by the CLI and stored in the snapshot's metadata, so a
published snapshot says how it was made and what it left out. Bad rows never stop a build; only
an input that cannot be used at all (missing file, missing required columns) is a `BuildError`.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import io
import itertools
import json
import math
import re
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pipeline.optout.snapshot import (
    BODY_CAP,
    SnapshotError,
    SnapshotRow,
    as_of_bound,
    entry_sha256,
    file_sha256,
    origin,
    read_snapshot_meta,
    read_snapshot_rows,
    write_snapshot,
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
# Finishing: dedup, write
# --------------------------------------------------------------------------------------------


def _entry_key(row: SnapshotRow) -> tuple[str, str, str]:
    """(host origin, fetched_at, entry sha256) as the snapshot will store the row."""
    host = origin(row.host if "://" in row.host else f"https://{row.host}")
    digest = hashlib.sha256(row.body[:BODY_CAP]).hexdigest()
    return host, row.fetched_at, entry_sha256(host, row.fetched_at, int(row.http_status), digest)


def dedup(rows: Iterable[SnapshotRow], report: BuildReport) -> list[SnapshotRow]:
    """Drop rows identical to another (same host, date, status and body), whatever their source.

    Rows come back sorted by (host, date, entry sha256), so the result does not depend on input
    order; of duplicates the one with the smallest source is kept. Two different entries for one
    host at the same second are kept both and counted as a note.
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


def write(rows: Iterable[SnapshotRow], out: Path, made_by: str, report: BuildReport,
          extra: Mapping[str, object] | None = None) -> dict[str, object]:
    """Dedup, then write the snapshot with the report in its metadata."""
    final = dedup(rows, report)
    report.entries = len(final)
    return write_snapshot(final, out, made_by, extra={**report.to_meta(), **(extra or {})})


# --------------------------------------------------------------------------------------------
# From WARC files (Common Crawl's robotstxt subset)
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Capture:
    url: str
    date: str
    status: int
    location: str
    body_sha256: str
    where: str


def url_key(url: str) -> str:
    """A URL as a lookup key: origin (lower-cased, default port dropped) + path + query."""
    parts = urlsplit(url.strip())
    return origin(url) + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _is_robots_url(url: str) -> bool:
    return urlsplit(url).path == "/robots.txt"


def _clean_uri(uri: str | None) -> str:
    uri = (uri or "").strip()
    return uri[1:-1] if uri.startswith("<") and uri.endswith(">") else uri


def _read_warc(uri: str, name: str, report: BuildReport, bodies: dict[str, bytes],
               captures: list[_Capture]) -> None:
    """Collect every HTTP response of one WARC file; bodies are kept once per distinct content."""
    import fsspec
    from fastwarc.warc import ArchiveIterator

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
                    cap = _capture(record, f"{name}@{pos}", report, bodies)
                except OSError:
                    raise  # the stream itself is broken: handled below for the whole file
                except Exception as exc:  # one odd record must not end the file
                    report.reject("record-unreadable", f"{name}@{pos}", f"{type(exc).__name__}: {exc}"[:200])
                    continue
                if cap is not None:
                    captures.append(cap)
    except FileNotFoundError as exc:
        raise BuildError(f"WARC file not found: {uri}") from exc
    except OSError as exc:  # not a WARC, or unreadable from here on: the rest of the file is lost
        report.reject("warc-unreadable", f"{name}@{pos}", str(exc)[:200])
        return
    if seen == 0:
        report.reject("warc-unreadable", name, "no WARC records")


def _capture(record: object, where: str, report: BuildReport, bodies: dict[str, bytes]) -> _Capture | None:
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
    bodies.setdefault(digest, body)
    return _Capture(url, fetched, int(status), (http.get("Location") or "").strip(), digest, where)


def _nearest(candidates: list[_Capture] | None, when: str) -> _Capture | None:
    """The capture of a redirect target closest in time to the redirect (earlier wins a tie)."""
    if not candidates:
        return None
    t = _seconds(when)
    return min(candidates, key=lambda c: (abs(_seconds(c.date) - t), c.date, c.where))


def _resolve(cap: _Capture, index: dict[str, list[_Capture]], used: set[int]) -> tuple[_Capture, list[_Capture], str]:
    """Follow captured redirects from ``cap``: (final capture, chain, why unresolved or "")."""
    chain = [cap]
    cur = cap
    for _ in range(MAX_REDIRECTS):
        if not 300 <= cur.status < 400:
            return cur, chain, ""
        if not cur.location:
            return cur, chain, "no-location"
        target = urljoin(cur.url, cur.location)
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            return cur, chain, "non-http-target"
        nxt = _nearest(index.get(url_key(target)), cur.date)
        if nxt is None:
            return cur, chain, "uncaptured"
        if any(nxt is c for c in chain):
            return cur, chain, "loop"
        used.add(id(nxt))
        chain.append(nxt)
        cur = nxt
    return cur, chain, "too-many-redirects" if 300 <= cur.status < 400 else ""


def from_warc(uris: Sequence[str], report: BuildReport) -> list[SnapshotRow]:
    """Rows from robots.txt WARC files: one per captured ``/robots.txt`` response, redirects followed.

    A 3xx whose Location was captured too (in any of the files) takes the status and body of the
    target, up to MAX_REDIRECTS hops, dated by the latest capture in the chain (the entry is only
    known once its last hop was fetched). A redirect that cannot be followed keeps its 3xx
    status (RFC 9309 2.3.1.2: unresolved redirects count as "unavailable").
    """
    bodies: dict[str, bytes] = {}
    captures: list[_Capture] = []
    for uri in uris:
        if "://" not in uri and not Path(uri).is_file():
            raise BuildError(f"WARC file not found: {uri}")
        name = report.add_input(uri)
        _read_warc(uri, name, report, bodies, captures)
    index: dict[str, list[_Capture]] = defaultdict(list)
    for c in captures:
        index[url_key(c.url)].append(c)
    rows: list[SnapshotRow] = []
    used: set[int] = set()
    for cap in captures:
        if not _is_robots_url(cap.url):
            continue
        used.add(id(cap))
        final, chain, why = _resolve(cap, index, used)
        host = origin(cap.url)
        if why:
            report.note(f"redirect-unresolved:{why}")
            source = f"warc:{cap.where} ({cap.status} unresolved: {why}"
            source += f" -> {urljoin(final.url, final.location)})" if final.location else ")"
            rows.append(SnapshotRow(host, cap.date, cap.status, bodies[cap.body_sha256], source))
            continue
        source = f"warc:{cap.where}"
        for prev, hop in zip(chain, chain[1:], strict=False):
            source += f" -> {prev.status} {hop.url} (warc:{hop.where})"
        if len(chain) > 1:
            report.note("redirects-followed")
        fetched = max(c.date for c in chain)
        rows.append(SnapshotRow(host, fetched, final.status, bodies[final.body_sha256], source))
    others = sum(1 for c in captures if id(c) not in used)
    if others:
        report.note("responses-not-robots-txt-ignored", others)
    return rows


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


def from_table(paths: Sequence[str], report: BuildReport, *, default_date: str | None = None,
               columns: Mapping[str, str] | None = None, source_label: str | None = None) -> list[SnapshotRow]:
    """Rows from tables of (host or domain, body[, status, date]), such as published robots.txt crawls.

    A domain without scheme becomes ``https://domain``; no status column means 200 (a body was
    published); rows without a date take ``default_date``. Rows with a missing or invalid host,
    a missing body, an unparsable date or an invalid status are rejected with their reason.
    """
    overrides = dict(columns or {})
    fallback = None
    if default_date is not None:
        fallback = normalise_date(default_date)
        if fallback is None:
            raise BuildError(f"--date {default_date!r} is not a date (use YYYY-MM-DD or an ISO 8601 timestamp)")
    old_limit = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # robots.txt bodies can be megabytes
    rows: list[SnapshotRow] = []
    try:
        for path in paths:
            if "://" not in path and not Path(path).is_file():
                raise BuildError(f"table not found: {path}")
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
                    rows.append(made)
    finally:
        csv.field_size_limit(old_limit)
    return rows


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


def merge(paths: Sequence[str], report: BuildReport, as_of: str | None = None) -> list[SnapshotRow]:
    """All entries of several snapshots (identical ones once), or with ``as_of`` the latest per host.

    Entries keep their dates, statuses, bodies and sources, so their entry sha256 (the evidence
    a dataset cites) is unchanged unless the stored row was inconsistent (then it is recomputed
    and counted). With ``as_of``, entries fetched after the cut-off are dropped and each host
    keeps only its newest remaining entry: what `load_snapshot(path, as_of)` would use.
    """
    bound = None
    if as_of is not None:
        try:
            bound = as_of_bound(as_of)
        except ValueError as exc:
            raise BuildError(f"--as-of {as_of!r} is not a date: {exc}") from exc
    rows: list[SnapshotRow] = []
    for path in paths:
        try:
            meta = read_snapshot_meta(path)
            stored = read_snapshot_rows(path)
        except SnapshotError as exc:
            raise BuildError(str(exc)) from exc
        name = report.add_input(path, snapshot_id=str(meta.get("snapshot_id", "")), entries=len(stored))
        for i, r in enumerate(stored):
            report.rows_in += 1
            made = _snapshot_row(r, f"{name}:row {i + 1}", f"snapshot:{name}#{i + 1}", report)
            if made is not None:
                rows.append(made)
    if bound is None:
        return rows
    latest: dict[str, tuple[tuple[str, str], SnapshotRow]] = {}
    for row in rows:
        host, fetched, esha = _entry_key(row)
        if fetched > bound:
            report.note("entries-after-as-of-dropped")
            continue
        prev = latest.get(host)
        if prev is None or (fetched, esha) > prev[0]:
            if prev is not None:
                report.note("older-entries-superseded")
            latest[host] = ((fetched, esha), row)
        else:
            report.note("older-entries-superseded")
    return [r for _, r in latest.values()]


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
