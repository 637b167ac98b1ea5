"""A run never touches what it did not write, and always uses the bytes its manifest names.

Each test is a repro of issue 14 sections 1, 2 and 4 (duplicate inputs) and 6 (run usage errors),
driven the way an operator causes it: the real CLI, real files, a real long-lived Dask worker.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import ROOT, start_dask, stop_dask

from pipeline.cli import main
from pipeline.config import ConfigError, load_config
from pipeline.ingest.warc import WarcReader
from pipeline.manifest import verify
from pipeline.optout.snapshot import SnapshotRow, origin, write_snapshot
from pipeline.runner import run_pipeline, task_key
from pipeline.shard import InputChanged, process_shard

SAMPLE = ROOT / "pipeline" / "sample"
SNAPSHOT = SAMPLE / "robots-snapshot.parquet"
WARC = SAMPLE / "sample-00000.warc.gz"


def _tree(folder: Path) -> dict[str, str]:
    """Every file under a folder with its sha256: what 'untouched' is checked against."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def _one_line_usage(code: int, err: str) -> None:
    assert code == 2, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("consentcrawl: error: "), err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def block_all_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot in which every host of the sample shard says `User-agent: *` / `Disallow: /`."""
    hosts = sorted({origin(d.url) for d in WarcReader(str(WARC)) if d.url})
    path = tmp_path_factory.mktemp("snap") / "block-all.parquet"
    write_snapshot([SnapshotRow(h, "2025-01-01T00:00:00Z", 200, b"User-agent: *\nDisallow: /\n", "test")
                    for h in hosts], path, made_by="test: block every host")
    return path


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished dataset folder, as a user has it after `run` (used read-only by the tests)."""
    tmp = tmp_path_factory.mktemp("released")
    cfg = tmp / "run.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {tmp / 'ds1'}\nrobots_snapshot: {SNAPSHOT}\nworkers: 1\n")
    run_pipeline(load_config(cfg))
    return tmp / "ds1"


# -- 1. a run never destroys what it did not write ---------------------------------------------


def test_output_dot_with_inputs_inside_is_refused_and_input_kept(tmp_path: Path, capsys, monkeypatch) -> None:
    """The issue's repro: inputs under data/, `output: .` -- the input used to be deleted."""
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    shutil.copyfile(WARC, proj / "data" / "crawl-00000.warc.gz")
    (proj / "config.yaml").write_text('inputs: ["data/*.warc.gz"]\noutput: .\nworkers: 1\n'
                                      f"robots_snapshot: {SNAPSHOT}\n")
    before = _tree(proj)
    monkeypatch.chdir(proj)
    code, err = _cli(capsys, "run", "--config", "config.yaml")
    _one_line_usage(code, err)
    assert "inside the output folder" in err
    assert _tree(proj) == before


def test_snapshot_inside_the_output_is_refused(released: Path, tmp_path: Path, capsys) -> None:
    before = _tree(released)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {released}\nrobots_snapshot: {released}/snapshots/robots.parquet\n")
    code, err = _cli(capsys, "run", "--config", str(cfg))
    _one_line_usage(code, err)
    assert "inside the output folder" in err and "snapshot" in err
    assert _tree(released) == before


@pytest.mark.parametrize("problem", ["model", "scheduler", "scheduler-syntax", "other-config", "same-config"])
def test_a_released_dataset_is_never_touched(released: Path, tmp_path: Path, capsys, problem: str) -> None:
    """A typo'd model, an unreachable scheduler, or another run into a finished dataset: one line, no change."""
    before = _tree(released)
    lines = [f"inputs: ['{WARC}']", f"output: {released}", f"robots_snapshot: {SNAPSHOT}", "workers: 1"]
    if problem == "model":
        lines.append("langid: {model: /nonexistent/lid.typo.bin}")
    if problem == "other-config":
        lines.append("policy: ai-training")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    argv = ["run", "--config", str(cfg)]
    if problem == "scheduler":
        argv += ["--scheduler", "tcp://127.0.0.1:1"]
        import dask

        with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
            from pipeline import runner

            old = runner.CONNECT_TIMEOUT
            runner.CONNECT_TIMEOUT = 2.0
            try:
                # the output check comes first: point the run at a fresh folder to reach the connect
                cfg.write_text(cfg.read_text().replace(f"output: {released}", f"output: {tmp_path / 'new'}"))
                code, err = _cli(capsys, *argv)
            finally:
                runner.CONNECT_TIMEOUT = old
        assert not (tmp_path / "new").exists()
    else:
        if problem == "scheduler-syntax":
            argv += ["--scheduler", "notaurl"]
        code, err = _cli(capsys, *argv)
    _one_line_usage(code, err)
    assert _tree(released) == before


def test_a_non_empty_folder_is_refused_naming_it(tmp_path: Path, capsys) -> None:
    mine = tmp_path / "my-folder"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {mine}\nrobots_snapshot: {SNAPSHOT}\n")
    code, err = _cli(capsys, "run", "--config", str(cfg))
    _one_line_usage(code, err)
    assert str(mine) in err and "not empty" in err
    assert _tree(mine) == {"thesis.tex": hashlib.sha256(b"years of work").hexdigest()}


def test_own_unfinished_output_restarts_without_touching_other_files(tmp_path: Path) -> None:
    """A fresh start of this config's own interrupted run is allowed; it replaces only its own files."""
    out = tmp_path / "out"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {out}\nrobots_snapshot: {SNAPSHOT}\nworkers: 1\n")
    run_pipeline(load_config(cfg))
    (out / "manifest.json").unlink()  # as a killed driver leaves it
    (out / "NOTES.txt").write_text("the operator's notes")
    report = run_pipeline(load_config(cfg))
    assert not report.failed
    assert (out / "NOTES.txt").read_text() == "the operator's notes"


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_output_that_is_or_sits_under_a_file(tmp_path: Path, capsys, where: str) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    out = f if where == "file" else f / "sub"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {out}\nrobots_snapshot: {SNAPSHOT}\n")
    code, err = _cli(capsys, "run", "--config", str(cfg))
    _one_line_usage(code, err)
    assert "file" in err and f.read_text() == "x"


def test_a_second_concurrent_run_gets_one_line_and_the_first_is_untouched(tmp_path: Path, capsys) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(4):
        shutil.copyfile(WARC, inputs / f"c{i}.warc.gz")
    out = tmp_path / "out"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{inputs}/*.warc.gz']\noutput: {out}\nrobots_snapshot: {SNAPSHOT}\nworkers: 1\n")
    first = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--config", str(cfg)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / ".consentcrawl" / "run.json").is_file():
            assert time.monotonic() < deadline and first.poll() is None, "the first run did not start"
            time.sleep(0.05)
        for argv in (["run", "--config", str(cfg)], ["run", "--config", str(cfg), "--resume"]):
            code, err = _cli(capsys, *argv)
            _one_line_usage(code, err)
            assert "another consentcrawl run is writing" in err
    finally:
        _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert verify(out) == []


# -- 2. the snapshot and model a shard used are the ones the manifest names ---------------------


def _kept(out: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "data").glob("*.parquet"))


def test_long_lived_worker_sees_a_snapshot_replaced_in_place(tmp_path: Path, block_all_snapshot: Path) -> None:
    """Same path, new bytes, same `dask worker`: the second run must use the new rules."""
    snap = tmp_path / "robots.parquet"
    shutil.copyfile(SNAPSHOT, snap)
    address, procs = start_dask(tmp_path, workers=1)
    try:
        def run(out: Path) -> dict:
            cfg = tmp_path / f"{out.name}.yaml"
            cfg.write_text(f"inputs: ['{WARC}']\noutput: {out}\nrobots_snapshot: {snap}\n")
            return run_pipeline(load_config(cfg), scheduler=address).manifest

        first = run(tmp_path / "a")
        assert _kept(tmp_path / "a") > 0
        shutil.copyfile(block_all_snapshot, snap)  # replaced in place, as an operator does
        second = run(tmp_path / "b")
    finally:
        stop_dask(procs)
    assert _kept(tmp_path / "b") == 0
    assert second["counts"]["kept"] == 0
    named = second["snapshots"][0]["sha256"]
    assert named == hashlib.sha256(block_all_snapshot.read_bytes()).hexdigest() != first["snapshots"][0]["sha256"]
    assert verify(tmp_path / "b") == []


def test_resume_after_the_snapshot_changed_redoes_every_shard(tmp_path: Path, block_all_snapshot: Path,
                                                             capsys) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(3):
        shutil.copyfile(WARC, inputs / f"c{i}.warc.gz")
    snap = tmp_path / "robots.parquet"
    shutil.copyfile(SNAPSHOT, snap)
    out = tmp_path / "out"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{inputs}/*.warc.gz']\noutput: {out}\nrobots_snapshot: {snap}\nworkers: 1\n")
    run_pipeline(load_config(cfg))
    (out / "manifest.json").unlink()  # interrupted after every shard finished
    shutil.copyfile(block_all_snapshot, snap)
    code = main(["run", "--config", str(cfg), "--resume"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "robots_snapshot changed since the interrupted run" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["kept"] == 0 and _kept(out) == 0
    log = [json.loads(line) for line in (out / "run-log.jsonl").read_text().splitlines()]
    assert not [e for e in log if e["event"] == "skipped"]
    assert sorted(e["shard"] for e in log if e["event"] == "shard") == [0, 1, 2]
    # byte for byte what a clean run with the new snapshot gives
    clean = tmp_path / "clean"
    cfg2 = tmp_path / "c2.yaml"
    cfg2.write_text(cfg.read_text().replace(f"output: {out}", f"output: {clean}"))
    run_pipeline(load_config(cfg2))
    for f in json.loads((clean / "manifest.json").read_text())["files"]:
        assert (clean / f["path"]).read_bytes() == (out / f["path"]).read_bytes(), f["path"]
    assert verify(out) == []


def test_resume_after_an_input_changed_redoes_that_shard_and_says_so(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(2):
        shutil.copyfile(WARC, inputs / f"c{i}.warc.gz")
    out = tmp_path / "out"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{inputs}/*.warc.gz']\noutput: {out}\nrobots_snapshot: {SNAPSHOT}\nworkers: 1\n")
    run_pipeline(load_config(cfg))
    (out / "manifest.json").unlink()
    shutil.copyfile(SAMPLE / "sample-00001.warc.gz", inputs / "c1.warc.gz")
    report = run_pipeline(load_config(cfg), resume=True)
    assert report.resumed == [0]
    assert any("c1.warc.gz changed" in n for n in report.notes)
    assert report.manifest["inputs"][1]["sha256"] == hashlib.sha256((inputs / "c1.warc.gz").read_bytes()).hexdigest()
    assert verify(out) == []


def test_snapshot_changed_between_plan_and_run_is_refused(tmp_path: Path, block_all_snapshot: Path) -> None:
    snap = tmp_path / "robots.parquet"
    shutil.copyfile(SNAPSHOT, snap)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {tmp_path / 'out'}\nrobots_snapshot: {snap}\nworkers: 1\n")
    config = load_config(cfg)
    shutil.copyfile(block_all_snapshot, snap)
    with pytest.raises(ConfigError, match="changed since the run was planned"):
        run_pipeline(config)
    # a worker handed the old plan refuses too, whatever it has cached
    with pytest.raises(InputChanged, match="changed since the run was planned"):
        process_shard(0, str(WARC), config, str(tmp_path / "worker-out"))


def test_worker_uses_the_planned_model_bytes(tmp_path: Path) -> None:
    """A model file replaced in place: the same process loads the new bytes or refuses, never the old."""
    from pipeline.langid.model import resolve_models

    ours, lid176 = resolve_models("default")
    model = tmp_path / "model.ftz"
    shutil.copyfile(lid176, model)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {tmp_path / 'o'}\nrobots_snapshot: {SNAPSHOT}\n"
                   f"langid: {{model: {model}}}\n")
    first = load_config(cfg)
    res1 = process_shard(0, str(WARC), first, str(tmp_path / "o1"))
    shutil.copyfile(ours, model)
    second = load_config(cfg)
    assert second.sha256 != first.sha256
    res2 = process_shard(0, str(WARC), second, str(tmp_path / "o2"))
    assert set(res1.languages) != set(res2.languages)  # lid.176 vs our model: other label sets
    with pytest.raises(InputChanged, match="langid.model"):
        process_shard(0, str(WARC), first, str(tmp_path / "o3"))


# -- 4. inputs that are one file under two names -------------------------------------------------


def test_symlinked_inputs_are_refused_and_task_keys_are_per_index(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(WARC, data / "a.warc.gz")
    (data / "b.warc.gz").symlink_to(data / "a.warc.gz")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{data}/*.warc.gz']\noutput: {tmp_path / 'out'}\nrobots_snapshot: {SNAPSHOT}\n")
    code, err = _cli(capsys, "run", "--config", str(cfg))
    _one_line_usage(code, err)
    assert "same file" in err
    (data / "b.warc.gz").unlink()
    shutil.copyfile(WARC, data / "b.warc.gz")
    config = load_config(cfg)
    keys = {task_key(i, u, config) for i, u in enumerate(config.inputs)}
    assert len(keys) == 2


# -- 6. run usage errors: one line, exit 2 -----------------------------------------------------


@pytest.mark.parametrize("extra, key", [
    ("extract: {max_seconds: -5}", "extract.max_seconds"),
    ("limits: {max_payload_bytes: -1}", "limits.max_payload_bytes"),
    ("langid: {thresholds: /nonexistent/t.yaml}", "langid.thresholds"),
    ("retries: -1", "retries"),
])
def test_bad_values_are_refused_with_one_line(tmp_path: Path, capsys, extra: str, key: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {tmp_path / 'out'}\nrobots_snapshot: {SNAPSHOT}\n{extra}\n")
    code, err = _cli(capsys, "run", "--config", str(cfg))
    _one_line_usage(code, err)
    assert key in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, why", [(b"not parquet at all", "not usable"), (None, "lacks")])
def test_bad_snapshot_files_are_refused_with_one_line(tmp_path: Path, capsys, content: bytes | None,
                                                      why: str) -> None:
    snap = tmp_path / "s.parquet"
    if content is None:
        import pyarrow as pa

        pq.write_table(pa.table({"host": ["https://a.example"]}), snap)
    else:
        snap.write_bytes(content)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {tmp_path / 'out'}\nrobots_snapshot: {snap}\n")
    code, err = _cli(capsys, "run", "--config", str(cfg))
    _one_line_usage(code, err)
    assert why in err


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **kw: _Files(*a, directory=str(root), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_http_input_404_is_one_line(tmp_path: Path, capsys, http_folder: tuple[str, Path]) -> None:
    base, root = http_folder
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{base}/missing.warc.gz']\noutput: {tmp_path / 'out'}\nrobots_snapshot: {SNAPSHOT}\n")
    code, err = _cli(capsys, "run", "--config", str(cfg))
    _one_line_usage(code, err)
    assert "missing.warc.gz" in err


def test_http_input_gone_after_planning_fails_its_shard_in_one_line(tmp_path: Path,
                                                                   http_folder: tuple[str, Path]) -> None:
    base, root = http_folder
    shutil.copyfile(WARC, root / "a.warc.gz")
    shutil.copyfile(WARC, root / "b.warc.gz")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{base}/a.warc.gz', '{base}/b.warc.gz']\noutput: {tmp_path / 'out'}\n"
                   f"robots_snapshot: {SNAPSHOT}\nworkers: 1\nretries: 1\n")
    config = load_config(cfg)
    (root / "b.warc.gz").unlink()
    report = run_pipeline(config)
    assert len(report.failed) == 1 and "b.warc.gz" in report.failed[0]
    assert "\n" not in report.failed[0] and len(report.failed[0]) < 700
    log = [json.loads(line) for line in (tmp_path / "out" / "run-log.jsonl").read_text().splitlines()]
    assert [e["shard"] for e in log if e["event"] == "retry"] == [1]
    assert report.manifest["counts"]["balanced"]


def test_unwritable_output_is_one_line(tmp_path: Path, capsys) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write into any folder: the permission check cannot fail here")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{WARC}']\noutput: {ro / 'out'}\nrobots_snapshot: {SNAPSHOT}\n")
    code, err = _cli(capsys, "run", "--config", str(cfg))
    _one_line_usage(code, err)
    assert "not writable" in err


def test_ctrl_c_is_one_line_and_the_run_resumes(tmp_path: Path) -> None:
    """SIGINT to the whole foreground group, as a terminal sends it: no worker tracebacks, no orphans."""
    import signal

    import psutil

    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(6):
        shutil.copyfile(WARC, inputs / f"c{i}.warc.gz")
    out = tmp_path / "out"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{inputs}/*.warc.gz']\noutput: {out}\nrobots_snapshot: {SNAPSHOT}\nworkers: 2\n")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--config", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list((out / ".consentcrawl").glob("shard-*.json")):
        assert time.monotonic() < deadline and proc.poll() is None, "no shard finished"
        time.sleep(0.05)
    family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "consentcrawl: interrupted", err
    time.sleep(1)
    assert not [p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    report = run_pipeline(load_config(cfg), resume=True)
    assert report.resumed and not report.failed
    assert verify(out) == []
