"""Readers for already-extracted shards (FineWeb-style Parquet or JSONL with `text` and `url`).

Parquet is read batch by batch and JSONL in bounded chunks, so neither loads a whole file, and no
row larger than `max_payload_bytes` is ever held whole. The source offset of a JSONL row is its
byte offset in the decompressed stream and its length the line's bytes (newline included); of a
Parquet row, its row index and 1. One bad row (invalid JSON, invalid Unicode, over the cap) is
errored with a reason and never fails the shard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.document import Document

TEXT = "text"
URL = "url"
DIGEST = "digest"
ID_COLUMNS = ("id", "warc_record_id")
DATE_COLUMNS = ("date", "crawl_date", "timestamp")
COLUMNS = (TEXT, URL, *ID_COLUMNS, *DATE_COLUMNS, DIGEST)  # every column a row's output can come from
CHUNK = 1 << 20  # JSONL read size: memory is bounded by the cap plus one chunk
HEAD = 64 * 1024  # of a line over the cap, the bytes searched for its url and id
_HEAD_FIELD = re.compile(rb'"(url|id|warc_record_id)"\s*:\s*"((?:[^"\\]|\\.){0,4096})"')
# A lone surrogate can only enter valid JSON as a `\u` escape. Searching for the bare `\u` is fast on
# both kinds of JSONL: UTF-8 lines rarely have one, and ASCII-escaped lines have one within a few bytes.
_ESCAPE = re.compile(rb"\\u")


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
        payload_digest=str(row.get(DIGEST) or ""),
    )
    text = row.get(TEXT)
    if not isinstance(text, str):
        return doc.error("missing-text-field")
    if not doc.url:
        return doc.error("missing-url-field")
    doc.text = text
    return doc


def _printable(value: str) -> str:
    """A string the Parquet writer can encode: lone surrogates spelled as `\\udXXX`, the rest unchanged."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_surrogates(doc: Document) -> Document:
    """Error a row whose output fields hold lone surrogates (valid JSON `\\ud800`, not encodable UTF-8).

    The errored row keeps its provenance with the surrogates escaped, so the ledger can be written.
    """
    fields = (("text", doc.text or ""), ("url", doc.url), ("id", doc.source_record_id),
              ("date", doc.crawl_date), ("digest", doc.payload_digest))
    bad = []
    for name, value in fields:
        if value.isascii():  # O(1) in CPython
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            bad.append(name)
    if not bad:
        return doc
    doc.url = _printable(doc.url)
    doc.source_record_id = _printable(doc.source_record_id)
    doc.crawl_date = _printable(doc.crawl_date)
    doc.payload_digest = _printable(doc.payload_digest)
    doc.text = None
    return doc.error("invalid-unicode", field=bad[0], fields=bad, detail="lone surrogate escape")


def _blank(data: bytes) -> bool:
    return not data or data.isspace()


class UnreadableTail(Exception):
    """The stream stopped being readable (truncated gzip, corrupt zstd) at `offset`, `length` bytes in."""

    def __init__(self, offset: int, length: int, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}"[:300])
        self.offset = offset
        self.length = length


def _read_chunk(read: Any, size: int) -> tuple[bytes, Exception | None]:
    """About `size` bytes, and the error that stopped the stream, if any, after them.

    Built from `read1` calls where the file has them, so a truncated gzip member still gives
    every byte decoded before the cut (a plain `read(size)` drops them when it raises).
    """
    pieces: list[bytes] = []
    got = 0
    try:
        while got < size:
            piece = read(size - got)
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
    except Exception as exc:  # any decoder or I/O failure: the rest of the stream is unreadable
        return b"".join(pieces), exc
    return (pieces[0] if len(pieces) == 1 else b"".join(pieces)), None


class Oversize(NamedTuple):
    """A line over the cap: only its first `HEAD` bytes are kept, to recover its URL and id."""

    head: bytes


def _jsonl_lines(fh: Any, cap: int, chunk_size: int = CHUNK) -> Iterator[tuple[int, int, bytes | Oversize]]:
    """(offset, length, line) for every non-blank line; an `Oversize` instead of a line over `cap` bytes.

    Reads `chunk_size` bytes at a time and never joins more than `cap` bytes of one line: an oversize
    line is only counted while skipping to its newline, so later offsets stay right. `length`
    includes the newline; `line` does not. A failed read raises `UnreadableTail` after the lines
    decoded before it, at the start of the line it cut.
    """
    offset = 0  # start of the line being assembled
    parts: list[bytes] = []  # its bytes so far, when it spans chunks (at most cap of them)
    size = 0  # its length so far
    skipping: Oversize | None = None  # set once it is over the cap: count, do not keep
    blank = True  # it is only whitespace so far
    read = getattr(fh, "read1", fh.read)
    failure: Exception | None = None
    while True:
        if failure is not None:
            raise UnreadableTail(offset, size, failure) from failure
        chunk, failure = _read_chunk(read, chunk_size)
        if not chunk:
            if failure is not None:
                continue
            break
        pieces = chunk.split(b"\n")
        last = len(pieces) - 1
        first = pieces[0]
        if size or last == 0:  # the first piece continues the carried line (or is all of this chunk)
            blank = blank and _blank(first)
            if skipping is None and size + len(first) > cap:
                skipping, parts = Oversize(b"".join([*parts, first[:HEAD]])[:HEAD]), []
            if skipping is None:
                parts.append(first)
            size += len(first)
            if last == 0:
                continue
            size += 1
            if not blank:
                yield offset, size, skipping or b"".join(parts)
            offset += size
        elif first and not first.isspace():
            yield offset, len(first) + 1, first if len(first) <= cap else Oversize(first[:HEAD])
            offset += len(first) + 1
        else:
            offset += len(first) + 1
        for i in range(1, last):
            piece = pieces[i]
            n = len(piece)
            if piece and not piece.isspace():
                yield offset, n + 1, piece if n <= cap else Oversize(piece[:HEAD])
            offset += n + 1
        rest = pieces[last]
        size, blank = len(rest), _blank(rest)
        skipping = Oversize(rest[:HEAD]) if size > cap else None
        parts = [rest] if rest and skipping is None else []
    if size and not blank:
        yield offset, size, skipping or b"".join(parts)


class JsonlReader:
    """One `Document` per non-blank line; a bad line (JSON, Unicode, size) is errored, not fatal."""

    def __init__(self, uri: str, max_payload_bytes: int = 8 * 1024 * 1024) -> None:
        self.uri = uri
        self.max_payload_bytes = max_payload_bytes
        self.records_read = 0
        self.retries: list[dict[str, object]] = []  # reconnections of a remote input (run log)

    def _open(self) -> Any:
        """Local and fsspec files through fsspec; http(s) as a sequential, resumable stream."""
        if not self.uri.lower().startswith(("http://", "https://")):
            return fsspec.open(self.uri, "rb", compression="infer")
        from pipeline.ingest.remote import open_stream

        stream = open_stream(self.uri, on_retry=self.retries.append)
        name = self.uri.lower().split("?", 1)[0]
        if name.endswith(".gz"):
            import gzip

            return gzip.GzipFile(fileobj=stream, mode="rb")
        if name.endswith(".zst"):
            import zstandard

            return zstandard.ZstdDecompressor().stream_reader(stream)
        return stream

    def __iter__(self) -> Iterator[Document]:
        cap = self.max_payload_bytes
        with self._open() as fh:
            try:
                for offset, length, line in _jsonl_lines(fh, cap):
                    self.records_read += 1
                    yield self._document(line, offset, length, cap)
            except UnreadableTail as tail:
                self.records_read += 1
                yield Document(self.uri, f"line@{tail.offset}", tail.offset, tail.length, "jsonl").error(
                    "jsonl-unreadable", detail=str(tail))

    def _document(self, line: bytes | Oversize, offset: int, length: int, cap: int) -> Document:
        if isinstance(line, Oversize):
            return _oversize_document(self.uri, line.head, offset, length, cap)
        try:
            # Strict UTF-8 (json.loads on bytes would let encoded surrogates through); a BOM is tolerated.
            row = json.loads(line.decode("utf-8").lstrip("\ufeff"))
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
        except UnicodeDecodeError as exc:
            return Document(self.uri, f"line@{offset}", offset, length, "jsonl").error(
                "invalid-unicode", field="line", detail=str(exc)[:200])
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to parse
            return Document(self.uri, f"line@{offset}", offset, length, "jsonl").error(
                "invalid-json", detail=f"{type(exc).__name__}: {exc}"[:200])
        doc = _row_document(self.uri, row, offset, length, "jsonl")
        if _ESCAPE.search(line):  # only then can a field hold a lone surrogate
            doc = _check_surrogates(doc)
        return doc


def _oversize_document(uri: str, head: bytes, offset: int, length: int, cap: int) -> Document:
    """Errored payload-too-large, with the url and id when they come before the bulk (so `lookup` finds it).

    Best effort on the line's first `HEAD` bytes: the first matching key wins, nothing is parsed whole.
    """
    found: dict[str, str] = {}
    for m in _HEAD_FIELD.finditer(head):
        try:
            value = json.loads(b'"' + m.group(2) + b'"')
        except ValueError:
            continue
        found.setdefault(m.group(1).decode(), _printable(value))
    rid = found.get("id") or found.get("warc_record_id") or f"line@{offset}"
    doc = Document(uri, rid, offset, length, "jsonl", url=found.get("url", ""))
    return doc.error("payload-too-large", limit=cap, bytes=length)


def _column_values(arr: pa.ChunkedArray | pa.Array) -> tuple[list[Any], dict[int, str]]:
    """Python values of a column and {row: decode error} for cells that are not valid UTF-8.

    The fast path converts the whole column; only when that fails is the column reread as bytes
    and decoded cell by cell, so one bad cell costs its row, not the batch.
    """
    try:
        return arr.to_pylist(), {}
    except UnicodeDecodeError:
        pass
    values: list[Any] = []
    errors: dict[int, str] = {}
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        for i in range(len(arr)):  # nested or dictionary types: cell by cell
            try:
                values.append(arr[i].as_py())
            except UnicodeDecodeError as exc:
                errors[i] = str(exc)[:200]
                values.append(None)
        return values, errors
    as_bytes = arr.cast(pa.large_binary() if pa.types.is_large_string(arr.type) else pa.binary())
    for i, cell in enumerate(as_bytes.to_pylist()):
        if cell is None:
            values.append(None)
            continue
        try:
            values.append(cell.decode("utf-8"))
        except UnicodeDecodeError as exc:
            errors[i] = str(exc)[:200]
            values.append(cell.decode("utf-8", "backslashreplace"))
    return values, errors


class ParquetReader:
    """One `Document` per row, streamed in record batches of the columns the output needs."""

    def __init__(self, uri: str, batch_size: int = 1024, max_payload_bytes: int = 8 * 1024 * 1024) -> None:
        self.uri = uri
        self.max_payload_bytes = max_payload_bytes
        self.batch_size = batch_size
        self.records_read = 0

    def __iter__(self) -> Iterator[Document]:
        with fsspec.open(self.uri, "rb") as fh:
            pf = pq.ParquetFile(fh)
            present = set(pf.schema_arrow.names)
            columns = [c for c in COLUMNS if c in present]
            start = 0
            # Row group by row group: a corrupt group costs its own unread rows, not the rest of the file.
            for group in range(pf.num_row_groups):
                rows = pf.metadata.row_group(group).num_rows
                index = start
                try:
                    for batch in pf.iter_batches(batch_size=self.batch_size, row_groups=[group], columns=columns):
                        for doc in self._batch_documents(batch, index):
                            self.records_read += 1
                            yield doc
                        index += batch.num_rows
                except Exception as exc:  # a corrupt page: one errored row stands for the group's unread rows
                    self.records_read += 1
                    yield Document(self.uri, f"row:{index}", index, 1, "parquet").error(
                        "parquet-unreadable", row_group=group, rows_unread=start + rows - index,
                        detail=f"{type(exc).__name__}: {exc}"[:300])
                start += rows

    def _batch_documents(self, batch: pa.RecordBatch, first: int) -> Iterator[Document]:
        cap = self.max_payload_bytes
        oversize: dict[int, int] = {}
        names = batch.schema.names
        values: dict[str, list[Any]] = {}
        bad: dict[int, tuple[str, str]] = {}
        for name in names:
            arr = batch.column(name)
            if name == TEXT and _is_stringlike(arr.type):
                arr, oversize = _drop_oversize(arr, cap)
            values[name], errors = _column_values(arr)
            for i, detail in errors.items():
                bad.setdefault(i, (name, detail))
        rows = zip(*(values[name] for name in names), strict=True) if names else [()] * batch.num_rows
        for i, cells in enumerate(rows):
            row = dict(zip(names, cells, strict=True))
            index = first + i
            if i in oversize:
                row[TEXT] = None  # text over the cap was never converted
                yield _row_document(self.uri, row, index, 1, "parquet").error(
                    "payload-too-large", limit=cap, bytes=oversize[i])
            elif i in bad:
                row[TEXT] = None
                yield _row_document(self.uri, row, index, 1, "parquet").error(
                    "invalid-unicode", field=bad[i][0], detail=bad[i][1])
            else:
                yield _row_document(self.uri, row, index, 1, "parquet")


def _is_stringlike(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
            or pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t))


def _drop_oversize(arr: pa.Array, cap: int) -> tuple[pa.Array, dict[int, int]]:
    """The text column with cells over `cap` bytes nulled (never copied into Python), and their sizes."""
    lengths = pc.binary_length(arr)
    over = pc.greater(lengths, cap)
    if not pc.any(over).as_py():
        return arr, {}
    where = pc.indices_nonzero(over).to_pylist()
    sizes = lengths.take(where).to_pylist()
    return pc.if_else(over, pa.scalar(None, arr.type), arr), dict(zip(where, sizes, strict=True))
