"""Input readers: pick one by file name, stream `Document`s out of it."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.document import Document
from pipeline.ingest.tabular import JsonlReader, ParquetReader
from pipeline.ingest.warc import WarcReader

WARC_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", ".warc.wet", ".warc.wet.gz")
# ARC (the pre-WARC Internet Archive format): fastwarc 2 does not parse it, so it is refused by name
# rather than accepted and read as one unreadable row per record.
ARC_SUFFIXES = (".arc", ".arc.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson", ".jsonl.zst")
PARQUET_SUFFIXES = (".parquet",)


class UnsupportedInput(ValueError):
    """An input whose format we cannot read; raised at config time, before any output is written."""


def input_format(uri: str) -> str:
    name = uri.lower().split("?", 1)[0]
    if name.endswith(ARC_SUFFIXES):
        raise UnsupportedInput(f"{uri!r} is an ARC file: ARC is not supported (convert it to WARC first, "
                               "e.g. with `warcio recompress`)")
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
        return JsonlReader(uri, max_payload_bytes=max_payload_bytes)
    return ParquetReader(uri, max_payload_bytes=max_payload_bytes)
