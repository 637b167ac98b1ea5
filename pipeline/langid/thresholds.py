"""Per-label confidence thresholds loaded from YAML (default + overrides)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_THRESHOLDS_PATH = Path(__file__).with_name("thresholds.yaml")


@dataclass(frozen=True)
class Thresholds:
    """Threshold lookup: full label first (``srp_Cyrl``), then bare language (``srp``)."""

    default: float = 0.5
    overrides: Mapping[str, float] = field(default_factory=dict)

    def for_label(self, lang: str, script: str) -> float:
        """Minimum top-1 probability to accept ``lang_script``."""
        o = self.overrides
        value = o.get(f"{lang}_{script}")
        if value is None:
            value = o.get(lang, self.default)
        return value

    @classmethod
    def from_mapping(cls, data: Mapping[str, object] | None) -> Thresholds:
        """Validate a parsed YAML mapping; why strict: a typo must not silently keep everything."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a mapping with 'default' and/or 'overrides', found {_kind(data)}")
        unknown = set(data) - {"default", "overrides"}
        if unknown:
            raise ValueError(f"unknown keys in thresholds config: {sorted(map(str, unknown))}")
        default = _probability("default", data.get("default", 0.5))
        raw = data.get("overrides") or {}
        if not isinstance(raw, Mapping):
            raise ValueError(f"'overrides' must be a mapping label -> probability, found {_kind(raw)}")
        overrides = {str(k): _probability(f"overrides.{k}", v) for k, v in raw.items()}
        return cls(default=default, overrides=overrides)

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
