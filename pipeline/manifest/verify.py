"""Recompute every checksum and row count a manifest lists; report each difference."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.manifest.build import MANIFEST_NAME, merkle_root
from pipeline.write import sha256_file

IGNORED = {MANIFEST_NAME, "run-log.jsonl", "manifest.json.sig"}


def _inside(root: Path, rel: str) -> Path | None:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        return None
    full = root / p
    try:
        full.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    if full.is_symlink():
        return None
    return full


def verify(folder: str | Path) -> list[str]:
    """An empty list means the folder matches its manifest."""
    root = Path(folder)
    mpath = root / MANIFEST_NAME
    if not mpath.is_file():
        return [f"{mpath}: no manifest"]
    try:
        manifest = json.loads(mpath.read_text("utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{mpath}: unreadable manifest ({exc})"]
    problems: list[str] = []
    listed: set[str] = set()
    for entry in files:
        rel = str(entry.get("path", ""))
        listed.add(rel)
        full = _inside(root, rel)
        if full is None:
            problems.append(f"{rel}: path points outside the dataset folder (rejected)")
            continue
        if not full.is_file():
            problems.append(f"{rel}: missing")
            continue
        size = full.stat().st_size
        if size != entry.get("bytes"):
            problems.append(f"{rel}: size {size} != manifest {entry.get('bytes')}")
        digest = sha256_file(full)
        if digest != entry.get("sha256"):
            problems.append(f"{rel}: sha256 {digest[:16]}… != manifest {str(entry.get('sha256'))[:16]}…")
            continue
        if rel.endswith(".parquet") and entry.get("rows") is not None:
            try:
                rows = pq.ParquetFile(full).metadata.num_rows
            except Exception as exc:
                problems.append(f"{rel}: not readable as Parquet ({exc})")
                continue
            if rows != entry["rows"]:
                problems.append(f"{rel}: {rows} rows != manifest {entry['rows']}")
    for p in sorted(root.rglob("*")):
        if p.is_file() or p.is_symlink():
            rel = p.relative_to(root).as_posix()
            if rel not in listed and rel not in IGNORED and not rel.startswith(("report/", ".consentcrawl/")):
                problems.append(f"{rel}: extra file not in the manifest")
    if merkle_root(files) != manifest.get("merkle_root"):
        problems.append("merkle_root does not match the listed files")
    return problems
