"""Run configuration: YAML in, a validated, fully resolved `RunConfig` out.

Validation errors name the key or file so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import glob
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from pipeline.langid.prepare import DEFAULT_MAX_CHARS
from pipeline.optout.policy import Policy, PolicyError, load_policy


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class LangIdConfig:
    model: str = "default"
    thresholds: str | None = None
    keep_languages: tuple[str, ...] = ()  # empty: keep every language
    max_chars: int = DEFAULT_MAX_CHARS  # text the model sees, in 4 windows; 0 = whole text (langid/prepare.py)


@dataclass(frozen=True, slots=True)
class ExtractConfig:
    main_content: bool = True
    min_chars: int = 1
    max_seconds: float = 10.0  # per-record extraction budget (see pipeline/extract.py)


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    max_payload_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RunConfig:
    inputs: tuple[str, ...]
    output: str
    policy: Policy
    robots_snapshot: str | None = None
    robots_as_of: str | None = None
    tdmrep_snapshot: str | None = None  # /.well-known/tdmrep.json per host, same table design
    aitxt_snapshot: str | None = None  # /ai.txt per host (read only by policies enabling ai-txt)
    langid: LangIdConfig = field(default_factory=LangIdConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    workers: int = 2
    base_dir: str = "."
    digest: str = ""  # sha256 of content_dict(), computed once (a crawl's input list is large)

    def display(self, uri: str) -> str:
        """How a file is named in outputs: relative to the config's folder, so clones agree."""
        return display_uri(uri, self.base_dir)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["policy"] = self.policy.to_dict()
        return d

    def content_dict(self) -> dict[str, Any]:
        """What determines the output bytes: not the worker count, not the output folder."""
        d = self.to_dict()
        for key in ("workers", "output", "base_dir", "digest"):
            d.pop(key)
        d["inputs"] = [self.display(u) for u in self.inputs]
        for key in _SNAPSHOT_KEYS:
            if d.get(key):
                d[key] = self.display(d[key])
        return d

    @property
    def sha256(self) -> str:
        return self.digest or self.compute_sha256()

    def compute_sha256(self) -> str:
        blob = json.dumps(self.content_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


_SECTIONS: dict[str, type] = {"langid": LangIdConfig, "extract": ExtractConfig, "limits": LimitsConfig}
_SNAPSHOT_KEYS = ("robots_snapshot", "tdmrep_snapshot", "aitxt_snapshot")
_TOP_KEYS = {"inputs", "output", "policy", "robots_as_of", "workers", *_SNAPSHOT_KEYS, *_SECTIONS}


def _check_type(key: str, value: Any, expected: type | tuple[type, ...]) -> None:
    if isinstance(value, bool) and expected in (int, float):
        raise ConfigError(f"config key '{key}': expected {expected.__name__}, got bool")
    if not isinstance(value, expected):
        names = expected.__name__ if isinstance(expected, type) else "/".join(t.__name__ for t in expected)
        raise ConfigError(f"config key '{key}': expected {names}, got {type(value).__name__}")


def _section(name: str, data: Any) -> Any:
    cls = _SECTIONS[name]
    if data is None:
        return cls()
    _check_type(name, data, dict)
    fields = cls.__dataclass_fields__
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config key '{name}.{unknown[0]}'")
    values: dict[str, Any] = {}
    defaults = cls()
    for key, value in data.items():
        default = getattr(defaults, key)
        if isinstance(default, tuple):
            _check_type(f"{name}.{key}", value, list)
            value = tuple(str(v) for v in value)
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif default is None:
            if value is not None:
                _check_type(f"{name}.{key}", value, str)
        else:
            _check_type(f"{name}.{key}", value, type(default))
        values[key] = value
    return cls(**values)


def display_uri(uri: str, base: str) -> str:
    if "://" in uri:
        return uri
    try:
        return Path(uri).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return Path(uri).resolve().as_posix()


def _resolve_path(value: str, base: Path) -> str:
    if "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def expand_inputs(patterns: list[str], base: Path) -> tuple[str, ...]:
    """Local globs expanded and sorted so shard numbering never depends on directory order."""
    out: list[str] = []
    for pat in patterns:
        if "://" in pat and not pat.startswith("file://"):
            if any(ch in pat for ch in "*?["):
                out.extend(_remote_glob(pat))
            else:
                out.append(pat)
            continue
        local = _resolve_path(pat.removeprefix("file://"), base)
        if any(ch in local for ch in "*?["):
            matches = sorted(glob.glob(local, recursive=True))
            if not matches:
                raise ConfigError(f"input pattern matches no file: {pat}")
            out.extend(matches)
        else:
            if not Path(local).is_file():
                raise ConfigError(f"input file not found: {pat}")
            out.append(local)
    seen: dict[str, None] = dict.fromkeys(out)
    from pipeline.ingest import UnsupportedInput, input_format

    for uri in seen:
        try:
            input_format(uri)
        except UnsupportedInput as exc:
            raise ConfigError(str(exc)) from exc
    return tuple(seen)


def _remote_glob(pattern: str) -> list[str]:
    """s3://bucket/crawl/*.warc.gz and the like, listed through fsspec and sorted."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(pattern)
        matches = sorted(fs.glob(path))
    except Exception as exc:
        raise ConfigError(f"cannot list input pattern {pattern}: {exc}") from exc
    if not matches:
        raise ConfigError(f"input pattern matches no file: {pattern}")
    return [fs.unstrip_protocol(m) for m in matches]


def config_from_dict(data: Any, base: Path, where: str = "config") -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a config must be a YAML mapping")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown config key '{unknown[0]}' in {where}")
    for key in ("inputs", "output"):
        if key not in data:
            raise ConfigError(f"missing config key '{key}' in {where}")
    inputs = data["inputs"]
    if isinstance(inputs, str):
        inputs = [inputs]
    _check_type("inputs", inputs, list)
    if not inputs or not all(isinstance(i, str) for i in inputs):
        raise ConfigError("config key 'inputs': expected a non-empty list of paths or URLs")
    _check_type("output", data["output"], str)
    policy_ref = data.get("policy", "apertus")
    try:
        if isinstance(policy_ref, dict):
            policy = Policy.from_dict(policy_ref, f"{where}: policy")
        else:
            _check_type("policy", policy_ref, str)
            policy = load_policy(policy_ref, base)
    except PolicyError as exc:
        raise ConfigError(str(exc)) from exc
    snapshots: dict[str, str | None] = {}
    for key in _SNAPSHOT_KEYS:
        value = data.get(key)
        if value is not None:
            _check_type(key, value, str)
            value = _resolve_path(value, base)
            if not Path(value).is_file():
                raise ConfigError(f"{key.split('_')[0]} snapshot file not found: {data[key]}")
        snapshots[key] = value
    as_of = data.get("robots_as_of")
    if as_of is not None:
        as_of = str(as_of)
        from pipeline.optout.snapshot import as_of_bound

        try:
            as_of_bound(as_of)
        except ValueError as exc:
            raise ConfigError(f"config key 'robots_as_of': not a date ({as_of!r}): use YYYY-MM-DD") from exc
    workers = data.get("workers", 2)
    _check_type("workers", workers, int)
    if workers < 1:
        raise ConfigError("config key 'workers': must be at least 1")
    langid = _section("langid", data.get("langid"))
    if langid.max_chars < 0:
        raise ConfigError("config key 'langid.max_chars': must be 0 (whole text) or more")
    config = RunConfig(
        inputs=expand_inputs(inputs, base),
        output=_resolve_path(data["output"], Path.cwd()),
        policy=policy,
        robots_snapshot=snapshots["robots_snapshot"],
        tdmrep_snapshot=snapshots["tdmrep_snapshot"],
        aitxt_snapshot=snapshots["aitxt_snapshot"],
        robots_as_of=as_of,
        langid=langid,
        extract=_section("extract", data.get("extract")),
        limits=_section("limits", data.get("limits")),
        workers=workers,
        base_dir=str(base.resolve()),
    )
    return replace(config, digest=config.compute_sha256())


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(p.read_text("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict) and overrides:
        data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    return config_from_dict(data, p.resolve().parent, str(path))
