"""Accuracy floors of the default model (consentcrawl-lid gated with lid.176) on held-out data.

The default model is trained on part of the shared data, so floors are measured on the held-out
parts only (:mod:`pipeline.langid.splits`: eBible, Tatoeba and NTREX dev splits, UDHR held-out
article, held-out halves of Lingua and of the 10-language Tatoeba file). Floors sit just under
the measured figures (see docs/lid-model.md); when the default model changes, re-measure with
``python scripts/train_lid.py --eval-only`` and update. "known" = gold languages lid.176 has a
label for (macro-aware). The whole dev files are still checked for lid.176 alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SHARED, shared_path

from pipeline.langid import LanguageIdentifier, lang_matches
from pipeline.langid.combined import knows_lid176
from pipeline.langid.evaluate import Example, load_lingua, load_tatoeba, load_udhr, score
from pipeline.langid.labels import macrolanguage_of
from pipeline.langid.script import scripts_compatible
from pipeline.langid.splits import Row, Splits, load_splits

pytestmark = pytest.mark.shared

# Issue 18: per held-out set, floors of exact-code accuracy, same-macrolanguage accuracy and exact
# accuracy on the languages lid.176 knows, just under the figures measured with the default
# combination (consentcrawl-lid sha256 e33cf72a..., gate in its JSON; docs/lid-model.md): exact /
# macro / known-exact ebible .9184/.9234/.8609, udhr .6275/.6863/.6736, lingua .8833/.9046/.9078,
# tatoeba .8081/.8269/.8169, ntrex .9320/.9496/.9525, tatoeba10 .9126/.9142/.9126.
FLOORS: list[tuple[str, float, float, float]] = [
    ("ebible", 0.913, 0.918, 0.85),
    ("udhr", 0.615, 0.675, 0.66),
    ("lingua", 0.878, 0.90, 0.90),
    ("tatoeba", 0.80, 0.82, 0.81),
    ("ntrex", 0.927, 0.945, 0.947),
    ("tatoeba10", 0.907, 0.909, 0.907),
]


def _exact(ident: LanguageIdentifier, rows: list[Row]) -> tuple[float, float]:
    """(exact code, same macrolanguage) accuracy of the final labels; ``und`` counts as wrong."""
    res = ident.predict_batch([r.text for r in rows])
    exact = sum(r.lang == row.gold for r, row in zip(res, rows, strict=True))
    macro = sum(lang_matches(r.lang, row.lang) or macrolanguage_of(r.lang) == macrolanguage_of(row.lang)
                for r, row in zip(res, rows, strict=True))
    return exact / len(rows), macro / len(rows)


@pytest.fixture(scope="module")
def default_ident() -> LanguageIdentifier:
    return LanguageIdentifier("default")


@pytest.fixture(scope="module")
def splits() -> Splits:
    shared_path("lid_train", "tatoeba", "tatoeba_dev.jsonl.gz")
    shared_path("lid_train", "ntrex128", "ntrex128_dev.jsonl.gz")
    return load_splits(SHARED)


def _known(rows: list[Row]) -> list[Row]:
    return [r for r in rows if knows_lid176(r.lang)]


@pytest.mark.parametrize(("name", "f_exact", "f_macro", "f_known"), FLOORS)
def test_default_heldout_accuracy_floor(
    default_ident: LanguageIdentifier, splits: Splits, name: str, f_exact: float, f_macro: float, f_known: float
) -> None:
    rows = splits.heldout[name]
    exact, macro = _exact(default_ident, rows)
    known = _exact(default_ident, _known(rows))[0]
    print(name, f"exact={exact:.4f} macro={macro:.4f} known-exact={known:.4f}")
    assert exact >= f_exact and macro >= f_macro and known >= f_known, (exact, macro, known)


@pytest.mark.parametrize("name", ["lingua", "tatoeba10", "tatoeba", "ntrex"])
def test_default_no_worse_than_lid176_on_its_languages(
    default_ident: LanguageIdentifier, splits: Splits, name: str
) -> None:
    """Web-register, everyday and news sentences in languages lid.176 knows must not get worse."""
    rows = _known(splits.heldout[name])
    assert len(rows) >= 500
    assert _exact(default_ident, rows)[0] >= _exact(LanguageIdentifier("lid176"), rows)[0]


def test_short_texts_are_not_emitted_as_confident(default_ident: LanguageIdentifier, splits: Splits) -> None:
    """Issue 18: texts of at most 20 characters get a language label only when it is mostly right (the
    short-text floor of thresholds.yaml), over every held-out set."""
    rows = [r for v in splits.heldout.values() for r in v if len(r.text) <= 20]
    assert len(rows) >= 1000
    res = default_ident.predict_batch([r.text for r in rows])
    labelled = [(r, row) for r, row in zip(res, rows, strict=True) if r.lang != "und"]
    precision = sum(r.lang == row.gold for r, row in labelled) / len(labelled)
    print(f"<=20 chars: {len(labelled)}/{len(rows)} labelled, precision {precision:.3f}")
    assert precision >= 0.80  # measured 0.8x; lid.176's thresholds alone gave ~0.75 on these rows


# lid.176 alone on the whole dev files (regression floors of the baseline model, macro-aware).
# Measured before issue 18: udhr .2311/.2621/.5997/.6801, lingua .7799/.8072/.8730/.9036, tatoeba
# .8700/.8837. Since issue 18 lid.176's macrolanguages become individual languages (`ms` -> `zsm`,
# `sq` -> `als`), which are wrong for UDHR's other members (`zlm`, `aln`) where the macrolanguage
# counted as right, and the short-text floor applies: udhr .2156/.2440/.5567/.6300.
LID176_FLOORS: list[tuple[str, str, Callable[[Path], list[Example]], float, float, float, float]] = [
    ("udhr", "udhr_dev.jsonl", load_udhr, 0.21, 0.24, 0.55, 0.625),
    ("lingua", "lingua_dev.jsonl", load_lingua, 0.77, 0.80, 0.865, 0.895),
    ("tatoeba", "tatoeba_dev.tsv", load_tatoeba, 0.85, 0.875, 0.85, 0.875),  # .8548 with the short-text floor
]


@pytest.mark.parametrize(
    ("name", "fname", "loader", "f_acc", "f_top1", "f_kacc", "f_ktop1"), LID176_FLOORS
)
def test_lid176_dev_accuracy_floor(
    name: str,
    fname: str,
    loader: Callable[[Path], list[Example]],
    f_acc: float,
    f_top1: float,
    f_kacc: float,
    f_ktop1: float,
) -> None:
    examples = loader(shared_path("multilingual_text", fname))
    s = score(LanguageIdentifier("lid176"), examples)
    print(name, s.summary())
    assert s.accuracy >= f_acc, s.summary()
    assert s.accuracy_top1 >= f_top1, s.summary()
    assert s.accuracy_known >= f_kacc, s.summary()
    assert s.accuracy_top1_known >= f_ktop1, s.summary()


def test_dev_set_sizes(splits: Splits) -> None:
    udhr = load_udhr(shared_path("multilingual_text", "udhr_dev.jsonl"))
    lingua = load_lingua(shared_path("multilingual_text", "lingua_dev.jsonl"))
    tatoeba = load_tatoeba(shared_path("multilingual_text", "tatoeba_dev.tsv"))
    assert len({e.lang for e in udhr}) == 445
    assert len({e.lang for e in lingua}) == 75
    assert len(tatoeba) == 10_000
    # Held-out parts: every language of each set is represented, except two UDHR languages
    # whose held-out article has the same wording as another translation's trained one (the
    # 7 held-out rows whose text was trained on are dropped, see pipeline/langid/splits.py).
    assert len({r.lang for r in splits.heldout["udhr"]}) == 443
    assert len({r.lang for r in splits.heldout["ebible"]}) == 820
    assert len({r.lang for r in splits.heldout["lingua"]}) == 75
    assert len(splits.heldout["udhr"]) + len(splits.train["udhr"]) == len(udhr) - 7
    # Tatoeba / NTREX: their own dev splits, whole (no dev text is also a training text of any
    # source, so none was dropped), with the train split of the same sets trained on.
    assert (len(splits.heldout["tatoeba"]), len(splits.train["tatoeba"])) == (4315, 41137)
    assert (len(splits.heldout["ntrex"]), len(splits.train["ntrex"])) == (3630, 36300)
    assert len({r.lang for r in splits.heldout["ntrex"]}) == 120


def test_udhr_label_script_matches_gold(default_ident: LanguageIdentifier) -> None:
    """When the language is right, the label's script is right too (text or model script)."""
    examples = load_udhr(shared_path("multilingual_text", "udhr_dev.jsonl"))
    res = default_ident.predict_batch([e.text for e in examples])
    pairs = [(e, r) for e, r in zip(examples, res, strict=True) if lang_matches(r.lang, e.lang)]
    ok = sum(
        r.script == e.script or scripts_compatible(r.script, e.script) or scripts_compatible(e.script, r.script)
        for e, r in pairs
    )
    assert ok / len(pairs) >= 0.99
