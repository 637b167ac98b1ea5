"""Run configuration: YAML in, a validated, fully resolved `RunConfig` out.

Validation errors name the key or file so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from pipeline.ingest.mapping import InputMapping, MappingError, mapping_from_config
from pipeline.langid.prepare import DEFAULT_MAX_CHARS
from pipeline.optout.policy import Policy, PolicyError, load_policy, policy_from_mapping


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class LangIdConfig:
    model: str = "default"
    thresholds: str | None = None
    keep_languages: tuple[str, ...] = ()  # empty: keep every language
    max_chars: int = DEFAULT_MAX_CHARS  # text the model sees, in 4 windows; 0 = whole text (langid/prepare.py)
    labels: str = "individual"  # label view: individual (FineWeb-2 codes) | macrolanguage (langid/identifier.py)


@dataclass(frozen=True, slots=True)
class ExtractConfig:
    """Deterministic per-page budgets decide; the time cap is only a safety net (pipeline/extract.py)."""

    main_content: bool = True
    min_chars: int = 1
    max_elements: int = 500_000  # elements in the parsed tree; over it: html-too-many-elements
    max_element_levels: int = 32_000_000  # elements x depth; over it: html-too-deep
    max_text_chars: int = 8 * 1024 * 1024  # extracted characters; over it: text-too-long
    max_seconds: float = 60.0  # last-resort CPU cap: extraction-timeout, manifest reproducible: false


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
    tabular: InputMapping = field(default_factory=InputMapping)  # fields of Parquet/JSONL/Arrow rows (docs/inputs.md)
    workers: int = 2
    retries: int = 2  # a shard that raised (a dropped connection, ...) is submitted again this often
    robots_rules_cache_mib: int = 200  # compiled robots.txt rules kept per worker (LRU); 0: none
    # Index-first run (docs/index-first.md): a CcIndexConfig; `inputs` is then () until planning.
    cc_index: Any = None
    base_dir: str = "."
    # sha256 of every file whose bytes decide outcomes (snapshots, language model, thresholds),
    # computed once by the driver at plan time: part of the config digest, checked by workers.
    file_digests: tuple[tuple[str, str], ...] = ()
    digest: str = ""  # sha256 of content_dict(), computed once (a crawl's input list is large)
    settings_digest: str = ""  # sha256 of settings_dict(), likewise

    def file_sha256(self, key: str) -> str | None:
        return dict(self.file_digests).get(key)

    def display(self, uri: str) -> str:
        """How a file is named in outputs: relative to the config's folder, so clones agree."""
        return display_uri(uri, self.base_dir)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["policy"] = self.policy.to_dict()
        return d

    def settings_dict(self) -> dict[str, Any]:
        """The config as written (paths, not file contents): what --resume must find unchanged."""
        d = self.to_dict()
        for key in ("workers", "retries", "robots_rules_cache_mib", "output", "base_dir", "digest", "settings_digest",
                    "file_digests"):
            d.pop(key)
        d["inputs"] = [self.display(u) for u in self.inputs]
        for key in _SNAPSHOT_KEYS:
            if d.get(key):
                d[key] = self.display(d[key])
        if d["langid"].get("thresholds"):
            d["langid"]["thresholds"] = self.display(d["langid"]["thresholds"])
        if d.get("cc_index"):
            d["cc_index"]["files"] = [self.display(u) for u in d["cc_index"]["files"]]
            d["cc_index"]["warc_prefix"] = self.display(d["cc_index"]["warc_prefix"])
        else:
            d.pop("cc_index", None)  # full-file configs keep the digests they had
        return d

    def content_dict(self) -> dict[str, Any]:
        """What determines the output bytes: the settings and the bytes of every file they name."""
        d = self.settings_dict()
        d["file_sha256"] = dict(sorted(self.file_digests))
        return d

    @property
    def sha256(self) -> str:
        return self.digest or self.compute_sha256()

    def compute_sha256(self) -> str:
        return _digest(self.content_dict())

    def settings_sha256(self) -> str:
        return self.settings_digest or _digest(self.settings_dict())


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


_SECTIONS: dict[str, type] = {"langid": LangIdConfig, "extract": ExtractConfig, "limits": LimitsConfig}
_SNAPSHOT_KEYS = ("robots_snapshot", "tdmrep_snapshot", "aitxt_snapshot")
_TOP_KEYS = {"inputs", "output", "policy", "robots_as_of", "workers", "retries", "input_prefix",
             "robots_rules_cache_mib", "tabular", "cc_index", *_SNAPSHOT_KEYS, *_SECTIONS}


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
    """The name outputs use: relative to the config's folder when under it, else absolute.

    String operations only (no symlink resolution per call): a crawl has ~100,000 inputs and
    every name is shown several times. Names are the config's own, so two links to one file
    are two names (and refused as duplicates at config time).
    """
    if "://" in uri:
        return uri
    path = os.path.normpath(uri if os.path.isabs(uri) else os.path.join(os.getcwd(), uri))
    root = _resolved(base)
    if path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1:]
    return path


@lru_cache(maxsize=64)
def _resolved(base: str) -> str:
    return str(Path(base).resolve())


def _resolve_path(value: str, base: Path) -> str:
    from pipeline.ingest.listing import resolve_path

    return resolve_path(value, base)


def expand_inputs(patterns: list[str], base: Path, prefix: str | None = None) -> tuple[str, ...]:
    """Local globs expanded and sorted so shard numbering never depends on directory order.

    A Common Crawl listing (`warc.paths.gz`, `wet.paths.gz`) stands for its entries, in its
    order, joined to `prefix` (`input_prefix`, Common Crawl's HTTPS data prefix by default).
    """
    from pipeline.ingest.listing import DEFAULT_INPUT_PREFIX, ListingError, expand_listing, glob_sorted, is_listing

    out: list[str] = []
    for pat in patterns:
        if is_listing(pat):
            remote = "://" in pat and not pat.startswith("file://")
            where = pat if remote else _resolve_path(pat.removeprefix("file://"), base)
            try:
                out.extend(expand_listing(where, prefix or DEFAULT_INPUT_PREFIX))
            except ListingError as exc:
                raise ConfigError(str(exc)) from exc
            continue
        if "://" in pat and not pat.startswith("file://"):
            if any(ch in pat for ch in "*?["):
                out.extend(_remote_glob(pat))
            else:
                out.append(pat)
            continue
        local = _resolve_path(pat.removeprefix("file://"), base)
        if any(ch in local for ch in "*?["):
            matches = glob_sorted(local)
            if not matches:
                raise ConfigError(f"input pattern matches no file: {pat}")
            out.extend(matches)
        else:
            if not Path(local).is_file() and not Path(local).is_dir():
                raise ConfigError(f"input file not found: {pat}")
            out.append(local)
    from pipeline.ingest import UnsupportedInput, input_format, saved_dataset_files

    try:  # a datasets save_to_disk folder stands for its Arrow files (docs/inputs.md)
        out = [f for uri in out for f in (saved_dataset_files(uri) if os.path.isdir(uri) else [uri])]
    except UnsupportedInput as exc:
        raise ConfigError(str(exc)) from exc
    for uri in out:
        try:
            input_format(uri)
        except UnsupportedInput as exc:
            raise ConfigError(str(exc)) from exc
    _refuse_duplicates(out)
    _check_remote_exist([u for u in out if "://" in u])
    return tuple(out)


def _refuse_duplicates(inputs: list[str]) -> None:
    """Two names for one file (overlapping globs, symlinks, hard links) would count it twice."""

    seen: dict[object, str] = {}
    for uri in inputs:
        if "://" in uri:
            key: object = uri
        else:
            try:
                st = os.stat(uri)
            except OSError as exc:
                raise ConfigError(f"input {uri} is not readable: {exc.strerror}") from None
            if not Path(uri).is_file():
                raise ConfigError(f"input {uri} is not a file")
            key = (st.st_dev, st.st_ino)
        if key in seen:
            raise ConfigError(f"input {uri} is the same file as input {seen[key]}: each input may appear once")
        seen[key] = uri


#: Remote inputs checked for existence at config time (a crawl lists ~100,000: the rest fail
#: as shards, each with its own reason, if missing).
REMOTE_CHECK_LIMIT = 256


def _check_remote_exist(uris: list[str]) -> None:
    if not uris:
        return
    from concurrent.futures import ThreadPoolExecutor

    import fsspec

    def missing(uri: str) -> str | None:
        try:
            fs, path = fsspec.core.url_to_fs(uri)
            fs.info(path)  # HEAD for http(s): nothing of the body is fetched
            return None
        except FileNotFoundError:
            return "not found"
        except Exception as exc:
            return (str(exc).splitlines() or [type(exc).__name__])[0][:200]

    with ThreadPoolExecutor(16) as pool:
        checked = uris[:REMOTE_CHECK_LIMIT]
        for uri, problem in zip(checked, pool.map(missing, checked), strict=True):
            if problem:
                raise ConfigError(f"input {uri} is not readable: {problem}")


def _remote_glob(pattern: str) -> list[str]:
    """s3://bucket/crawl/*.warc.gz and the like, listed through fsspec and sorted."""
    from pipeline.ingest.listing import glob_sorted

    try:
        matches = glob_sorted(pattern)
    except Exception as exc:
        raise ConfigError(f"cannot list input pattern {pattern}: {exc}") from exc
    if not matches:
        raise ConfigError(f"input pattern matches no file: {pattern}")
    return matches


#: The explicit value that turns robots.txt filtering off (never the default: a consent tool
#: must not drop nothing by accident).
NO_ROBOTS_SNAPSHOT = "none"
NO_ROBOTS_FILTERING = "no robots.txt filtering was applied (robots_snapshot: none)"
HOW_TO_GET_A_SNAPSHOT = (
    "build one from the crawl's own robots.txt records (`consentcrawl robots build`), fetch the inputs' hosts "
    "(`consentcrawl robots fetch --from-input`), or try the bundled sample "
    "(pipeline/sample/robots-snapshot.parquet); `robots_snapshot: none` turns robots.txt filtering off"
)


def _require_robots_snapshot(data: dict[str, Any], where: str) -> None:
    """No snapshot is an explicit choice (`none`), never what a forgotten key silently means."""
    value = data.get("robots_snapshot")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(f"missing config key 'robots_snapshot' in {where}: {HOW_TO_GET_A_SNAPSHOT}")
    if isinstance(value, str) and value.strip().lower() == NO_ROBOTS_SNAPSHOT and value != NO_ROBOTS_SNAPSHOT:
        raise ConfigError(f"config key 'robots_snapshot': write `{NO_ROBOTS_SNAPSHOT}` (lower case) to turn "
                          f"robots.txt filtering off, not {value!r}")


def config_from_dict(data: Any, base: Path, where: str = "config") -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a config must be a YAML mapping")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown config key '{unknown[0]}' in {where}")
    cc_index = _cc_index(data, base, where)
    for key in ("output",) if cc_index is not None else ("inputs", "output"):
        if key not in data:
            raise ConfigError(f"missing config key '{key}' in {where}")
    inputs = data["inputs"] if cc_index is None else ["(cc_index)"]
    if isinstance(inputs, str):
        inputs = [inputs]
    _check_type("inputs", inputs, list)
    if not inputs or not all(isinstance(i, str) for i in inputs):
        raise ConfigError("config key 'inputs': expected a non-empty list of paths or URLs")
    _check_type("output", data["output"], str)
    policy_ref = data.get("policy", "apertus")
    try:
        if isinstance(policy_ref, dict):
            policy = policy_from_mapping(policy_ref, f"{where}: policy", base)
        else:
            _check_type("policy", policy_ref, str)
            policy = load_policy(policy_ref, base)
    except PolicyError as exc:
        raise ConfigError(str(exc)) from exc
    _require_robots_snapshot(data, where)
    snapshots: dict[str, str | None] = {}
    for key in _SNAPSHOT_KEYS:
        value = data.get(key)
        if key == "robots_snapshot" and value == NO_ROBOTS_SNAPSHOT:
            value = None
        if value is not None:
            _check_type(key, value, str)
            value = _resolve_path(value, base)
            if "://" not in value and not Path(value).is_file():
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
    retries = data.get("retries", 2)
    _check_type("retries", retries, int)
    if retries < 0:
        raise ConfigError("config key 'retries': must be 0 or more")
    rules_mib = data.get("robots_rules_cache_mib", 200)
    _check_type("robots_rules_cache_mib", rules_mib, int)
    if rules_mib < 0:
        raise ConfigError("config key 'robots_rules_cache_mib': must be 0 or more")
    langid = _section("langid", data.get("langid"))
    langid = replace(langid, model=_resolve_model(langid.model, base),
                     thresholds=_resolve_path(langid.thresholds, base) if langid.thresholds else None)
    extract = _section("extract", data.get("extract"))
    limits = _section("limits", data.get("limits"))
    _check_bounds(langid, extract, limits)
    if langid.keep_languages:
        langid = replace(langid, keep_languages=_check_keep_languages(langid))
    try:
        tabular = mapping_from_config(data.get("tabular"))
    except MappingError as exc:
        raise ConfigError(str(exc)) from None
    output = _resolve_path(data["output"], base)  # one rule: a config's paths are relative to its folder
    from pipeline.ingest.listing import DEFAULT_INPUT_PREFIX

    input_prefix = data.get("input_prefix", DEFAULT_INPUT_PREFIX)
    _check_type("input_prefix", input_prefix, str)
    if "://" not in input_prefix:
        input_prefix = _resolve_path(input_prefix, base)  # a local mirror folder, relative to the config
    inputs_resolved = expand_inputs(inputs, base, input_prefix) if cc_index is None else ()
    _check_tabular(inputs_resolved, tabular, str(base.resolve()))
    config = RunConfig(
        inputs=inputs_resolved,
        output=output,
        policy=policy,
        robots_snapshot=snapshots["robots_snapshot"],
        tdmrep_snapshot=snapshots["tdmrep_snapshot"],
        aitxt_snapshot=snapshots["aitxt_snapshot"],
        robots_as_of=as_of,
        langid=langid,
        extract=extract,
        limits=limits,
        tabular=tabular,
        workers=workers,
        retries=retries,
        robots_rules_cache_mib=rules_mib,
        cc_index=cc_index,
        base_dir=str(base.resolve()),
    )
    check_output_folder(config)
    config = replace(config, file_digests=_file_digests(config))
    return replace(config, digest=config.compute_sha256(), settings_digest=config.settings_sha256())


def _cc_index(data: dict[str, Any], base: Path, where: str) -> Any:
    """The `cc_index:` section (index-first run, docs/index-first.md), or None; never mixed with `inputs`."""
    if "cc_index" not in data:
        return None
    if "inputs" in data:
        raise ConfigError(f"config keys 'inputs' and 'cc_index' cannot be mixed in {where}: an index-first run reads "
                          "the WARC files its index names (cc_index.files, cc_index.warc_prefix)")
    from pipeline.ingest.cc_index import IndexConfigError, cc_index_from_config

    try:
        return cc_index_from_config(data["cc_index"], base)
    except IndexConfigError as exc:
        raise ConfigError(str(exc)) from None


def _resolve_model(model: str, base: Path) -> str:
    """A model given as a path resolves against the config's folder, like every other path."""
    if "://" in model or Path(model).is_absolute():
        return model
    candidate = (base / model).expanduser()
    return str(candidate.resolve()) if candidate.is_file() else model


def _check_bounds(langid: LangIdConfig, extract: ExtractConfig, limits: LimitsConfig) -> None:
    if langid.max_chars < 0:
        raise ConfigError("config key 'langid.max_chars': must be 0 (whole text) or more")
    if langid.labels not in ("individual", "macrolanguage"):
        raise ConfigError(f"config key 'langid.labels': expected individual or macrolanguage, got {langid.labels!r}")
    if extract.max_seconds <= 0:
        raise ConfigError("config key 'extract.max_seconds': must be more than 0")
    if extract.min_chars < 0:
        raise ConfigError("config key 'extract.min_chars': must be 0 or more")
    for key in ("max_elements", "max_element_levels", "max_text_chars"):
        if getattr(extract, key) < 1:
            raise ConfigError(f"config key 'extract.{key}': must be at least 1")
    if limits.max_payload_bytes < 1:
        raise ConfigError("config key 'limits.max_payload_bytes': must be at least 1")


def _inside(path: str, folder: Path) -> bool:
    if "://" in path:
        return False
    p = Path(path).resolve()
    return p == folder or folder in p.parents


def check_output_folder(config: RunConfig) -> None:
    """Refuse, before anything is written, an output that would hold or shadow the run's own inputs.

    A run writes (and, on a fresh start of its own unfinished output, replaces) files in its
    output folder, so no input, snapshot, model or thresholds file may live there; and the folder
    must be creatable and writable.
    """

    if "://" in config.output:
        return
    out = Path(config.output).resolve()
    named = [("input", u) for u in config.inputs]
    named += [("cc_index file", u) for u in (config.cc_index.files if config.cc_index is not None else ())]
    named += [(k.replace("_", " "), v) for k in _SNAPSHOT_KEYS if (v := getattr(config, k))]
    if Path(config.langid.model).is_file():
        named.append(("langid.model", config.langid.model))
    if config.langid.thresholds:
        named.append(("langid.thresholds", config.langid.thresholds))
    for what, path in named:
        if _inside(path, out):
            raise ConfigError(f"{what} {config.display(path)} is inside the output folder {out}: "
                              "a run must never write where its inputs live; choose another output")
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == out else f"is under a file ({probe})"
        raise ConfigError(f"output folder {out} {where}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"output folder {out} is not writable ({probe} does not allow writing)")


def _file_digests(config: RunConfig) -> tuple[tuple[str, str], ...]:
    """sha256 of each snapshot, the language model and thresholds: what makes a run content-addressed.

    Also the config-time check that each is readable, so a broken file is one line before any
    output is touched, not a traceback in a worker.
    """

    out: dict[str, str] = {}
    for key in _SNAPSHOT_KEYS:
        path = getattr(config, key)
        if not path:
            continue
        _check_snapshot(key, path)
        out[key] = _snapshot_sha256(key, path)
    if config.cc_index is not None:
        from pipeline.ingest.cc_index import digest_key, index_file_digest

        for uri in config.cc_index.files:
            try:
                out[digest_key(config.display(uri))] = index_file_digest(uri)
            except Exception as exc:
                raise ConfigError(f"cc_index file {uri} is not readable: {exc}") from None
    out["langid.model"], thresholds_sha = _check_langid(config.langid)
    if thresholds_sha:
        out["langid.thresholds"] = thresholds_sha
    return tuple(sorted(out.items()))


def _snapshot_sha256(key: str, path: str) -> str:
    """Hashed once per version of the file on this node (the digest is shared with its workers)."""
    from pipeline.optout.snapshot import SnapshotError, current_sha256

    try:
        return current_sha256(path)
    except SnapshotError as exc:
        raise ConfigError(f"{key.split('_')[0]} snapshot {path} is not usable: {exc}") from None


def _check_snapshot(key: str, path: str) -> None:
    from pipeline.optout import snapshot

    what = key.split("_")[0]
    validate = getattr(snapshot, "validate_snapshot", None)
    try:
        if validate is not None:
            validate(path)
        else:
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
            missing = [c for c in snapshot.REQUIRED_COLUMNS if c not in names]
            if missing:
                raise snapshot.SnapshotError(f"{path} lacks column(s): {', '.join(missing)}")
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{what} snapshot {path} is not usable: {first}") from exc


def _model_files_sha256(paths: tuple[Path, ...]) -> str:
    """The model's identity from the bytes on disk now (a process may have an older copy loaded)."""
    from pipeline.langid.combined import combined_sha256
    from pipeline.write import sha256_file

    return sha256_file(paths[0]) if len(paths) == 1 else combined_sha256(paths)


def _check_keep_languages(langid: LangIdConfig) -> tuple[str, ...]:
    """langid.keep_languages as the codes the model outputs (`fr` -> `fra`); one line naming a bad entry."""
    from pipeline.langid import LangIdError
    from pipeline.langid.stage import keep_languages_for

    try:
        return keep_languages_for(langid)
    except LangIdError as exc:
        raise ConfigError(str(exc)) from None


def _check_tabular(inputs: tuple[str, ...], tabular: InputMapping, base: str) -> None:
    """The first Parquet/JSONL/Arrow input has the mapped text and url fields, or one line says what it has."""
    from pipeline.ingest import input_format
    from pipeline.ingest.tabular import check_mapping

    try:
        check_mapping(inputs, tabular, lambda uri: display_uri(uri, base), input_format)
    except MappingError as exc:
        raise ConfigError(str(exc)) from None


def _check_langid(langid: LangIdConfig) -> tuple[str, str]:
    """Load the model and thresholds as a worker would; (model sha256, thresholds sha256 or '')."""
    from pipeline.langid import LangIdError, LanguageIdentifier
    from pipeline.langid.stage import check_langid
    from pipeline.write import sha256_file

    try:
        check_langid(langid.model, langid.thresholds, langid.max_chars)
        ident = LanguageIdentifier(model=langid.model, thresholds=langid.thresholds, max_chars=langid.max_chars)
    except LangIdError as exc:
        raise ConfigError(str(exc)) from None
    model_sha = _model_files_sha256(ident.model_paths)
    return model_sha, (sha256_file(Path(langid.thresholds)) if langid.thresholds else "")


def _from_command_line(key: str, value: Any) -> Any:
    """Paths typed on the command line (`--out`, `--policy FILE`) are relative to the current folder,
    as every shell user expects; paths written in a config file are relative to that file's folder."""
    if key == "output" and isinstance(value, str) and "://" not in value:
        return str(Path(value).expanduser().absolute())
    if key == "policy" and isinstance(value, str) and Path(value).suffix in (".yaml", ".yml") and Path(value).is_file():
        return str(Path(value).absolute())
    return value


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(p.read_text("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict) and overrides:
        data = {**data, **{k: _from_command_line(k, v) for k, v in overrides.items() if v is not None}}
    return config_from_dict(data, p.resolve().parent, str(path))
