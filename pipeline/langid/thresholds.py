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
        data = dict(data or {})
        unknown = set(data) - {"default", "overrides"}
        if unknown:
            raise ValueError(f"unknown keys in thresholds config: {sorted(unknown)}")
        default = float(data.get("default", 0.5))  # type: ignore[arg-type]
        raw = data.get("overrides") or {}
        if not isinstance(raw, Mapping):
            raise ValueError("thresholds 'overrides' must be a mapping label -> float")
        overrides = {str(k): float(v) for k, v in raw.items()}
        for k, v in [("default", default), *overrides.items()]:
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"threshold {k}={v} outside [0, 1]")
        return cls(default=default, overrides=overrides)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Thresholds:
        """Load a YAML file; ``None`` = the shipped ``thresholds.yaml``."""
        p = Path(path) if path is not None else DEFAULT_THRESHOLDS_PATH
        with p.open(encoding="utf-8") as f:
            return cls.from_mapping(yaml.safe_load(f))
