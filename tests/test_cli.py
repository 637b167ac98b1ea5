"""The CLI as a user meets it: one-line errors with exit 2, and the dry-run summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


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
