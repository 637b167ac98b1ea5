"""Reference of every run-config and policy key, generated from the config's own definitions.

Types and defaults come from the dataclasses in `pipeline/config.py` and `pipeline/optout/policy.py`;
the accepted keys from the sets the validators use (`_TOP_KEYS`, `_SECTIONS`, `POLICY_KEYS`), so a key
added there appears here without anyone remembering to. Only the meanings are written by hand, one
line each in `KEY_DOCS` / `POLICY_KEY_DOCS`; `tests/test_config_reference.py` fails when a key has
none, or when docs/config.md is not what this module prints.

    python -m pipeline.config_reference            # print the reference (Markdown)
    python -m pipeline.config_reference --write    # rewrite docs/config.md in a clone
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, NamedTuple

from pipeline import config as _config
from pipeline.optout import policy as _policy


class Key(NamedTuple):
    """A meaning, plus the type/default to show when the dataclass cannot say (or says it wrongly)."""

    meaning: str
    type: str | None = None
    default: str | None = None


#: One line per accepted config key: `key` or `section.key`. A plain string is the meaning.
KEY_DOCS: dict[str, str | Key] = {
    "inputs": Key("Input shards: local paths or globs (`crawl/*.warc.gz`), fsspec URLs (`https://…`, `s3://…`, "
                  "remote globs) and Common Crawl listings (`warc.paths.gz`, one shard per entry). Formats: "
                  "WARC, WET, Parquet, JSONL (`.gz`/`.zst` too); ARC is refused. Each file may appear once.",
                  "path or list of paths/URLs"),
    "output": "The dataset folder, or an fsspec URL (`s3://bucket/ds`). A run writes only into an empty or new "
              "folder or its own unfinished output. `--out` overrides it.",
    "policy": Key("Opt-out policy: a bundled name (`apertus`, `ai-training`, `strict`), a YAML path, or the "
                  "policy written inline as a mapping (keys below).", "name, path or mapping", "`apertus`"),
    "robots_snapshot": Key("robots.txt snapshot (Parquet, docs/snapshots.md) the robots decisions are made "
                           "from; copied into the dataset. `none` runs without robots.txt filtering, on purpose.",
                           "path or `none`", "required"),
    "robots_as_of": "Use each host's newest robots.txt fetched on or before this date (`YYYY-MM-DD`, `YYYY-MM` "
                    "or an ISO timestamp); unset: the newest entry.",
    "tdmrep_snapshot": Key("Snapshot of `/.well-known/tdmrep.json` per host (same table design as robots.txt), "
                           "read when the policy enables `tdmrep` (docs/signals.md).", "path"),
    "aitxt_snapshot": Key("Snapshot of `/ai.txt` per host, read only when the policy enables `ai-txt` "
                          "(docs/signals.md).", "path"),
    "langid": "Language identification (docs/langid.md).",
    "langid.model": Key("`default` (consentcrawl-lid combined with lid.176), `lid176`, `consentcrawl`, a "
                        "fastText model file, or a Hugging Face id already in the local cache (never downloaded).",
                        "name or path"),
    "langid.thresholds": Key("YAML of per-language score thresholds (below it: `und`); unset: the bundled "
                             "`pipeline/langid/thresholds.yaml`.", "path"),
    "langid.keep_languages": "Labels (`fra_Latn`) or language codes (`fra`) to keep; other documents are "
                             "dropped `language-not-selected`. Empty: keep every language.",
    "langid.max_chars": "Characters of a document the model sees, as 4 evenly spaced windows; 0: the whole "
                        "text.",
    "langid.labels": "`individual`: FineWeb-2 / GlotLID codes (`arb_Arab`, `cmn_Hani`); `macrolanguage`: members "
                     "grouped under their ISO macrolanguage (`ara_Arab`, `zho_Hani`). Column `macrolanguage` has both.",
    "extract": "Main-content extraction with resiliparse and its per-page budgets (pipeline/extract.py).",
    "extract.main_content": "Extract the main content (drop navigation, footers, …); false: all visible text.",
    "extract.min_chars": "Documents with fewer extracted characters are dropped `no-text`.",
    "extract.max_elements": "Elements in the parsed page; over it the record is errored "
                            "`html-too-many-elements`.",
    "extract.max_element_levels": "Elements × tree depth; over it: `html-too-deep`.",
    "extract.max_text_chars": "Extracted characters; over it: `text-too-long`.",
    "extract.max_seconds": "Last-resort CPU-time cap per page: `extraction-timeout`, and the manifest says "
                           "`reproducible: false`.",
    "limits": "Bounds on what ingest holds in memory.",
    "limits.max_payload_bytes": "Largest record payload (WARC) or row text (JSONL, Parquet) read; a larger one "
                                "is errored `payload-too-large` and streamed past, never held whole.",
    "workers": "Worker processes of the embedded Dask cluster (one shard each at a time). `--workers` "
               "overrides it; ignored with `--scheduler`.",
    "retries": "How often a shard that raised (a dropped connection, …) is submitted again.",
    "robots_rules_cache_mib": "Compiled robots.txt rules kept per worker (LRU), in MiB; 0: none.",
    "tabular": Key("Which field of a Parquet/JSONL/Arrow row holds what (docs/inputs.md); a preset name alone "
                   "(`tabular: dolma`) is short for `{preset: dolma}`. WARC/WET inputs ignore it.",
                   "preset name or mapping"),
    "tabular.preset": "`default`, `fineweb`, `fineweb-2`, `dolma` or `hf-saved`; the keys below replace its paths.",
    "tabular.text_field": "Column or dotted path (a list: the first present wins) of the text; required, never "
                          "null. Absent in a row: errored `missing-text-field`.",
    "tabular.url_field": "The same for the page URL (`metadata.url` in Dolma). Absent in a row: errored "
                         "`missing-url-field`.",
    "tabular.id_field": "The record id (`source_record_id`); null or absent in a row: `row:N`.",
    "tabular.date_field": "The crawl date (`crawl_date`); null or absent in a row: empty.",
    "tabular.digest_field": "The payload digest (`payload_digest`); null or absent in a row: empty.",
    "input_prefix": Key("What the entries of a Common Crawl listing in `inputs` are joined to: a URL or a "
                        "local mirror folder.", "URL or path", "`https://data.commoncrawl.org/`"),
    "cc_index": Key("An index-first run (docs/index-first.md), instead of `inputs`: `files` (cc-index Parquet "
                    "files or globs, local or fsspec), `filters` (index column → value, list or `{contains: …}`), "
                    "`warc_prefix` (what `warc_filename` is joined to), `coalesce_gap` and `max_request_bytes` "
                    "(how neighbouring allowed records share one range request). Opted-out records are never "
                    "downloaded.", "mapping", "unset"),
}

#: One line per accepted policy key (a policy YAML file, or `policy:` written inline).
POLICY_KEY_DOCS: dict[str, str | Key] = {
    "name": Key("The policy's name, recorded in the manifest.", default="the file's name"),
    "agents": "User-agent tokens whose robots.txt groups decide (`GPTBot`, `*`, …).",
    "scope": "`url`: drop the URLs a robots.txt disallows; `host`: drop the whole host when `/` is disallowed.",
    "missing_host": "A host with no snapshot entry: `keep` (as Apertus did) or `drop`.",
    "server_error": "A robots.txt answered with 5xx: `disallow` (RFC 9309 section 2.3.1.4) or `allow`.",
    "signals": "Other opt-out signals to apply: `noai`, `tdmrep`, `content-signal`, `aipref`, `ai-txt` "
               "(docs/signals.md).",
    "search_directives": "`record` search directives (noindex, nofollow, …) as findings, or `drop` documents "
                         "that carry one.",
    "signals_lenient": "Also read what a site owner plainly meant but the specs do not accept (upper case, "
                       "`yes`/`no`, old AIPREF labels, `<meta http-equiv>`, …); it can only add opt-outs "
                       "(docs/signals.md).",
    "description": Key("Free text for readers; not used.", "string", "unset"),
    "extends": Key("In a policy file: another policy (bundled name, or path relative to this file) whose keys "
                   "this one starts from and overrides.", "name or path", "unset"),
}

PATHS = """\
## How paths resolve

* Every relative path written in a config file (`inputs`, `output`, the snapshots, `langid.model` and
  `langid.thresholds` files, a policy path, a local `input_prefix`) resolves against the folder of
  the config file, wherever the command is run from.
* Paths given on the command line (`--out`, `--config`) resolve against the current folder.
* URLs (`https://…`, `s3://…`, any fsspec protocol) are used as they are. `~` is expanded.
* Outputs name inputs relative to the config's folder, so two clones of one project agree byte for
  byte.
"""


def _section_classes() -> dict[str, type]:
    """Sections are the nested mappings: the validator's own table, plus any dataclass-valued field."""
    sections = dict(getattr(_config, "_SECTIONS", {}))
    for f in dataclasses.fields(_config.RunConfig):
        if f.name in _config._TOP_KEYS and f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
            if dataclasses.is_dataclass(value):
                sections.setdefault(f.name, type(value))
    return sections


def top_keys() -> list[str]:
    """Accepted top-level keys: RunConfig's order first, then the others (`input_prefix`) sorted."""
    fields = [f.name for f in dataclasses.fields(_config.RunConfig) if f.name in _config._TOP_KEYS]
    return fields + sorted(set(_config._TOP_KEYS) - set(fields))


def accepted_keys() -> list[str]:
    """Every key a config may hold: `key` for top-level keys, `section.key` inside sections."""
    sections = _section_classes()
    out: list[str] = []
    for key in top_keys():
        out.append(key)
        if key in sections:
            out += [f"{key}.{f.name}" for f in dataclasses.fields(sections[key])]
    return out


def policy_keys() -> list[str]:
    fields = [f.name for f in dataclasses.fields(_policy.Policy) if f.name in _policy.POLICY_KEYS]
    return fields + sorted(set(_policy.POLICY_KEYS) - set(fields))


def undocumented() -> list[str]:
    """Accepted keys without a meaning (config keys as `key`, policy keys as `policy:key`)."""
    return ([k for k in accepted_keys() if k not in KEY_DOCS]
            + [f"policy:{k}" for k in policy_keys() if k not in POLICY_KEY_DOCS])


def stale() -> list[str]:
    """Meanings of keys the config no longer accepts: the reference must not promise them."""
    return ([k for k in KEY_DOCS if k not in set(accepted_keys())]
            + [f"policy:{k}" for k in POLICY_KEY_DOCS if k not in set(policy_keys())])


_TYPE_NAMES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
               "tuple[str, ...]": "list of strings"}


def _type_name(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    parts = [p.strip() for p in text.split("|") if p.strip() != "None"]
    return " or ".join(_TYPE_NAMES.get(p, p) for p in parts)


def _default_text(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple | list):
        return f"`[{', '.join(map(str, value))}]`"
    return f"`{value}`"


def _field_facts(cls: type, name: str) -> tuple[str, str]:
    """(type, default) of one dataclass field; ('', '') when `name` is not a field."""
    for f in dataclasses.fields(cls):
        if f.name != name:
            continue
        if f.default is not dataclasses.MISSING:
            default = _default_text(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
            default = "see below" if dataclasses.is_dataclass(value) else _default_text(value)
        else:
            default = "required"
        kind = "mapping" if default == "see below" else _type_name(f.type)
        return kind, default
    return "", ""


def _row(key: str, doc: str | Key, cls: type, name: str) -> str:
    entry = doc if isinstance(doc, Key) else Key(doc)
    kind, default = _field_facts(cls, name)
    kind = entry.type or kind or "?"
    default = entry.default or default or "?"
    return f"| `{key}` | {kind} | {default} | {entry.meaning} |"


def render() -> str:
    """The whole of docs/config.md."""
    sections = _section_classes()
    missing = undocumented()
    if missing:
        raise SystemExit(f"config key(s) without a meaning: {', '.join(missing)}; "
                         "add one line each to KEY_DOCS / POLICY_KEY_DOCS in pipeline/config_reference.py")
    head = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines = [
        "# Run config reference",
        "",
        "<!-- Generated by `python -m pipeline.config_reference --write`; edit the meanings in",
        "     pipeline/config_reference.py, never this file (tests/test_config_reference.py checks it). -->",
        "",
        "Every key a run config (`consentcrawl run --config F`) accepts, with its type, default and",
        "meaning. A config is a YAML mapping; `configs/sample.yaml` is a complete, commented example.",
        "An unknown key, a wrong type, a negative budget or a missing file prints one line naming the",
        "key or file and exits 2, before anything is written. On the command line `--out` replaces",
        "`output` and `--workers` replaces `workers`; `--plan` prints what a run would do and exits.",
        "",
        PATHS,
        "## Top-level keys",
        "",
        *head,
    ]
    for key in top_keys():
        if key in sections:
            continue
        lines.append(_row(key, KEY_DOCS[key], _config.RunConfig, key))
    for name, cls in sections.items():
        section_doc = KEY_DOCS[name]
        lines += ["", f"## `{name}`", "", section_doc.meaning if isinstance(section_doc, Key) else section_doc,
                  f"Written as a mapping (`{name}: {{key: value, …}}`); every key is optional.", "", *head]
        lines += [_row(f"{name}.{f.name}", KEY_DOCS[f"{name}.{f.name}"], cls, f.name)
                  for f in dataclasses.fields(cls)]
    lines += ["", "## Policy keys", "",
              "A policy is a YAML file (`configs/policies/` holds the bundled ones; `policy: my.yaml`) or the",
              "`policy:` mapping of a config. `agents` is required unless `extends` gives it.", "", *head]
    lines += [_row(k, POLICY_KEY_DOCS[k], _policy.Policy, k) for k in policy_keys()]
    return "\n".join(lines) + "\n"


def docs_path() -> Path:
    """docs/config.md of a clone (an installed package has no docs/: print instead)."""
    return Path(__file__).resolve().parents[1] / "docs" / "config.md"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.config_reference",
                                 description="Print the reference of every run-config and policy key (Markdown).")
    ap.add_argument("--write", action="store_true", help=f"write it to {docs_path()} instead of printing it")
    args = ap.parse_args(argv)
    text = render()
    if args.write:
        target = docs_path()
        if not target.parent.is_dir():
            sys.stderr.write(f"no docs folder at {target.parent} (an installed package): print instead\n")
            return 2
        target.write_text(text, encoding="utf-8")
        return 0
    sys.stdout.buffer.write(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
