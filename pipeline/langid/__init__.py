"""Language identification stage: fastText LID with full-label parsing, script detection,
per-label thresholds and ``und``/``zxx`` handling. See docs/langid.md."""

from __future__ import annotations

from .identifier import LangIdError, LangResult, LanguageIdentifier
from .labels import is_macrolanguage, lang_matches, macrolanguage_of, parse_label
from .model import ModelNotFoundError
from .prepare import prepare_text
from .script import detect_script
from .thresholds import Thresholds

__all__ = [
    "LangIdError",
    "LangResult",
    "LanguageIdentifier",
    "ModelNotFoundError",
    "Thresholds",
    "detect_script",
    "is_macrolanguage",
    "lang_matches",
    "macrolanguage_of",
    "parse_label",
    "prepare_text",
]
