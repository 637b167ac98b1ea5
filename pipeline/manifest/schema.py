"""The manifest's JSON Schema (draft 2020-12), and reading a dataset's manifest safely.

Every command that opens a dataset goes through `load_manifest`, so a manifest of another
schema version, invalid JSON or a schema violation gives one clear message naming the file.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from pipeline.manifest.build import MANIFEST_NAME, SCHEMA_VERSION

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class ManifestError(ValueError):
    """A dataset folder whose manifest cannot be used (missing, unreadable, wrong version, invalid)."""


def schema_dir() -> Path:
    """manifests/schema in a clone, or the `pipeline.schema` package of an installed wheel."""
    repo = Path(__file__).resolve().parents[2] / "manifests" / "schema"
    if repo.is_dir():
        return repo
    import pipeline.schema as packaged  # type: ignore[import-not-found]  # wheel: see pyproject package-dir

    return Path(next(iter(packaged.__path__)))


def schema_path(version: str = SCHEMA_VERSION) -> Path:
    return schema_dir() / f"manifest-{version}.json"


@lru_cache(maxsize=4)
def load_schema(version: str = SCHEMA_VERSION) -> dict[str, Any]:
    return json.loads(schema_path(version).read_text("utf-8"))


@lru_cache(maxsize=4)
def _validator(version: str) -> Draft202012Validator:
    schema = load_schema(version)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def known_versions() -> list[str]:
    return sorted(p.stem.removeprefix("manifest-") for p in schema_dir().glob("manifest-*.json"))


def _key(v: str) -> tuple[int, ...]:
    m = _VERSION.match(v)
    return tuple(int(x) for x in m.groups()) if m else (-1,)


def version_problem(manifest: Any) -> str | None:
    """Why this manifest's schema version cannot be read by this consentcrawl, or None."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    version = manifest.get("schema_version")
    if version == SCHEMA_VERSION:
        return None
    if not isinstance(version, str) or not _VERSION.match(version):
        return f"no valid schema_version (found {version!r}); expected {SCHEMA_VERSION}"
    if _key(version) < _key(SCHEMA_VERSION):
        return (f"schema version {version} is older than {SCHEMA_VERSION}, the version this consentcrawl "
                f"reads; regenerate the dataset with `consentcrawl run` (no automatic migration)")
    return (f"schema version {version} is unknown to this consentcrawl (it reads {SCHEMA_VERSION}); "
            f"upgrade consentcrawl")


def _where(path: Any) -> str:
    out = "manifest"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _message(e: Any) -> str:
    """jsonschema's message, except for `not`, whose message dumps the forbidden sub-schema."""
    if e.validator == "not" and isinstance(e.schema, dict) and e.schema.get("description"):
        return f"{e.instance!r} is not {e.schema['description']}"
    return str(e.message)[:300]


def schema_problems(manifest: Any, limit: int = 20) -> list[str]:
    """Schema violations as 'at <json path>: <message>' lines (at most `limit`)."""
    problem = version_problem(manifest)
    if problem:
        return [problem]
    errors = sorted(_validator(SCHEMA_VERSION).iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path)))
    out = [f"at {_where(e.absolute_path)}: {_message(e)}" for e in errors[:limit]]
    if len(errors) > limit:
        out.append(f"... and {len(errors) - limit} more schema violation(s)")
    return out


MAX_DEPTH = 64  # a real manifest nests 4 deep; deeper means crafted, and would overflow recursive code later


def _no_constant(name: str) -> Any:
    """NaN/Infinity are not JSON (RFC 8259); Python's json would accept them silently."""
    raise ValueError(f"{name} is not a JSON value")


def _too_deep(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Iterative depth check: recursion on attacker-controlled nesting is what we guard against."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def read_manifest_json(folder: str | Path) -> dict[str, Any]:
    """Parse DIR/manifest.json without validating it (ManifestError if absent or not JSON).

    Every way a crafted file can break Python's json module (int-digit limit, nesting that
    exhausts the recursion limit, NaN/Infinity, unreadable bytes) ends here as one ManifestError.
    """
    path = Path(folder) / MANIFEST_NAME
    if not Path(folder).is_dir():
        raise ManifestError(f"dataset folder not found: {folder}")
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest.json in this folder (is it a consentcrawl dataset?)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    except RecursionError as exc:
        raise ManifestError(f"{path}: not a usable manifest (JSON nested too deep to read)") from exc
    except ValueError as exc:  # int beyond sys.get_int_max_str_digits(), NaN/Infinity
        raise ManifestError(f"{path}: not a usable manifest ({str(exc).split(';')[0]})") from exc
    if not isinstance(data, dict):
        found = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(data), "a number")
        raise ManifestError(f"{path}: not a JSON object (found {found})")
    if _too_deep(data):
        raise ManifestError(f"{path}: not a usable manifest (JSON nested more than {MAX_DEPTH} levels deep)")
    return data


def load_manifest(folder: str | Path) -> dict[str, Any]:
    """The validated manifest of a dataset folder, or ManifestError naming the file and problem."""
    data = read_manifest_json(folder)
    path = Path(folder) / MANIFEST_NAME
    problem = version_problem(data)
    if problem:
        raise ManifestError(f"{path}: {problem}")
    problems = schema_problems(data, limit=3)
    if problems:
        more = f" (+{len(problems) - 1} more; run `consentcrawl verify`)" if len(problems) > 1 else ""
        raise ManifestError(f"{path}: does not match schema manifest-{SCHEMA_VERSION}.json {problems[0]}{more}")
    return data
