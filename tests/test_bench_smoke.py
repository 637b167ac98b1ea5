"""`python scripts/bench.py --quick` must keep running (a smoke test: it measures, nothing is timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_bench_quick_runs_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--json", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["input"]["repeated"] is True and data["input"]["records"] > 0
    assert {"ingest", "extract", "langid", "write"} <= set(data["stages"]["stages"])
    assert [c["workers"] for c in data["consentcrawl"]] == [1, 2]
    assert data["bare_loop"]["docs"] > 0
    assert "targets:" in res.stdout
