"""`consentcrawl lookup`: a site owner's question, "is my page / site in this dataset, and if not, why?"

Answers from the files the manifest lists: kept rows in data/, exclusion-ledger rows in
excluded/ (reason, agent, robots.txt rule and line, snapshot entry), robots.txt entries of the
snapshots shipped with the dataset. Reads only the `host` column first (Parquet row-group
statistics and polars predicate pushdown skip the rest), then the few columns it prints. A
dataset on a store (s3://…) is read the same way through fsspec and pyarrow (dataset.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.manifest.build import MANIFEST_NAME
from pipeline.manifest.dataset import Dataset
from pipeline.manifest.schema import ManifestError
from pipeline.manifest.targets import Target, url_key
from pipeline.manifest.verify import inside, safe_relpath

KEPT_COLUMNS = ["id", "url", "host", "lang", "script", "crawl_date", "content_sha256", "source_uri",
                "source_record_id"]
LEDGER_COLUMNS = ["id", "url", "host", "outcome", "reason", "group", "agents", "rule", "rule_line",
                  "snapshot_entry_sha256", "snapshot_fetched_at", "evidence", "source_uri", "source_record_id"]


@dataclass(slots=True)
class LookupResult:
    target: Target
    dataset_version: int
    merkle_root: str
    inputs: int
    kept: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    same_host_kept: int = 0  # URL queries: other pages of the same host
    same_host_excluded: int = 0
    robots_entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.kept and self.excluded:
            return "partly-in-dataset"
        if self.kept:
            return "in-dataset"
        if self.excluded:
            return "excluded"
        return "not-in-input"

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.target.text, "kind": self.target.kind, "host": self.target.host,
            "domain": self.target.domain, "verdict": self.verdict, "dataset_version": self.dataset_version,
            "merkle_root": self.merkle_root, "kept": self.kept, "excluded": self.excluded,
            "same_host_kept": self.same_host_kept, "same_host_excluded": self.same_host_excluded,
            "robots_entries": self.robots_entries,
        }


def _has_domain_column(ds: Dataset, rels: list[str]) -> bool:
    return bool(rels) and "domain" in ds.read_schema(rels[0]).names


def _rows(ds: Dataset, kind: str, target: Target, columns: list[str]) -> list[dict[str, Any]]:
    rels = ds.rels(kind)
    domain_column = _has_domain_column(ds, rels)
    df = ds.collect(rels, target.host_predicate(domain_column), columns, target.host_filter(domain_column))
    if df.is_empty():
        return []
    return df.sort("url", "id").to_dicts()


def _snapshot_ids(ds: Dataset) -> dict[str, str]:
    return {s["snapshot_id"]: s["path"] for s in ds.manifest["snapshots"]}


def _robots_entries(ds: Dataset, target: Target) -> list[dict[str, Any]]:
    """robots.txt entries for the target's host(s) in every snapshot the dataset ships."""
    out: list[dict[str, Any]] = []
    bare = pl.col("host").str.replace(r"^[a-z]+://", "").str.replace(r":\d+$", "")
    pred = bare == target.host
    if target.kind == "domain":
        pred = pred | bare.str.ends_with("." + target.host)
    listed = {f["path"] for f in ds.manifest["files"]}
    for snap in ds.manifest["snapshots"]:
        usable = snap["path"] in listed and (safe_relpath(snap["path"]) if ds.remote else inside(ds.root, snap["path"]))
        if not usable:  # only files the manifest lists and checksums, never a path leading elsewhere
            raise ManifestError(f"{ds.where(MANIFEST_NAME)}: snapshot path {str(snap['path'])[:200]!r} is not a "
                                "file listed in the manifest (run `consentcrawl verify`)")
        df = ds.collect([snap["path"]], pred, ["host", "fetched_at", "http_status", "entry_sha256"])
        for r in df.sort(["host", "fetched_at"]).head(50).to_dicts():
            r.pop("file", None)
            out.append({**r, "snapshot": snap["path"], "snapshot_id": snap["snapshot_id"],
                        "as_of": snap.get("as_of")})
    return out


def lookup(folder: str | Path, target: Target) -> LookupResult:
    """Everything the dataset knows about `target`; `folder` may be an fsspec URL."""
    ds = Dataset.open(folder)
    res = LookupResult(target, ds.version, ds.manifest["merkle_root"], len(ds.manifest["inputs"]))
    kept = _rows(ds, "data", target, KEPT_COLUMNS)
    excluded = _rows(ds, "excluded", target, LEDGER_COLUMNS)
    if target.kind == "url":
        res.same_host_kept, res.same_host_excluded = len(kept), len(excluded)
        path = target.url_key[len(target.host):].lstrip(":0123456789")  # /path?query: cheap prefilter
        kept = [r for r in kept if path in r["url"] and url_key(r["url"]) == target.url_key]
        excluded = [r for r in excluded if path in r["url"] and url_key(r["url"]) == target.url_key]
        res.same_host_kept -= len(kept)
        res.same_host_excluded -= len(excluded)
    ids = _snapshot_ids(ds)
    for r in excluded:
        try:
            ev = json.loads(r.get("evidence") or "{}")
        except ValueError:
            ev = {}
        r["evidence"] = ev
        sid = ev.get("snapshot_id")
        if sid:
            r["snapshot_id"] = sid
            r["snapshot"] = ids.get(sid, "")
    res.kept, res.excluded = kept, excluded  # sorted by (url, id) in _rows
    res.robots_entries = _robots_entries(ds, target)
    return res


def _short(s: Any, n: int = 16) -> str:
    s = str(s or "")
    return s[:n] + "…" if len(s) > n else s


def format_result(res: LookupResult, folder: str | Path, limit: int = 20) -> str:
    """The human answer: verdict first, then the evidence for each document."""
    t = res.target
    lines = [f"{t.text}: {t.describe()} {t.host}"
             + (f" (registrable domain {t.domain})" if t.kind != "domain" else "")
             + f" in {folder} (dataset version {res.dataset_version}, merkle root {_short(res.merkle_root)})"]
    n_k, n_e = len(res.kept), len(res.excluded)
    what = "this page" if t.kind == "url" else f"{t.host}"
    verdict = {
        "in-dataset": f"IN THE DATASET: {n_k} document(s) from {what} are in data/.",
        "partly-in-dataset": f"PARTLY IN THE DATASET: {n_k} document(s) from {what} are in data/, "
                             f"{n_e} were excluded.",
        "excluded": f"EXCLUDED: {n_e} document(s) from {what} were in the input and are not in the dataset.",
        "not-in-input": f"NOT IN THE INPUT: no document from {what} was in this dataset's input "
                        f"({res.inputs} input shard(s), listed in manifest.json).",
    }[res.verdict]
    lines.append(verdict)
    if t.kind == "url" and (res.same_host_kept or res.same_host_excluded):
        lines.append(f"  (other pages of {t.host}: {res.same_host_kept} in the dataset, "
                     f"{res.same_host_excluded} excluded; run lookup on the host to list them)")
    if res.kept:
        lines.append(f"\nIn the dataset ({n_k}):")
        for r in res.kept[:limit]:
            lines.append(f"  {r['url']}")
            lines.append(f"    id {r['id']}  language {r['lang']}_{r['script']}  crawled {r['crawl_date']}  "
                         f"in {r['file']}  from {r['source_uri']} {r['source_record_id']}")
        if n_k > limit:
            lines.append(f"  … {n_k - limit} more (use --limit or --json)")
    if res.excluded:
        lines.append(f"\nExcluded ({n_e}), from the exclusion ledger:")
        for r in res.excluded[:limit]:
            lines.append(f"  {r['url']}")
            lines.append("    " + explain_exclusion(r))
            lines.append(f"    id {r['id']}  ledger {r['file']}  from {r['source_uri']} {r['source_record_id']}")
        if n_e > limit:
            lines.append(f"  … {n_e - limit} more (use --limit or --json)")
    if res.robots_entries:
        lines.append("\nrobots.txt entries for this host in the dataset's snapshots:")
        for e in res.robots_entries[:limit]:
            lines.append(f"  {e['host']}  fetched {e['fetched_at']}  HTTP {e['http_status']}  "
                         f"entry {_short(e['entry_sha256'])}  in {e['snapshot']}")
    else:
        lines.append("\nNo robots.txt entry for this host in the dataset's snapshots "
                     "(the policy's missing_host setting applied).")
    return "\n".join(lines)


def disallowed_by(group: str | None) -> str:
    """Who the site shuts out, in words: every crawler (its `*` group) or a named AI agent."""
    if group == "*":
        return "disallows all crawlers (its User-agent: * group)"
    return f"group for AI agent {group} disallows it"


def explain_exclusion(r: dict[str, Any]) -> str:
    """One line: why this ledger row is not in the dataset."""
    reason = r["reason"]
    ev = r.get("evidence") or {}
    if reason in ("optout:robots", "revoked:robots"):
        s = f"{reason}: robots.txt {disallowed_by(r.get('group'))}"
        if r.get("rule"):
            s += f" by rule {r['rule']!r}"
        if r.get("rule_line"):
            s += f" (line {r['rule_line']})"
        if r.get("agents"):
            s += f"; policy agents disallowed: {', '.join(r['agents'])}"
        if ev.get("basis") and ev.get("basis") != "rules":
            s += f" [{ev['basis']}]"
        s += f"; snapshot entry {_short(r.get('snapshot_entry_sha256'))} fetched {r.get('snapshot_fetched_at')}"
        if r.get("snapshot"):
            s += f" in {r['snapshot']}"
        if ev.get("revoked_in_version"):
            s += f"; removed in dataset version {ev['revoked_in_version']}"
        return s
    if reason.startswith("optout:") and ev.get("signal"):  # noai, TDMRep, Content-Signal, ... signals
        s = f"{reason}: {ev['signal']} opt-out found in {ev.get('location') or '?'}"
        if r.get("rule"):
            s += f": {r['rule']!r}"
        if r.get("snapshot_entry_sha256"):
            s += (f"; snapshot entry {_short(r['snapshot_entry_sha256'])} fetched {r.get('snapshot_fetched_at')}"
                  + (f" in {r['snapshot']}" if r.get("snapshot") else ""))
        return s
    if reason == "revoked:removal-request":
        return (f"{reason}: removal request line {ev.get('request_line')} ({ev.get('request')!r}, matched as "
                f"{ev.get('matched_as')}); removed in dataset version {ev.get('revoked_in_version')}")
    detail = ", ".join(f"{k}={v}" for k, v in sorted(ev.items()) if k not in ("snapshot_id",))[:200]
    return f"{r['outcome']}: {reason}" + (f" ({detail})" if detail else "")
