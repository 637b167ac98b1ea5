"""`consentcrawl report`: report/index.html and its PNG plots, listed in the manifest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT
from PIL import Image

from pipeline.cli import main as cli
from pipeline.config import load_config
from pipeline.manifest import verify
from pipeline.runner import run_pipeline

SAMPLE_CONFIG = ROOT / "pipeline" / "sample" / "dry-run.yaml"
PLOTS = ["funnel.png", "languages.png", "drops_by_reason.png", "drops_by_agent.png", "drops_by_tld.png",
         "content_removed.png"]


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "ds"
    run_pipeline(load_config(SAMPLE_CONFIG, {"output": str(out)}), workers=1)
    assert cli(["report", str(out)]) == 0
    return out


def test_every_plot_is_a_real_png_linked_from_the_page(reported: Path) -> None:
    page = (reported / "report" / "index.html").read_text()
    for name in PLOTS:
        with Image.open(reported / "report" / name) as img:
            img.verify()
            assert img.format == "PNG" and img.size[0] >= 600 and img.size[1] >= 150, name
        assert f"src='{name}'" in page
    assert sorted(p.name for p in (reported / "report").iterdir()) == sorted([*PLOTS, "index.html"])


def test_page_explains_the_run_with_its_numbers(reported: Path) -> None:
    m = json.loads((reported / "manifest.json").read_text())
    c = m["counts"]
    page = (reported / "report" / "index.html").read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    for number in (c["records_in"], c["kept"], c["dropped_by_reason"]["optout:robots"]):
        assert f"{number:,}" in text
    for needle in ("funnel", "robots.txt", "Apertus", "exclusion ledger", m["policy"]["name"],
                   m["langid"]["model_sha256"], "consentcrawl lookup"):
        assert needle in text, needle


def test_report_is_listed_reproducible_and_verified(reported: Path) -> None:
    files = {f["path"]: f for f in json.loads((reported / "manifest.json").read_text())["files"]}
    assert {f"report/{n}" for n in [*PLOTS, "index.html"]} <= set(files)
    assert verify(reported) == []
    before = {n: (reported / "report" / n).read_bytes() for n in PLOTS}
    assert cli(["report", str(reported)]) == 0
    assert {n: (reported / "report" / n).read_bytes() for n in PLOTS} == before
    assert verify(reported) == []
