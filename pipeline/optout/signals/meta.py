"""A fast scan of `<meta name=... content=...>` tags in the document head.

Signals need a handful of meta tags, not a DOM: scanning the bytes of the head costs a small
fraction of the HTML parse that extraction does anyway.
"""

from __future__ import annotations

import re

HEAD_SCAN_BYTES = 256 * 1024
_META = re.compile(rb"<meta\b([^>]{0,2000})>", re.IGNORECASE)
_ATTR = re.compile(rb"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
_HEAD_END = re.compile(rb"</head\s*>|<body\b", re.IGNORECASE)


_NAME = re.compile(rb"""\b(?:name|http-equiv|property)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


def meta_tags(html: bytes, only: frozenset[bytes] | None = None) -> list[tuple[str, str]]:
    """(lower-cased name or http-equiv, content) for each meta tag before the body starts.

    `only` (lower-case names): other tags (og:*, twitter:*, viewport: most of a head) are skipped
    after reading just their name.
    """
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
