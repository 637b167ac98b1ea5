"""Deterministic train / held-out splits of the shared LID data, and training labels.

Why a module of its own: ``scripts/train_lid.py`` (training), the model tests and the accuracy
floors must agree on exactly which rows the shipped model never saw, or the reported figures
would silently include training rows.

Splits (all by hashes, so they do not depend on file order or on the machine):

* eBible: the data set's own ``train`` split for training, its ``dev`` split held out.
* UDHR (``udhr_dev.jsonl``, articles 1, 2, 4): for every translation (``udhr_key``) one of its
  three articles, picked by a hash of the key, is held out; the other two are trained on. So
  every translation is both learnt and tested, never on the same text.
* Lingua (``lingua_dev.jsonl``): half of each language's sentences held out (hash of the
  language and upstream line number).
* Tatoeba 10 languages (``multilingual_text/tatoeba_dev.tsv``, set ``tatoeba10``): half held
  out (hash of the sentence id).
* Tatoeba 154 languages (``lid_train/tatoeba/``, set ``tatoeba``) and NTREX-128 news
  (``lid_train/ntrex128/``, set ``ntrex``): the data sets' own ``train`` split for training,
  their ``dev`` split held out (both splits are by hash upstream: of the sentence for Tatoeba, of
  the news article for NTREX, so no article spans two splits). Their third split (held-out) is
  not in ``../shared`` and is never read here.

A held-out row whose exact text is also a training row (two UDHR translations of a language
sharing an article's wording, e.g. German 1901 and 1996 orthography) is dropped from the
held-out set: the model has seen that text.

Training labels are ``<ISO 639-3>_<ISO 15924>`` with one code per language across sources:
Lingua's macrolanguage codes are mapped to the individual code the other sources use
(``zho`` -> ``cmn``, ``ara`` -> ``arb``, ``msa`` -> ``zsm``...), Han scripts are one ``Hani``
and Korean is ``Hang``, as in FineWeb-2 / GlotLID. ``Row.gold`` is the individual code the
"exact code" accuracy compares with; ``Row.lang`` stays the code as published.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Lingua macrolanguage code -> the individual language the UDHR / eBible rows use.
LINGUA_TO_INDIVIDUAL: dict[str, str] = {
    "ara": "arb",
    "aze": "azj",
    "est": "ekk",
    "fas": "pes",
    "lav": "lvs",
    "mon": "khk",
    "msa": "zsm",
    "sqi": "als",
    "swa": "swh",
    "zho": "cmn",
}

# Script codes merged in training labels.
_LABEL_SCRIPT = {"Hans": "Hani", "Hant": "Hani", "Kore": "Hang"}

UDHR_ARTICLES = (1, 2, 4)
LINGUA_HELDOUT_PERCENT = 50
TATOEBA_HELDOUT_PERCENT = 50


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled text: ``label`` is the training label, ``lang`` the gold code as published."""

    text: str
    label: str
    lang: str
    source: str
    license: str = ""

    @property
    def gold(self) -> str:
        """The individual-language code of the label (``zsm`` for Lingua's ``msa``): exact scoring."""
        return self.label.partition("_")[0]


def train_label(lang: str, script: str) -> str:
    """Training label ``lang_Script`` (one code and one Han/Hangul script per language)."""
    lang = LINGUA_TO_INDIVIDUAL.get(lang, lang)
    return f"{lang}_{_LABEL_SCRIPT.get(script, script)}"


def _bucket(key: str, mod: int = 100) -> int:
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % mod


def udhr_heldout_article(udhr_key: str) -> int:
    """The article of a UDHR translation kept out of training."""
    return UDHR_ARTICLES[_bucket(f"udhr:{udhr_key}", len(UDHR_ARTICLES))]


def lingua_is_heldout(iso639_1: str, line: int) -> bool:
    """Whether a Lingua sentence (language, upstream line) is held out."""
    return _bucket(f"lingua:{iso639_1}:{line}") < LINGUA_HELDOUT_PERCENT


def tatoeba_is_heldout(sentence_id: str) -> bool:
    """Whether a Tatoeba sentence is held out."""
    return _bucket(f"tatoeba:{sentence_id}") < TATOEBA_HELDOUT_PERCENT


def _majority_scripts(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Per language, its most frequent script (Lingua/Tatoeba scripts are derived per row)."""
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for lang, script in pairs:
        per[lang][script] += 1
    return {lang: c.most_common(1)[0][0] for lang, c in per.items()}


def iter_ebible(path: Path) -> Iterator[Row]:
    """eBible rows (gzipped JSONL)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            yield Row(r["text"], train_label(r["iso639_3"], r["script"]), r["iso639_3"], "ebible",
                      r.get("license", ""))


def iter_lid_jsonl(path: Path, source: str) -> Iterator[Row]:
    """Rows of a ``lid_train`` JSONL.gz set (``tatoeba/``, ``ntrex128/``: same fields as eBible)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            yield Row(r["text"], train_label(r["iso639_3"], r["script"]), r["iso639_3"], source,
                      r.get("license", ""))


def udhr_split(path: Path) -> tuple[list[Row], list[Row]]:
    """(train, held-out) UDHR rows."""
    train: list[Row] = []
    held: list[Row] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            row = Row(r["text"], train_label(r["iso639_3"], r["iso15924"]), r["iso639_3"], "udhr")
            (held if r["article"] == udhr_heldout_article(r["udhr_key"]) else train).append(row)
    return train, held


def lingua_split(path: Path) -> tuple[list[Row], list[Row]]:
    """(train, held-out) Lingua rows; gold ``lang`` stays the published (macro) code."""
    rows = [json.loads(x) for x in path.open(encoding="utf-8")]
    scripts = _majority_scripts([(r["iso639_3"], r["script_detected"]) for r in rows])
    train: list[Row] = []
    held: list[Row] = []
    for r in rows:
        row = Row(r["text"], train_label(r["iso639_3"], scripts[r["iso639_3"]]), r["iso639_3"],
                  "lingua")
        (held if lingua_is_heldout(r["iso639_1"], int(r["line"])) else train).append(row)
    return train, held


def tatoeba_split(path: Path) -> tuple[list[Row], list[Row]]:
    """(train, held-out) Tatoeba rows."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        rows = list(reader)
    scripts = _majority_scripts([(r["iso639_3"], r["script_detected"]) for r in rows])
    train: list[Row] = []
    held: list[Row] = []
    for r in rows:
        row = Row(r["text"], train_label(r["iso639_3"], scripts[r["iso639_3"]]), r["iso639_3"],
                  "tatoeba")
        (held if tatoeba_is_heldout(r["sentence_id"]) else train).append(row)
    return train, held


@dataclass
class Splits:
    """All training rows and the held-out sets, by source name."""

    train: dict[str, list[Row]]
    heldout: dict[str, list[Row]]


def load_splits(shared_data: Path) -> Splits:
    """Load every source under ``shared_data`` (``lid_train/``, ``multilingual_text/``)."""
    lt = shared_data / "lid_train"
    mt = shared_data / "multilingual_text"
    u_tr, u_ho = udhr_split(mt / "udhr_dev.jsonl")
    l_tr, l_ho = lingua_split(mt / "lingua_dev.jsonl")
    t_tr, t_ho = tatoeba_split(mt / "tatoeba_dev.tsv")
    train = {
        "ebible": list(iter_ebible(lt / "ebible_train.jsonl.gz")),
        "udhr": u_tr,
        "lingua": l_tr,
        "tatoeba10": t_tr,
        "tatoeba": list(iter_lid_jsonl(lt / "tatoeba" / "tatoeba_train.jsonl.gz", "tatoeba")),
        "ntrex": list(iter_lid_jsonl(lt / "ntrex128" / "ntrex128_train.jsonl.gz", "ntrex")),
    }
    seen = {r.text for rows in train.values() for r in rows}
    heldout = {
        "ebible": list(iter_ebible(lt / "ebible_dev.jsonl.gz")),
        "udhr": u_ho,
        "lingua": l_ho,
        "tatoeba": list(iter_lid_jsonl(lt / "tatoeba" / "tatoeba_dev.jsonl.gz", "tatoeba")),
        "ntrex": list(iter_lid_jsonl(lt / "ntrex128" / "ntrex128_dev.jsonl.gz", "ntrex")),
        "tatoeba10": t_ho,
    }
    return Splits(train=train, heldout={k: [r for r in v if r.text not in seen] for k, v in heldout.items()})
