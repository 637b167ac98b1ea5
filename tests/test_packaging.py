"""A `pip install .` must carry every module and data file the dry-run needs."""

from __future__ import annotations

import pytest
from conftest import ROOT

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")


def test_every_subpackage_is_listed_for_the_wheel() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "pipeline").rglob("__init__.py")}
    assert found <= listed, found - listed
    assert cfg["package-dir"]["pipeline.configs"] == "configs"


def test_sample_files_match_package_data_patterns() -> None:
    import fnmatch

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = cfg["pipeline.sample"]
    for f in (ROOT / "pipeline" / "sample").iterdir():
        if f.is_file() and f.name != "__init__.py" and not f.name.endswith(".pyc"):
            assert any(fnmatch.fnmatch(f.name, p) for p in patterns), f.name
