"""The shipped consentcrawl-lid model, its card, and the default combination with lid.176.

Why: the model file is binary package data trained outside CI (``scripts/train_lid.py``); these
tests pin it to its card (sha256, label count) and check that the default identifier is the
gated combination, that the long tail gets tagged and that the gate logic does what the docs say.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SHARED

from pipeline.langid import LanguageIdentifier
from pipeline.langid.combined import Gate, decide, knows_lid176
from pipeline.langid.model import lid176_path, read_fasttext_labels, shipped_model_path

MODELS = ROOT / "pipeline" / "langid" / "models"
MODEL = MODELS / "consentcrawl-lid.ftz"
META = json.loads((MODELS / "consentcrawl-lid.json").read_text(encoding="utf-8"))
CARD = (MODELS / "MODEL_CARD.md").read_text(encoding="utf-8")
LABEL_RE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


def _sha(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def test_shipped_model_matches_its_card() -> None:
    assert shipped_model_path() == MODEL
    sha = _sha(MODEL)
    assert META["sha256"] == sha
    assert sha in CARD
    labels = read_fasttext_labels(MODEL)
    assert META["labels"] == len(labels)
    assert f"{len(labels)} labels" in CARD
    assert META["bytes"] == MODEL.stat().st_size
    assert MODEL.stat().st_size <= 10 * 1024 * 1024


def test_labels_are_iso639_3_plus_script() -> None:
    labels = [x.removeprefix("__label__") for x in read_fasttext_labels(MODEL)]
    assert all(LABEL_RE.match(x) for x in labels), [x for x in labels if not LABEL_RE.match(x)][:5]
    assert len({x[:3] for x in labels}) >= 1000
    # FineWeb-2 / GlotLID label space: individual languages, Han as one script, Korean Hang.
    for lab in ("eng_Latn", "cmn_Hani", "jpn_Jpan", "kor_Hang", "rus_Cyrl", "tpi_Latn", "quz_Latn", "chr_Cher",
                "arb_Arab", "pes_Arab", "prs_Arab", "ekk_Latn", "lvs_Latn", "khk_Cyrl", "azj_Latn", "als_Latn",
                "nob_Latn", "uzn_Latn", "npi_Deva", "kmr_Latn", "ydd_Hebr", "fao_Latn", "fil_Latn", "nso_Latn"):
        assert lab in labels, lab
    assert len({x[:3] for x in labels}) >= 1200
    assert not {x[:3] for x in labels} & {"ara", "zho", "fas", "est", "lav", "mon", "aze", "sqi", "nor", "uzb",
                                          "nep", "kur", "yid", "msa", "swa"}


def test_default_is_the_combination() -> None:
    ident = LanguageIdentifier("default")
    assert ident.model_name == "default:consentcrawl-lid.ftz+lid.176.ftz"
    assert ident.model_paths == (MODEL, lid176_path())
    assert ident.model_sha256 == _sha(MODEL, lid176_path())
    assert len(ident.labels) == 176 + META["labels"]
    # The other specs stay single models.
    lid = LanguageIdentifier("lid176")
    assert lid.model_name == "lid176" and lid.model_sha256 == _sha(lid176_path())
    ours = LanguageIdentifier("consentcrawl")
    assert ours.model_sha256 == META["sha256"] and len(ours.labels) == META["labels"]
    assert LanguageIdentifier(str(MODEL)).model_sha256 == META["sha256"]
    combo = LanguageIdentifier(f"combined:{MODEL}")
    assert combo.model_sha256 == ident.model_sha256


def test_gate_comes_from_the_json() -> None:
    from pipeline.langid.combined import load_gate

    assert load_gate(MODEL) == Gate.from_mapping(META["gate"])
    with pytest.raises(ValueError, match="unknown gate keys"):
        Gate.from_mapping({"nope": 1})


@pytest.fixture(scope="module")
def long_tail() -> list[tuple[str, str]]:
    """(lang, text) of held-out Bible verses and UDHR paragraphs in languages lid.176 lacks."""
    if not (SHARED / "lid_train").exists():
        pytest.skip("../shared/data not present")
    from pipeline.langid.splits import load_splits

    splits = load_splits(SHARED)
    rows = [r for name in ("ebible", "udhr") for r in splits.heldout[name] if not knows_lid176(r.lang)]
    return [(r.lang, r.text) for r in rows[::25]]


def test_long_tail_tagged_not_folded(long_tail: list[tuple[str, str]]) -> None:
    """lid.176 cannot name these languages; the default names most of them."""
    assert len(long_tail) >= 300
    texts = [t for _, t in long_tail]
    combined = LanguageIdentifier("default").predict_batch(texts)
    lid = LanguageIdentifier("lid176").predict_batch(texts)
    right = sum(r.lang == lang for (lang, _), r in zip(long_tail, combined, strict=True))
    assert right / len(long_tail) >= 0.85, right / len(long_tail)
    assert not any(r.lang == lang for (lang, _), r in zip(long_tail, lid, strict=True))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("The committee will publish its final report on the project next week.", "eng_Latn"),
        ("Le gouvernement a annoncé de nouvelles mesures pour les écoles.", "fra_Latn"),
        ("Die Regierung plant neue Investitionen in Schulen und Krankenhäuser.", "deu_Latn"),
        ("这是一个关于中国经济发展的新闻报道，政府发布了新的政策。", "cmn_Hani"),
        ("أعلنت الحكومة اليوم عن خطة جديدة لتطوير التعليم في جميع أنحاء البلاد.", "arb_Arab"),
        ("Valitsus kiitis täna heaks uue hariduse ja teaduse seaduse eelnõu.", "ekk_Latn"),
        ("日本政府は新しい経済政策を発表しました。", "jpn_Jpan"),
        ("Влада Србије је данас усвојила нови закон о образовању и науци.", "srp_Cyrl"),
    ],
)
def test_big_languages_keep_lid176_labels(text: str, label: str) -> None:
    assert LanguageIdentifier("default").predict(text).label == label


def test_batch_equals_single_and_pickle(long_tail: list[tuple[str, str]]) -> None:
    ident = LanguageIdentifier("default")
    texts = [*(t for _, t in long_tail[:20]), "Bonjour tout le monde", "", "12345", "Hola amigos, ¿qué tal?"]
    batch = ident.predict_batch(texts)
    assert batch == [ident.predict(t) for t in texts]
    clone = pickle.loads(pickle.dumps(ident))
    assert clone.predict_batch(texts) == batch
    assert clone.model_sha256 == ident.model_sha256


# -- the gate, on synthetic (probability, label) pairs -------------------------------------
G = Gate(lid_sure=0.9, tail_min=0.5, known_min=0.9, known_lid_max=0.5)


@pytest.mark.parametrize(
    ("lid", "ours", "script", "winner", "top"),
    [
        # lid.176 sure (and its language fits the script): it decides, ours is not needed.
        ([(0.95, "__label__en")], None, "Latn", "lid", (0.95, "__label__en")),
        ([(0.95, "__label__en")], [(0.99, "__label__tpi_Latn")], "Latn", "lid", (0.95, "__label__en")),
        # Long tail: ours wins when confident enough.
        ([(0.6, "__label__en")], [(0.8, "__label__tpi_Latn")], "Latn", "ours", (0.8, "__label__tpi_Latn")),
        ([(0.6, "__label__en")], [(0.4, "__label__tpi_Latn")], "Latn", "lid", (0.6, "__label__en")),
        # Agreement (macro-aware): the finer label (ours when it names a member) with the larger probability.
        ([(0.6, "__label__zh")], [(0.97, "__label__cmn_Hani")], "Hans", "lid", (0.97, "__label__cmn_Hani")),
        ([(0.6, "__label__zh")], [(0.97, "__label__zho_Hani")], "Hans", "lid", (0.97, "__label__zh")),
        # A lid.176 macrolanguage it cannot split (fa: Iranian Persian or Dari) never short-cuts.
        ([(0.99, "__label__fa")], [(0.9, "__label__prs_Arab")], "Arab", "lid", (0.99, "__label__prs_Arab")),
        ([(0.99, "__label__fa")], None, "Arab", "lid", (0.99, "__label__fa")),
        # Disagreement on a language lid.176 knows: ours needs known_min and a weak lid.176.
        ([(0.45, "__label__hr")], [(0.95, "__label__bos_Latn")], "Latn", "ours", (0.95, "__label__bos_Latn")),
        ([(0.6, "__label__hr")], [(0.95, "__label__bos_Latn")], "Latn", "lid", (0.6, "__label__hr")),
        ([(0.45, "__label__hr")], [(0.85, "__label__bos_Latn")], "Latn", "lid", (0.45, "__label__hr")),
        # Script routing: a label that cannot be in the text's script is not trusted.
        ([(0.99, "__label__en")], [(0.7, "__label__chr_Cher")], "Cher", "ours", (0.7, "__label__chr_Cher")),
        ([(0.5, "__label__el")], [(0.9, "__label__eng_Latn")], "Grek", "lid", (0.5, "__label__el")),
    ],
)
def test_gate_decisions(
    lid: list[tuple[float, str]],
    ours: list[tuple[float, str]] | None,
    script: str,
    winner: str,
    top: tuple[float, str],
) -> None:
    who, pairs = decide(lid, ours, script, G)
    assert (who, pairs[0]) == (winner, top)


def test_near_twin_prefers_ours_only_for_listed_languages() -> None:
    """``prefer_ours`` (tuned per language): ours wins a near-twin disagreement at ``twin_min``."""
    gate = Gate(lid_sure=0.9, tail_min=0.5, known_min=0.9, known_lid_max=0.5, twin_min=0.6,
                prefer_ours=frozenset({"nob"}))
    lid = [(0.8, "__label__da")]  # both languages are lid.176's: step 5, not the long tail
    assert decide(lid, [(0.7, "__label__nob_Latn")], "Latn", gate)[0] == "ours"
    assert decide(lid, [(0.5, "__label__nob_Latn")], "Latn", gate)[0] == "lid"
    assert decide(lid, [(0.7, "__label__swe_Latn")], "Latn", gate)[0] == "lid"
    assert decide(lid, [(0.7, "__label__nob_Latn")], "Latn", G)[0] == "lid"
    assert Gate.from_mapping(gate.to_dict()) == gate


def test_absorbing_language_never_short_cuts() -> None:
    """lid.176's ``or`` is sure for every Odia-script language: its confidence proves nothing."""
    gate = Gate(lid_sure=0.9, tail_min=0.5, known_min=0.9, known_lid_max=0.5, absorbing=frozenset({"ori"}))
    lid = [(0.99, "__label__or")]
    ours = [(0.9, "__label__juy_Orya")]
    assert decide(lid, ours, "Orya", gate) == ("ours", ours)
    assert decide(lid, ours, "Orya", G)[0] == "lid"
    assert Gate.from_mapping(gate.to_dict()) == gate


def test_cli_default_model_tags_long_tail(long_tail: list[tuple[str, str]]) -> None:
    """The CLI goes through the same identifier: same labels as in-process, long tail tagged."""
    texts = [t for _, t in long_tail[:30]] + ["This is a plain English sentence about the weather today."]
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.langid.cli", "--model", "default", "--k", "2"],
        input="\n".join(texts) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=True,
    )
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o["label"] for o in out] == [r.label for r in LanguageIdentifier("default").predict_batch(texts)]
    assert out[-1]["label"] == "eng_Latn"
    right = sum(o["lang"] == lang for o, (lang, _) in zip(out, long_tail, strict=False))
    assert right >= 24, right


@pytest.mark.skipif(not (SHARED / "lid_train").exists(), reason="../shared/data not present")
def test_card_figures_are_held_out() -> None:
    """The card's evaluation counts are those of the held-out splits (no training rows)."""
    from pipeline.langid.splits import load_splits

    splits = load_splits(SHARED)
    held = META["evaluation"]["heldout"]
    for name, rows in splits.heldout.items():
        assert held[name]["rows"] == len(rows)
    train_texts = {r.text for rows in splits.train.values() for r in rows}
    for name in ("udhr", "lingua", "tatoeba"):
        assert not any(r.text in train_texts for r in splits.heldout[name]), name
