"""Input readers: pick one by file name, stream `Document`s out of it.

The readers are imported on first use (module `__getattr__`): `pipeline.config` imports the input
mapping from this package at start-up, and pyarrow/fastwarc cost half a second to import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.ingest.mapping import InputMapping

if TYPE_CHECKING:
    from pipeline.document import Document
    from pipeline.ingest.tabular import ArrowReader, JsonlReader, ParquetReader
    from pipeline.ingest.warc import WarcReader

WARC_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", ".warc.wet", ".warc.wet.gz")
# ARC (the pre-WARC Internet Archive format): fastwarc 2 does not parse it, so it is refused by name
# rather than accepted and read as one unreadable row per record.
ARC_SUFFIXES = (".arc", ".arc.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson", ".jsonl.zst")
PARQUET_SUFFIXES = (".parquet",)
ARROW_SUFFIXES = (".arrow",)  # Arrow IPC stream or file: what 🤗 datasets' save_to_disk writes

_LAZY = {"JsonlReader": "tabular", "ParquetReader": "tabular", "ArrowReader": "tabular", "WarcReader": "warc"}

__all__ = ["ArrowReader", "InputMapping", "JsonlReader", "ParquetReader", "UnsupportedInput", "WarcReader",
           "input_format", "open_reader", "saved_dataset_files"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"pipeline.ingest.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'pipeline.ingest' has no attribute {name!r}")


class UnsupportedInput(ValueError):
    """An input whose format we cannot read; raised at config time, before any output is written."""


def input_format(uri: str) -> str:
    name = uri.lower().split("?", 1)[0]
    if name.endswith(ARC_SUFFIXES):
        raise UnsupportedInput(f"{uri!r} is an ARC file: ARC is not supported (convert it to WARC first, "
                               "e.g. with `warcio recompress`)")
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(ARROW_SUFFIXES):
        return "arrow"
    if name.endswith(WARC_SUFFIXES) or ".warc" in name:
        return "warc"
    raise UnsupportedInput(f"cannot tell the format of {uri!r} (expected WARC/WET, JSONL, Parquet, Arrow, "
                           "or a folder written by datasets' save_to_disk)")


def saved_dataset_files(folder: str) -> list[str]:
    """The Arrow files of a local 🤗 `datasets` save_to_disk folder, in the dataset's row order.

    A `Dataset` folder lists its files in `state.json` (`_data_files`); a `DatasetDict` folder lists
    its splits in `dataset_dict.json`, each a `Dataset` folder. Why expand here: each Arrow file is
    one shard, named, hashed and resumed like any other input. UnsupportedInput otherwise.
    """
    root = Path(folder)
    try:
        if (root / "dataset_dict.json").is_file():
            splits = json.loads((root / "dataset_dict.json").read_text("utf-8"))["splits"]
            return [f for split in splits for f in saved_dataset_files(str(root / str(split)))]
        if (root / "state.json").is_file():
            state = json.loads((root / "state.json").read_text("utf-8"))
            files = [str(root / str(entry["filename"])) for entry in state["_data_files"]]
        else:
            raise UnsupportedInput(f"input folder {folder} is not a datasets save_to_disk folder "
                                   "(no state.json or dataset_dict.json); list its files instead")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, UnsupportedInput):
            raise
        raise UnsupportedInput(f"input folder {folder}: unreadable datasets metadata ({type(exc).__name__}: "
                               f"{exc})"[:300]) from None
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise UnsupportedInput(f"input folder {folder}: state.json lists {Path(missing[0]).name}, which is missing")
    return files


def open_reader(uri: str, max_payload_bytes: int, mapping: InputMapping | None = None) -> Iterable[Document]:
    """The reader for `uri`; `mapping` (a config's `tabular:`) says which fields tabular rows use."""
    from pipeline.ingest.tabular import ArrowReader, JsonlReader, ParquetReader
    from pipeline.ingest.warc import WarcReader

    fmt = input_format(uri)
    if fmt == "warc":
        return WarcReader(uri, max_payload_bytes=max_payload_bytes)
    if fmt == "jsonl":
        return JsonlReader(uri, max_payload_bytes=max_payload_bytes, mapping=mapping)
    if fmt == "arrow":
        return ArrowReader(uri, max_payload_bytes=max_payload_bytes, mapping=mapping)
    return ParquetReader(uri, max_payload_bytes=max_payload_bytes, mapping=mapping)
