"""The memory-mapped snapshot index: same answers as the dict-based loader, identity by sha256,
safe concurrent builds, one-line errors, and a bounded compiled-rules cache.

The reference (`_dict_load`) is the dict-based loader the index replaced, kept here verbatim in
behaviour: every row read, host through origin(), newest entry on or before the cut-off, a later
row winning a tie.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, shared_path

from pipeline.optout import snapshot as S
from pipeline.optout.decide import RobotsFilter, rules_size
from pipeline.optout.policy import load_policy
from pipeline.optout.snapshot import (
    Entry,
    SnapshotError,
    SnapshotRow,
    as_of_bound,
    build_index,
    load_snapshot,
    origin,
    validate_snapshot,
    write_snapshot,
)

SAMPLE = ROOT / "pipeline" / "sample" / "robots-snapshot.parquet"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own cache folder and a process state with nothing remembered."""
    monkeypatch.setenv(S.CACHE_ENV, str(tmp_path / "cache"))
    load_snapshot.cache_clear()  # type: ignore[attr-defined]
    yield tmp_path / "cache"
    load_snapshot.cache_clear()  # type: ignore[attr-defined]


def _dict_load(path: Path, as_of: str | None) -> dict[str, Entry]:
    """The dict-based loader's host -> entry, row by row."""
    table = pq.ParquetFile(path).read()
    cols = {c: table.column(c).to_pylist() for c in table.column_names}
    n = table.num_rows
    bound = as_of_bound(as_of) if as_of is not None else None
    out: dict[str, Entry] = {}
    for i in range(n):
        fetched = str(cols["fetched_at"][i] or "")
        if bound is not None and fetched > bound:
            continue
        body = cols["body"][i] or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        digest = (cols.get("body_sha256") or [None] * n)[i] or hashlib.sha256(body).hexdigest()
        host = origin(str(cols["host"][i]))
        status = int(cols["http_status"][i] or 0)
        esha = (cols.get("entry_sha256") or [None] * n)[i] or S.entry_sha256(host, fetched, status, digest)
        entry = Entry(host, fetched, status, body, digest, str((cols.get("source") or [""] * n)[i] or ""), esha)
        prev = out.get(host)
        if prev is None or entry.fetched_at >= prev.fetched_at:
            out[host] = entry
    return out


def _dict_lookup(ref: dict[str, Entry], url: str) -> tuple[Entry | None, str]:
    key = origin(url)
    if key in ref:
        return ref[key], "origin"
    scheme, _, rest = key.partition("://")
    other = f"{'http' if scheme == 'https' else 'https'}://{rest}"
    return (ref[other], "other-scheme") if other in ref else (None, "none")


def _assert_same(path: Path, as_of: str | None, extra_urls: tuple[str, ...] = ()) -> None:
    ref = _dict_load(path, as_of)
    snap = load_snapshot(str(path), as_of)
    assert len(snap) == len(ref)
    assert dict(snap.entries()) == ref
    urls = [u for h in ref for u in (h + "/x", h.replace("https://", "http://", 1) + "/y?q",
                                      h.replace("http://", "https://", 1) + "/")]
    for url in urls + list(extra_urls):
        assert snap.lookup(url) == _dict_lookup(ref, url), url


def test_sample_snapshot_same_lookups_as_the_dict_loader() -> None:
    for as_of in (None, "2022-03-01", "2025-01-31", "2025-06", "2030-01-01", "1990-01-01"):
        _assert_same(SAMPLE, as_of, ("https://not-in-the-snapshot.example/", "http://www.reddit.com/r/x"))


def _synthetic(path: Path, n: int) -> list[str]:
    """n hosts with 1-3 dated entries, some written un-normalised, on both schemes, ties included."""
    bodies = [b"User-agent: *\nDisallow: /private\n", b"User-agent: GPTBot\nDisallow: /\n", b"", b"\xff\xfe junk"]
    hosts, fetched, status, body, source = [], [], [], [], []
    names = []
    for i in range(n):
        name = f"h{i}.example" if i % 7 else f"H{i}.Example."  # upper case and trailing dot: origin() fixes
        scheme = "http" if i % 5 == 0 else "https"
        port = ":443" if i % 11 == 0 and scheme == "https" else (":8080" if i % 13 == 0 else "")
        raw = f"{scheme}://{name}{port}" if i % 17 else name  # no scheme: origin() reads it as it did
        names.append(origin(raw))
        for k in range(1 + i % 3):
            hosts.append(raw)
            fetched.append(f"2025-0{1 + k * 3}-15T00:00:00Z" if i % 19 else "2025-04-15T00:00:00Z")  # ties
            status.append((200, 404, 503, 301, 200)[(i + k) % 5])
            body.append(bodies[(i * 3 + k) % len(bodies)])
            source.append(f"synthetic#{i}.{k}")
    hosts.append(None)  # a null host: the dict loader made it origin("None")
    fetched.append(None)
    status.append(None)
    body.append(None)
    source.append(None)
    pq.write_table(pa.table({"host": hosts, "fetched_at": fetched, "http_status": pa.array(status, pa.int32()),
                             "body": pa.array(body, pa.binary()), "source": source}), path, row_group_size=997)
    return names


def test_synthetic_hosts_same_lookups_as_the_dict_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "synthetic.parquet"
    names = _synthetic(path, 3000)
    monkeypatch.setattr(S, "BATCH_ROWS", 500)  # several record batches in the index
    for as_of in (None, "2025-01-31", "2025-04-15", "2025-06-30"):
        _assert_same(path, as_of, tuple(n + "/p" for n in names[:200]) + ("https://h1.example:8080/",))


def test_hash_collisions_are_resolved_by_the_host(tmp_path: Path) -> None:
    """8-bit keys: 3,000 hosts share 256 keys, so every lookup walks a run of equal keys."""
    path = tmp_path / "synthetic.parquet"
    _synthetic(path, 3000)
    sha = S.file_sha256(path)
    folder = tmp_path / "idx8"
    build_index(path, sha, None, folder, key_bits=8)
    index = S._Index(folder)
    assert index.bits == 8 and len(set(index.keys.tolist())) <= 256
    ref = _dict_load(path, None)
    for host, entry in ref.items():
        at = index.find(host)
        assert at is not None and index.entry(*at, host=host) == entry
        assert index.find(host + "x") is None or host + "x" in ref
    assert index.find("https://absent.example") is None


def test_as_of_is_the_same_as_before(tmp_path: Path) -> None:
    path = tmp_path / "dated.parquet"
    write_snapshot([
        SnapshotRow("https://news.example", "2025-01-05T08:00:00Z", 200, b"User-agent: *\nAllow: /\n"),
        SnapshotRow("https://news.example", "2025-03-10T10:00:00Z", 200, b"User-agent: GPTBot\nDisallow: /\n"),
        SnapshotRow("https://later.example", "2025-06-01T00:00:00Z", 200, b""),
    ], path, made_by="test")
    on_the_day = load_snapshot(str(path), "2025-03-10")  # a bare date includes that day
    assert on_the_day.lookup("https://news.example/a")[0].fetched_at == "2025-03-10T10:00:00Z"
    before = load_snapshot(str(path), "2025-03-09")
    assert before.lookup("https://news.example/a")[0].fetched_at == "2025-01-05T08:00:00Z"
    assert before.lookup("https://later.example/")[0] is None and len(before) == 1
    assert len(load_snapshot(str(path))) == 2
    with pytest.raises(SnapshotError):
        load_snapshot(str(path), "someday")


def _open_in_child(path: str, cache: str, q: mp.Queue) -> None:
    os.environ[S.CACHE_ENV] = cache
    snap = S.load_snapshot(path)
    q.put((len(snap), snap.index_path, [tuple(e) for _, e in snap.entries()]))


def test_two_processes_build_and_open_the_same_index_at_once(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "synthetic.parquet"
    _synthetic(path, 3000)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_open_in_child, args=(str(path), str(cache), q)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0] == results[1]
    ref = _dict_load(path, None)
    assert results[0][0] == len(ref) and sorted(results[0][2]) == sorted(tuple(e) for e in ref.values())
    folders = [d.name for d in (cache / "snapshots").iterdir() if d.name != "hashes"]
    assert folders == [Path(results[0][1]).name]  # one index, no temporary folder left


def test_replaced_file_new_sha_new_rules_old_sha_fails(tmp_path: Path) -> None:
    path = tmp_path / "robots.parquet"
    write_snapshot([SnapshotRow("https://a.example", "2025-01-01T00:00:00Z", 200, b"User-agent: *\nAllow: /\n")],
                   path, made_by="test")
    old_sha = S.file_sha256(path)
    policy = load_policy("apertus")
    assert RobotsFilter(load_snapshot(str(path), None, old_sha), policy).decide("https://a.example/x").allowed
    # replaced in place (same name), as a user re-running a build would
    write_snapshot([SnapshotRow("https://a.example", "2025-01-01T00:00:00Z", 200, b"User-agent: *\nDisallow: /\n")],
                   path, made_by="test")
    new_sha = S.file_sha256(path)
    assert new_sha != old_sha
    snap = load_snapshot(str(path), None, new_sha)
    assert snap.file_sha256 == new_sha
    assert not RobotsFilter(snap, policy).decide("https://a.example/x").allowed
    with pytest.raises(SnapshotError) as err:
        load_snapshot(str(path), None, old_sha)
    msg = str(err.value)
    assert "\n" not in msg and "changed since the run was planned" in msg and old_sha in msg and new_sha in msg


def test_bad_files_raise_one_line(tmp_path: Path) -> None:
    text = tmp_path / "robots.parquet"
    text.write_text("host,body\nhttps://a.example,x\n")
    lacking = tmp_path / "lacking.parquet"
    pq.write_table(pa.table({"host": ["https://a.example"], "fetched_at": ["2025-01-01T00:00:00Z"]}), lacking)
    typed = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"host": ["https://a.example"], "fetched_at": ["2025-01-01T00:00:00Z"],
                             "http_status": ["200"], "body": [b""]}), typed)
    cases = [(text, "is not a readable Parquet file"), (lacking, "lacks column(s): http_status, body"),
             (typed, "column http_status is string, expected integer"), (tmp_path / "missing.parquet", "not found"),
             (tmp_path, "is a folder")]
    for path, words in cases:
        for call in (validate_snapshot, load_snapshot):
            with pytest.raises(SnapshotError) as err:
                call(str(path))
            assert words in str(err.value) and "\n" not in str(err.value), (path, str(err.value))
            assert str(path) in str(err.value)
    validate_snapshot(str(SAMPLE))


def test_never_writes_next_to_the_snapshot_and_survives_a_damaged_index(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "snap" / "robots.parquet"
    src.parent.mkdir()
    shutil.copyfile(SAMPLE, src)
    snap = load_snapshot(str(src))
    assert sorted(p.name for p in src.parent.iterdir()) == ["robots.parquet"]
    assert Path(snap.index_path).parent == cache / "snapshots"
    (Path(snap.index_path) / S.ROWS_FILE).write_bytes(b"broken")  # damaged: rebuilt, not trusted
    load_snapshot.cache_clear()  # type: ignore[attr-defined]
    again = load_snapshot(str(src))
    assert dict(again.entries()) == _dict_load(SAMPLE, None)


def test_rules_cache_is_bounded(tmp_path: Path) -> None:
    bodies = [f"User-agent: GPTBot\nDisallow: /private{i}/\nDisallow: /x{i}\n".encode() for i in range(300)]
    path = tmp_path / "many.parquet"
    write_snapshot([SnapshotRow(f"https://h{i}.example", "2025-01-01T00:00:00Z", 200, b) for i, b in enumerate(bodies)],
                   path, made_by="test")
    snap = load_snapshot(str(path))
    policy = load_policy("apertus")
    one = rules_size(RobotsFilter(snap, policy, 0)._compiled_for(snap.lookup("https://h0.example")[0]))  # type: ignore
    budget = one * 20
    f = RobotsFilter(snap, policy, rules_cache_bytes=budget)
    for _round in range(2):
        for i in range(300):
            d = f.decide(f"https://h{i}.example/private{i}/a")
            assert not d.allowed and d.rule == f"Disallow: /private{i}/"
            assert f.cache_info()["bytes"] <= budget
    info = f.cache_info()
    assert info["entries"] <= 20 and info["evictions"] >= 600 - 20 and info["misses"] == 600
    # hosts with identical files share one compiled entry; a recent one is a hit
    assert f.decide("https://h299.example/x299").allowed is False and f.cache_info()["hits"] == 1
    assert RobotsFilter(snap, policy, 0).cache_info()["max_bytes"] == 0
    with pytest.raises(ValueError):
        RobotsFilter(snap, policy, -1)


def test_real_bodies_index_like_the_dict_loader(tmp_path: Path) -> None:
    """Real robots.txt bodies (firewall sample, MIT) under their own hosts, two months each."""
    import json

    src = shared_path("robots_txt", "gpt_firewall_2025_sample.jsonl")
    rows = [json.loads(line) for line in src.read_text().splitlines()]
    path = tmp_path / "fw.parquet"
    write_snapshot([SnapshotRow(r["domain"], f"{r['snapshot_month']}-01T00:00:00Z", 200, r["body"].encode())
                    for r in rows], path, made_by="test")
    for as_of in (None, "2025-01-31"):
        _assert_same(path, as_of)
