"""Per-record guards: one hostile record costs bounded memory and time, and says why it was refused.

A worker holds one record at a time, so a shard's memory is bounded only if each record's is: a
gzip member that inflates to 1 GiB must be cut at the payload cap, and an HTML page built to make
extraction slow (or its text huge) must be refused, by budgets measured on the page, before the C
code that cannot be interrupted (tests/test_determinism.py: the decisions do not depend on the clock).
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from pathlib import Path

import pytest
from conftest import ROOT, PeakRss

import pipeline.extract as extract
from pipeline.document import Document, Outcome
from pipeline.extract import Extractor, allowed_depth
from pipeline.ingest.warc import WarcReader, member_spans

SAMPLE = ROOT / "pipeline" / "sample"
MiB = 1024 * 1024


def _bomb_member(payload_bytes: int, url: str = "http://bomb.example/") -> bytes:
    """One gzip member holding a WARC response whose payload is `payload_bytes` zeros.

    Built with zlib streaming and full flushes: after a full flush deflate output no longer
    depends on earlier input, so the 1 MiB zero block is compressed once (~1 KiB) and repeated.
    """
    chunks = payload_bytes // MiB
    assert chunks * MiB == payload_bytes
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % payload_bytes)
    warc = (b"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000bbb>\r\n"
            b"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Target-URI: " + url.encode() + b"\r\n"
            b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n"
            % (len(http) + payload_bytes))
    tail = b"\r\n\r\n"
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head_block = deflate.compress(warc + http) + deflate.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(MiB)
    zero_block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH) == zero_block  # state-free, repeatable
    end_block = deflate.compress(tail) + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(warc + http)
    for _ in range(chunks):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(tail, crc)
    size = len(warc) + len(http) + payload_bytes + len(tail)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + head_block + zero_block * chunks + end_block + struct.pack(
        "<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


def test_gzip_bomb_is_cut_at_the_cap_with_bounded_memory(tmp_path: Path) -> None:
    """1 GiB of payload in a ~1 MB member: errored payload-too-large, RSS grows < 200 MB, next record read."""
    bomb = _bomb_member(1024 * MiB)
    assert len(bomb) < 2 * MiB
    sample = SAMPLE / "sample-00000.warc.gz"
    rid, _rtype, offset, length = next(s for s in member_spans(str(sample)) if s[1] == "response")
    with open(sample, "rb") as fh:
        fh.seek(offset)
        real = fh.read(length)
    path = tmp_path / "bomb.warc.gz"
    path.write_bytes(bomb + real)
    reader = WarcReader(str(path), max_payload_bytes=8 * MiB)
    started = time.perf_counter()
    with PeakRss() as rss:
        docs = []
        for doc in reader:
            docs.append((doc.outcome, doc.reason, doc.evidence, doc.source_record_id, doc.html is not None))
            del doc
    seconds = time.perf_counter() - started
    assert reader.records_read == len(docs) == 2
    outcome, reason, evidence, _id, has_html = docs[0]
    assert (outcome, reason, evidence) == (Outcome.ERRORED, "payload-too-large", {"limit": 8 * MiB})
    assert not has_html
    assert docs[1][3] == rid and docs[1][4], "the record after the bomb is read normally"
    assert rss.growth_mb < 200, f"RSS grew {rss.growth_mb:.0f} MB reading a 1 GiB bomb"
    assert seconds < 60


def _doc(html: bytes) -> Document:
    return Document(source_uri="t", source_record_id="r", source_offset=0, source_length=len(html),
                    record_type="response", url="http://example.com/", content_type="text/html", html=html)


def test_safety_net_over_the_time_cap_is_errored_extraction_timeout() -> None:
    """The last-resort time cap (the one machine-dependent outcome) errors the record, with evidence."""
    page = b"<html><body>" + b"<p>Some words of a paragraph, repeated to take a little time.</p>" * 3000
    doc = Extractor(max_seconds=1e-9).run(_doc(page))
    assert doc.outcome is Outcome.ERRORED and doc.reason == "extraction-timeout" == extract.TIMEOUT_REASON
    assert doc.evidence["html_bytes"] == len(page) and doc.evidence["limit"] == 1e-9
    assert doc.evidence["seconds"] >= 0 and doc.evidence["wall_seconds"] >= 0
    assert doc.text is None, "an errored document carries no text on to later stages"
    kept = Extractor().run(_doc(page))
    assert kept.outcome is None and kept.text
    assert Extractor().max_seconds == 60.0, "high enough never to fire on a real page (slowest 0.05 s)"


def test_time_cap_reads_thread_cpu_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPU time of the extracting thread: a busy neighbour (more wall time) must not fire it."""
    ticks = iter([0.0, 61.0])
    monkeypatch.setattr(extract.time, "thread_time", lambda: next(ticks))
    doc = Extractor().run(_doc(b"<p>hello</p>"))
    assert (doc.reason, doc.evidence["seconds"]) == ("extraction-timeout", 61.0)


@pytest.mark.parametrize("main_content", [True, False])
@pytest.mark.parametrize(("unit", "levels"), [(b"<div>x", 20_000), (b"<article>", 20_000), (b"<ul>x", 20_000),
                                              (b"<ol><li><p>text</p>", 5_000)])
def test_deep_nesting_is_refused_before_extraction(unit: bytes, levels: int, main_content: bool) -> None:
    """100 KB of nested <div> takes ~12 s in main-content extraction; nested lists give ~400 M chars
    of indentation. Both are refused in well under a second, deterministically."""
    page = unit * levels
    started = time.perf_counter()
    doc = Extractor(main_content=main_content).run(_doc(page))
    assert time.perf_counter() - started < 2
    assert doc.outcome is Outcome.ERRORED and doc.reason == "html-too-deep"
    elements = doc.evidence["elements"]
    assert elements >= levels
    assert doc.evidence == {"depth_over": allowed_depth(elements), "elements": elements, "html_bytes": len(page)}


def test_depth_allowance_shrinks_with_element_count() -> None:
    assert allowed_depth(1) == extract.DEFAULT_MAX_ELEMENT_LEVELS
    assert allowed_depth(10**9) == extract.MIN_DEPTH
    assert allowed_depth(1_000_000) < allowed_depth(100_000)
    # Depth <= elements: up to sqrt(budget) elements no depth can be over it (the query is skipped).
    assert allowed_depth(5_656) > 5_656 and allowed_depth(5_657) < 5_657
    # html > body > 30 div = 32 levels: refused when at most 31 are allowed, kept at 32.
    page = b"<div>x" * 30
    assert allowed_depth(33) > 33
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(extract, "allowed_depth", lambda elements, levels: 31)
        assert Extractor().run(_doc(page)).reason == "html-too-deep"
        mp.setattr(extract, "allowed_depth", lambda elements, levels: 32)
        assert Extractor().run(_doc(page)).outcome is None


def test_guards_leave_every_real_sample_page_alone() -> None:
    """The 120 real pages of the bundled sample (max nesting < 60): the guards change nothing."""
    pages = [d for f in sorted(SAMPLE.glob("sample-*.warc.gz")) for d in WarcReader(str(f)) if d.html is not None]
    assert len(pages) >= 100
    for d in pages:
        guarded = Extractor().run(_doc(d.html))
        plain = Extractor(max_seconds=None, max_elements=None, max_element_levels=None,
                          max_text_chars=None).run(_doc(d.html))
        assert guarded.reason not in ("html-too-deep", "html-too-many-elements", "text-too-long",
                                      "extraction-timeout"), d.url
        assert (guarded.outcome, guarded.text) == (plain.outcome, plain.text)


def test_trees_die_on_their_own_thread_even_when_a_profiler_holds_frames(capfd: pytest.CaptureFixture) -> None:
    """resiliparse trees are thread-bound: freed on another thread they leak (RuntimeError
    "unsendable"). Dask's profiler samples worker frames from its own threads, so extraction must
    not leave a tree in a frame that outlives the call."""
    import sys

    page = max((d.html for d in WarcReader(str(SAMPLE / "sample-00000.warc.gz")) if d.html), key=len)
    held: list[object] = []
    done = threading.Event()

    def extract_many() -> None:
        for _ in range(20):
            Extractor().run(_doc(page))
        done.set()

    worker = threading.Thread(target=extract_many)
    worker.start()
    while not done.is_set():  # sample like distributed's profiler, but keep every frame
        frame = sys._current_frames().get(worker.ident or 0)
        while frame is not None:
            held.append(frame)
            frame = frame.f_back
        time.sleep(0.001)
    worker.join()
    assert held
    held.clear()  # the last references to the sampled frames go away here, on this thread
    assert "unsendable" not in capfd.readouterr().err
