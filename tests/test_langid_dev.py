"""Accuracy floors of the default model on the shared dev sets (macrolanguage-aware scoring).

Floors sit just under the accuracy measured with lid.176 (the current default) and the shipped
thresholds; "known" = gold languages lid.176 has a label for (macro-aware). When the default
model changes, re-measure with ``python scripts/bench_langid.py --accuracy`` and update.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import shared_path

from pipeline.langid import LanguageIdentifier, lang_matches
from pipeline.langid.evaluate import Example, load_lingua, load_tatoeba, load_udhr, score
from pipeline.langid.script import scripts_compatible

pytestmark = pytest.mark.shared

# name, file, loader, floor(final label), floor(top-1), floor(known final), floor(known top-1)
# Measured with lid.176: udhr .2311/.2621/.5997/.6801, lingua .7799/.8072/.8730/.9036,
# tatoeba .8700/.8837 (all tatoeba languages are known).
FLOORS: list[tuple[str, str, Callable[[Path], list[Example]], float, float, float, float]] = [
    ("udhr", "udhr_dev.jsonl", load_udhr, 0.22, 0.25, 0.59, 0.67),
    ("lingua", "lingua_dev.jsonl", load_lingua, 0.77, 0.80, 0.865, 0.895),
    ("tatoeba", "tatoeba_dev.tsv", load_tatoeba, 0.86, 0.875, 0.86, 0.875),
]


@pytest.fixture(scope="module")
def default_ident() -> LanguageIdentifier:
    return LanguageIdentifier("default")


@pytest.mark.parametrize(
    ("name", "fname", "loader", "f_acc", "f_top1", "f_kacc", "f_ktop1"), FLOORS
)
def test_dev_accuracy_floor(
    default_ident: LanguageIdentifier,
    name: str,
    fname: str,
    loader: Callable[[Path], list[Example]],
    f_acc: float,
    f_top1: float,
    f_kacc: float,
    f_ktop1: float,
) -> None:
    examples = loader(shared_path("multilingual_text", fname))
    s = score(default_ident, examples)
    print(name, s.summary())
    assert s.accuracy >= f_acc, s.summary()
    assert s.accuracy_top1 >= f_top1, s.summary()
    assert s.accuracy_known >= f_kacc, s.summary()
    assert s.accuracy_top1_known >= f_ktop1, s.summary()


def test_dev_set_sizes() -> None:
    udhr = load_udhr(shared_path("multilingual_text", "udhr_dev.jsonl"))
    lingua = load_lingua(shared_path("multilingual_text", "lingua_dev.jsonl"))
    tatoeba = load_tatoeba(shared_path("multilingual_text", "tatoeba_dev.tsv"))
    assert len({e.lang for e in udhr}) == 445
    assert len({e.lang for e in lingua}) == 75
    assert len(tatoeba) == 10_000


def test_udhr_label_script_matches_gold(default_ident: LanguageIdentifier) -> None:
    """When the language is right, the label's script (from text for lid.176) is right too."""
    examples = load_udhr(shared_path("multilingual_text", "udhr_dev.jsonl"))
    res = default_ident.predict_batch([e.text for e in examples])
    pairs = [(e, r) for e, r in zip(examples, res, strict=True) if lang_matches(r.lang, e.lang)]
    ok = sum(r.script == e.script or scripts_compatible(r.script, e.script) for e, r in pairs)
    assert ok / len(pairs) >= 0.99
