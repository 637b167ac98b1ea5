"""Recompute every checksum and row count a manifest lists; report each difference.

Also: the manifest must match its schema (of the version this consentcrawl reads), its paths
must stay inside the folder, its counts must agree with the files, and the Merkle root must
cover exactly these files and this manifest body. Optionally checks an Ed25519 signature.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.manifest.build import MANIFEST_NAME, SIGNATURE_NAME, body_sha256, file_kind, merkle_root
from pipeline.manifest.schema import ManifestError, read_manifest_json, schema_problems, version_problem
from pipeline.write import sha256_file

IGNORED = {MANIFEST_NAME, "run-log.jsonl", SIGNATURE_NAME}
STATE_DIRS = (".consentcrawl",)  # the runner's resume markers: run state, not dataset content


def inside(root: Path, rel: str) -> Path | None:
    """The file a manifest path names, or None if it could leave the folder (.., absolute, symlink)."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        return None
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or "\\" in rel or rel.startswith("/"):
        return None
    full = root / p
    try:
        # every component, not only the last, must be a real directory/file inside root
        cur = root
        for part in p.parts:
            cur = cur / part
            if cur.is_symlink():
                return None
        full.resolve().relative_to(root.resolve())
        full.is_file()  # a crafted path can be too long for the OS: refuse it here, not in a later stat
    except (OSError, ValueError):
        return None
    return full


def _check_file(root: Path, entry: dict[str, Any]) -> list[str]:
    rel = str(entry.get("path", ""))
    full = inside(root, rel)
    if full is None:
        return [f"{rel[:200]}: path points outside the dataset folder, through a symlink, or is not a usable "
                "file name (rejected)"]
    if not full.is_file():
        return [f"{rel}: missing"]
    out: list[str] = []
    size = full.stat().st_size
    if size != entry.get("bytes"):
        out.append(f"{rel}: size {size} != manifest {entry.get('bytes')}")
    digest = sha256_file(full)
    if digest != entry.get("sha256"):
        out.append(f"{rel}: sha256 {digest[:16]}… != manifest {str(entry.get('sha256'))[:16]}… (content changed)")
        return out
    if rel.endswith(".parquet") and entry.get("rows") is not None:
        try:
            rows = pq.ParquetFile(full).metadata.num_rows
        except Exception as exc:
            return out + [f"{rel}: not readable as Parquet ({type(exc).__name__}: {str(exc)[:200]})"]
        if rows != entry["rows"]:
            out.append(f"{rel}: {rows} rows != manifest {entry['rows']}")
    return out


def _extras(root: Path, listed: set[str]) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        if base == root:
            dirnames[:] = [d for d in dirnames if d not in STATE_DIRS or (base / d).is_symlink()]
        for d in list(dirnames):
            if (base / d).is_symlink():
                rel = (base / d).relative_to(root).as_posix()
                out.append(f"{rel}: symlinked folder inside the dataset (rejected)")
                dirnames.remove(d)
        for name in filenames:
            p = base / name
            rel = p.relative_to(root).as_posix()
            if rel in IGNORED and not p.is_symlink():
                continue
            if p.is_symlink() and rel not in listed:
                out.append(f"{rel}: symlink inside the dataset (rejected)")
            elif rel not in listed:
                out.append(f"{rel}: extra file not in the manifest")
    return sorted(out)


def _consistency(m: dict[str, Any]) -> list[str]:
    """Counts that must agree with each other and with the listed files' row counts."""
    c, files = m["counts"], m["files"]
    rows: dict[str, int] = {}
    for f in files:
        rows[f["kind"]] = rows.get(f["kind"], 0) + int(f.get("rows") or 0)
    out: list[str] = []
    checks = [
        ("counts.kept", c["kept"], "rows of data/ files", rows.get("data", 0)),
        ("counts.excluded_rows", c["excluded_rows"], "rows of excluded/ files", rows.get("excluded", 0)),
        ("counts.records_in", c["records_in"], "kept + dropped + errored", c["kept"] + c["dropped"] + c["errored"]),
        ("counts.dropped", c["dropped"], "sum of dropped_by_reason", sum(c["dropped_by_reason"].values())),
        ("counts.errored", c["errored"], "sum of errored_by_reason", sum(c["errored_by_reason"].values())),
        ("counts.kept", c["kept"], "sum of documents_by_language", sum(c["documents_by_language"].values())),
        ("counts.chars_kept", c["chars_kept"], "sum of chars_by_language", sum(c["chars_by_language"].values())),
        ("counts.excluded_rows", c["excluded_rows"], "dropped + errored - non_document_records",
         c["dropped"] + c["errored"] - c["non_document_records"]),
        ("counts.records_in", c["records_in"], "records_read of complete inputs",
         sum(i["records_read"] for i in m["inputs"] if i["status"] == "complete")),
    ]
    config_digest = hashlib.sha256(json.dumps(m["config"], sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    if config_digest != m["config_sha256"]:
        out.append("manifest.json: config_sha256 is not the sha256 of the listed config")
    for name, value, what, expected in checks:
        if value != expected:
            out.append(f"manifest.json: {name} = {value} but {what} = {expected}")
    by_path = {f["path"]: f for f in files}
    for s in m["snapshots"]:
        f = by_path.get(s["path"])
        if f is None:
            out.append(f"manifest.json: snapshot {s['path']} is not in the file list")
        elif f["sha256"] != s["sha256"]:
            out.append(f"manifest.json: snapshot {s['path']} sha256 differs from its file entry")
    for r in m["lineage"]["revocations"]:
        if r["ledger"] not in by_path:
            out.append(f"manifest.json: revocation ledger {r['ledger']} (version {r['version']}) "
                       "is not in the file list")
    for f in files:
        if f["kind"] != file_kind(f["path"]):
            out.append(f"manifest.json: {f['path']} listed as kind {f['kind']!r}, "
                       f"its folder says {file_kind(f['path'])!r}")
    return out


def verify(folder: str | Path, pubkey: str | Path | None = None) -> list[str]:
    """An empty list means the folder matches its manifest (and signature, with `pubkey`)."""
    root = Path(folder)
    try:
        manifest = read_manifest_json(root)
    except ManifestError as exc:
        return [str(exc)]
    problem = version_problem(manifest)
    if problem:
        return [f"{MANIFEST_NAME}: {problem}"]
    problems = [f"{MANIFEST_NAME}: does not match its schema {p}" for p in schema_problems(manifest)]
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and "path" in f for f in files):
        return problems + [f"{MANIFEST_NAME}: no usable file list"]
    listed: set[str] = set()
    for entry in files:
        rel = str(entry["path"])
        if rel in listed:
            problems.append(f"{rel}: listed twice in the manifest")
        listed.add(rel)
        problems.extend(_check_file(root, entry))
    problems.extend(_extras(root, listed))
    try:
        root_ok = merkle_root(files, body_sha256(manifest)) == manifest.get("merkle_root")
    except (KeyError, TypeError):
        root_ok = False
    if not root_ok:
        problems.append(f"{MANIFEST_NAME}: merkle_root does not match the listed files and manifest content "
                        "(the manifest was edited after it was sealed)")
    if not any(p.startswith(f"{MANIFEST_NAME}: does not match its schema") for p in problems):
        problems.extend(_consistency(manifest))
    if pubkey is not None:
        from pipeline.manifest.sign import signature_problem

        sig = signature_problem(root, pubkey)
        if sig:
            problems.append(sig)
    return problems
