"""End to end on a real LocalCluster: the bundled sample through every stage, read back by
datasets, polars and DuckDB, verified, and reproduced byte for byte with another worker count."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, SHARED

from pipeline.config import load_config
from pipeline.manifest import verify
from pipeline.runner import run_pipeline

SAMPLE_CONFIG = ROOT / "pipeline" / "sample" / "dry-run.yaml"


@pytest.fixture(scope="module")
def two_worker_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("dry") / "ds"
    config = load_config(SAMPLE_CONFIG, {"output": str(out)})
    return run_pipeline(config, workers=2)


def test_counts_add_up_and_show_real_optouts(two_worker_run) -> None:
    c = two_worker_run.manifest["counts"]
    assert c["balanced"] and c["records_in"] == c["kept"] + c["dropped"] + c["errored"]
    assert c["dropped_by_reason"].get("optout:robots", 0) >= 3
    assert sum(c["dropped_by_group"]["optout:robots"].values()) == c["dropped_by_reason"]["optout:robots"]
    assert len(c["documents_by_language"]) >= 10
    assert not two_worker_run.failed
    per_input = sum(i["records_read"] for i in two_worker_run.manifest["inputs"])
    assert per_input == c["records_in"]


def test_output_reads_back_with_datasets_polars_duckdb(two_worker_run) -> None:
    from datasets import load_dataset

    out = two_worker_run.out_dir
    kept = two_worker_run.manifest["counts"]["kept"]
    ds = load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert ds.num_rows == kept
    assert {"id", "url", "text", "lang", "source_record_id", "content_sha256"} <= set(ds.column_names)
    df = pl.read_parquet(out / "data" / "*.parquet")
    assert df.height == kept and df["id"].n_unique() == kept
    assert (df["text"].str.len_chars() > 0).all()
    langs = duckdb.sql(f"select lang, count(*) n from read_parquet('{out}/data/*.parquet') group by lang").fetchall()
    assert sum(n for _, n in langs) == kept
    ledger = pl.read_parquet(out / "excluded" / "*.parquet")
    robots = ledger.filter(pl.col("reason") == "optout:robots")
    assert robots.height == two_worker_run.manifest["counts"]["dropped_by_reason"]["optout:robots"]
    # every robots drop names the group that decided, the agents shut out, the rule, its line, the snapshot entry
    assert robots["group"].null_count() == 0 and robots["rule"].null_count() == 0
    assert (robots["agents"].list.len() >= 1).all()
    assert robots["rule_line"].min() >= 1 and robots["snapshot_entry_sha256"].str.len_chars().min() == 64
    # no document is both kept and excluded
    assert set(df["id"]).isdisjoint(set(ledger["id"]))


def test_rows_keep_input_order_and_provenance(two_worker_run) -> None:
    for f in sorted((two_worker_run.out_dir / "data").glob("*.parquet")):
        t = pq.read_table(f, columns=["source_uri", "source_offset"]).to_pydict()
        assert t["source_offset"] == sorted(t["source_offset"])
        assert len(set(t["source_uri"])) <= 1


def test_verify_passes_then_detects_a_flipped_byte(two_worker_run, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(two_worker_run.out_dir, copy)
    assert verify(copy) == []
    victim = sorted((copy / "data").glob("*.parquet"))[0]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))
    problems = verify(copy)
    assert any(victim.name in p and "sha256" in p for p in problems)
    cli = subprocess.run([sys.executable, "-m", "pipeline.cli", "verify", str(copy)], capture_output=True, text=True)
    assert cli.returncode == 1 and victim.name in cli.stdout


def test_one_and_two_workers_give_identical_bytes(two_worker_run, tmp_path: Path) -> None:
    config = load_config(SAMPLE_CONFIG, {"output": str(tmp_path / "one")})
    one = run_pipeline(config, workers=1)
    a, b = two_worker_run.out_dir, one.out_dir
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    files = json.loads((a / "manifest.json").read_text())["files"]
    assert len(files) >= 10
    for f in files:
        assert (a / f["path"]).read_bytes() == (b / f["path"]).read_bytes(), f["path"]


def test_edge_case_archives_through_the_whole_pipeline(tmp_path: Path) -> None:
    edge = SHARED / "cc_warc_samples" / "edge_cases"
    if not edge.exists():
        pytest.skip("../shared/data/cc_warc_samples/edge_cases not present")
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(f"inputs: ['{edge}/*.warc*']\noutput: {tmp_path / 'out'}\npolicy: apertus\nworkers: 2\n"
                   "robots_snapshot: none\n")
    report = run_pipeline(load_config(cfg))
    assert not report.failed
    assert len(report.manifest["inputs"]) == 10  # the 11th, an ARC file, is refused (tests/test_ingest.py)
    for shard in report.shards:
        total = shard["kept"] + sum(shard["dropped"].values()) + sum(shard["errored"].values())
        assert total == shard["records_in"] >= 1, shard["uri"]
    errored = report.manifest["counts"]["errored_by_reason"]
    assert errored.get("record-length-mismatch", 0) >= 2 and errored.get("record-truncated", 0) >= 1
    assert verify(report.out_dir) == []


def test_langid_command_agrees_with_the_pipeline(two_worker_run) -> None:
    df = pl.read_parquet(two_worker_run.out_dir / "data" / "*.parquet", columns=["text", "lang", "script"])
    lines = "".join(json.dumps({"text": t}) + "\n" for t in df["text"])
    res = subprocess.run([sys.executable, "-m", "pipeline.cli", "langid"], input=lines, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    labels = [json.loads(line)["label"] for line in res.stdout.splitlines()]
    assert labels == [f"{lang}_{script}" for lang, script in zip(df["lang"], df["script"], strict=True)]
