"""Main-content text from HTML with resiliparse.

Decoding follows the HTTP charset first, then resiliparse's detector; the parsed tree is kept on
the document only for the duration of this stage.

Budgets, not clocks. Whether a page is kept must be a function of its bytes, never of the speed
of the machine that ran it (issue 14 section 5: a CPU-time cap kept 10, 6, 8 and 7 of the same
documents in four identical runs). resiliparse runs in C and cannot be interrupted inside a Dask
worker thread, and the HTML size cap (`limits.max_payload_bytes`) does not bound its time or its
output, so each page is measured on its parsed tree before the expensive step:

* ``html-too-many-elements``: more than ``max_elements`` elements. Main-content extraction costs
  ~4 us and the tree ~560 bytes per element even on a flat page (8 MB of ``<p>x``: 2 M elements,
  8 s, 1.1 GB). The count is of the *parsed* tree: the HTML adoption-agency algorithm re-opens
  every misnested formatting element in each new block, so 16 KB of source can give 400 k elements.
* ``html-too-deep``: elements x depth over ``max_element_levels``, i.e. nested deeper than
  ``allowed_depth(elements)`` (main-content scoring costs about elements x depth: 5,000 nested
  ``<div>``, 1.1 s; 20,000, 12 s). Since depth <= elements, a page of at most
  sqrt(max_element_levels) = 5,656 elements (99% of real pages have < 2,600) cannot be over it and
  its depth is not measured: the depth query costs ~9% of extraction, the element count ~2%.
  There is no fixed depth cap (Chrome's 512): that alone would need the depth query on every page.
* ``text-too-long``: extracted text over ``max_text_chars``. Only generated indentation makes text
  longer than its HTML (50 KB of nested ``<ul>x``: 25 M characters), so the default equals the
  default payload cap. An error, not a truncation: a cut document would be silently different.

Real pages are far inside all three (1,143 real pages: at most 13 k elements, depth 56, elements x
depth 3.0e5, text 167 k characters; none refused, tests/test_determinism.py). The worst page they
admit took 3.6 s (480 k elements from misnested <b>, main content). Not bounded: lexbor's parse is
superlinear in the distinct attribute names of one tag (10 k: 0.3 s, 20 k: 1.9 s, 50 k: > 60 s),
and a misnested-formatting page is parsed whole (64 KB -> 2 M elements, 800 MB) before it is counted.

Last resort only: the thread CPU time of parse + extraction is compared to ``max_seconds``
afterwards (it cannot stop the stall). A record over it is errored ``extraction-timeout``, the one
outcome that depends on the machine; pipeline/shard.py lists such records and the manifest says
``reproducible: false``. The default (60 s) is ~17x the worst page the budgets admit on a 2-core VM.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree

from pipeline.document import Document

#: Last-resort safety net in thread CPU seconds; never fires on real pages (slowest: 0.05 s).
DEFAULT_MAX_SECONDS = 60.0
#: Elements in the parsed tree: flat pages cost ~4 us each to extract (2 s at this cap).
DEFAULT_MAX_ELEMENTS = 500_000
#: elements x nesting depth (~2-4 s of main-content extraction at worst on a 2-core VM).
DEFAULT_MAX_ELEMENT_LEVELS = 32_000_000
#: Text characters: the default payload cap, since real content never makes text longer than its HTML.
DEFAULT_MAX_TEXT_CHARS = 8 * 1024 * 1024
#: No page is refused for nesting this shallow, whatever its size (real pages: median 16).
MIN_DEPTH = 16
#: The reason whose outcome depends on machine speed (pipeline/shard.py: UNREPRODUCIBLE_REASON).
TIMEOUT_REASON = "extraction-timeout"


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


def allowed_depth(elements: int, max_element_levels: int = DEFAULT_MAX_ELEMENT_LEVELS) -> int:
    """Deepest nesting whose predicted cost (elements x depth) stays within the budget."""
    return max(MIN_DEPTH, max_element_levels // max(elements, 1))


@lru_cache(maxsize=64)
def _chain(levels: int) -> str:
    """CSS for "an element more than levels-1 below the document": a chain of child combinators.

    lexbor matches it in C, walking each element's ancestors at most `levels` steps: cost at most
    elements x levels, i.e. within the element-levels budget (0.3 s at most).
    """
    return ">".join(["*"] * levels)


class Refused(Exception):
    """A page over a deterministic budget: the reason and evidence depend only on its bytes."""

    def __init__(self, reason: str, **evidence: Any) -> None:
        super().__init__(reason, evidence)
        self.reason = reason
        self.evidence = evidence


def _parse_extract(html: str, main_content: bool, max_elements: int | None = None,
                   max_element_levels: int | None = None) -> str:
    """Parse, check the tree against the budgets, extract; the tree dies in this frame.

    resiliparse trees are thread-bound (PyO3 ``unsendable``): freed on another thread they are
    leaked with a RuntimeError. Dask's sampling profiler keeps frames alive from its own threads,
    so a tree left in a local of a frame it sampled would be freed there (measured: a leaked DOM
    per occurrence, twice per 1 GB WARC). Hence the explicit ``del`` and no helper taking a tree.
    """
    tree = HTMLTree.parse(html)
    try:
        if max_elements is not None or max_element_levels is not None:
            elements = len(tree.document.get_elements_by_tag_name("*"))  # counted in C, ~1% of extraction
            if max_elements is not None and elements > max_elements:
                raise Refused("html-too-many-elements", elements=elements, limit=max_elements)
            if max_element_levels is not None:
                depth = allowed_depth(elements, max_element_levels)
                # Depth <= elements: only a tree with more elements than `depth` can be too deep.
                if elements > depth and tree.document.query_selector(_chain(depth + 1)) is not None:
                    raise Refused("html-too-deep", depth_over=depth, elements=elements)
        return extract_plain_text(
            tree, preserve_formatting=True, main_content=main_content, list_bullets=True, alt_texts=False
        ).strip()
    finally:
        del tree


def html_to_text(html: str, main_content: bool = True) -> str:
    return _parse_extract(html, main_content)


@dataclass(frozen=True, slots=True)
class Extractor:
    """HTML -> text stage. Documents that already carry text (WET, Parquet) pass through.

    The three budgets (None: off) decide deterministically; `max_seconds` (None: off) is only the
    last-resort safety net, see the module docstring.
    """

    main_content: bool = True
    min_chars: int = 1
    max_seconds: float | None = DEFAULT_MAX_SECONDS
    max_elements: int | None = DEFAULT_MAX_ELEMENTS
    max_element_levels: int | None = DEFAULT_MAX_ELEMENT_LEVELS
    max_text_chars: int | None = DEFAULT_MAX_TEXT_CHARS

    def _extract(self, html: bytes, content_type: str) -> str:
        text = _parse_extract(decode_html(html, content_type), self.main_content, self.max_elements,
                              self.max_element_levels)
        if self.max_text_chars is not None and len(text) > self.max_text_chars:
            raise Refused("text-too-long", chars=len(text), limit=self.max_text_chars)
        return text

    def run(self, doc: Document) -> Document:
        if doc.text is None:
            if doc.html is None:
                return doc.error("no-payload")
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            try:
                text = self._extract(doc.html, doc.content_type)
            except Refused as refused:
                return doc.error(refused.reason, **refused.evidence, html_bytes=len(doc.html))
            except Exception as exc:  # resiliparse raises on pathological input
                return doc.error("extraction-failed", detail=f"{type(exc).__name__}: {exc}"[:300])
            # Thread CPU time, not wall time: a busy neighbour on the node must not fire it either.
            cpu = time.thread_time() - cpu0
            if self.max_seconds is not None and cpu > self.max_seconds:
                return doc.error(TIMEOUT_REASON, seconds=round(cpu, 3),
                                 wall_seconds=round(time.perf_counter() - wall0, 3),
                                 html_bytes=len(doc.html), limit=self.max_seconds)
            doc.text = text
        if len(doc.text.strip()) < self.min_chars:
            return doc.drop("no-text", chars=len(doc.text.strip()))
        return doc
