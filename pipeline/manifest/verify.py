"""Recompute every checksum and row count a manifest lists; report each difference.

Also: the manifest must match its schema (of the version this consentcrawl reads), its paths
must stay inside the folder, its counts must agree with the files, and the Merkle root must
cover exactly these files and this manifest body. Optionally checks an Ed25519 signature.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow.parquet as pq

from pipeline.manifest.build import MANIFEST_NAME, SIGNATURE_NAME, body_sha256, file_kind, merkle_root
from pipeline.manifest.schema import ManifestError, read_manifest_json, schema_problems, version_problem
from pipeline.storage import OutputFolder, is_remote
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


def safe_relpath(rel: Any) -> str | None:
    """`rel` if it names a file inside a folder on an object store (no .., /, \\, empty or '.' parts)."""
    if not isinstance(rel, str) or not rel or "\x00" in rel or len(rel.encode("utf-8", "replace")) > 1024:
        return None
    if rel.startswith("/") or "\\" in rel or any(part in ("", ".", "..") for part in rel.split("/")):
        return None
    return rel


def _unusable(rel: str) -> list[str]:
    return [f"{rel[:200]}: path points outside the dataset folder, through a symlink, or is not a usable "
            "file name (rejected)"]


def _check_file(root: Path, entry: dict[str, Any]) -> list[str]:
    rel = str(entry.get("path", ""))
    full = inside(root, rel)
    if full is None:
        return _unusable(rel)
    if not full.is_file():
        return [f"{rel}: missing"]
    return _compare(entry, rel, full.stat().st_size, lambda: sha256_file(full), lambda: open(full, "rb"))


def _compare(entry: dict[str, Any], rel: str, size: int, digest: Callable[[], str],
             opener: Callable[[], BinaryIO]) -> list[str]:
    """Size, sha256 and (Parquet) row count of one present file against its manifest entry."""
    out: list[str] = []
    if size != entry.get("bytes"):
        out.append(f"{rel}: size {size} != manifest {entry.get('bytes')}")
    sha = digest()
    if sha != entry.get("sha256"):
        out.append(f"{rel}: sha256 {sha[:16]}… != manifest {str(entry.get('sha256'))[:16]}… (content changed)")
        return out
    if rel.endswith(".parquet") and entry.get("rows") is not None:
        try:
            with opener() as fh:
                rows = pq.ParquetFile(fh).metadata.num_rows
        except Exception as exc:
            return out + [f"{rel}: not readable as Parquet ({type(exc).__name__}: {str(exc)[:200]})"]
        if rows != entry["rows"]:
            out.append(f"{rel}: {rows} rows != manifest {entry['rows']}")
    return out


def _check_remote_file(folder: OutputFolder, sizes: dict[str, int], entry: dict[str, Any]) -> list[str]:
    rel = str(entry.get("path", ""))
    if safe_relpath(rel) is None:
        return _unusable(rel)
    if rel not in sizes:
        return [f"{rel}: missing"]
    return _compare(entry, rel, sizes[rel], lambda: folder.sha256(rel), lambda: folder.open(rel))


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


def _remote_extras(sizes: dict[str, int], listed: set[str]) -> list[str]:
    """Stores have no symlinks or empty folders: an unlisted object is the only kind of extra."""
    return sorted(f"{rel}: extra file not in the manifest" for rel in sizes
                  if rel not in listed and rel not in IGNORED and rel.split("/", 1)[0] not in STATE_DIRS)


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


def verify(folder: str | Path | OutputFolder, pubkey: str | Path | None = None) -> list[str]:
    """An empty list means the folder matches its manifest (and signature, with `pubkey`).

    `folder` may be an fsspec URL (s3://…): every object is streamed from the store, never
    downloaded as a whole folder.
    """
    if isinstance(folder, OutputFolder) or is_remote(str(folder)):
        return _verify_remote(folder if isinstance(folder, OutputFolder) else OutputFolder(str(folder)), pubkey)
    root = Path(folder)
    try:
        manifest = read_manifest_json(root)
    except ManifestError as exc:
        return [str(exc)]
    return _verify_manifest(manifest, lambda entry: _check_file(root, entry), lambda listed: _extras(root, listed),
                            lambda: _signature(root, pubkey))


def _signature(root: Path, pubkey: str | Path | None) -> str | None:
    if pubkey is None:
        return None
    from pipeline.manifest.sign import signature_problem

    return signature_problem(root, pubkey)


def _verify_remote(folder: OutputFolder, pubkey: str | Path | None) -> list[str]:
    """The same checks on a store. manifest.json (and its signature) are copied to a temporary
    folder so that exactly the bytes checked are the bytes parsed, by the same code as locally."""
    sizes = folder.sizes()
    with tempfile.TemporaryDirectory(prefix="consentcrawl-verify-") as tmp:
        copy = Path(tmp)
        for name in (MANIFEST_NAME, SIGNATURE_NAME) if pubkey is not None else (MANIFEST_NAME,):
            if name in sizes:
                (copy / name).write_bytes(folder.read_bytes(name))
        try:
            manifest = read_manifest_json(copy)
        except ManifestError as exc:
            return [str(exc).replace(str(copy / MANIFEST_NAME), f"{folder.url}/{MANIFEST_NAME}")]
        return _verify_manifest(manifest, lambda entry: _check_remote_file(folder, sizes, entry),
                                lambda listed: _remote_extras(sizes, listed), lambda: _signature(copy, pubkey))


def _verify_manifest(manifest: dict[str, Any], check_file: Callable[[dict[str, Any]], list[str]],
                     extras: Callable[[set[str]], list[str]], signature: Callable[[], str | None]) -> list[str]:
    """Every check that does not depend on where the folder is."""
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
        problems.extend(check_file(entry))
    problems.extend(extras(listed))
    try:
        root_ok = merkle_root(files, body_sha256(manifest)) == manifest.get("merkle_root")
    except (KeyError, TypeError):
        root_ok = False
    if not root_ok:
        problems.append(f"{MANIFEST_NAME}: merkle_root does not match the listed files and manifest content "
                        "(the manifest was edited after it was sealed)")
    if not any(p.startswith(f"{MANIFEST_NAME}: does not match its schema") for p in problems):
        problems.extend(_consistency(manifest))
    sig = signature()
    if sig:
        problems.append(sig)
    return problems
