"""Which field of a tabular row (Parquet, JSONL, Arrow) holds the text, URL, id, date and digest.

Why a mapping: already-extracted corpora name their fields differently (FineWeb: `url`; Dolma:
`metadata.url`), and a reader that guesses errors every row of the corpora it does not know.
A config's `tabular:` section picks a preset and/or names fields; each field is a list of
dotted paths tried in order, the first present, non-null value wins. Stdlib only: the config
imports this module at start-up. The schema is documented in docs/inputs.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

FIELDS = ("text_field", "url_field", "id_field", "date_field", "digest_field")
REQUIRED = ("text_field", "url_field")  # a row without them is errored missing-text-field / missing-url-field


class MappingError(ValueError):
    """A `tabular:` section that cannot be used; one line naming the key."""


@dataclass(frozen=True, slots=True)
class InputMapping:
    """Dotted paths per output field, tried in order; the defaults are the reader's historic columns."""

    preset: str = "default"
    text_field: tuple[str, ...] = ("text",)
    url_field: tuple[str, ...] = ("url",)
    id_field: tuple[str, ...] = ("id", "warc_record_id")  # none present: the row is named row:N / line@N
    date_field: tuple[str, ...] = ("date", "crawl_date", "timestamp")
    digest_field: tuple[str, ...] = ("digest",)

    def paths(self, key: str) -> tuple[str, ...]:
        return getattr(self, key)

    def all_paths(self) -> list[str]:
        """Every path any field may read, in field order, once each."""
        return list(dict.fromkeys(p for key in FIELDS for p in self.paths(key)))

    def describe(self, key: str) -> str:
        """How a field is named in messages and evidence: `metadata.url`, or `id|warc_record_id`."""
        return "|".join(self.paths(key)) or "(none)"


_FINEWEB = InputMapping(preset="fineweb", text_field=("text",), url_field=("url",), id_field=("id",),
                        date_field=("date",), digest_field=())
PRESETS: dict[str, InputMapping] = {
    "default": InputMapping(),
    # FineWeb and FineWeb-2 Parquet: text, id, dump, url, date, file_path, language, language_score, ...
    "fineweb": _FINEWEB,
    "fineweb-2": replace(_FINEWEB, preset="fineweb-2"),
    # Dolma JSONL: id, text, source, added, created, metadata{...}; the page URL is metadata.url.
    "dolma": InputMapping(preset="dolma", text_field=("text",), url_field=("metadata.url",), id_field=("id",),
                          date_field=("created",), digest_field=()),
    # A 🤗 `datasets` folder written by save_to_disk (the folder is the input): the default columns.
    "hf-saved": replace(InputMapping(), preset="hf-saved"),
}


def _paths(key: str, value: Any, required: bool) -> tuple[str, ...]:
    """A field's value in a config: a dotted path, a list of them, or null (optional fields only)."""
    if value is None:
        if required:
            raise MappingError(f"config key 'tabular.{key}': required, give a column or dotted path")
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
        raise MappingError(f"config key 'tabular.{key}': expected a dotted path or a list of them, "
                           f"got {type(value).__name__}")
    for path in items:
        if not path.strip() or any(not part for part in path.split(".")):
            raise MappingError(f"config key 'tabular.{key}': {path!r} is not a column name or dotted path "
                               "(like metadata.url)")
    if required and not items:
        raise MappingError(f"config key 'tabular.{key}': required, give a column or dotted path")
    return tuple(items)


def mapping_from_config(data: Any) -> InputMapping:
    """The `tabular:` section: absent, a preset name, or {preset: NAME, text_field: ..., ...}."""
    if data is None:
        return PRESETS["default"]
    if isinstance(data, str):
        data = {"preset": data}
    if not isinstance(data, dict):
        raise MappingError(f"config key 'tabular': expected a preset name or a mapping, got {type(data).__name__}")
    known = {"preset", *FIELDS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise MappingError(f"unknown config key 'tabular.{unknown[0]}' (known: {', '.join(sorted(known))})")
    name = data.get("preset", "default")
    if not isinstance(name, str) or name not in PRESETS:
        raise MappingError(f"config key 'tabular.preset': unknown preset {name!r} "
                           f"(known: {', '.join(sorted(PRESETS))})")
    mapping = PRESETS[name]
    changes = {key: _paths(key, data[key], key in REQUIRED) for key in FIELDS if key in data}
    return replace(mapping, **changes) if changes else mapping


def lookup(row: dict[str, Any], path: str) -> Any:
    """The value at `path` in a parsed JSON row; None when absent.

    A key that is literally `a.b` wins over the nested path `a` -> `b`, so flat columns with
    dots in their names still work.
    """
    if path in row:
        return row[path]
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def first_value(row: dict[str, Any], paths: tuple[str, ...]) -> tuple[Any, str]:
    """The first non-null value among `paths`, and the path it came from ('' when none)."""
    for path in paths:
        value = lookup(row, path)
        if value is not None:
            return value, path
    return None, ""


def leaf_names(mapping: InputMapping, key: str) -> list[str]:
    """Last component of each path of a field: what an oversize line's head is searched for."""
    return [p.rsplit(".", 1)[-1] for p in mapping.paths(key)]


def flat_keys(row: dict[str, Any], limit: int = 30, depth: int = 3) -> list[str]:
    """The dotted paths a JSON row has, for messages: `id, text, metadata.url, ...`."""
    out: list[str] = []

    def walk(value: dict[str, Any], prefix: str, level: int) -> None:
        for key, child in value.items():
            if len(out) >= limit:
                return
            path = f"{prefix}{key}"
            if isinstance(child, dict) and child and level < depth:
                walk(child, path + ".", level + 1)
            else:
                out.append(path)

    walk(row, "", 1)
    return out


def matching_presets(has: Any) -> list[str]:
    """Presets (one per distinct text/url pair) whose text and url resolve, per `has(path) -> bool`: hints."""
    return [name for name in ("fineweb", "dolma") if any(has(p) for p in PRESETS[name].text_field)
            and any(has(p) for p in PRESETS[name].url_field)]


__all__ = ["FIELDS", "PRESETS", "REQUIRED", "InputMapping", "MappingError", "first_value", "flat_keys",
           "leaf_names", "lookup", "mapping_from_config", "matching_presets"]
