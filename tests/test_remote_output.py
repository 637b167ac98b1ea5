"""`output: s3://…`: a run writes its dataset to an object store, tested against a real local
S3-compatible server (moto's server mode on 127.0.0.1) through s3fs, as a cluster run would."""

from __future__ import annotations

import json
import shutil
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


# -- verify, lookup, publish and report read (and write) a dataset folder on the store ----------------------------


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from pipeline.cli import main

    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def served(s3: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A real run written to s3://datasets/served, and a local copy of it downloaded with fs.get."""
    import fsspec

    tmp = tmp_path_factory.mktemp("served")
    run_pipeline(load_config(_config(tmp, "s3://datasets/served")))
    copy = tmp / "copy"
    fsspec.filesystem("s3", skip_instance_cache=True).get("datasets/served/", str(copy), recursive=True)
    return "s3://datasets/served", copy


def _copy_within(fs: object, src: str, dst: str) -> None:
    for path in fs.find(src):  # type: ignore[attr-defined]
        fs.copy(path, dst + path[len(src):])  # type: ignore[attr-defined]


def test_verify_a_remote_folder_like_a_local_one(served: tuple[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import fsspec

    from pipeline.manifest.sign import keygen, sign_dataset

    url, copy = served
    rc, out, err = _cli(["verify", url], capsys)
    assert rc == 0 and out == f"{url}: OK, every file matches manifest.json\n" and not err
    # signed: the signature is checked against the bytes on the store
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    _copy_within(fs, "datasets/served", "datasets/signed")
    key, pub = keygen(tmp_path / "k")
    local = tmp_path / "signed"
    fs.get("datasets/signed/", str(local), recursive=True)
    sign_dataset(local, key)
    fs.put_file(str(local / "manifest.json.sig"), "datasets/signed/manifest.json.sig")
    rc, out, _ = _cli(["verify", "s3://datasets/signed"], capsys)
    assert rc == 0 and "note: manifest.json.sig present but not checked" in out
    rc, out, _ = _cli(["verify", "s3://datasets/signed", "--pubkey", pub], capsys)
    assert rc == 0 and "and its signature" in out
    # tampered: one object's bytes changed, one removed, one added; the manifest re-signed by someone else
    _copy_within(fs, "datasets/served", "datasets/tampered")
    manifest = json.loads(fs.cat_file("datasets/tampered/manifest.json"))
    data = [f["path"] for f in manifest["files"] if f["kind"] == "data"]
    fs.pipe_file(f"datasets/tampered/{data[0]}", fs.cat_file(f"datasets/tampered/{data[1]}"))
    fs.rm_file(f"datasets/tampered/{data[1]}")
    fs.pipe_file("datasets/tampered/data/part-99999.parquet", b"not listed")
    fs.pipe_file("datasets/tampered/.consentcrawl/lock", b"run state, not content")
    rc, out, _ = _cli(["verify", "s3://datasets/tampered"], capsys)
    assert rc == 1
    fails = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert any(line.startswith(f"FAIL {data[0]}: ") and "content changed" in line for line in fails), out
    assert f"FAIL {data[1]}: missing" in fails
    assert "FAIL data/part-99999.parquet: extra file not in the manifest" in fails
    assert not any(".consentcrawl" in line for line in fails)
    # the very same messages as verify on a local copy of the tampered folder
    local = tmp_path / "tampered"
    fs.get("datasets/tampered/", str(local), recursive=True)
    shutil.rmtree(local / ".consentcrawl")
    assert verify("s3://datasets/tampered") == verify(local)
    # an edited manifest fails the Merkle check, an unreadable one names the URL
    manifest["counts"]["kept"] += 1
    fs.pipe_file("datasets/tampered/manifest.json", json.dumps(manifest).encode())
    assert any("merkle_root does not match" in p for p in verify("s3://datasets/tampered"))
    fs.pipe_file("datasets/tampered/manifest.json", b"{not json")
    rc, out, _ = _cli(["verify", "s3://datasets/tampered"], capsys)
    assert rc == 1 and out.startswith("FAIL s3://datasets/tampered/manifest.json: not valid JSON"), out


def test_remote_folders_that_are_not_datasets(s3: str, capsys: pytest.CaptureFixture[str]) -> None:
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.pipe_file("datasets/not-a-dataset/notes.txt", b"hello")
    for argv, needle in [
        (["verify", "s3://datasets/nothing-here"], "dataset folder not found: s3://datasets/nothing-here"),
        (["lookup", "s3://datasets/not-a-dataset", "example.org"], "folder without manifest.json"),
        (["publish", "s3://datasets/not-a-dataset/notes.txt"], "is a file, not a dataset folder"),
        (["verify", "s3://no-such-bucket/ds"], "dataset folder not found"),
    ]:
        rc, out, err = _cli(argv, capsys)
        assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1, (argv, err)


def _kept_and_excluded(copy: Path) -> tuple[str, str, str]:
    import polars as pl

    kept = pl.read_parquet(copy / "data" / "part-00000.parquet", columns=["url"])["url"][0]
    ledger = pl.read_parquet(copy / "excluded" / "part-00000.parquet", columns=["url", "reason"])
    excluded = ledger.filter(pl.col("reason") == "optout:robots")["url"][0]
    host = pl.read_parquet(copy / "data" / "part-00000.parquet", columns=["host"])["host"][0]
    return kept, excluded, host


def test_lookup_on_a_remote_folder_answers_as_on_a_local_copy(served: tuple[str, Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.manifest.targets import parse_target

    url, copy = served
    kept, excluded, host = _kept_and_excluded(copy)
    domain = parse_target(host).domain
    for query in (kept, excluded, host, domain, "https://never-crawled.example.org/"):
        remote = _cli(["lookup", url, query, "--json"], capsys)
        local = _cli(["lookup", copy, query, "--json"], capsys)
        assert remote == local, query
    answers = {q: json.loads(_cli(["lookup", url, q, "--json"], capsys)[1])["verdict"] for q in (kept, excluded)}
    assert answers == {kept: "in-dataset", excluded: "excluded"}
    rc, out, _ = _cli(["lookup", url, excluded], capsys)  # the human answer names the store's folder
    assert rc == 1 and f"in {url} (dataset version 1" in out
    assert "optout:robots: robots.txt " in out and "disallows" in out


def test_publish_and_report_into_a_remote_folder(served: tuple[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    _copy_within(fs, "datasets/served", "datasets/published")
    local = tmp_path / "published"
    fs.get("datasets/published/", str(local), recursive=True)
    args = ["--name", "served-sample", "--date", "2026-01-31"]
    rc, out, err = _cli(["publish", "s3://datasets/published", *args], capsys)
    assert rc == 0, err
    listed = [line.strip() for line in out.splitlines()[1:] if line.strip()]
    assert out.startswith(f"wrote {len(listed)} file(s) in s3://datasets/published and listed them in manifest.json:")
    assert {"README.md", "croissant.json", "report/index.html", "lookup/index.html"} <= set(listed)
    assert _cli(["publish", local, *args], capsys)[0] == 0
    fs.invalidate_cache()  # this test's own listing cache predates the publish
    # the same bytes as publishing a local copy: card, croissant.json, report/ and the re-sealed manifest
    names = sorted(p.removeprefix("datasets/published/") for p in fs.find("datasets/published"))
    assert names == sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    for name in names:
        assert fs.cat_file(f"datasets/published/{name}") == (local / name).read_bytes(), name
    assert not [n for n in names if n.endswith(".tmp")]
    assert verify("s3://datasets/published") == []
    # report alone replaces report/ on the store, and the folder still verifies
    fs.pipe_file("datasets/published/report/stale.png", b"from an older report")
    rc, out, err = _cli(["report", "s3://datasets/published"], capsys)
    assert rc == 0 and "wrote s3://datasets/published/report/index.html and 6 plot(s)" in out, err
    fs.invalidate_cache()
    assert not fs.exists("datasets/published/report/stale.png")
    assert verify("s3://datasets/published") == []
    # a tampered remote folder is refused before anything is written
    fs.pipe_file("datasets/published/data/part-00000.parquet", b"changed")
    before = fs.cat_file("datasets/published/manifest.json")
    rc, _, err = _cli(["publish", "s3://datasets/published"], capsys)
    assert rc == 2 and "does not verify" in err and fs.cat_file("datasets/published/manifest.json") == before


def test_revoke_and_sign_ask_for_a_local_copy(served: tuple[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = served
    removals = tmp_path / "removals.txt"
    removals.write_text("example.org\n")
    for argv in (["revoke", url, "--removals", removals, "--out", tmp_path / "v2"],
                 ["sign", url, "--key", tmp_path / "none.key"]):
        rc, _, err = _cli(argv, capsys)
        assert rc == 2 and "works on a local folder" in err and len(err.strip().splitlines()) == 1


def test_remote_scans_fetch_only_the_needed_columns_and_row_groups(s3: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Byte ranges actually fetched from the store, counted at s3fs's one read call, on a file whose
    `text` column dwarfs `host` (as in real data) and whose row groups are sorted by host."""
    import os

    import fsspec
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq
    import s3fs

    from pipeline.manifest.dataset import Dataset
    from pipeline.manifest.targets import parse_target
    from pipeline.storage import OutputFolder

    hosts = [f"www.site{i:02d}.org" for i in range(20) for _ in range(200)]
    table = pa.table({"id": [f"{i:08d}" for i in range(len(hosts))], "url": [f"http://{h}/" for h in hosts],
                      "host": hosts, "text": [os.urandom(600).hex() for _ in hosts]})
    local = tmp_path / "big.parquet"
    pq.write_table(table, local, row_group_size=200, compression="zstd")
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.put_file(str(local), "datasets/big/data/part-00000.parquet")
    fetched: list[int] = []
    real = s3fs.core.S3File._fetch_range

    def counting(self: object, start: int, end: int) -> bytes:
        data = real(self, start, end)
        fetched.append(len(data))
        return bytes(data)

    monkeypatch.setattr(s3fs.core.S3File, "_fetch_range", counting)
    target = parse_target("www.site07.org")
    ds = Dataset(OutputFolder("s3://datasets/big"), {"files": []})
    got = ds.collect(["data/part-00000.parquet"], target.host_predicate(), ["id", "url"], target.host_filter())
    want = pl.read_parquet(local).filter(pl.col("host") == "www.site07.org").select("id", "url")
    assert got.drop("file").equals(want) and set(got["file"]) == {"data/part-00000.parquet"}
    assert 0 < sum(fetched) < local.stat().st_size / 20, (sum(fetched), local.stat().st_size)
