"""Dev-set loaders and scoring shared by the tests and ``scripts/bench_langid.py``.

Scoring is macrolanguage-aware (:func:`pipeline.langid.labels.lang_matches`): the dev sets mix
individual codes (UDHR: ``cmn``, ``arb``, ``pes``) and macro codes (Lingua: ``zho``, ``ara``,
``fas``) and lid.176 predicts macro codes for several languages.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .identifier import LanguageIdentifier
from .labels import lang_matches, parse_label


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled dev example."""

    text: str
    lang: str
    script: str = ""


def _load_jsonl(path: Path, script_key: str) -> list[Example]:
    with path.open(encoding="utf-8") as f:
        return [Example(r["text"], r["iso639_3"], r.get(script_key, "")) for r in map(json.loads, f)]


def load_udhr(path: Path) -> list[Example]:
    """UDHR dev rows: gold = ``iso639_3`` / ``iso15924``."""
    return _load_jsonl(path, "iso15924")


def load_lingua(path: Path) -> list[Example]:
    """Lingua dev rows: gold = ``iso639_3`` (macro codes such as ``zho``, ``ara``)."""
    return _load_jsonl(path, "script_detected")


def load_tatoeba(path: Path) -> list[Example]:
    """Tatoeba dev TSV (``sentence_id, iso639_3, script_detected, text``)."""
    out: list[Example] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        idx = {name: i for i, name in enumerate(header)}
        for row in reader:
            out.append(Example(row[idx["text"]], row[idx["iso639_3"]], row[idx["script_detected"]]))
    return out


def model_languages(ident: LanguageIdentifier) -> set[str]:
    """ISO 639-3 codes the model can output (after label normalisation)."""
    return {parse_label(lab)[0] for lab in ident.labels}


def is_known(gold: str, known: Iterable[str]) -> bool:
    """Whether the model has a label matching ``gold`` (macro-aware)."""
    return any(lang_matches(k, gold) for k in known)


@dataclass
class Score:
    """Accuracy summary of one dev set."""

    n: int = 0
    correct: int = 0  # final label (thresholded; und counts as wrong)
    correct_top1: int = 0  # model's top-1 ignoring thresholds
    und: int = 0
    n_known: int = 0
    correct_known: int = 0
    correct_top1_known: int = 0
    gold_langs: set[str] = field(default_factory=set)
    known_langs: set[str] = field(default_factory=set)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def accuracy_top1(self) -> float:
        return self.correct_top1 / self.n if self.n else 0.0

    @property
    def accuracy_known(self) -> float:
        return self.correct_known / self.n_known if self.n_known else 0.0

    @property
    def accuracy_top1_known(self) -> float:
        return self.correct_top1_known / self.n_known if self.n_known else 0.0

    def summary(self) -> str:
        return (
            f"n={self.n} langs={len(self.gold_langs)} acc={self.accuracy:.4f} "
            f"top1={self.accuracy_top1:.4f} und={self.und / max(1, self.n):.4f} | "
            f"known: n={self.n_known} langs={len(self.known_langs)} "
            f"acc={self.accuracy_known:.4f} top1={self.accuracy_top1_known:.4f}"
        )


def score(ident: LanguageIdentifier, examples: Sequence[Example], batch: int = 1024) -> Score:
    """Run ``ident`` over ``examples`` and score against the gold languages."""
    known = model_languages(ident)
    s = Score()
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        for ex, res in zip(chunk, ident.predict_batch([e.text for e in chunk]), strict=True):
            top1 = res.topk[0][0].partition("_")[0] if res.topk else res.lang
            ok = lang_matches(res.lang, ex.lang)
            ok1 = lang_matches(top1, ex.lang)
            kn = is_known(ex.lang, known)
            s.n += 1
            s.correct += ok
            s.correct_top1 += ok1
            s.und += res.lang == "und"
            s.gold_langs.add(ex.lang)
            if kn:
                s.n_known += 1
                s.correct_known += ok
                s.correct_top1_known += ok1
                s.known_langs.add(ex.lang)
    return s
