"""`consentcrawl publish`: croissant.json (Croissant 1.1 + RAI), the enriched dataset card, report/.

All generated from the manifest (and a scan of the crawl dates), never written by hand, so they
cannot drift from the data. Croissant lists every data/ledger/snapshot file with its sha256; the
card (pipeline/manifest/card.py, also written by every run and revoke) gains the publisher's
name, license and the report link. publish adds its outputs to the manifest's file list and
re-seals it: `verify` covers them like any other file (see docs/manifest.md). A folder on a
store (s3://…) is published in place: each output is one atomic PUT, the manifest last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.manifest.build import SIGNATURE_NAME
from pipeline.manifest.card import (
    CARD_NAME,
    DEFAULT_LICENSE,
    FIELD_DOCS,
    LICENSES,
    Publication,
    crawl_range,
    default_description,
    languages,
    rai_fields,
    render_card,
)
from pipeline.manifest.dataset import Dataset
from pipeline.manifest.outputs import PublishError, add_outputs, require_verified

__all__ = ["CROISSANT_NAME", "PublishError", "check_date", "croissant", "publish"]

CROISSANT_NAME = "croissant.json"

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
        if pa.types.is_list(f.type) and (dt := _data_type(f.type.value_type)):  # e.g. the ledger's `agents`
            out.append({**base, "dataType": dt, "isArray": True, "arrayShape": "-1",
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
        "inLanguage": languages(m),
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
    """Write croissant.json, README.md, report/ and lookup/; list them in the manifest. Returns their paths."""
    if date_published is not None:
        check_date(date_published)
    ds = Dataset.open(folder)
    shown = ds.folder.url if ds.remote else Path(folder)
    require_verified(shown, (CROISSANT_NAME, CARD_NAME, "report/", "lookup/"))
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
    crawl = crawl_range(ds)
    outputs: list[str] = []
    from pipeline.manifest.site import removal_statement, write_lookup

    outputs += write_lookup(ds, removal=removal_statement(ds.manifest))  # before card and report: they link it
    report_index = None
    if with_report:
        from pipeline.manifest.report import write_report

        outputs += write_report(ds)
        report_index = "report/index.html"
    ds.folder.write_bytes(CROISSANT_NAME,
                          (json.dumps(croissant(ds, pub, crawl), indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    ds.folder.write_bytes(CARD_NAME, render_card(ds, pub, crawl, report_index).encode("utf-8"))
    outputs += [CROISSANT_NAME, CARD_NAME]
    drop = ("croissant", "card", "report", "lookup") if with_report else ("croissant", "card", "lookup")
    if ds.folder.exists(SIGNATURE_NAME) and on_warning:
        on_warning(f"{ds.where(SIGNATURE_NAME)} no longer matches the updated manifest.json: sign it again")
    add_outputs(ds, sorted(outputs), drop)
    return sorted(outputs)
