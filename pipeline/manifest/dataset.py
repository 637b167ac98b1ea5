"""A released dataset folder opened for reading: validated manifest, files by kind, safe scans.

Commands other than `verify` trust the manifest's file list (not a directory listing), so a
stray file can never leak into a lookup, a revocation or a dataset card. The folder may be an
fsspec URL (s3://…): then Parquet files are read through fsspec with pyarrow, only the needed
columns and row groups, never downloaded whole.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.manifest.build import MANIFEST_NAME
from pipeline.manifest.schema import ManifestError, load_manifest, read_manifest_json
from pipeline.manifest.verify import inside, safe_relpath
from pipeline.storage import OutputFolder, is_remote


class DatasetError(ValueError):
    """A dataset file that cannot be read; the message names the file and the problem."""


def read_manifest(folder: OutputFolder, validate: bool = True) -> dict[str, Any]:
    """The manifest of a folder on a store, read and checked by the same code as a local one.

    Its bytes are copied to a temporary folder (the manifest only, never the data) and the
    messages name the URL, not the copy.
    """
    where = f"{folder.url}/{MANIFEST_NAME}"
    try:
        raw = folder.read_bytes(MANIFEST_NAME)
    except FileNotFoundError:
        raise ManifestError(f"{where}: no manifest.json in this folder (is it a consentcrawl dataset?)") from None
    except OSError as exc:
        raise ManifestError(f"{where}: cannot read ({str(exc)[:200] or type(exc).__name__})") from exc
    with tempfile.TemporaryDirectory(prefix="consentcrawl-manifest-") as tmp:
        copy = Path(tmp) / MANIFEST_NAME
        copy.write_bytes(raw)
        try:
            return load_manifest(tmp) if validate else read_manifest_json(tmp)
        except ManifestError as exc:
            raise ManifestError(str(exc).replace(str(copy), where)) from None


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The bytes `build.dump_manifest` writes, for a folder that is not a local path."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(slots=True)
class Dataset:
    folder: OutputFolder
    manifest: dict[str, Any]
    local_root: Path | None = None  # exactly the path given, for a local folder

    @classmethod
    def open(cls, folder: str | Path | OutputFolder) -> Dataset:
        if isinstance(folder, OutputFolder) or is_remote(str(folder)):
            out = folder if isinstance(folder, OutputFolder) else OutputFolder(str(folder))
            out.refresh()
            manifest = read_manifest(out)
            for f in manifest["files"]:
                if safe_relpath(f["path"]) is None:
                    raise ManifestError(f"{out.url}/{MANIFEST_NAME}: file path {f['path']!r} points outside the folder")
            return cls(out, manifest)
        root = Path(folder)
        manifest = load_manifest(root)
        for f in manifest["files"]:
            if inside(root, f["path"]) is None:
                raise ManifestError(f"{root / MANIFEST_NAME}: file path {f['path']!r} points outside the folder")
        return cls(OutputFolder(str(root)), manifest, root)

    @property
    def remote(self) -> bool:
        return self.folder.remote

    @property
    def root(self) -> Path:
        """The local folder; code that needs it (revoke) cannot work on a store."""
        if self.local_root is None:
            raise DatasetError(f"{self.folder.url} is not a local folder: copy it locally first (e.g. with "
                               "`aws s3 sync` or fsspec's get)")
        return self.local_root

    def where(self, rel: str) -> str:
        """How messages name a file of the dataset."""
        return f"{self.folder.url}/{rel}" if self.remote else str(self.root / rel)

    @property
    def version(self) -> int:
        return int(self.manifest["dataset"]["version"])

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.folder.read_bytes(MANIFEST_NAME) if self.remote
                              else (self.root / MANIFEST_NAME).read_bytes()).hexdigest()

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.manifest["files"] if f["kind"] == kind]

    def paths(self, kind: str) -> list[Path]:
        return [self.root / f["path"] for f in self.entries(kind)]

    def rels(self, kind: str) -> list[str]:
        return [f["path"] for f in self.entries(kind)]

    def rel(self, path: str | Path) -> str:
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(p)

    def read_schema(self, rel: str) -> pa.Schema:
        if not self.remote:
            return pq.read_schema(self.root / rel)
        try:
            with self.folder.open(rel) as fh:
                return pq.ParquetFile(fh).schema_arrow
        except FileNotFoundError:
            raise DatasetError(f"{self.where(rel)}: missing (listed in the manifest; run `consentcrawl verify`)") \
                from None
        except Exception as exc:
            raise DatasetError(f"{self.where(rel)}: not a readable Parquet file, truncated or corrupt "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from exc

    def check_parquet(self, rels: Iterable[str]) -> None:
        """DatasetError naming the first listed file whose Parquet footer cannot be read."""
        if not self.remote:
            check_parquet(self.root / r for r in rels)
            return
        for r in rels:
            self.read_schema(r)

    def collect(self, rels: list[str], predicate: pl.Expr, columns: list[str],
                prefilter: Any = None) -> pl.DataFrame:
        """Rows of the files `rels` matching `predicate`: `columns` + `file` (the relative path).

        On a store, `prefilter` (a pyarrow expression implied by `predicate`) lets pyarrow skip row
        groups by their statistics; `predicate` itself is always applied after, so the rows are
        exactly those of a local scan.
        """
        if not self.remote:
            df = collect([self.root / r for r in rels], predicate, columns)
            if df.is_empty():
                return df
            names = {str(self.root / r): r for r in rels}
            return df.with_columns(pl.col("file").replace_strict(names, default=pl.col("file")))
        import pyarrow.dataset as pads

        need = list(dict.fromkeys([*columns, *predicate.meta.root_names()]))
        frames = []
        parquet, fs = pads.ParquetFileFormat(), _exact_reads(self.folder.fs)
        for rel in rels:
            try:
                part = parquet.make_fragment(self.folder.full(rel), filesystem=fs)
                names = part.physical_schema.names  # reads the footer once; the scan below reuses it
                present = [c for c in need if c in names]
                table = part.to_table(columns=present, filter=prefilter if len(present) == len(need) else None)
            except FileNotFoundError:
                raise DatasetError(f"{self.where(rel)}: missing (listed in the manifest; run `consentcrawl verify`)") \
                    from None
            except Exception as exc:
                raise DatasetError(f"{self.where(rel)}: not a readable Parquet file, truncated or corrupt "
                                   f"({type(exc).__name__}: {str(exc)[:200]})") from exc
            df = pl.from_arrow(table)
            assert isinstance(df, pl.DataFrame)
            df = df.with_columns(pl.lit(None).alias(c) for c in need if c not in present)  # as missing_columns=insert
            frames.append(df.filter(predicate).select(columns).with_columns(pl.lit(rel).alias("file")))
        if not frames:
            return pl.DataFrame()
        return pl.concat(frames, how="diagonal_relaxed")


def _exact_reads(fs: Any) -> Any:
    """fsspec for pyarrow, reading exactly the byte ranges pyarrow asks for.

    fsspec's default read-ahead (50 MiB blocks on s3fs) would fetch the `text` column along with
    the `host` column chunk it follows; without it a lookup transfers footers and needed columns only.
    """
    from pyarrow import PythonFile
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    class ExactReads(FSSpecHandler):  # type: ignore[misc]
        def open_input_file(self, path: str) -> PythonFile:
            try:
                fh = self.fs.open(path, mode="rb", cache_type="none")
            except TypeError:  # a filesystem without block caches
                fh = self.fs.open(path, mode="rb")
            return PythonFile(fh, mode="r")

    return PyFileSystem(ExactReads(fs))


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
