"""`consentcrawl revoke`: removal requests and newer robots.txt snapshots as new, verifiable versions."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT

from pipeline.cli import main as cli
from pipeline.config import load_config
from pipeline.manifest import verify
from pipeline.manifest.lookup import lookup
from pipeline.manifest.targets import parse_target
from pipeline.optout.snapshot import SnapshotRow, write_snapshot
from pipeline.runner import run_pipeline

SAMPLE_CONFIG = ROOT / "pipeline" / "sample" / "dry-run.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("revoke") / "v1"
    run_pipeline(load_config(SAMPLE_CONFIG, {"output": str(out)}), workers=1)
    return out


@pytest.fixture(scope="module")
def kept(run_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(run_dir / "data" / "*.parquet").sort("id")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _tree(d: Path) -> dict[str, str]:
    return {p.relative_to(d).as_posix(): _sha(p) for p in sorted(d.rglob("*")) if p.is_file()}


def _hosts_with(kept: pl.DataFrame, n: int) -> list[str]:
    counts = kept.group_by("host").len().sort(["len", "host"], descending=[True, False])
    return counts["host"].head(n).to_list()


def test_removal_requests_make_a_new_verified_version(run_dir: Path, kept: pl.DataFrame, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    before = _tree(run_dir)
    host_a, host_b = _hosts_with(kept, 2)
    page = kept.filter(~pl.col("host").is_in([host_a, host_b])).row(0, named=True)
    removals = tmp_path / "removals.txt"
    removals.write_text(
        "# requests received\n"
        f"{page['url'].replace('https://', 'http://')}\n"  # the other scheme still matches
        f"host:{host_a}\n"
        "this is not a url\n"
        f"https://{host_b}/no-such-page\n"  # a URL that is not in the dataset: reported as unmatched
        "ftp://example.org/file\n"
        f"host:{host_b}\n"
    )
    out = tmp_path / "v2"
    assert cli(["revoke", str(run_dir), "--removals", str(removals), "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert f"{removals}:4: skipped malformed line" in cap.err and f"{removals}:6: skipped malformed line" in cap.err
    assert f"{removals}:5:" in cap.out and "matched no kept document" in cap.out
    assert verify(out) == []
    assert _tree(run_dir) == before  # the released version is never touched

    expected = set(kept.filter(pl.col("host").is_in([host_a, host_b]) | (pl.col("id") == page["id"]))["id"])
    new_kept = pl.read_parquet(out / "data" / "*.parquet")
    assert set(new_kept["id"]) == set(kept["id"]) - expected
    revoked = pl.read_parquet(out / "excluded" / "revoked-v0002.parquet")
    assert set(revoked["id"]) == expected and set(revoked["reason"]) == {"revoked:removal-request"}
    ev = json.loads(revoked.filter(pl.col("id") == page["id"])["evidence"][0])
    assert ev["request_line"] == 2 and ev["matched_as"] == "url" and ev["revoked_in_version"] == 2

    m1 = json.loads((run_dir / "manifest.json").read_text())
    m2 = json.loads((out / "manifest.json").read_text())
    assert m2["dataset"]["version"] == 2
    assert m2["lineage"]["previous"] == {"manifest_sha256": _sha(run_dir / "manifest.json"), "version": 1,
                                         "merkle_root": m1["merkle_root"]}
    rev = m2["lineage"]["revocations"][0]
    assert rev["removed"] == len(expected) and rev["reason"] == "revoked:removal-request"
    assert rev["removals"]["malformed"] == [{"line": 4, "problem": "contains whitespace"},
                                            {"line": 6, "problem": "not an http(s) URL (scheme '…')"}]
    assert rev["removals"]["file_sha256"] == _sha(removals) and rev["removals"]["unmatched_requests"] == 1
    c1, c2 = m1["counts"], m2["counts"]
    assert c2["kept"] == c1["kept"] - len(expected) and c2["records_in"] == c1["records_in"]
    assert c2["dropped_by_reason"]["revoked:removal-request"] == len(expected)
    assert c2["chars_kept"] == c1["chars_kept"] - rev["chars_removed"]
    res = lookup(out, parse_target(page["url"]))
    assert res.verdict == "excluded" and res.excluded[0]["reason"] == "revoked:removal-request"


def test_a_newer_robots_snapshot_revokes_with_evidence(run_dir: Path, kept: pl.DataFrame, tmp_path: Path) -> None:
    (host,) = _hosts_with(kept, 1)
    snap = tmp_path / "robots-2026.parquet"
    write_snapshot([SnapshotRow(f"https://{host}", "2026-12-01T00:00:00Z", 200,
                                b"User-agent: GPTBot\nDisallow: /\n"),
                    SnapshotRow("https://unrelated.example", "2026-12-01T00:00:00Z", 200, b"")],
                   snap, made_by="test")
    out = tmp_path / "v2"
    assert cli(["revoke", str(run_dir), "--snapshot", str(snap), "--out", str(out)]) == 0
    assert verify(out) == []
    revoked = pl.read_parquet(out / "excluded" / "revoked-v0002.parquet")
    n = kept.filter(pl.col("host") == host).height
    assert revoked.height == n and set(revoked["reason"]) == {"revoked:robots"}
    assert set(revoked["group"]) == {"GPTBot"} and set(revoked["rule_line"]) == {2}
    assert revoked["agents"].to_list() == [["GPTBot"]] * n  # only GPTBot is shut out by this robots.txt
    m = json.loads((out / "manifest.json").read_text())
    new_snap = m["snapshots"][-1]
    assert new_snap["role"] == "revocation" and new_snap["path"] == "snapshots/robots-v0002.parquet"
    assert _sha(out / new_snap["path"]) == _sha(snap) == new_snap["sha256"]
    entries = pl.read_parquet(snap)["entry_sha256"].to_list()
    assert set(revoked["snapshot_entry_sha256"]) <= set(entries)
    assert m["lineage"]["revocations"][0]["robots"]["policy"] == m["policy"]  # the dataset's own policy
    assert m["counts"]["dropped_by_group"]["revoked:robots"]["GPTBot"] == n
    assert m["lineage"]["revocations"][0]["removed_by_group"] == {"GPTBot": n}

    # chain: a second revocation on version 2 names version 2's manifest
    removals = tmp_path / "r.txt"
    removals.write_text(kept.filter(pl.col("host") != host)["url"][0] + "\n")
    v3 = tmp_path / "v3"
    assert cli(["revoke", str(out), "--removals", str(removals), "--out", str(v3)]) == 0
    m3 = json.loads((v3 / "manifest.json").read_text())
    assert m3["dataset"]["version"] == 3 and m3["lineage"]["previous"]["manifest_sha256"] == _sha(out / "manifest.json")
    assert [r["version"] for r in m3["lineage"]["revocations"]] == [2, 3]
    assert verify(v3) == []


def test_a_stricter_policy_file_can_be_given(run_dir: Path, tmp_path: Path) -> None:
    snap = tmp_path / "s.parquet"
    write_snapshot([SnapshotRow("https://nothing.example", "2026-12-01T00:00:00Z", 200, b"")], snap, made_by="t")
    policy = tmp_path / "strict.yaml"
    policy.write_text("name: strict\nagents: [GPTBot]\nmissing_host: drop\n")
    out = tmp_path / "v2"
    assert cli(["revoke", str(run_dir), "--snapshot", str(snap), "--policy", str(policy), "--out", str(out)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["counts"]["kept"] == 0  # no host has an entry, and this policy drops hosts without one
    assert m["lineage"]["revocations"][0]["robots"]["policy"]["name"] == "strict"
    assert verify(out) == []


def test_refusals_leave_nothing_behind(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("not valid\nftp://x.org/\n")
    out = tmp_path / "v2"
    assert cli(["revoke", str(run_dir), "--removals", str(bad), "--out", str(out)]) == 2
    assert "no valid removal request" in capsys.readouterr().err
    not_parquet = tmp_path / "snap.parquet"
    not_parquet.write_bytes(b"PAR1 truncated")
    assert cli(["revoke", str(run_dir), "--snapshot", str(not_parquet), "--out", str(out)]) == 2
    assert "not a readable Parquet file" in capsys.readouterr().err
    assert cli(["revoke", str(run_dir), "--removals", str(bad), "--out", str(run_dir)]) == 2
    assert "already exists" in capsys.readouterr().err
    tampered = tmp_path / "tampered"
    shutil.copytree(run_dir, tampered)
    victim = tampered / "data" / "part-00000.parquet"
    victim.write_bytes(victim.read_bytes()[:-10])
    good = tmp_path / "good.txt"
    good.write_text("example.org\n")
    assert cli(["revoke", str(tampered), "--removals", str(good), "--out", str(out)]) == 2
    assert "does not verify" in capsys.readouterr().err
    assert not out.exists() and not any(p.name.startswith(".v2.tmp") for p in tmp_path.iterdir())
