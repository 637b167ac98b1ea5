"""`consentcrawl publish`: croissant.json (Croissant 1.1 + RAI) and a Hugging Face dataset card.

Both are generated from the manifest (and a scan of the crawl dates), never written by hand, so
they cannot drift from the data. Croissant lists every data/ledger/snapshot file with its sha256;
the card's YAML makes `datasets.load_dataset(DIR)` load data/ (and the ledger as config
`excluded`). publish also writes report/ and then adds its outputs to the manifest's file list
and re-seals it: `verify` covers them like any other file (see docs/manifest.md). A folder on a
store (s3://…) is published in place: each output is one atomic PUT, the manifest last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from pipeline.manifest.build import MANIFEST_NAME, SIGNATURE_NAME, dump_manifest, seal
from pipeline.manifest.dataset import Dataset, manifest_bytes
from pipeline.manifest.verify import verify

CROISSANT_NAME = "croissant.json"
CARD_NAME = "README.md"
LICENSES = {
    "odc-by": ("ODC-By 1.0", "https://opendatacommons.org/licenses/by/1-0/"),
    "cc-by-4.0": ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "cc0-1.0": ("CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "apache-2.0": ("Apache 2.0", "https://www.apache.org/licenses/LICENSE-2.0"),
}
DEFAULT_LICENSE = "odc-by"
NO_LANGUAGE = {"und", "zxx", ""}

FIELD_DOCS = {
    "id": "stable document id: sha256 of (source_uri, source_record_id, source_offset), 32 hex chars",
    "url": "URL of the page as crawled",
    "host": "host name of the URL (lower case, IDN in punycode)",
    "text": "main text extracted from the HTML",
    "lang": "ISO 639-3 language code (und: undetermined)",
    "script": "ISO 15924 script code",
    "lang_score": "language-ID confidence of the top label",
    "lang_topk": "top-k language labels with scores",
    "crawl_date": "WARC-Date of the crawled record",
    "source_uri": "input shard the record came from (relative to the run config)",
    "source_record_id": "WARC-Record-ID in the source shard",
    "source_offset": "byte offset of the record in the source shard",
    "source_length": "byte length of the (compressed) record in the source shard",
    "payload_digest": "WARC-Payload-Digest of the record",
    "content_sha256": "sha256 of the UTF-8 text",
    "robots_entry_sha256": "robots.txt snapshot entry the opt-out decision used (empty: none)",
    "outcome": "dropped or errored",
    "reason": "why the document is not in data/ (optout:robots, no-text, revoked:..., ...)",
    "agent": "AI user agent whose robots.txt rules disallowed the URL",
    "rule": "the robots.txt rule that matched",
    "rule_line": "line of that rule in the robots.txt body",
    "snapshot_entry_sha256": "robots.txt snapshot entry the decision used",
    "snapshot_fetched_at": "when that robots.txt was fetched",
    "evidence": "JSON with every detail of the decision",
    "chars": "characters of extracted text (empty when dropped before extraction)",
    "record_type": "WARC record type",
    "fetched_at": "when the robots.txt was fetched",
    "http_status": "HTTP status of the robots.txt fetch",
    "body_sha256": "sha256 of the robots.txt body",
    "entry_sha256": "id of this snapshot entry (named by ledger rows)",
}


@dataclass(slots=True)
class Publication:
    name: str
    license: str
    description: str = ""
    url: str = ""
    date_published: str = ""  # given by the publisher (never the clock: outputs stay reproducible)

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "license": self.license}
        for key in ("description", "url", "date_published"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        return d


def _crawl_range(ds: Dataset) -> tuple[str, str]:
    rels = ds.rels("data") + ds.rels("excluded")
    if not rels or "crawl_date" not in ds.read_schema(rels[0]).names:
        return "", ""
    if ds.remote:  # only the crawl_date column crosses the network
        df = ds.collect(rels, pl.lit(True), ["crawl_date"]).select(
            pl.col("crawl_date").min().alias("lo"), pl.col("crawl_date").max().alias("hi"))
    else:
        df = pl.scan_parquet([str(p) for p in ds.paths("data") + ds.paths("excluded")], glob=False,
                             missing_columns="insert", extra_columns="ignore").select(
            pl.col("crawl_date").min().alias("lo"), pl.col("crawl_date").max().alias("hi")).collect()
    row = df.row(0)
    return str(row[0] or ""), str(row[1] or "")


def _languages(manifest: dict[str, Any]) -> list[str]:
    langs: dict[str, int] = {}
    for label, n in manifest["counts"]["documents_by_language"].items():
        code = label.split("_", 1)[0]
        if code not in NO_LANGUAGE and n > 0:
            langs[code] = langs.get(code, 0) + n
    return sorted(langs, key=lambda k: (-langs[k], k))


def by_count(counter: dict[str, int]) -> list[tuple[str, int]]:
    """Largest first (manifest counters are stored sorted by key)."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def optouts(c: dict[str, Any]) -> dict[str, int]:
    """Drops for AI opt-outs at run time (robots.txt and the policy's other signals), by reason."""
    return {k: v for k, v in c["dropped_by_reason"].items() if k.startswith("optout:")}


def optout_summary(c: dict[str, Any]) -> str:
    parts = optouts(c)
    total = sum(parts.values())
    detail = ", ".join(f"{k.removeprefix('optout:')} {v:,}" for k, v in by_count(parts))
    return f"{total:,}" + (f" ({detail})" if len(parts) > 1 else "")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def documents_considered(c: dict[str, Any]) -> int:
    """Documents (not WARC request/metadata records) the pipeline decided on."""
    return c["records_in"] - c["non_document_records"]


# --------------------------------------------------------------------------------------------
# Responsible-AI statements, shared by croissant.json and the card
# --------------------------------------------------------------------------------------------


def rai_fields(m: dict[str, Any], crawl: tuple[str, str]) -> dict[str, Any]:
    c, p = m["counts"], m["policy"]
    docs = documents_considered(c)
    robots = sum(optouts(c).values())
    revoked = {k: v for k, v in c["dropped_by_reason"].items() if k.startswith("revoked:")}
    snaps = "; ".join(
        f"{s['kind']} snapshot {s['path']} (id {s['snapshot_id'][:12]}…, {s['entries']} entries fetched "
        f"{s['date_min'] or '?'} to {s['date_max'] or '?'}, role {s['role']})" for s in m["snapshots"]
    ) or "none (no robots.txt snapshot was configured; every host counted as having no robots.txt)"
    inputs = ", ".join(f"{i['uri']} ({i['records_read']} records)" for i in m["inputs"])
    top_langs = by_count(c["documents_by_language"])[:3]
    return {
        "rai:dataCollection": (
            f"Web pages from existing public web-crawl archives (WARC/WET or Parquet/JSONL shards); "
            f"no new crawling. {len(m['inputs'])} input shard(s): {inputs}. Each page's opt-out status was "
            f"decided against robots.txt files from the snapshot(s) shipped in snapshots/: {snaps}."
        ),
        "rai:dataCollectionType": ["Web Scraping", "Secondary Data Analysis"],
        "rai:dataCollectionTimeframe": [x for x in crawl if x],
        "rai:dataPreprocessingProtocol": [
            f"Parse the input records; WARC request/metadata/warcinfo records are counted, not used "
            f"({c['non_document_records']} records).",
            f"Decide robots.txt opt-out before any content processing (policy '{p['name']}': agents "
            f"{', '.join(p['agents'])}; scope {p['scope']}; no robots.txt entry -> {p['missing_host']}; "
            f"robots.txt unreachable (5xx) -> {p['server_error']}). Opted-out pages are never extracted.",
            f"Extract the main text from HTML (resiliparse), minimum "
            f"{m['config'].get('extract', {}).get('min_chars', 1)} character(s).",
            f"Identify the language with {m['langid']['model']} (sha256 {m['langid']['model_sha256'][:16]}…, "
            f"{m['langid']['labels']} labels); keep languages: "
            f"{', '.join(m['langid'].get('keep_languages') or []) or 'all'}.",
            "Record every dropped or failed document in the exclusion ledger (excluded/) with its reason and evidence.",
        ],
        "rai:dataManipulationProtocol": (
            "Texts are stored as extracted: no deduplication, no quality or toxicity filtering, no rewriting. "
            + ("Later revocations removed documents without re-extraction: "
               + "; ".join(f"version {r['version']}: {r['removed']} document(s) ({r['reason']})"
                           for r in m["lineage"]["revocations"]) + "."
               if m["lineage"]["revocations"] else "No revocation has been applied to this version.")
        ),
        "rai:personalSensitiveInformation": [
            "Public web pages can contain names, e-mail addresses, phone numbers and other personal data; "
            "no PII detection or removal was applied.",
            "URLs and host names of excluded pages are published in the exclusion ledger (excluded/) so that "
            "site owners can audit their exclusion; their text is not.",
        ],
        "rai:dataBiases": [
            f"Opt-outs are not random: {optout_summary(c)} of {docs} documents ({_pct(robots, docs)}) were "
            f"dropped for AI opt-outs, concentrated on hosts whose owners block AI crawlers (often large news and "
            f"media publishers), so such sources are under-represented.",
            "Language mix follows the crawl, not the world: top languages "
            f"{', '.join(f'{k} ({v})' for k, v in top_langs)} "
            f"of {c['kept']} kept documents.",
            "Language identification is less accurate for short texts and closely related languages; "
            "labels under the confidence threshold are 'und'.",
        ],
        "rai:dataLimitations": [
            "robots.txt is judged from the snapshot(s) listed, not fetched at crawl time: a site that changed its "
            "robots.txt between the crawl and the snapshot is judged by the snapshot.",
            "Only robots.txt and the opt-out signals the policy lists are honoured "
            f"({', '.join(p['signals']) or 'no other signal'}); "
            "other reservations (TDM-Rep, ai.txt, licence terms in page text) are not.",
            "Hosts with no robots.txt entry in the snapshot are treated per the policy's missing_host setting.",
            "Characters and language of opted-out pages are unknown (they are dropped before extraction), so the "
            "share of content removed is measured in documents and raw record bytes.",
        ] + ([f"Revoked since release: {revoked}."] if revoked else []),
        "rai:dataUseCases": [
            "Pre-training and research on language models that respect publishers' AI opt-outs.",
            "Auditing opt-out compliance: every exclusion is traceable to a robots.txt rule and snapshot entry.",
            "Not validated for: factual question answering, evaluation benchmarks, or any use needing PII-free text.",
        ],
        "rai:dataReleaseMaintenancePlan": (
            f"This is dataset version {m['dataset']['version']}. Site owners can check their pages with "
            "`consentcrawl lookup DIR <url|host|domain>` and ask for removal; removals and newer robots.txt "
            "snapshots are applied with `consentcrawl revoke`, which publishes a new version whose manifest names "
            "the previous manifest's sha256 and lists what was removed and why. Each version is checkable with "
            "`consentcrawl verify`."
        ),
    }


# --------------------------------------------------------------------------------------------
# croissant.json
# --------------------------------------------------------------------------------------------

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "equivalentProperty": "cr:equivalentProperty",
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def _data_type(t: pa.DataType) -> str | None:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "sc:Text"
    if pa.types.is_integer(t):
        return "sc:Integer"
    if pa.types.is_floating(t):
        return "sc:Float"
    if pa.types.is_boolean(t):
        return "sc:Boolean"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return None  # raw robots.txt bodies: in the file, not in the record set
    return None


def _fields(record_set: str, file_set: str, schema: pa.Schema) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in schema:
        fid = f"{record_set}/{f.name}"
        base = {"@type": "cr:Field", "@id": fid, "name": f.name, "description": FIELD_DOCS.get(f.name, f.name)}
        if pa.types.is_list(f.type) and pa.types.is_struct(f.type.value_type):
            subs = []
            for sub in f.type.value_type:
                dt = _data_type(sub.type)
                if dt:
                    subs.append({"@type": "cr:Field", "@id": f"{fid}/{sub.name}", "name": sub.name,
                                 "dataType": dt,
                                 "source": {"fileSet": {"@id": file_set},
                                            "extract": {"column": f.name}, "transform": {"jsonPath": sub.name}}})
            out.append({**base, "isArray": True, "arrayShape": "-1", "subField": subs,
                        "source": {"fileSet": {"@id": file_set}, "extract": {"column": f.name}}})
            continue
        dt = _data_type(f.type)
        if dt is None:
            continue
        out.append({**base, "dataType": dt, "source": {"fileSet": {"@id": file_set}, "extract": {"column": f.name}}})
    return out


def croissant(ds: Dataset, pub: Publication, crawl: tuple[str, str]) -> dict[str, Any]:
    """The Croissant 1.1 JSON-LD document for this dataset version."""
    m = ds.manifest
    lic_name, lic_url = LICENSES.get(pub.license, (pub.license, ""))
    distribution: list[dict[str, Any]] = []
    record_sets: list[dict[str, Any]] = []
    groups = [("data", "documents", "data/*.parquet", "kept documents (data/)"),
              ("excluded", "excluded", "excluded/*.parquet", "exclusion ledger: every dropped or failed document"),
              ("snapshot", "robots_snapshots", "snapshots/*.parquet", "opt-out snapshot entries used for decisions")]
    for kind, rs_name, pattern, what in groups:
        entries = ds.entries(kind)
        if not entries:
            continue
        for f in entries:
            distribution.append({
                "@type": "cr:FileObject", "@id": f["path"], "name": f["path"],
                "description": f"{what}: {f['rows']} rows",
                "contentUrl": f["path"], "encodingFormat": "application/x-parquet",
                "contentSize": f"{f['bytes']} B", "sha256": f["sha256"],
            })
        fs_id = f"{rs_name}-files"
        distribution.append({"@type": "cr:FileSet", "@id": fs_id, "name": fs_id, "description": f"all {what}",
                             "encodingFormat": "application/x-parquet", "includes": pattern})
        schema = ds.read_schema(entries[0]["path"])
        record_sets.append({
            "@type": "cr:RecordSet", "@id": rs_name, "name": rs_name, "description": what,
            "field": _fields(rs_name, fs_id, schema),
        })
    doc = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": ["http://mlcommons.org/croissant/1.1", "http://mlcommons.org/croissant/RAI/1.0"],
        "name": pub.name,
        "description": pub.description or default_description(m),
        "license": lic_url or lic_name,
        **({"url": pub.url} if pub.url else {}),
        "version": f"{m['dataset']['version']}.0.0",
        **({"datePublished": pub.date_published} if pub.date_published else {}),
        "keywords": ["web crawl", "robots.txt", "AI opt-out", "provenance", "multilingual text"],
        "inLanguage": _languages(m),
        "isAccessibleForFree": True,
        "citeAs": f"{pub.name}, version {m['dataset']['version']} (consentcrawl {m['pipeline']['version']}, "
                  f"config sha256 {m['config_sha256']})",
        "creator": {"@type": "sc:Organization", "name": "consentcrawl pipeline"},
        "distribution": distribution,
        "recordSet": record_sets,
    }
    rai = rai_fields(m, crawl)
    doc.update(rai)
    # mlcroissant <= 1.1 spells two RAI terms differently from the RAI vocabulary: write both.
    doc["rai:dataCollectionTimeFrame"] = rai["rai:dataCollectionTimeframe"]
    doc["rai:dataDataManipulationProtocol"] = rai["rai:dataManipulationProtocol"]
    return doc


def default_description(m: dict[str, Any]) -> str:
    c = m["counts"]
    return (f"{c['kept']} web documents in {len(c['documents_by_language'])} language labels, from "
            f"{len(m['inputs'])} crawl shard(s), after removing pages whose site opts out of AI crawlers "
            f"(policy '{m['policy']['name']}'). Every excluded page is listed with the rule that excluded it.")


# --------------------------------------------------------------------------------------------
# README.md (Hugging Face dataset card)
# --------------------------------------------------------------------------------------------


def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    for bound, label in bounds:
        if n < bound:
            return label
    return "1B<n<10B"


def _yaml_list(items: list[str], indent: str = "") -> str:
    return "".join(f"{indent}- {json.dumps(i)}\n" for i in items)


def card(ds: Dataset, pub: Publication, crawl: tuple[str, str], report_index: str | None) -> str:
    m, c = ds.manifest, ds.manifest["counts"]
    langs = _languages(m)
    lic_name, lic_url = LICENSES.get(pub.license, (pub.license, ""))
    front = "---\n"
    if pub.license in LICENSES:
        front += f"license: {pub.license}\n"
    else:
        front += f"license: other\nlicense_name: {json.dumps(pub.license)}\n"
    front += f"pretty_name: {json.dumps(pub.name)}\n"
    front += "language:\n" + _yaml_list(langs or ["und"])
    front += f"multilinguality: {'multilingual' if len(langs) > 1 else 'monolingual'}\n"
    front += f"size_categories:\n- {_size_category(c['kept'])}\n"
    front += "task_categories:\n- text-generation\n"
    front += "tags:\n" + _yaml_list(["web-crawl", "robots-txt", "ai-opt-out", "provenance", "croissant"])
    front += (
        "configs:\n"
        "- config_name: default\n  default: true\n  data_files:\n  - split: train\n    path: data/*.parquet\n"
    )
    if ds.entries("excluded"):
        front += "- config_name: excluded\n  data_files:\n  - split: train\n    path: excluded/*.parquet\n"
    front += "---\n\n"
    docs = documents_considered(c)
    robots = sum(optouts(c).values())
    rai = rai_fields(m, crawl)
    lines = [
        f"# {pub.name}",
        "",
        pub.description or default_description(m),
        "",
        f"**Dataset version {m['dataset']['version']}** · {c['kept']:,} documents · {c['chars_kept']:,} characters · "
        f"{len(langs)} languages · license {lic_name}" + (f" ({lic_url})" if lic_url else ""),
        "",
        "Made by consentcrawl "
        f"{m['pipeline']['version']} (commit {m['pipeline']['source_commit'][:12]}, "
        f"tree {m['pipeline']['source_tree']}). "
        "Everything on this card is generated from `manifest.json`.",
        "",
        "## Load it",
        "",
        "```python",
        "from datasets import load_dataset",
        "ds = load_dataset(\"path/to/this/folder\")                 # kept documents (data/)",
        "ledger = load_dataset(\"path/to/this/folder\", \"excluded\")  # the exclusion ledger",
        "```",
        "",
        "Or read `data/*.parquet` with polars, DuckDB or pyarrow. `croissant.json` describes the same files "
        "(Croissant 1.1 with Responsible-AI fields) for `mlcroissant`.",
        "",
        "## What went in and what came out",
        "",
        "| step | count |",
        "|---|---:|",
        f"| records read from {len(m['inputs'])} input shard(s) | {c['records_in']:,} |",
        f"| non-document WARC records (requests, metadata) | {c['non_document_records']:,} |",
        f"| documents considered | {docs:,} |",
    ]
    for reason, n in c["dropped_by_reason"].items():
        if not reason.startswith("not-a-document:"):
            lines.append(f"| dropped: `{reason}` | {n:,} |")
    for reason, n in c["errored_by_reason"].items():
        lines.append(f"| errored: `{reason}` | {n:,} |")
    lines += [f"| **kept (data/)** | **{c['kept']:,}** |", ""]
    lines += [
        f"{optout_summary(c)} of {docs:,} documents ({_pct(robots, docs)}) were excluded for AI opt-outs: the "
        f"site's robots.txt disallows at least one of the AI agents of policy `{m['policy']['name']}`"
        + (f", or the page carries one of its signals ({', '.join(m['policy']['signals'])})"
           if m["policy"]["signals"] else "") + ".",
        "",
    ]
    if c["dropped_by_agent"]:
        lines += ["| agent whose rule excluded the page | documents |", "|---|---:|"]
        lines += [f"| {a} | {n:,} |" for a, n in sorted(c["dropped_by_agent"].items(), key=lambda kv: -kv[1])]
        lines.append("")
    lines += ["## Languages", "", "| language | documents | characters |", "|---|---:|---:|"]
    for label, n in by_count(c["documents_by_language"])[:25]:
        lines.append(f"| {label} | {n:,} | {c['chars_by_language'].get(label, 0):,} |")
    if len(c["documents_by_language"]) > 25:
        lines.append(f"| … {len(c['documents_by_language']) - 25} more | | |")
    lines += ["", "## Fields", "", "| field | type | meaning |", "|---|---|---|"]
    if ds.entries("data"):
        for f in ds.read_schema(ds.entries("data")[0]["path"]):
            lines.append(f"| `{f.name}` | {f.type} | {FIELD_DOCS.get(f.name, '')} |")
    lines += [
        "",
        "## How it was made",
        "",
        *[f"{i}. {step}" for i, step in enumerate(rai["rai:dataPreprocessingProtocol"], 1)],
        "",
        "Opt-out policy in full (also in `manifest.json`):",
        "",
        "```json",
        json.dumps(m["policy"], indent=2),
        "```",
        "",
        "Opt-out snapshots shipped in `snapshots/`:",
        "",
        "| file | snapshot id | entries | fetched between | role |",
        "|---|---|---:|---|---|",
        *[f"| `{s['path']}` | `{s['snapshot_id'][:16]}…` | {s['entries']} | {s['date_min']} – {s['date_max']} | "
          f"{s['role']} |" for s in m["snapshots"]],
        "",
        f"Crawl dates of the documents: {crawl[0] or '?'} to {crawl[1] or '?'}.",
        "",
        "## For site owners: is my site in here? How do I get it removed?",
        "",
        "```bash",
        "consentcrawl lookup DIR https://example.org/some/page   # one page",
        "consentcrawl lookup DIR www.example.org                 # one host",
        "consentcrawl lookup DIR example.org                     # every host of a domain",
        "```",
        "",
        "The answer says whether the page is in `data/`, or was excluded (with the robots.txt rule, its line, "
        "the AI agent and the snapshot entry), or was never in the input. Removal requests (one URL, host or "
        "domain per line) and newer robots.txt snapshots are applied with `consentcrawl revoke`, which publishes a "
        "new dataset version; removed documents move to the exclusion ledger with reason "
        "`revoked:removal-request` or `revoked:robots`.",
        "",
        "## Revisions",
        "",
    ]
    if m["lineage"]["revocations"]:
        lines += ["| version | what | removed | ledger |", "|---:|---|---:|---|"]
        for r in m["lineage"]["revocations"]:
            what = (f"robots.txt snapshot `{r['robots']['snapshot_path']}`" if r["kind"] == "robots"
                    else f"{r['removals']['requests']} removal request(s)")
            lines.append(f"| {r['version']} | {what} | {r['removed']:,} | `{r['ledger']}` |")
        prev = m["lineage"]["previous"]
        lines += ["", f"Previous version's manifest sha256: `{prev['manifest_sha256']}`." if prev else ""]
    else:
        lines.append("Version 1: the pipeline run itself; nothing revoked yet.")
    lines += [
        "",
        "## Check it",
        "",
        "```bash",
        "consentcrawl verify DIR                 # every sha256, row count and the Merkle root",
        "consentcrawl verify DIR --pubkey K.pub  # and the Ed25519 signature manifest.json.sig",
        "```",
        "",
        "`manifest.json` lists every file (this card, `croissant.json` and `report/` included) with its sha256, "
        "size and row count, the inputs with their sha256, the resolved config and its sha256, the language-ID "
        "model's sha256 and label set, and a Merkle root over all of it.",
        "",
    ]
    if report_index:
        lines += ["## Report", "", f"Plots of the run: [`{report_index}`]({report_index}).", ""]
    lines += ["## Biases, limitations, personal information", ""]
    for key in ("rai:dataBiases", "rai:dataLimitations", "rai:personalSensitiveInformation"):
        lines += [f"- {s}" for s in rai[key]]
    lines += ["", "## Intended uses", "", *[f"- {s}" for s in rai["rai:dataUseCases"]], "",
              "## Maintenance", "", rai["rai:dataReleaseMaintenancePlan"], "",
              "## License", "",
              f"The collection is released under {lic_name}" + (f" ({lic_url})" if lic_url else "") + ". The texts "
              "remain the work of their authors; use them in line with applicable law and the sites' terms.", ""]
    return front + "\n".join(lines)


# --------------------------------------------------------------------------------------------
# publish
# --------------------------------------------------------------------------------------------


class PublishError(ValueError):
    """The dataset cannot be published as it is; the message says why."""


def require_verified(root: Path | str, regenerated: tuple[str, ...]) -> None:
    """Re-sealing a manifest must never bless a changed file: verify first (outputs we rewrite aside)."""
    problems = [p for p in verify(root) if not p.startswith(regenerated)]
    if problems:
        raise PublishError(f"{root} does not verify ({len(problems)} problem(s), first: {problems[0]}); "
                           "run `consentcrawl verify` and fix it first")


def add_outputs(ds: Dataset, rels: list[str], drop_kinds: tuple[str, ...]) -> dict[str, Any]:
    """Replace the manifest's entries of `drop_kinds` by the files `rels`, re-seal, write.

    The manifest is written last, in one atomic write (rename locally, one PUT on a store).
    """
    from pipeline.manifest.build import file_kind

    m = ds.manifest
    files = [f for f in m["files"] if f["kind"] not in drop_kinds]
    for rel in rels:
        size = ds.folder.size(rel)
        files.append({"path": rel, "sha256": ds.folder.sha256(rel), "bytes": size, "rows": None,
                      "kind": file_kind(rel)})
    m["files"] = files
    seal(m)
    if ds.remote:
        ds.folder.write_bytes(MANIFEST_NAME, manifest_bytes(m))
    else:
        dump_manifest(m, ds.root / MANIFEST_NAME)
    return m


def check_date(date: str) -> None:
    """A real calendar date YYYY-MM-DD (croissant's datePublished); 2026-13-45 is refused, not published."""
    import datetime as _dt

    ok = bool(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", date))
    try:
        ok = ok and _dt.date.fromisoformat(date).year >= 1
    except ValueError:
        ok = False
    if not ok:
        raise PublishError(f"publication date {date!r}: not a calendar date YYYY-MM-DD (--date)")


def publish(folder: str | Path, *, name: str | None = None, license: str | None = None,
            description: str | None = None, url: str | None = None, date_published: str | None = None,
            with_report: bool = True, on_warning: Callable[[str], None] | None = None) -> list[str]:
    """Write croissant.json, README.md and report/; list them in the manifest. Returns their paths."""
    if date_published is not None:
        check_date(date_published)
    ds = Dataset.open(folder)
    shown = ds.folder.url if ds.remote else Path(folder)
    require_verified(shown, (CROISSANT_NAME, CARD_NAME, "report/"))
    ds.check_parquet(ds.rels("data") + ds.rels("excluded"))
    prev = ds.manifest.get("publication") or {}
    pub = Publication(
        name=name or prev.get("name") or ds.folder.name,
        license=license or prev.get("license") or DEFAULT_LICENSE,
        description=description if description is not None else prev.get("description", ""),
        url=url if url is not None else prev.get("url", ""),
        date_published=date_published if date_published is not None else prev.get("date_published", ""),
    )
    if pub.date_published:
        check_date(pub.date_published)
    ds.manifest["publication"] = pub.to_dict()
    crawl = _crawl_range(ds)
    outputs: list[str] = []
    report_index = None
    if with_report:
        from pipeline.manifest.report import write_report

        outputs += write_report(ds)
        report_index = "report/index.html"
    ds.folder.write_bytes(CROISSANT_NAME,
                          (json.dumps(croissant(ds, pub, crawl), indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    ds.folder.write_bytes(CARD_NAME, card(ds, pub, crawl, report_index).encode("utf-8"))
    outputs += [CROISSANT_NAME, CARD_NAME]
    drop = ("croissant", "card", "report") if with_report else ("croissant", "card")
    if ds.folder.exists(SIGNATURE_NAME) and on_warning:
        on_warning(f"{ds.where(SIGNATURE_NAME)} no longer matches the updated manifest.json: sign it again")
    add_outputs(ds, sorted(outputs), drop)
    return sorted(outputs)
