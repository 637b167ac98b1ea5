"""Main-content text from HTML with resiliparse.

Decoding follows the HTTP charset first, then resiliparse's detector; the parsed tree is kept on
the document only for the duration of this stage.

Time guard. resiliparse runs in C and cannot be interrupted inside a Dask worker thread, and the
HTML size cap (`limits.max_payload_bytes`) does *not* bound its time: main-content extraction
costs about (number of tags) x (nesting depth), so 100 KB of nested ``<div>`` takes ~12 s and an
8 MB page with deep nesting minutes to hours; nested lists also give text quadratic in depth
(50 KB of ``<ul>x`` -> 100 M characters). Measured in docs/cluster.md. Two guards, therefore:

* before extracting, a deterministic check on the parsed tree: a page nested deeper than its tag
  count allows for the time budget (never deeper than 512, Chrome's parser limit) is errored
  ``html-too-deep`` without running the expensive step. Real pages nest < 60 levels.
* after extracting, the thread CPU time is measured; a record that took more than
  ``max_seconds`` is errored ``extraction-too-slow`` (evidence: seconds, html bytes) rather than
  kept, so a slow outlier is visible in the ledger. This one cannot stop the stall itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree

from pipeline.document import Document

DEFAULT_MAX_SECONDS = 10.0
#: Chrome's HTML parser never builds a deeper tree (kMaximumHTMLParserDOMTreeDepth).
MAX_DEPTH = 512
#: Below this depth no page is refused, whatever its size (real pages: html > body > ... ~10).
MIN_DEPTH = 16
#: Worst main-content extraction cost per (tag x nesting level) measured with resiliparse 2.0.1
#: (nested <div>/<article>, 1.3e-7 s on a 2-core x86 VM), rounded up.
SECONDS_PER_TAG_LEVEL = 1.5e-7


def decode_html(html: bytes, content_type: str = "") -> str:
    charset = ""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip().strip("\"'")
    if charset:
        try:
            return html.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return bytes_to_str(html, detect_encoding(html))


def _parse_extract(html: str, main_content: bool, max_depth: int | None = None) -> str:
    """Parse and extract in one frame that drops the tree itself before returning or raising.

    resiliparse trees are thread-bound (PyO3 ``unsendable``): freed on another thread they are
    leaked with a RuntimeError. Dask's sampling profiler keeps frames alive from its own threads,
    so a tree left in a local of a frame it sampled would be freed there (measured: a leaked DOM
    per occurrence, twice per 1 GB WARC). Hence the explicit ``del`` and no helper taking a tree.
    """
    tree = HTMLTree.parse(html)
    try:
        if max_depth is not None and tree.document.query_selector(_chain(max_depth + 1)) is not None:
            raise _TooDeep(max_depth)
        return extract_plain_text(
            tree, preserve_formatting=True, main_content=main_content, list_bullets=True, alt_texts=False
        ).strip()
    finally:
        del tree


def html_to_text(html: str, main_content: bool = True) -> str:
    return _parse_extract(html, main_content)


def allowed_depth(tags: int, max_seconds: float) -> int:
    """Deepest nesting whose predicted extraction time (tags x depth) stays within half the cap."""
    budget = max_seconds / 2 / SECONDS_PER_TAG_LEVEL
    return max(MIN_DEPTH, min(MAX_DEPTH, int(budget // max(tags, 1))))


@lru_cache(maxsize=64)
def _chain(levels: int) -> str:
    """CSS for "an element more than levels-1 below the document": a chain of child combinators.

    lexbor matches it in C, walking each element's ancestors at most `levels` steps: cost
    elements x min(depth, levels), ~10x cheaper than main-content extraction.
    """
    return ">".join(["*"] * levels)


class _TooDeep(Exception):
    def __init__(self, depth: int, tags: int = 0) -> None:
        super().__init__(depth, tags)
        self.depth = depth
        self.tags = tags


@dataclass(frozen=True, slots=True)
class Extractor:
    """HTML → text stage. Documents that already carry text (WET, Parquet) pass through.

    `max_seconds` (None: no guard) is the per-record extraction budget; see the module docstring.
    """

    main_content: bool = True
    min_chars: int = 1
    max_seconds: float | None = DEFAULT_MAX_SECONDS

    def _extract(self, html: bytes, content_type: str) -> str:
        text = decode_html(html, content_type)
        if self.max_seconds is None:
            return _parse_extract(text, self.main_content)
        # Depth drives both costs: main-content scoring time and, through list indentation,
        # output size (nested <ul>/<ol> give text quadratic in depth, with or without main_content).
        tags = text.count("<")
        depth = allowed_depth(tags, self.max_seconds)
        if 2 * tags + 2 <= depth:  # too few tags to nest that deep (html, body, tbody are implied)
            return _parse_extract(text, self.main_content)
        try:
            return _parse_extract(text, self.main_content, depth)
        except _TooDeep:
            raise _TooDeep(depth, tags) from None

    def run(self, doc: Document) -> Document:
        if doc.text is None:
            if doc.html is None:
                return doc.error("no-payload")
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            try:
                text = self._extract(doc.html, doc.content_type)
            except _TooDeep as deep:
                return doc.error("html-too-deep", depth_over=deep.depth, tags=deep.tags, html_bytes=len(doc.html))
            except Exception as exc:  # resiliparse raises on pathological input
                return doc.error("extraction-failed", detail=f"{type(exc).__name__}: {exc}"[:300])
            # Thread CPU time, not wall time: a busy neighbour on the node must not flip outcomes.
            cpu = time.thread_time() - cpu0
            if self.max_seconds is not None and cpu > self.max_seconds:
                return doc.error("extraction-too-slow", seconds=round(cpu, 3),
                                 wall_seconds=round(time.perf_counter() - wall0, 3),
                                 html_bytes=len(doc.html), limit=self.max_seconds)
            doc.text = text
        if len(doc.text.strip()) < self.min_chars:
            return doc.drop("no-text", chars=len(doc.text.strip()))
        return doc
