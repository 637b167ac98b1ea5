"""Snapshot builders: robots.txt WARCs (redirects, statuses, bad bodies), published tables, merging,
and the ai-training policy list derived from ai.robots.txt.

WARC files are written here from real robots.txt bodies (texting_robots and gpt_firewall, MIT),
one gzip member per record as Common Crawl ships them.
"""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import ROOT, shared_path

from pipeline import cli as top
from pipeline.optout.build import (
    BuildReport,
    from_table,
    load_ai_robots_json,
    normalise_date,
    training_agents,
)
from pipeline.optout.decide import RobotsFilter
from pipeline.optout.policy import load_policy
from pipeline.optout.robots import RobotsTxt
from pipeline.optout.snapshot import (
    BODY_CAP,
    Snapshot,
    as_of_bound,
    load_snapshot,
    read_snapshot_meta,
    read_snapshot_rows,
)

POLICIES = ROOT / "configs" / "policies"


def cli(*argv: object) -> int:
    """`consentcrawl ...` in-process, through the real entry point."""
    return top.main([str(a) for a in argv])


# --------------------------------------------------------------------------------------------
# WARC writing helpers
# --------------------------------------------------------------------------------------------


def warc_record(rtype: str, url: str, date: str, block: bytes, content_type: str, **extra: str) -> bytes:
    headers = [
        "WARC/1.0",
        f"WARC-Type: {rtype}",
        f"WARC-Date: {date}",
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, rtype + url + date)}>",
        f"WARC-Target-URI: {url}",
        f"Content-Type: {content_type}",
        *(f"{k.replace('_', '-')}: {v}" for k, v in extra.items()),
        f"Content-Length: {len(block)}",
    ]
    return gzip.compress(("\r\n".join(headers) + "\r\n\r\n").encode() + block + b"\r\n\r\n", mtime=0)


def response(url: str, date: str, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
             **extra: str) -> bytes:
    """A request/response pair as Common Crawl writes it."""
    path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
    host = url.split("/")[2]
    req = f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: CCBot/2.0\r\n\r\n".encode()
    reason = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 500: "Internal Server Error"}
    head = f"HTTP/1.1 {status} {reason.get(status, 'X')}\r\n"
    for k, v in (headers or {"Content-Type": "text/plain"}).items():
        head += f"{k}: {v}\r\n"
    http = head.encode() + b"\r\n" + body
    return (warc_record("request", url, date, req, "application/http; msgtype=request")
            + warc_record("response", url, date, http, "application/http; msgtype=response", **extra))


def redirect(url: str, date: str, location: str, status: int = 301) -> bytes:
    return response(url, date, status, b"<html><body>Moved</body></html>",
                    {"Location": location, "Content-Type": "text/html"})


@pytest.fixture(scope="module")
def bodies() -> dict[str, bytes]:
    tr = shared_path("robots_txt", "texting_robots_testdata")
    fw = shared_path("robots_txt", "gpt_firewall_2025_sample.jsonl")
    out = {f.name.removesuffix(".robots.txt"): f.read_bytes() for f in sorted(tr.glob("*.robots.txt"))}
    for line in fw.read_text("utf-8").splitlines():
        d = json.loads(line)
        out.setdefault(f"fw:{d['domain']}:{d['snapshot_month']}", d["body"].encode())
    return out


D1 = "2024-05-20T10:00:00Z"
D2 = "2024-05-20T10:00:07Z"
D3 = "2024-05-21T08:00:00Z"


@pytest.fixture(scope="module")
def warcs(tmp_path_factory: pytest.TempPathFactory, bodies: dict[str, bytes]) -> list[Path]:
    d = tmp_path_factory.mktemp("warc")
    info = warc_record("warcinfo", "", D1, b"isPartOf: CC-MAIN-2024-22\r\nsubset: robotstxt\r\n",
                       "application/warc-fields")
    chunked_body = bodies["cnet"]
    chunked = b"".join(f"{len(chunked_body[i:i + 4000]):x}\r\n".encode() + chunked_body[i:i + 4000] + b"\r\n"
                       for i in range(0, len(chunked_body), 4000)) + b"0\r\n\r\n"
    huge = (bodies["reddit"] + b"\n") * (10 * 1024 * 1024 // len(bodies["reddit"]) + 1)
    first = b"".join([
        info,
        response("https://www.reddit.com/robots.txt", D1, 200, bodies["reddit"]),
        # a three-hop chain, the last hop in the second file
        redirect("http://ebay.com/robots.txt", D1, "https://ebay.com/robots.txt"),
        redirect("https://ebay.com/robots.txt", D2, "https://www.ebay.com/robots.txt", 302),
        # an uncaptured redirect keeps its 3xx
        redirect("http://www.quora.com/robots.txt", D1, "https://www.quora.com/robots.txt", 302),
        # too many redirects: six hops, all captured
        *(redirect(f"http://loop.example/{'robots.txt' if i == 0 else f'r{i}'}", D1, f"/r{i + 1}")
          for i in range(7)),
        # a loop
        redirect("http://a.example/robots.txt", D1, "http://b.example/robots.txt"),
        redirect("http://b.example/robots.txt", D1, "http://a.example/robots.txt"),
        response("https://substack.com/robots.txt", D1, 404,
                 b"<!DOCTYPE html><html><title>Not found</title></html>", {"Content-Type": "text/html"}),
        response("https://www.zillow.com/robots.txt", D1, 500, b"<html>oops</html>"),
        # HTML served with 200 as robots.txt: an entry; it parses to no rules
        response("https://html.example/robots.txt", D1, 200,
                 b"<!doctype html><html><body><h1>Welcome</h1><p>Disallow nothing</p></body></html>",
                 {"Content-Type": "text/html"}),
        # invalid UTF-8 and NUL bytes around real rules
        response("https://binary.example/robots.txt", D1, 200,
                 b"\xff\xfe\x00\x00garbage\x00\n" + bodies["ipwatchdog"] + b"\n\xc3\x28\x00"),
        response("https://www.twitter.com/robots.txt", D1, 200, gzip.compress(bodies["twitter"], mtime=0),
                 {"Content-Type": "text/plain", "Content-Encoding": "gzip"}),
        response("https://www.cnet.com/robots.txt", D1, 200, chunked,
                 {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"}),
        response("https://huge.example/robots.txt", D1, 200, huge),
        response("https://badgzip.example/robots.txt", D1, 200, b"this is not gzip",
                 {"Content-Encoding": "gzip"}),
        warc_record("response", "https://nohttp.example/robots.txt", D1, b"User-agent: *\nDisallow: /\n",
                    "text/plain"),
        response("https://baddate.example/robots.txt", "yesterday", 200, b"User-agent: *\nDisallow: /\n"),
    ])
    second = b"".join([
        response("https://www.ebay.com/robots.txt", D3, 200, bodies["ebay"]),
        # the same host captured again later: both entries are kept, dated
        response("https://www.reddit.com/robots.txt", D3, 200, bodies["fw:reddit.com:2025-11"]
                 if "fw:reddit.com:2025-11" in bodies else b"User-agent: *\nDisallow: /\n"),
    ])
    (d / "a.warc.gz").write_bytes(first)
    (d / "b.warc.gz").write_bytes(second)
    (d / "not-a-warc.warc.gz").write_bytes(b"hello, I am a text file\n" * 3)
    return [d / "a.warc.gz", d / "b.warc.gz", d / "not-a-warc.warc.gz"]


def _ids(snap: Snapshot) -> dict[str, str]:
    """host -> entry sha256 of the entry a run would use."""
    return {host: snap.lookup(host)[0].entry_sha256 for host in snap._by_host}  # type: ignore[union-attr]


def _entries(path: Path) -> dict[tuple[str, str], dict[str, object]]:
    return {(str(r["host"]), str(r["fetched_at"])): r for r in read_snapshot_rows(path)}


def test_from_warc_follows_captured_redirects_and_keeps_statuses(
        warcs: list[Path], bodies: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.parquet"
    assert cli("robots", "build", "--from-warc", *warcs, "--out", out) == 0
    printed = capsys.readouterr().out
    rows = _entries(out)
    # redirect chain: http://ebay.com -> https://ebay.com -> https://www.ebay.com (second file)
    chain = rows[("http://ebay.com", D3)]
    assert chain["http_status"] == 200 and chain["body"] == bodies["ebay"]
    assert "https://www.ebay.com/robots.txt" in str(chain["source"]) and "b.warc.gz@" in str(chain["source"])
    assert rows[("https://ebay.com", D3)]["body"] == bodies["ebay"]  # the middle hop is a host too
    assert rows[("https://www.ebay.com", D3)]["body"] == bodies["ebay"]
    # unresolved redirects keep their 3xx: uncaptured, too many hops, a loop
    assert rows[("http://www.quora.com", D1)]["http_status"] == 302
    assert "uncaptured" in str(rows[("http://www.quora.com", D1)]["source"])
    assert rows[("http://loop.example", D1)]["http_status"] == 301
    assert "too-many-redirects" in str(rows[("http://loop.example", D1)]["source"])
    assert rows[("http://a.example", D1)]["http_status"] == 301
    assert "loop" in str(rows[("http://a.example", D1)]["source"])
    # statuses and odd bodies are stored as they were
    assert rows[("https://substack.com", D1)]["http_status"] == 404
    assert rows[("https://www.zillow.com", D1)]["http_status"] == 500
    assert rows[("https://html.example", D1)]["body"].startswith(b"<!doctype html>")
    assert rows[("https://binary.example", D1)]["body"].startswith(b"\xff\xfe\x00\x00")
    assert rows[("https://www.twitter.com", D1)]["body"] == bodies["twitter"]  # gzip undone
    assert rows[("https://www.cnet.com", D1)]["body"] == bodies["cnet"]  # chunking undone
    assert len(rows[("https://huge.example", D1)]["body"]) == BODY_CAP
    # two dated captures of one host are both kept
    assert {k[1] for k in rows if k[0] == "https://www.reddit.com"} == {D1, D3}
    # broken records and files are reported, not fatal
    meta = read_snapshot_meta(out)
    assert meta["builder"] == "robots build --from-warc"
    assert meta["rejected"] == {"not-an-http-response": 1, "undecodable-body": 1, "unparsable-date": 1,
                                "warc-unreadable": 1}
    assert meta["notes"]["redirect-unresolved:uncaptured"] == 1
    assert meta["notes"]["redirect-unresolved:too-many-redirects"] == 1
    assert meta["notes"]["redirect-unresolved:loop"] == 2  # a -> b -> a and b -> a -> b
    assert meta["notes"]["bodies-capped-at-500KiB"] == 1
    assert [i["name"] for i in meta["inputs"]] == ["a.warc.gz", "b.warc.gz", "not-a-warc.warc.gz"]
    assert all(len(str(i["sha256"])) == 64 for i in meta["inputs"])
    assert meta["entries"] == len(rows) == 16
    assert "rejected undecodable-body: 1" in printed and f"{meta['snapshot_id']}" in printed


def test_warc_snapshot_decides_like_the_engine(warcs: list[Path], bodies: dict[str, bytes], tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    assert cli("robots", "build", "--from-warc", *warcs, "--out", out) == 0
    policy = load_policy("ai-training")
    snap = load_snapshot(str(out), as_of_bound("2024-05-20"))  # the first day only
    robots = RobotsFilter(snap, policy)
    assert robots.decide("https://www.reddit.com/r/x").fetched_at == D1
    assert robots.decide("https://www.zillow.com/homes").basis == "unreachable-5xx"
    assert not robots.decide("https://www.zillow.com/homes").allowed
    assert robots.decide("https://substack.com/p/x").basis == "unavailable-4xx"
    assert robots.decide("http://www.quora.com/x").basis == "redirect-unresolved"
    assert robots.decide("https://html.example/anything").allowed
    later = RobotsFilter(load_snapshot(str(out)), policy)
    for url in ("http://ebay.com/sch/i.html?_nkw=x", "https://www.cnet.com/tags/", "https://www.twitter.com/search"):
        d = later.decide(url)
        parsed = RobotsTxt.parse({"ebay.com": bodies["ebay"], "cnet.com": bodies["cnet"],
                                  "twitter.com": bodies["twitter"]}[url.split("/")[2].removeprefix("www.")])
        hit = parsed.compile(list(policy.agents)).first_disallowing(url)
        assert d.allowed == (hit is None)
        if hit is not None:
            assert (d.agent, d.rule, d.line) == (hit[0], hit[1].rule, hit[1].line)


def test_warc_build_is_deterministic(warcs: list[Path], tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    assert cli("robots", "build", "--from-warc", *warcs, "--out", a) == 0
    assert cli("robots", "build", "--from-warc", *warcs, "--out", b) == 0
    assert a.read_bytes() == b.read_bytes()
    assert cli("robots", "build", "--from-warc", *reversed(warcs), "--out", c) == 0
    assert read_snapshot_meta(c)["snapshot_id"] == read_snapshot_meta(a)["snapshot_id"]


def test_missing_warc_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("robots", "build", "--from-warc", tmp_path / "nope.warc.gz", "--out", tmp_path / "s.parquet") == 2
    err = capsys.readouterr().err
    assert "WARC file not found" in err and err.count("\n") == 1


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def test_from_table_reads_the_gpt_firewall_jsonl_as_published(tmp_path: Path) -> None:
    src = shared_path("robots_txt", "gpt_firewall_2025_sample.jsonl")
    out = tmp_path / "fw.parquet"
    assert cli("robots", "build", "--from-table", src, "--out", out) == 0
    meta = read_snapshot_meta(out)
    assert meta["entries"] == 190 and meta["rejected_total"] == 0
    assert meta["inputs"][0]["columns"] == {"host": "domain", "body": "body", "date": "snapshot_month"}
    assert (meta["date_min"], meta["date_max"]) == ("2025-01-01T00:00:00Z", "2025-11-01T00:00:00Z")
    rows = read_snapshot_rows(out)
    assert all(str(r["host"]).startswith("https://") for r in rows)
    assert meta["notes"] == {"bodies-capped-at-500KiB": 2}  # the 904 KB body, in both months
    # the as-of view equals building from the 2025-01 rows alone
    jan = tmp_path / "jan.jsonl"
    jan.write_text("".join(line + "\n" for line in src.read_text("utf-8").splitlines()
                           if '"snapshot_month": "2025-01"' in line))
    assert cli("robots", "build", "--from-table", jan, "--out", tmp_path / "jan.parquet") == 0
    full = load_snapshot(str(out), as_of_bound("2025-06-30"))
    only = load_snapshot(str(tmp_path / "jan.parquet"))
    assert _ids(full) == _ids(only)


def test_from_table_survives_the_2017_top_sites_mess(tmp_path: Path) -> None:
    """1,500 real robots.txt of 2017 (HTML pages, invalid UTF-8, huge files); read from ../shared, never copied."""
    src = shared_path("robots_txt", "top1m_2017_sample.jsonl")
    out = tmp_path / "top.parquet"
    assert cli("robots", "build", "--from-table", src, "--date", "2017-09", "--out", out) == 0
    meta = read_snapshot_meta(out)
    assert meta["rejected_total"] == 0 and meta["entries"] == 1500
    policy = load_policy("ai-training")
    robots = RobotsFilter(load_snapshot(str(out)), policy)
    domains = [json.loads(line)["domain"] for line in src.read_text("utf-8").splitlines()[:300]]
    decisions = [robots.decide(f"https://{d}/") for d in domains]
    assert all(d.basis == "rules" for d in decisions)
    assert any(not d.allowed and d.group == "CCBot" for d in decisions)  # CCBot groups existed in 2017


def test_apertus_like_parquet_needs_a_date(tmp_path: Path, bodies: dict[str, bytes],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    t = tmp_path / "apertus.parquet"
    pq.write_table(pa.table({"domain": ["reddit.com", "www.ebay.com", "例え.jp", ""],
                             "robots_txt": [bodies["reddit"].decode(), bodies["ebay"].decode(), "", "x"]}), t)
    out = tmp_path / "s.parquet"
    assert cli("robots", "build", "--from-table", t, "--out", out) == 2
    err = capsys.readouterr().err
    assert "missing required column(s) date" in err and "--date" in err and err.count("\n") == 1
    assert cli("robots", "build", "--from-table", t, "--out", out, "--date", "2025-01-15",
               "--source", "apertus-2025-01") == 0
    rows = {r["host"]: r for r in read_snapshot_rows(out)}
    assert set(rows) == {"https://reddit.com", "https://www.ebay.com", "https://xn--r8jz45g.jp"}
    assert rows["https://reddit.com"]["fetched_at"] == "2025-01-15T00:00:00Z"
    assert rows["https://reddit.com"]["source"] == "apertus-2025-01#1"
    assert rows["https://xn--r8jz45g.jp"]["body"] == b""  # an empty robots.txt is a real one
    assert read_snapshot_meta(out)["rejected"] == {"missing-host": 1}


def test_bad_rows_are_rejected_with_reasons_and_counts(tmp_path: Path, bodies: dict[str, bytes]) -> None:
    good = bodies["zillow"].decode()
    lines = [
        {"host": "https://zillow.com", "content": good, "status": 200, "date": "2024-03-01"},
        {"host": "zillow.com:8080", "content": good, "status": "200", "date": "2024-03-01T12:00:00+02:00"},
        {"host": "", "content": good, "status": 200, "date": "2024-03-01"},
        {"host": "not a host", "content": good, "status": 200, "date": "2024-03-01"},
        {"host": "a.example", "content": good, "status": 200, "date": "the third of March"},
        {"host": "b.example", "content": good, "status": 999, "date": "2024-03-01"},
        {"host": "c.example", "content": good, "status": "OK", "date": "2024-03-01"},
        {"host": "d.example", "content": None, "status": 404, "date": "2024-03-01"},
        {"host": "e.example", "content": None, "date": "2024-03-01"},
        {"host": "f.example", "content": 12, "status": 200, "date": "2024-03-01"},
        {"host": "g.example", "content": "x" * (10 * 1024 * 1024), "date": 1709251200},
        {"host": "h.example", "content": "User-agent: *\u0000\nDisallow: /\ud800\n", "date": "20240301"},
        "not an object",
    ]
    t = tmp_path / "t.jsonl"
    t.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken json\n\n")
    report = BuildReport("test")
    rows = from_table([str(t)], report)
    assert report.rejected == {"missing-host": 1, "invalid-host": 1, "unparsable-date": 1, "invalid-status": 2,
                               "missing-body": 1, "invalid-body": 1, "invalid-json": 2}
    assert report.rows_in == len(lines) + 1
    assert any("t.jsonl:row 5" in e for e in report.examples["unparsable-date"])
    got = {r.host: r for r in rows}
    assert got["https://zillow.com:8080"].fetched_at == "2024-03-01T10:00:00Z"
    assert got["https://d.example"].http_status == 404 and got["https://d.example"].body == b""
    g = got["https://g.example"]
    assert len(g.body) == BODY_CAP and g.fetched_at == "2024-03-01T00:00:00Z"
    assert got["https://h.example"].body == "User-agent: *\u0000\nDisallow: /\ud800\n".encode("utf-8", "surrogatepass")
    assert report.notes["bodies-capped-at-500KiB"] == 1


def test_csv_with_binary_bodies_and_renamed_columns(tmp_path: Path, bodies: dict[str, bytes]) -> None:
    t = tmp_path / "t.csv"
    raw = b"site,robots,code,retrieved_at\r\n"
    raw += b'cnet.com,"' + bodies["cnet"].replace(b'"', b'""') + b'",200,2022-03-01\r\n'
    raw += b'latin.example,"User-agent: *\nDisallow: /caf\xe9\n\x00",200,2022-03-01\r\n'
    raw += b"bad.example,,abc,2022-03-01\r\n"
    t.write_bytes(raw)
    out = tmp_path / "s.parquet"
    assert cli("robots", "build", "--from-table", t, "--out", out) == 0
    rows = {r["host"]: r for r in read_snapshot_rows(out)}
    assert rows["https://cnet.com"]["body"] == bodies["cnet"]
    assert rows["https://latin.example"]["body"] == b"User-agent: *\nDisallow: /caf\xe9\n\x00"  # bytes kept
    assert read_snapshot_meta(out)["rejected"] == {"invalid-status": 1}
    # explicit column choice
    t2 = tmp_path / "t2.csv"
    t2.write_text("name,robots_file,when\nexample.org,User-agent: *,2022-01-01\n")
    assert cli("robots", "build", "--from-table", t2, "--out", out) == 2  # no known column names
    assert cli("robots", "build", "--from-table", t2, "--out", out, "--column", "host=name",
               "--column", "body=robots_file", "--column", "date=when") == 0
    assert read_snapshot_rows(out)[0]["host"] == "https://example.org"


@pytest.mark.parametrize("name", ["t.json", "t.jsonl.gz", "t.csv.gz", "t.tsv", "t.parquet"])
def test_table_formats(tmp_path: Path, name: str) -> None:
    rows = [{"Domain": "a.example", "Robots_Txt": "User-agent: *\nDisallow: /x\n", "Status": 200,
             "Date": "2025-01-02"},
            {"Domain": "b.example", "Robots_Txt": None, "Status": 404, "Date": "2025-01-02"}]
    t = tmp_path / name
    if name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(rows), t)
    elif ".json" in name:
        text = json.dumps(rows) if name == "t.json" else "".join(json.dumps(r) + "\n" for r in rows)
        t.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    else:
        sep = "\t" if name.endswith(".tsv") else ","
        lines = [sep.join(rows[0])] + [sep.join(json.dumps(v) if isinstance(v, str) and "\n" in v else
                                                 ("" if v is None else str(v)) for v in r.values()) for r in rows]
        text = "\n".join(lines).replace("\\n", "\n") + "\n"
        t.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    report = BuildReport("t")
    got = {r.host: r for r in from_table([str(t)], report)}
    assert report.rejected == {}
    assert got["https://a.example"].body == b"User-agent: *\nDisallow: /x\n"
    assert got["https://a.example"].fetched_at == "2025-01-02T00:00:00Z"
    assert (got["https://b.example"].http_status, got["https://b.example"].body) == (404, b"")


def test_table_missing_columns_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = tmp_path / "t.csv"
    t.write_text("url,length\nhttps://a.example/,12\n")
    assert cli("robots", "build", "--from-table", t, "--out", tmp_path / "s.parquet") == 2
    err = capsys.readouterr().err
    assert "missing required column(s) body" in err and "Accepted names" in err and err.count("\n") == 1
    assert not (tmp_path / "s.parquet").exists()


def test_every_row_rejected_exits_1(tmp_path: Path) -> None:
    t = tmp_path / "t.jsonl"
    t.write_text(json.dumps({"domain": "a.example", "body": "x", "date": "never"}) + "\n")
    assert cli("robots", "build", "--from-table", t, "--out", tmp_path / "s.parquet") == 1


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-01-31", "2025-01-31T00:00:00Z"),
    ("2025-01", "2025-01-01T00:00:00Z"),
    ("2020-08-08T17:27:41.123Z", "2020-08-08T17:27:41Z"),
    ("2020-08-08 17:27:41+02:00", "2020-08-08T15:27:41Z"),
    ("Sat, 08 Aug 2020 17:27:36 GMT", "2020-08-08T17:27:36Z"),
    ("20200808172741", "2020-08-08T17:27:41Z"),
    (1596907661, "2020-08-08T17:27:41Z"),
    (1596907661000, "2020-08-08T17:27:41Z"),
    ("1900-01-01", None), ("2025-13", None), ("soon", None), ("", None), (float("nan"), None), (True, None),
])
def test_normalise_date(value: object, expected: str | None) -> None:
    assert normalise_date(value) == expected


# --------------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def monthly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    src = shared_path("robots_txt", "gpt_firewall_2025_sample.jsonl")
    d = tmp_path_factory.mktemp("monthly")
    out = []
    for month in ("2025-01", "2025-11"):
        t = d / f"{month}.jsonl"
        t.write_text("".join(line + "\n" for line in src.read_text("utf-8").splitlines()
                             if f'"snapshot_month": "{month}"' in line))
        report = BuildReport("t")
        rows = from_table([str(t)], report)
        from pipeline.optout.build import write

        write(rows, d / f"{month}.parquet", "test", report)
        out.append(d / f"{month}.parquet")
    return out[0], out[1]


def test_merge_keeps_all_entries_once(monthly: tuple[Path, Path], tmp_path: Path) -> None:
    jan, nov = monthly
    out = tmp_path / "m.parquet"
    assert cli("robots", "merge", jan, nov, jan, "--out", out) == 0
    meta = read_snapshot_meta(out)
    n_jan, n_nov = read_snapshot_meta(jan)["entries"], read_snapshot_meta(nov)["entries"]
    assert meta["entries"] == n_jan + n_nov
    assert meta["notes"]["duplicate-entries-dropped"] == n_jan
    # entries keep their identity (the evidence datasets cite)
    before = {r["entry_sha256"] for p in monthly for r in read_snapshot_rows(p)}
    assert {r["entry_sha256"] for r in read_snapshot_rows(out)} == before
    other = tmp_path / "m2.parquet"
    assert cli("robots", "merge", nov, jan, "--out", other) == 0
    assert read_snapshot_meta(other)["snapshot_id"] == meta["snapshot_id"]


def test_merge_as_of_picks_latest_on_or_before(monthly: tuple[Path, Path], tmp_path: Path) -> None:
    jan, nov = monthly
    for as_of, source in (("2025-06-30", jan), ("2025-11-01", nov), ("2026-01-01", nov)):
        out = tmp_path / f"{as_of}.parquet"
        assert cli("robots", "merge", jan, nov, "--out", out, "--as-of", as_of) == 0
        rows = read_snapshot_rows(out)
        assert len({r["host"] for r in rows}) == len(rows)  # one entry per host
        assert read_snapshot_meta(out)["as_of"] == as_of
        merged = load_snapshot(str(out))
        # what a run "as of" the date would use from the full history, and nothing else
        full_out = tmp_path / "all.parquet"
        assert cli("robots", "merge", jan, nov, "--out", full_out) == 0
        view = load_snapshot(str(full_out), as_of_bound(as_of))
        assert _ids(merged) == _ids(view)
        if source is nov:  # a bare date includes entries fetched during that day
            assert {e.fetched_at for e in merged._by_host.values()} == {"2025-11-01T00:00:00Z"} | (
                {"2025-01-01T00:00:00Z"} if len(merged) > read_snapshot_meta(nov)["entries"] else set())
        else:
            assert {e.fetched_at for e in merged._by_host.values()} == {"2025-01-01T00:00:00Z"}
    assert cli("robots", "merge", jan, "--out", tmp_path / "x.parquet", "--as-of", "someday") == 2


def test_merge_rejects_bad_rows_and_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"host": ["https://a.example", None, "https://c.example", "https://d.example"],
                             "fetched_at": ["2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "nope",
                                            "2025-01-01T00:00:00Z"],
                             "http_status": [200, 200, 200, 7],
                             "body": [b"User-agent: *\nDisallow: /\n", b"", b"", b""]}), bad)
    out = tmp_path / "m.parquet"
    assert cli("robots", "merge", bad, "--out", out) == 0
    meta = read_snapshot_meta(out)
    assert meta["entries"] == 1 and meta["rejected"] == {"invalid-status": 1, "missing-host": 1,
                                                         "unparsable-date": 1}
    lacking = tmp_path / "lacking.parquet"
    pq.write_table(pa.table({"host": ["https://a.example"], "body": [b""]}), lacking)
    capsys.readouterr()
    assert cli("robots", "merge", lacking, "--out", out) == 2
    err = capsys.readouterr().err
    assert "lacks column(s): fetched_at, http_status" in err and err.count("\n") == 1


def test_merge_of_the_bundled_sample_keeps_its_ids(tmp_path: Path) -> None:
    sample = ROOT / "pipeline" / "sample" / "robots-snapshot.parquet"
    out = tmp_path / "m.parquet"
    assert cli("robots", "merge", sample, "--out", out) == 0
    assert read_snapshot_meta(out)["snapshot_id"] == read_snapshot_meta(sample)["snapshot_id"]


# --------------------------------------------------------------------------------------------
# The ai-training policy
# --------------------------------------------------------------------------------------------


def test_ai_training_policy_is_the_documented_filter_of_the_copy() -> None:
    copy = json.loads((POLICIES / "ai-robots-txt.json").read_text("utf-8"))
    assert copy["source"]["commit"] == "738c80df2169027ce0e07c9976fd3f2f57dd8f7b"
    assert copy["source"]["license"] == "MIT"
    assert "MIT License" in (POLICIES / "LICENSE-ai-robots-txt").read_text("utf-8")
    agents = training_agents(load_ai_robots_json(POLICIES / "ai-robots-txt.json"))
    text = (POLICIES / "ai-training.yaml").read_text("utf-8")
    assert yaml.safe_load(text)["agents"] == agents
    assert "738c80df2169027ce0e07c9976fd3f2f57dd8f7b" in text
    policy = load_policy("ai-training")
    assert list(policy.agents) == agents and policy.scope == "url" and policy.missing_host == "keep"
    # the big training crawlers are in, assistants and user-triggered fetchers are out
    for token in ("GPTBot", "ClaudeBot", "CCBot", "Google-Extended", "Applebot-Extended", "Bytespider",
                  "Meta-ExternalAgent", "cohere-training-data-crawler", "AI2Bot", "Diffbot", "PanguBot"):
        assert token in agents
    for token in ("ChatGPT-User", "Claude-User", "Perplexity-User", "OAI-SearchBot", "Cursor", "Devin"):
        assert token not in agents


def test_policy_copy_is_the_upstream_file() -> None:
    upstream = shared_path("robots_txt", "ai_robots_txt")
    copy = load_ai_robots_json(POLICIES / "ai-robots-txt.json")
    assert copy == json.loads((upstream / "robots.json").read_text("utf-8"))
    assert len(copy) == 166
    assert (POLICIES / "LICENSE-ai-robots-txt").read_bytes() == (upstream / "LICENSE").read_bytes()
