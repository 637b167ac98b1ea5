"""Language tagging and the optional keep-only-these-languages filter."""

from __future__ import annotations

from functools import lru_cache

from pipeline.config import LangIdConfig
from pipeline.document import Document
from pipeline.langid import LanguageIdentifier
from pipeline.langid.prepare import DEFAULT_MAX_CHARS

DROP_REASON = "language-not-selected"


@lru_cache(maxsize=4)
def _identifier(model: str, thresholds: str | None, max_chars: int = DEFAULT_MAX_CHARS) -> LanguageIdentifier:
    return LanguageIdentifier(model=model, thresholds=thresholds, max_chars=max_chars)


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
