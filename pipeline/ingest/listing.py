"""Common Crawl path listings (`warc.paths.gz`, `wet.paths.gz`) as inputs.

A crawl is published as a listing: one path per line, relative to the data prefix
(`crawl-data/CC-MAIN-2024-22/segments/.../warc/CC-MAIN-...warc.gz`). Expanding it gives the shard
list in the listing's own order (that order is the shard numbering), each path joined to a prefix:
Common Crawl's HTTPS endpoint by default, or a mirror (another URL or a local folder).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import BinaryIO

from pipeline.ingest.remote import RemoteInputError

DEFAULT_INPUT_PREFIX = "https://data.commoncrawl.org/"
LISTING_SUFFIXES = (".paths.gz", ".paths")
_GZIP_MAGIC = b"\x1f\x8b"


class ListingError(ValueError):
    """A listing that cannot be read or holds a line that is not a WARC/WET path; the message is one line."""


def is_listing(uri: str) -> bool:
    """Whether an input names a path listing (by its name, like every other input format)."""
    return uri.lower().split("?", 1)[0].endswith(LISTING_SUFFIXES)


def _open(uri: str) -> BinaryIO:
    if uri.lower().startswith(("http://", "https://")):
        from pipeline.ingest.remote import open_stream

        return open_stream(uri)
    if "://" in uri and not uri.startswith("file://"):
        import fsspec

        return fsspec.open(uri, "rb").open()
    return open(Path(uri.removeprefix("file://")).expanduser(), "rb")


def _join(prefix: str, line: str) -> str:
    if "://" in line:  # already a full URL: stays as is
        return line
    rel = line.lstrip("/")
    if "://" in prefix:
        return prefix.rstrip("/") + "/" + rel
    return str(Path(prefix).expanduser() / rel)


def expand_listing(uri: str, prefix: str = DEFAULT_INPUT_PREFIX) -> list[str]:
    """The WARC/WET inputs a listing names, in its order, each joined to `prefix`.

    The listing is read as a stream (gzip detected by its magic bytes, so `.paths` may be either);
    empty lines are skipped; any other line that does not end in a WARC/WET file name is an error
    naming its line number, as is a line with a `..` segment (it would escape the prefix).
    """
    from pipeline.ingest import WARC_SUFFIXES  # here, not at the top: pipeline.ingest may import this module

    try:
        raw = _open(uri)
    except FileNotFoundError:
        raise ListingError(f"listing {uri}: file not found") from None
    except RemoteInputError as exc:
        raise ListingError(f"listing {exc}") from None
    except Exception as exc:
        raise ListingError(f"listing {uri}: cannot open: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    out: list[str] = []
    with raw:
        buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
        head = buffered.peek(2)[:2]
        stream: BinaryIO = gzip.GzipFile(fileobj=buffered) if head == _GZIP_MAGIC else buffered  # type: ignore[assignment]
        lineno = 0
        try:
            for lineno, data in enumerate(stream, 1):
                line = data.decode("utf-8").strip()
                if not line:
                    continue
                name = line.lower().split("?", 1)[0]
                if not name.endswith(WARC_SUFFIXES):
                    raise ListingError(f"listing {uri} line {lineno}: {line[:200]!r} is not a WARC/WET file path")
                if ".." in line.split("://", 1)[-1].split("/"):
                    raise ListingError(f"listing {uri} line {lineno}: {line[:200]!r} has a '..' segment")
                out.append(_join(prefix, line))
        except ListingError:
            raise
        except UnicodeDecodeError:
            raise ListingError(f"listing {uri} line {lineno}: not UTF-8 text") from None
        except RemoteInputError as exc:
            raise ListingError(f"listing {exc}") from None
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ListingError(f"listing {uri} after line {lineno}: unreadable ({exc})") from None
    if not out:
        raise ListingError(f"listing {uri} names no file")
    return out


def resolve_path(value: str, base: Path) -> str:
    """A path written in a config, resolved against the config's folder (URLs as they are)."""
    if "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def glob_sorted(pattern: str) -> list[str]:
    """Matches of a local glob or an fsspec URL glob (listed through the store), sorted so shard and
    index-file numbering never depend on listing order; [] when none match."""
    if "://" in pattern and not pattern.startswith("file://"):
        import fsspec

        fs, path = fsspec.core.url_to_fs(pattern)
        return [fs.unstrip_protocol(m) for m in sorted(fs.glob(path))]
    import glob

    return sorted(glob.glob(pattern.removeprefix("file://"), recursive=True))

