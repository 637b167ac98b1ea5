"""Adding generated files (card, croissant.json, report/) to a verified dataset and re-sealing its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.manifest.build import MANIFEST_NAME, dump_manifest, seal
from pipeline.manifest.dataset import Dataset, manifest_bytes
from pipeline.manifest.verify import verify


class PublishError(ValueError):
    """The dataset cannot be published as it is; the message says why."""


def require_verified(root: Path | str, regenerated: tuple[str, ...]) -> None:
    """Re-sealing a manifest must never bless a changed file: verify first (outputs we rewrite aside)."""
    problems = [p for p in verify(root) if not p.startswith(regenerated)]
    if problems:
        raise PublishError(f"{root} does not verify ({len(problems)} problem(s), first: {problems[0]}); "
                           "run `consentcrawl verify` and fix it first")


def list_outputs(ds: Dataset, rels: list[str], drop_kinds: tuple[str, ...]) -> dict[str, Any]:
    """Replace the in-memory manifest's entries of `drop_kinds` by the files `rels` and re-seal it."""
    from pipeline.manifest.build import file_kind

    m = ds.manifest
    files = [f for f in m["files"] if f["kind"] not in drop_kinds]
    for rel in rels:
        size = ds.folder.size(rel)
        files.append({"path": rel, "sha256": ds.folder.sha256(rel), "bytes": size, "rows": None,
                      "kind": file_kind(rel)})
    m["files"] = files
    return seal(m)


def add_outputs(ds: Dataset, rels: list[str], drop_kinds: tuple[str, ...]) -> dict[str, Any]:
    """`list_outputs`, then write the manifest: last, in one atomic write (rename locally, one PUT on a store)."""
    m = list_outputs(ds, rels, drop_kinds)
    if ds.remote:
        ds.folder.write_bytes(MANIFEST_NAME, manifest_bytes(m))
    else:
        dump_manifest(m, ds.root / MANIFEST_NAME)
    return m
