"""The default language identifier: lid.176 gated with our long-tail model.

Why a combination: lid.176 (176 labels, trained on Wikipedia / Tatoeba / SETimes) is strong on
web text in big languages but folds the long tail into a wrong big language; our model
(``consentcrawl-lid``, ~1,150 languages, trained on Bible verses, UDHR paragraphs and some
Lingua / Tatoeba sentences) knows the long tail but is weaker on web register. Trusting the
model with more labels loses accuracy on big languages, so the decision is gated:

0. When the gate says ``ours_sure`` <= 1 (issue 18: the speed target on long-tail text), our
   model runs first, and its answer stands when it is at least ``ours_sure`` sure, fits the
   text's script and is not in ``ask_lid``; lid.176 runs only for the rest. Why this order: on
   long-tail text lid.176's answer is useless and ours is sure, and on web text in big languages
   ours (now trained on everyday, news and web sentences too) is as often right when sure.
   Texts of at most ``ours_first_chars`` characters keep the lid.176-first order (cheaper there).
1. lid.176 runs (first, in the older order). If its top-1 probability is at least ``lid_sure``, its language is
   written in the text's script and is not one of the ``absorbing`` languages, its answer
   stands and our model is not run (most web text in big languages stops here, which keeps
   the cost close to lid.176 alone). ``absorbing`` lists the lid.176 languages that, on our
   *training* rows, confidently swallow other languages (``ori`` for every Odia-script
   language, ``amh`` for every Ethiopic one, ``fin`` / ``aze`` for Papuan and Vanuatu
   languages...): for those lid.176's confidence proves nothing and our model is always asked.
2. Otherwise our model runs. A label whose script cannot be the text's script is not trusted
   (e.g. lid.176 ``en`` for Cherokee text, or our ``eng_Latn`` for Greek text).
3. Both agree on the language (macro-aware, ``zho`` ~ ``cmn``): the finer of the two labels
   (our ``prs_Arab`` for lid.176's ``fa``, else lid.176's), with the larger of the two
   probabilities (agreement is evidence).
4. They disagree and our language is one lid.176 does not know (the long tail): ours wins when
   its probability is at least ``tail_min``.
5. They disagree on a language lid.176 knows (``bos`` vs ``hrv``, ``yor`` vs ``eng``): ours wins
   when it is at least ``known_min`` sure and lid.176 is below ``known_lid_max``, or, for the
   languages in ``prefer_ours`` (near-twins our model separates better: ``nob`` vs ``dan``,
   ``fao`` vs ``isl``...), when it is at least ``twin_min`` sure.

lid.176 macrolanguage labels whose members it cannot tell apart (``REFINE``: ``fa`` is Iranian
Persian or Dari, ``sh`` any of hrv/srp/bos/cnr...) never stop at step 1: our model names the member.

The gate values are tuned by ``scripts/train_lid.py`` for one trained model and stored in the
model's JSON side file (``consentcrawl-lid.json``), next to its sha256.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .labels import LID176, MACRO_OF, lang_matches, parse_label
from .model import LoadedModel, load_fasttext
from .script import detect_script, scripts_compatible

LID176_LANGS: frozenset[str] = frozenset(e.iso639_3 for e in LID176.values())


@dataclass(frozen=True)
class Gate:
    """Confidence gates of the combination (see the module docstring)."""

    lid_sure: float = 0.9
    tail_min: float = 0.5
    known_min: float = 0.9
    known_lid_max: float = 0.5
    twin_min: float = 1.01
    ours_sure: float = 1.01
    ours_first_chars: float = 0.0
    absorbing: frozenset[str] = frozenset()
    prefer_ours: frozenset[str] = frozenset()
    ask_lid: frozenset[str] = frozenset()

    @property
    def ours_first(self) -> bool:
        """Our model runs first (``ours_sure`` <= 1): lid.176 runs only when ours is not sure."""
        return self.ours_sure <= 1.0

    def ours_first_for(self, length: int) -> bool:
        """Whether our model runs first on a text of ``length`` characters: only above
        ``ours_first_chars``. Why: on short texts the fixed cost of our ~1,200-label softmax is
        ~1.8x lid.176's, so there lid.176 (sure on most big-language sentences) goes first."""
        return self.ours_first and length > self.ours_first_chars

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> Gate:
        """Build from the ``gate`` mapping of the model JSON (unknown keys rejected)."""
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown gate keys: {sorted(unknown)}")
        sets = {k: frozenset(str(x) for x in data.pop(k, ())) for k in ("absorbing", "prefer_ours", "ask_lid")}
        return cls(**{k: float(v) for k, v in data.items()}, **sets)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the language sets as sorted lists)."""
        d: dict[str, Any] = asdict(self)
        d["absorbing"] = sorted(self.absorbing)
        d["prefer_ours"] = sorted(self.prefer_ours)
        d["ask_lid"] = sorted(self.ask_lid)
        return d


#: lid.176 macrolanguages whose member it cannot tell (see the module docstring): ours always runs.
REFINE: frozenset[str] = frozenset({"fas", "hbs", "kur", "que", "srd"})


def _script_ok(scripts: tuple[str, ...], text_script: str) -> bool:
    """Whether a label with these candidate scripts can describe text in ``text_script``."""
    if not scripts or text_script in ("", "Zxxx"):
        return True
    return any(scripts_compatible(s, text_script) for s in scripts)


@lru_cache(maxsize=4096)
def knows_lid176(lang: str) -> bool:
    """Whether lid.176 has a label for ``lang`` (macro-aware: ``cmn`` -> ``zho``); cached: it is
    asked once per document whose answer our model decides, and scans lid.176's 176 languages."""
    return lang in LID176_LANGS or any(lang_matches(lang, k) for k in LID176_LANGS)


def decide(
    lid: Sequence[tuple[float, str]],
    ours: Sequence[tuple[float, str]] | None,
    text_script: str,
    gate: Gate,
    length: int = 10**9,
) -> tuple[str, list[tuple[float, str]]]:
    """Pick the answer from both models' (prob, raw label) pairs: ``("lid"|"ours", pairs)``.

    ``ours`` is ``None`` when our model was not run (step 1). Pure function, shared by the
    predictor and by the gate tuning in ``scripts/train_lid.py``.
    """
    if ours and gate.ours_first_for(length) and ours_is_sure(ours, text_script, gate):
        return ("ours", list(ours))
    if not lid:
        return ("ours", list(ours or []))
    p, l_raw = lid[0]
    l_lang, l_scripts = parse_label(l_raw)
    lid_ok = _script_ok(l_scripts, text_script)
    if (lid_ok and p >= gate.lid_sure and l_lang not in gate.absorbing and l_lang not in REFINE) or not ours:
        return ("lid", list(lid))
    q, o_raw = ours[0]
    o_lang, o_scripts = parse_label(o_raw)
    if not _script_ok(o_scripts, text_script):
        return ("lid", list(lid))
    if not lid_ok:
        return ("ours", list(ours))
    if lang_matches(o_lang, l_lang):
        finer = o_raw if MACRO_OF.get(o_lang) == l_lang else l_raw  # ``prs_Arab`` for ``fa``
        return ("lid", [(max(p, q), finer), *lid[1:]])
    if not knows_lid176(o_lang):
        return ("ours", list(ours)) if q >= gate.tail_min else ("lid", list(lid))
    if q >= gate.known_min and p < gate.known_lid_max:
        return ("ours", list(ours))
    if o_lang in gate.prefer_ours and q >= gate.twin_min:
        return ("ours", list(ours))
    return ("lid", list(lid))


def ours_is_sure(ours: Sequence[tuple[float, str]], text_script: str, gate: Gate) -> bool:
    """Step 0 when our model runs first: its answer stands (lid.176 need not run) when it is at
    least ``ours_sure`` sure, fits the text's script and is not one of the ``ask_lid`` languages
    (those whose confident answers lid.176 still corrects, e.g. ``glg`` for Spanish)."""
    if not gate.ours_first or not ours or ours[0][0] < gate.ours_sure:
        return False
    lang, scripts = parse_label(ours[0][1])
    return lang not in gate.ask_lid and _script_ok(scripts, text_script)


def lid_is_sure(lid: Sequence[tuple[float, str]], text_script: str, gate: Gate) -> bool:
    """Step 1: lid.176 alone decides (our model need not run); same test as in :func:`decide`."""
    if not lid or lid[0][0] < gate.lid_sure:
        return False
    lang, scripts = parse_label(lid[0][1])
    return lang not in gate.absorbing and lang not in REFINE and _script_ok(scripts, text_script)


def combined_sha256(paths: Sequence[Path]) -> str:
    """sha256 over the files' bytes, concatenated in order (``cat a b | sha256sum``)."""
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as f:
            for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def load_gate(model_path: Path) -> Gate:
    """Gate stored in the JSON side file of a model (``x.ftz`` -> ``x.json``); defaults else."""
    side = model_path.with_suffix(".json")
    if side.is_file():
        try:
            with side.open(encoding="utf-8") as f:
                meta = json.load(f)
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
            return Gate.from_mapping(meta.get("gate"))
        except (OSError, ValueError, TypeError, RecursionError) as exc:  # a broken side file: say which file
            from .model import InvalidModelError

            raise InvalidModelError(f"cannot load the gate settings of {model_path.name} from {side}: "
                                    f"{str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}") from exc
    return Gate()


@dataclass
class CombinedModel:
    """Duck-types :class:`~pipeline.langid.model.LoadedModel` for the identifier."""

    ours: LoadedModel
    lid: LoadedModel
    gate: Gate
    _sha256: str | None = None

    @property
    def path(self) -> Path:
        """Our model's file (the primary one)."""
        return self.ours.path

    @property
    def paths(self) -> tuple[Path, Path]:
        """Both files, in the order hashed by :attr:`sha256`."""
        return (self.ours.path, self.lid.path)

    @property
    def labels(self) -> list[str]:
        """lid.176's labels, then ours (the union of what the combination can output)."""
        return [*self.lid.labels, *self.ours.labels]

    @property
    def sha256(self) -> str:
        """sha256 over both model files (ours first, then lid.176)."""
        if self._sha256 is None:
            self._sha256 = combined_sha256(self.paths)
        return self._sha256

    def predict_pairs(self, text: str, k: int) -> list[tuple[float, str]]:
        """Same contract as ``LoadedModel.predict_pairs``; detects the script itself."""
        return self.predict_pairs_script(text, k, detect_script(text))

    def predict_pairs_script(self, text: str, k: int, text_script: str) -> list[tuple[float, str]]:
        """(prob, raw label) pairs of the winning model; ``text_script`` from the identifier.

        Same answer as :func:`decide` on both models' pairs; the order only saves the second call.
        """
        length = len(text)
        if self.gate.ours_first_for(length):
            ours = self.ours.predict_pairs(text, k)
            if ours_is_sure(ours, text_script, self.gate):
                return ours
            return decide(self.lid.predict_pairs(text, k), ours, text_script, self.gate, length)[1][:k]
        lid = self.lid.predict_pairs(text, k)
        if lid_is_sure(lid, text_script, self.gate):
            return lid
        return decide(lid, self.ours.predict_pairs(text, k), text_script, self.gate, length)[1][:k]


_CACHE: dict[tuple[Path, Path], CombinedModel] = {}
_LOCK = threading.Lock()


def load_combined(ours_path: Path, lid_path: Path) -> CombinedModel:
    """Load (once per process) the combination of our model file and lid.176."""
    key = (ours_path, lid_path)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = CombinedModel(load_fasttext(ours_path), load_fasttext(lid_path),
                                   load_gate(ours_path))
            _CACHE[key] = cached
        return cached
