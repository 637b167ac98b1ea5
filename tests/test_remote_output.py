"""`output: s3://…`: a run writes its dataset to an object store, tested against a real local
S3-compatible server (moto's server mode on 127.0.0.1) through s3fs, as a cluster run would."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

pytest.importorskip("s3fs", reason="the `s3` extra (s3fs) is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")

from pipeline.config import ConfigError, load_config  # noqa: E402
from pipeline.manifest import verify  # noqa: E402
from pipeline.runner import run_pipeline  # noqa: E402

SAMPLE = ROOT / "pipeline" / "sample"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server on loopback; every process of the run (Dask workers too) reaches it by env."""
    import fsspec

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "FSSPEC_S3_ENDPOINT_URL": endpoint}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    mp.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint})
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("datasets")
    try:
        yield endpoint
    finally:
        mp.undo()
        server.stop()


def _config(tmp: Path, output: str, copies: int = 2) -> Path:
    cfg = tmp / "run.yaml"
    cfg.write_text(f"inputs: [{', '.join(repr(str(SAMPLE / f'sample-0000{i}.warc.gz')) for i in range(copies))}]\n"
                   f"output: {output}\nrobots_snapshot: {SAMPLE / 'robots-snapshot.parquet'}\nworkers: 1\n")
    return cfg


def test_run_into_s3_equals_a_local_run_and_verifies(s3: str, tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    remote = run_pipeline(load_config(_config(tmp_path, "s3://datasets/run1")))
    local_cfg = tmp_path / "local"
    local_cfg.mkdir()
    local = run_pipeline(load_config(_config(local_cfg, str(tmp_path / "local-out"))))
    assert not remote.failed and remote.out_dir == "s3://datasets/run1"
    # the same bytes as the local run, file for file, manifest included
    names = sorted(p.removeprefix("datasets/run1/") for p in fs.find("datasets/run1"))
    assert "manifest.json" in names and "snapshots/robots.parquet" in names
    assert not [n for n in names if n.endswith(".tmp")]
    for f in json.loads(fs.cat_file("datasets/run1/manifest.json"))["files"] + [{"path": "manifest.json"}]:
        assert fs.cat_file(f"datasets/run1/{f['path']}") == (tmp_path / "local-out" / f["path"]).read_bytes()
    assert remote.manifest["merkle_root"] == local.manifest["merkle_root"]
    # a copy downloaded from the store verifies like any dataset folder
    copy = tmp_path / "downloaded"
    fs.get("datasets/run1/", str(copy), recursive=True)
    assert verify(copy) == []


def test_s3_output_refusals_and_resume(s3: str, tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.pipe_file("datasets/someone-else/README.md", b"not ours")
    with pytest.raises(ConfigError, match="not empty"):
        run_pipeline(load_config(_config(tmp_path, "s3://datasets/someone-else")))
    assert fs.cat_file("datasets/someone-else/README.md") == b"not ours"
    cfg = _config(tmp_path, "s3://datasets/run2")
    first = run_pipeline(load_config(cfg))
    with pytest.raises(ConfigError, match="already holds a finished"):
        run_pipeline(load_config(cfg))
    fs.rm_file("datasets/run2/manifest.json")  # interrupted after its shards
    fs.rm_file("datasets/run2/.consentcrawl/shard-00001.json")
    again = run_pipeline(load_config(cfg), resume=True)
    assert again.resumed == [0]
    assert again.manifest == first.manifest
