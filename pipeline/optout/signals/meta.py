"""`<meta name=... content=...>` elements as the HTML parser sees them, and header lookup.

A statement in a page is a meta element of its parsed document: a tag written inside a comment,
a `<script>` string or a `<textarea>` is text, not an element, and `property="robots"` is not a
`name`. So the decision reads resiliparse's DOM (`meta_elements`). Parsing costs ~3 ms on an
average page, so the stage first checks the bytes for the words a statement needs (`noai`,
`tdm-`; `keywords_at`): 1% of real pages carry one, the others are never parsed here. Only the
document up to 64 KiB past the last keyword is parsed: an HTML parser never looks ahead, so every
element before the cut is the same element it is in the whole document.

`meta_tags` (a byte scan of the head) is kept for tools that only look for candidate pages
(scripts/build_sample.py); no decision uses it.
"""

from __future__ import annotations

import re

from resiliparse.parse.html import HTMLTree

HEAD_SCAN_BYTES = 256 * 1024
#: Bytes parsed past the last keyword: the rest of its tag, whatever its attributes.
PARSE_MARGIN = 64 * 1024
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_META = re.compile(rb"<meta\b([^>]{0,2000})>", re.IGNORECASE)
_ATTR = re.compile(rb"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
_HEAD_END = re.compile(rb"</head\s*>|<body\b", re.IGNORECASE)
_NAME = re.compile(rb"""\b(?:name|http-equiv|property)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


def keywords_at(html: bytes, keywords: tuple[bytes, ...]) -> int:
    """Offset of the last (lower-case) keyword in `html`, case-insensitively; -1 when none occurs.

    A UTF-16 page cannot be searched as bytes: it reports its end, so it is parsed whole.
    """
    if html[:2] in _UTF16_BOMS:
        return len(html)
    low = html.lower()
    return max((low.rfind(k) for k in keywords), default=-1)


def _decode(html: bytes, content_type: str) -> str:
    from pipeline.extract import decode_html  # the extraction stage's decoding: same text, same DOM

    return decode_html(html, content_type)


def meta_elements(html: bytes, content_type: str = "", upto: int | None = None,
                  http_equiv: bool = False) -> list[tuple[str, str]]:
    """(name lower-cased, content) of every `<meta name content>` element of the parsed document.

    `upto`: parse only the bytes before the first `>` at or after this offset (see the module
    docstring). `http_equiv`: also read `<meta http-equiv=... content=...>` (lenient reading).
    Elements anywhere in the document count, head or body: a parser puts a meta tag written after
    body content into the body, and it is still the page's statement.
    """
    if upto is not None and upto < len(html):
        end = html.find(b">", upto)
        html = html if end < 0 else html[: end + 1]
    tree = HTMLTree.parse(_decode(html, content_type))
    try:
        out: list[tuple[str, str]] = []
        for el in tree.document.query_selector_all("meta"):
            content = el.getattr("content")
            name = el.getattr("name")
            if name is None and http_equiv:
                name = el.getattr("http-equiv")
            if name is not None and content is not None:
                out.append((name.strip(" \t\n\f\r").lower(), content.strip(" \t\n\f\r")))
        return out
    finally:
        del tree  # resiliparse trees are thread-bound: free it in this frame (see pipeline/extract.py)


def meta_tags(html: bytes, only: frozenset[bytes] | None = None) -> list[tuple[str, str]]:
    """Candidate (name, content) pairs from a byte scan of the head: for finding pages, not deciding."""
    head = html[:HEAD_SCAN_BYTES]
    end = _HEAD_END.search(head)
    if end is not None:
        head = head[: end.start()]
    if b"<meta" not in head.lower():
        return []
    out: list[tuple[str, str]] = []
    for m in _META.finditer(head):
        if only is not None:
            nm = _NAME.search(m.group(1))
            if nm is None or nm.group(1).lower() not in only:
                continue
        attrs: dict[bytes, bytes] = {}
        for a in _ATTR.finditer(m.group(1)):
            attrs.setdefault(a.group(1).lower(), a.group(2) or a.group(3) or a.group(4) or b"")
        name = attrs.get(b"name") or attrs.get(b"http-equiv") or attrs.get(b"property")
        if name is None or b"content" not in attrs:
            continue
        out.append((name.decode("utf-8", "replace").strip().lower(),
                    attrs[b"content"].decode("utf-8", "replace").strip()))
    return out


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    lname = name.lower()
    return [v for k, v in headers if k.strip().lower() == lname]
