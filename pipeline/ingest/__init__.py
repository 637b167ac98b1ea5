"""Input readers: pick one by file name, stream `Document`s out of it."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.document import Document
from pipeline.ingest.tabular import JsonlReader, ParquetReader
from pipeline.ingest.warc import WarcReader

WARC_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", ".warc.wet", ".warc.wet.gz", ".arc.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson", ".jsonl.zst")
PARQUET_SUFFIXES = (".parquet",)


class UnsupportedInput(ValueError):
    pass


def input_format(uri: str) -> str:
    name = uri.lower().split("?", 1)[0]
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(WARC_SUFFIXES) or ".warc" in name:
        return "warc"
    raise UnsupportedInput(f"cannot tell the format of {uri!r} (expected WARC/WET, JSONL or Parquet)")


def open_reader(uri: str, max_payload_bytes: int) -> Iterable[Document]:
    fmt = input_format(uri)
    if fmt == "warc":
        return WarcReader(uri, max_payload_bytes=max_payload_bytes)
    if fmt == "jsonl":
        return JsonlReader(uri)
    return ParquetReader(uri)
