"""Fetch chosen records of one WARC file by byte range, and read each record alone.

Why: an index-first run (pipeline/ingest/cc_index.py) knows, before downloading, which records
of a WARC may be used. Common Crawl writes every record as its own gzip member, so the record at
`(offset, length)` is fetched with one HTTP range request and inflated alone. Neighbouring records
are fetched together when the gap between them is small (`coalesce`): fewer requests for a few
wasted bytes, never bytes of a record that was not asked for beyond that gap.

Each index row ends as exactly one `Document`: the record read by the same exact framing as the
full-file reader (`pipeline/ingest/warc.py`), or an error with its reason (`index-range-past-end`,
`index-offset-not-gzip`, `index-length-mismatch`, or the framing's own `record-truncated`, ...).
A dropped connection is retried from the byte where it stopped (each retry reported); a file
that changes between requests (ETag, length) fails the task, never splices two versions.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.document import Document
from pipeline.ingest.remote import (
    _CONTENT_RANGE,
    _RETRY_STATUS,
    DEFAULT_TIMEOUT,
    MAX_BACKOFF,
    RemoteFileChanged,
    RemoteInputError,
    _one_line,
    _ssl_context,
)
from pipeline.ingest.warc import DEFAULT_MAX_PAYLOAD, GZIP_MAGIC, WarcReader, _Tap

#: Default largest gap (bytes) between two wanted records fetched in one request.
DEFAULT_GAP = 64 * 1024
#: Largest single request (bytes); longer runs of records are split.
DEFAULT_MAX_REQUEST = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    """One range request: bytes [start, end) covering spans [first, last) of the sorted span list."""

    start: int
    end: int
    first: int
    last: int


def coalesce(offsets: Sequence[int], lengths: Sequence[int], gap: int = DEFAULT_GAP,
             max_bytes: int = DEFAULT_MAX_REQUEST, barriers: Sequence[int] = ()) -> list[Request]:
    """Group spans (sorted by offset) into requests; a gap larger than `gap` starts a new one.

    `barriers` (sorted offsets of records decided at plan time, e.g. opted out) are never bridged:
    a gap that holds one starts a new request, so an opted-out record's bytes are never requested.
    Pure: the same spans and settings always give the same requests (the run log and the
    manifest's byte counts depend on it).
    """
    from bisect import bisect_left

    out: list[Request] = []
    n = len(offsets)
    i = 0
    while i < n:
        start, end, j = int(offsets[i]), int(offsets[i]) + max(0, int(lengths[i])), i + 1
        while j < n:
            off, ln = int(offsets[j]), max(0, int(lengths[j]))
            if off - end > gap or max(end, off + ln) - start > max_bytes:
                break
            b = bisect_left(barriers, end)
            if b < len(barriers) and barriers[b] < off:  # a forbidden record lies in the gap
                break
            end = max(end, off + ln)
            j += 1
        out.append(Request(start, end, i, j))
        i = j
    return out


class RangeSource:
    """Bytes [start, end) of one file; fewer at its end. `size`/`etag` once known; `retries` reported."""

    uri: str
    size: int | None = None
    etag: str = ""
    requests: int = 0
    bytes_fetched: int = 0

    def __init__(self) -> None:
        self.retries: list[dict[str, Any]] = []

    def read(self, start: int, end: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalRanges(RangeSource):
    """A local file (a mirror folder): positioned reads, no retries needed."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.uri = path
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size

    def read(self, start: int, end: int) -> bytes:
        self.requests += 1
        data = os.pread(self._fd, max(0, end - start), start) if start < (self.size or 0) else b""
        self.bytes_fetched += len(data)
        return data

    def close(self) -> None:
        os.close(self._fd)


class FsspecRanges(RangeSource):
    """Any other fsspec URL (s3://, gs://, ...): one ranged read per request through the filesystem."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        import fsspec

        self.uri = uri
        self._fs, self._path = fsspec.core.url_to_fs(uri)
        info = self._fs.info(self._path)
        self.size = int(info.get("size") or 0)
        self.etag = str(info.get("ETag") or info.get("etag") or "").strip('"')

    def read(self, start: int, end: int) -> bytes:
        self.requests += 1
        data = bytes(self._fs.cat_file(self._path, start=start, end=min(end, self.size or end)))
        self.bytes_fetched += len(data)
        return data


class HttpRanges(RangeSource):
    """http(s) range requests with the retries of a streamed input (pipeline/ingest/remote.py).

    A response cut mid-way is resumed at the byte where it stopped; at most `retries` retries per
    task, back-off `backoff * 2**(k-1)` s. A server that ignores Range fails the task: reading the
    whole file would silently undo the point of an index-first run.
    """

    def __init__(self, uri: str, *, retries: int = 5, backoff: float = 0.5, client: Any = None) -> None:
        super().__init__()
        import httpx

        self.uri = uri
        self.max_retries = retries
        self.backoff = backoff
        self._own = client is None
        self._client = client or httpx.Client(timeout=DEFAULT_TIMEOUT, follow_redirects=True, verify=_ssl_context())
        self._identity: dict[str, str | None] | None = None

    def close(self) -> None:
        if self._own:
            self._client.close()

    def _pause(self, offset: int, error: str) -> None:
        if len(self.retries) >= self.max_retries:
            raise RemoteInputError(f"{self.uri}: gave up after {len(self.retries)} retries at byte {offset}: {error}")
        self.retries.append({"uri": self.uri, "offset": offset, "attempt": len(self.retries) + 1, "error": error})
        time.sleep(min(MAX_BACKOFF, self.backoff * 2 ** (len(self.retries) - 1)))

    def _check(self, headers: Any, total: int | None, identity: bool = True) -> None:
        seen = {"etag": headers.get("etag"), "last-modified": headers.get("last-modified")}
        if not identity:
            pass
        elif self._identity is None:
            self._identity = seen
            self.etag = (seen["etag"] or "").strip('"')
        elif seen != self._identity:
            raise RemoteFileChanged(f"{self.uri}: the file changed between range requests "
                                    f"({self._identity} -> {seen})")
        if total is not None:
            if self.size is not None and total != self.size:
                raise RemoteFileChanged(f"{self.uri}: the file changed between range requests "
                                        f"(length {self.size} -> {total})")
            self.size = total

    def read(self, start: int, end: int) -> bytes:
        import httpx

        parts: list[bytes] = []
        pos = start
        self.requests += 1
        while pos < end:
            if self.size is not None and pos >= self.size:
                break
            try:
                with self._client.stream("GET", self.uri, headers={"Range": f"bytes={pos}-{end - 1}",
                                                                   "Accept-Encoding": "identity"}) as resp:
                    status = resp.status_code
                    if status in _RETRY_STATUS:
                        raise _Retry(f"HTTP {status} {resp.reason_phrase}")
                    if status == 416:  # nothing at `pos`: the range starts past the end of the file
                        tail = (resp.headers.get("content-range") or "").rpartition("/")[2].strip()
                        self._check(resp.headers, int(tail) if tail.isdigit() else None, identity=False)
                        break
                    if status == 200:
                        raise RemoteInputError(f"{self.uri}: the server ignores Range requests (HTTP 200 to "
                                               f"bytes={pos}-{end - 1}); index-first runs need Range support")
                    if status != 206:
                        raise RemoteInputError(f"{self.uri}: HTTP {status} {resp.reason_phrase}".rstrip())
                    m = _CONTENT_RANGE.match(resp.headers.get("content-range") or "")
                    if m is None or int(m.group(1)) != pos:
                        raise RemoteInputError(f"{self.uri}: asked for byte {pos}, got Content-Range "
                                               f"{resp.headers.get('content-range')!r}")
                    self._check(resp.headers, None if m.group(3) == "*" else int(m.group(3)))
                    want = int(m.group(2)) + 1 - pos
                    got = 0
                    for chunk in resp.iter_raw():
                        parts.append(chunk)
                        got += len(chunk)
                        self.bytes_fetched += len(chunk)
                    pos += got
                    if got < want:
                        raise _Retry(f"response ended after {got} of {want} bytes")
                    if int(m.group(2)) + 1 < end:  # the server clamped the range at the end of the file
                        break
            except _Retry as exc:
                self._pause(pos, str(exc))
            except (httpx.TransportError, OSError) as exc:
                pos = start + sum(len(p) for p in parts)
                self._pause(pos, f"connection lost at byte {pos}: {_one_line(exc)}")
            except httpx.HTTPError as exc:
                raise RemoteInputError(f"{self.uri}: {_one_line(exc)}") from None
        return b"".join(parts)


class _Retry(Exception):
    """A failure worth another attempt (cut response, 5xx, 429)."""


def open_ranges(uri: str, retries: int = 5, backoff: float = 0.5) -> RangeSource:
    """The range source for a WARC location: local path, http(s), or another fsspec URL."""
    if uri.lower().startswith(("http://", "https://")):
        return HttpRanges(uri, retries=retries, backoff=backoff)
    if "://" not in uri or uri.startswith("file://"):
        return LocalRanges(uri.removeprefix("file://"))
    return FsspecRanges(uri)


def read_span(reader: WarcReader, chunk: bytes, offset: int, length: int, url: str, gz: bool) -> Document:
    """The one record at `offset` (the bytes `chunk`), read by the full-file reader's exact framing.

    Pure given its bytes: the reasons are those a full-file run gives the same record, plus the
    index's own (`index-offset-not-gzip`, `index-length-mismatch`) when the row does not point at
    exactly one record.
    """
    def failed(reason: str, **evidence: Any) -> Document:
        return Document(source_uri=reader.uri, source_record_id=f"offset:{offset}", source_offset=offset,
                        source_length=length, record_type="response", url=url).error(reason, **evidence)

    if gz and not chunk.startswith(GZIP_MAGIC):
        return failed("index-offset-not-gzip", first_bytes=chunk[:8].hex(), warc_record_offset=offset)
    if not gz and not chunk.startswith(b"WARC/"):
        return failed("index-offset-not-a-record", first_bytes=chunk[:8].hex(), warc_record_offset=offset)
    tap = _Tap(io.BytesIO(chunk))
    reader._http_framing = not gz
    items = reader._exact_gzip(tap, len(chunk)) if gz else reader._exact_plain(tap, len(chunk))
    if tap.pos != len(chunk) or len(items) != 1:
        first = items[0].reason if len(items) == 1 else ""
        if first:  # the framing's own reason (e.g. record-truncated) says more than ours
            doc = reader._from_exact(items[0])
        else:
            return failed("index-length-mismatch", records=len(items), member_bytes=tap.pos,
                          warc_record_length=length)
    else:
        doc = reader._from_exact(items[0])
    doc.source_offset, doc.source_length = offset, length
    if not doc.url:
        doc.url = url
    return doc


@dataclass
class RangeReader:
    """Documents for the spans (sorted by offset) of one WARC, fetched by coalesced range requests.

    Iterating yields exactly one Document per span, in offset order. `retries`, `bytes_fetched`,
    `requests`, `size` and `etag` describe the transfer once iteration ends.
    """

    uri: str
    offsets: Sequence[int]
    lengths: Sequence[int]
    urls: Sequence[str]
    gap: int = DEFAULT_GAP
    max_request: int = DEFAULT_MAX_REQUEST
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD
    barriers: Sequence[int] = ()  # offsets of records never to be requested (see `coalesce`)
    source: RangeSource | None = None
    retries: list[dict[str, Any]] = field(default_factory=list)
    bytes_fetched: int = 0
    requests: int = 0
    size: int | None = None
    etag: str = ""

    def __iter__(self) -> Iterator[Document]:
        src = self.source or open_ranges(self.uri)
        reader = WarcReader(self.uri, self.max_payload_bytes)
        gz = self.uri.lower().split("?", 1)[0].endswith(".gz")
        try:
            for req in coalesce(self.offsets, self.lengths, self.gap, self.max_request, self.barriers):
                data = src.read(req.start, req.end)
                have = req.start + len(data)
                for k in range(req.first, req.last):
                    off, ln, url = int(self.offsets[k]), int(self.lengths[k]), str(self.urls[k])
                    if ln <= 0 or off < 0:
                        yield Document(source_uri=self.uri, source_record_id=f"offset:{off}", source_offset=off,
                                       source_length=ln, record_type="response", url=url
                                       ).error("index-bad-range", warc_record_offset=off, warc_record_length=ln)
                    elif off + ln > have:
                        yield Document(source_uri=self.uri, source_record_id=f"offset:{off}", source_offset=off,
                                       source_length=ln, record_type="response", url=url
                                       ).error("index-range-past-end", warc_record_offset=off, warc_record_length=ln,
                                               file_bytes=src.size if src.size is not None else have)
                    else:
                        yield read_span(reader, data[off - req.start: off - req.start + ln], off, ln, url, gz)
        finally:
            self.retries, self.bytes_fetched, self.requests = src.retries, src.bytes_fetched, src.requests
            self.size, self.etag = src.size, src.etag
            if self.source is None:
                src.close()
