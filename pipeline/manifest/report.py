"""`consentcrawl report`: report/index.html with PNG plots, readable by someone new to the run.

Numbers come from the manifest; per-TLD and byte shares from a scan of the `host`,
`reason` and `source_length` columns. Plots are deterministic (no timestamps in the PNGs).
After writing, the files are added to the manifest like publish's outputs. A folder on a store
(s3://…) gets the same files, each one atomic PUT.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from matplotlib.ticker import MaxNLocator

from pipeline.manifest.dataset import Dataset
from pipeline.manifest.outputs import add_outputs, require_verified
from pipeline.summary import group_rows

REPORT_DIR = "report"
# Reference: Apertus tech report (2025): honouring robots.txt opt-outs retroactively removed about
# 8% of English and 4% of multilingual FineWeb tokens.
APERTUS = {"English tokens": 8.0, "multilingual tokens": 4.0}
COLORS = {"kept": "#2b8a3e", "optout": "#c92a2a", "revoked": "#e8590c", "content": "#868e96",
          "nondoc": "#ced4da", "error": "#5f3dc4", "lang": "#1971c2"}


def by_count(counter: dict[str, int]) -> list[tuple[str, int]]:
    """Largest first (manifest counters are stored sorted by key)."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def _category(reason: str) -> str:
    if reason.startswith("optout:"):
        return "optout"
    if reason.startswith("revoked:"):
        return "revoked"
    if reason.startswith("not-a-document:"):
        return "nondoc"
    return "content"


def _tld_expr(host: pl.Expr) -> pl.Expr:
    """'.' + the last label of the host; IP addresses grouped as '(IP)' (vectorised: no Python per row)."""
    last = host.str.split(".").list.last()
    return (pl.when(host == "").then(pl.lit("(no host)"))
            .when(last.str.contains(r"^\d+$") | host.str.contains(":")).then(pl.lit("(IP)"))
            .otherwise(pl.lit(".") + last))


def _stats(ds: Dataset) -> dict[str, Any]:
    """Per-TLD documents and record bytes, kept vs opted out vs revoked, from the Parquet files."""
    if ds.remote:
        return _stats_of(_remote_rows(ds))
    frames = []
    if ds.paths("data"):
        frames.append(pl.scan_parquet([str(p) for p in ds.paths("data")], glob=False)
                      .select("host", "source_length", pl.lit("kept").alias("reason")))
    if ds.paths("excluded"):
        frames.append(pl.scan_parquet([str(p) for p in ds.paths("excluded")], glob=False)
                      .select("host", "source_length", "reason"))
    if not frames:
        return {"tld": pl.DataFrame(), "bytes": {}}
    return _stats_of(pl.concat(frames))


def _remote_rows(ds: Dataset) -> pl.LazyFrame | None:
    """The same three columns from a store: only they are read (pyarrow through fsspec)."""
    frames = []
    if ds.rels("data"):
        frames.append(ds.collect(ds.rels("data"), pl.lit(True), ["host", "source_length"]).lazy()
                      .select("host", "source_length", pl.lit("kept").alias("reason")))
    if ds.rels("excluded"):
        frames.append(ds.collect(ds.rels("excluded"), pl.lit(True), ["host", "source_length", "reason"]).lazy()
                      .select("host", "source_length", "reason"))
    return pl.concat(frames, how="vertical_relaxed") if frames else None


def _stats_of(rows: pl.LazyFrame | None) -> dict[str, Any]:
    if rows is None:
        return {"tld": pl.DataFrame(), "bytes": {}}
    df = rows.with_columns(
        pl.col("source_length").fill_null(0),
        pl.when(pl.col("reason") == "kept").then(pl.lit("kept"))
        .when(pl.col("reason").str.starts_with("optout:")).then(pl.lit("optout"))
        .when(pl.col("reason").str.starts_with("revoked:")).then(pl.lit("revoked"))
        .otherwise(pl.lit("other")).alias("cat"),
        _tld_expr(pl.col("host").fill_null("")).alias("tld"),
    ).collect()
    tld = (df.group_by("tld", "cat").agg(pl.len().alias("n"))
           .pivot(on="cat", index="tld", values="n").fill_null(0))
    for col in ("kept", "optout", "revoked", "other"):
        if col not in tld.columns:
            tld = tld.with_columns(pl.lit(0, dtype=pl.UInt32).alias(col))
    tld = tld.with_columns((pl.col("kept") + pl.col("optout") + pl.col("revoked")).alias("decided"))
    tld = tld.sort(["decided", "tld"], descending=[True, False])
    by = df.group_by("cat").agg(pl.col("source_length").sum().alias("b"), pl.len().alias("n"))
    return {"tld": tld, "bytes": {r["cat"]: int(r["b"]) for r in by.to_dicts()},
            "docs": {r["cat"]: int(r["n"]) for r in by.to_dicts()}}


class _Plots:
    """Matplotlib figures saved as deterministic PNG bytes."""

    def __init__(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.plt = plt
        plt.rcParams.update({"font.size": 11, "axes.titlesize": 13, "axes.titleweight": "bold",
                             "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "consentcrawl"})

    def save(self, fig: Any) -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
        self.plt.close(fig)
        return buf.getvalue()

    def hbar(self, labels: list[str], values: list[float], title: str, xlabel: str,
             colors: list[str] | str = COLORS["lang"], fmt: Callable[[float], str] = lambda v: f"{v:,.0f}") -> bytes:
        plt = self.plt
        fig, ax = plt.subplots(figsize=(9, max(2.2, 0.38 * len(labels) + 1.2)))
        if not labels:
            ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            ax.set_title(title)
            return self.save(fig)
        y = list(range(len(labels)))[::-1]
        ax.barh(y, values, color=colors)
        ax.set_yticks(y, labels)
        ax.set_xlabel(xlabel)
        if all(float(v).is_integer() for v in values):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, loc="left")
        top = max(values) or 1
        for yi, v in zip(y, values, strict=True):
            ax.text(v + top * 0.01, yi, fmt(v), va="center", fontsize=10)
        ax.set_xlim(0, top * 1.18)
        return self.save(fig)


def _funnel_steps(c: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(label, documents remaining, colour) from records read down to kept, in pipeline order."""
    steps = [("records read", c["records_in"], COLORS["nondoc"])]
    n = c["records_in"] - c["non_document_records"]
    steps.append(("documents (minus WARC request/metadata records)", n, COLORS["lang"]))
    if c["errored"]:
        n -= c["errored"]
        steps.append((f"minus errors ({c['errored']:,})", n, COLORS["error"]))
    order = sorted((r for r in c["dropped_by_reason"] if not r.startswith("not-a-document:")),
                   key=lambda r: ({"optout": 0, "content": 1, "revoked": 2}[_category(r)], r))
    for reason in order:
        k = c["dropped_by_reason"][reason]
        n -= k
        steps.append((f"minus {reason} ({k:,})", n, COLORS[_category(reason)]))
    steps.append(("kept in data/", c["kept"], COLORS["kept"]))
    return steps


def write_report(ds: Dataset) -> list[str]:
    """Write report/index.html and its PNGs; return their paths relative to the dataset folder."""
    m, c = ds.manifest, ds.manifest["counts"]
    for name in ds.folder.files_in(REPORT_DIR):
        ds.folder.remove(f"{REPORT_DIR}/{name}")
    st = _stats(ds)
    p = _Plots()
    plt = p.plt
    images: dict[str, bytes] = {}

    steps = _funnel_steps(c)
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(steps) + 1.4))
    y = list(range(len(steps)))[::-1]
    ax.barh(y, [s[1] for s in steps], color=[s[2] for s in steps])
    ax.set_yticks(y, [s[0] for s in steps])
    top = max(s[1] for s in steps) or 1
    for yi, s in zip(y, steps, strict=True):
        ax.text(s[1] + top * 0.01, yi, f"{s[1]:,}", va="center", fontsize=10)
    ax.set_xlim(0, top * 1.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("records / documents remaining")
    ax.set_title("The run's funnel: from records read to documents kept", loc="left")
    images["funnel.png"] = p.save(fig)

    langs = by_count(c["documents_by_language"])[:25]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, max(3, 0.34 * len(langs) + 1.5)), sharey=True)
    y = list(range(len(langs)))[::-1]
    a1.barh(y, [n for _, n in langs], color=COLORS["lang"])
    a1.set_yticks(y, [lbl for lbl, _ in langs])
    more = len(c["documents_by_language"]) - len(langs)
    a1.set_title("Documents per language" + (f" (top 25; {more} more)" if more > 0 else ""), loc="left")
    a1.set_xlabel("documents")
    a1.xaxis.set_major_locator(MaxNLocator(integer=True))
    a2.barh(y, [c["chars_by_language"].get(lbl, 0) / 1000 for lbl, _ in langs], color=COLORS["kept"])
    a2.set_title("Characters per language", loc="left")
    a2.set_xlabel("thousand characters")
    images["languages.png"] = p.save(fig)

    reasons = by_count(c["dropped_by_reason"]) + by_count({f"error: {k}": v for k, v in c["errored_by_reason"].items()})
    images["drops_by_reason.png"] = p.hbar(
        [r for r, _ in reasons], [v for _, v in reasons], "Why records were dropped", "records",
        [COLORS["error"] if r.startswith("error: ") else COLORS[_category(r)] for r, _ in reasons])

    groups = [(f"{label} — {reason}", n) for reason, by_group in c.get("dropped_by_group", {}).items()
              for label, n in group_rows(by_group)]
    images["drops_by_agent.png"] = p.hbar(
        [g for g, _ in groups], [v for _, v in groups],
        "Opt-out drops by the robots.txt group whose rule matched", "documents", COLORS["optout"])

    tld = st["tld"].head(15) if len(st["tld"]) else st["tld"]
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.42 * len(tld) + 1.5)))
    if len(tld):
        names = tld["tld"].to_list()
        y = list(range(len(names)))[::-1]
        kept, opt, rev = tld["kept"].to_list(), tld["optout"].to_list(), tld["revoked"].to_list()
        ax.barh(y, kept, color=COLORS["kept"], label="kept")
        ax.barh(y, opt, left=kept, color=COLORS["optout"], label="dropped: AI opt-out")
        ax.barh(y, rev, left=[k + o for k, o in zip(kept, opt, strict=True)], color=COLORS["revoked"],
                label="revoked later")
        ax.set_yticks(y, names)
        top = max(k + o + r for k, o, r in zip(kept, opt, rev, strict=True)) or 1
        for yi, k, o, r in zip(y, kept, opt, rev, strict=True):
            if o + r:
                ax.text(k + o + r + top * 0.01, yi, f"{100 * (o + r) / (k + o + r):.0f}% removed", va="center",
                        fontsize=9)
        ax.set_xlim(0, top * 1.25)
        ax.legend(loc="lower right", frameon=False)
    ax.set_xlabel("documents")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Documents kept and removed by top-level domain (top 15)", loc="left")
    images["drops_by_tld.png"] = p.save(fig)

    docs, byts = st.get("docs", {}), st.get("bytes", {})
    denom_d, denom_b = sum(docs.values()), sum(byts.values())  # every document: kept, dropped, errored
    share = {
        "documents": (100 * docs.get("optout", 0) / denom_d if denom_d else 0,
                      100 * docs.get("revoked", 0) / denom_d if denom_d else 0),
        "raw record bytes": (100 * byts.get("optout", 0) / denom_b if denom_b else 0,
                             100 * byts.get("revoked", 0) / denom_b if denom_b else 0),
    }
    fig, ax = plt.subplots(figsize=(9, 4.2))
    labels = list(share)
    xs = list(range(len(labels)))
    ax.bar(xs, [share[k][0] for k in labels], color=COLORS["optout"], width=0.5, label="AI opt-out at run time")
    ax.bar(xs, [share[k][1] for k in labels], bottom=[share[k][0] for k in labels], color=COLORS["revoked"],
           width=0.5, label="revoked later")
    for x, k in zip(xs, labels, strict=True):
        tot = share[k][0] + share[k][1]
        ax.text(x, tot + 0.3, f"{tot:.1f}%", ha="center", fontsize=11, fontweight="bold")
    for (name, v), style in zip(APERTUS.items(), ("--", ":"), strict=True):
        ax.axhline(v, color="#495057", linestyle=style, linewidth=1)
        ax.text(len(labels) - 0.65, v, f"Apertus (FineWeb):\n~{v:.0f}% of {name}", va="center", ha="left",
                fontsize=9)
    ax.set_xlim(-0.5, len(labels) + 0.6)
    ax.set_xticks(xs, ["share of documents", "share of raw record bytes"])
    ax.set_ylabel("% of all documents considered, removed")
    ax.set_ylim(0, max(10.0, max(sum(v) for v in share.values()) * 1.3))
    ax.set_title("Share of content removed for opt-outs", loc="left")
    ax.legend(loc="upper left", frameon=False)
    images["content_removed.png"] = p.save(fig)

    for name, data in images.items():
        ds.folder.write_bytes(f"{REPORT_DIR}/{name}", data)
    html_text = _html(m, st, share, steps)
    if ds.folder.exists("lookup/index.html"):  # written by publish before the report
        html_text = html_text.replace("\n</body></html>", "\n<p>Site owners without the tool: the page "
                                      "<a href='../lookup/index.html'>lookup/index.html</a> answers in a browser."
                                      "</p>\n</body></html>")
    ds.folder.write_bytes(f"{REPORT_DIR}/index.html", html_text.encode("utf-8"))
    return sorted(f"{REPORT_DIR}/{n}" for n in [*images, "index.html"])


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(f'{v:,}' if isinstance(v, int) else str(v))}</td>" for v in r) + "</tr>"
        for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _index_first(cc: dict[str, Any] | None) -> list[str]:
    """Index-first runs: what deciding from the cc-index before downloading saved (docs/index-first.md)."""
    if not cc:
        return []
    whole, fetched = cc["bytes_whole_warcs"], cc["bytes_fetched"]
    return [f"<p><b>Index-first run.</b> {cc['rows_selected']:,} rows of {len(cc['files'])} cc-index file(s) were "
            f"selected ({sum(cc['rows_filtered_out'].values()):,} removed by the index filters); "
            f"{cc['rows_decided_at_plan']:,} were decided from the index alone and never downloaded. "
            f"<b>{fetched:,}</b> bytes were fetched by range out of {whole:,} bytes of whole WARC files "
            f"({_pct(fetched, whole)}; {_pct(whole - fetched, whole)} not downloaded).</p>"]


def _html(m: dict[str, Any], st: dict[str, Any], share: dict[str, tuple[float, float]],
          steps: list[tuple[str, int, str]]) -> str:
    c, p = m["counts"], m["policy"]
    docs = c["records_in"] - c["non_document_records"]
    robots = sum(v for k, v in c["dropped_by_reason"].items() if k.startswith("optout:"))
    e = html.escape
    pub = (m.get("publication") or {}).get("name", "this dataset")
    snaps = _table(["file", "snapshot id", "entries", "fetched between", "used for"],
                   [[s["path"], s["snapshot_id"][:16] + "…", s["entries"], f"{s['date_min']} – {s['date_max']}",
                     s["role"]] for s in m["snapshots"]])
    tld_rows = [[r["tld"], r["kept"], r["optout"], r["revoked"]] for r in st["tld"].head(15).to_dicts()] \
        if len(st["tld"]) else []
    revs = m["lineage"]["revocations"]
    build = m.get("build") or {}
    filtering = m.get("robots_filtering") or {}
    no_robots = ([f"<p class=warning><b>Note: {e(filtering['statement'])}.</b> Pages were not checked against any "
                  "site's robots.txt.</p>"] if filtering and not filtering.get("applied") else [])
    sections = [
        f"<h1>{e(pub)}: what this run did</h1>",
        f"<p class=lead>The pipeline read <b>{c['records_in']:,}</b> records from <b>{len(m['inputs'])}</b> "
        f"web-crawl shard(s). {c['non_document_records']:,} of them are WARC bookkeeping (requests, metadata), "
        f"leaving <b>{docs:,}</b> documents. <b>{robots:,}</b> ({_pct(robots, docs)}) were dropped because the "
        f"site opts out of AI crawlers (robots.txt{', ' + e(', '.join(p['signals'])) if p['signals'] else ''}); "
        f"<b>{c['kept']:,}</b> documents "
        f"({c['chars_kept']:,} characters, {len(c['documents_by_language'])} language labels) are in the dataset "
        f"(data/). Every dropped document is listed, with the reason, in the exclusion ledger (excluded/).</p>",
        f"<p>Dataset version <b>{m['dataset']['version']}</b> · consentcrawl {e(m['pipeline']['version'])} "
        f"(code sha256 <code>{e(m['pipeline']['code_sha256'][:12])}</code>, commit "
        f"<code>{e(build.get('source_commit', 'unknown')[:12])}</code>, "
        f"tree {e(build.get('source_tree', 'unknown'))}) · "
        f"config sha256 <code>{e(m['config_sha256'][:16])}…</code> · opt-out policy <b>{e(p['name'])}</b>. "
        f"All numbers come from <a href='../manifest.json'>manifest.json</a>; check the files with "
        f"<code>consentcrawl verify</code>.</p>",
        *no_robots,
        *_index_first(m.get("cc_index")),
        "<h2>1. The funnel</h2>",
        "<img src='funnel.png' alt='funnel from records read to documents kept'>",
        "<p>Read top to bottom: each bar is what remains after the step named on it. The robots.txt decision "
        "comes first, before any text is extracted, so opted-out pages are never processed. <i>no-text</i> means "
        "the page had no extractable main text.</p>",
        _table(["step", "remaining"], [[s[0], s[1]] for s in steps]),
        "<h2>2. Languages</h2>",
        "<img src='languages.png' alt='documents and characters per language'>",
        "<p>Labels are ISO 639-3 language + ISO 15924 script (eng_Latn = English in Latin script; und = the "
        f"language-ID model, {e(m['langid']['model'])}, was not confident enough). Left: how many documents; "
        "right: how much text. A language with few but long documents shows up more on the right.</p>",
        "<h2>3. Why records were dropped</h2>",
        "<img src='drops_by_reason.png' alt='drops by reason'>",
        "<p>Red: AI opt-outs (robots.txt and the policy's signals). Orange: removed after release "
        "(revocations). Grey: pages without usable text. Light grey: WARC request/metadata records, which are "
        "never documents. Purple: processing errors.</p>",
        _table(["reason", "records"], [[k, v] for k, v in by_count(c["dropped_by_reason"])]
               + [[f"error: {k}", v] for k, v in by_count(c["errored_by_reason"])]),
        "<h2>4. Whose robots.txt rule excluded a page</h2>",
        "<img src='drops_by_agent.png' alt='opt-out drops by robots.txt group'>",
        f"<p>Policy <b>{e(p['name'])}</b> checks these agents, in order: {e(', '.join(p['agents']))}. A page is "
        "dropped when any of them may not fetch it. <i>All crawlers (User-agent: *)</i> means the rule that "
        "decided sits in the site's <code>*</code> group: the site excludes every crawler, not only AI ones. "
        "<i>AI agent X</i> means a group naming that agent decided. The ledger's <code>agents</code> column "
        "lists every policy agent the rules disallow for each URL.</p>",
        "<h2>5. By top-level domain</h2>",
        "<img src='drops_by_tld.png' alt='kept and removed documents by top-level domain'>",
        "<p>Opt-outs are not spread evenly: they cluster on the sites (and so the countries and languages) whose "
        "publishers block AI crawlers.</p>",
        _table(["TLD", "kept", "AI opt-out", "revoked"], tld_rows),
        "<h2>6. Share of content removed</h2>",
        "<img src='content_removed.png' alt='share of content removed for opt-outs'>",
        f"<p>Opt-outs removed <b>{share['documents'][0] + share['documents'][1]:.1f}%</b> of documents and "
        f"<b>{share['raw record bytes'][0] + share['raw record bytes'][1]:.1f}%</b> of raw (compressed) record "
        "bytes. For comparison, the Apertus report found that honouring robots.txt opt-outs removed about 8% of "
        "English and 4% of multilingual tokens from FineWeb. Because opted-out pages are dropped before text "
        "extraction, their characters and language are unknown here; documents and record bytes are the measures "
        "available.</p>",
        "<h2>7. Provenance</h2>",
        f"<p>Opt-out snapshots used:</p>{snaps}",
        f"<p>Language ID: {e(m['langid']['model'])}, model sha256 <code>{e(m['langid']['model_sha256'])}</code>, "
        f"{m['langid']['labels']} labels.</p>",
        "<p>Revisions: " + (", ".join(f"version {r['version']} removed {r['removed']:,} ({e(r['reason'])})"
                                      for r in revs) if revs else "none; this is the pipeline run itself") + ".</p>",
        "<p>Site owners: <code>consentcrawl lookup DIR example.org</code> shows whether a page, host or domain is "
        "in the dataset, or why it was excluded.</p>",
    ]
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
             "line-height:1.5;color:#212529}img{max-width:100%;border:1px solid #dee2e6;margin:.5rem 0}"
             "table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #dee2e6;padding:.2rem .6rem;"
             "text-align:left}td:not(:first-child){text-align:right}.lead{font-size:1.1rem}code{background:#f1f3f5}")
    return (f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>{e(pub)}: run report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def report(folder: str | Path) -> list[str]:
    """Write report/ and list it in the manifest (replacing an older report)."""
    ds = Dataset.open(folder)
    require_verified(ds.folder.url if ds.remote else ds.root, (f"{REPORT_DIR}/",))
    outputs = write_report(ds)
    add_outputs(ds, outputs, ("report",))
    return outputs
