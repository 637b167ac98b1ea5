"""Property tests: no byte sequence makes the WARC reader, the robots.txt parser or extraction raise.

Crawl data is hostile by volume: across 90,000 WARC files every malformed record that can exist
does. One exception in a parser must never end a shard, and every record must still be counted
once with a reason. The checkers and mutators are those of scripts/fuzz.py (which runs the same
targets with 100,000+ cases); here hypothesis drives them for a few hundred examples each.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.optout.robots import RobotsTxt, is_allowed


def _load_fuzz() -> ModuleType:
    name = "consentcrawl_fuzz"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "fuzz.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


fuzz = _load_fuzz()
CORPUS = fuzz.load_corpus(full=False)  # bundled sample + small shared sets; read in place
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

positions = st.integers(0, 2**30)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=16)),
        st.tuples(st.sampled_from(["flip", "set", "delete", "dup", "token", "truncate"]), positions,
                  st.integers(0, 5000)),
    ),
    max_size=8,
)
max_payloads = st.sampled_from(fuzz.MAX_PAYLOADS)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every WARC example: each overwrites the previous case file."""
    return tmp_path_factory.mktemp("fuzz")


def test_corpus_is_real_data() -> None:
    assert len(CORPUS.records) >= 100 and len(CORPUS.html) >= 100 and len(CORPUS.robots_lines) >= 500


# --- WARC reader --------------------------------------------------------------------------------


@FAST
@given(blob=st.binary(max_size=4096), cap=max_payloads)
def test_warc_reader_random_bytes(workdir: Path, blob: bytes, cap: int) -> None:
    fuzz.check_warc(fuzz.WarcCase(blob, cap), workdir)


@FAST
@given(members=st.lists(st.binary(max_size=600), min_size=1, max_size=4), cut=st.none() | st.integers(0, 5000),
       cap=max_payloads)
def test_warc_reader_random_gzip_members(workdir: Path, members: list[bytes],
                                         cut: int | None, cap: int) -> None:
    blob = b"".join(fuzz.gzip_member(m) for m in members)
    fuzz.check_warc(fuzz.WarcCase(blob if cut is None else blob[:cut], cap), workdir)


@QUICK
@given(
    index=st.integers(0, len(CORPUS.records) - 1),
    keep=st.sampled_from([300, 5000, 100_000, None]),
    edits=st.lists(st.tuples(st.sampled_from(fuzz.HEADER_NAMES),
                             st.none() | st.sampled_from(fuzz.HEADER_VALUES) | st.binary(max_size=20)), max_size=3),
    mutations=ops,
    packing=st.sampled_from(["gzip", "plain", "gzip-then-mutate"]),
    neighbours=st.booleans(),
    cut=st.none() | st.integers(0, 200_000),
    cap=max_payloads,
)
def test_warc_reader_mutated_real_record(workdir: Path, index: int, keep: int | None,
                                         edits: list, mutations: list, packing: str, neighbours: bool,
                                         cut: int | None, cap: int) -> None:
    record = fuzz.apply_ops(fuzz.edit_headers(CORPUS.records[index][:keep], edits),
                            mutations if packing != "gzip-then-mutate" else [])
    records = [CORPUS.records[0], record, CORPUS.records[-1]] if neighbours else [record]
    if packing == "plain":
        blob = b"".join(records)
    else:
        blob = b"".join(fuzz.gzip_member(r) for r in records)
        if packing == "gzip-then-mutate":
            blob = fuzz.apply_ops(blob, mutations)
    fuzz.check_warc(fuzz.WarcCase(blob if cut is None else blob[:cut], cap), workdir)


@FAST
@given(rng=st.randoms(use_true_random=False))
def test_warc_reader_script_generator(workdir: Path, rng: random.Random) -> None:
    fuzz.check_warc(fuzz.gen_warc(rng, CORPUS), workdir)


def test_warc_reader_accounts_for_every_record_of_a_real_file(tmp_path: Path) -> None:
    """Sanity for the checker itself: an intact real file yields documents, not errors."""
    blob = b"".join(CORPUS.members[:20])
    reasons = fuzz.check_warc(fuzz.WarcCase(blob, 8 * 1024 * 1024), tmp_path)
    assert reasons["document"] >= 5 and not any(k.startswith("errored") for k in reasons), reasons


# --- robots.txt ---------------------------------------------------------------------------------

agents = st.sampled_from(CORPUS.agents) | st.text(max_size=20)
urls = st.lists(st.text(max_size=60) | st.builds(lambda p: "https://example.com/" + p, st.text(max_size=40)),
                min_size=1, max_size=4)


@QUICK
@given(body=st.binary(max_size=3000), agent=agents, url_list=urls)
def test_robots_random_bytes(body: bytes, agent: str, url_list: list[str]) -> None:
    fuzz.check_robots(fuzz.RobotsCase(body, agent, url_list))


@QUICK
@given(
    lines=st.lists(st.tuples(st.sampled_from(CORPUS.robots_lines), ops), min_size=1, max_size=40),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    bom=st.booleans(),
    agent=agents,
    url_list=urls,
)
def test_robots_mutated_real_lines(lines: list[tuple[bytes, list]], newline: bytes, bom: bool, agent: str,
                                   url_list: list[str]) -> None:
    body = (b"\xef\xbb\xbf" if bom else b"") + newline.join(fuzz.apply_ops(line, m) for line, m in lines)
    fuzz.check_robots(fuzz.RobotsCase(body, agent, url_list))


@FAST
@given(rng=st.randoms(use_true_random=False))
def test_robots_script_generator(rng: random.Random) -> None:
    fuzz.check_robots(fuzz.gen_robots(rng, CORPUS))


@QUICK
@given(body=st.binary(max_size=2000) | st.text(max_size=500), agent=st.text(max_size=30),
       query=st.sampled_from(["", "?", "?a=1", "?/robots.txt"]))
def test_robots_txt_itself_is_always_allowed(body: bytes | str, agent: str, query: str) -> None:
    for url in ("/robots.txt", "http://h/robots.txt", "https://h:1/robots.txt"):
        assert is_allowed(body, agent, url + query)
        assert RobotsTxt.parse(body).verdict(agent, url + query).allowed


# --- HTML extraction ----------------------------------------------------------------------------

content_types = st.sampled_from(fuzz._CONTENT_TYPES) | st.text(max_size=30)


@QUICK
@given(html=st.binary(max_size=4096), ctype=content_types, main=st.booleans())
def test_extraction_random_bytes(html: bytes, ctype: str, main: bool) -> None:
    fuzz.check_html(fuzz.HtmlCase(html, ctype, main))


@FAST
@given(index=st.integers(0, len(CORPUS.html) - 1), start=st.integers(0, 10**6),
       size=st.sampled_from([500, 5000, 50_000]), mutations=ops, ctype=content_types, main=st.booleans())
def test_extraction_mutated_real_html(index: int, start: int, size: int, mutations: list, ctype: str,
                                      main: bool) -> None:
    page = CORPUS.html[index]
    start %= max(1, len(page) - size)
    fuzz.check_html(fuzz.HtmlCase(fuzz.apply_ops(page[start : start + size], mutations), ctype, main))


@FAST
@given(rng=st.randoms(use_true_random=False))
def test_extraction_script_generator(rng: random.Random) -> None:
    fuzz.check_html(fuzz.gen_html(rng, CORPUS))


def test_checkers_reject_a_broken_guarantee(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The checkers are only worth something if they fail: break the reader's count and see."""
    from pipeline.ingest import warc

    original = warc.WarcReader._iterate

    def overcounting(self: Any, fh: Any, size: Any) -> Any:
        yield from original(self, fh, size)
        self.records_read += 1

    monkeypatch.setattr(warc.WarcReader, "_iterate", overcounting)
    with pytest.raises(fuzz.InvariantError, match="records_read"):
        fuzz.check_warc(fuzz.WarcCase(CORPUS.members[0], 1 << 20), tmp_path)
