"""Per-label confidence thresholds loaded from YAML (default + overrides + short-text floors)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .labels import macrolanguage_of

DEFAULT_THRESHOLDS_PATH = Path(__file__).with_name("thresholds.yaml")


@dataclass(frozen=True)
class Thresholds:
    """Threshold lookup: full label first (``srp_Cyrl``), then bare language (``srp``), then its
    macrolanguage (``zho`` covers ``cmn``); raised to the short-text floor of the text's length.

    ``by_length`` maps a maximum length in characters (of the text the model saw) to a floor:
    ``{20: 0.9, 50: 0.7}`` means a 12-character text needs 0.9 whatever its label. Why: a
    confident-looking probability on a few characters is wrong far more often than on a sentence.
    """

    default: float = 0.5
    overrides: Mapping[str, float] = field(default_factory=dict)
    by_length: Mapping[int, float] = field(default_factory=dict)

    def for_label(self, lang: str, script: str, length: int = 0) -> float:
        """Minimum top-1 probability to accept ``lang_script`` on a text of ``length`` characters
        (0: unknown, no floor)."""
        o = self.overrides
        value = o.get(f"{lang}_{script}")
        if value is None:
            value = o.get(lang)
        if value is None:
            value = o.get(macrolanguage_of(lang), self.default)
        if length > 0 and self.by_length:
            for limit in sorted(self.by_length):
                if length <= limit:
                    return max(value, self.by_length[limit]) if value > 0.0 else value
        return value

    @classmethod
    def from_mapping(cls, data: Mapping[str, object] | None) -> Thresholds:
        """Validate a parsed YAML mapping; why strict: a typo must not silently keep everything."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a mapping with 'default' and/or 'overrides', found {_kind(data)}")
        unknown = set(data) - {"default", "overrides", "by_length"}
        if unknown:
            raise ValueError(f"unknown keys in thresholds config: {sorted(map(str, unknown))}")
        default = _probability("default", data.get("default", 0.5))
        raw = data.get("overrides") or {}
        if not isinstance(raw, Mapping):
            raise ValueError(f"'overrides' must be a mapping label -> probability, found {_kind(raw)}")
        overrides = {str(k): _probability(f"overrides.{k}", v) for k, v in raw.items()}
        raw_len = data.get("by_length") or {}
        if not isinstance(raw_len, Mapping):
            raise ValueError(f"'by_length' must be a mapping max characters -> probability, found {_kind(raw_len)}")
        by_length: dict[int, float] = {}
        for k, v in raw_len.items():
            if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
                raise ValueError(f"by_length key {k!r}: expected a whole number of characters > 0"[:200])
            by_length[k] = _probability(f"by_length.{k}", v)
        return cls(default=default, overrides=overrides, by_length=by_length)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Thresholds:
        """Load a YAML file; ``None`` = the shipped ``thresholds.yaml``.

        Raises ValueError (or OSError) with a one-line reason, never a multi-line YAML dump.
        """
        p = Path(path) if path is not None else DEFAULT_THRESHOLDS_PATH
        if p.is_dir():
            raise ValueError("a folder, not a YAML file")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text (byte {exc.start})") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ValueError(f"not valid YAML ({problem}{where})") from exc
        if data is None:
            raise ValueError("empty file (expected 'default:' and/or 'overrides:')")
        return cls.from_mapping(data)


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}.get(type(value), repr(value))


def _probability(key: str, value: object) -> float:
    """A threshold must be a real number in [0, 1]: 'yes', .nan or 2 would each keep or drop everything."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"threshold {key}: expected a number in [0, 1], found {value!r}"[:200])
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"threshold {key}={v} outside [0, 1]")
    return v
