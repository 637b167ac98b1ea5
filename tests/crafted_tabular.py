"""Craft the malformed JSONL and Parquet shards of issue 14 as real files on disk.

Each helper writes the bytes a hostile or unlucky producer would write (a lone-surrogate escape,
an invalid UTF-8 cell, a line of many MiB), so tests read them through the real readers.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

# Real sentences (Universal Declaration of Human Rights, article 1) in a few languages.
SENTENCES = (
    "All human beings are born free and equal in dignity and rights.",
    "Tous les êtres humains naissent libres et égaux en dignité et en droits.",
    "Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
    "Todos los seres humanos nacen libres e iguales en dignidad y derechos.",
    "Tutti gli esseri umani nascono liberi ed eguali in dignità e diritti.",
    "Todos os seres humanos nascem livres e iguais em dignidade e em direitos.",
)


def good_row(i: int) -> dict[str, Any]:
    """A well-formed FineWeb-style row with a real sentence and a unique URL."""
    return {
        "text": SENTENCES[i % len(SENTENCES)] + f" ({i})",
        "url": f"https://site{i % 4}.example.org/page/{i}",
        "id": f"<urn:uuid:row-{i:04d}>",
        "date": "2024-05-20T10:00:00Z",
        "digest": f"sha1:ROW{i:04d}",
    }


def write_lines(path: Path, lines: Iterable[bytes], gz: bool = False) -> list[tuple[int, int]]:
    """Write raw lines (each gets a trailing \\n); return each line's (offset, length) in the decompressed bytes."""
    spans: list[tuple[int, int]] = []
    offset = 0
    opener = gzip.open if gz else open
    with opener(path, "wb") as fh:
        for line in lines:
            data = line + b"\n"
            fh.write(data)
            spans.append((offset, len(data)))
            offset += len(data)
    return spans


def row_line(row: dict[str, Any]) -> bytes:
    """One JSONL line as json.dumps writes it (non-ASCII escaped, so surrogates stay valid JSON)."""
    return json.dumps(row).encode("ascii")


def surrogate_jsonl(path: Path, gz: bool = False) -> tuple[list[tuple[int, int]], dict[int, str]]:
    """12 rows; rows 2, 5, 7, 9 and 11 carry a lone surrogate escape in text, url, id, date and digest.

    Returns the line spans and {row index: field with the surrogate}.
    """
    bad = {2: "text", 5: "url", 7: "id", 9: "date", 11: "digest"}
    lines = []
    for i in range(12):
        row = good_row(i)
        if i in bad:
            field = bad[i]
            row[field] = row[field] + "\ud800" if field != "text" else "Bonjour \udc00 le monde"
        lines.append(row_line(row))
    for i, field in bad.items():  # the bytes really are the 6-character escape, i.e. valid JSON
        assert b"\\ud" in lines[i], field
    return write_lines(path, lines, gz), bad


def invalid_utf8_parquet(path: Path, bad_rows: dict[int, str] | None = None, n: int = 3) -> dict[int, str]:
    """n rows, string columns declared UTF-8; the cells in `bad_rows` ({row: column}) hold \\xff\\xfe bytes."""
    bad_rows = {1: "text"} if bad_rows is None else bad_rows
    rows = [good_row(i) for i in range(n)]
    columns: dict[str, pa.Array] = {}
    for name in ("text", "url", "id", "date", "digest"):
        cells = [r[name].encode("utf-8") for r in rows]
        for i, col in bad_rows.items():
            if col == name:
                cells[i] = cells[i][:3] + b"\xff\xfe invalid " + cells[i][3:]
        # A binary array viewed as string: pyarrow writes it as a UTF-8 column without validating.
        columns[name] = pa.array(cells, pa.binary()).view(pa.string())
    pq.write_table(pa.table(columns), path)
    return bad_rows


def write_big_line_jsonl(fh: BinaryIO, text_bytes: int, chunk: int = 1 << 20) -> int:
    """Write one JSONL row whose text is `text_bytes` ASCII bytes, in chunks; return the line's length."""
    head = b'{"url": "https://big.example.org/huge", "id": "big", "text": "'
    tail = b'"}\n'
    fh.write(head)
    block = (b"All human beings are born free and equal in dignity and rights. " * (chunk // 64 + 1))[:chunk]
    left = text_bytes
    while left > 0:
        part = block[: min(chunk, left)]
        fh.write(part)
        left -= len(part)
    fh.write(tail)
    return len(head) + text_bytes + len(tail)


def big_line_jsonl(path: Path, text_bytes: int, gz: bool = False) -> tuple[list[tuple[int, int]], int]:
    """good row 0, one huge row, good rows 1 and 2; returns the spans of all four lines and the huge row's index."""
    spans: list[tuple[int, int]] = []
    offset = 0
    opener = gzip.open if gz else open
    with opener(path, "wb") as fh:  # type: ignore[operator]
        for i in range(3):
            if i == 1:
                n = write_big_line_jsonl(fh, text_bytes)
                spans.append((offset, n))
                offset += n
            data = row_line(good_row(i)) + b"\n"
            fh.write(data)
            spans.append((offset, len(data)))
            offset += len(data)
    return spans, 1


def big_text_parquet(path: Path, text_chars: int) -> tuple[int, int]:
    """3 rows, row 1's text is `text_chars` long; returns the big row's index and its UTF-8 size."""
    rows = [good_row(i) for i in range(3)]
    rows[1]["text"] = ("Alle Menschen sind frei und gleich an Würde und Rechten geboren. " * (text_chars // 60 + 1))[
        :text_chars]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return 1, len(rows[1]["text"].encode("utf-8"))
