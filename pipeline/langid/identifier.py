"""The language identifier used by the pipeline, the CLI and the benchmark (one code path)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .combined import CombinedModel, load_combined
from .labels import SPECIAL_LANGS, label_script, lid176_individual, macrolanguage_of, parse_label
from .model import InvalidModelError, LoadedModel, ModelNotFoundError, load_fasttext, resolve_models
from .prepare import DEFAULT_MAX_CHARS, DEFAULT_WINDOWS, prepare_text
from .script import detect_script, scripts_compatible
from .thresholds import Thresholds

__all__ = ["LABEL_VIEWS", "LangIdError", "LangIdModelNotFoundError", "LangResult", "LanguageIdentifier"]

#: Label views: ``individual`` (FineWeb-2 / GlotLID: ``arb_Arab``, ``cmn_Hani``, the default) or
#: ``macrolanguage`` (``ara_Arab``, ``zho_Hani``: members grouped under their ISO macrolanguage).
LABEL_VIEWS = ("individual", "macrolanguage")


class LangIdError(ValueError):
    """A language-ID model or thresholds file that cannot be used.

    One line naming the config key and the file, e.g. ``langid.model: cannot load fastText
    model from /x/y.bin: not a fastText model file``; raised alike at config time and in a worker.
    """


class LangIdModelNotFoundError(LangIdError, ModelNotFoundError):
    """The model is not there at all (also a ModelNotFoundError, as before)."""


def _one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _load_thresholds(thresholds: str | Path | None) -> Thresholds:
    try:
        return Thresholds.load(thresholds)
    except FileNotFoundError as exc:
        raise LangIdError(f"langid.thresholds: cannot load thresholds from {thresholds}: no such file") from exc
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _one_line(exc)
        raise LangIdError(f"langid.thresholds: cannot load thresholds from {thresholds}: {reason}") from exc


@dataclass(frozen=True, slots=True)
class LangResult:
    """Language-ID output for one document.

    ``script_conflict`` is True when the model's label names (or, for lid.176, only allows)
    a script different from the one the text is written in, e.g. ``eng_Latn`` for Cyrillic
    text; the label keeps the model's script then, so filter on this flag if it matters.
    ``macrolanguage`` is the ISO macrolanguage of ``lang`` (``zho`` for ``cmn``), or ``lang``
    itself when it has none, so that users can group FineWeb-2-style individual labels.
    """

    label: str
    lang: str
    script: str
    score: float
    topk: tuple[tuple[str, float], ...]
    script_conflict: bool = False
    macrolanguage: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (CLI / manifests)."""
        return {
            "label": self.label,
            "lang": self.lang,
            "script": self.script,
            "score": self.score,
            "topk": [[lab, s] for lab, s in self.topk],
            "script_conflict": self.script_conflict,
            "macrolanguage": self.macrolanguage,
        }


ZXX_RESULT = LangResult("zxx_Zxxx", "zxx", "Zxxx", 1.0, (("zxx_Zxxx", 1.0),), False, "zxx")


def _pick_script(candidates: tuple[str, ...], text_script: str) -> tuple[str, bool]:
    """Choose the label script from the model's candidates and the text; flag conflicts."""
    if not candidates:
        return text_script, False
    if text_script in candidates:
        return text_script, False
    for s in candidates:
        if scripts_compatible(s, text_script):
            return s, False
    return candidates[0], True


class LanguageIdentifier:
    """fastText language identifier with label normalisation, script detection, thresholds.

    Picklable: only the resolved model path and settings are pickled; the model itself is
    loaded lazily and cached per process (see :mod:`pipeline.langid.model`).
    """

    def __init__(
        self,
        model: str | Path = "default",
        thresholds: str | Path | Thresholds | None = None,
        k: int = 3,
        max_chars: int = DEFAULT_MAX_CHARS,
        windows: int = DEFAULT_WINDOWS,
        labels: str = "individual",
    ) -> None:
        if labels not in LABEL_VIEWS:
            raise LangIdError(f"langid.labels: expected one of {', '.join(LABEL_VIEWS)}, found {labels!r}")
        self._view = labels
        try:
            self._paths = resolve_models(model)
        except ModelNotFoundError as exc:
            raise LangIdModelNotFoundError(f"langid.model: {_one_line(exc)}") from exc
        self._path = self._paths[0]
        self._name = str(model)
        self._thresholds = (
            thresholds if isinstance(thresholds, Thresholds) else _load_thresholds(thresholds)
        )
        self._k = max(1, int(k))
        self._max_chars = max_chars
        self._windows = max(1, windows)
        self._loaded: LoadedModel | CombinedModel | None = None
        self._loaded_model()  # fail early on a broken model file

    # -- pickling: drop the native model, reload from the path in the other process --------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_loaded"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _loaded_model(self) -> LoadedModel | CombinedModel:
        """The native model; LangIdError (one line, naming the file) however the file is broken.

        Also runs in a worker after unpickling, so a file replaced since the driver checked it
        fails the same way there.
        """
        if self._loaded is None:
            try:
                if len(self._paths) == 2:
                    self._loaded = load_combined(self._paths[0], self._paths[1])
                else:
                    self._loaded = load_fasttext(self._path)
            except FileNotFoundError as exc:
                raise LangIdModelNotFoundError(f"langid.model: cannot load fastText model from "
                                               f"{exc.filename or self._path}: no such file") from exc
            except InvalidModelError as exc:
                raise LangIdError(f"langid.model: {_one_line(exc)}") from exc
            except (OSError, ValueError, MemoryError) as exc:
                raise LangIdError(f"langid.model: cannot load fastText model from {self._path}: "
                                  f"{_one_line(exc)}") from exc
        return self._loaded

    @property
    def model_sha256(self) -> str:
        """sha256 of the model file, or over both files of a combination (pins the model)."""
        return self._loaded_model().sha256

    @property
    def model_name(self) -> str:
        """The spec given (``default``, ``lid176``, a path or hub id) plus the resolved file(s).

        A combination names both files: ``default:consentcrawl-lid.ftz+lid.176.ftz``.
        """
        if self._name == "default":
            return "default:" + "+".join(p.name for p in self._paths)
        return self._name

    @property
    def model_path(self) -> Path:
        """Resolved model file (our model's file for a combination)."""
        return self._path

    @property
    def model_paths(self) -> tuple[Path, ...]:
        """All model files used: (ours, lid.176) for a combination, else one."""
        return self._paths

    @property
    def labels(self) -> list[str]:
        """The model's raw labels without ``__label__`` (``en`` for lid.176, ``eng_Latn``...)."""
        return list(self._loaded_model().labels)

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds in use."""
        return self._thresholds

    @property
    def label_view(self) -> str:
        """``individual`` (FineWeb-2 codes, default) or ``macrolanguage``."""
        return self._view

    @property
    def k(self) -> int:
        """Number of (label, score) pairs in ``topk``."""
        return self._k

    def prepare(self, text: str) -> str:
        """The exact text the model sees (cleaned, sampled)."""
        return prepare_text(text, self._max_chars, self._windows)

    def predict(self, text: str) -> LangResult:
        """Identify one document; never raises on odd input (returns ``und``/``zxx``)."""
        return self.predict_batch([text])[0]

    def predict_batch(self, texts: Sequence[str]) -> list[LangResult]:
        """Identify many documents (same results as :meth:`predict` on each).

        fastText is called once per document: the multi-line API of ``fasttext-predict``
        returns labels without probabilities. A combination gets the text's script too.
        """
        prepared = [self.prepare(t) for t in texts]
        scripts = [detect_script(p) for p in prepared]
        todo = [i for i, s in enumerate(scripts) if s != "Zxxx"]
        results: list[LangResult] = [ZXX_RESULT] * len(prepared)
        if not todo:
            return results
        loaded = self._loaded_model()
        with_script = getattr(loaded, "predict_pairs_script", None)
        for i in todo:
            try:
                if with_script is not None:  # a combination routes on the text's script
                    pairs = with_script(prepared[i], self._k, scripts[i])
                else:
                    pairs = loaded.predict_pairs(prepared[i], self._k)
            except (ValueError, TypeError, RuntimeError, UnicodeError):
                pairs = []  # defensive: prepared text should never make fastText raise
            results[i] = self._result(pairs, scripts[i], len(prepared[i]))
        return results

    def _label(self, raw: str, text_script: str) -> tuple[str, str, bool]:
        """(lang, label script, script conflict) of one raw model label in this view.

        lid.176's macrolanguage labels become the individual language of the text's script
        (``zh`` -> ``cmn``, ``ar`` -> ``arb``) where one is defined (labels.LID176_INDIVIDUAL).
        """
        lang, candidates = parse_label(raw)
        script, conflict = _pick_script(candidates, text_script)
        if lang in SPECIAL_LANGS:
            conflict = False
        else:  # only lid.176 labels (``zh``) are in the table; ``xxx_Scrp`` labels pass through
            lang = lid176_individual(raw, script) or lang
        if self._view == "macrolanguage":
            lang = macrolanguage_of(lang)
        return lang, label_script(script), conflict

    def _result(self, pairs: Sequence[tuple[float, str]], text_script: str, length: int = 0) -> LangResult:
        """Labels, scores, thresholds; ``length`` = characters the model saw (short-text thresholds)."""
        topk: list[tuple[str, float]] = []
        top_lang, top_script, top_conflict = "und", label_script(text_script), False
        for rank, (prob, raw) in enumerate(pairs):
            lang, script, conflict = self._label(raw, text_script)
            topk.append((f"{lang}_{script}", round(min(1.0, max(0.0, float(prob))), 4)))
            if rank == 0:
                top_lang, top_script, top_conflict = lang, script, conflict
        score = topk[0][1] if topk else 0.0
        if not topk or score < self._thresholds.for_label(top_lang, top_script, length):
            und = label_script(text_script)
            return LangResult(f"und_{und}", "und", und, score, tuple(topk), False, "und")
        return LangResult(
            f"{top_lang}_{top_script}", top_lang, top_script, score, tuple(topk), top_conflict,
            macrolanguage_of(top_lang),
        )
