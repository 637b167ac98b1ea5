"""The site owners' page `publish` writes (lookup/), driven in a real headless Chromium.

A real dry-run of the bundled sample, revoked once (so that one host has kept *and* excluded pages),
published with `consentcrawl publish`, served by Python's http.server on loopback. Every answer of
the page is compared with `consentcrawl lookup DIR QUERY --json` (the oracle) on the same query.
A second copy re-indexes the same folder with tiny partitions, so the split-file path is checked too.
Screenshots of each answer go to build/lookup-page-screenshots/ (or $LOOKUP_PAGE_SCREENSHOTS).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import ROOT

from pipeline.cli import main as cli
from pipeline.host import registrable_domain
from pipeline.manifest import verify
from pipeline.manifest.dataset import Dataset
from pipeline.manifest.outputs import add_outputs
from pipeline.manifest.site import fnv1a32, fnv1a32_many, removal_statement, write_lookup
from pipeline.manifest.targets import parse_target, url_key

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(os.environ.get("LOOKUP_PAGE_SCREENSHOTS", ROOT / "build" / "lookup-page-screenshots"))
BOTH_HOST = "www.seznamzpravy.cz"  # 3 kept pages in the sample; the test revokes one
NEVER = "never-crawled.example.com"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# ------------------------------------------------------------------------------------------------
# The published folders (no browser needed)
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """v2 of the sample dataset, published; and a copy indexed with one row per partition."""
    tmp = tmp_path_factory.mktemp("lookup-page")
    v1, v2 = tmp / "v1", tmp / "v2"
    assert cli(["dry-run", "--out", str(v1), "--workers", "1"]) == 0
    urls = sorted(pl.read_parquet(v1 / "data" / "*.parquet").filter(pl.col("host") == BOTH_HOST)["url"])
    assert len(urls) == 3, "the sample changed: pick another host with several kept pages"
    (tmp / "removals.txt").write_text(f"# a site owner's request\n{urls[0]}\n")
    assert cli(["revoke", str(v1), "--removals", str(tmp / "removals.txt"), "--out", str(v2)]) == 0
    assert cli(["publish", str(v2), "--name", "consentcrawl-sample", "--url", "https://example.org/sample",
                "--date", "2026-01-15"]) == 0
    split = tmp / "split"
    shutil.copytree(v2, split)
    ds = Dataset.open(split)
    rels = write_lookup(ds, removal=removal_statement(ds.manifest), split_rows=1, buckets=4)
    add_outputs(ds, rels, ("lookup",))
    return {"v1": v1, "default": v2, "split": split, "removed": urls[0]}


def _oracle(folder: Path, query: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    """`consentcrawl lookup DIR QUERY --json`: (exit code, JSON answer or the error message)."""
    capsys.readouterr()
    code = cli(["lookup", "--json", str(folder), "--", query])  # "--": a query may start with "-"
    out, err = capsys.readouterr()
    if code == 2:
        return code, err.strip().split(": ", 3)[-1]
    return code, json.loads(out)


def _gz(path: Path) -> Any:
    return json.loads(gzip.decompress(path.read_bytes()))


def test_publish_lists_every_lookup_file_and_verifies(folders: dict[str, Path]) -> None:
    for name in ("default", "split"):
        d = folders[name]
        m = json.loads((d / "manifest.json").read_text())
        listed = {f["path"] for f in m["files"] if f["kind"] == "lookup"}
        on_disk = {p.relative_to(d).as_posix() for p in (d / "lookup").rglob("*") if p.is_file()}
        assert listed == on_disk and "lookup/index.html" in listed and "lookup/index/meta.json" in listed
        assert verify(d) == []
    assert len(list((folders["split"] / "lookup" / "index" / "s").rglob("*.json.gz"))) > 10  # parts were written
    card = (folders["default"] / "README.md").read_text()
    assert "[`lookup/index.html`](lookup/index.html)" in card
    assert "href='../lookup/index.html'" in (folders["default"] / "report" / "index.html").read_text()
    assert not (folders["v1"] / "lookup").exists()  # only publish writes it; revoke never carries it over


def test_publish_is_byte_identical(folders: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "again"
    shutil.copytree(folders["default"], copy)
    before = {p.relative_to(copy).as_posix(): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    assert cli(["publish", str(copy)]) == 0
    after = {p.relative_to(copy).as_posix(): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    assert after == before


def test_every_index_row_is_a_row_of_its_parquet_file(folders: dict[str, Path]) -> None:
    """The index is derived from the data: each row names its file and row, and agrees with it."""
    d = folders["default"]
    meta = json.loads((d / "lookup" / "index" / "meta.json").read_text())
    tables = {f: pq.read_table(d / f).to_pylist() for f in meta["files"]}
    seen = 0
    for bucket in sorted((d / "lookup" / "index" / "b").glob("*.json.gz")):
        b = int(bucket.name.split(".")[0])
        for domain, entry in _gz(bucket)["domains"].items():
            assert fnv1a32(domain) % meta["buckets"] == b
            for host, rows in entry["hosts"].items():
                for what in ("kept", "excluded"):
                    for r in rows.get(what, []):
                        src = tables[meta["files"][r[-2]]][r[-1]]
                        assert (src["url"], src["id"], src["host"], src["domain"]) == (r[0], r[1], host, domain)
                        seen += 1
    assert seen == sum(len(t) for t in tables.values())  # every row of data/ and excluded/ is indexed


def test_vectorised_hash_matches_the_reference() -> None:
    words = ["", "a", "example.org", "bücher.de", "xn--bcher-kva.de", "日本.jp", "2001:db8::1"]
    assert list(fnv1a32_many(words)) == [fnv1a32(w) for w in words]
    assert fnv1a32("") == 0x811C9DC5 and fnv1a32("a") == 0xE40C292C  # published FNV-1a test vectors


# ------------------------------------------------------------------------------------------------
# The browser
# ------------------------------------------------------------------------------------------------

class _Handler(SimpleHTTPRequestHandler):
    """http.server's static handler (as `python -m http.server`), recording each path it serves."""

    log: list[str]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        self.log.append(self.path)


@pytest.fixture(scope="module")
def servers(folders: dict[str, Path]) -> Iterator[dict[str, Any]]:
    out: dict[str, Any] = {}
    for name in ("default", "split"):
        log: list[str] = []
        handler = type("H", (_Handler,), {"log": log})
        srv = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folders[name])))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        out[name] = {"url": f"http://127.0.0.1:{srv.server_address[1]}/lookup/index.html", "log": log, "srv": srv}
    yield out
    for s in out.values():
        s["srv"].shutdown()
        s["srv"].server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (CI installs Debian's chromium; `apt-get install chromium`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(profile), executable_path=str(CHROMIUM), headless=True,
                                                   args=LAUNCH_ARGS, viewport={"width": 1000, "height": 900})
        yield ctx
        ctx.close()


@pytest.fixture(scope="module")
def pages(browser: Any, servers: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One loaded page per served folder; every request it makes is recorded."""
    out: dict[str, Any] = {}
    for name, srv in servers.items():
        page = browser.new_page()
        page.requests = []  # type: ignore[attr-defined]
        page.on("request", lambda r, page=page: page.requests.append(r.url))
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda e, page=page: page.errors.append(str(e)))
        page.goto(srv["url"])
        page.wait_for_selector("body[data-ready='1']", timeout=15000)
        page.wait_for_selector("#merkle-root", timeout=15000)
        out[name] = page
    yield out
    for page in out.values():
        page.close()


def _page_lookup(page: Any, query: str) -> dict[str, Any]:
    return page.evaluate("q => window.consentcrawl.lookup(q).then(r => r, e => ({error: e.message}))", query)


def _queries(folders: dict[str, Path]) -> dict[str, str]:
    d = folders["default"]
    kept = pl.read_parquet(d / "data" / "*.parquet").sort("url")
    ledger = pl.read_parquet(d / "excluded" / "*.parquet")
    robots_url = ledger.filter(pl.col("reason") == "optout:robots").sort("url")["url"][0]
    one = kept.filter(pl.col("host") == "yle.fi")["url"][0]  # spelled differently: same page for both readers
    other = ("HTTPS://" if one.startswith("http://") else "http://") + one.split("://", 1)[1]
    return {
        "kept-url": one,
        "kept-url-respelled": other.replace("yle.fi/", "YLE.fi:443/", 1) + "#comments",
        "excluded-url": robots_url,
        "both-host": BOTH_HOST,
        "both-domain": registrable_domain(BOTH_HOST),
        "revoked-url": folders["removed"],
        "never": NEVER,
        "robots-only-domain": "cnet.com",
    }


def _compare(page_res: dict[str, Any], code: int, oracle: dict[str, Any], sample: int) -> None:
    """The page's answer is the CLI's: verdict, counts, the first rows in order, and their evidence."""
    assert page_res["verdict"] == oracle["verdict"]
    assert code == (0 if oracle["verdict"] in ("in-dataset", "partly-in-dataset") else 1)
    for k in ("kind", "host", "domain", "dataset_version", "same_host_kept", "same_host_excluded"):
        assert page_res[k] == oracle[k], k
    assert page_res["kept_total"] == len(oracle["kept"]) and page_res["excluded_total"] == len(oracle["excluded"])
    keys_k = ("id", "url", "lang", "script", "crawl_date", "file")
    assert [{k: r[k] for k in keys_k} for r in page_res["kept"]] == \
           [{k: r[k] for k in keys_k} for r in oracle["kept"][:sample]]
    keys_e = ("id", "url", "outcome", "reason", "group", "agents", "rule", "rule_line", "snapshot_entry_sha256",
              "snapshot_fetched_at", "evidence", "file")
    assert [{k: r[k] for k in keys_e} for r in page_res["excluded"]] == \
           [{k: r[k] for k in keys_e} for r in oracle["excluded"][:sample]]
    assert [r.get("snapshot") for r in page_res["excluded"]] == [r.get("snapshot") for r in oracle["excluded"][:sample]]
    keys_r = ("host", "fetched_at", "http_status", "entry_sha256", "snapshot", "snapshot_id", "as_of")
    assert [{k: e[k] for k in keys_r} for e in page_res["robots_entries"]] == \
           [{k: e[k] for k in keys_r} for e in oracle["robots_entries"]]


@pytest.mark.parametrize("layout", ["default", "split"])
def test_page_answers_agree_with_consentcrawl_lookup(layout: str, folders: dict[str, Path], pages: dict[str, Any],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    page = pages[layout]
    queries = _queries(folders)
    verdicts = {}
    for name, q in queries.items():
        code, oracle = _oracle(folders[layout], q, capsys)
        res = _page_lookup(page, q)
        assert "error" not in res, (name, res)
        _compare(res, code, oracle, 20)
        verdicts[name] = res["verdict"]
        for f in res["index_files"]:  # the page checks each index file it read against manifest.json
            entry = next(e for e in json.loads((folders[layout] / "manifest.json").read_text())["files"]
                         if e["path"] == f["path"])
            assert f["sha256"] == entry["sha256"]
    assert verdicts == {"kept-url": "in-dataset", "kept-url-respelled": "in-dataset", "excluded-url": "excluded",
                        "both-host": "partly-in-dataset", "both-domain": "partly-in-dataset",
                        "revoked-url": "excluded", "never": "not-in-input", "robots-only-domain": "in-dataset"}
    assert page.errors == []


MALFORMED = ["   ", "co.uk", "ftp://example.org/a", "http://example.org:99999/", "http://example.org:8o/",
             "a b.example.org", "http://[zz]/", "http://[1.2.3.4]/", "domain:www.bbc.co.uk", "-bad-.example.org",
             "1.2.3", "example.invalidtld", "http://./"]


def test_malformed_queries_get_the_cli_message(folders: dict[str, Path], pages: dict[str, Any],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for q in MALFORMED:
        code, message = _oracle(folders["default"], q, capsys)
        assert code == 2, q
        assert _page_lookup(pages["default"], q) == {"error": message}, q


PARSE_CASES = [
    "HTTPS://WWW.LeMonde.FR:443/a/b?x=1#frag", "http://example.org:8080/p?q", "http://example.org:/a?",
    "www.example.co.uk", "example.co.uk", "*.example.org", "url:example.org", "host:example.org",
    "domain:example.org", "Host:WWW.Example.org.", "example.org:8443", "user:pw@example.org", "example.org/",
    "http://user:pw@Example.ORG./a", "bücher.de", "www.bücher.de/straße", "faß.de", "xn--bcher-kva.de",
    "日本語.jp", "例え.テスト", "http://[2001:DB8:0:0:0:0:0:1]:80/x", "2001:db8::1", "http://[::ffff:1.2.3.4]/",
    "http://[fe80::1%25eth0]/", "192.168.0.1", "http://010.1.1.1/", "city.kawasaki.jp", "www.city.kawasaki.jp",
    "foo.bar.kawasaki.jp", "bar.kawasaki.jp", "a.b.ck", "www.ck", "foo.blogspot.com", "a_b.example.org",
    "http:example.org", "//example.org/a", "https://example.org/%7Euser/a%20b?q=%C3%A9", "EXAMPLE.ORG",
    "http://example.org:80", "https://example.org:443/", "https://example.org:80/", "ex--ample.org",
    "http://example.org\\path", "www.gov.uk", "gov.uk", "com", "localhost", "http://1.2.3.4.5/",
]


def test_query_parsing_is_a_faithful_port(pages: dict[str, Any], folders: dict[str, Path]) -> None:
    """parse_target, url_key and registrable_domain give the same results in Python and in the page."""
    page = pages["default"]

    def py(q: str) -> Any:
        try:
            t = parse_target(q)
        except ValueError as exc:
            return {"error": str(exc)}
        return {"kind": t.kind, "text": t.text, "host": t.host, "domain": t.domain, "url_key": t.url_key}

    js = page.evaluate("""qs => qs.map(q => { try { return window.consentcrawl.parseTarget(q); }
                                              catch (e) { return {error: e.message}; } })""", PARSE_CASES)
    assert dict(zip(PARSE_CASES, js, strict=True)) == {q: py(q) for q in PARSE_CASES}
    d = folders["default"]
    urls = sorted(set(pl.read_parquet(d / "data" / "*.parquet")["url"])
                  | set(pl.read_parquet(d / "excluded" / "*.parquet")["url"]))
    assert page.evaluate("us => us.map(u => window.consentcrawl.urlKey(u))", urls) == [url_key(u) for u in urls]
    hosts = sorted(set(pl.read_parquet(d / "data" / "*.parquet")["host"])
                   | {h.split("://")[-1] for h in pl.read_parquet(d / "snapshots" / "*.parquet")["host"]}
                   | {"a.b.c.kawasaki.jp", "x.sch.uk", "a.b.sch.uk", "nic.ck", "x.nic.ck", "xn--p1ai", "a.xn--p1ai",
                      "www.xn--80ak6aa92e.com", "[::1]", "::1", "1.2.3.4"})
    assert page.evaluate("hs => hs.map(h => window.consentcrawl.registrableDomain(h))", hosts) == \
           [registrable_domain(h) for h in hosts]
    words = ["example.org", "bücher.de", "日本.jp", ""]
    assert page.evaluate("ws => ws.map(w => window.consentcrawl.fnv1a32(w))", words) == [fnv1a32(w) for w in words]
    blob = "abc" * 100
    assert page.evaluate("s => window.consentcrawl.sha256(new TextEncoder().encode(s))", blob) == \
           hashlib.sha256(blob.encode()).hexdigest()


def _ask(page: Any, query: str) -> str:
    """Type the query and press Enter, as a person would; the answer's text."""
    page.evaluate("document.body.dataset.state = ''")
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_selector("body[data-state='done'], body[data-state='error']")
    return page.inner_text("#result")


def test_the_page_reads_like_an_answer_and_screenshots(folders: dict[str, Path], pages: dict[str, Any],
                                                       servers: dict[str, Any]) -> None:
    page, q = pages["default"], _queries(folders)
    SHOTS.mkdir(parents=True, exist_ok=True)
    ledger = pl.read_parquet(folders["default"] / "excluded" / "*.parquet")
    row = ledger.filter(pl.col("url") == q["excluded-url"]).row(0, named=True)
    cases = [("kept-url", "IN THE DATASET"), ("excluded-url", "EXCLUDED"), ("both-host", "PARTLY IN THE DATASET"),
             ("never", "NOT IN THE INPUT"), ("revoked-url", "EXCLUDED")]
    for name, verdict in cases:
        text = _ask(page, q[name])
        assert page.inner_text("#verdict") == verdict, name
        assert page.evaluate("document.activeElement.id") == "verdict"  # focus moves to the answer
        assert "To have pages removed" in text and "https://example.org/sample" in text
        assert "sha256 matches manifest.json" in text
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    _ask(page, q["excluded-url"])
    text = page.inner_text("#result")
    assert f"“{row['rule']}” on line {row['rule_line']}" in text and row["snapshot_fetched_at"] in text
    assert (row["group"] == "*") == ("all crawlers" in text)
    _ask(page, q["revoked-url"])
    assert "Removed at the request of the site: removal request line 2" in page.inner_text("#result")
    text = _ask(page, "ftp://example.org/")
    assert page.inner_text("#verdict") == "Cannot read this query" and "not an http(s) URL" in text
    page.screenshot(path=str(SHOTS / "malformed.png"), full_page=True)
    m = json.loads((folders["default"] / "manifest.json").read_text())
    assert page.inner_text("#merkle-root") == m["merkle_root"]
    assert "not signed" in page.inner_text("#signature")
    # Nothing but this dataset folder on this server was asked for.
    origin = servers["default"]["url"].rsplit("/lookup/", 1)[0]
    assert all(u.startswith(origin + "/") for u in page.requests), page.requests


def test_phone_width_and_keyboard_only(browser: Any, servers: dict[str, Any], folders: dict[str, Path]) -> None:
    page = browser.new_page()
    try:
        page.set_viewport_size({"width": 360, "height": 740})
        page.goto(servers["default"]["url"])
        page.wait_for_selector("body[data-ready='1']")
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "q"
        page.keyboard.type(_queries(folders)["both-host"])
        page.keyboard.press("Enter")
        page.wait_for_selector("body[data-state='done']")
        assert page.inner_text("#verdict") == "PARTLY IN THE DATASET"
        assert page.get_by_label("Page URL, host or domain").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
        page.screenshot(path=str(SHOTS / "phone-both-host.png"), full_page=True)
    finally:
        page.close()


def test_a_tampered_index_file_is_flagged(browser: Any, servers: dict[str, Any], folders: dict[str, Path]) -> None:
    """A static host serving a changed bucket (here: one ledger row deleted) is caught by the manifest's sha256."""
    page = browser.new_page()
    target = _queries(folders)["excluded-url"]
    domain = registrable_domain(parse_target(target).host)
    meta = json.loads((folders["default"] / "lookup" / "index" / "meta.json").read_text())
    rel = f"index/b/{fnv1a32(domain) % meta['buckets']:0{meta['bucket_digits']}d}.json.gz"
    doc = _gz(folders["default"] / "lookup" / rel)
    doc["domains"].pop(domain)
    page.route(f"**/lookup/{rel}", lambda route: route.fulfill(status=200, body=gzip.compress(json.dumps(doc).encode()),
                                                                 content_type="application/gzip"))
    try:
        page.goto(servers["default"]["url"])
        page.wait_for_selector("#merkle-root")
        page.wait_for_selector("body[data-ready='1']")
        text = _ask(page, target)
        assert "NOT IN THE INPUT" in text and "sha256 DOES NOT match manifest.json" in text
    finally:
        page.close()
