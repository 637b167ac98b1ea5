"""The bundled sample is generated data kept in git because a user's clone has no ../shared:
scripts/build_sample.py must rebuild every file of it byte for byte from ../shared/data."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, shared_path

SAMPLE = ROOT / "pipeline" / "sample"
GENERATED = ("*.warc.gz", "*.wet.gz", "robots-snapshot.parquet", "pages.csv")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for pattern in GENERATED for p in sorted(folder.glob(pattern))}


def test_committed_sample_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    shared = shared_path()
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_sample.py"), "--shared", str(shared),
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    committed = _digests(SAMPLE)
    assert "robots-snapshot.parquet" in committed and len(committed) >= 6
    assert _digests(tmp_path) == committed
