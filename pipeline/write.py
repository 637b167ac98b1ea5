"""Parquet writers for kept documents (`data/`) and the exclusion ledger (`excluded/`).

Files are written under a temporary name and renamed when complete, so a reader never sees a
partial file under its final name. Row groups have a fixed row count so bytes are reproducible.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.document import Document, Outcome
from pipeline.host import registrable_domain
from pipeline.storage import OutputFolder

ROW_GROUP_ROWS = 2048

DATA_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("url", pa.string()),
        ("host", pa.string()),
        ("domain", pa.string()),
        ("text", pa.large_string()),
        ("lang", pa.string()),
        ("script", pa.string()),
        ("macrolanguage", pa.string()),
        ("lang_score", pa.float64()),
        ("lang_topk", pa.list_(pa.struct([("label", pa.string()), ("score", pa.float64())]))),
        ("crawl_date", pa.string()),
        ("source_uri", pa.string()),
        ("source_record_id", pa.string()),
        ("source_offset", pa.int64()),
        ("source_length", pa.int64()),
        ("payload_digest", pa.string()),
        ("content_sha256", pa.string()),
        ("robots_entry_sha256", pa.string()),
    ]
)

LEDGER_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("url", pa.string()),
        ("host", pa.string()),
        ("domain", pa.string()),
        ("outcome", pa.string()),
        ("reason", pa.string()),
        ("group", pa.string()),
        ("agents", pa.list_(pa.string())),
        ("rule", pa.string()),
        ("rule_line", pa.int64()),
        ("snapshot_entry_sha256", pa.string()),
        ("snapshot_fetched_at", pa.string()),
        ("evidence", pa.string()),
        ("chars", pa.int64()),
        ("record_type", pa.string()),
        ("source_uri", pa.string()),
        ("source_record_id", pa.string()),
        ("source_offset", pa.int64()),
        ("source_length", pa.int64()),
        ("payload_digest", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: str  # relative to the dataset folder
    sha256: str
    bytes: int
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes, "rows": self.rows}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_row(doc: Document, source_uri: str) -> dict[str, Any]:
    text = doc.text or ""
    return {
        "id": doc.id,
        "url": doc.url,
        "host": doc.host,
        "domain": registrable_domain(doc.host) if doc.host else "",
        "text": text,
        "lang": doc.lang,
        "script": doc.script,
        "macrolanguage": doc.macrolanguage,
        "lang_score": doc.lang_score,
        "lang_topk": [{"label": lbl, "score": s} for lbl, s in doc.lang_topk],
        "crawl_date": doc.crawl_date,
        "source_uri": source_uri,
        "source_record_id": doc.source_record_id,
        "source_offset": doc.source_offset,
        "source_length": doc.source_length,
        "payload_digest": doc.payload_digest,
        "content_sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        "robots_entry_sha256": doc.robots_entry,
    }


def ledger_row(doc: Document, source_uri: str) -> dict[str, Any]:
    ev = doc.evidence
    line = ev.get("line")
    return {
        "id": doc.id,
        "url": doc.url,
        "host": doc.host,
        "domain": registrable_domain(doc.host) if doc.host else "",
        "outcome": doc.outcome.value if doc.outcome else "",
        "reason": doc.reason,
        "group": ev.get("group"),
        "agents": ev.get("agents"),
        "rule": ev.get("rule"),
        "rule_line": line if isinstance(line, int) else None,
        "snapshot_entry_sha256": ev.get("entry_sha256"),
        "snapshot_fetched_at": ev.get("fetched_at"),
        "evidence": json.dumps(ev, sort_keys=True, default=str, ensure_ascii=False),
        "chars": len(doc.text) if doc.text is not None else None,
        "record_type": doc.record_type,
        "source_uri": source_uri,
        "source_record_id": doc.source_record_id,
        "source_offset": doc.source_offset,
        "source_length": doc.source_length,
        "payload_digest": doc.payload_digest,
    }


class ParquetShardWriter:
    """Buffer rows into fixed-size row groups; publish the file atomically on `close`.

    `root` is the dataset folder: a local path or an `OutputFolder` (object stores: the file is
    written on the worker's disk and uploaded in one piece when complete).
    """

    def __init__(self, root: Path | OutputFolder, relpath: str, schema: pa.Schema) -> None:
        self.folder = root if isinstance(root, OutputFolder) else OutputFolder(str(root))
        self.relpath = relpath
        self.schema = schema
        self.tmp = self.folder.scratch(relpath)
        self._writer = pq.ParquetWriter(self.tmp, schema, compression="zstd", write_statistics=True)
        self._rows: list[dict[str, Any]] = []
        self.count = 0

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self.count += 1
        if len(self._rows) >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []

    def close(self) -> WrittenFile:
        self._flush()
        self._writer.close()
        digest, size = sha256_file(self.tmp), self.tmp.stat().st_size
        self.folder.put(self.tmp, self.relpath)
        return WrittenFile(self.relpath, digest, size, self.count)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def should_ledger(doc: Document) -> bool:
    """Non-document WARC records (request, metadata, ...) are counted, not listed."""
    return doc.outcome is not Outcome.KEPT and not doc.reason.startswith("not-a-document:")
