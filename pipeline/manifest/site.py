"""`lookup/`: the static page that answers site owners from their browser, and the index it reads.

Site owners will not `pip install` anything, so `publish` writes a page (vanilla HTML/JS/CSS,
no third-party code, nothing fetched from elsewhere) beside the data. It cannot scan Parquet
files of billions of rows, so `publish` also writes a host-partitioned index derived from them:

    lookup/index.html lookup.js lookup.css LICENSES.txt      the page (copied from lookup_assets/)
    lookup/psl.json.gz                                        the public suffix rules lookup uses
    lookup/index/meta.json                                    bucket count, columns, files, texts
    lookup/index/b/NNNN.json.gz                               bucket = fnv1a32(domain) mod buckets
    lookup/index/s/NNNN-K[-hJ]/PPPP.json.gz                   parts of a very large domain / host

A lookup fetches meta.json, psl.json.gz and one bucket (plus one part per level for a domain or
host over SPLIT_ROWS rows): its cost depends on the size of that site, not of the dataset. Every
row names its Parquet file and row number, so the index can be checked against the data, and
every index file is listed with its sha256 in the manifest like any other file. The bytes are a
pure function of the dataset (sorted keys, gzip without a timestamp): publishing twice gives the
same files. docs/lookup-page.md has the format and the measurements behind the constants.
"""

from __future__ import annotations

import gzip
import heapq
import json
import math
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.host import _EXTRACT, registrable_domain
from pipeline.manifest.dataset import Dataset
from pipeline.manifest.targets import url_key

LOOKUP_DIR = "lookup"
PAGE = f"{LOOKUP_DIR}/index.html"
ASSETS = ("index.html", "lookup.js", "lookup.css", "LICENSES.txt")
FORMAT = 1
SAMPLE = 20  # rows shown per kind, as `consentcrawl lookup` prints by default
ROBOTS_LIMIT = 50  # robots.txt entries per snapshot, as lookup's _robots_entries
ROWS_PER_BUCKET = 8000  # 4,000-8,000 rows a bucket, ~33 B a row gzipped: 130-270 KB (docs/lookup-page.md)
MIN_BUCKETS = 16
SPLIT_ROWS = 4000  # a domain (then a host) with more rows is split into parts of about this many

KEPT_COLUMNS = ["url", "id", "lang", "script", "crawl_date", "robots_entry_sha256", "file", "row"]
EXCLUDED_COLUMNS = ["url", "id", "outcome", "reason", "group", "agents", "rule", "rule_line",
                    "snapshot_entry_sha256", "snapshot_fetched_at", "evidence", "file", "row"]
ROBOTS_COLUMNS = ["host", "fetched_at", "http_status", "entry_sha256", "snapshot"]

_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193


def fnv1a32(text: str) -> int:
    """FNV-1a (32 bit) of the UTF-8 bytes: trivial to write the same in JS, no crypto API needed
    (crypto.subtle is missing on plain-http static hosts)."""
    h = _FNV_OFFSET
    for b in text.encode("utf-8"):
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def fnv1a32_many(texts: list[str]) -> np.ndarray:
    """fnv1a32 of many strings at once (vectorised over strings, one pass per byte position)."""
    if not texts:
        return np.zeros(0, dtype=np.uint32)
    raw = [t.encode("utf-8") for t in texts]
    lengths = np.fromiter((len(r) for r in raw), dtype=np.int64, count=len(raw))
    width = int(lengths.max())
    buf = np.zeros((len(raw), max(width, 1)), dtype=np.uint8)
    flat = np.frombuffer(b"".join(raw), dtype=np.uint8)
    rows = np.repeat(np.arange(len(raw)), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    buf[rows, cols] = flat
    h = np.full(len(raw), _FNV_OFFSET, dtype=np.uint64)
    for j in range(width):
        live = lengths > j
        h[live] = ((h[live] ^ buf[live, j]) * _FNV_PRIME) & 0xFFFFFFFF
    return h.astype(np.uint32)


def bucket_count(rows: int) -> int:
    """A power of two keeping buckets near ROWS_PER_BUCKET rows (never under MIN_BUCKETS)."""
    need = max(1, math.ceil(rows / ROWS_PER_BUCKET))
    return max(MIN_BUCKETS, 1 << (need - 1).bit_length())


def psl_rules() -> list[str]:
    """The ICANN public-suffix rules `pipeline.host.registrable_domain` uses, labels in ASCII (punycode).

    tldextract matches decoded (Unicode) labels; the page compares canonical ASCII hosts, so each
    Unicode rule label is encoded once here (every rule of the bundled list round-trips).
    """
    import idna

    out = set()
    for rule in _EXTRACT._get_tld_extractor().tlds_excl_private:
        labels = []
        for label in rule.split("."):
            bang = "!" if label.startswith("!") else ""
            bare = label[len(bang):]
            if bare != "*" and not bare.isascii():
                bare = idna.encode(bare).decode("ascii")
            labels.append(bang + bare.lower())
        out.add(".".join(labels))
    return sorted(out)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _gz(obj: Any) -> bytes:
    return gzip.compress(_dumps(obj), compresslevel=9, mtime=0)


def _sql_list(paths: list[str]) -> str:
    return "[" + ",".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


class _Rows:
    """Kept rows, ledger rows and robots.txt entries in (bucket, domain, host) order, streamed by DuckDB.

    DuckDB sorts out of core (it already does so for snapshot builds), so memory stays bounded by
    one registrable domain's rows, however large the dataset.
    """

    def __init__(self, ds: Dataset, scratch: Path, buckets: int | None = None) -> None:
        import duckdb

        self.ds = ds
        self.con = duckdb.connect()
        self.con.execute(f"SET temp_directory='{scratch.as_posix()}'")
        self.con.execute("SET preserve_insertion_order=false")
        self.con.execute("SET memory_limit='4GB'")  # DuckDB spills its sort and tables to `scratch` beyond this
        self.files = ds.rels("data") + ds.rels("excluded")
        self.snapshots = [s for s in ds.manifest["snapshots"] if s["path"] in {f["path"] for f in ds.manifest["files"]}]
        self.rows = {"kept": 0, "excluded": 0}
        self.forced = buckets
        self.buckets = buckets or MIN_BUCKETS

    def _source(self, rels: list[str], name: str) -> str:
        """A DuckDB relation over the files: local paths, or Arrow tables read through fsspec."""
        if not self.ds.remote:
            return (f"read_parquet({_sql_list([str(self.ds.root / r) for r in rels])}, filename=true, "
                    "file_row_number=true, union_by_name=true)")
        import pyarrow.parquet as pq

        tables = []
        wanted = {*KEPT_COLUMNS, *EXCLUDED_COLUMNS, "host", "domain", "fetched_at", "http_status", "entry_sha256"}
        for r in rels:
            with self.ds.folder.open(r) as fh:
                f = pq.ParquetFile(fh)
                t = f.read(columns=[c for c in f.schema_arrow.names if c in wanted])  # never the text
            t = t.append_column("filename", pa.array([r] * len(t), pa.string()))
            tables.append(t.append_column("file_row_number", pa.array(range(len(t)), pa.int64())))
        self.con.register(name, pa.concat_tables(tables, promote_options="permissive"))
        return name

    def _columns(self, rels: list[str]) -> set[str]:
        return set(self.ds.read_schema(rels[0]).names) if rels else set()

    def stream(self) -> Iterator[tuple[int, str, str, str, Any]]:
        """(bucket, domain, host, what, row) in order; `what` is kept, excluded or robots.

        Kept and ledger rows come as (url, id, the row's JSON text written by DuckDB): at billions of
        rows, parsing and re-serialising each one in Python would dominate the time.
        """
        con, ds = self.con, self.ds
        file_index = {(r if ds.remote else str(ds.root / r)): i for i, r in enumerate(self.files)}
        parts, hosts = [], []
        kept, ledger = ds.rels("data"), ds.rels("excluded")

        def col(have: set[str], name: str, cast: str = "VARCHAR") -> str:
            return f'"{name}"' if name in have else f"CAST(NULL AS {cast})"

        for what, rels, cols in (("kept", kept, KEPT_COLUMNS), ("excluded", ledger, EXCLUDED_COLUMNS)):
            if not rels:
                continue
            have = self._columns(rels)
            src = self._source(rels, f"src_{what}")
            sel = []
            for c in cols[:-2]:
                cast = "VARCHAR[]" if c == "agents" else "BIGINT" if c == "rule_line" else "VARCHAR"
                sel.append(f"{col(have, c, cast)} AS \"{c}\"")
            dom = '"domain"' if "domain" in have else "NULL"
            con.execute(f"CREATE TEMP TABLE t_{what} AS SELECT host, {dom} AS domain, {', '.join(sel)}, "
                        f"filename AS file, file_row_number AS row FROM {src} WHERE host IS NOT NULL AND host <> ''")
            # fetchall, not fetchone: a result left open makes the next register() (remote folders) fail
            self.rows[what] = con.execute(f"SELECT count(*) FROM t_{what}").fetchall()[0][0]
            hosts.append(f"SELECT DISTINCT host FROM t_{what} WHERE domain IS NULL")
            parts.append(what)
        robots_sel = []
        for i, snap in enumerate(self.snapshots):
            src = self._source([snap["path"]], f"src_snap{i}")
            bare = r"regexp_replace(regexp_replace(host, '^[a-z]+://', ''), ':\d+$', '')"
            robots_sel.append(f"SELECT {bare} AS bare, host AS raw, CAST(fetched_at AS VARCHAR) AS fetched_at, "
                              f"CAST(http_status AS BIGINT) AS http_status, entry_sha256, {i} AS snapshot FROM {src}")
        if robots_sel:
            con.execute("CREATE TEMP TABLE t_robots AS " + " UNION ALL ".join(robots_sel))
            hosts.append("SELECT DISTINCT bare AS host FROM t_robots")
        # Registrable domains of hosts without a `domain` column (snapshot hosts, older datasets): once per host.
        unique = [r[0] for r in con.execute(" UNION ".join(hosts)).fetchall()] if hosts else []
        con.register("host_domains", pa.table({"host": pa.array(unique, pa.string()),
                                               "d": pa.array([registrable_domain(h) for h in unique], pa.string())}))
        for what in parts:
            con.execute(f"UPDATE t_{what} SET domain = host_domains.d FROM host_domains "
                        f"WHERE t_{what}.domain IS NULL AND t_{what}.host = host_domains.host")
        if robots_sel:
            con.execute("CREATE TEMP TABLE t_robots2 AS SELECT r.*, h.d AS domain FROM t_robots r "
                        "JOIN host_domains h ON r.bare = h.host")
        domains = sorted({r[0] for what in parts
                          for r in con.execute(f"SELECT DISTINCT domain FROM t_{what}").fetchall()}
                         | ({r[0] for r in con.execute("SELECT DISTINCT domain FROM t_robots2").fetchall()}
                            if robots_sel else set()))
        self.buckets = self.forced or bucket_count(sum(self.rows.values()))
        con.register("domain_buckets", pa.table({
            "domain": pa.array(domains, pa.string()),
            "bucket": pa.array((fnv1a32_many(domains) % self.buckets).astype(np.int64), pa.int64())}))
        con.register("file_ids", pa.table({"file": pa.array(list(file_index), pa.string()),
                                           "idx": pa.array(list(file_index.values()), pa.int64())}))
        selects = []
        evidence = ("CASE WHEN t.evidence IS NULL OR t.evidence = '' THEN json('{}') WHEN json_valid(t.evidence) "
                    "THEN json(t.evidence) ELSE json_object('unparsed', t.evidence) END")
        for what in parts:
            cols = [f't."{c}"' for c in (KEPT_COLUMNS if what == "kept" else EXCLUDED_COLUMNS)[:-2]]
            if what == "excluded":
                cols[-1] = evidence
            payload = ", ".join([*cols, "f.idx", "t.row"])
            selects.append(f"SELECT b.bucket, t.domain, t.host, '{what}' AS what, "
                           f"CAST(json_array({payload}) AS VARCHAR) AS payload, t.url AS k1, t.id AS k2 "
                           f"FROM t_{what} t JOIN domain_buckets b USING (domain) JOIN file_ids f USING (file)")
        if robots_sel:
            # robots entries only mark their place in the order; their values come from `robots` below
            selects.append("SELECT b.bucket, t.domain, t.bare AS host, 'robots' AS what, "
                           "CAST(NULL AS VARCHAR) AS payload, t.raw AS k1, "
                           "t.fetched_at AS k2 FROM t_robots2 t JOIN domain_buckets b USING (domain)")
            robots = {}
            for row in con.execute("SELECT bare, raw, fetched_at, http_status, entry_sha256, snapshot "
                                   "FROM t_robots2").fetchall():
                robots.setdefault((row[0], row[1], row[2]), []).append(list(row[1:]))
        if not selects:
            return
        sql = ("SELECT bucket, domain, host, what, payload, k1, k2 FROM ("
               + " UNION ALL BY NAME ".join(selects) + ") ORDER BY bucket, domain, host, what, k1, k2, payload")
        reader = con.sql(sql).to_arrow_reader(50_000)
        for batch in reader:
            cols = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for bucket, domain, host, what, payload, k1, k2 in zip(*cols, strict=True):
                if what == "robots":
                    for entry in robots.pop((host, k1, k2), []):
                        yield bucket, domain, host, what, entry
                    continue
                yield bucket, domain, host, what, (k1 or "", k2 or "", payload)


Row = tuple[str, str, str]  # url, id, the row as JSON text (KEPT_COLUMNS / EXCLUDED_COLUMNS)


def _key(row: Row) -> tuple[str, str]:
    return (row[0], row[1])


def _obj(items: dict[str, str]) -> str:
    """A JSON object from already-serialised values, keys sorted (as `_dumps` would write it)."""
    return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{v}" for k, v in sorted(items.items())) + "}"


def _rows(rows: list[Row]) -> str:
    return "[" + ",".join(r[2] for r in rows) + "]"


def _robots_first(entries: list[list[Any]]) -> list[list[Any]]:
    """As lookup's _robots_entries: per snapshot, sorted by (host, fetched_at), the first ROBOTS_LIMIT."""
    out: list[list[Any]] = []
    for snap in sorted({e[4] for e in entries}):
        mine = sorted((e for e in entries if e[4] == snap), key=lambda e: (e[0] or "", e[1] or ""))
        out += mine[:ROBOTS_LIMIT]
    return out


class _Writer:
    """Turns the ordered stream into bucket files (and part files for the largest domains and hosts)."""

    def __init__(self, ds: Dataset, buckets: int, split_rows: int) -> None:
        self.ds, self.buckets, self.split_rows = ds, buckets, split_rows
        self.width = max(4, len(str(buckets - 1)))
        self.written: list[str] = []
        self.bytes = 0

    def path(self, bucket: int) -> str:
        return f"index/b/{bucket:0{self.width}d}.json.gz"

    def put(self, rel: str, text: str) -> None:
        data = gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)
        self.ds.folder.write_bytes(f"{LOOKUP_DIR}/{rel}", data)
        self.written.append(f"{LOOKUP_DIR}/{rel}")
        self.bytes += len(data)

    def _host_entry(self, rows: dict[str, list[Any]], split_path: str) -> str:
        kept, excluded, robots = rows.get("kept", []), rows.get("excluded", []), rows.get("robots", [])
        first = _dumps(_robots_first(robots)).decode("utf-8") if robots else "[]"
        if len(kept) + len(excluded) <= self.split_rows:
            return _obj({k: v for k, v, n in (("kept", _rows(kept), kept), ("excluded", _rows(excluded), excluded),
                                              ("robots", first, robots)) if n})
        parts = 1 << max(0, math.ceil((len(kept) + len(excluded)) / self.split_rows) - 1).bit_length()
        chunks: list[dict[str, list[Row]]] = [{"kept": [], "excluded": []} for _ in range(parts)]
        for what, rs in (("kept", kept), ("excluded", excluded)):
            for r, h in zip(rs, fnv1a32_many([url_key(r[0]) for r in rs]), strict=True):
                chunks[int(h) % parts][what].append(r)
        for i, chunk in enumerate(chunks):
            self.put(f"{split_path}/{i:04d}.json.gz", _obj({k: _rows(v) for k, v in chunk.items() if v}))
        return _obj({"n": _dumps([len(kept), len(excluded)]).decode(), "robots": first, "split_by": '"url"',
                     "sample": _obj({"kept": _rows(kept[:SAMPLE]), "excluded": _rows(excluded[:SAMPLE])}),
                     "split": _dumps({"path": split_path, "parts": parts}).decode()})

    def domain_entry(self, bucket: int, ordinal: int, hosts: dict[str, dict[str, list[Any]]]) -> str:
        total = sum(len(h.get("kept", [])) + len(h.get("excluded", [])) for h in hosts.values())
        base = f"index/s/{bucket:0{self.width}d}-{ordinal}"
        if total <= self.split_rows:
            return _obj({"hosts": _obj({h: self._host_entry(rows, "") for h, rows in hosts.items()})})
        parts = 1 << max(0, math.ceil(total / self.split_rows) - 1).bit_length()
        chunks: list[dict[str, str]] = [{} for _ in range(parts)]
        for j, (host, rows) in enumerate(hosts.items()):
            chunks[fnv1a32(host) % parts][host] = self._host_entry(rows, f"{base}-h{j}")
        for i, chunk in enumerate(chunks):
            self.put(f"{base}/{i:04d}.json.gz", _obj({"hosts": _obj(chunk)}))
        every = {w: [r for h in hosts.values() for r in h.get(w, [])] for w in ("kept", "excluded", "robots")}
        return _obj({"n": _dumps([len(every["kept"]), len(every["excluded"])]).decode(), "hosts_n": str(len(hosts)),
                     "robots": _dumps(_robots_first(every["robots"])).decode(), "split_by": '"host"',
                     "sample": _obj({w: _rows(heapq.nsmallest(SAMPLE, every[w], key=_key))
                                     for w in ("kept", "excluded")}),
                     "split": _dumps({"path": base, "parts": parts}).decode()})


def write_lookup(ds: Dataset, *, removal: str, split_rows: int = SPLIT_ROWS,
                 buckets: int | None = None) -> list[str]:
    """Write lookup/ (page, PSL, index) for the dataset; return the files' paths, sorted.

    `removal` is the publisher's statement of how to get pages removed (the card's words).
    `buckets` and `split_rows` are for tests and the scale check; publish uses the defaults.
    """
    import tempfile

    _clear(ds)
    with tempfile.TemporaryDirectory(prefix="consentcrawl-lookup-") as scratch:
        src = _Rows(ds, Path(scratch), buckets)
        stream = src.stream()
        first = next(stream, None)  # runs the query: src.buckets is known from here on
        n = src.buckets
        writer = _Writer(ds, n, split_rows)
        current: dict[str, str] = {}
        bucket, domain, hosts, ordinal = 0, None, {}, 0

        def flush_domain() -> None:
            nonlocal hosts, ordinal
            if domain is not None and hosts:
                current[domain] = writer.domain_entry(bucket, ordinal, hosts)
                ordinal += 1
            hosts = {}

        for b, d, h, what, row in _chain([] if first is None else [first], stream):
            if d != domain or b != bucket:
                flush_domain()
                if b != bucket:
                    writer.put(writer.path(bucket), _obj({"domains": _obj(current)}))
                    for empty in range(bucket + 1, b):
                        writer.put(writer.path(empty), '{"domains":{}}')
                    current, ordinal, bucket = {}, 0, b
                domain = d
            hosts.setdefault(h, {}).setdefault(what, []).append(row)
        flush_domain()
        writer.put(writer.path(bucket), _obj({"domains": _obj(current)}))
        for empty in range(bucket + 1, n):
            writer.put(writer.path(empty), '{"domains":{}}')
        files, rows = src.files, src.rows
    meta = {
        "format": FORMAT,
        "hash": "fnv1a-32 of the registrable domain's UTF-8 bytes, modulo buckets",
        "buckets": n,
        "bucket_path": f"index/b/{{bucket:0{writer.width}d}}.json.gz",
        "bucket_digits": writer.width,
        "sample": SAMPLE,
        "robots_limit": ROBOTS_LIMIT,
        "split_rows": split_rows,
        "columns": {"kept": KEPT_COLUMNS, "excluded": EXCLUDED_COLUMNS, "robots": ROBOTS_COLUMNS},
        "files": files,
        "rows": rows,
        "snapshots": [{"path": s["path"], "snapshot_id": s["snapshot_id"], "as_of": s.get("as_of")}
                      for s in src.snapshots],
        "dataset_version": ds.version,
        "inputs": len(ds.manifest["inputs"]),
        "publication": ds.manifest.get("publication") or {},
        "removal": removal,
        "robots_filtering": ds.manifest.get("robots_filtering") or {},
        "policy": {"name": ds.manifest["policy"]["name"], "agents": ds.manifest["policy"]["agents"]},
    }
    ds.folder.write_bytes(f"{LOOKUP_DIR}/index/meta.json", _dumps(meta) + b"\n")
    ds.folder.write_bytes(f"{LOOKUP_DIR}/psl.json.gz", _gz(psl_rules()))
    out = writer.written + [f"{LOOKUP_DIR}/index/meta.json", f"{LOOKUP_DIR}/psl.json.gz"]
    assets = resources.files("pipeline.manifest") / "lookup_assets"
    for name in ASSETS:
        ds.folder.write_bytes(f"{LOOKUP_DIR}/{name}", (assets / name).read_bytes())
        out.append(f"{LOOKUP_DIR}/{name}")
    return sorted(out)


def _chain(first: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest


def _clear(ds: Dataset) -> None:
    """Remove an older lookup/ (it may have had more buckets): every file there is regenerated."""
    for rel in ds.rels("lookup"):
        ds.folder.remove(rel)
    if not ds.remote:
        shutil.rmtree(ds.root / LOOKUP_DIR, ignore_errors=True)
    elif ds.folder.exists(LOOKUP_DIR):
        ds.folder.fs.rm(ds.folder.full(LOOKUP_DIR), recursive=True)


def removal_statement(m: dict[str, Any]) -> str:
    """How to have pages removed, in the card's words (its "For site owners" section and maintenance plan).

    Plain text: the page shows it as it is."""
    pub = m.get("publication") or {}
    who = "the publisher" + (f" ({pub['name']})" if pub.get("name") else "") + (f", {pub['url']}," if pub.get("url")
                                                                              else "")
    return (f"Send {who} the URLs, hosts or domains to remove, one per line. The publisher applies removal requests, "
            "and newer robots.txt snapshots, with consentcrawl revoke: it publishes a new version of the dataset "
            "whose manifest names this one and lists what was removed and why; removed documents move to the "
            "exclusion ledger with reason revoked:removal-request or revoked:robots. Disallowing AI crawlers in "
            "your robots.txt keeps your pages out of future crawls and, once the publisher applies a newer "
            f"snapshot, out of the next version. This is version {m['dataset']['version']}.")
