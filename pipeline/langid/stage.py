"""Language tagging and the optional keep-only-these-languages filter."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from pipeline.document import Document
from pipeline.langid import LanguageIdentifier
from pipeline.langid.identifier import LangIdError
from pipeline.langid.labels import (
    ISO639_1,
    LID176_INDIVIDUAL,
    MACRO_OF,
    MACROLANGUAGES,
    label_script,
    language_name,
    macrolanguage_of,
    normalize_language,
    parse_label,
)
from pipeline.langid.prepare import DEFAULT_MAX_CHARS

if TYPE_CHECKING:  # the config imports this module to check the model: no import back at run time
    from pipeline.config import LangIdConfig

DROP_REASON = "language-not-selected"
__all__ = ["DROP_REASON", "LangIdError", "LanguageStage", "check_keep_languages", "check_langid",
           "keep_languages_for"]


@lru_cache(maxsize=4)
def _identifier(model: str, thresholds: str | None, max_chars: int = DEFAULT_MAX_CHARS,
                labels: str = "individual") -> LanguageIdentifier:
    """The worker's identifier, cached per process; LangIdError (one line) when it cannot load."""
    _check_max_chars(max_chars)
    return LanguageIdentifier(model=model, thresholds=thresholds, max_chars=max_chars, labels=labels)


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


def _related(lang: str) -> set[str]:
    """A language, its members when it is a macrolanguage, and its macrolanguage when it is a member.

    Why: lid.176 says ``zh`` (``zho``) where our model says ``cmn``; a keep-list naming either
    must keep both, as evaluation scores them (labels.lang_matches).
    """
    out = {lang, *MACROLANGUAGES.get(lang, ())}
    if lang in MACRO_OF:
        out.add(MACRO_OF[lang])
    return out


def _model_outputs(identifier: LanguageIdentifier) -> dict[str, frozenset[str] | None]:
    """Every language the identifier can label a document with -> its scripts (None: any script)."""
    outputs: dict[str, set[str] | None] = {"und": None, "zxx": {"Zxxx"}}

    def add(lang: str, scripts: tuple[str, ...]) -> None:
        have = outputs.get(lang, set())
        outputs[lang] = None if have is None or not scripts else have | {label_script(s) for s in scripts}

    for raw in identifier.labels:
        lang, scripts = parse_label(raw)
        add(lang, scripts)
        for script, individual in LID176_INDIVIDUAL.get(raw, {}).items():  # lid.176 `zh` -> cmn_Hani
            add(individual, (script,))
        if identifier.label_view == "macrolanguage":
            add(macrolanguage_of(lang), scripts)
    return {k: (None if v is None else frozenset(v)) for k, v in outputs.items()}


def _can_output(entry: str, outputs: dict[str, frozenset[str] | None]) -> bool:
    lang, _, script = entry.partition("_")
    for candidate in _related(lang):
        if candidate in outputs:
            scripts = outputs[candidate]
            if not script or scripts is None or script in scripts:
                return True
    return False


def _shown(code: str) -> str:
    name = language_name(code.partition("_")[0])
    return f"{code} ({name})" if name else code


def _close_matches(entry: str, outputs: dict[str, frozenset[str] | None]) -> list[str]:
    """Up to 5 codes or labels the model has, nearest to `entry` by code or English name."""
    query = entry.strip().lower().replace("-", "_")
    choices: dict[str, str] = {}  # lower-case spelling -> code to suggest
    for lang, scripts in outputs.items():
        choices.setdefault(lang, lang)
        for script in scripts or ():
            choices.setdefault(f"{lang}_{script}".lower(), f"{lang}_{script}")
    for code1, (code3, name) in ISO639_1.items():
        if _can_output(code3, outputs):
            choices.setdefault(name.lower(), code3)
            choices.setdefault(code1, code3)
    if query in choices:  # `english` -> eng, exactly
        return [choices[query]]
    lang = query.partition("_")[0]
    code = normalize_language(lang)
    found = [c for c in choices.values() if "_" in c and c.partition("_")[0] == code]  # `fra_Cyrl` -> fra_Latn
    spellings = list(choices)
    found += [choices[m] for m in difflib.get_close_matches(query, spellings, n=5, cutoff=0.7)]
    if lang != query:  # `english_Latn`: the language part alone
        found += [choices[m] for m in difflib.get_close_matches(lang, spellings, n=5, cutoff=0.7)]
    if len(query) >= 3:  # `portug` -> Portuguese
        found += [code for spelled, code in choices.items() if spelled.startswith(query)]
    return list(dict.fromkeys(found))[:5]


def _keep_error(entry: str, code: str | None, outputs: dict[str, frozenset[str] | None], model: str) -> str:
    """One line: what is wrong with a keep-list entry, and the nearest things the model has."""
    near = _close_matches(entry, outputs)
    hint = f"; did you mean: {', '.join(_shown(c) for c in near)}?" if near else ""
    lang = (code or "").partition("_")[0]
    if code is None or (lang not in _known(outputs) and not language_name(lang)):
        problem = f"unknown language {entry!r} in langid.keep_languages"
    elif lang in _known(outputs):
        problem = f"language {entry!r} in langid.keep_languages: model {model} never labels {lang} as {code}"
    else:
        problem = (f"language {entry!r} ({lang}, {language_name(lang)}) in langid.keep_languages: model {model}"
                   " never outputs it, so nothing would be kept for it")
    return f"{problem}{hint} (use ISO 639-3 'fra', ISO 639-1 'fr' or a label 'fra_Latn')"


def check_keep_languages(identifier: LanguageIdentifier, keep: Iterable[str]) -> tuple[str, ...]:
    """The keep-list as ISO 639-3 codes or ``xxx_Scrp`` labels, each one the model can output.

    Why: a name (``english``) or a code spelled another way than the model's labels used to
    match nothing, and the run silently dropped every document. Accepts ISO 639-3 (``fra``),
    ISO 639-1 (``fr``), ``xxx_Scrp`` (``fra_Latn``) and macrolanguages (``zho`` keeps ``cmn``);
    raises LangIdError (one line, with close matches) on anything else.
    """
    outputs = _model_outputs(identifier)
    normalized: list[str] = []
    for entry in keep:
        code = normalize_language(str(entry))
        if code is None or not _can_output(code, outputs):
            raise LangIdError(_keep_error(str(entry), code, outputs, identifier.model_name))
        normalized.append(code)
    return tuple(dict.fromkeys(normalized))


def keep_languages_for(cfg: LangIdConfig) -> tuple[str, ...]:
    """A config's keep-list checked against the model it names, loaded as a worker would (config time)."""
    return check_keep_languages(_identifier(cfg.model, cfg.thresholds, cfg.max_chars, cfg.labels), cfg.keep_languages)


def _known(outputs: dict[str, frozenset[str] | None]) -> set[str]:
    """Languages the model can output, with their macrolanguages and members."""
    return {related for lang in outputs for related in _related(lang)}


class LanguageStage:
    def __init__(self, identifier: LanguageIdentifier, keep: tuple[str, ...] = ()) -> None:
        self.identifier = identifier
        codes = [normalize_language(k) or k for k in keep]
        self.keep = frozenset(codes)
        # What a label must match: a language (any script) or a (language, script) pair, each widened
        # to macrolanguage and members (a config was checked against the model; this is the matching).
        self._any_script = frozenset(r for c in codes if "_" not in c for r in _related(c))
        self._with_script = frozenset((r, c.partition("_")[2]) for c in codes if "_" in c
                                      for r in _related(c.partition("_")[0]))

    @classmethod
    def for_config(cls, cfg: LangIdConfig) -> LanguageStage:
        return cls(_identifier(cfg.model, cfg.thresholds, cfg.max_chars, cfg.labels), cfg.keep_languages)

    def run(self, doc: Document) -> Document:
        res = self.identifier.predict(doc.text or "")
        doc.lang, doc.script, doc.lang_score = res.lang, res.script, res.score
        doc.macrolanguage = res.macrolanguage
        doc.lang_topk = list(res.topk)
        if self.keep and not self.keeps(res.lang, res.script):
            return doc.drop(DROP_REASON, lang=res.label, score=res.score)
        return doc

    def keeps(self, lang: str, script: str) -> bool:
        """True when a document labelled ``lang_script`` passes the keep-list (always, when it is empty)."""
        if not self.keep:
            return True
        return lang in self._any_script or (lang, script) in self._with_script
