"""Label parsing and the lid.176 table (no model needed except for the coverage test)."""

from __future__ import annotations

import pytest

from pipeline.langid.labels import (
    LID176,
    MACROLANGUAGES,
    is_macrolanguage,
    lang_matches,
    parse_label,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # The whole label is parsed (a buggy pipeline kept the last two characters: "tn").
        ("__label__eng_Latn", ("eng", ("Latn",))),
        ("__label__srp_Cyrl", ("srp", ("Cyrl",))),
        ("__label__cmn_Hani", ("cmn", ("Hani",))),
        ("__label__zxx_Zxxx", ("zxx", ("Zxxx",))),
        ("__label__und_Latn", ("und", ("Latn",))),
        ("eng_Latn", ("eng", ("Latn",))),
        ("__label__en", ("eng", ("Latn",))),
        ("__label__zh", ("zho", ("Hans", "Hant"))),
        ("__label__sr", ("srp", ("Cyrl", "Latn"))),
        ("__label__sh", ("hbs", ("Latn", "Cyrl"))),
        ("__label__no", ("nor", ("Latn",))),
        ("__label__ms", ("msa", ("Latn", "Arab"))),
        ("__label__als", ("gsw", ("Latn",))),
        ("__label__xyz", ("xyz", ())),
    ],
)
def test_parse_label(raw: str, expected: tuple[str, tuple[str, ...]]) -> None:
    assert parse_label(raw) == expected


def test_lid176_table_complete_and_consistent() -> None:
    assert len(LID176) == 176
    for code, e in LID176.items():
        assert len(e.iso639_3) == 3 and e.iso639_3.islower(), code
        assert e.scripts and all(len(s) == 4 and s[0].isupper() for s in e.scripts), code
        assert e.scope in {"I", "M", "C"}, code
        if e.scope == "M":
            assert e.iso639_3 in MACROLANGUAGES, code
    for code in ("zh", "ar", "fa", "ms", "no", "sh", "sw", "et", "lv", "mn", "sq", "uz"):
        assert LID176[code].scope == "M" and is_macrolanguage(LID176[code].iso639_3)
    # Distinct lid.176 codes map to distinct ISO 639-3 codes.
    assert len({e.iso639_3 for e in LID176.values()}) == 176


def test_lid176_model_labels_all_in_table() -> None:
    from pipeline.langid import LanguageIdentifier

    ident = LanguageIdentifier("lid176")
    assert len(ident.labels) == 176
    assert set(ident.labels) == set(LID176)


@pytest.mark.parametrize(
    ("pred", "gold", "ok"),
    [
        ("zho", "cmn", True),
        ("cmn", "zho", True),
        ("ara", "arb", True),
        ("fas", "pes", True),
        ("swa", "swh", True),
        ("est", "ekk", True),
        ("nor", "nob", True),
        ("hbs", "hrv", True),
        ("hrv", "srp", False),
        ("ind", "msa", False),
        ("eng", "eng", True),
        ("eng", "deu", False),
    ],
)
def test_lang_matches(pred: str, gold: str, ok: bool) -> None:
    assert lang_matches(pred, gold) is ok


class _StubModel:
    """Stands in for a loaded fastText model: returns fixed (prob, label) pairs."""

    def __init__(self, pairs: list[tuple[float, str]]) -> None:
        self.pairs = pairs

    def predict_pairs(self, text: str, k: int) -> list[tuple[float, str]]:
        return self.pairs[:k]


def _with_pairs(pairs: list[tuple[float, str]]):  # type: ignore[no-untyped-def]
    from pipeline.langid import LanguageIdentifier, Thresholds

    ident = LanguageIdentifier("lid176", thresholds=Thresholds(default=0.5))
    ident._loaded = _StubModel(pairs)  # type: ignore[assignment]
    return ident


@pytest.mark.parametrize(
    ("pairs", "text", "label", "conflict"),
    [
        # lid.176 codes: script from the text.
        ([(0.9, "__label__sr")], "Vlada je danas usvojila zakon", "srp_Latn", False),
        ([(0.9, "__label__sr")], "Влада је данас усвојила закон", "srp_Cyrl", False),
        ([(0.9, "__label__zh")], "这是一个测试", "zho_Hans", False),
        ([(0.9, "__label__zh")], "這是一個測試", "zho_Hant", False),
        ([(0.9, "__label__zh")], "中文", "zho_Hans", False),  # undecided Han -> default
        ([(0.9, "__label__ja")], "東京", "jpn_Jpan", False),
        ([(0.9, "__label__sh")], "Влада је данас", "hbs_Cyrl", False),
        # Model script vs text script conflicts are flagged, the model's script is kept.
        ([(0.9, "__label__en")], "Привет мир", "eng_Latn", True),
        ([(0.9, "__label__srp_Cyrl")], "Vlada je danas", "srp_Cyrl", True),
        ([(0.9, "__label__cmn_Hani")], "这是一个测试", "cmn_Hani", False),
        # Non-language labels are accepted as they are.
        ([(0.9, "__label__zxx_Zxxx")], "lorem ipsum", "zxx_Zxxx", False),
        # Under threshold -> und with the text's script, no conflict flag.
        ([(0.2, "__label__en"), (0.1, "__label__de")], "Привет мир", "und_Cyrl", False),
    ],
)
def test_label_script_resolution(
    pairs: list[tuple[float, str]], text: str, label: str, conflict: bool
) -> None:
    r = _with_pairs(pairs).predict(text)
    assert (r.label, r.script_conflict) == (label, conflict)
    assert r.topk[0][1] == pairs[0][0]
