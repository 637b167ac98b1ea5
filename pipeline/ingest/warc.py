"""Streaming WARC/WET reader built on fastwarc.

Yields one `Document` per WARC record, never holding more than one record's payload.
Records that are not documents (request, metadata, warcinfo, ...) are yielded already
dropped, so that every record in the file is accounted for. A file that stops being
readable part-way yields one errored record for its unreadable tail.
"""

from __future__ import annotations

from collections.abc import Iterator

import fsspec
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


class WarcReader:
    """Iterate the records of one WARC/WET file (gzip or not, local path or fsspec URL)."""

    def __init__(self, uri: str, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.uri = uri
        self.max_payload_bytes = max_payload_bytes
        self.records_read = 0

    def __iter__(self) -> Iterator[Document]:
        with fsspec.open(self.uri, "rb") as fh:
            size = _size(fh)
            yield from self._iterate(fh, size)

    def _iterate(self, fh: object, size: int | None) -> Iterator[Document]:
        pending: Document | None = None
        last_pos = 0
        try:
            for record in ArchiveIterator(fh, parse_http=False):
                pos = record.stream_pos
                if pending is not None:
                    pending.source_length = pos - pending.source_offset
                    yield pending
                self.records_read += 1
                last_pos = pos
                pending = self._document(record)
        except OSError as exc:
            if pending is not None:
                if size is not None:
                    pending.source_length = max(0, size - pending.source_offset)
                yield pending
                pending = None
            offset = last_pos if self.records_read else 0
            self.records_read += 1
            yield Document(
                source_uri=self.uri,
                source_record_id=f"unreadable@{offset}",
                source_offset=offset,
                source_length=max(0, (size or offset) - offset),
                record_type="unreadable",
            ).error("warc-unreadable", detail=str(exc), after_offset=offset)
        if pending is not None:
            if size is not None:
                pending.source_length = max(0, size - pending.source_offset)
            yield pending

    def _document(self, record: WarcRecord) -> Document:
        rtype = str(record.record_type).rsplit(".", 1)[-1]
        headers = record.headers
        doc = Document(
            source_uri=self.uri,
            source_record_id=headers.get("WARC-Record-ID") or f"offset:{record.stream_pos}",
            source_offset=record.stream_pos,
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
