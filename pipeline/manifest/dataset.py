"""A released dataset folder opened for reading: validated manifest, files by kind, safe scans.

Commands other than `verify` trust the manifest's file list (not a directory listing), so a
stray file can never leak into a lookup, a revocation or a dataset card.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from pipeline.manifest.build import MANIFEST_NAME
from pipeline.manifest.schema import ManifestError, load_manifest
from pipeline.manifest.verify import inside


class DatasetError(ValueError):
    """A dataset file that cannot be read; the message names the file and the problem."""


@dataclass(slots=True)
class Dataset:
    root: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, folder: str | Path) -> Dataset:
        root = Path(folder)
        manifest = load_manifest(root)
        for f in manifest["files"]:
            if inside(root, f["path"]) is None:
                raise ManifestError(f"{root / MANIFEST_NAME}: file path {f['path']!r} points outside the folder")
        return cls(root, manifest)

    @property
    def version(self) -> int:
        return int(self.manifest["dataset"]["version"])

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256((self.root / MANIFEST_NAME).read_bytes()).hexdigest()

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.manifest["files"] if f["kind"] == kind]

    def paths(self, kind: str) -> list[Path]:
        return [self.root / f["path"] for f in self.entries(kind)]

    def rel(self, path: str | Path) -> str:
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(p)


def check_parquet(paths: Iterable[Path]) -> None:
    """Raise DatasetError naming the first file whose Parquet footer cannot be read."""
    for p in paths:
        if not p.is_file():
            raise DatasetError(f"{p}: missing (listed in the manifest; run `consentcrawl verify`)")
        try:
            pq.ParquetFile(p).metadata  # noqa: B018 - reading the footer is the check
        except Exception as exc:
            raise DatasetError(f"{p}: not a readable Parquet file, truncated or corrupt "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from exc


def collect(paths: list[Path], predicate: pl.Expr, columns: list[str]) -> pl.DataFrame:
    """Rows of `paths` matching `predicate`, only `columns` (+ `file`), with predicate pushdown.

    A file that turns out unreadable is named in a DatasetError instead of a polars traceback.
    """
    if not paths:
        return pl.DataFrame()
    try:
        lf = pl.scan_parquet([str(p) for p in paths], include_file_paths="file", glob=False,
                             missing_columns="insert", extra_columns="ignore")
        return lf.filter(predicate).select([*columns, "file"]).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        check_parquet(paths)  # raises with the file's name when one is broken
        raise DatasetError(f"reading {len(paths)} Parquet file(s) failed: {str(exc)[:300]}") from exc
