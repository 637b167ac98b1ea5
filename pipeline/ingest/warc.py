"""Streaming WARC/WET reader built on fastwarc, with record boundaries checked.

Yields one `Document` per WARC record, never holding more than one record's payload. Records
that are not documents (request, metadata, warcinfo, ...) are yielded already dropped, so that
every record in the file is accounted for.

fastwarc reads the file (it inflates ~3x faster than Python's zlib here); after each record we
check that its block stayed inside its own gzip member and that fastwarc could parse what
follows. When a check fails (a wrong Content-Length, a corrupt or cut member, junk between
records) the region is re-read by an exact Python framing (one zlib member at a time, or
`WARC/1.` lines in plain files) that errors the bad record (`record-length-mismatch`,
`record-truncated`, `warc-unreadable`) at the offset of the bad bytes and resynchronises at the
next record; fastwarc then takes over again. Only damaged regions pay for the slow path.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

import fsspec
from fastwarc.stream_io import GzipReader
from fastwarc.warc import ArchiveIterator, WarcRecord

from pipeline.document import Document

# WARC 1.1 record types (ISO 28500, section 6).
RESPONSE = "response"
CONVERSION = "conversion"
DOCUMENT_RECORD_TYPES = frozenset({RESPONSE, CONVERSION})
HTML_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml"})

DEFAULT_MAX_PAYLOAD = 8 * 1024 * 1024


def _is_html(content_type: str, head: bytes) -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower() in HTML_CONTENT_TYPES
    sniff = head[:1024].lstrip().lower()
    return sniff.startswith((b"<!doctype html", b"<html")) or b"<html" in sniff


def _clean_uri(uri: str | None) -> str:
    if not uri:
        return ""
    uri = uri.strip()
    if uri.startswith("<") and uri.endswith(">"):  # WARC/0.18 and 1.0 writers bracket it
        uri = uri[1:-1]
    return uri


GZIP_MAGIC = b"\x1f\x8b"
SEPARATOR = b"\r\n\r\n"
HEADER_ROOM = 1024 * 1024  # WARC + HTTP header bytes allowed on top of the payload cap
RETAIN_MAX = 256 * 1024 * 1024  # raw bytes kept for re-reading a damaged region
_WARC_LINE = re.compile(rb"(?:^|\n)WARC/[01]\.\d")
_WARC_VERSION = re.compile(rb"WARC/[01]\.\d")


class _Tap:
    """The raw input as fastwarc and the exact framing see it: absolute offsets, replayable from a mark.

    Works on non-seekable streams: the bytes since the last `mark` are kept (bounded) so that a
    damaged region can be read again without seeking the underlying file.
    """

    def __init__(self, fh: object) -> None:
        self.fh = fh
        self.pos = 0  # absolute offset of the next byte `read` returns
        self.kept = bytearray()  # bytes [kept_from, end) already read from fh
        self.kept_from = 0
        self.end = 0  # absolute offset of the next byte to take from fh

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        target = offset if whence == 0 else self.pos + offset if whence == 1 else -1
        if target != self.pos:
            raise OSError("seek on a streamed WARC input")
        return self.pos

    def read(self, n: int = -1) -> bytes:
        if self.pos < self.end:  # replaying kept bytes
            lo = self.pos - self.kept_from
            hi = self.end - self.kept_from if n < 0 else min(self.end - self.kept_from, lo + n)
            out = bytes(self.kept[lo:hi])
            self.pos += len(out)
            return out
        out = self.fh.read(n if n >= 0 else -1)  # type: ignore[attr-defined]
        if out:
            self.kept += out
            self.end += len(out)
            self.pos = self.end
            if len(self.kept) > RETAIN_MAX:
                drop = len(self.kept) - RETAIN_MAX
                del self.kept[:drop]
                self.kept_from += drop
        return out

    def mark(self, offset: int) -> None:
        """Forget bytes before `offset`: nothing before it will be re-read."""
        drop = min(offset, self.end) - self.kept_from
        if drop > 0:
            del self.kept[:drop]
            self.kept_from += drop

    def rewind(self, offset: int) -> bool:
        """Read again from `offset`; False when those bytes were not kept (the caller resumes where it is)."""
        if self.kept_from <= offset <= self.end:
            self.pos = offset
            return True
        return False

    def peek(self, n: int) -> bytes:
        at = self.pos
        out = b""
        while len(out) < n:
            more = self.read(n - len(out))
            if not more:
                break
            out += more
        self.pos = at
        return out


def _fields(head: bytes) -> dict[str, str]:
    """WARC header fields (names lower-cased) of a header block, for framing and error rows."""
    out: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out.setdefault(name.strip().lower(), value.strip())
    return out


def _content_length(fields: dict[str, str]) -> int | None:
    try:
        n = int(fields.get("content-length", ""))
    except ValueError:
        return None
    return n if n >= 0 else None


def _warc_line_after(data: bytes, start: int) -> bool:
    """Whether a `WARC/0.x`/`WARC/1.x` line starts at or after `start` (bytes.find first: the regex is slow)."""
    at = data.find(b"WARC/", start)
    while at >= 0:
        if (at == 0 or data[at - 1] == 10) and _WARC_VERSION.match(data, at):
            return True
        at = data.find(b"WARC/", at + 1)
    return False


def _http_overrun(block: bytes) -> int | None:
    """Where a response payload runs past its own HTTP Content-Length into a WARC header line, if it does."""
    end = block.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = block[:end].lower()
    if b"transfer-encoding" in head and b"chunked" in head:
        return None
    m = re.search(rb"\ncontent-length:[ \t]*(\d{1,15})", head)
    if not m:
        return None
    stop = end + 4 + int(m.group(1))
    hit = _WARC_LINE.search(block, stop) if stop < len(block) else None
    return None if hit is None else hit.start() + (block[hit.start():hit.start() + 1] == b"\n")


class _Exact:
    """One record as the exact framing read it: complete bytes, or an error with what is known."""

    __slots__ = ("raw", "fields", "offset", "length", "reason", "evidence", "repeat")

    def __init__(self, offset: int, length: int, raw: bytes | None = None, fields: dict[str, str] | None = None,
                 reason: str = "", **evidence: object) -> None:
        self.offset, self.length, self.raw, self.fields = offset, length, raw, fields or {}
        self.reason, self.evidence = reason, evidence
        self.repeat = 0  # k-th repeat of the same record id in one gzip member (ids must stay unique)


class WarcReader:
    """Iterate the records of one WARC/WET file (gzip or not, local path or fsspec URL)."""

    def __init__(self, uri: str, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.uri = uri
        self.max_payload_bytes = max_payload_bytes
        self.records_read = 0
        self._limit = max_payload_bytes + HEADER_ROOM
        self._http_framing = True  # gzip member framing already catches a block running into the next record
        self.retries: list[dict[str, object]] = []  # reconnections of a remote input (run log)

    def __iter__(self) -> Iterator[Document]:
        if self.uri.lower().startswith(("http://", "https://")):
            # Sequential, resumable HTTP (no Range needed; a dropped connection resumes at its byte).
            from pipeline.ingest.remote import open_stream

            with open_stream(self.uri, on_retry=self.retries.append) as stream:
                yield from self._iterate(stream, stream.size)
                if stream.error is not None:  # a remote failure something swallowed still fails the shard
                    raise stream.error
            return
        with fsspec.open(self.uri, "rb") as fh:
            size = _size(fh)
            yield from self._iterate(fh, size)

    def _iterate(self, fh: object, size: int | None) -> Iterator[Document]:
        tap = _Tap(fh)
        first = tap.peek(4)
        if not first:
            return
        # a damaged first member still makes a gzip file: look for member starts further on
        gz = first.startswith(GZIP_MAGIC) or (not first.startswith(b"WARC") and GZIP_MAGIC + b"\x08" in tap.peek(65536))
        self._http_framing = not gz
        if not gz and not first.startswith(b"WARC"):
            if first in (b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18"):  # zstd / lz4: fastwarc alone, as before
                yield from self._legacy(tap, size)
                return
        while True:
            start = tap.pos
            hint: tuple[int, int] | None = None
            for doc, resume_at in self._fast(tap, gz, size):
                if doc is not None:
                    self.records_read += 1
                    yield doc
                else:
                    hint = resume_at
            if hint is None:
                return
            for doc in self._exact(tap, gz, size, *hint):
                self.records_read += 1
                yield doc
            if tap.pos >= (size if size is not None else tap.end) and not tap.peek(1):
                return
            assert tap.pos > start  # the exact framing always moves on

    # --- fast path: fastwarc, boundaries checked ------------------------------------------------

    def _fast(self, tap: _Tap, gz: bool, size: int | None
              ) -> Iterator[tuple[Document | None, tuple[int, int] | None]]:
        """Documents fastwarc reads cleanly; ends with (None, (offset, n)) where the exact framing must take over.

        A record is yielded only once the next one parsed (or the file ended), so that a Content-Length
        too low, which fastwarc notices only at the next header, re-reads that record too. `n` counts
        the records of the member at `offset` already yielded (members holding several records).
        """
        base = tap.pos
        gzr = GzipReader(tap) if gz else None
        pending: Document | None = None
        last, same = -1, 0  # offset of the last yielded record, records yielded at that offset
        try:
            for rec in ArchiveIterator(gzr if gzr is not None else tap, parse_http=False, stream_detect=False):
                at = gzr.frame_start_position() if gzr is not None else rec.stream_pos
                if at is None or at < base:
                    raise OSError("no record position")
                if pending is not None:
                    if gzr is not None and at < pending.source_offset:
                        raise OSError("positions go backwards")
                    pending.source_length = at - pending.source_offset
                    same = same + 1 if pending.source_offset == last else 1
                    last = pending.source_offset
                    yield pending, None
                    pending = None
                tap.mark(at)
                doc = self._document(rec, at)
                if rec.reader is not None:
                    rec.reader.consume()
                crossed = gzr is not None and gzr.frame_start_position() != at
                if crossed or doc.reason in ("record-truncated", "record-length-mismatch"):
                    yield None, (at, same if at == last else 0)
                    return
                pending = doc
        except (OSError, ValueError):
            at = pending.source_offset if pending is not None else max(base, last)
            yield None, (at, same if at == last else 0)
            return
        if pending is None:  # nothing parsed: let the exact framing say why, if there were bytes
            yield None, (base, 0) if tap.end > base else None
        elif pending.source_offset != last:  # confirm the last record is whole (a cut in its trailer/separator)
            yield None, (pending.source_offset, 0)
        else:
            pending.source_length = max(0, (size if size is not None else tap.end) - pending.source_offset)
            yield pending, None
            yield None, None

    # --- exact framing ----------------------------------------------------------------------------

    def _exact(self, tap: _Tap, gz: bool, size: int | None, offset: int, skip: int) -> Iterator[Document]:
        """Re-read from `offset` record by record until fastwarc can resume at a clean boundary.

        The first `skip` records found there were already yielded by the fast path (same member).
        """
        if not tap.rewind(offset):
            offset, skip = tap.pos, 0
        stop = tap.end  # fastwarc read up to here: the damage is before it
        clean = 0
        while True:
            at = tap.pos
            if not tap.peek(1):
                return
            items = self._exact_gzip(tap, size) if gz else self._exact_plain(tap, size)
            bad = False
            for item in items[skip:]:
                bad = bad or bool(item.reason)
                yield self._from_exact(item)
            skip = 0
            if tap.pos <= at:  # safety: never loop in place
                return
            clean = 0 if bad else clean + 1
            if tap.pos >= stop and clean >= 1:
                tap.mark(tap.pos)
                return

    def _inflate(self, tap: _Tap) -> tuple[str, bytes, int]:
        """One gzip member from tap.pos: (status ok/corrupt/truncated, first `limit` bytes, inflated size)."""
        d = zlib.decompressobj(31)
        out = bytearray()
        total = 0
        while not d.eof:
            chunk = tap.read(65536)
            if not chunk:
                return "truncated", bytes(out), total
            data = chunk
            while data and not d.eof:
                try:
                    piece = d.decompress(data, 1 << 20)
                except zlib.error:
                    return "corrupt", bytes(out), total
                total += len(piece)
                if len(out) < self._limit:
                    out += piece[: self._limit - len(out)]
                data = d.unconsumed_tail
            if d.eof:
                tap.pos -= len(d.unused_data) + len(data)
        return "ok", bytes(out), total

    def _next_member(self, tap: _Tap, start: int) -> int:
        """Offset of the next gzip member after `start` that inflates to a record header (or the end)."""
        tap.rewind(start)
        while True:
            at = tap.pos
            window = tap.peek(65536)
            if len(window) < 3:
                tap.read(len(window))
                return tap.pos
            hit = window.find(b"\x1f\x8b\x08", 0 if at > start else 1)
            if hit < 0:
                tap.pos = at + len(window) - 2
                continue
            cand = at + hit
            tap.pos = cand
            d = zlib.decompressobj(31)
            try:
                head = d.decompress(tap.peek(4096), 8)
            except zlib.error:
                head = b""
            if head.startswith(b"WARC/"):
                return cand
            tap.pos = cand + 1

    def _exact_gzip(self, tap: _Tap, size: int | None) -> list[_Exact]:
        start = tap.pos
        tap.mark(start)
        status, data, total = self._inflate(tap)
        if status == "corrupt":
            nxt = self._next_member(tap, start)
            tap.pos = nxt
            return [_Exact(start, nxt - start, reason="warc-unreadable", detail="corrupt gzip member")]
        if status == "truncated":
            end = tap.pos
            return [self._truncated(start, end - start, data, "gzip member cut by the end of the file")]
        while True:  # a block may continue in members that do not start a record (warcio 'wrong chunks')
            items = self._split(data, start, total > len(data))
            last = items[-1] if items else None
            if last is None or last.reason != "short":
                break
            after = tap.pos
            status2, more, total2 = self._inflate(tap)
            if status2 == "ok" and more and not more.startswith(b"WARC/") and total <= self._limit:
                data += more
                total += total2
                continue
            tap.pos = after
            if status2 == "truncated" or not tap.peek(1):
                items[-1] = self._truncated(last.offset, after - last.offset, data, "block ends with the file")
            else:
                last.reason = "record-length-mismatch"
                last.evidence = {"detail": "block runs past the end of its gzip member"}
            break
        end = tap.pos
        seen: dict[str, int] = {}
        for it in items:  # every record of a member shares its span
            it.offset, it.length = start, end - start
            key = it.fields.get("warc-record-id") or it.reason
            it.repeat = seen.get(key, 0)
            seen[key] = it.repeat + 1
        return items

    def _split(self, data: bytes, offset: int, overflow: bool) -> list[_Exact]:
        """The records of one inflated member (normally exactly one)."""
        items: list[_Exact] = []
        p = 0
        while p < len(data):
            while p < len(data) and data[p] in (10, 13):  # stray line ends between records
                p += 1
            if p == len(data):
                break
            if not data.startswith(b"WARC/", p):
                hit = _WARC_LINE.search(data, p)
                items.append(_Exact(offset, 0, reason="warc-unreadable", detail="bytes that are not a WARC record"))
                if hit is None:
                    return items
                p = hit.start() + (data[hit.start():hit.start() + 1] == b"\n")
                continue
            he = data.find(SEPARATOR, p)
            if he < 0:
                items.append(_Exact(offset, 0, reason="payload-too-large" if overflow else "short",
                                    fields=_fields(data[p:]), limit=self.max_payload_bytes))
                return items
            fields = _fields(data[p:he])
            cl = _content_length(fields)
            body = he + 4
            if cl is None:
                items.append(_Exact(offset, 0, fields=fields, reason="record-length-mismatch",
                                    detail="no valid Content-Length"))
                hit = _WARC_LINE.search(data, body)
                if hit is None:
                    return items
                p = hit.start() + 1
                continue
            end = body + cl
            if end > len(data) or (not overflow and len(data) < end + 4 and SEPARATOR.startswith(data[end:])):
                reason = "payload-too-large" if overflow else "short"
                items.append(_Exact(offset, 0, fields=fields, reason=reason, limit=self.max_payload_bytes))
                return items
            nxt = self._separator_end(data, end)
            overrun = _http_overrun(data[body:end]) if fields.get("warc-type") == "response" else None
            if nxt is None or overrun is not None:
                items.append(_Exact(offset, 0, fields=fields, reason="record-length-mismatch",
                                    detail="no record separator after the block" if overrun is None
                                    else "payload runs past its HTTP Content-Length into a WARC header"))
                hit = _WARC_LINE.search(data, body)
                if hit is None:
                    return items
                p = hit.start() + (data[hit.start():hit.start() + 1] == b"\n")
                continue
            items.append(_Exact(offset, 0, raw=data[p:end] + SEPARATOR, fields=fields))
            p = nxt
        return items

    @staticmethod
    def _separator_end(data: bytes, end: int) -> int | None:
        """End of the CRLFCRLF after a block (a block may have taken up to 4 of its bytes); None if absent."""
        for k in range(5):
            if data.startswith(SEPARATOR, end - k) and end - k >= 0:
                q = end - k + 4
                if q >= len(data) or data.startswith(b"WARC/", q):
                    return q
        return None

    def _truncated(self, offset: int, length: int, data: bytes, detail: str) -> _Exact:
        he = data.find(SEPARATOR)
        fields = _fields(data[:he]) if data.startswith(b"WARC/") and he > 0 else {}
        return _Exact(offset, length, fields=fields, reason="record-truncated", detail=detail)

    def _exact_plain(self, tap: _Tap, size: int | None) -> list[_Exact]:
        """One record of an uncompressed file, read within `limit` bytes; resync at the next `WARC/1.` line."""
        start = tap.pos
        tap.mark(start)
        window = tap.peek(self._limit + 8)
        if not window.startswith(b"WARC/"):
            hit = _WARC_LINE.search(window, 1)
            skip = hit.start() + 1 if hit else len(window)
            tap.read(skip)
            return [_Exact(start, skip, reason="warc-unreadable", detail="bytes that are not a WARC record")]
        he = window.find(SEPARATOR)
        fields = _fields(window[:he]) if he > 0 else {}
        cl = _content_length(fields)
        if he < 0 or cl is None:
            hit = _WARC_LINE.search(window, 1)
            skip = hit.start() + 1 if hit else len(window)
            tap.read(skip)
            reason = "record-truncated" if hit is None and len(window) <= self._limit else "record-length-mismatch"
            return [_Exact(start, skip, fields=fields, reason=reason, detail="no header end or Content-Length")]
        end = he + 4 + cl
        if end + 4 > len(window) and len(window) > self._limit:  # too big to check here: stream over it
            tap.read(len(window))
            remaining = end + 4 - len(window)
            while remaining > 0:
                got = tap.read(min(remaining, 1 << 20))
                if not got:
                    break
                remaining -= len(got)
            return [_Exact(start, tap.pos - start, fields=fields, reason="payload-too-large",
                           limit=self.max_payload_bytes)]
        if window.startswith(SEPARATOR, end):  # exact separator: what follows is the next record's business
            nxt: int | None = end + 4
        else:
            nxt = self._separator_end(window[: end + 4 + 5], end) if end <= len(window) else None
        overrun = _http_overrun(window[he + 4:end]) if fields.get("warc-type") == "response" and end <= len(
            window) else None
        if nxt is not None and overrun is None:
            tap.read(nxt)
            return [_Exact(start, nxt, raw=window[:end] + SEPARATOR, fields=fields)]
        hit = _WARC_LINE.search(window, he + 4)
        skip = hit.start() + 1 if hit else len(window)
        tap.read(skip)
        if hit is None and (end > len(window) or SEPARATOR.startswith(window[end:])):
            return [_Exact(start, skip, fields=fields, reason="record-truncated", detail="block ends with the file")]
        return [_Exact(start, skip, fields=fields, reason="record-length-mismatch",
                       detail="no record separator after the block" if overrun is None
                       else "payload runs past its HTTP Content-Length into a WARC header")]

    def _from_exact(self, item: _Exact) -> Document:
        if item.raw is not None and not item.reason:
            try:
                rec = WarcRecord.from_bytes(item.raw)
            except (OSError, ValueError) as exc:
                item.reason, item.evidence = "record-unreadable", {"detail": str(exc)}
            else:
                doc = self._document(rec, item.offset)
                doc.source_length = item.length
                if item.repeat:  # the same record twice in one member: the copy gets an id of its own
                    doc.source_record_id += f"#{item.repeat}"
                return doc
        f = item.fields
        rtype = (f.get("warc-type") or "unreadable").lower()
        rid = f.get("warc-record-id") or f"{item.reason}@{item.offset}"
        if item.repeat:
            rid += f"#{item.repeat}"
        return Document(
            source_uri=self.uri,
            source_record_id=f"{rid}" if not f.get("warc-record-id") else rid,
            source_offset=item.offset,
            source_length=item.length,
            record_type=rtype,
            url=_clean_uri(f.get("warc-target-uri")),
            crawl_date=f.get("warc-date", ""),
        ).error(item.reason, **{"after_offset": item.offset, **item.evidence})

    def _legacy(self, tap: _Tap, size: int | None) -> Iterator[Document]:
        """zstd/lz4 WARC: fastwarc alone (no member framing to check against)."""
        pending: Document | None = None
        try:
            for record in ArchiveIterator(tap, parse_http=False):
                if pending is not None:
                    pending.source_length = record.stream_pos - pending.source_offset
                    self.records_read += 1
                    yield pending
                pending = self._document(record, record.stream_pos)
        except (OSError, ValueError) as exc:
            offset = tap.end
            if pending is not None:
                pending.source_length = max(0, offset - pending.source_offset)
                self.records_read += 1
                yield pending
                pending = None
            self.records_read += 1
            yield Document(source_uri=self.uri, source_record_id=f"unreadable@{offset}", source_offset=offset,
                           source_length=max(0, (size or offset) - offset), record_type="unreadable",
                           ).error("warc-unreadable", detail=str(exc), after_offset=offset)
        if pending is not None:
            pending.source_length = max(0, (size or tap.end) - pending.source_offset)
            self.records_read += 1
            yield pending

    def _document(self, record: WarcRecord, offset: int) -> Document:
        rtype = str(record.record_type).rsplit(".", 1)[-1]
        headers = record.headers
        doc = Document(
            source_uri=self.uri,
            source_record_id=headers.get("WARC-Record-ID") or f"offset:{offset}",
            source_offset=offset,
            source_length=0,
            record_type=rtype,
            url=_clean_uri(headers.get("WARC-Target-URI")),
            crawl_date=headers.get("WARC-Date") or "",
            payload_digest=headers.get("WARC-Payload-Digest")
            or headers.get("WARC-Block-Digest")
            or "",
        )
        if rtype not in DOCUMENT_RECORD_TYPES:
            return doc.drop(f"not-a-document:{rtype}")
        if not doc.url:
            return doc.error("missing-target-uri")
        try:
            if rtype == RESPONSE:
                return self._response(record, doc)
            return self._conversion(record, doc)
        except Exception as exc:  # a broken record must not end the shard
            return doc.error("record-unreadable", detail=f"{type(exc).__name__}: {exc}")

    def _read_payload(self, record: WarcRecord, doc: Document, expected: int | None) -> bytes | None:
        payload = record.reader.read(self.max_payload_bytes + 1)
        if len(payload) > self.max_payload_bytes:
            doc.error("payload-too-large", limit=self.max_payload_bytes)
            return None
        if expected is not None and len(payload) < expected:
            doc.error("record-truncated", expected_bytes=expected, read_bytes=len(payload))
            return None
        return payload

    def _response(self, record: WarcRecord, doc: Document) -> Document:
        block_length = record.content_length
        if not record.is_http:
            return doc.drop("not-a-document:non-http-response")
        record.parse_http()
        http = record.http_headers
        head_len = block_length - record.content_length  # bytes taken by the HTTP header block
        doc.http_status = http.status_code
        doc.http_headers = [(k, v) for k, v in http.items()]
        doc.content_type = (record.http_content_type or "").lower()
        payload = self._read_payload(record, doc, block_length - head_len)
        if payload is None:
            return doc
        declared = http.get("Content-Length") if self._http_framing else None
        if declared and declared.strip().isdigit() and len(payload) > int(declared) and "chunked" not in (
                http.get("Transfer-Encoding") or "").lower() and _warc_line_after(payload, int(declared)):
            return doc.error("record-length-mismatch", detail="payload runs past its HTTP Content-Length")
        if doc.http_status != 200:
            return doc.drop("http-status", status=doc.http_status)
        if not _is_html(doc.content_type, payload):
            return doc.drop("not-html", content_type=doc.content_type)
        doc.html = payload
        return doc

    def _conversion(self, record: WarcRecord, doc: Document) -> Document:
        payload = self._read_payload(record, doc, record.content_length)
        if payload is None:
            return doc
        doc.content_type = (record.headers.get("Content-Type") or "text/plain").lower()
        doc.text = payload.decode("utf-8", errors="replace")
        return doc


def _size(fh: object) -> int | None:
    try:
        size = getattr(fh, "size", None)
        if isinstance(size, int):
            return size
        cur = fh.tell()  # type: ignore[attr-defined]
        end = fh.seek(0, 2)  # type: ignore[attr-defined]
        fh.seek(cur)  # type: ignore[attr-defined]
        return int(end)
    except Exception:
        return None


def member_spans(path: str) -> Iterator[tuple[str, str, int, int]]:
    """(record id, WARC-Type, offset, length) of each record's bytes in a local file.

    For per-record gzip files (as Common Crawl writes them) a span is one gzip member, so records
    can be copied between files byte for byte, digests intact.
    """
    import os

    size = os.path.getsize(path)
    prev: tuple[str, str, int] | None = None
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, parse_http=False):
            if prev is not None:
                yield prev[0], prev[1], prev[2], rec.stream_pos - prev[2]
            prev = (rec.headers.get("WARC-Record-ID") or "", str(rec.record_type).rsplit(".", 1)[-1], rec.stream_pos)
    if prev is not None:
        yield prev[0], prev[1], prev[2], size - prev[2]
