"""Craft malformed WARC files from real bytes, for the integrity tests and scripts/edge_accounting.py.

Every case is built here, byte by byte, rather than stored: a reader that mishandles record
boundaries (a wrong Content-Length, a corrupt or cut gzip member) must be caught on inputs whose
ground truth is known exactly. Each case says how many records it holds and, for each, the byte
span of its gzip member (or of its bytes in an uncompressed file) and whether those bytes are intact.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field

WARC_DATE = "2024-05-01T00:00:00Z"


def http_response(body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200) -> bytes:
    """An HTTP/1.1 response message with an exact Content-Length."""
    reason = {200: "OK", 404: "Not Found"}.get(status, "Status")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)


def page(title: str, words: str) -> bytes:
    """A small but real-looking HTML page whose text names its own title (to check who got which text)."""
    return (f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f"<p>{words}</p></body></html>").encode()


def warc_record(rtype: str, url: str, block: bytes, *, record_id: str, length_delta: int = 0,
                content_type: str | None = None) -> bytes:
    """One uncompressed WARC/1.1 record: header, block, separator; Content-Length off by `length_delta`."""
    if content_type is None:
        content_type = {"response": "application/http; msgtype=response",
                        "request": "application/http; msgtype=request",
                        "warcinfo": "application/warc-fields"}.get(rtype, "text/plain")
    lines = ["WARC/1.1", f"WARC-Type: {rtype}", f"WARC-Record-ID: <urn:uuid:{record_id}>",
             f"WARC-Date: {WARC_DATE}"]
    if url:
        lines.append(f"WARC-Target-URI: {url}")
    lines += [f"Content-Type: {content_type}", f"Content-Length: {len(block) + length_delta}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def gzip_member(data: bytes) -> bytes:
    """One deterministic gzip member (mtime 0), as Common Crawl writes one per record."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@dataclass
class Rec:
    """A record of a crafted file: what a correct reader must report for it."""

    url: str
    rtype: str
    record_id: str
    offset: int  # of its member (gzip) or first byte (plain)
    length: int
    intact: bool = True  # its bytes (member) are undamaged and its own framing is right
    words: str = ""  # a phrase only its payload holds


@dataclass
class Case:
    name: str
    blob: bytes
    records: list[Rec] = field(default_factory=list)
    gzip: bool = True
    note: str = ""

    @property
    def suffix(self) -> str:
        return ".warc.gz" if self.gzip else ".warc"


def _build(specs: list[tuple[str, str, bytes, int, str]], gz: bool) -> tuple[bytes, list[Rec]]:
    """(rtype, url, block, length_delta, words) records packed per-record gzip or plain."""
    out = bytearray()
    recs = []
    for i, (rtype, url, block, delta, words) in enumerate(specs):
        raw = warc_record(rtype, url, block, record_id=uuid(i + 1), length_delta=delta)
        data = gzip_member(raw) if gz else raw
        recs.append(Rec(url, rtype, f"<urn:uuid:{uuid(i + 1)}>", len(out), len(data), intact=delta == 0,
                        words=words))
        out += data
    return bytes(out), recs


def warcinfo() -> bytes:
    return b"software: consentcrawl-tests\r\nformat: WARC File Format 1.1\r\n"


def carrier_specs(delta: int) -> list[tuple[str, str, bytes, int, str]]:
    """The issue-14 repro: ok.com/carrier's Content-Length is off by `delta`; optedout.com/secret follows."""
    return [
        ("warcinfo", "", warcinfo(), 0, ""),
        ("response", "http://ok.com/carrier", http_response(page("Carrier", "carrier words here")), delta,
         "carrier words here"),
        ("response", "http://optedout.com/secret", http_response(page("Secret", "secret opted out words")), 0,
         "secret opted out words"),
        ("response", "http://ok.com/another", http_response(page("Another", "another page words")), 0,
         "another page words"),
    ]


def carrier(delta: int, gz: bool = True) -> Case:
    blob, recs = _build(carrier_specs(delta), gz)
    return Case(f"carrier-length{delta:+d}{'' if gz else '-plain'}", blob, recs, gz,
                f"ok.com/carrier Content-Length off by {delta:+d}")


def swallow_exact(gz: bool = True) -> Case:
    """Content-Length too high by exactly the next record's size: the separator lines up again."""
    specs = carrier_specs(0)
    nxt = warc_record("response", specs[2][1], specs[2][2], record_id=uuid(3))
    specs[1] = (*specs[1][:3], len(nxt), specs[1][4])  # lengths count decompressed bytes in both packings
    blob, recs = _build(specs, gz)
    return Case(f"carrier-swallows-next{'' if gz else '-plain'}", blob, recs, gz,
                "ok.com/carrier Content-Length covers exactly the next record")


def ten_records(gz: bool = True) -> tuple[bytes, list[Rec]]:
    specs = [("warcinfo", "", warcinfo(), 0, "")]
    for i in range(1, 10):
        words = f"page number {i} unique words w{i}x"
        specs.append(("response", f"http://site{i}.example/p{i}", http_response(page(f"Page {i}", words)), 0, words))
    return _build(specs, gz)


def corrupt_member_middle(index: int = 5) -> Case:
    """10 per-record members; member `index` has bytes flipped in the middle of its deflate data."""
    blob, recs = ten_records()
    rec = recs[index]
    buf = bytearray(blob)
    mid = rec.offset + rec.length // 2
    for k in range(mid, min(mid + 8, rec.offset + rec.length - 8)):
        buf[k] ^= 0xA5
    rec.intact = False
    return Case(f"corrupt-member-{index}", bytes(buf), recs, True, f"member {index} of 10 corrupted")


def corrupt_header_middle(index: int = 5) -> Case:
    """10 per-record members; member `index` has a broken gzip magic (not a gzip member any more)."""
    blob, recs = ten_records()
    rec = recs[index]
    buf = bytearray(blob)
    buf[rec.offset] = 0x00
    rec.intact = False
    return Case(f"bad-magic-member-{index}", bytes(buf), recs, True, f"member {index} of 10 has a bad magic")


def garbage_between(gz: bool = True) -> Case:
    """Junk bytes between two intact records."""
    blob, recs = ten_records(gz)
    at = recs[4].offset
    junk = b"this is not a record\r\n" * 3
    buf = blob[:at] + junk + blob[at:]
    for r in recs[4:]:
        r.offset += len(junk)
    return Case(f"garbage-between{'' if gz else '-plain'}", buf, recs, gz, "66 junk bytes before record 4")


def truncated(blob: bytes, recs: list[Rec], cut: int, name: str, gz: bool = True) -> Case:
    """`blob` cut at byte `cut`: records whose bytes end after the cut are not intact (kept only if whole)."""
    kept = []
    for r in recs:
        if r.offset >= cut:
            break
        whole = r.offset + r.length <= cut
        kept.append(Rec(r.url, r.rtype, r.record_id, r.offset, min(r.length, cut - r.offset), r.intact and whole,
                        r.words))
    return Case(name, blob[:cut], kept, gz, f"cut at byte {cut}")


def flip(data: bytes, at: int) -> bytes:
    buf = bytearray(data)
    buf[at] ^= 0xFF
    return bytes(buf)


def member_spans(blob: bytes) -> list[tuple[int, int, bool]]:
    """Independent framing: (offset, length, intact) of each gzip member found by zlib.

    A member is intact when it inflates with a valid CRC and length. After a damaged member the
    scan moves to the next gzip magic that starts a member inflating to a WARC header.
    """
    spans: list[tuple[int, int, bool]] = []
    pos = 0
    size = len(blob)
    while pos < size:
        d = zlib.decompressobj(31)
        try:
            d.decompress(blob[pos:])
            ok = d.eof
        except zlib.error:
            ok = False
        if ok:
            end = size - len(d.unused_data)
            spans.append((pos, end - pos, True))
            pos = end
            continue
        nxt = _next_member(blob, pos + 1)
        spans.append((pos, nxt - pos, False))
        pos = nxt
    return spans


def _next_member(blob: bytes, start: int) -> int:
    at = start
    while True:
        at = blob.find(b"\x1f\x8b\x08", at)
        if at < 0:
            return len(blob)
        d = zlib.decompressobj(31)
        try:
            head = d.decompress(blob[at:at + 4096], 16)
        except zlib.error:
            head = b""
        if head.startswith(b"WARC/"):
            return at
        at += 1


def plain_record_starts(data: bytes) -> list[int]:
    """Independent framing for uncompressed WARC: offsets of `WARC/1.x` version lines at line starts."""
    starts = [0] if data.startswith(b"WARC/") else []
    at = 0
    while True:
        at = data.find(b"\nWARC/1.", at)
        if at < 0:
            return starts
        starts.append(at + 1)
        at += 1


def all_cases() -> list[Case]:
    """The crafted set that scripts/edge_accounting.py reports on."""
    cases = [carrier(d) for d in (1, 2, 4, 5, 37, 400, 10_000, -1, -2, -4, -37)]
    cases += [carrier(d, gz=False) for d in (1, 4, 37, 400, -1, -37)]
    cases += [swallow_exact(), swallow_exact(gz=False), corrupt_member_middle(), corrupt_header_middle(),
              garbage_between(), garbage_between(gz=False)]
    blob, recs = ten_records()
    last = recs[-1]
    for cut in (last.offset + 1, last.offset + 10, last.offset + last.length // 2, len(blob) - 8, len(blob) - 1):
        cases.append(truncated(blob, recs, cut, f"truncated-at-{cut}"))
    pblob, precs = ten_records(gz=False)
    plast = precs[-1]
    for cut in (plast.offset + 5, plast.offset + plast.length // 2, len(pblob) - 2):
        cases.append(truncated(pblob, precs, cut, f"plain-truncated-at-{cut}", gz=False))
    return cases
