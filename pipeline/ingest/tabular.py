"""Readers for already-extracted shards (FineWeb-style Parquet or JSONL with `text` and `url`).

Parquet is read batch by batch and JSONL line by line, so neither loads a whole file.
The source offset of a JSONL row is its byte offset; of a Parquet row, its row index.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import fsspec
import pyarrow.parquet as pq

from pipeline.document import Document

TEXT = "text"
URL = "url"
ID_COLUMNS = ("id", "warc_record_id")
DATE_COLUMNS = ("date", "crawl_date", "timestamp")


def _row_document(uri: str, row: dict[str, Any], offset: int, length: int, kind: str) -> Document:
    rid = next((str(row[c]) for c in ID_COLUMNS if row.get(c) is not None), f"row:{offset}")
    doc = Document(
        source_uri=uri,
        source_record_id=rid,
        source_offset=offset,
        source_length=length,
        record_type=kind,
        url=str(row.get(URL) or ""),
        crawl_date=next((str(row[c]) for c in DATE_COLUMNS if row.get(c) is not None), ""),
        payload_digest=str(row.get("digest") or ""),
    )
    text = row.get(TEXT)
    if not isinstance(text, str):
        return doc.error("missing-text-field")
    if not doc.url:
        return doc.error("missing-url-field")
    doc.text = text
    return doc


class JsonlReader:
    """One `Document` per line; a line that is not a JSON object is errored, not fatal."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.records_read = 0

    def __iter__(self) -> Iterator[Document]:
        with fsspec.open(self.uri, "rb", compression="infer") as fh:
            offset = 0
            for line in fh:
                length = len(line)
                if line.strip():
                    self.records_read += 1
                    try:
                        row = json.loads(line)
                        if not isinstance(row, dict):
                            raise ValueError("not a JSON object")
                    except ValueError as exc:
                        yield Document(self.uri, f"line@{offset}", offset, length, "jsonl").error(
                            "invalid-json", detail=str(exc)[:200]
                        )
                    else:
                        yield _row_document(self.uri, row, offset, length, "jsonl")
                offset += length


class ParquetReader:
    """One `Document` per row, streamed in record batches."""

    def __init__(self, uri: str, batch_size: int = 1024) -> None:
        self.uri = uri
        self.batch_size = batch_size
        self.records_read = 0

    def __iter__(self) -> Iterator[Document]:
        with fsspec.open(self.uri, "rb") as fh:
            pf = pq.ParquetFile(fh)
            index = 0
            for batch in pf.iter_batches(batch_size=self.batch_size):
                for row in batch.to_pylist():
                    self.records_read += 1
                    yield _row_document(self.uri, row, index, 1, "parquet")
                    index += 1
