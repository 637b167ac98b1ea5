"""`consentcrawl lookup` on a real dry-run: kept pages, excluded pages with their rule, never-seen sites."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT

from pipeline.cli import main as cli
from pipeline.config import load_config
from pipeline.host import registrable_domain
from pipeline.manifest.lookup import lookup
from pipeline.manifest.targets import parse_target
from pipeline.runner import run_pipeline

SAMPLE_CONFIG = ROOT / "pipeline" / "sample" / "dry-run.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lookup") / "ds"
    run_pipeline(load_config(SAMPLE_CONFIG, {"output": str(out)}), workers=1)
    return out


@pytest.fixture(scope="module")
def kept(run_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(run_dir / "data" / "*.parquet")


@pytest.fixture(scope="module")
def ledger(run_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(run_dir / "excluded" / "*.parquet")


def test_a_kept_page_is_found_with_its_provenance(run_dir: Path, kept: pl.DataFrame) -> None:
    row = kept.row(0, named=True)
    res = lookup(run_dir, parse_target(row["url"]))
    assert res.verdict == "in-dataset" and [r["id"] for r in res.kept] == [row["id"]]
    hit = res.kept[0]
    assert hit["file"].startswith("data/part-") and hit["source_record_id"] == row["source_record_id"]
    other_scheme = row["url"].replace("https://", "http://", 1) if row["url"].startswith("https://") else \
        row["url"].replace("http://", "https://", 1)
    assert [r["id"] for r in lookup(run_dir, parse_target(other_scheme)).kept] == [row["id"]]


def test_an_excluded_site_names_rule_agent_and_snapshot_entry(run_dir: Path, ledger: pl.DataFrame,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    robots = ledger.filter(pl.col("reason") == "optout:robots").row(0, named=True)
    res = lookup(run_dir, parse_target(f"host:{robots['host']}"))
    assert res.verdict in ("excluded", "partly-in-dataset")
    hit = next(r for r in res.excluded if r["id"] == robots["id"])
    assert hit["group"] == robots["group"] and hit["agents"] == robots["agents"] and hit["rule"] == robots["rule"]
    assert hit["rule_line"] >= 1
    assert hit["snapshot"] == "snapshots/robots.parquet"
    entries = pl.read_parquet(run_dir / "snapshots" / "robots.parquet")["entry_sha256"].to_list()
    assert hit["snapshot_entry_sha256"] in entries  # the evidence points at a row of the shipped snapshot
    assert any(e["entry_sha256"] == hit["snapshot_entry_sha256"] for e in res.robots_entries)
    assert cli(["lookup", str(run_dir), robots["url"]]) == 1  # grep-like: 1 = not in data/
    out = capsys.readouterr().out
    who = "all crawlers (its User-agent: * group)" if robots["group"] == "*" else f"AI agent {robots['group']}"
    assert "EXCLUDED" in out and who in out and f"line {robots['rule_line']}" in out
    assert f"policy agents disallowed: {', '.join(robots['agents'])}" in out
    assert robots["snapshot_entry_sha256"][:16] in out


def test_domain_lookup_covers_every_host_of_the_domain(run_dir: Path, kept: pl.DataFrame,
                                                       ledger: pl.DataFrame) -> None:
    hosts = pl.concat([kept.select("host"), ledger.select("host")])["host"].to_list()
    by_domain: dict[str, set[str]] = {}
    for h in hosts:
        by_domain.setdefault(registrable_domain(h), set()).add(h)
    domain, members = max(by_domain.items(), key=lambda kv: (len(kv[1]), kv[0]))
    target = parse_target(domain)
    assert target.kind == "domain"
    res = lookup(run_dir, target)
    found = {r["host"] for r in res.kept + res.excluded}
    assert found == members
    expected = sum(h in members for h in hosts)
    assert len(res.kept) + len(res.excluded) == expected


def test_a_site_never_in_the_input(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = lookup(run_dir, parse_target("never-crawled-site.org"))
    assert res.verdict == "not-in-input" and not res.kept and not res.excluded
    assert cli(["lookup", str(run_dir), "https://never-crawled-site.org/a", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "not-in-input" and data["kind"] == "url"


def test_cli_text_answer_for_a_kept_host(run_dir: Path, kept: pl.DataFrame,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    host = kept["host"][0]
    assert cli(["lookup", str(run_dir), host, "--kind", "host"]) == 0
    out = capsys.readouterr().out
    assert "IN THE DATASET" in out and kept["id"][0] in out


@pytest.mark.parametrize("query", ["not a url", "ftp://example.org/x", "co.uk", "localhost"])
def test_malformed_queries_are_one_line_exit_2(run_dir: Path, query: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["lookup", str(run_dir), query]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot look up" in err


def test_a_truncated_parquet_file_is_named(run_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "ds"
    shutil.copytree(run_dir, copy)
    victim = copy / "data" / "part-00001.parquet"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    assert cli(["lookup", str(copy), "example.org"]) == 2
    err = capsys.readouterr().err
    assert "data/part-00001.parquet" in err and "not a readable Parquet file" in err and err.count("\n") == 1
