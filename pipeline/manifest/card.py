"""The Hugging Face dataset card (README.md) and the Responsible-AI statements it shares with croissant.json.

Every run and every revoke writes the card, so `datasets.load_dataset(DIR)` (documents) and
`load_dataset(DIR, "excluded")` (the ledger) work on any output folder as it is; `publish` writes
it again with the publisher's name, license and the report link. Generated from `manifest.json`,
never by hand, so it cannot drift from the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline.manifest.dataset import Dataset
from pipeline.summary import group_rows

CARD_NAME = "README.md"
LOOKUP_PAGE = "lookup/index.html"  # the site owners' page publish writes (pipeline/manifest/site.py)
DRAFT_NAME = "Consentcrawl dataset (unpublished)"
#: `load_dataset(DIR, name)` configs besides the default (documents): name, manifest file kind, files.
EXTRA_CONFIGS = (("excluded", "excluded", "excluded/*.parquet"),
                 ("robots_snapshots", "snapshot", "snapshots/*.parquet"))
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
    "macrolanguage": "ISO 639-3 macrolanguage of lang (zho for cmn, ara for arb), else lang itself: group by it",
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
    "group": "robots.txt group whose rule decided: \"*\" (all crawlers) or the named AI agent of the policy",
    "agents": "every AI agent of the policy that the robots.txt rules disallow for this URL",
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


def crawl_range(ds: Dataset) -> tuple[str, str]:
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


def languages(manifest: dict[str, Any]) -> list[str]:
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


def render_card(ds: Dataset, pub: Publication | None = None, crawl: tuple[str, str] = ("", ""),
                report_index: str | None = None) -> str:
    """The card's text. Without `pub` (a run or revoke, before `publish`): no license is claimed."""
    m, c = ds.manifest, ds.manifest["counts"]
    pub = pub or draft_publication(ds)
    build = m.get("build") or {}
    langs = languages(m)
    lic_name, lic_url = LICENSES.get(pub.license, (pub.license, ""))
    front = "---\n"
    if pub.license in LICENSES:
        front += f"license: {pub.license}\n"
    elif pub.license:
        front += f"license: other\nlicense_name: {json.dumps(pub.license)}\n"
    else:
        lic_name = "not stated yet (the publisher sets it with `consentcrawl publish --license`)"
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
    for name, kind, pattern in EXTRA_CONFIGS:
        if ds.entries(kind):
            front += f"- config_name: {name}\n  data_files:\n  - split: train\n    path: {pattern}\n"
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
        f"{m['pipeline']['version']} (code sha256 {m['pipeline']['code_sha256'][:12]}…; commit "
        f"{build.get('source_commit', 'unknown')[:12]}, tree {build.get('source_tree', 'unknown')}). "
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
    filtering = m.get("robots_filtering") or {}
    if filtering and not filtering.get("applied"):
        lines += [f"**Note: {filtering['statement']}.** Pages were not checked against any site's robots.txt.", ""]
    grouped = {r: g for r, g in c.get("dropped_by_group", {}).items() if g}
    if grouped:
        lines += ["| reason | robots.txt group whose rule excluded the page | documents |", "|---|---|---:|"]
        for reason, by_group in grouped.items():
            lines += [f"| `{reason}` | {label} | {n:,} |" for label, n in group_rows(by_group)]
        lines += ["", "*All crawlers (User-agent: \\*)*: the site's rules exclude every crawler, not only AI ones; "
                  "*AI agent X*: a group naming that agent excluded it. Each ledger row lists, in `agents`, every "
                  "agent of the policy that the rules disallow for that URL.", ""]
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
        (f"Crawl dates of the documents: {crawl[0]} to {crawl[1]}." if crawl[0] else
         "Crawl dates of the documents: see `consentcrawl publish`, which scans them."),
        "",
        "## For site owners: is my site in here? How do I get it removed?",
        "",
        "```bash",
        "consentcrawl lookup DIR https://example.org/some/page   # one page",
        "consentcrawl lookup DIR www.example.org                 # one host",
        "consentcrawl lookup DIR example.org                     # every host of a domain",
        "```",
        "",
        *([f"Or in a browser, without installing anything: [`{LOOKUP_PAGE}`]({LOOKUP_PAGE}) (a static page "
           "published with the data; it reads the files of this folder and nothing else).", ""]
          if ds.folder.exists(LOOKUP_PAGE) else []),
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


def draft_publication(ds: Dataset) -> Publication:
    """What a run's card says before `publish`: the publication so far, else a generic name (not the
    folder's: the same run into two folders writes the same bytes) and no license claimed."""
    prev = ds.manifest.get("publication") or {}
    return Publication(name=prev.get("name") or DRAFT_NAME, license=prev.get("license", ""),
                       description=prev.get("description", ""), url=prev.get("url", ""),
                       date_published=prev.get("date_published", ""))


def add_card(ds: Dataset) -> dict[str, Any]:
    """Write README.md for the manifest held in memory and list it there; the caller then writes the
    manifest once (runs and revokes: no read-back and re-validation of a large manifest)."""
    from pipeline.manifest.outputs import list_outputs

    ds.folder.write_bytes(CARD_NAME, render_card(ds).encode("utf-8"))
    return list_outputs(ds, [CARD_NAME], ("card",))
