"""`consentcrawl publish`: croissant.json read back by mlcroissant, the card loaded by `datasets`."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import ROOT

from pipeline.cli import main as cli
from pipeline.config import load_config
from pipeline.manifest import verify
from pipeline.manifest.publish import publish
from pipeline.runner import run_pipeline

SAMPLE_CONFIG = ROOT / "pipeline" / "sample" / "dry-run.yaml"
RAI = ["dataCollection", "dataCollectionType", "dataCollectionTimeframe", "dataPreprocessingProtocol",
       "dataManipulationProtocol", "personalSensitiveInformation", "dataBiases", "dataLimitations",
       "dataUseCases", "dataReleaseMaintenancePlan"]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("publish") / "ds"
    run_pipeline(load_config(SAMPLE_CONFIG, {"output": str(out)}), workers=1)
    assert cli(["publish", str(out), "--name", "consentcrawl-sample", "--date", "2026-01-15"]) == 0
    return out


def _m(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


def test_outputs_are_listed_in_the_manifest_and_verify(published: Path) -> None:
    kinds = {f["path"]: f["kind"] for f in _m(published)["files"]}
    assert kinds["croissant.json"] == "croissant" and kinds["README.md"] == "card"
    assert kinds["report/index.html"] == "report"
    assert verify(published) == []
    assert _m(published)["publication"] == {"name": "consentcrawl-sample", "license": "odc-by",
                                            "date_published": "2026-01-15"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_croissant_validates_and_reads_records_with_mlcroissant(published: Path) -> None:
    import mlcroissant as mlc

    doc = json.loads((published / "croissant.json").read_text())
    assert "http://mlcommons.org/croissant/1.1" in doc["conformsTo"]
    for key in RAI:
        assert doc.get(f"rai:{key}"), key
    ds = mlc.Dataset(jsonld=published / "croissant.json")
    issues = ds.metadata.ctx.issues
    assert not issues.errors and not issues.warnings, (issues.errors, issues.warnings)
    assert ds.metadata.data_biases and ds.metadata.data_collection_timeframe
    m = _m(published)
    files = {f["path"]: f for f in m["files"]}
    objects = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    assert {o["contentUrl"] for o in objects} == {p for p, f in files.items() if f["kind"] in
                                                  ("data", "excluded", "snapshot")}
    for o in objects:
        assert o["sha256"] == files[o["contentUrl"]]["sha256"]
        assert o["sha256"] == hashlib.sha256((published / o["contentUrl"]).read_bytes()).hexdigest()
    fields = {rs["@id"]: [f["name"] for f in rs["field"]] for rs in doc["recordSet"]}
    assert fields["documents"] == pq.read_schema(published / "data" / "part-00000.parquet").names
    assert fields["excluded"] == pq.read_schema(published / "excluded" / "part-00000.parquet").names
    records = list(ds.records("documents"))
    assert len(records) == m["counts"]["kept"]
    ids = {r["documents/id"].decode() for r in records}
    assert ids == set(pq.read_table(published / "data", columns=["id"])["id"].to_pylist())
    first = records[0]
    assert first["documents/lang_topk"][0]["documents/lang_topk/label"]
    ledger = list(itertools.islice(ds.records("excluded"), 5))
    assert ledger and all(r["excluded/reason"] for r in ledger)


def test_card_yaml_and_load_dataset(published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    from datasets import load_dataset

    text = (published / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    m = _m(published)
    assert meta["license"] == "odc-by" and "eng" in meta["language"] and "und" not in meta["language"]
    assert meta["configs"][0]["data_files"][0]["path"] == "data/*.parquet"
    ds = load_dataset(str(published), split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == m["counts"]["kept"] and "text" in ds.column_names
    ledger = load_dataset(str(published), "excluded", split="train", cache_dir=str(tmp_path / "hf"))
    assert ledger.num_rows == m["counts"]["excluded_rows"]
    for needle in ("consentcrawl lookup", "consentcrawl verify", "optout:robots", "report/index.html"):
        assert needle in text, needle


def test_publish_is_reproducible_and_guards_changes(published: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "ds"
    shutil.copytree(published, copy)
    before = {p: (copy / p).read_bytes() for p in ("croissant.json", "README.md", "manifest.json",
                                                   "report/funnel.png", "report/index.html")}
    publish(copy)  # settings are kept in the manifest: same bytes again, no clock involved
    for p, data in before.items():
        assert (copy / p).read_bytes() == data, p
    with open(copy / "README.md", "a") as fh:
        fh.write("hand edit\n")
    size, new_sha = (copy / "README.md").stat().st_size, hashlib.sha256((copy / "README.md").read_bytes()).hexdigest()
    assert verify(copy) == [f"README.md: size {size} != manifest {len(before['README.md'])}",
                            f"README.md: sha256 {new_sha[:16]}… != manifest "
                            f"{hashlib.sha256(before['README.md']).hexdigest()[:16]}… (content changed)"]
    victim = copy / "data" / "part-00000.parquet"
    victim.write_bytes(victim.read_bytes()[:-1])
    assert cli(["publish", str(copy)]) == 2  # never re-seal a manifest over a changed data file
    assert "does not verify" in capsys.readouterr().err


def test_publish_after_revocation_describes_the_lineage(published: Path, tmp_path: Path) -> None:
    removals = tmp_path / "r.txt"
    first_url = pq.read_table(published / "data" / "part-00000.parquet", columns=["url"])["url"][0].as_py()
    removals.write_text(first_url + "\n")
    v2 = tmp_path / "v2"
    assert cli(["revoke", str(published), "--removals", str(removals), "--out", str(v2)]) == 0
    assert not (v2 / "croissant.json").exists()  # describes version 1: not carried over
    assert cli(["publish", str(v2), "--no-report"]) == 0
    card = (v2 / "README.md").read_text()
    assert "**Dataset version 2**" in card and "revoked:removal-request" in card
    doc = json.loads((v2 / "croissant.json").read_text())
    assert doc["version"] == "2.0.0" and doc["name"] == "consentcrawl-sample"
    assert verify(v2) == []
