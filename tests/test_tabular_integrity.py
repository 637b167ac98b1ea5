"""Issue 14, section 4: one bad JSONL/Parquet row never fails a shard, and every row is bounded.

Every case is a real file written by tests/crafted_tabular.py and read by the real readers (and,
where it matters, a real shard run): each row ends kept, dropped or errored with a reason, and
JSONL offsets stay the byte offsets of the lines in the decompressed stream.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from conftest import PeakRss  # noqa: E402
from crafted_tabular import (  # noqa: E402
    big_line_jsonl,
    big_text_parquet,
    good_row,
    invalid_utf8_parquet,
    row_line,
    surrogate_jsonl,
    write_lines,
)

from pipeline.config import config_from_dict  # noqa: E402
from pipeline.document import Outcome  # noqa: E402
from pipeline.ingest import open_reader  # noqa: E402
from pipeline.ingest.tabular import JsonlReader, Oversize, ParquetReader, _jsonl_lines  # noqa: E402
from pipeline.shard import process_shard  # noqa: E402

MiB = 1024 * 1024


def run_shard(tmp: Path, path: Path, max_payload_bytes: int | None = None) -> tuple[object, list[dict], Path]:
    """One real shard through every stage; returns the result, the ledger rows and the output folder."""
    out = tmp / f"out-{path.name}"
    data: dict = {"inputs": [str(path)], "output": str(out), "workers": 1, "robots_snapshot": "none"}
    if max_payload_bytes is not None:
        data["limits"] = {"max_payload_bytes": max_payload_bytes}
    config = config_from_dict(data, tmp)
    result = process_shard(0, str(path), config, str(out))
    ledger = pq.read_table(out / "excluded" / "part-00000.parquet").to_pylist()
    return result, ledger, out


def assert_accounted(result: object, ledger: list[dict], rows_in: int) -> None:
    """kept + dropped + errored = rows in, and every row not kept is in the ledger with its reason."""
    dropped = sum(result.dropped.values())  # type: ignore[attr-defined]
    errored = sum(result.errored.values())  # type: ignore[attr-defined]
    assert result.records_in == rows_in  # type: ignore[attr-defined]
    assert result.kept + dropped + errored == rows_in  # type: ignore[attr-defined]
    assert len(ledger) == dropped + errored
    assert all(row["reason"] for row in ledger)


# --- 1. lone surrogate escapes in JSONL -------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_lone_surrogate_errors_its_row_only(tmp_path: Path, gz: bool) -> None:
    """Before: 12 rows -> 0 kept, the shard failed (UnicodeEncodeError in the writer). After: 5 errored, 7 go on."""
    path = tmp_path / ("sur.jsonl.gz" if gz else "sur.jsonl")
    spans, bad = surrogate_jsonl(path, gz=gz)
    docs = list(JsonlReader(str(path)))
    assert len(docs) == 12
    assert [(d.source_offset, d.source_length) for d in docs] == spans
    for i, doc in enumerate(docs):
        if i in bad:
            assert doc.outcome is Outcome.ERRORED and doc.reason == "invalid-unicode"
            assert doc.evidence["field"] == bad[i]
            for value in (doc.url, doc.source_record_id, doc.crawl_date, doc.payload_digest):
                value.encode("utf-8")  # escaped, so the ledger can be written
        else:
            assert doc.outcome is None and doc.text is not None


def test_lone_surrogate_shard_keeps_the_others_and_ledgers_the_bad(tmp_path: Path) -> None:
    path = tmp_path / "sur.jsonl"
    _spans, bad = surrogate_jsonl(path)
    result, ledger, out = run_shard(tmp_path, path)
    assert_accounted(result, ledger, 12)
    assert result.errored.get("invalid-unicode") == len(bad)
    fields = sorted(json.loads(r["evidence"])["field"] for r in ledger if r["reason"] == "invalid-unicode")
    assert fields == sorted(bad.values())
    assert "\\ud800" in next(r["url"] for r in ledger if json.loads(r["evidence"])["field"] == "url")
    kept = pq.read_table(out / "data" / "part-00000.parquet").column("url").to_pylist()
    assert len(kept) == result.kept and all("\\u" not in u for u in kept)


def test_invalid_utf8_bytes_in_a_jsonl_line(tmp_path: Path) -> None:
    """Raw invalid UTF-8 and an encoded surrogate (ED A0 80, which json.loads on bytes lets through)."""
    lines = [row_line(good_row(0)), b'{"text": "caf\xe9", "url": "https://a.example.org/"}',
             b'{"text": "x \xed\xa0\x80 y", "url": "https://b.example.org/"}', row_line(good_row(3))]
    path = tmp_path / "bytes.jsonl"
    spans = write_lines(path, lines)
    docs = list(JsonlReader(str(path)))
    assert [(d.reason, d.evidence.get("field")) for d in docs] == [
        ("", None), ("invalid-unicode", "line"), ("invalid-unicode", "line"), ("", None)]
    assert [(d.source_offset, d.source_length) for d in docs] == spans


def test_utf8_bom_first_line_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    write_lines(path, [b"\xef\xbb\xbf" + row_line(good_row(0)), row_line(good_row(1))])
    assert [d.outcome for d in JsonlReader(str(path))] == [None, None]


def test_deep_nesting_is_invalid_json_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    write_lines(path, [row_line(good_row(0)), b"[" * 200_000 + b"]" * 200_000, row_line(good_row(1))])
    docs = list(JsonlReader(str(path)))
    assert [d.reason for d in docs] == ["", "invalid-json", ""]


# --- 2. invalid UTF-8 in a Parquet string cell ------------------------------------------------------


def test_parquet_invalid_utf8_cell_errors_its_row_only(tmp_path: Path) -> None:
    """Before: 3 rows -> 0 (UnicodeDecodeError on the whole batch). After: row 1 errored, rows 0 and 2 read."""
    path = tmp_path / "bad.parquet"
    invalid_utf8_parquet(path)
    docs = list(ParquetReader(str(path)))
    assert [(d.outcome, d.reason) for d in docs] == [(None, ""), (Outcome.ERRORED, "invalid-unicode"), (None, "")]
    assert docs[1].evidence["field"] == "text" and docs[1].text is None
    assert [d.source_offset for d in docs] == [0, 1, 2]


def test_parquet_invalid_utf8_url_keeps_provenance(tmp_path: Path) -> None:
    path = tmp_path / "badurl.parquet"
    invalid_utf8_parquet(path, {0: "url", 2: "id"}, n=5)
    result, ledger, _out = run_shard(tmp_path, path)
    assert_accounted(result, ledger, 5)
    assert result.errored == {"invalid-unicode": 2}
    by_offset = {r["source_offset"]: r for r in ledger}
    assert json.loads(by_offset[0]["evidence"])["field"] == "url" and "\\xff" in by_offset[0]["url"]
    assert json.loads(by_offset[2]["evidence"])["field"] == "id" and "\\xff" in by_offset[2]["source_record_id"]


def test_parquet_bad_cells_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "many.parquet"
    invalid_utf8_parquet(path, {3: "text", 1500: "date", 2999: "digest"}, n=3000)
    docs = list(ParquetReader(str(path), batch_size=1000))
    assert len(docs) == 3000 and [d.source_offset for d in docs] == list(range(3000))
    assert {d.source_offset: d.evidence["field"] for d in docs if d.reason} == {3: "text", 1500: "date", 2999: "digest"}


def test_parquet_corrupt_row_group_costs_only_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.parquet"
    pq.write_table(pa.Table.from_pylist([good_row(i) for i in range(5000)]), path, row_group_size=1000)
    offset = pq.ParquetFile(path).metadata.row_group(2).column(0).data_page_offset
    raw = bytearray(path.read_bytes())
    raw[offset : offset + 40] = b"\xff" * 40  # the page header of row group 2's first column
    path.write_bytes(bytes(raw))
    docs = list(ParquetReader(str(path)))
    errors = [d for d in docs if d.outcome is Outcome.ERRORED]
    assert len(errors) == 1 and errors[0].reason == "parquet-unreadable"
    assert errors[0].source_offset == 2000 and errors[0].evidence["rows_unread"] == 1000
    read = [d.source_offset for d in docs if d.outcome is None]
    assert read == list(range(2000)) + list(range(3000, 5000))


def test_parquet_without_text_or_url_columns_errors_every_row(tmp_path: Path) -> None:
    path = tmp_path / "nocols.parquet"
    pq.write_table(pa.table({"body": ["a", "b", "c"]}), path)
    assert [d.reason for d in ParquetReader(str(path))] == ["missing-text-field"] * 3


# --- 3. max_payload_bytes on tabular rows -------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_huge_jsonl_line_is_errored_with_bounded_memory(tmp_path: Path, gz: bool) -> None:
    """Before: a 64 MiB line was kept (1 GiB took a worker to 8.4 GiB). After: payload-too-large, RSS bounded."""
    path = tmp_path / ("big.jsonl.gz" if gz else "big.jsonl")
    spans, big = big_line_jsonl(path, 64 * MiB, gz=gz)
    reader = open_reader(str(path), max_payload_bytes=1 * MiB)
    ids: list[str] = []
    urls: list[str] = []
    with PeakRss() as rss:
        docs = []
        for doc in reader:
            docs.append((doc.outcome, doc.reason, doc.evidence, doc.source_offset, doc.source_length, doc.text))
            ids.append(doc.source_record_id)
            urls.append(doc.url)
            del doc
    assert rss.growth_mb < 16, f"RSS grew {rss.growth_mb:.0f} MB reading a 64 MiB line"
    assert [(d[3], d[4]) for d in docs] == spans
    outcome, reason, evidence, _o, length, text = docs[big]
    assert (outcome, reason, text) == (Outcome.ERRORED, "payload-too-large", None)
    assert evidence == {"limit": MiB, "bytes": length}
    assert (ids[big], urls[big]) == ("big", "https://big.example.org/huge")  # found in the line's head, for lookup
    assert all(d[0] is None and d[5] for i, d in enumerate(docs) if i != big)


def test_huge_jsonl_line_through_a_shard(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl.gz"
    spans, big = big_line_jsonl(path, 3 * MiB, gz=True)
    result, ledger, _out = run_shard(tmp_path, path, max_payload_bytes=MiB)
    assert_accounted(result, ledger, len(spans))
    assert result.errored.get("payload-too-large") == 1
    row = next(r for r in ledger if r["reason"] == "payload-too-large")
    assert (row["source_offset"], row["source_length"]) == spans[big]


def test_huge_parquet_text_is_errored(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    big, size = big_text_parquet(path, 4 * MiB)
    docs = list(open_reader(str(path), max_payload_bytes=MiB))
    assert [(d.outcome, d.reason) for d in docs] == [(None, ""), (Outcome.ERRORED, "payload-too-large"), (None, "")]
    assert docs[big].text is None and docs[big].evidence == {"limit": MiB, "bytes": size}
    assert docs[big].url == good_row(big)["url"]  # provenance kept


def test_line_at_the_cap_is_kept(tmp_path: Path) -> None:
    line = row_line(good_row(0))
    path = tmp_path / "edge.jsonl"
    write_lines(path, [line, line])
    assert [d.reason for d in JsonlReader(str(path), max_payload_bytes=len(line))] == ["", ""]
    assert [d.reason for d in JsonlReader(str(path), max_payload_bytes=len(line) - 1)] == ["payload-too-large"] * 2


# --- 4. offsets, unreadable tails, formats ----------------------------------------------------------------


def _reference_lines(data: bytes, cap: int) -> list[tuple[int, int, bytes | None]]:
    """What the chunked splitter must give, computed on the whole bytes at once."""
    out = []
    offset = 0
    segments = data.split(b"\n")
    for k, seg in enumerate(segments):
        last = k == len(segments) - 1
        if last and not seg:
            break
        length = len(seg) + (0 if last else 1)
        if seg and not seg.isspace():
            out.append((offset, length, seg if len(seg) <= cap else None))
        offset += length
    return out


def _reference_lines_raw(data: bytes) -> list[tuple[int, int, bytes]]:
    return [(o, n, data[o : o + n].rstrip(b"\n")) for o, n, _line in _reference_lines(data, len(data))]


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(st.sampled_from([b"", b" ", b"\n", b"\r\n", b"ab", b"{}", b"x" * 17, b"\t "]), max_size=12),
       cap=st.integers(0, 20), chunk=st.integers(1, 9))
def test_chunked_lines_match_whole_file_split(pieces: list[bytes], cap: int, chunk: int) -> None:
    data = b"".join(pieces)
    lines = list(_jsonl_lines(io.BytesIO(data), cap, chunk))
    assert [(o, n, None if isinstance(line, Oversize) else line) for o, n, line in lines] == _reference_lines(data, cap)
    heads = [line.head for _o, _n, line in lines if isinstance(line, Oversize)]
    big = [seg for _o, _n, seg in _reference_lines_raw(data) if len(seg) > cap and not seg.isspace()]
    assert len(heads) == len(big)
    for head, seg in zip(heads, big, strict=True):  # a prefix: what was read when the line crossed the cap
        assert seg.startswith(head) and min(64 * 1024, cap + 1) <= len(head) <= 64 * 1024


def test_truncated_gzip_keeps_every_decoded_row(tmp_path: Path) -> None:
    """A cut gzip: the rows before the cut, then one jsonl-unreadable row at the start of the cut line."""
    lines = [row_line(good_row(i)) for i in range(2000)]
    whole = b"".join(line + b"\n" for line in lines)
    packed = gzip.compress(whole, mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    docs = list(JsonlReader(str(path)))
    *good, tail = docs
    assert len(good) > 500 and all(d.outcome is None for d in good)
    assert tail.reason == "jsonl-unreadable" and "EOFError" in tail.evidence["detail"]
    assert tail.source_offset == good[-1].source_offset + good[-1].source_length
    assert whole[: tail.source_offset].count(b"\n") == len(good)


def test_zstd_jsonl_is_read(tmp_path: Path) -> None:
    """Before: io.UnsupportedOperation (the zstd reader cannot iterate lines). After: read in chunks."""
    zstd = pytest.importorskip("zstandard")
    lines = [row_line(good_row(i)) for i in range(50)]
    path = tmp_path / "s.jsonl.zst"
    path.write_bytes(zstd.ZstdCompressor().compress(b"".join(line + b"\n" for line in lines)))
    docs = list(JsonlReader(str(path)))
    assert [d.source_record_id for d in docs] == [good_row(i)["id"] for i in range(50)]


def test_same_bad_input_gives_byte_identical_outputs(tmp_path: Path) -> None:
    path = tmp_path / "sur.jsonl"
    surrogate_jsonl(path)
    outs = []
    for k in range(2):
        run = tmp_path / f"run{k}"
        run.mkdir()
        _r, _l, out = run_shard(run, path)
        outs.append([(out / sub / "part-00000.parquet").read_bytes() for sub in ("data", "excluded")])
    assert outs[0] == outs[1]
