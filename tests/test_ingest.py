"""Ingest: every record of every archive is accounted for, malformed ones included."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, shared_path

from pipeline.document import Outcome
from pipeline.ingest import JsonlReader, ParquetReader, UnsupportedInput, WarcReader, input_format

SAMPLE = ROOT / "pipeline" / "sample"


def _outcomes(docs):
    return [d.outcome for d in docs]


def test_sample_warc_records_stream_with_offsets() -> None:
    reader = WarcReader(str(SAMPLE / "sample-00000.warc.gz"))
    docs = list(reader)
    assert reader.records_read == len(docs) > 50
    responses = [d for d in docs if d.record_type == "response"]
    assert all(d.html and d.url.startswith("http") for d in responses if not d.done)
    # offsets tile the file: each record starts where the previous ended
    size = (SAMPLE / "sample-00000.warc.gz").stat().st_size
    ends = [d.source_offset + d.source_length for d in docs]
    assert [d.source_offset for d in docs[1:]] == ends[:-1]
    assert ends[-1] == size
    # a record can be re-read alone from (offset, length): the provenance is usable
    d = responses[3]
    with open(SAMPLE / "sample-00000.warc.gz", "rb") as fh:
        fh.seek(d.source_offset)
        member = gzip.decompress(fh.read(d.source_length))
    assert d.source_record_id.encode() in member


def test_wet_conversion_records_carry_text() -> None:
    docs = list(WarcReader(str(SAMPLE / "cc-main-2024-22-whirlwind.warc.wet.gz")))
    conv = [d for d in docs if d.record_type == "conversion"]
    assert len(conv) == 1 and conv[0].text and "Escopete" in conv[0].text
    assert docs[0].outcome is Outcome.DROPPED and docs[0].reason == "not-a-document:warcinfo"


EDGE = [
    "resiliparse_block-sized-records.warc.gz", "resiliparse_clipped.warc.gz",
    "resiliparse_clueweb-quirk.warc.gz", "warcio_example-bad-non-chunked.warc.gz",
    "warcio_example-iana.org-chunked.warc", "warcio_example-space-in-target-uri.warc.gz",
    "warcio_example-trunc.warc", "warcio_example-wget-bad-target-uri.warc.gz",
    "warcio_example-wrong-chunks.warc.gz", "warcio_example.arc.gz", "warcio_example.warc.gz",
]


@pytest.mark.parametrize("name", EDGE)
def test_edge_case_archives_never_crash_and_account_for_records(name: str) -> None:
    path = shared_path("cc_warc_samples", "edge_cases", name)
    reader = WarcReader(str(path))
    docs = list(reader)
    assert len(docs) == reader.records_read >= 1
    for d in docs:
        if d.outcome in (Outcome.DROPPED, Outcome.ERRORED):
            assert d.reason, d


def test_truncated_and_foreign_archives_are_errored_with_reasons() -> None:
    clipped = list(WarcReader(str(shared_path("cc_warc_samples", "edge_cases", "resiliparse_clipped.warc.gz"))))
    assert [(d.outcome, d.reason) for d in clipped] == [(Outcome.ERRORED, "record-truncated")]
    arc = shared_path("cc_warc_samples", "edge_cases", "warcio_example.arc.gz")
    with pytest.raises(UnsupportedInput, match="ARC"):
        input_format(str(arc))  # fastwarc 2.0.1 cannot parse ARC: refused at config time, never half-read
    trunc = list(WarcReader(str(shared_path("cc_warc_samples", "edge_cases", "warcio_example-trunc.warc"))))
    assert [d.reason for d in trunc] == ["not-a-document:warcinfo", "not-a-document:warcinfo",
                                         "record-length-mismatch", "not-a-document:request"]


def test_payload_cap_errors_the_record_not_the_file() -> None:
    docs = list(WarcReader(str(SAMPLE / "sample-00000.warc.gz"), max_payload_bytes=20_000))
    reasons = {d.reason for d in docs if d.outcome is Outcome.ERRORED}
    assert reasons == {"payload-too-large"}
    assert any(d.outcome is None for d in docs)  # small pages still pass


def test_jsonl_reader_streams_rows_and_errors_bad_lines(tmp_path: Path) -> None:
    p = tmp_path / "shard.jsonl.gz"
    lines = [
        json.dumps({"text": "Bonjour tout le monde", "url": "https://example.fr/a", "id": "r1"}),
        "{not json",
        json.dumps({"url": "https://example.fr/b"}),
        json.dumps({"text": "Hallo Welt", "url": "https://example.de/"}),
    ]
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    docs = list(JsonlReader(str(p)))
    assert [d.outcome for d in docs] == [None, Outcome.ERRORED, Outcome.ERRORED, None]
    assert docs[1].reason == "invalid-json" and docs[2].reason == "missing-text-field"
    assert docs[0].source_record_id == "r1" and docs[3].source_offset > docs[0].source_offset


def test_parquet_reader_batches(tmp_path: Path) -> None:
    p = tmp_path / "fineweb.parquet"
    rows = [{"text": f"document {i}", "url": f"https://h{i % 3}.example/{i}", "id": f"d{i}"} for i in range(2500)]
    pq.write_table(pa.Table.from_pylist(rows), p)
    docs = list(ParquetReader(str(p), batch_size=1000))
    assert len(docs) == 2500 and docs[-1].source_offset == 2499 and docs[-1].text == "document 2499"


def test_input_format_by_name() -> None:
    assert input_format("s3://b/CC-MAIN-x.warc.gz") == "warc"
    assert input_format("x.warc.wet.gz") == "warc"
    assert input_format("https://h/x.parquet") == "parquet"
    assert input_format("a.jsonl.gz") == "jsonl"
    assert input_format("saved/data-00000-of-00002.arrow") == "arrow"  # datasets' save_to_disk files
    with pytest.raises(ValueError):
        input_format("notes.txt")
