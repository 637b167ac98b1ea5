"""Inputs by URL: WARC files served by a real HTTP server on 127.0.0.1, read through fsspec."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline.config import ConfigError, load_config
from pipeline.manifest import verify
from pipeline.runner import run_pipeline

SAMPLE = ROOT / "pipeline" / "sample"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(SAMPLE))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_http_inputs_give_the_same_documents_as_local_files(server: str, tmp_path: Path) -> None:
    names = ["sample-00000.warc.gz", "cc-main-2024-22-whirlwind.warc.wet.gz"]
    remote_cfg = tmp_path / "remote.yaml"
    remote_cfg.write_text(
        "inputs:\n" + "".join(f"  - {server}/{n}\n" for n in names)
        + f"output: {tmp_path / 'remote'}\nrobots_snapshot: {SAMPLE / 'robots-snapshot.parquet'}\nworkers: 1\n"
    )
    local_cfg = tmp_path / "local.yaml"
    local_cfg.write_text(
        "inputs:\n" + "".join(f"  - {SAMPLE / n}\n" for n in names)
        + f"output: {tmp_path / 'local'}\nrobots_snapshot: {SAMPLE / 'robots-snapshot.parquet'}\nworkers: 1\n"
    )
    remote = run_pipeline(load_config(remote_cfg))
    local = run_pipeline(load_config(local_cfg))
    assert not remote.failed and verify(remote.out_dir) == []
    assert remote.manifest["counts"] == local.manifest["counts"]
    assert [i["uri"] for i in remote.manifest["inputs"]] == [f"{server}/{n}" for n in names]
    assert remote.manifest["inputs"][0]["bytes"] == (SAMPLE / names[0]).stat().st_size
    import polars as pl

    r = pl.read_parquet(remote.out_dir / "data" / "*.parquet").drop("id", "source_uri")
    lo = pl.read_parquet(local.out_dir / "data" / "*.parquet").drop("id", "source_uri")
    assert r.equals(lo)


def test_unreachable_url_is_refused_before_the_run(server: str, tmp_path: Path) -> None:
    """Checked at config time; one that vanishes after planning fails only its shard
    (tests/test_integrity_run.py::test_http_input_gone_after_planning_fails_its_shard_in_one_line)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{server}/missing.warc.gz', '{SAMPLE / 'cc-main-2024-22-whirlwind.warc.gz'}']\n"
                   f"output: {tmp_path / 'o'}\nworkers: 1\nrobots_snapshot: none\n")
    with pytest.raises(ConfigError, match="missing.warc.gz"):
        load_config(cfg)
    assert not (tmp_path / "o").exists()
