"""Readers for already-extracted shards: Parquet, JSONL and Arrow (🤗 datasets' save_to_disk files).

Which field holds the text, URL, id, date and digest is the run's input mapping (`tabular:` in a
config, pipeline/ingest/mapping.py, docs/inputs.md); dotted paths reach into JSON objects and
Parquet/Arrow struct columns. Parquet is read batch by batch and JSONL in bounded chunks, so
neither loads a whole file, and no row larger than `max_payload_bytes` is ever held whole. The
source offset of a JSONL row is its byte offset in the decompressed stream and its length the
line's bytes (newline included); of a Parquet or Arrow row, its row index and 1. One bad row
(invalid JSON, invalid Unicode, over the cap, a mapped field missing) is errored with a reason
and never fails the shard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.document import Document
from pipeline.ingest.mapping import (
    InputMapping,
    MappingError,
    first_value,
    flat_keys,
    leaf_names,
    matching_presets,
)

DEFAULT_MAPPING = InputMapping()
# Output field -> the mapping key that names its source. The output names (text, url, id, date,
# digest) are also what `invalid-unicode` evidence called the fields before mappings existed.
KEYS = (("text", "text_field"), ("url", "url_field"), ("id", "id_field"), ("date", "date_field"),
        ("digest", "digest_field"))
CHUNK = 1 << 20  # JSONL read size: memory is bounded by the cap plus one chunk
HEAD = 64 * 1024  # of a line over the cap, the bytes searched for its url and id
_HEAD_FIELD = re.compile(rb'"([^"\\]{1,256})"\s*:\s*"((?:[^"\\]|\\.){0,4096})"')
# A lone surrogate can only enter valid JSON as a `\u` escape. Searching for the bare `\u` is fast on
# both kinds of JSONL: UTF-8 lines rarely have one, and ASCII-escaped lines have one within a few bytes.
_ESCAPE = re.compile(rb"\\u")


def _plan(mapping: InputMapping) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(output field, paths) pairs: what `_row_values` walks for every row."""
    return tuple((name, mapping.paths(key)) for name, key in KEYS)


def _row_values(row: dict[str, Any], plan: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, Any]:
    """{output field: first non-null value} of a parsed JSON row (the per-row hot path: plain keys first)."""
    values: dict[str, Any] = {}
    for name, paths in plan:
        value = None
        for path in paths:
            value = row.get(path)
            if value is None and "." in path and path not in row:
                value = first_value(row, (path,))[0]
            if value is not None:
                break
        values[name] = value
    return values


def _row_sources(row: dict[str, Any], plan: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, str]:
    """{output field: the path its value came from}; only for evidence, so computed when needed."""
    return {name: first_value(row, paths)[1] for name, paths in plan}


def _row_document(uri: str, values: dict[str, Any], offset: int, length: int, kind: str,
                  mapping: InputMapping = DEFAULT_MAPPING) -> Document:
    """The Document of one row's field values; errored missing-text-field / missing-url-field, naming the path."""
    rid = values.get("id")
    date = values.get("date")
    doc = Document(
        source_uri=uri,
        source_record_id=str(rid) if rid is not None else f"row:{offset}",
        source_offset=offset,
        source_length=length,
        record_type=kind,
        url=str(values.get("url") or ""),
        crawl_date=str(date) if date is not None else "",
        payload_digest=str(values.get("digest") or ""),
    )
    text = values.get("text")
    if not isinstance(text, str):
        return doc.error("missing-text-field", field=mapping.describe("text_field"))
    if not doc.url:
        return doc.error("missing-url-field", field=mapping.describe("url_field"))
    doc.text = text
    return doc


def _printable(value: str) -> str:
    """A string the Parquet writer can encode: lone surrogates spelled as `\\udXXX`, the rest unchanged."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_surrogates(doc: Document, sources: dict[str, str] | None = None) -> Document:
    """Error a row whose output fields hold lone surrogates (valid JSON `\\ud800`, not encodable UTF-8).

    The errored row keeps its provenance with the surrogates escaped, so the ledger can be written.
    Evidence names each field by the path it was read from (`metadata.url`), else its output name.
    """
    fields = (("text", doc.text or ""), ("url", doc.url), ("id", doc.source_record_id),
              ("date", doc.crawl_date), ("digest", doc.payload_digest))
    sources = sources or {}
    bad = []
    for output, value in fields:
        name = sources.get(output) or output
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

    def __init__(self, uri: str, max_payload_bytes: int = 8 * 1024 * 1024,
                 mapping: InputMapping | None = None) -> None:
        self.uri = uri
        self.max_payload_bytes = max_payload_bytes
        self.mapping = mapping or DEFAULT_MAPPING
        self._plan = _plan(self.mapping)
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
            return _oversize_document(self.uri, line.head, offset, length, cap, self.mapping)
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
        doc = _row_document(self.uri, _row_values(row, self._plan), offset, length, "jsonl", self.mapping)
        if _ESCAPE.search(line):  # only then can a field hold a lone surrogate
            doc = _check_surrogates(doc, _row_sources(row, self._plan))
        return doc


def _oversize_document(uri: str, head: bytes, offset: int, length: int, cap: int,
                       mapping: InputMapping = DEFAULT_MAPPING) -> Document:
    """Errored payload-too-large, with the url and id when they come before the bulk (so `lookup` finds it).

    Best effort on the line's first `HEAD` bytes: nothing is parsed whole, so a mapped path is
    matched by its last key (`metadata.url` by `"url"`), the first occurrence winning.
    """
    found: dict[str, str] = {}
    wanted = {*leaf_names(mapping, "url_field"), *leaf_names(mapping, "id_field")}
    for m in _HEAD_FIELD.finditer(head):
        key = m.group(1).decode("utf-8", "replace")
        if key not in wanted or key in found:
            continue
        try:
            value = json.loads(b'"' + m.group(2) + b'"')
        except ValueError:
            continue
        found[key] = _printable(value)
    rid = next((found[k] for k in leaf_names(mapping, "id_field") if found.get(k)), f"line@{offset}")
    url = next((found[k] for k in leaf_names(mapping, "url_field") if found.get(k)), "")
    doc = Document(uri, rid, offset, length, "jsonl", url=url)
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


def _schema_path(schema: pa.Schema, path: str) -> list[str] | None:
    """The column, then struct fields, that `path` names in `schema`; None when it names nothing.

    A top-level column literally named `a.b` wins over the struct path `a` -> `b`, as in JSONL.
    """
    if schema.get_field_index(path) >= 0:
        return [path]
    parts = path.split(".")
    if schema.get_field_index(parts[0]) < 0:
        return None
    kind = schema.field(parts[0]).type
    for part in parts[1:]:
        if not pa.types.is_struct(kind) or kind.get_field_index(part) < 0:
            return None
        kind = kind.field(kind.get_field_index(part)).type
    return parts


def _resolve(schema: pa.Schema, mapping: InputMapping) -> dict[str, list[tuple[str, list[str]]]]:
    """{output field: [(path, column parts), ...]} for the mapped paths this file has, in mapping order."""
    return {name: [(p, parts) for p in mapping.paths(key) if (parts := _schema_path(schema, p)) is not None]
            for name, key in KEYS}


def _read_columns(resolved: dict[str, list[tuple[str, list[str]]]]) -> list[str]:
    """What to ask the Parquet reader for: top-level columns, or `a.b` to read one field of a struct."""
    return list(dict.fromkeys(".".join(parts) for found in resolved.values() for _p, parts in found))


def _extract(batch: pa.RecordBatch, parts: list[str]) -> pa.Array:
    arr = batch.column(parts[0])
    for part in parts[1:]:
        arr = pc.struct_field(arr, part)  # a null struct gives a null field
    return arr


class _ColumnarReader:
    """Rows of Arrow record batches (Parquet, Arrow IPC) to Documents, through the input mapping."""

    kind = ""

    def __init__(self, uri: str, batch_size: int = 1024, max_payload_bytes: int = 8 * 1024 * 1024,
                 mapping: InputMapping | None = None) -> None:
        self.uri = uri
        self.max_payload_bytes = max_payload_bytes
        self.batch_size = batch_size
        self.mapping = mapping or DEFAULT_MAPPING
        self.records_read = 0

    def _batch_documents(self, batch: pa.RecordBatch, first: int,
                         resolved: dict[str, list[tuple[str, list[str]]]]) -> Iterator[Document]:
        cap = self.max_payload_bytes
        oversize: dict[int, int] = {}
        columns: dict[str, list[Any]] = {}  # output field -> its values, the first non-null path per row
        bad: dict[int, tuple[str, str]] = {}
        for name, found in resolved.items():
            merged: list[Any] | None = None
            for path, parts in found:
                arr = _extract(batch, parts)
                if name == "text" and _is_stringlike(arr.type):
                    arr, over = _drop_oversize(arr, cap)
                    for i, size in over.items():
                        oversize.setdefault(i, size)
                cells, errors = _column_values(arr)
                for i, detail in errors.items():
                    bad.setdefault(i, (path, detail))
                merged = cells if merged is None else [a if a is not None else b for a, b in zip(merged, cells,
                                                                                                     strict=True)]
            columns[name] = merged if merged is not None else [None] * batch.num_rows
        names = list(columns)
        for i, cells in enumerate(zip(*columns.values(), strict=True)):
            values = dict(zip(names, cells, strict=True))
            index = first + i
            if i in oversize:
                values["text"] = None  # text over the cap was never converted
                yield _row_document(self.uri, values, index, 1, self.kind, self.mapping).error(
                    "payload-too-large", limit=cap, bytes=oversize[i])
            elif i in bad:
                values["text"] = None
                yield _row_document(self.uri, values, index, 1, self.kind, self.mapping).error(
                    "invalid-unicode", field=bad[i][0], detail=bad[i][1])
            else:
                yield _row_document(self.uri, values, index, 1, self.kind, self.mapping)


class ParquetReader(_ColumnarReader):
    """One `Document` per row, streamed in record batches of the columns the mapping reads."""

    kind = "parquet"

    def __iter__(self) -> Iterator[Document]:
        with fsspec.open(self.uri, "rb") as fh:
            pf = pq.ParquetFile(fh)
            resolved = _resolve(pf.schema_arrow, self.mapping)
            columns = _read_columns(resolved)
            start = 0
            # Row group by row group: a corrupt group costs its own unread rows, not the rest of the file.
            for group in range(pf.num_row_groups):
                rows = pf.metadata.row_group(group).num_rows
                index = start
                try:
                    for batch in pf.iter_batches(batch_size=self.batch_size, row_groups=[group], columns=columns):
                        for doc in self._batch_documents(batch, index, resolved):
                            self.records_read += 1
                            yield doc
                        index += batch.num_rows
                except Exception as exc:  # a corrupt page: one errored row stands for the group's unread rows
                    self.records_read += 1
                    yield Document(self.uri, f"row:{index}", index, 1, "parquet").error(
                        "parquet-unreadable", row_group=group, rows_unread=start + rows - index,
                        detail=f"{type(exc).__name__}: {exc}"[:300])
                start += rows


ARROW_FILE_MAGIC = b"ARROW1"


def _open_arrow(uri: str) -> Any:
    """A local file memory-mapped (cells are never copied unless read); anything else through fsspec."""
    local = uri.removeprefix("file://")
    if "://" not in local:
        return pa.memory_map(local, "r")
    return fsspec.open(uri, "rb").open()


class ArrowReader(_ColumnarReader):
    """Arrow IPC files, as 🤗 datasets' save_to_disk writes them (the stream format) or the file format.

    A stream that stops being readable ends with one `arrow-unreadable` row at the first unread
    row; in the file format a bad record batch costs only its own rows.
    """

    kind = "arrow"

    def __iter__(self) -> Iterator[Document]:
        source = _open_arrow(self.uri)
        try:
            magic = source.read(len(ARROW_FILE_MAGIC))
            source.seek(0)
            if magic == ARROW_FILE_MAGIC:
                yield from self._file(pa.ipc.open_file(source))
            else:
                yield from self._stream(pa.ipc.open_stream(source))
        finally:
            source.close()

    def _unreadable(self, index: int, exc: Exception, **evidence: Any) -> Document:
        self.records_read += 1
        return Document(self.uri, f"row:{index}", index, 1, "arrow").error(
            "arrow-unreadable", **evidence, detail=f"{type(exc).__name__}: {exc}"[:300])

    def _stream(self, reader: Any) -> Iterator[Document]:
        resolved = _resolve(reader.schema, self.mapping)
        index = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except Exception as exc:  # the rest of a stream cannot be located: one row stands for it
                yield self._unreadable(index, exc)
                return
            for doc in self._batch_documents(batch, index, resolved):
                self.records_read += 1
                yield doc
            index += batch.num_rows

    def _file(self, reader: Any) -> Iterator[Document]:
        resolved = _resolve(reader.schema, self.mapping)
        index = 0
        for i in range(reader.num_record_batches):
            try:
                batch = reader.get_batch(i)
            except Exception as exc:
                yield self._unreadable(index, exc, record_batch=i)
                continue
            for doc in self._batch_documents(batch, index, resolved):
                self.records_read += 1
                yield doc
            index += batch.num_rows


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


# --- config-time check: does the first input of each tabular format have the mapped fields? ---------

PROBE_ROWS = 100  # JSONL rows read to find the mapped fields (parsed rows, at most PROBE_BYTES)
PROBE_BYTES = 4 << 20


def _schema_paths(schema: pa.Schema, limit: int = 30) -> list[str]:
    """Column names with struct fields spelled as dotted paths: `id, text, metadata.url, ...`."""
    out: list[str] = []

    def walk(name: str, kind: pa.DataType, level: int) -> None:
        if pa.types.is_struct(kind) and kind.num_fields and level < 3:
            for i in range(kind.num_fields):
                walk(f"{name}.{kind.field(i).name}", kind.field(i).type, level + 1)
        elif len(out) < limit:
            out.append(name)

    for f in schema:
        walk(f.name, f.type, 1)
    return out


def _schema_of(uri: str, fmt: str) -> pa.Schema:
    if fmt == "parquet":
        with fsspec.open(uri, "rb") as fh:
            return pq.ParquetFile(fh).schema_arrow
    source = _open_arrow(uri)
    try:
        magic = source.read(len(ARROW_FILE_MAGIC))
        source.seek(0)
        return (pa.ipc.open_file(source) if magic == ARROW_FILE_MAGIC else pa.ipc.open_stream(source)).schema
    finally:
        source.close()


class _Head:
    """The first `limit` decompressed bytes of a file, so a probe never reads past them."""

    def __init__(self, fh: Any, limit: int) -> None:
        self.fh = fh
        self.left = limit

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.fh.read(size) if size > 0 else b""
        self.left -= len(data)
        return data


def _jsonl_rows(uri: str) -> list[dict[str, Any]]:
    """Up to PROBE_ROWS parsed objects from the first PROBE_BYTES of a JSONL file (bad lines skipped)."""
    rows: list[dict[str, Any]] = []
    with fsspec.open(uri, "rb", compression="infer") as fh:
        try:
            for _offset, _length, line in _jsonl_lines(_Head(fh, PROBE_BYTES), PROBE_BYTES):
                if len(rows) >= PROBE_ROWS:
                    break
                if isinstance(line, Oversize):
                    continue
                try:
                    row = json.loads(line.decode("utf-8").lstrip("\ufeff"))
                except (ValueError, RecursionError):
                    continue
                if isinstance(row, dict):
                    rows.append(row)
        except UnreadableTail:
            pass
    return rows


def _probe(uri: str, fmt: str, mapping: InputMapping) -> tuple[str, Callable[[str], bool], list[str]] | None:
    """(what was looked at, has(path), the paths it has), or None when nothing can be judged."""
    if fmt == "jsonl":
        rows = _jsonl_rows(uri)
        if not rows:
            return None
        seen = list(dict.fromkeys(k for row in rows for k in flat_keys(row)))

        def has_row(path: str) -> bool:
            return any(first_value(row, (path,))[0] is not None for row in rows)

        return f"none of its first {len(rows)} rows has", has_row, seen
    schema = _schema_of(uri, fmt)

    def has_column(path: str) -> bool:
        return _schema_path(schema, path) is not None

    return "it has no column", has_column, _schema_paths(schema)


def check_mapping(inputs: Iterable[str], mapping: InputMapping, display: Callable[[str], str],
                  format_of: Callable[[str], str]) -> None:
    """Refuse, at config time, a mapping whose text or url field the inputs do not have.

    Why: otherwise every row of the run is errored missing-url-field (Dolma's `metadata.url`
    read as FineWeb's `url`). Looks at the first local input of each tabular format only (a
    crawl has ~100,000 files); rows of other files lacking a field are errored, naming the path.
    Raises MappingError with one line: the field, what the file has, a preset that fits.
    """
    checked: set[str] = set()
    for uri in inputs:
        if "://" in uri.removeprefix("file://"):
            continue
        try:
            fmt = format_of(uri)
        except ValueError:
            continue
        if fmt == "warc" or fmt in checked:
            continue
        checked.add(fmt)
        try:
            probe = _probe(uri.removeprefix("file://"), fmt, mapping)
        except Exception:  # unreadable: its shard reports that, row by row, with the reason
            continue
        if probe is None:
            continue
        what, has, seen = probe
        for key in ("text_field", "url_field"):
            if any(has(p) for p in mapping.paths(key)):
                continue
            presets = [p for p in matching_presets(has) if p != mapping.preset]
            hint = f"; try `tabular: {{preset: {presets[0]}}}`" if presets else ""
            field = key.removesuffix("_field")
            raise MappingError(
                f"input {display(uri)}: {what} the {field} field {mapping.describe(key)!r} "
                f"(tabular.{key}, preset {mapping.preset}); it has: {', '.join(seen) or 'nothing'}{hint} "
                "(docs/inputs.md)")
