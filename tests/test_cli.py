"""The CLI as a user meets it: one-line errors with exit 2, the dry-run summary, `run --plan`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SNAPSHOT = ROOT / "pipeline" / "sample" / "robots-snapshot.parquet"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_dry_run_prints_summary_and_writes_dataset(tmp_path: Path) -> None:
    res = run_cli("dry-run", "--out", str(tmp_path / "ds"), "--workers", "2")
    assert res.returncode == 0, res.stderr
    for needle in ("records in", "kept", "dropped: optout:robots", "errored", "language", "wall time",
                   "records/s", "kept + dropped + errored = in"):
        assert needle in res.stdout, needle
    assert (tmp_path / "ds" / "manifest.json").is_file()
    assert run_cli("verify", str(tmp_path / "ds")).returncode == 0


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("inputs: [x.warc.gz]\noutput: o\nbogus: 1\n", "unknown config key 'bogus'"),
        ("inputs: [missing.warc.gz]\noutput: o\n", "input file not found: missing.warc.gz"),
        ("inputs: [a.warc.gz]\noutput: o\nworkers: two\n", "config key 'workers'"),
        ("inputs: [a.warc.gz]\noutput: o\nlangid: {model: 3}\n", "config key 'langid.model'"),
        ("inputs: [a.warc.gz]\noutput: o\nlangid: {max_chars: -1}\n", "config key 'langid.max_chars'"),
        ("inputs: [a.warc.gz]\noutput: o\nlangid: {max_chars: many}\n", "config key 'langid.max_chars'"),
        ("inputs: [a.warc.gz]\n", "missing config key 'output'"),
        ("inputs: [a.warc.gz]\noutput: o\npolicy: nosuchpolicy\n", "policy not found: nosuchpolicy"),
        ("inputs: [a.warc.gz]\noutput: o\nrobots_snapshot: none.parquet\n", "robots snapshot file not found"),
        ("inputs: [a.warc.gz\n", "not valid YAML"),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path: Path, yaml_text: str, needle: str) -> None:
    (tmp_path / "a.warc.gz").write_bytes(b"")
    cfg = tmp_path / "c.yaml"
    if "robots_snapshot" not in yaml_text:  # a required key: every config names its snapshot
        yaml_text = f"robots_snapshot: {SNAPSHOT}\n{yaml_text}"
    cfg.write_text(yaml_text)
    res = run_cli("run", "--config", str(cfg))
    assert res.returncode == 2
    assert needle in res.stderr and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


def test_missing_config_and_unknown_option_exit_2(tmp_path: Path) -> None:
    res = run_cli("run", "--config", str(tmp_path / "nope.yaml"))
    assert res.returncode == 2 and "config file not found" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("dry-run", "--frobnicate")
    assert res.returncode == 2 and "--frobnicate" in res.stderr and res.stderr.count("\n") == 1
    res = run_cli("verify", str(tmp_path / "nodir"))
    assert res.returncode == 2 and "not found" in res.stderr


def test_sample_config_in_configs_is_valid() -> None:
    from pipeline.config import load_config

    cfg = load_config(ROOT / "configs" / "sample.yaml")
    assert len(cfg.inputs) == 5 and cfg.policy.name == "apertus" and cfg.robots_as_of == "2025-01-31"


def _plan_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{ROOT / 'pipeline' / 'sample'}/sample-*.warc.gz']\noutput: {tmp_path / 'out'}\n"
                   f"robots_snapshot: {SNAPSHOT}\nrobots_as_of: '2025-01-31'\n")
    return cfg


def test_run_plan_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    res = run_cli("run", "--config", str(_plan_config(tmp_path)), "--plan", "--workers", "3")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("plan: 2 shard(s) on embedded LocalCluster, 3 worker process(es)")
    assert f"robots snapshot: {SNAPSHOT} as of 2025-01-31" in lines
    assert [line.split(": ")[1].rsplit("/", 1)[1] for line in lines if line.startswith("  shard ")] == \
        ["sample-00000.warc.gz", "sample-00001.warc.gz"]
    assert not (tmp_path / "out").exists()


def test_plan_says_when_no_robots_filtering_is_applied(tmp_path: Path) -> None:
    """`robots_snapshot: none` is an explicit opt-out: the plan must say that nothing is filtered."""
    cfg = tmp_path / "none.yaml"
    cfg.write_text(_plan_config(tmp_path).read_text().replace(f"robots_snapshot: {SNAPSHOT}", "robots_snapshot: none"))
    res = run_cli("run", "--config", str(cfg), "--plan")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "robots snapshot: none — no robots.txt filtering is applied" in lines
    assert not any(str(SNAPSHOT) in line for line in lines)
    assert not (tmp_path / "out").exists()


def test_run_dry_run_is_refused_with_the_new_name(tmp_path: Path) -> None:
    """`run --dry-run` used to print the plan while `consentcrawl dry-run` runs everything: now only `--plan`."""
    res = run_cli("run", "--config", str(_plan_config(tmp_path)), "--dry-run")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "`run --plan`" in res.stderr and "`consentcrawl dry-run`" in res.stderr
    assert not (tmp_path / "out").exists()


def test_run_help_points_to_the_config_reference() -> None:
    res = run_cli("run", "--help")
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    assert "docs/config.md" in text and "python -m pipeline.config_reference" in text
    assert "--plan" in text and "--dry-run" not in text
    assert (ROOT / "docs" / "config.md").is_file()
