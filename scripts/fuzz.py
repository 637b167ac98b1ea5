"""Fuzz the three places where untrusted crawl bytes meet parsers: WARC reader, robots.txt, HTML.

    python scripts/fuzz.py [--cases 100000] [--seed 0] [--targets warc,robots,html] [--timeout 60]
    python scripts/fuzz.py --repro warc:1234 [--seed 0] [--save case.bin]

Cases are plain seeded random generation (no coverage feedback): random bytes, random gzip
members, and random mutations of real inputs (the bundled sample WARCs and robots.txt snapshot,
plus ../shared/data when present; read at run time, never copied). Case `i` of a target is
rebuilt from (seed, target, i) alone, so every failure prints a one-line reproducer.

Cases run in a child process that the parent watches: a hang (no progress for --timeout s) or a
hard crash (segfault, abort in C code) is recorded for that case and the run continues after it.
Prints a table of crashes per target; exits 1 on any crash. tests/test_fuzz.py imports the
mutators and checkers from here, so the hypothesis tests and this script check the same things.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import os
import random
import re
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.document import Document, Outcome  # noqa: E402
from pipeline.extract import Extractor  # noqa: E402
from pipeline.ingest.warc import WarcReader  # noqa: E402
from pipeline.optout.robots import RobotsTxt, Verdict, is_allowed  # noqa: E402

SAMPLE = ROOT / "pipeline" / "sample"
SHARED = ROOT.parent / "shared" / "data"
TARGETS = ("warc", "robots", "html")
MAX_PAYLOADS = (0, 1, 100, 1024, 65536, 8 * 1024 * 1024)


class InvariantError(AssertionError):
    """A target returned without raising but broke one of its documented guarantees."""


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise InvariantError(what)


# ------------------------------------------------------------------------------------------------
# Seed corpus (real inputs)
# ------------------------------------------------------------------------------------------------


def split_members(data: bytes) -> list[bytes]:
    """The raw gzip members of a per-record-gzip file (Common Crawl's layout)."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        d = zlib.decompressobj(31)
        try:
            d.decompress(data[pos:])
        except zlib.error:
            break
        used = len(data) - pos - len(d.unused_data)
        if used <= 0 or not d.eof:
            break
        out.append(data[pos : pos + used])
        pos += used
    return out


_RECORD_START = re.compile(rb"(?m)^(?=WARC/\d\.\d+\r?\n)")


def split_records(data: bytes) -> list[bytes]:
    """Records of an uncompressed WARC, split at each version line."""
    return [r for r in _RECORD_START.split(data) if r]


@dataclass
class Corpus:
    members: list[bytes] = field(default_factory=list)  # raw gzip members, each one record
    records: list[bytes] = field(default_factory=list)  # uncompressed records
    html: list[bytes] = field(default_factory=list)  # HTTP payloads of HTML responses
    robots_bodies: list[bytes] = field(default_factory=list)
    robots_lines: list[bytes] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _warc_files(full: bool) -> list[Path]:
    files = sorted(SAMPLE.glob("*.warc*.gz"))
    for sub in ("cc_warc_samples", "web_pages") if full else ("cc_warc_samples",):
        base = SHARED / sub
        if base.is_dir():
            files += sorted(p for p in base.rglob("*") if ".warc" in p.name or p.name.endswith(".arc.gz"))
    return [p for p in files if p.is_file()]


def _robots_bodies(full: bool) -> list[bytes]:
    import pyarrow.parquet as pq

    bodies = [b for b in pq.read_table(SAMPLE / "robots-snapshot.parquet", columns=["body"]).column(0).to_pylist()
              if b]
    base = SHARED / "robots_txt"
    if base.is_dir():
        for p in sorted(base.rglob("*.txt")):
            bodies.append(p.read_bytes())
        for name in ("gpt_firewall_2025_sample.jsonl", "top1m_2017_sample.jsonl")[: 2 if full else 1]:
            path = base / name
            if path.is_file():
                with open(path, encoding="utf-8") as fh:
                    bodies += [json.loads(line)["body"].encode("utf-8", "surrogatepass") for line in fh]
    return bodies


@lru_cache(maxsize=2)
def load_corpus(full: bool = True) -> Corpus:
    """Real inputs to mutate. Shared data is read in place (some of it is research-only).

    `full=False` (the tests) skips the two big shared sets, ~1,000 pages and 1,500 robots.txt,
    whose redistributable part is in the bundled sample anyway.
    """
    from pipeline.optout.policy import load_policy

    c = Corpus()
    for path in _warc_files(full):
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            members = split_members(data)
            c.members += [m for m in members if len(m) <= 300_000]
            records = [gzip.decompress(m) for m in members]
        else:
            records = split_records(data)
        c.records += [r for r in records if len(r) <= 1_200_000]
        c.sources.append(str(path))
    for rec in c.records:
        head, sep, rest = rec.partition(b"\r\n\r\n")
        if b"WARC-Type: response" in head and sep:
            _http, sep2, payload = rest.partition(b"\r\n\r\n")
            if sep2 and b"<" in payload[:4096]:
                c.html.append(payload.rstrip(b"\r\n"))
    c.robots_bodies = _robots_bodies(full)
    lines: dict[bytes, None] = {}
    for body in c.robots_bodies:
        for line in body.splitlines():
            if line.strip():
                lines[line[:300]] = None
    c.robots_lines = list(lines)
    c.agents = [*load_policy("apertus").agents, "*", "", "Googlebot", "GPTBot/1.1", "ai2bot 1.0", "mj12bot",
                "Mozilla/5.0 (compatible; bingbot/2.0)", "\u00e9bot", "bot\x00", "-", "_"]
    return c


# ------------------------------------------------------------------------------------------------
# Mutations (shared with the hypothesis tests)
# ------------------------------------------------------------------------------------------------

TOKENS: tuple[bytes, ...] = (
    b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"\x00", b"\xff", b"\xef\xbb\xbf", b"\xc3", b"\xe2\x82", b" ", b"\t", b":",
    b"WARC/1.0\r\n", b"WARC/1.1\r\n", b"WARC/0.18\r\n", b"WARC-Type: response\r\n", b"WARC-Type: conversion\r\n",
    b"WARC-Type: request\r\n", b"Content-Length: 0\r\n", b"Content-Length: 18446744073709551617\r\n",
    b"Content-Length: -1\r\n", b"Content-Length: 99999999999\r\n", b"WARC-Target-URI: <>\r\n",
    b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 999 \r\n", b"HTTP/1.0 200\r\n", b"Transfer-Encoding: chunked\r\n",
    b"Content-Encoding: gzip\r\n", b"Content-Type: text/html; charset=utf-16\r\n", b"\x1f\x8b\x08\x00",
    b"<div>", b"</div>", b"<script>", b"<!--", b"-->", b"<![CDATA[", b"<table><tr><td>", b"&#x10FFFF;", b"&amp",
    b"<svg><foreignObject>", b"<template>", b"<plaintext>", b"<meta charset=\"utf-7\">", b"<base href=\"\">",
    b"User-agent: *\n", b"Disallow: /\n", b"Allow: /\n", b"Disallow: /*$\n", b"User-agent: GPTBot\n",
    b"%", b"%2", b"%2F", b"%E3%83%84", b"%zz", b"*", b"$", b"**$", b"#", b"/index.html",
)

Op = tuple[str, int, Any]
OP_KINDS = ("flip", "set", "insert", "delete", "dup", "token", "truncate")


def apply_ops(data: bytes, ops: Sequence[Op]) -> bytes:
    """Apply byte-level mutations; positions wrap around the current length, so any op is valid."""
    buf = bytearray(data)
    for kind, pos, arg in ops:
        n = len(buf)
        p = pos % (n + 1)
        if kind == "flip" and n:
            buf[pos % n] ^= 1 << (int(arg) % 8)
        elif kind == "set" and n:
            buf[pos % n] = int(arg) % 256
        elif kind == "insert":
            buf[p:p] = bytes(arg)
        elif kind == "delete":
            del buf[p : p + int(arg)]
        elif kind == "dup" and n:
            buf[p:p] = buf[p : p + int(arg)]
        elif kind == "token":
            buf[p:p] = TOKENS[int(arg) % len(TOKENS)]
        elif kind == "truncate":
            del buf[p:]
    return bytes(buf)


def random_ops(rng: random.Random, count: int) -> list[Op]:
    ops: list[Op] = []
    for _ in range(count):
        kind = rng.choice(OP_KINDS)
        pos = rng.randrange(1 << 30)
        if kind == "insert":
            arg: Any = rng.randbytes(rng.choice((1, 1, 2, 4, 16, 64)))
        elif kind in ("delete", "dup"):
            arg = rng.choice((1, 2, 8, 100, 5000))
        else:
            arg = rng.randrange(256)
        ops.append((kind, pos, arg))
    return ops


HEADER_NAMES = ("WARC-Type", "Content-Length", "WARC-Target-URI", "WARC-Record-ID", "WARC-Date", "Content-Type",
                "WARC-Payload-Digest", "WARC-Block-Digest", "WARC-Truncated")
HEADER_VALUES: tuple[bytes, ...] = (
    b"", b"0", b"1", b"-1", b"7", b"99999999999", b"18446744073709551616", b"0x10", b" 12 ", b"response", b"request",
    b"conversion", b"metadata", b"revisit", b"warcinfo", b"resource", b"continuation", b"RESPONSE",
    b"<http://example.com/>", b"http://", b"not a url", b"http://\xff\xfe/", b"application/http; msgtype=response",
    b"text/html", b"\x00\x01", b"a" * 5000,
)


def edit_headers(record: bytes, edits: Sequence[tuple[str, bytes | None]]) -> bytes:
    """Set (or with None remove) WARC header fields of one uncompressed record."""
    head, sep, rest = record.partition(b"\r\n\r\n")
    for name, value in edits:
        rx = re.compile(rb"(?mi)^" + re.escape(name.encode()) + rb":[^\r\n]*(\r?\n|$)")
        line = b"" if value is None else name.encode() + b": " + value + b"\r\n"
        if rx.search(head):
            head = rx.sub(lambda _m, line=line: line, head, count=1)
        elif value is not None:
            first, nl, others = head.partition(b"\r\n")
            head = first + nl + line + others if nl else head + b"\r\n" + line.rstrip(b"\r\n")
    return head + sep + rest


def gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)


# ------------------------------------------------------------------------------------------------
# Cases and checkers
# ------------------------------------------------------------------------------------------------


@dataclass
class WarcCase:
    blob: bytes
    max_payload: int
    kind: str = ""


@dataclass
class RobotsCase:
    body: bytes | str
    agent: str
    urls: list[str]
    kind: str = ""


@dataclass
class HtmlCase:
    html: bytes
    content_type: str
    main_content: bool = True
    kind: str = ""


def check_warc(case: WarcCase, workdir: str | Path) -> Counter[str]:
    """WarcReader never raises; each record is accounted for exactly once, with provenance in range."""
    path = Path(workdir) / "case.warc.gz"
    path.write_bytes(case.blob)
    reader = WarcReader(str(path), max_payload_bytes=case.max_payload)
    docs: list[Document] = list(reader)
    _require(reader.records_read == len(docs), f"records_read {reader.records_read} != {len(docs)} yielded")
    size = len(case.blob)
    reasons: Counter[str] = Counter()
    ids: set[str] = set()
    last = 0
    for d in docs:
        if d.outcome is None:
            _require(d.html is not None or d.text is not None, "no outcome and nothing to process")
            if d.html is not None:
                _require(len(d.html) <= case.max_payload, f"html of {len(d.html)} bytes over the cap")
            if d.text is not None:
                _require(len(d.text) <= case.max_payload, f"text of {len(d.text)} chars over the cap")
            reasons["document"] += 1
        else:
            _require(isinstance(d.outcome, Outcome) and bool(d.reason), f"outcome {d.outcome} without a reason")
            reasons[f"{d.outcome.value}:{d.reason}"] += 1
        _require(0 <= d.source_offset <= size and d.source_length >= 0, f"offset {d.source_offset}+{d.source_length}"
                 f" outside a {size}-byte file")
        _require(d.source_offset + d.source_length <= size, f"record {d.source_offset}+{d.source_length} ends past "
                 f"the {size}-byte file")
        _require(d.source_offset >= last, f"offsets go backwards ({d.source_offset} after {last})")
        last = d.source_offset
        _require(d.id not in ids, f"duplicate document id {d.id} ({d.source_record_id}@{d.source_offset})")
        ids.add(d.id)
    return reasons


def check_robots(case: RobotsCase) -> Counter[str]:
    """Parsing never raises, /robots.txt is always allowed, the four APIs agree with each other."""
    robots = RobotsTxt.parse(case.body)
    robots.group_extensions(case.agent)
    reasons: Counter[str] = Counter()
    for forced in ("/robots.txt", "http://example.com/robots.txt", "/robots.txt?x=1", "https://a.b:8080/robots.txt"):
        v = robots.verdict(case.agent, forced)
        _require(v.allowed, f"{forced} disallowed by {v}")
    agents = [case.agent, "GPTBot", "*"]
    compiled = robots.compile(agents)
    for url in case.urls:
        v = robots.verdict(case.agent, url)
        _require(isinstance(v, Verdict) and isinstance(v.allowed, bool), f"not a Verdict: {v!r}")
        _require(v.allowed or (v.rule is not None and v.line is not None and v.line >= 1),
                 f"disallowed without a rule line: {v}")
        _require(is_allowed(case.body, case.agent, url) == v.allowed, f"is_allowed disagrees with verdict for {url!r}")
        verdicts = compiled.verdicts(url)
        _require([a for a, _ in verdicts] == agents, "verdicts() lost the agent order")
        _require(verdicts[0][1] == v, f"compiled verdict {verdicts[0][1]} != {v} for {url!r}")
        first = next(((a, w) for a, w in verdicts if not w.allowed), None)
        _require(compiled.first_disallowing(url) == first, f"first_disallowing disagrees with verdicts for {url!r}")
        reasons["allowed" if v.allowed else "disallowed"] += 1
    return reasons


def check_html(case: HtmlCase) -> Counter[str]:
    """Extraction never raises; the document ends kept (with text) or dropped/errored with a reason."""
    doc = Document(source_uri="fuzz", source_record_id="r", source_offset=0, source_length=len(case.html),
                   record_type="response", url="http://example.com/", content_type=case.content_type,
                   html=case.html)
    Extractor(main_content=case.main_content).run(doc)
    if not doc.done:  # what the shard's stage loop does when no stage ended the document
        _require(isinstance(doc.text, str) and len(doc.text.strip()) >= 1, "left undecided without text")
        doc.keep()
    _require(doc.outcome in (Outcome.KEPT, Outcome.DROPPED, Outcome.ERRORED), f"outcome {doc.outcome}")
    if doc.outcome is not Outcome.KEPT:
        _require(bool(doc.reason), "dropped/errored without a reason")
    return Counter([doc.outcome.value + (f":{doc.reason}" if doc.reason else "")])


# ------------------------------------------------------------------------------------------------
# Random generation
# ------------------------------------------------------------------------------------------------


def _window(rng: random.Random, data: bytes, sizes: Sequence[int]) -> bytes:
    n = rng.choice(sizes)
    if len(data) <= n:
        return data
    start = rng.choice((0, 0, rng.randrange(len(data) - n)))
    return data[start : start + n]


def _synth_record(rng: random.Random, corpus: Corpus) -> bytes:
    """A WARC record built from parts: plausible headers, random values, a random HTTP block."""
    payload = _window(rng, rng.choice(corpus.html), (0, 10, 500, 5000)) if corpus.html else rng.randbytes(100)
    status = rng.choice((b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found", b"HTTP/1.0 200", b"HTTP/2 200", b"200 OK",
                         b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", b"", rng.randbytes(8)))
    ctype = rng.choice((b"text/html", b"text/html; charset=utf-8", b"application/xhtml+xml", b"text/plain", b"",
                        b"image/png", rng.randbytes(6)))
    http = status + b"\r\nContent-Type: " + ctype + b"\r\n\r\n" + payload
    block = http if rng.random() < 0.8 else rng.randbytes(rng.randrange(200))
    length = len(block) if rng.random() < 0.7 else rng.choice((0, 1, len(block) - 1, len(block) + 1, 10**12))
    versions = (b"WARC/1.1", b"WARC/1.0", b"WARC/0.18", b"WARC/2.0", b"WARC/", b"ARC")
    version = rng.choices(versions, (8, 8, 2, 1, 1, 1))[0]
    rtype = rng.choice((b"response", b"conversion", b"request", b"metadata", b"revisit", b"resource", b"foo", b""))
    headers = [b"WARC-Type: " + rtype, b"WARC-Record-ID: <urn:uuid:%d>" % rng.randrange(5),
               b"WARC-Target-URI: " + rng.choice((b"http://example.com/a", b"<http://x.y/>", b"", b"mailto:a@b",
                                                   b"http://[::1/", b"http://\xc3\xa9.com/")),
               b"WARC-Date: 2024-01-01T00:00:00Z", b"Content-Length: %d" % length]
    if rtype == b"response" or rng.random() < 0.3:
        headers.append(b"Content-Type: application/http; msgtype=response")
    rng.shuffle(headers)
    if rng.random() < 0.2:
        headers.pop(rng.randrange(len(headers)))
    return version + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + block + b"\r\n\r\n"


def gen_warc(rng: random.Random, corpus: Corpus) -> WarcCase:
    kind = rng.choices(("random-bytes", "random-gzip", "mutated-record", "mutated-member", "synth"),
                       (10, 10, 45, 15, 20))[0]
    max_payload = rng.choices(MAX_PAYLOADS, (5, 5, 5, 5, 20, 60))[0]
    if kind == "random-bytes":
        return WarcCase(rng.randbytes(rng.choice((0, 1, 10, 100, 4096))), max_payload, kind)
    if kind == "random-gzip":
        parts = []
        for _ in range(rng.randint(1, 4)):
            inner = rng.randbytes(rng.randrange(600)) if rng.random() < 0.5 else _synth_record(rng, corpus)
            parts.append(gzip_member(inner))
        blob = b"".join(parts)
        if rng.random() < 0.5:
            blob = apply_ops(blob, random_ops(rng, rng.randint(1, 4)))
        return WarcCase(blob, max_payload, kind)
    if kind == "mutated-member":
        members = [rng.choice(corpus.members) for _ in range(rng.randint(1, 3))]
        return WarcCase(apply_ops(b"".join(members), random_ops(rng, rng.randint(1, 6))), max_payload, kind)
    if kind == "synth":
        recs = [_synth_record(rng, corpus) for _ in range(rng.randint(1, 3))]
    else:
        rec = rng.choice(corpus.records)
        if len(rec) > 100_000 and rng.random() < 0.8:
            rec = rec[: rng.choice((300, 2000, 100_000))]
        edits = [(rng.choice(HEADER_NAMES), rng.choice((*HEADER_VALUES, None))) for _ in range(rng.randint(0, 3))]
        rec = apply_ops(edit_headers(rec, edits), random_ops(rng, rng.randint(0, 6)))
        recs = [rng.choice(corpus.records)[:5000] for _ in range(rng.randint(0, 1))] + [rec]
        recs += [rng.choice(corpus.records)[:5000] for _ in range(rng.randint(0, 1))]
    compressed = rng.random() < 0.7
    blob = b"".join(gzip_member(r) if compressed else r for r in recs)
    if rng.random() < 0.3:
        blob = blob[: rng.randrange(len(blob) + 1)]
    if compressed and rng.random() < 0.2:
        blob = apply_ops(blob, random_ops(rng, rng.randint(1, 3)))
    return WarcCase(blob, max_payload, kind)


_ROBOTS_KEYS = ("User-agent", "user-agent", "USER-AGENT", "useragent", "user agent", "Allow", "Disallow", "disalow",
                "dissallow", "Sitemap", "site-map", "Crawl-delay", "Host", "Content-Signal", "Noindex", "", "x")
_PATH_PIECES = ("/", "*", "$", "a", "/a", ".html", "?", "=", "&", "%", "%2F", "%2f", "%41", "%E3%83%84", "%zz",
                "ツ", "é", "\x00", " ", "#", "//", "..", "/index.html", "/robots.txt", "\udcff")


_RULE_PATH = re.compile(r"(?im)^[ \t]*(?:dis)?allow[ \t]*:[ \t]*([^\s#]+)")


def _random_path(rng: random.Random) -> str:
    return "".join(rng.choice(_PATH_PIECES) for _ in range(rng.randint(0, 8)))


def _random_url(rng: random.Random) -> str:
    path = _random_path(rng)
    if not path.startswith("/") and rng.random() < 0.7:
        path = "/" + path
    r = rng.random()
    if r < 0.5:
        return "https://example.com" + path
    if r < 0.7:
        return path
    if r < 0.8:
        return rng.choice(("http://", "//", "ftp://", "", "http://u:p@h:1")) + _random_path(rng) + path
    return rng.randbytes(rng.randrange(40)).decode("utf-8", "surrogateescape")


def gen_robots(rng: random.Random, corpus: Corpus) -> RobotsCase:
    kind = rng.choices(("random-bytes", "random-text", "real-lines", "mutated-body", "grammar", "huge"),
                       (15, 5, 30, 20, 29, 1))[0]
    body: bytes | str
    if kind == "random-bytes":
        body = rng.randbytes(rng.choice((0, 1, 16, 256, 2048)))
    elif kind == "random-text":
        body = "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(300)))
    elif kind == "real-lines":
        lines = [rng.choice(corpus.robots_lines) for _ in range(rng.randint(1, 60))]
        lines = [apply_ops(x, random_ops(rng, 1)) if rng.random() < 0.3 else x for x in lines]
        body = rng.choice((b"\n", b"\r\n", b"\r")).join(lines)
        if rng.random() < 0.1:
            body = b"\xef\xbb\xbf"[: rng.randint(1, 3)] + body
    elif kind == "mutated-body":
        body = apply_ops(rng.choice(corpus.robots_bodies), random_ops(rng, rng.randint(1, 8)))
    elif kind == "grammar":
        out = []
        for _ in range(rng.randint(1, 30)):
            key = rng.choice(_ROBOTS_KEYS)
            sep = rng.choice((":", ": ", " ", " : ", "\t", "::", ""))
            value = rng.choice((rng.choice(corpus.agents), _random_path(rng), "*", ""))
            comment = rng.choice(("", "", " # c", "#"))
            indent = rng.choice(("", " ", "\t"))
            out.append(f"{indent}{key}{sep}{value}{comment}")
        text = rng.choice(("\n", "\r\n", "\r")).join(out)
        body = text if rng.random() < 0.3 else text.encode("utf-8", "surrogateescape")
    else:  # over the RFC's 500 KiB parsing limit
        line = rng.choice(corpus.robots_lines) + b"\n"
        body = line * (520 * 1024 // len(line) + 1)
        cut = rng.randrange(len(body))
        body = body[:cut] + b"Disallow: /" + body[cut:]
    agent = rng.choice(corpus.agents) if rng.random() < 0.9 else rng.randbytes(8).decode("latin-1")
    urls = [_random_url(rng) for _ in range(rng.randint(1, 3))]
    text = body if isinstance(body, str) else body[:20000].decode("utf-8", "replace")
    rules = _RULE_PATH.findall(text)
    for _ in range(rng.randint(0, 3) if rules else 0):  # URLs near the file's own rules, so some are disallowed
        path = rng.choice(rules).rstrip("$").replace("*", rng.choice(("", "x", "/a/", "%2A")))
        urls.append(rng.choice(("https://example.com", "")) + path + rng.choice(("", "x", "/", "?q=1", "$", "#f")))
    return RobotsCase(body, agent, urls, kind)


_TAGS = ("div", "p", "a", "span", "b", "i", "table", "tr", "td", "ul", "li", "script", "style", "title", "head",
         "body", "html", "br", "img", "svg", "math", "template", "iframe", "noscript", "textarea", "plaintext", "xmp",
         "select", "option", "frameset", "article", "section", "main", "nav", "footer", "pre", "code", "h1", "form")
_CONTENT_TYPES = ("text/html", "text/html; charset=utf-8", "text/html; charset=iso-8859-1", "text/html; charset=utf-16",
                  "text/html; charset=shift_jis", "text/html; charset=bogus", "text/html; charset=",
                  "text/html; charset=utf-7", "text/html; charset=\"utf-8\"", "text/html;charset=cp1252", "", ";;=;",
                  "text/html; charset=x-user-defined", "text/html; charset=utf-32")


def _soup(rng: random.Random, n: int) -> bytes:
    parts: list[str] = []
    for _ in range(n):
        r = rng.random()
        tag = rng.choice(_TAGS)
        if r < 0.4:
            attrs = "".join(f' {rng.choice(("class", "id", "href", "lang", "x"))}="{rng.choice(("", "a b", "<"))}"'
                            for _ in range(rng.randint(0, 2)))
            parts.append(f"<{tag}{attrs}>")
        elif r < 0.6:
            parts.append(f"</{tag}>")
        elif r < 0.9:
            parts.append("".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x110000))))
                                 for _ in range(rng.randint(1, 20))))
        else:
            parts.append(rng.choice(("<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#0;", "&#x110000;", "<!DOCTYPE",
                                     "<?xml?>", "\x00", "<", ">")))
    return "".join(parts).encode("utf-8", "surrogatepass")


def gen_html(rng: random.Random, corpus: Corpus) -> HtmlCase:
    kind = rng.choices(("random-bytes", "soup", "mutated-real", "deep"), (15, 30, 45, 10))[0]
    if kind == "random-bytes":
        html = rng.randbytes(rng.choice((0, 1, 64, 1024, 16384)))
    elif kind == "soup":
        html = _soup(rng, rng.randint(1, 400))
    elif kind == "mutated-real":
        html = _window(rng, rng.choice(corpus.html), (2000, 20000, 100_000, 2_000_000))
        html = apply_ops(html, random_ops(rng, rng.randint(0, 10)))
    else:  # deep nesting: main-content extraction is superlinear in depth (see pipeline/extract.py)
        tag = rng.choice(("div", "article", "section", "span", "table", "ul", "b"))
        depth = rng.choice((10, 100, 600, 3000, 20000))
        html = (f"<{tag}>x" * depth).encode() + (rng.choice((b"", f"</{tag}>".encode())) * depth)
    ctype = rng.choice(_CONTENT_TYPES)
    return HtmlCase(html, ctype, rng.random() < 0.9, kind)


GENERATORS: dict[str, Callable[[random.Random, Corpus], Any]] = {
    "warc": gen_warc, "robots": gen_robots, "html": gen_html}


def make_case(target: str, seed: int, index: int) -> Any:
    rng = random.Random(f"{seed}:{target}:{index}")
    return GENERATORS[target](rng, load_corpus())


def iter_cases(target: str, seed: int, count: int) -> Iterator[Any]:
    """Cases in order, for callers that want the script's generation without its runner."""
    for i in range(count):
        yield make_case(target, seed, i)


def run_case(target: str, case: Any, workdir: str | Path) -> Counter[str]:
    if target == "warc":
        return check_warc(case, workdir)
    if target == "robots":
        return check_robots(case)
    return check_html(case)


# ------------------------------------------------------------------------------------------------
# Runner: a watched child process per target, restarted after a hang or a hard crash
# ------------------------------------------------------------------------------------------------


@dataclass
class TargetStats:
    cases: int = 0
    exceptions: int = 0
    invariants: int = 0
    hangs: int = 0
    died: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def crashes(self) -> int:
        return self.exceptions + self.invariants + self.hangs + self.died


def _child(target: str, seed: int, start: int, stop: int, conn: Any, current: Any) -> None:
    workdir = tempfile.mkdtemp(prefix="consentcrawl-fuzz-")
    outcomes: Counter[str] = Counter()
    slowest = 0.0
    try:
        for i in range(start, stop):
            current.value = i
            t = time.perf_counter()
            try:
                outcomes.update(run_case(target, make_case(target, seed, i), workdir))
            except Exception as exc:
                kind = "invariant" if isinstance(exc, InvariantError) else "exception"
                tb = traceback.format_exc(limit=6)
                conn.send(("fail", i, kind, f"{type(exc).__name__}: {exc}"[:400], tb[-3000:]))
            slowest = max(slowest, time.perf_counter() - t)
        current.value = stop
        conn.send(("done", dict(outcomes), slowest))
    finally:
        for p in Path(workdir).glob("*"):
            p.unlink(missing_ok=True)
        os.rmdir(workdir)


def run_target(target: str, seed: int, cases: int, timeout: float, progress: bool = True) -> TargetStats:
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    stats = TargetStats(cases=cases)
    started = time.perf_counter()
    start = 0
    last_print = started
    while start < cases:
        parent, child = ctx.Pipe(duplex=False)
        current = ctx.Value("q", start)
        proc = ctx.Process(target=_child, args=(target, seed, start, cases, child, current), daemon=True)
        proc.start()
        child.close()
        seen, seen_at = start, time.monotonic()
        finished = False
        while True:
            if parent.poll(0.2):
                try:
                    msg = parent.recv()
                except EOFError:
                    msg = None
                if msg and msg[0] == "fail":
                    _, i, kind, summary, tb = msg
                    stats.invariants += kind == "invariant"
                    stats.exceptions += kind == "exception"
                    stats.failures.append({"case": i, "kind": kind, "error": summary, "traceback": tb})
                    continue
                if msg and msg[0] == "done":
                    stats.outcomes.update(msg[1])
                    stats.slowest = max(stats.slowest, msg[2])
                    finished = True
                    break
            now = time.monotonic()
            if current.value != seen:
                seen, seen_at = current.value, now
            if not proc.is_alive() and not parent.poll(0):
                stats.died += 1
                stats.failures.append({"case": current.value, "kind": "died",
                                       "error": f"child exited with code {proc.exitcode}", "traceback": ""})
                break
            if now - seen_at > timeout:
                proc.kill()
                stats.hangs += 1
                stats.failures.append({"case": current.value, "kind": "hang",
                                       "error": f"no progress for {timeout:.0f}s", "traceback": ""})
                break
            if progress and now - last_print > 15:
                last_print = now
                print(f"  {target}: {current.value}/{cases} cases, {stats.crashes} crash(es)", file=sys.stderr,
                      flush=True)
        proc.join(5)
        if finished:
            break
        start = current.value + 1
    stats.seconds = time.perf_counter() - started
    return stats


def print_table(stats: dict[str, TargetStats], seed: int) -> None:
    print(f"\nfuzz results (seed {seed}; one crash = an exception, a broken invariant, a hang or a dead process)")
    head = f"{'target':8} {'cases':>8} {'exceptions':>10} {'invariant':>9} {'hangs':>5} {'died':>4} " \
           f"{'crashes':>7} {'cases/s':>8} {'slowest':>8}"
    print(head)
    print("-" * len(head))
    for t, s in stats.items():
        print(f"{t:8} {s.cases:>8} {s.exceptions:>10} {s.invariants:>9} {s.hangs:>5} {s.died:>4} {s.crashes:>7} "
              f"{s.cases / max(s.seconds, 1e-9):>8.0f} {s.slowest:>7.2f}s")
    total = sum(s.cases for s in stats.values())
    print(f"{'total':8} {total:>8} {'':>10} {'':>9} {'':>5} {'':>4} {sum(s.crashes for s in stats.values()):>7}")
    for t, s in stats.items():
        top = ", ".join(f"{k} {v}" for k, v in s.outcomes.most_common(6))
        print(f"  {t} outcomes (top): {top}")
    for t, s in stats.items():
        for f in s.failures[:20]:
            print(f"\nCRASH {t} case {f['case']} ({f['kind']}): {f['error']}\n"
                  f"  reproduce: python scripts/fuzz.py --seed {seed} --repro {t}:{f['case']}")
            if f["traceback"]:
                print("  " + f["traceback"].rstrip().replace("\n", "\n  "))


def _describe(case: Any) -> str:
    d = {k: (f"<{len(v)} bytes>" if isinstance(v, (bytes, str)) and len(v) > 200 else v)
         for k, v in vars(case).items()}
    return repr(d)


def repro(spec: str, seed: int, save: str | None) -> int:
    """Rebuild one case, save its input, run it in this process and show the traceback."""
    target, _, index = spec.partition(":")
    case = make_case(target, seed, int(index))
    print(f"{target} case {index} (seed {seed}): {_describe(case)}")
    if save:
        blob = getattr(case, "blob", None) or getattr(case, "html", None) or getattr(case, "body", b"")
        Path(save).write_bytes(blob if isinstance(blob, bytes) else str(blob).encode("utf-8", "surrogatepass"))
        print(f"input written to {save}")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            print("outcomes:", dict(run_case(target, case, tmp)))
        except Exception:
            traceback.print_exc()
            return 1
    print("no crash")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=100_000, help="total cases, split evenly over the targets")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of " + ",".join(TARGETS))
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds without progress that count as a hang")
    ap.add_argument("--repro", metavar="TARGET:CASE", help="rerun one case in-process and print its traceback")
    ap.add_argument("--save", help="with --repro: write the case's input bytes to this file")
    ap.add_argument("--json", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if args.repro:
        return repro(args.repro, args.seed, args.save)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - set(TARGETS)
    if unknown or not targets:
        ap.error(f"unknown target(s): {', '.join(sorted(unknown)) or '(none)'}")
    corpus = load_corpus()  # before forking, so children share it
    print(f"corpus: {len(corpus.records)} WARC records, {len(corpus.members)} gzip members, {len(corpus.html)} HTML "
          f"pages, {len(corpus.robots_bodies)} robots.txt bodies ({len(corpus.robots_lines)} distinct lines) from "
          f"{len(corpus.sources)} WARC files{'' if SHARED.is_dir() else ' (no ../shared/data: bundled sample only)'}")
    per = [args.cases // len(targets) + (i < args.cases % len(targets)) for i in range(len(targets))]
    stats: dict[str, TargetStats] = {}
    for target, n in zip(targets, per, strict=True):
        print(f"fuzzing {target}: {n} cases", file=sys.stderr, flush=True)
        stats[target] = run_target(target, args.seed, n, args.timeout)
    print_table(stats, args.seed)
    if args.json:
        Path(args.json).write_text(json.dumps({t: {**{k: v for k, v in vars(s).items() if k != "outcomes"},
                                                   "outcomes": dict(s.outcomes), "crashes": s.crashes}
                                               for t, s in stats.items()}, indent=2, default=str))
    return 1 if any(s.crashes for s in stats.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
