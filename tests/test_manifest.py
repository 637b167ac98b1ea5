"""The manifest of a real dry-run: schema, content, Merkle root, and `verify` catching every kind of change.

One real pipeline run per module; each test works on its own copy of the output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import ROOT
from jsonschema import Draft202012Validator

from pipeline.cli import main as cli
from pipeline.config import load_config
from pipeline.manifest import SCHEMA_VERSION, verify
from pipeline.manifest.build import body_sha256, seal
from pipeline.manifest.schema import load_manifest, load_schema, schema_path
from pipeline.runner import run_pipeline
from pipeline.write import sha256_file

SAMPLE_CONFIG = ROOT / "pipeline" / "sample" / "dry-run.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("manifest") / "ds"
    run_pipeline(load_config(SAMPLE_CONFIG, {"output": str(out)}), workers=1)
    return out


@pytest.fixture
def ds(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ds"
    shutil.copytree(run_dir, copy)
    return copy


def _manifest(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


def _write(d: Path, m: dict, reseal: bool = False) -> None:
    if reseal:
        seal(m)
    (d / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True))


def _flip(path: Path, at: float = 0.5) -> None:
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * at)] ^= 0x01
    path.write_bytes(bytes(raw))


def test_manifest_validates_against_its_versioned_schema(run_dir: Path) -> None:
    m = _manifest(run_dir)
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate(m)
    assert schema["$schema"].endswith("2020-12/schema")
    assert m["schema_version"] == SCHEMA_VERSION and schema_path().name == f"manifest-{SCHEMA_VERSION}.json"
    assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert load_manifest(run_dir) == m


def test_manifest_content_is_complete_and_has_no_clock(run_dir: Path) -> None:
    m = _manifest(run_dir)
    assert m["pipeline"]["name"] == "consentcrawl" and len(m["pipeline"]["code_sha256"]) == 64
    assert m["build"]["source_commit"] and m["build"]["python"]  # shown, outside the Merkle root
    assert {"pyarrow", "polars", "fastwarc", "dask"} <= set(m["dependencies"])
    blob = json.dumps(m["config"], sort_keys=True, separators=(",", ":")).encode()
    assert hashlib.sha256(blob).hexdigest() == m["config_sha256"]  # the resolved config and its digest
    assert m["policy"]["agents"] and m["config"]["policy"] == m["policy"]
    assert len(m["langid"]["model_sha256"]) == 64 and len(m["langid"]["label_set"]) == m["langid"]["labels"] > 100
    snap = m["snapshots"][0]
    assert snap["date_min"] <= snap["date_max"] and snap["role"] == "run" and len(snap["snapshot_id"]) == 64
    files = {f["path"]: f for f in m["files"]}
    assert files[snap["path"]]["sha256"] == snap["sha256"]
    for i in m["inputs"]:
        assert i["status"] == "complete" and len(i["sha256"]) == 64 and i["bytes"] > 0
        assert not Path(i["uri"]).is_absolute()  # relative to the config: clones agree
    assert sum(i["records_read"] for i in m["inputs"]) == m["counts"]["records_in"]
    for f in m["files"]:
        p = run_dir / f["path"]
        assert sha256_file(p) == f["sha256"] and p.stat().st_size == f["bytes"]
        if f["kind"] == "card":
            assert f["path"] == "README.md" and f["rows"] is None  # the dataset card every run writes
            continue
        assert pq.ParquetFile(p).metadata.num_rows == f["rows"]
    c = m["counts"]
    assert c["kept"] == sum(f["rows"] for f in m["files"] if f["kind"] == "data")
    assert c["excluded_rows"] == sum(f["rows"] for f in m["files"] if f["kind"] == "excluded")
    assert c["chars_kept"] == sum(c["chars_by_language"].values()) > 0
    # no clock readings anywhere (the config's own settings, such as a time budget, are not readings)
    text = json.dumps({k: v for k, v in m.items() if k != "config"}).lower()
    for clock in ("wall", "seconds", "started", "timestamp", "elapsed"):
        assert clock not in text, clock
    assert "wall" not in json.dumps(m["config"]).lower() and "elapsed" not in json.dumps(m["config"]).lower()


def _reference_merkle(m: dict) -> str:
    """docs/manifest.md's algorithm, written out independently."""
    body = {k: v for k, v in m.items() if k not in ("merkle_root", "build")}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    leaves = [(f["path"], f["sha256"]) for f in m["files"]] + [("manifest.json", hashlib.sha256(canon).hexdigest())]
    level = [hashlib.sha256(f"{p}\0{s}".encode()).digest() for p, s in sorted(leaves)]
    while len(level) > 1:
        level += level[-1:] if len(level) % 2 else []
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0].hex()


def test_merkle_root_follows_the_documented_algorithm(run_dir: Path) -> None:
    m = _manifest(run_dir)
    assert _reference_merkle(m) == m["merkle_root"]
    assert body_sha256(m) == body_sha256({**m, "merkle_root": "0" * 64})


def test_clean_copy_verifies(ds: Path) -> None:
    assert verify(ds) == []
    assert cli(["verify", str(ds)]) == 0


@pytest.mark.parametrize("kind", ["data", "excluded", "snapshots"])
def test_flipped_byte_in_each_kind_of_file_is_detected(ds: Path, kind: str) -> None:
    victim = sorted((ds / kind).glob("*.parquet"), key=lambda p: -p.stat().st_size)[0]
    _flip(victim)
    problems = verify(ds)
    rel = victim.relative_to(ds).as_posix()
    assert any(p.startswith(f"{rel}: sha256") for p in problems), problems


def test_flipped_byte_in_manifest_is_detected(ds: Path) -> None:
    m = _manifest(ds)
    m["counts"]["kept"] -= 1  # still valid JSON and schema-valid: only the Merkle root can tell
    m["counts"]["records_in"] -= 1
    _write(ds, m)
    problems = verify(ds)
    assert any("merkle_root does not match" in p for p in problems), problems
    raw = bytearray((ds / "manifest.json").read_bytes())
    raw[raw.index(b'"dataset"') + 2] ^= 0x01  # break a key: now a schema violation
    (ds / "manifest.json").write_bytes(bytes(raw))
    problems = verify(ds)
    assert any("does not match its schema" in p for p in problems), problems


def test_resealed_manifest_with_wrong_counts_fails_consistency(ds: Path) -> None:
    m = _manifest(ds)
    m["counts"]["kept"] -= 1
    m["counts"]["dropped"] += 1
    m["counts"]["dropped_by_reason"]["optout:robots"] += 1
    _write(ds, m, reseal=True)  # an attacker (or a bug) recomputing the root still cannot hide this
    problems = verify(ds)
    assert any("counts.kept" in p and "rows of data/ files" in p for p in problems), problems


def test_truncated_parquet_is_named(ds: Path) -> None:
    victim = ds / "data" / "part-00000.parquet"
    victim.write_bytes(victim.read_bytes()[:-100])
    m = _manifest(ds)
    for f in m["files"]:
        if f["path"] == "data/part-00000.parquet":  # even with checksums "fixed", rows cannot be read
            f["sha256"], f["bytes"] = sha256_file(victim), victim.stat().st_size
    _write(ds, m, reseal=True)
    problems = verify(ds)
    assert any(p.startswith("data/part-00000.parquet: not readable as Parquet") for p in problems), problems


def test_missing_and_extra_files_are_reported(ds: Path) -> None:
    (ds / "excluded" / "part-00001.parquet").unlink()
    (ds / "data" / "stray.parquet").write_bytes(b"x")
    (ds / "report").mkdir()
    (ds / "report" / "index.html").write_text("not listed")
    problems = verify(ds)
    assert "excluded/part-00001.parquet: missing" in problems
    assert "data/stray.parquet: extra file not in the manifest" in problems
    assert "report/index.html: extra file not in the manifest" in problems


def test_paths_leaving_the_folder_are_rejected(ds: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.parquet"
    shutil.copyfile(ds / "data" / "part-00000.parquet", outside)
    original = _manifest(ds)
    for bad in ("../outside.parquet", str(outside), "data/../../outside.parquet"):
        m = json.loads(json.dumps(original))
        next(f for f in m["files"] if f["path"] == "data/part-00000.parquet")["path"] = bad
        _write(ds, m, reseal=True)
        problems = verify(ds)
        assert any(p.startswith(f"{bad}: path points outside") for p in problems), problems
        at = [f["path"] for f in _manifest(ds)["files"]].index(bad)
        assert f"manifest.json: does not match its schema at manifest.files[{at}].path: {bad!r} is not a path " \
               "relative to the dataset folder" in " ".join(problems)
    # a symlink inside the folder that points out is rejected even though its bytes match
    _write(ds, original)
    (ds / "data" / "part-00000.parquet").unlink()
    os.symlink(outside, ds / "data" / "part-00000.parquet")
    problems = verify(ds)
    assert any(p.startswith("data/part-00000.parquet: path points outside") and "symlink" in p for p in problems)


@pytest.mark.parametrize(("version", "needle"), [("1.0.0", "older than 2.1.0"), ("2.0.0", "older than 2.1.0"),
                                                 ("9.0.0", "unknown"), (None, "no valid schema_version")])
def test_other_schema_versions_are_refused_clearly(ds: Path, version: str | None, needle: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    m = _manifest(ds)
    if version is None:
        m.pop("schema_version")
    else:
        m["schema_version"] = version
    _write(ds, m)
    problems = verify(ds)
    assert len(problems) == 1 and needle in problems[0]
    assert cli(["verify", str(ds)]) == 1
    assert cli(["lookup", str(ds), "example.org"]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and needle in err and err.count("\n") == 1


def test_unreadable_manifest_is_one_clear_line(ds: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ds / "manifest.json").write_text('{"schema_version": "2.0.0", ')
    assert verify(ds)[0].endswith("not valid JSON (Expecting property name enclosed in double quotes at line 1 "
                                  "column 29)")
    assert cli(["publish", str(ds)]) == 2
    assert "manifest.json: not valid JSON" in capsys.readouterr().err


def test_sign_and_verify_with_a_public_key(ds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "k"
    assert cli(["keygen", str(key)]) == 0
    assert oct((tmp_path / "k.key").stat().st_mode & 0o777) == "0o600"
    assert cli(["sign", str(ds), "--key", str(tmp_path / "k.key")]) == 0
    assert len((ds / "manifest.json.sig").read_bytes()) == 64
    assert cli(["verify", str(ds), "--pubkey", str(tmp_path / "k.pub")]) == 0
    assert cli(["keygen", str(tmp_path / "other")]) == 0
    assert cli(["verify", str(ds), "--pubkey", str(tmp_path / "other.pub")]) == 1
    assert "signature does not match" in capsys.readouterr().out
    m = _manifest(ds)
    m["config"]["note"] = "edited after signing"
    _write(ds, m, reseal=True)
    assert any("signature does not match" in p for p in verify(ds, pubkey=tmp_path / "k.pub"))
    (ds / "manifest.json.sig").unlink()
    assert any("missing" in p for p in verify(ds, pubkey=tmp_path / "k.pub"))
    assert cli(["verify", str(ds), "--pubkey", str(tmp_path / "k.key")]) == 2  # a private key is not a pubkey
    assert cli(["keygen", str(key)]) == 2  # never overwrites
