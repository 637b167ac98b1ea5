"""WARC records cannot swallow each other (issue 14, section 3): boundaries are checked, damage resynchronises.

Every file here is crafted byte by byte by tests/crafted.py (real gzip members, real WARC records),
so the truth is known: which records exist, where their members start, which bytes are intact.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import ROOT, shared_path
from crafted import (
    all_cases,
    carrier,
    corrupt_member_middle,
    garbage_between,
    gzip_member,
    member_spans,
    swallow_exact,
    ten_records,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.document import Document, Outcome
from pipeline.ingest import UnsupportedInput, input_format
from pipeline.ingest.warc import WarcReader

SAMPLE = ROOT / "pipeline" / "sample"


def _read(tmp: Path, blob: bytes, name: str = "case.warc.gz") -> tuple[WarcReader, list[Document]]:
    path = tmp / name
    path.write_bytes(blob)
    reader = WarcReader(str(path))
    docs = list(reader)
    assert reader.records_read == len(docs)
    return reader, docs


@pytest.mark.parametrize("delta", [5, 37, 400, 10_000, -1, -2, -4, -37])
@pytest.mark.parametrize("gz", [True, False])
def test_wrong_content_length_never_absorbs_the_next_record(tmp_path: Path, delta: int, gz: bool) -> None:
    case = carrier(delta, gz)
    _, docs = _read(tmp_path, case.blob, "c" + case.suffix)
    assert [d.url for d in docs] == [r.url for r in case.records]
    assert [d.source_offset for d in docs] == [r.offset for r in case.records]
    bad = docs[1]
    assert (bad.outcome, bad.reason) == (Outcome.ERRORED, "record-length-mismatch")
    assert bad.html is None and bad.source_length == case.records[1].length
    secret = docs[2]
    assert secret.outcome is None and secret.url == "http://optedout.com/secret"
    assert b"secret opted out words" in secret.html and b"WARC/" not in secret.html
    for d in docs:
        assert d.html is None or b"WARC-Type" not in d.html


@pytest.mark.parametrize("gz", [True, False])
def test_length_covering_exactly_the_next_record_is_caught(tmp_path: Path, gz: bool) -> None:
    """The separator lines up again after the swallowed record: member framing / HTTP framing catch it."""
    case = swallow_exact(gz)
    _, docs = _read(tmp_path, case.blob, "s" + case.suffix)
    assert len(docs) == 4
    assert (docs[1].url, docs[1].reason) == ("http://ok.com/carrier", "record-length-mismatch")
    assert docs[2].url == "http://optedout.com/secret" and b"secret opted out words" in docs[2].html


def test_corrupt_member_in_the_middle_accounts_for_every_record(tmp_path: Path) -> None:
    case = corrupt_member_middle(5)
    _, docs = _read(tmp_path, case.blob)
    assert len(docs) == 10
    assert [d.source_offset for d in docs] == [r.offset for r in case.records]
    assert (docs[5].outcome, docs[5].reason, docs[5].source_length) == (Outcome.ERRORED, "warc-unreadable",
                                                                       case.records[5].length)
    for d, r in zip(docs, case.records, strict=True):
        if r.intact and r.words:
            assert d.url == r.url and r.words.encode() in d.html


@pytest.mark.parametrize("gz", [True, False])
def test_junk_between_records_is_one_errored_row(tmp_path: Path, gz: bool) -> None:
    case = garbage_between(gz)
    _, docs = _read(tmp_path, case.blob, "g" + case.suffix)
    errored = [d for d in docs if d.outcome is Outcome.ERRORED]
    assert [d.reason for d in errored] == ["warc-unreadable"]
    assert [d.url for d in docs if d.outcome is not Outcome.ERRORED] == [r.url for r in case.records]


def test_every_cut_of_the_last_member_gives_one_truncated_row(tmp_path: Path) -> None:
    blob, recs = ten_records()
    last = recs[-1]
    for cut in range(last.offset + 1, len(blob)):
        _, docs = _read(tmp_path, blob[:cut])
        assert len(docs) == 10, cut
        assert [d.source_offset for d in docs] == [r.offset for r in recs], cut
        assert (docs[-1].outcome, docs[-1].reason) == (Outcome.ERRORED, "record-truncated"), cut
        assert docs[-1].source_length == cut - last.offset
        assert all(d.reason != "record-truncated" for d in docs[:-1])


@pytest.mark.parametrize("name", ["cc-main-2020-34-excerpt.warc.gz"])
def test_random_cuts_of_a_real_common_crawl_file(tmp_path: Path, name: str) -> None:
    blob = (SAMPLE / name).read_bytes()
    spans = member_spans(blob)
    rng = random.Random(14)
    for cut in sorted(rng.sample(range(1, len(blob)), 40)):
        _, docs = _read(tmp_path, blob[:cut])
        whole = [s for s in spans if s[0] + s[1] <= cut]
        partial = [s for s in spans if s[0] < cut]
        assert [d.source_offset for d in docs] == [s[0] for s in partial], cut
        if len(partial) > len(whole):
            assert docs[-1].reason == "record-truncated" and docs[-1].outcome is Outcome.ERRORED, cut
        assert all(d.reason != "record-truncated" for d in docs[: len(whole)]), cut


def test_real_resiliparse_excerpt_cuts_if_present(tmp_path: Path) -> None:
    blob = shared_path("cc_warc_samples", "resiliparse_cc-main-2020-34", "warcfile.warc.gz").read_bytes()
    spans = member_spans(blob)
    for cut in random.Random(34).sample(range(1, len(blob)), 15):
        _, docs = _read(tmp_path, blob[:cut])
        assert [d.source_offset for d in docs] == [s[0] for s in spans if s[0] < cut], cut


def test_crafted_set_is_fully_accounted(tmp_path: Path) -> None:
    for case in all_cases():
        _, docs = _read(tmp_path, case.blob, "a" + case.suffix)
        assert len(docs) >= len(case.records), case.name
        for d in docs:
            assert d.outcome is None or d.reason, case.name
            assert d.html is None or b"\r\nWARC-Type:" not in d.html, case.name


def test_a_stream_that_cannot_seek_is_read_the_same(tmp_path: Path) -> None:
    """fastwarc is handed our own tap, never the file: a non-seekable remote stream reads identically."""
    case = corrupt_member_middle(3)

    class Stream:
        def __init__(self, data: bytes) -> None:
            self.data, self.pos = data, 0

        def read(self, n: int = -1) -> bytes:
            out = self.data[self.pos:] if n < 0 else self.data[self.pos:self.pos + n]
            self.pos += len(out)
            return out

    path = tmp_path / "x.warc.gz"
    path.write_bytes(case.blob)
    expected = [(d.source_offset, d.reason, d.url) for d in WarcReader(str(path))]
    got = [(d.source_offset, d.reason, d.url) for d in WarcReader(str(path))._iterate(Stream(case.blob), None)]
    assert got == expected and len(got) == 10


def test_arc_inputs_are_refused_by_name() -> None:
    for name in ("crawl.arc.gz", "s3://b/x.ARC", "https://h/IA-001.arc.gz?x=1"):
        with pytest.raises(UnsupportedInput, match="ARC"):
            input_format(name)
    assert input_format("x.warc.gz") == "warc"


# --- property: any byte-level damage of a per-record-gzip file ------------------------------------

_BLOB, _RECS = ten_records()
_MEMBERS = [_BLOB[r.offset:r.offset + r.length] for r in _RECS]
ops = st.lists(st.tuples(st.sampled_from(["flip", "delete", "insert", "truncate"]), st.integers(0, len(_BLOB)),
                         st.integers(1, 40)), min_size=1, max_size=4)


def _damage(blob: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(blob)
    for op, at, n in edits:
        if not buf:
            break
        at %= len(buf)
        if op == "flip":
            buf[at] ^= 0x5A
        elif op == "delete":
            del buf[at:at + n]
        elif op == "insert":
            buf[at:at] = bytes((at * 7 + i) % 256 for i in range(n))
        else:
            del buf[at:]
    return bytes(buf)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(edits=ops)
def test_intact_members_are_read_with_their_own_url_and_text(tmp_path: Path, edits: list) -> None:
    blob = _damage(_BLOB, edits)
    _, docs = _read(tmp_path, blob)
    by_offset: dict[int, list[Document]] = {}
    for d in docs:
        by_offset.setdefault(d.source_offset, []).append(d)
        assert d.outcome is None or d.reason
        assert 0 <= d.source_offset and d.source_offset + d.source_length <= len(blob)
    found = 0
    for member, rec in zip(_MEMBERS, _RECS, strict=True):
        at = blob.find(member)
        while at >= 0 and blob.find(member, at + 1) >= 0:  # ambiguous only if duplicated: take each
            break
        if at < 0 or not rec.words:
            continue
        found += 1
        rows = by_offset.get(at, [])
        assert any(d.url == rec.url and d.html is not None and rec.words.encode() in d.html for d in rows), (at, rows)
    # every member the independent framing sees is covered by a row starting there (nothing silently missing)
    starts = {d.source_offset for d in docs}
    for off, _length, intact in member_spans(blob):
        if intact:
            assert off in starts, off
    assert found <= len(_RECS)


def test_gzip_member_helper_is_one_member() -> None:
    assert member_spans(gzip_member(b"WARC/1.1\r\n\r\n")) == [(0, len(gzip_member(b"WARC/1.1\r\n\r\n")), True)]
