"""Index-first runs (docs/index-first.md) on real records served by a loopback HTTP server with Range support.

The index is built from the WARC files themselves (tests/cc_index_helper.py: Common Crawl's column
names and types, offsets and lengths of each record's gzip member). The server logs every byte range
it is asked for, so the tests can prove that no opted-out record's bytes were requested.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from cc_index_helper import build_index, index_rows, write_index
from conftest import ROOT, shared_path

from pipeline.config import ConfigError, load_config
from pipeline.ingest.ranges import HttpRanges, LocalRanges, RangeReader, coalesce
from pipeline.manifest import verify
from pipeline.manifest.schema import schema_problems
from pipeline.runner import run_pipeline

SAMPLE = ROOT / "pipeline" / "sample"
SNAPSHOT = SAMPLE / "robots-snapshot.parquet"
SAMPLE_WARCS = ["cc-main-2020-34-excerpt.warc.gz", "cc-main-2024-22-whirlwind.warc.gz", "sample-00000.warc.gz",
                "sample-00001.warc.gz"]


# --- a loopback server with Range support that logs each requested range ---------------------------


@dataclass
class Served:
    files: dict[str, bytes]  # URL path -> bytes
    log: list[tuple[str, int, int]] = field(default_factory=list)  # (path, start, end exclusive) of each GET
    cuts: dict[str, list[int]] = field(default_factory=dict)  # path -> bytes sent before cutting, per GET
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _file(self) -> tuple[str, bytes | None]:
        served: Served = self.server.served  # type: ignore[attr-defined]
        return self.path, served.files.get(self.path)

    def _headers(self, body: bytes) -> None:
        self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
        self.send_header("Last-Modified", "Sat, 01 Jun 2024 00:00:00 GMT")
        self.send_header("Accept-Ranges", "bytes")

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        path, body = self._file()
        self.send_response(404 if body is None else 200)
        if body is not None:
            self._headers(body)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        served: Served = self.server.served  # type: ignore[attr-defined]
        path, body = self._file()
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        start, end, code = 0, len(body), 200
        if m:
            start, code = int(m.group(1)), 206
            end = min(len(body), int(m.group(2)) + 1) if m.group(2) else len(body)
        with served.lock:
            served.log.append((path, start, end))
            cuts = served.cuts.get(path)
            cut = cuts.pop(0) if cuts else None
        if m and start >= len(body):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(code)
        self._headers(body)
        if code == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(body)}")
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        if cut is None:
            self.wfile.write(body[start:end])
            return
        self.wfile.write(body[start:start + cut])  # then drop the connection mid-record
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


@pytest.fixture
def server() -> Iterator[tuple[str, Served]]:
    served = Served(files={})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.served = served  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()


CRAWL = "crawl-data/CC-MAIN-TEST/segments/1/warc"


def _serve(served: Served, warcs: dict[str, Path]) -> dict[str, Path]:
    """Serve each WARC under /crawl-data/...; returns {warc_filename as the index names it: local file}."""
    named = {f"{CRAWL}/{name}": path for name, path in warcs.items()}
    for rel, path in named.items():
        served.files["/" + rel] = path.read_bytes()
    return named


def _write_config(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def _table(folder: Path, sub: str, pattern: str = "*.parquet") -> pl.DataFrame:
    files = sorted((folder / sub).glob(pattern))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame()


def _overlaps(log: list[tuple[str, int, int]], path: str, off: int, n: int) -> bool:
    return any(p == path and s < off + n and off < e for p, s, e in log)


def _compare_with_full_run(tmp_path: Path, url: str, served: Served, named: dict[str, Path], snapshot: Path,
                           policy: str = "apertus") -> dict:
    index = build_index(named, tmp_path / "index.parquet")
    first = _write_config(tmp_path / "first.yaml", (
        f"cc_index:\n  files: [index.parquet]\n  warc_prefix: {url}/\n"
        f"output: {tmp_path / 'first'}\nrobots_snapshot: {snapshot}\npolicy: {policy}\nworkers: 1\n"))
    full = _write_config(tmp_path / "full.yaml", (
        "inputs:\n" + "".join(f"  - {url}/{rel}\n" for rel in sorted(named))
        + f"output: {tmp_path / 'full'}\nrobots_snapshot: {snapshot}\npolicy: {policy}\nworkers: 1\n"))
    ix = run_pipeline(load_config(first))
    fetch_log = list(served.log)
    fr = run_pipeline(load_config(full))
    assert not ix.failed and not fr.failed
    assert verify(ix.out_dir) == [] and schema_problems(ix.manifest) == []
    c, cc = ix.manifest["counts"], ix.manifest["cc_index"]
    assert c["balanced"] and c["records_in"] == cc["rows_selected"] == pq.read_metadata(index).num_rows

    # Kept documents: text, language and provenance (ids included) equal a full-file run's.
    kept_ix = _table(ix.out_dir, "data").sort(["source_uri", "source_offset"])
    kept_full = _table(fr.out_dir, "data").sort(["source_uri", "source_offset"])
    assert kept_ix.height > 0 and kept_ix.equals(kept_full)

    # Opted-out rows: in the plan's ledger, with the evidence a full-file run gives them, never requested.
    full_ledger = _table(fr.out_dir, "excluded")
    plan_ledger = _table(ix.out_dir, "excluded", "part-index-*.parquet")
    optout_full = full_ledger.filter(pl.col("reason") == "optout:robots").sort(["source_uri", "source_offset"])
    assert plan_ledger.sort(["source_uri", "source_offset"]).equals(optout_full)
    for row in plan_ledger.iter_rows(named=True):
        ev = json.loads(row["evidence"])
        assert ev["group"] and ev["agents"] and ev["rule"] and ev["entry_sha256"] == row["snapshot_entry_sha256"]
        rel = row["source_uri"].removeprefix(url)
        assert not _overlaps(fetch_log, rel, row["source_offset"], row["source_length"]), row["url"]
    # The rest of the ledger (no-text, ...) was decided after fetching, exactly as in the full-file run.
    fetched_ledger = _table(ix.out_dir, "excluded", "part-0*.parquet").sort(["source_uri", "source_offset"])
    assert fetched_ledger.equals(full_ledger.filter(pl.col("reason") != "optout:robots")
                                 .filter(~pl.col("reason").str.starts_with("not-a-document"))
                                 .sort(["source_uri", "source_offset"]))
    # Bytes: every fetched byte was asked for, the opted-out share was not.
    whole = sum(p.stat().st_size for p in named.values())
    asked = sum(e - s for _, s, e in fetch_log)
    assert cc["bytes_fetched"] == asked and cc["bytes_fetched"] < whole
    assert cc["requests"] == len(fetch_log) < cc["rows_fetched"]  # neighbours coalesced
    return {"plan_ledger": plan_ledger, "manifest": ix.manifest}


def test_sample_index_first_equals_full_file_run_and_never_requests_opted_out_bytes(
        server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    named = _serve(served, {n: SAMPLE / n for n in SAMPLE_WARCS})
    got = _compare_with_full_run(tmp_path, url, served, named, SNAPSHOT)
    assert got["plan_ledger"].height >= 10  # the bundled snapshot opts out real hosts of the sample
    assert got["manifest"]["cc_index"]["files"][0]["sha256"] == hashlib.sha256(
        (tmp_path / "index.parquet").read_bytes()).hexdigest()


def _snapshot_from_real_bodies(hosts: list[str], folder: Path) -> Path:
    """Each host gets a real robots.txt body of ../shared/data/robots_txt (sites that block AI bots), by hash."""
    from pipeline.optout import build
    from pipeline.optout.build import BuildReport

    corpus = shared_path("robots_txt", "gpt_firewall_2025_sample.jsonl")
    bodies = [json.loads(line)["body"] for line in corpus.read_text("utf-8").splitlines() if line.strip()]
    table = folder / "robots.jsonl"
    with open(table, "w", encoding="utf-8") as fh:
        for h in hosts:
            body = bodies[int(hashlib.sha256(h.encode()).hexdigest(), 16) % len(bodies)]
            fh.write(json.dumps({"host": h, "body": body, "date": "2025-06-01"}) + "\n")
    report = BuildReport(builder="from-table")
    out = folder / "robots.parquet"
    build.write(build.from_table([str(table)], report), out, "tests/test_index_first.py", report)
    return out


def test_shared_common_crawl_records_index_first_equals_full_file_run(server: tuple[str, Served],
                                                                     tmp_path: Path) -> None:
    from pipeline.optout import build

    base = shared_path("cc_warc_samples")
    warcs = {"resiliparse.warc.gz": base / "resiliparse_cc-main-2020-34" / "warcfile.warc.gz",
             "cmoncrawl.warc.gz": base / "cmoncrawl_cc-main-2022-05" / "mini.warc.gz",
             "whirlwind.warc.gz": base / "whirlwind_cc-main-2024-22" / "whirlwind.warc.gz"}
    url, served = server
    named = _serve(served, warcs)
    hosts = sorted({build.host_origin(r["url"]) or "" for rel, p in named.items() for r in index_rows(p, rel)} - {""})
    snapshot = _snapshot_from_real_bodies(hosts, tmp_path)
    got = _compare_with_full_run(tmp_path, url, served, named, snapshot, policy="ai-training")
    assert got["plan_ledger"].height > 0


# --- the parts on their own -------------------------------------------------------------------------


def test_coalescing_joins_close_records_and_never_bridges_an_opted_out_one() -> None:
    offsets, lengths = [0, 110, 5000, 5100, 9000], [100, 100, 100, 100, 100]
    assert [(r.start, r.end, r.first, r.last) for r in coalesce(offsets, lengths, gap=50)] == [
        (0, 210, 0, 2), (5000, 5200, 2, 4), (9000, 9100, 4, 5)]
    assert len(coalesce(offsets, lengths, gap=10_000)) == 1
    # an opted-out record at 4000 sits in the gap between 210 and 5000: never requested
    reqs = coalesce(offsets, lengths, gap=10_000, barriers=[4000])
    assert [(r.start, r.end) for r in reqs] == [(0, 210), (5000, 9100)]
    assert all(not (r.start <= 4000 < r.end) for r in reqs)
    assert [(r.start, r.end) for r in coalesce(offsets, lengths, gap=10_000, max_bytes=300)] == [
        (0, 210), (5000, 5200), (9000, 9100)]


def _responses(path: Path) -> list[dict]:
    return [r for r in index_rows(path, path.name)]


def test_a_range_request_cut_mid_record_is_retried_and_gives_the_same_records(server: tuple[str, Served]) -> None:
    url, served = server
    path = SAMPLE / "sample-00000.warc.gz"
    served.files["/x.warc.gz"] = path.read_bytes()
    rows = sorted(_responses(path), key=lambda r: r["warc_record_offset"])
    offs = [r["warc_record_offset"] for r in rows]
    lens = [r["warc_record_length"] for r in rows]
    urls = [r["url"] for r in rows]
    served.cuts["/x.warc.gz"] = [lens[0] // 2, 3000]  # the first two responses stop mid-record
    remote = RangeReader(f"{url}/x.warc.gz", offs, lens, urls, gap=0,
                         source=HttpRanges(f"{url}/x.warc.gz", retries=3, backoff=0.01))
    local = RangeReader(str(path), offs, lens, urls, gap=0, source=LocalRanges(str(path)))
    a, b = list(remote), list(local)
    assert len(a) == len(rows) and [d.reason for d in a] == [d.reason for d in b] == [""] * len(rows)
    assert [(d.url, d.source_offset, d.source_length, d.html) for d in a] == [
        (d.url, d.source_offset, d.source_length, d.html) for d in b]
    assert [r["attempt"] for r in remote.retries] == [1, 2]
    assert remote.retries[0]["offset"] == offs[0] + lens[0] // 2  # resumed where the cut happened
    assert remote.bytes_fetched == sum(lens)
    served.cuts["/x.warc.gz"] = [10, 10, 10]
    with pytest.raises(Exception, match="gave up after 2 retries"):
        list(RangeReader(f"{url}/x.warc.gz", offs[:1], lens[:1], urls[:1],
                         source=HttpRanges(f"{url}/x.warc.gz", retries=2, backoff=0.01)))


def test_bad_index_rows_are_errored_with_their_reason_and_filters_are_counted(server: tuple[str, Served],
                                                                             tmp_path: Path) -> None:
    url, served = server
    path = SAMPLE / "cc-main-2020-34-excerpt.warc.gz"
    named = _serve(served, {"excerpt.warc.gz": path})
    rel = next(iter(named))
    rows = index_rows(path, rel)
    size = path.stat().st_size
    good = next(r for r in rows if r["fetch_status"] == 200 and r["content_mime_detected"] == "text/html")
    past_end = {**good, "url": good["url"] + "?past-end", "warc_record_offset": size + 100,
                "warc_record_id": b"\x01" * 16}
    not_gzip = {**good, "url": good["url"] + "?not-gzip", "warc_record_offset": good["warc_record_offset"] + 7,
                "warc_record_id": b"\x02" * 16}
    write_index(rows + [past_end, not_gzip], tmp_path / "index.parquet")
    cfg = _write_config(tmp_path / "c.yaml", (
        "cc_index:\n  files: [index.parquet]\n"
        f"  warc_prefix: {url}\n"
        "  filters:\n    fetch_status: 200\n    content_mime_detected: [text/html, application/xhtml+xml]\n"
        f"output: {tmp_path / 'out'}\nrobots_snapshot: none\nworkers: 1\n"))
    report = run_pipeline(load_config(cfg))
    assert not report.failed and verify(report.out_dir) == []
    m = report.manifest
    cc, c = m["cc_index"], m["counts"]
    not_200 = sum(r["fetch_status"] != 200 for r in rows)
    not_html = sum(r["fetch_status"] == 200 and r["content_mime_detected"] not in ("text/html", "application/xhtml+xml")
                   for r in rows)
    assert cc["rows_read"] == len(rows) + 2
    assert cc["rows_filtered_out"] == {k: v for k, v in (("fetch_status", not_200),
                                                          ("content_mime_detected", not_html)) if v}
    assert cc["rows_selected"] == cc["rows_read"] - not_200 - not_html == c["records_in"]
    assert c["balanced"]
    assert c["errored_by_reason"] == {"index-offset-not-gzip": 1, "index-range-past-end": 1}
    ledger = _table(report.out_dir, "excluded")
    errs = {r["url"]: (r["reason"], json.loads(r["evidence"])) for r in ledger.iter_rows(named=True)
            if r["outcome"] == "errored"}
    assert errs[past_end["url"]][0] == "index-range-past-end" and errs[past_end["url"]][1]["file_bytes"] == size
    assert errs[not_gzip["url"]][0] == "index-offset-not-gzip"


def test_index_first_is_deterministic_across_workers(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    named = _serve(served, {n: SAMPLE / n for n in SAMPLE_WARCS})
    build_index(named, tmp_path / "index.parquet")
    manifests = []
    for w in (1, 2):
        cfg = _write_config(tmp_path / f"w{w}.yaml", (
            f"cc_index:\n  files: [index.parquet]\n  warc_prefix: {url}\n"
            f"output: {tmp_path / f'w{w}'}\nrobots_snapshot: {SNAPSHOT}\nworkers: {w}\n"))
        manifests.append((tmp_path / f"w{w}" / "manifest.json", run_pipeline(load_config(cfg))))
    (a, ra), (b, rb) = manifests
    assert a.read_bytes() == b.read_bytes()
    for sub in ("data", "excluded"):
        for f in sorted((ra.out_dir / sub).glob("*.parquet")):
            assert f.read_bytes() == (rb.out_dir / sub / f.name).read_bytes()


def test_config_refuses_mixing_inputs_with_cc_index_and_unknown_columns(tmp_path: Path) -> None:
    index = build_index({f"{CRAWL}/a.warc.gz": SAMPLE / "cc-main-2024-22-whirlwind.warc.gz"}, tmp_path / "i.parquet")
    mixed = _write_config(tmp_path / "m.yaml", f"inputs: [{SAMPLE / 'sample-00000.warc.gz'}]\n"
                          f"cc_index: {{files: [{index}]}}\noutput: o\nrobots_snapshot: none\n")
    with pytest.raises(ConfigError, match="'inputs' and 'cc_index' cannot be mixed"):
        load_config(mixed)
    bad = _write_config(tmp_path / "b.yaml", f"cc_index: {{files: [{index}], filters: {{status: 200}}}}\n"
                        "output: o\nrobots_snapshot: none\n")
    with pytest.raises(ConfigError, match="unknown cc-index column 'status'"):
        load_config(bad)
    wrong = _write_config(tmp_path / "w.yaml", f"cc_index: {{files: [{index}], filters: {{fetch_status: '200'}}}}\n"
                          "output: o\nrobots_snapshot: none\n")
    with pytest.raises(ConfigError, match="expected int values"):
        load_config(wrong)


def test_resume_redoes_only_the_missing_fetch_shard(server: tuple[str, Served], tmp_path: Path) -> None:
    url, served = server
    named = _serve(served, {n: SAMPLE / n for n in SAMPLE_WARCS[:3]})
    build_index(named, tmp_path / "index.parquet")
    cfg = _write_config(tmp_path / "c.yaml", (
        f"cc_index:\n  files: [index.parquet]\n  warc_prefix: {url}\n"
        f"output: {tmp_path / 'out'}\nrobots_snapshot: {SNAPSHOT}\nworkers: 1\n"))
    first = run_pipeline(load_config(cfg))
    manifest = (first.out_dir / "manifest.json").read_bytes()
    (first.out_dir / ".consentcrawl" / "shard-00002.json").unlink()
    (first.out_dir / "data" / "part-00002.parquet").unlink()
    served.log.clear()
    again = run_pipeline(load_config(cfg), resume=True)
    assert again.resumed == [0, 1]
    assert {p for p, _, _ in served.log} == {"/" + sorted(named)[2]}  # only the redone WARC was fetched
    assert (again.out_dir / "manifest.json").read_bytes() == manifest
