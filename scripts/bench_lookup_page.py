"""Scale check of the site owners' page (lookup/): bytes and time of one lookup on ~10M rows.

Synthetic, and says so: the real URLs, languages, dates and ledger rows (rule, line, group, agents,
snapshot entry) of the bundled sample's dry-run are repeated under synthetic registrable domains
(`www.lemonde.fr` -> `www.lemonde-123.fr`, a new domain per copy), plus one large domain
(`big-site.com`, several hosts of 100k pages each) that exercises the split partitions. The Parquet
files hold the columns the index reads (no `text`); the manifest is the dry-run's with these files
listed (schema-valid, counts not updated: `verify` would flag them). The index is written by the
same `write_lookup` that `publish` runs.

The page is then served by a byte-counting http.server on loopback and driven in headless Chromium
(/usr/bin/chromium): bytes sent by the server and wall time for a page load and for each lookup.

    python scripts/bench_lookup_page.py [--rows 10000000] [--out /tmp/lookup-scale] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.cli import main as cli
from pipeline.host import _EXTRACT
from pipeline.manifest.dataset import Dataset
from pipeline.manifest.outputs import add_outputs
from pipeline.manifest.site import removal_statement, write_lookup

ROWS_PER_FILE = 100_000
BIG_HOSTS, BIG_ROWS = 5, 100_000


def _split_host(host: str) -> tuple[str, str, str]:
    """(subdomain prefix with its dot, domain label, public suffix) of a real host."""
    p = _EXTRACT(host)
    return (p.subdomain + "." if p.subdomain else ""), p.domain, p.suffix


def _synthetic(sample: Path, out: Path, rows: int) -> dict[str, int]:
    """data/ and excluded/ Parquet files: the sample's rows under new domains, in ROWS_PER_FILE files."""
    kept = pl.read_parquet(sample / "data" / "*.parquet").drop("text", "lang_topk")
    ledger = pl.read_parquet(sample / "excluded" / "*.parquet")
    ledger = ledger.filter(pl.col("host") != "")

    def parts(df: pl.DataFrame) -> pl.DataFrame:
        bits = [_split_host(h) for h in df["host"]]
        rest = [u.split("://", 1)[1][len(h):] if "://" in u else "/"
                for u, h in zip(df["url"], df["host"], strict=True)]
        scheme = [u.split("://", 1)[0] for u in df["url"]]
        return df.with_columns(pl.Series("pre", [b[0] for b in bits]), pl.Series("label", [b[1] for b in bits]),
                               pl.Series("suffix", [b[2] for b in bits]), pl.Series("rest", rest),
                               pl.Series("scheme", scheme))

    kept, ledger = parts(kept), parts(ledger)
    per_copy = len(kept) + len(ledger)
    copies = max(1, (rows - BIG_HOSTS * BIG_ROWS) // per_copy)
    k = pl.DataFrame({"k": pl.arange(0, copies, eager=True).cast(pl.Int64)})

    def expand(df: pl.DataFrame) -> pl.DataFrame:
        x = df.join(k, how="cross")
        dom = pl.col("label") + "-" + pl.col("k").cast(pl.Utf8) + "." + pl.col("suffix")
        host = pl.col("pre") + dom
        return x.with_columns(domain=dom, host=host, url=pl.col("scheme") + "://" + host + pl.col("rest"),
                              id=pl.col("id").str.slice(0, 20) + pl.col("k").cast(pl.Utf8).str.zfill(12)) \
            .drop("pre", "label", "suffix", "rest", "scheme", "k")

    big_src = kept.head(50)
    n = BIG_HOSTS * BIG_ROWS
    big = pl.DataFrame({"i": pl.arange(0, n, eager=True)}).with_columns(j=pl.col("i") % len(big_src))
    big = big.join(big_src.with_row_index("j").with_columns(pl.col("j").cast(pl.Int64)), on="j")
    big = big.with_columns(host=pl.lit("h") + (pl.col("i") % BIG_HOSTS).cast(pl.Utf8) + ".big-site.com",
                           domain=pl.lit("big-site.com"))
    big = big.with_columns(url=pl.lit("https://") + pl.col("host") + pl.col("rest") + "?n=" + pl.col("i").cast(pl.Utf8),
                           id=pl.lit("big") + pl.col("i").cast(pl.Utf8).str.zfill(29)) \
        .drop("i", "j", "pre", "label", "suffix", "rest", "scheme")
    data = pl.concat([expand(kept), big.select(expand(kept.head(1)).columns)])
    excl = expand(ledger)
    for folder, df in (("data", data), ("excluded", excl)):
        (out / folder).mkdir(parents=True)
        for i in range(0, len(df), ROWS_PER_FILE):
            df.slice(i, ROWS_PER_FILE).write_parquet(out / folder / f"part-{i // ROWS_PER_FILE:05d}.parquet",
                                                     compression="zstd", row_group_size=ROWS_PER_FILE)
    return {"kept": len(data), "excluded": len(excl), "copies": copies}


def _manifest(sample: Path, out: Path) -> None:
    m = json.loads((sample / "manifest.json").read_text())
    (out / "snapshots").mkdir()
    shutil.copyfile(sample / "snapshots" / "robots.parquet", out / "snapshots" / "robots.parquet")
    files = []
    for p in sorted(out.rglob("*.parquet")):
        rel = p.relative_to(out).as_posix()
        files.append({"path": rel, "sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size,
                      "rows": pl.scan_parquet(p).select(pl.len()).collect().item(),
                      "kind": {"data": "data", "excluded": "excluded", "snapshots": "snapshot"}[rel.split("/")[0]]})
    m["files"] = files
    m["publication"] = {"name": "synthetic 10M-row scale check", "license": "odc-by"}
    (out / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")


class _Counting(SimpleHTTPRequestHandler):
    """http.server's static handler, adding up the bytes it sends per path."""

    sent: list[tuple[str, int]]

    def copyfile(self, source: Any, outputfile: Any) -> None:
        data = source.read()
        outputfile.write(data)
        self.sent.append((self.path, len(data)))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _measure(folder: Path, queries: list[str]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    sent: list[tuple[str, int]] = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), partial(type("C", (_Counting,), {"sent": sent}),
                                                        directory=str(folder)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/lookup/index.html"
    res: dict[str, Any] = {"lookups": []}
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            ctx = p.chromium.launch_persistent_context(
                profile, executable_path="/usr/bin/chromium", headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = ctx.new_page()
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=120_000)
            res["page_load"] = {"seconds": round(time.perf_counter() - t0, 3), "bytes": sum(b for _, b in sent),
                                "files": {p: b for p, b in sent}}
            cdp = ctx.new_cdp_session(page)
            for q in queries:
                cdp.send("Network.clearBrowserCache")  # cold: every index file of this lookup is transferred
                del sent[:]
                page.evaluate("document.body.dataset.state = ''")
                t0 = time.perf_counter()
                page.fill("#q", q)
                page.press("#q", "Enter")
                page.wait_for_selector("body[data-state='done'], body[data-state='error']", timeout=60_000)
                wall = time.perf_counter() - t0
                verdict = page.inner_text("#verdict")
                res["lookups"].append({"query": q, "verdict": verdict, "seconds": round(wall, 3),
                                       "bytes": sum(b for _, b in sent), "files": [p for p, _ in sent]})
            ctx.close()
    finally:
        srv.shutdown()
        srv.server_close()
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "lookup-scale")
    ap.add_argument("--keep", action="store_true", help="keep the folder (else it is removed at the end)")
    args = ap.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample"
        with contextlib.redirect_stdout(sys.stderr):  # stdout is the report
            assert cli(["dry-run", "--out", str(sample), "--workers", "1"]) == 0
        t0 = time.perf_counter()
        counts = _synthetic(sample, args.out, args.rows)
        _manifest(sample, args.out)
        t_gen = time.perf_counter() - t0
    ds = Dataset.open(args.out)
    t0 = time.perf_counter()
    rels = write_lookup(ds, removal=removal_statement(ds.manifest))
    t_index = time.perf_counter() - t0
    add_outputs(ds, rels, ("lookup",))
    index = [args.out / r for r in rels if r.startswith("lookup/index/")]
    sizes = sorted(p.stat().st_size for p in index if "/b/" in p.as_posix())
    meta = json.loads((args.out / "lookup" / "index" / "meta.json").read_text())
    queries = [
        "https://www.lemonde-7.fr/economie/article/2019/05/07/dans-ses-previsions-economiques-bruxelles-confirme-la-"
        "montee-des-perils_5459325_3234.html",                     # an excluded page (small domain)
        "yle-12345.fi",                                             # a domain with kept pages
        "www.seznamzpravy-999.cz",                                  # a host
        "h3.big-site.com",                                          # a host of the large split domain
        "big-site.com",                                             # the large domain: summary + sample
        "never-crawled.example.com",                                # never in the input
    ]
    big_url = pl.read_parquet(args.out / "data" / "*.parquet", columns=["url", "host"]) \
        .filter(pl.col("host") == "h2.big-site.com")["url"][777]
    queries.append(big_url)                                          # one page of a 100k-page host
    m = _measure(args.out, queries)
    report = {
        "rows": counts, "generate_seconds": round(t_gen, 1), "index_seconds": round(t_index, 1),
        "buckets": meta["buckets"], "index_files": len(index),
        "index_bytes": sum(p.stat().st_size for p in index),
        "bucket_bytes": {"min": sizes[0], "median": sizes[len(sizes) // 2], "max": sizes[-1]},
        "manifest_bytes": (args.out / "manifest.json").stat().st_size,
        "data_bytes": sum(p.stat().st_size for p in args.out.rglob("*.parquet")),
        **m,
    }
    print(json.dumps(report, indent=2))
    if not args.keep:
        shutil.rmtree(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
