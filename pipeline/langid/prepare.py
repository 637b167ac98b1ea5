"""Text preparation before fastText prediction.

fastText reads one line, splits on whitespace and scores character n-grams. URLs, e-mail
addresses and digits carry no language signal but do carry n-grams that pull towards English
(``http``, ``www``, ``com``), so they are removed; newlines must go (the binding rejects them);
lone surrogates (``"\\udcff"`` from ``surrogateescape`` decoding) cannot be UTF-8 encoded and
would make the binding raise, so they become spaces.

Long documents: cost is linear in length while accuracy saturates after a few hundred
characters, so documents longer than ``max_chars`` are represented by ``windows`` evenly spaced
windows (start, middle(s), end) whose total is ``max_chars``. Windows are cut at spaces.
The raw text is windowed *before* the regex cleaning, so a 5 MB input costs the same as a
short one.
"""

from __future__ import annotations

import re

DEFAULT_MAX_CHARS = 500
DEFAULT_WINDOWS = 4
#: Raw text kept before cleaning, relative to max_chars: room for the URLs and digits it removes.
_HEADROOM = 1.5

_URL_RE = re.compile(r"(?:[a-z][a-z0-9+.-]{1,15}://|www\.)\S+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digits of any script, lone surrogates, C0/C1 control characters (fastText treats some of
# them, e.g. NUL, as separators or end of line).
_JUNK_RE = re.compile(r"[\d\ud800-\udfff\x00-\x08\x0e-\x1f\x7f-\x9f]+")


def _clean_token(token: str) -> str:
    if "://" in token or "www." in token.lower():
        token = _URL_RE.sub(" ", token)
    if "@" in token:
        token = _EMAIL_RE.sub(" ", token)
    return token


def clean_text(text: str) -> str:
    """Remove URLs, e-mails, digits, controls and surrogates; collapse whitespace to one space.

    URLs and e-mail addresses never contain whitespace, so their patterns only run on the rare
    tokens that can hold one (a full-text regex scan cost more than fastText itself).
    """
    if "://" in text or "@" in text or "www." in text.lower():
        text = " ".join([_clean_token(t) for t in text.split()])
    return " ".join(_JUNK_RE.sub(" ", text).split())


def _windows(text: str, total: int, n: int) -> str:
    """Join ``n`` evenly spaced windows of ``text`` of about ``total // n`` chars, cut at spaces."""
    size = max(1, total // n)
    span = len(text) - size
    parts: list[str] = []
    for i in range(n):
        start = span * i // max(1, n - 1) if n > 1 else 0
        end = start + size
        if start > 0:
            sp = text.find(" ", start, start + 64)
            if sp != -1:
                start = sp + 1
        if end < len(text):
            sp = text.rfind(" ", end - 64, end)
            if sp > start:
                end = sp
        parts.append(text[start:end])
    return " ".join(parts)


def prepare_text(
    text: str, max_chars: int = DEFAULT_MAX_CHARS, windows: int = DEFAULT_WINDOWS
) -> str:
    """Cleaned, single-line, length-bounded text to feed the model (``max_chars <= 0``: no cap)."""
    if not isinstance(text, str):
        if isinstance(text, bytes | bytearray):
            text = bytes(text).decode("utf-8", "replace")
        else:
            text = "" if text is None else str(text)
    if max_chars > 0 and len(text) > _HEADROOM * max_chars:
        # Pre-window the raw text with headroom for what cleaning removes.
        text = _windows(text, int(_HEADROOM * max_chars), windows)
    text = clean_text(text)
    if max_chars > 0 and len(text) > max_chars:
        text = _windows(text, max_chars, windows)
    return text
