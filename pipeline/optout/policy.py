"""Opt-out policies are data (YAML): which agents, which scope, which signals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCOPES = ("url", "host")
MISSING_HOST = ("keep", "drop")
SERVER_ERROR = ("disallow", "allow")
SIGNAL_NAMES = ("noai", "tdmrep", "content-signal", "aipref", "ai-txt")
SEARCH_DIRECTIVES = ("record", "drop")
POLICY_KEYS = {"name", "agents", "scope", "missing_host", "server_error", "signals", "search_directives",
               "signals_lenient", "description", "extends"}


class PolicyError(ValueError):
    pass


def bundled_configs() -> Path:
    """The design's top-level configs/ folder: in a clone, or installed as `pipeline.configs`."""
    repo = Path(__file__).resolve().parents[2] / "configs"
    if (repo / "policies").is_dir():
        return repo
    import pipeline.configs as cfg  # a wheel maps configs/ to this package (see pyproject.toml)

    return Path(next(iter(cfg.__path__)))


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    agents: tuple[str, ...]
    scope: str = "url"
    missing_host: str = "keep"
    server_error: str = "disallow"
    signals: tuple[str, ...] = ()
    search_directives: str = "record"  # noindex/nofollow: search directives, not AI opt-outs
    # Read signals also as their owners plainly meant where the spec reads nothing (docs/signals.md,
    # "Lenient reading"): it can only add opt-outs, and each finding says which reading applied.
    signals_lenient: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "agents": list(self.agents),
            "scope": self.scope,
            "missing_host": self.missing_host,
            "server_error": self.server_error,
            "signals": list(self.signals),
            "search_directives": self.search_directives,
            # Only when set: manifests of policies without it stay byte for byte as they were.
            **({"signals_lenient": True} if self.signals_lenient else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Policy:
        unknown = sorted(set(data) - POLICY_KEYS)
        if unknown:
            raise PolicyError(f"{where}: unknown policy key(s): {', '.join(unknown)}")
        agents = data.get("agents")
        if not isinstance(agents, list) or not agents or not all(isinstance(a, str) for a in agents):
            raise PolicyError(f"{where}: 'agents' must be a non-empty list of user-agent tokens")
        for key, allowed in (("scope", SCOPES), ("missing_host", MISSING_HOST), ("server_error", SERVER_ERROR),
                             ("search_directives", SEARCH_DIRECTIVES)):
            if key in data and data[key] not in allowed:
                raise PolicyError(f"{where}: '{key}' must be one of {', '.join(allowed)}")
        if not isinstance(data.get("signals_lenient", False), bool):
            raise PolicyError(f"{where}: 'signals_lenient' must be true or false")
        signals = data.get("signals") or []
        if not isinstance(signals, list):
            raise PolicyError(f"{where}: 'signals' must be a list")
        unknown_signals = [s for s in signals if s not in SIGNAL_NAMES]
        if unknown_signals:
            raise PolicyError(f"{where}: unknown signal(s) {', '.join(map(str, unknown_signals))}; "
                              f"known: {', '.join(SIGNAL_NAMES)}")
        return cls(
            name=str(data.get("name") or Path(where).stem),
            agents=tuple(agents),
            scope=data.get("scope", "url"),
            missing_host=data.get("missing_host", "keep"),
            server_error=data.get("server_error", "disallow"),
            signals=tuple(str(s) for s in signals),
            search_directives=data.get("search_directives", "record"),
            signals_lenient=data.get("signals_lenient", False),
        )


def load_policy(name_or_path: str, base: Path | None = None) -> Policy:
    """A policy by bundled name (`apertus`) or by YAML path (relative to `base`)."""
    p = Path(name_or_path)
    # One path rule: a relative path named in a config resolves against the config's folder only.
    candidates = [base / p if base is not None and not p.is_absolute() else p,
                  bundled_configs() / "policies" / f"{name_or_path}.yaml"]
    for c in candidates:
        if c.is_file():
            try:
                data = yaml.safe_load(c.read_text("utf-8"))
            except yaml.YAMLError as exc:
                raise PolicyError(f"{c}: not valid YAML: {exc}") from exc
            if not isinstance(data, dict):
                raise PolicyError(f"{c}: a policy must be a YAML mapping")
            return policy_from_mapping(data, str(c), c.parent)
    raise PolicyError(f"policy not found: {name_or_path}")


def policy_from_mapping(data: dict[str, Any], where: str, base: Path | None) -> Policy:
    """A policy written out (in its own file or inline in a run config); `extends` starts from another."""
    if "extends" in data:  # a policy may start from another and override some keys
        if not isinstance(data["extends"], str):
            raise PolicyError(f"{where}: 'extends' must name a policy (a bundled name or a YAML path)")
        base_policy = load_policy(data["extends"], base).to_dict()
        data = {**base_policy, **{k: v for k, v in data.items() if k != "extends"}}
    return Policy.from_dict(data, where)
