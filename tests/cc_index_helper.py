"""Build a cc-index-format Parquet (Common Crawl's column names and types) from WARC files.

Why: index-first runs are tested on real records, and the real cc-index rows of the bundled and
shared WARC excerpts are not published with them. This reads each response record's offset and
length (one gzip member per record, as `member_spans` finds them) and its headers, and writes
the row Common Crawl's indexer would: the schema is commoncrawl/cc-index-table's
`cc-index-schema-flat.json` (Spark `integer` = int32, `short` = int16, `binary` = bytes).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from fastwarc.warc import ArchiveIterator

from pipeline.host import registrable_domain
from pipeline.ingest.warc import member_spans

CC_INDEX_SCHEMA = pa.schema([
    pa.field("url_surtkey", pa.string(), nullable=False),
    pa.field("url", pa.string(), nullable=False),
    pa.field("url_host_name", pa.string(), nullable=False),
    pa.field("url_host_tld", pa.string()),
    pa.field("url_host_2nd_last_part", pa.string()),
    pa.field("url_host_3rd_last_part", pa.string()),
    pa.field("url_host_4th_last_part", pa.string()),
    pa.field("url_host_5th_last_part", pa.string()),
    pa.field("url_host_registry_suffix", pa.string()),
    pa.field("url_host_registered_domain", pa.string()),
    pa.field("url_host_private_suffix", pa.string()),
    pa.field("url_host_private_domain", pa.string()),
    pa.field("url_host_name_reversed", pa.string()),
    pa.field("url_protocol", pa.string(), nullable=False),
    pa.field("url_port", pa.int32()),
    pa.field("url_path", pa.string(), nullable=False),
    pa.field("url_query", pa.string()),
    pa.field("fetch_time", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("fetch_status", pa.int16(), nullable=False),
    pa.field("fetch_redirect", pa.string()),
    pa.field("content_digest", pa.string()),
    pa.field("content_mime_type", pa.string()),
    pa.field("content_mime_detected", pa.string()),
    pa.field("content_charset", pa.string()),
    pa.field("content_languages", pa.string()),
    pa.field("content_truncated", pa.string()),
    pa.field("warc_record_id", pa.binary(), nullable=False),
    pa.field("warc_filename", pa.string(), nullable=False),
    pa.field("warc_record_offset", pa.int32(), nullable=False),
    pa.field("warc_record_length", pa.int32(), nullable=False),
    pa.field("warc_segment", pa.string(), nullable=False),
    pa.field("crawl", pa.string(), nullable=False),
    pa.field("subset", pa.string(), nullable=False),
])


def _surt(host: str, path: str, query: str) -> str:
    labels = [x for x in host.lower().split(".") if x]
    if labels and labels[0] == "www":
        labels = labels[1:]
    return ",".join(reversed(labels)) + ")" + (path or "/").lower() + (f"?{query}" if query else "")


def _part(labels: list[str], k: int) -> str | None:
    return labels[-k] if len(labels) >= k else None


def _date(value: str) -> dt.datetime:
    return dt.datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)


def index_rows(path: Path, warc_filename: str, crawl: str = "CC-MAIN-TEST") -> list[dict[str, Any]]:
    """One cc-index row per response record of a WARC file (offset/length = its gzip member)."""
    spans = {off: (n, rid) for rid, rtype, off, n in member_spans(str(path)) if rtype == "response"}
    rows: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, parse_http=True):
            if rec.stream_pos not in spans:
                continue
            length, rid = spans[rec.stream_pos]
            url = (rec.headers.get("WARC-Target-URI") or "").strip("<>")
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            labels = host.split(".")
            ctype = rec.http_content_type or None
            charset = rec.http_charset if hasattr(rec, "http_charset") else None
            digest = (rec.headers.get("WARC-Payload-Digest") or "").removeprefix("sha1:") or None
            rows.append({
                "url_surtkey": _surt(host, parts.path, parts.query), "url": url, "url_host_name": host,
                "url_host_tld": _part(labels, 1), "url_host_2nd_last_part": _part(labels, 2),
                "url_host_3rd_last_part": _part(labels, 3), "url_host_4th_last_part": _part(labels, 4),
                "url_host_5th_last_part": _part(labels, 5),
                "url_host_registry_suffix": None,
                "url_host_registered_domain": registrable_domain(host) or None,
                "url_host_private_suffix": None, "url_host_private_domain": None,
                "url_host_name_reversed": ".".join(reversed(labels)), "url_protocol": parts.scheme,
                "url_port": parts.port, "url_path": parts.path or "/", "url_query": parts.query or None,
                "fetch_time": _date(rec.headers.get("WARC-Date") or "1970-01-01T00:00:00Z"),
                "fetch_status": int(rec.http_headers.status_code) if rec.http_headers is not None else 0,
                "fetch_redirect": None, "content_digest": digest, "content_mime_type": ctype,
                "content_mime_detected": rec.headers.get("WARC-Identified-Payload-Type") or ctype,
                "content_charset": charset or None, "content_languages": None, "content_truncated": None,
                "warc_record_id": uuid.UUID(rid.strip("<>").removeprefix("urn:uuid:")).bytes,
                "warc_filename": warc_filename, "warc_record_offset": rec.stream_pos,
                "warc_record_length": length, "warc_segment": "0", "crawl": crawl, "subset": "warc",
            })
    return rows


def write_index(rows: Iterable[dict[str, Any]], out: Path, row_group_size: int = 1000) -> Path:
    """Rows sorted by SURT key, as Common Crawl sorts its index files."""
    table = pa.Table.from_pylist(sorted(rows, key=lambda r: (r["url_surtkey"], r["warc_filename"],
                                                             r["warc_record_offset"])), schema=CC_INDEX_SCHEMA)
    pq.write_table(table, out, row_group_size=row_group_size, compression="zstd")
    return out


def build_index(warcs: dict[str, Path], out: Path) -> Path:
    """An index file for `warcs` ({warc_filename as the index names it: local file})."""
    rows = [r for name, p in sorted(warcs.items()) for r in index_rows(p, name)]
    return write_index(rows, out)
