"""Language tagging and the optional keep-only-these-languages filter."""

from __future__ import annotations

from functools import lru_cache

from pipeline.config import LangIdConfig
from pipeline.document import Document
from pipeline.langid import LanguageIdentifier
from pipeline.langid.identifier import LangIdError
from pipeline.langid.prepare import DEFAULT_MAX_CHARS

DROP_REASON = "language-not-selected"
__all__ = ["DROP_REASON", "LangIdError", "LanguageStage", "check_langid"]


@lru_cache(maxsize=4)
def _identifier(model: str, thresholds: str | None, max_chars: int = DEFAULT_MAX_CHARS) -> LanguageIdentifier:
    """The worker's identifier, cached per process; LangIdError (one line) when it cannot load."""
    _check_max_chars(max_chars)
    return LanguageIdentifier(model=model, thresholds=thresholds, max_chars=max_chars)


def _check_max_chars(max_chars: object) -> None:
    """0 means no cap (see prepare_text); a negative or non-integer value is a mistake, not 'no cap'."""
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 0:
        raise LangIdError(f"langid.max_chars: expected a whole number >= 0 (0 = no cap), found {max_chars!r}")


def check_langid(model: str, thresholds: str | None, max_chars: int) -> None:
    """Load the model and thresholds exactly as a worker would, before any shard runs.

    Why: a bad `langid.model` / `langid.thresholds` otherwise fails every shard deep inside a
    worker. Raises LangIdError with one line naming the key and the file.
    """
    _identifier(model, thresholds, max_chars)


class LanguageStage:
    def __init__(self, identifier: LanguageIdentifier, keep: tuple[str, ...] = ()) -> None:
        self.identifier = identifier
        self.keep = frozenset(keep)

    @classmethod
    def for_config(cls, cfg: LangIdConfig) -> LanguageStage:
        return cls(_identifier(cfg.model, cfg.thresholds, cfg.max_chars), cfg.keep_languages)

    def run(self, doc: Document) -> Document:
        res = self.identifier.predict(doc.text or "")
        doc.lang, doc.script, doc.lang_score = res.lang, res.script, res.score
        doc.lang_topk = list(res.topk)
        if self.keep and res.label not in self.keep and res.lang not in self.keep:
            return doc.drop(DROP_REASON, lang=res.label, score=res.score)
        return doc
