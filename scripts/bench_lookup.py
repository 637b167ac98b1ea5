"""Benchmark `consentcrawl lookup` on a synthetic dataset of >= 1M rows.

The rows are synthetic (generated text, made-up but real-looking host names under real public
suffixes, Zipf-distributed documents per host, ~5% of domains opted out into the ledger); the
Parquet schemas, row-group size and manifest are the pipeline's own. Two layouts are compared:

  crawl-order  rows in input order, as pipeline/write.py writes today
  sorted       rows sorted by (domain, host, url) with an extra `domain` column: the proposed
               writer change, which makes row-group min/max statistics prune host/domain lookups

Usage: python scripts/bench_lookup.py [--rows 1000000] [--out DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.host import registrable_domain
from pipeline.manifest.build import build_manifest, dump_manifest
from pipeline.manifest.lookup import lookup
from pipeline.manifest.targets import Target, parse_target
from pipeline.write import DATA_SCHEMA, LEDGER_SCHEMA, ROW_GROUP_ROWS, sha256_file

WORDS = ("alpine river market daily green tech city north sun blue news shop garden metro open data book "
         "media travel food home kids health sport music film art code cloud smart local world star bright "
         "coast forest urban rural global digital photo craft auto bike ocean lake mountain valley").split()
SUFFIXES = [("com", 40), ("de", 8), ("org", 6), ("net", 5), ("fr", 4), ("co.uk", 4), ("ru", 3), ("jp", 3),
            ("com.br", 3), ("it", 3), ("nl", 2), ("pl", 2), ("es", 2), ("com.au", 2), ("ca", 2), ("ch", 2),
            ("se", 1), ("no", 1), ("cz", 1), ("in", 1), ("io", 1), ("info", 1), ("co.jp", 1), ("gov.uk", 1)]
SUBDOMAINS = [("www", 60), ("", 25), ("blog", 4), ("news", 4), ("shop", 3), ("m", 2), ("en", 2)]
LANGS = ["eng_Latn", "deu_Latn", "fra_Latn", "spa_Latn", "rus_Cyrl", "jpn_Jpan", "por_Latn", "ita_Latn"]
SHARDS = 16


def _pick(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([t for t, _ in table], [w for _, w in table])[0]


def make_hosts(rng: random.Random, n_domains: int) -> list[str]:
    hosts: list[str] = []
    seen: set[str] = set()
    while len(seen) < n_domains:
        domain = f"{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.randint(0, 999)}.{_pick(rng, SUFFIXES)}"
        if domain in seen:
            continue
        seen.add(domain)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            sub = _pick(rng, SUBDOMAINS)
            host = f"{sub}.{domain}" if sub else domain
            if host not in hosts[-3:]:
                hosts.append(host)
    return hosts


def make_rows(n: int, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    rng = random.Random(seed)
    hosts = make_hosts(rng, max(2000, n // 25))
    weights = [1 / (i + 1) ** 0.9 for i in range(len(hosts))]
    opted = {registrable_domain(h) for h in rng.sample(hosts, len(hosts) // 20)}
    chosen = rng.choices(hosts, weights, k=n)
    data: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    for i, host in enumerate(chosen):
        url = f"https://{host}/{rng.choice(WORDS)}/{i:07d}-{rng.choice(WORDS)}.html"
        rid = hashlib.sha256(f"synthetic\x00{i}".encode()).hexdigest()[:32]
        src = f"synthetic-{i % SHARDS:05d}.warc.gz"
        common = {"id": rid, "url": url, "host": host, "source_uri": src, "source_record_id": f"<urn:uuid:{rid}>",
                  "source_offset": i * 9000, "source_length": 9000, "payload_digest": f"sha1:{rid[:32].upper()}"}
        if registrable_domain(host) in opted:
            ledger.append({**common, "outcome": "dropped", "reason": "optout:robots", "agent": "GPTBot",
                           "rule": "disallow: /", "rule_line": 1, "snapshot_entry_sha256": rid * 2,
                           "snapshot_fetched_at": "2025-11-01T00:00:00Z", "evidence": "{}", "chars": None,
                           "record_type": "response"})
            continue
        lang = LANGS[i % len(LANGS)]
        text = " ".join(rng.choice(WORDS) for _ in range(30))
        data.append({**common, "text": text, "lang": lang[:3], "script": lang[4:], "lang_score": 0.9,
                     "lang_topk": [{"label": lang, "score": 0.9}], "crawl_date": "2025-06-01T00:00:00Z",
                     "content_sha256": hashlib.sha256(text.encode()).hexdigest(), "robots_entry_sha256": ""})
    return data, ledger, opted


def write_dataset(root: Path, data: list[dict[str, Any]], ledger: list[dict[str, Any]], sort: bool) -> None:
    """Write SHARDS data + ledger files and a schema-valid manifest (the pipeline's own builder)."""
    shutil.rmtree(root, ignore_errors=True)
    results = []
    for shard in range(SHARDS):
        rows_d = [r for r in data if r["source_uri"].endswith(f"{shard:05d}.warc.gz")]
        rows_l = [r for r in ledger if r["source_uri"].endswith(f"{shard:05d}.warc.gz")]
        files = []
        for kind, rows, schema in (("data", rows_d, DATA_SCHEMA), ("excluded", rows_l, LEDGER_SCHEMA)):
            if sort:
                for r in rows:
                    r["domain"] = registrable_domain(r["host"])
                rows = sorted(rows, key=lambda r: (r["domain"], r["host"], r["url"]))
                schema = schema.append(pa.field("domain", pa.string()))
            rel = f"{kind}/part-{shard:05d}.parquet"
            (root / kind).mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / rel, compression="zstd",
                           row_group_size=ROW_GROUP_ROWS, write_statistics=True)
            files.append({"path": rel, "sha256": sha256_file(root / rel), "bytes": (root / rel).stat().st_size,
                          "rows": len(rows)})
        langs: dict[str, int] = {}
        chars: dict[str, int] = {}
        for r in rows_d:
            label = f"{r['lang']}_{r['script']}"
            langs[label] = langs.get(label, 0) + 1
            chars[label] = chars.get(label, 0) + len(r["text"])
        results.append({
            "index": shard, "uri": f"synthetic-{shard:05d}.warc.gz", "records_in": len(rows_d) + len(rows_l),
            "kept": len(rows_d), "dropped": {"optout:robots": len(rows_l)} if rows_l else {}, "errored": {},
            "dropped_by_agent": {"GPTBot": len(rows_l)} if rows_l else {}, "languages": langs,
            "chars_kept": sum(chars.values()), "chars_by_language": chars, "files": files,
            "input_bytes": 0, "input_sha256": "synthetic", "failed": "",
        })
    config = {"synthetic": True, "rows": len(data) + len(ledger), "sorted": sort}
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = build_manifest(
        config=config, config_sha256=hashlib.sha256(canonical).hexdigest(),
        policy={"name": "synthetic", "agents": ["GPTBot"], "scope": "url", "missing_host": "keep",
                "server_error": "disallow", "signals": []},
        langid={"model": "synthetic", "model_sha256": "0" * 64, "labels": len(LANGS), "label_set": LANGS},
        snapshots=[], results=results, extra_files=[],
    )
    dump_manifest(manifest, root / "manifest.json")


def _row_groups(root: Path, target: Target) -> tuple[int, int]:
    """Row groups whose host min/max statistics admit the target (what pushdown must read)."""
    total = hit = 0
    for p in sorted((root / "data").glob("*.parquet")):
        md = pq.ParquetFile(p).metadata
        names = [md.schema.column(i).name for i in range(md.num_columns)]
        by_domain = "domain" in names
        col = names.index("domain" if by_domain else "host")
        key = target.domain if by_domain else target.host
        for i in range(md.num_row_groups):
            total += 1
            st = md.row_group(i).column(col).statistics
            if st is None or not st.has_min_max or (target.kind == "domain" and not by_domain):
                hit += 1  # no statistics, or a suffix match that min/max cannot exclude
            elif st.min <= key <= st.max:
                hit += 1
    return hit, total


def bench(root: Path, queries: dict[str, str], repeat: int) -> list[dict[str, Any]]:
    out = []
    for label, q in queries.items():
        target = parse_target(q)
        t0 = time.perf_counter()
        res = lookup(root, target)
        cold = time.perf_counter() - t0
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            lookup(root, target)
            times.append(time.perf_counter() - t0)
        hit, total = _row_groups(root, target)
        out.append({"query": label, "text": q, "kept": len(res.kept), "excluded": len(res.excluded),
                    "first_ms": cold * 1000, "median_ms": statistics.median(times) * 1000,
                    "row_groups": f"{hit}/{total}"})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", help="folder for the two datasets (default: a temporary folder, removed)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    t0 = time.perf_counter()
    data, ledger, opted = make_rows(args.rows)
    print(f"generated {len(data):,} kept + {len(ledger):,} excluded synthetic rows in {time.perf_counter() - t0:.1f}s")
    by_host: dict[str, int] = {}
    for r in data:
        by_host[r["host"]] = by_host.get(r["host"], 0) + 1
    ranked = sorted(by_host, key=lambda h: -by_host[h])
    big, mid = ranked[0], ranked[len(ranked) // 2]
    queries = {
        "URL (one page)": data[len(data) // 3]["url"],
        f"host, largest ({by_host[big]:,} docs)": f"host:{big}",
        f"host, median ({by_host[mid]:,} docs)": f"host:{mid}",
        "domain (all hosts)": registrable_domain(big),
        "opted-out domain": sorted(opted)[0],
        "absent host": "host:www.not-in-this-dataset.example.com",
    }
    try:
        for layout, sort in (("crawl-order (today's writer)", False), ("sorted + domain column (proposed)", True)):
            root = base / ("sorted" if sort else "crawl-order")
            t0 = time.perf_counter()
            write_dataset(root, [dict(r) for r in data], [dict(r) for r in ledger], sort)
            size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
            print(f"\n{layout}: wrote {root} ({size / 1e6:.0f} MB, {SHARDS} shards, row groups of {ROW_GROUP_ROWS}) "
                  f"in {time.perf_counter() - t0:.1f}s")
            print(f"  {'query':34} {'kept':>7} {'excl':>6} {'first ms':>9} {'median ms':>10} {'row groups':>12}")
            for r in bench(root, queries, args.repeat):
                print(f"  {r['query']:34} {r['kept']:>7,} {r['excluded']:>6,} {r['first_ms']:>9.1f} "
                      f"{r['median_ms']:>10.1f} {r['row_groups']:>12}")
    finally:
        if not args.out:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
