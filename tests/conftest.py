from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TEST_DATA = ROOT / "tests" / "data"


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared/data, skipping the test when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"../shared/data/{'/'.join(parts)} not present (only CI and dev machines have it)")
    return p


@pytest.fixture
def shared() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared/data not present (only CI and dev machines have it)")
    return SHARED
