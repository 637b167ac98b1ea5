"""The dataset folder as the run sees it: a local folder or any fsspec URL (s3://, gs://, file://).

Every file appears under its final name only when complete: locally by writing a temporary
name and renaming, on object stores by a single PUT (or a multipart upload, which the store
commits as one object). Paths inside the folder are always relative, '/'-separated.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

LOCAL_PROTOCOLS = ("file", "local")


def is_remote(url: str) -> bool:
    return "://" in url and url.split("://", 1)[0] not in LOCAL_PROTOCOLS


class OutputFolder:
    """Atomic writes, reads and listings relative to one dataset folder."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.remote = is_remote(url)
        if self.remote:
            import fsspec

            self.fs, self.root = fsspec.core.url_to_fs(self.url)
            self.root = self.root.rstrip("/")
        else:
            self.fs = None
            self.root = str(Path(url.removeprefix("file://")))

    def __reduce__(self) -> tuple[Any, ...]:  # travels to workers as its URL; each opens its own fs
        return (OutputFolder, (self.url,))

    def __str__(self) -> str:
        return self.url

    def full(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def local_path(self, rel: str = "") -> Path:
        assert not self.remote
        return Path(self.full(rel))

    # -- reading ------------------------------------------------------------------------------
    def exists(self, rel: str = "") -> bool:
        if self.remote:
            return bool(self.fs.exists(self.full(rel)))
        return os.path.exists(self.full(rel))

    def is_dir(self, rel: str = "") -> bool:
        if self.remote:
            return bool(self.fs.isdir(self.full(rel)))
        return os.path.isdir(self.full(rel))

    def size(self, rel: str) -> int | None:
        try:
            if self.remote:
                return int(self.fs.info(self.full(rel))["size"])
            return os.stat(self.full(rel)).st_size
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read_bytes(self, rel: str) -> bytes:
        if self.remote:
            return bytes(self.fs.cat_file(self.full(rel)))
        return Path(self.full(rel)).read_bytes()

    def list_top(self) -> list[str]:
        """Names directly in the folder (empty if it does not exist)."""
        if self.remote:
            try:
                return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self.root, detail=False))
            except FileNotFoundError:
                return []
        try:
            return sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []

    def files(self) -> list[str]:
        """Every file below the folder, relative, sorted."""
        if self.remote:
            found = self.fs.find(self.root)
            return sorted(p[len(self.root) + 1:] for p in found)
        base = Path(self.root)
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

    def refresh(self) -> None:
        """Forget cached listings of this folder (fsspec reuses one filesystem per process).

        A stale entry would give an old size, or an old ETag that makes a read fail once the
        object has been replaced. fsspec's invalidate_cache(path) keeps the sub-folders' entries.
        """
        if not self.remote:
            return
        self.fs.invalidate_cache(self.root)
        cache = getattr(self.fs, "dircache", None)
        if cache is not None:
            for key in [k for k in cache if str(k).startswith(self.root + "/")]:
                cache.pop(key, None)

    def sizes(self) -> dict[str, int]:
        """Every file below the folder with its size, from one listing (one request per page on a store).

        The listing is read fresh: a cached one could hide a file changed since (verify must not).
        """
        if self.remote:
            self.refresh()
            found = self.fs.find(self.root, detail=True)
            return {p[len(self.root) + 1:]: int(info.get("size") or 0) for p, info in sorted(found.items())
                    if info.get("type", "file") == "file" and p.startswith(self.root + "/")}
        base = Path(self.root)
        return {p.relative_to(base).as_posix(): p.stat().st_size for p in sorted(base.rglob("*")) if p.is_file()}

    def files_in(self, rel: str) -> list[str]:
        """Names of the files directly in the sub-folder `rel` (empty if it does not exist)."""
        if self.remote:
            try:
                found = self.fs.ls(self.full(rel), detail=True, refresh=True)
            except FileNotFoundError:
                return []
            return sorted(str(i["name"]).rstrip("/").rsplit("/", 1)[-1] for i in found if i.get("type") == "file")
        try:
            return sorted(e.name for e in os.scandir(self.full(rel)) if e.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def open(self, rel: str) -> Any:
        """A binary file object for reading (seekable: Parquet readers fetch the footer first)."""
        if self.remote:
            return self.fs.open(self.full(rel), "rb")
        return open(self.full(rel), "rb")

    @property
    def name(self) -> str:
        """The folder's own name (a default dataset name)."""
        if self.remote:
            return self.root.rsplit("/", 1)[-1]
        return Path(self.root).resolve().name

    def sha256(self, rel: str) -> str:
        h = hashlib.sha256()
        opener = self.fs.open if self.remote else open
        with opener(self.full(rel), "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    # -- writing ------------------------------------------------------------------------------
    def makedirs(self, rel: str = "") -> None:
        if not self.remote:
            os.makedirs(self.full(rel), exist_ok=True)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Atomic: readers see the old file or the new one, never a part."""
        if self.remote:
            self.fs.pipe_file(self.full(rel), data)
            return
        path = Path(self.full(rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def write_json(self, rel: str, obj: Any) -> None:
        """`json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\\n"`, atomically; streamed
        to a local file (a 100,000-shard manifest is never held twice as one string)."""
        if self.remote:
            self.write_bytes(rel, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())
            return
        path = Path(self.full(rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, sort_keys=True, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)

    def put(self, local: Path, rel: str) -> None:
        """Publish a finished local file under `rel` (moved locally, uploaded to a store)."""
        if self.remote:
            self.fs.put_file(str(local), self.full(rel))
            local.unlink(missing_ok=True)
            return
        path = Path(self.full(rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, path)

    def copy_in(self, source: str, rel: str) -> None:
        """Copy a local file into the folder (atomically)."""
        if self.remote:
            self.fs.put_file(source, self.full(rel))
            return
        path = Path(self.full(rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, path)

    def remove(self, rel: str) -> None:
        try:
            if self.remote:
                self.fs.rm_file(self.full(rel))
            else:
                os.unlink(self.full(rel))
        except FileNotFoundError:
            pass

    def scratch(self, rel: str) -> Path:
        """Where a file destined for `rel` is written before it is published.

        Locally: a hidden temporary name beside its final place (a rename publishes it). For a
        store: the worker's temporary folder (an upload publishes it).
        """
        name = Path(rel).name
        if self.remote:
            folder = Path(tempfile.gettempdir()) / "consentcrawl-upload"
            folder.mkdir(parents=True, exist_ok=True)
            tag = hashlib.sha256(f"{self.url}\x00{rel}".encode()).hexdigest()[:12]
            return folder / f".{name}.{os.getpid()}.{tag}.tmp"
        path = Path(self.full(rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.with_name(f".{name}.{os.getpid()}.tmp")
