"""Main-content text from HTML with resiliparse.

Decoding follows the HTTP charset first, then resiliparse's detector; the parsed tree is kept on
the document only for the duration of this stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree

from pipeline.document import Document


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


def html_to_text(html: str, main_content: bool = True) -> str:
    tree = HTMLTree.parse(html)
    return extract_plain_text(
        tree, preserve_formatting=True, main_content=main_content, list_bullets=True, alt_texts=False
    ).strip()


@dataclass(frozen=True, slots=True)
class Extractor:
    """HTML → text stage. Documents that already carry text (WET, Parquet) pass through."""

    main_content: bool = True
    min_chars: int = 1

    def run(self, doc: Document) -> Document:
        if doc.text is None:
            if doc.html is None:
                return doc.error("no-payload")
            try:
                doc.text = html_to_text(decode_html(doc.html, doc.content_type), self.main_content)
            except Exception as exc:  # resiliparse raises on pathological input
                return doc.error("extraction-failed", detail=f"{type(exc).__name__}: {exc}"[:300])
        if len(doc.text.strip()) < self.min_chars:
            return doc.drop("no-text", chars=len(doc.text.strip()))
        return doc
