"""The end-of-run summary table: counts that visibly add up, top languages, speed."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def group_label(group: str) -> str:
    """How a robots.txt group is named to people: `*` is every crawler, not the policy's first agent."""
    return "all crawlers (User-agent: *)" if group == "*" else f"AI agent {group} (its own group)"


def group_rows(by_group: dict[str, int]) -> list[tuple[str, int]]:
    """`*` first (a site blocking everyone), then named agents by count."""
    star = [(group_label("*"), by_group["*"])] if "*" in by_group else []
    named = sorted(((g, n) for g, n in by_group.items() if g != "*"), key=lambda kv: (-kv[1], kv[0]))
    return star + [(group_label(g), n) for g, n in named]


def render_summary(manifest: dict[str, Any], wall_seconds: float, workers: int, out_dir: str,
                   console: Console | None = None) -> None:
    console = console or Console()
    c = manifest["counts"]
    t = Table(title=f"consentcrawl run: {out_dir}", show_header=True, header_style="bold")
    t.add_column("what")
    t.add_column("count", justify="right")
    t.add_row("records in", f"{c['records_in']:,}")
    t.add_row("kept", f"{c['kept']:,}")
    t.add_row("dropped", f"{c['dropped']:,}")
    filtering = manifest.get("robots_filtering") or {}
    if filtering and not filtering.get("applied"):
        t.add_row("[bold red]robots.txt[/bold red]", f"[bold red]{filtering['statement']}[/bold red]")
    for reason, n in c["dropped_by_reason"].items():
        t.add_row(f"  dropped: {reason}", f"{n:,}")
        for group, g in group_rows(c.get("dropped_by_group", {}).get(reason, {})):
            t.add_row(f"    {group}", f"{g:,}")
    for signal, n in c.get("signals_found", {}).items():
        t.add_row(f"  signal found: {signal}", f"{n:,}")
    t.add_row("errored", f"{c['errored']:,}")
    for reason, n in c["errored_by_reason"].items():
        t.add_row(f"  errored: {reason}", f"{n:,}")
    ok = "yes" if c["balanced"] else "NO"
    t.add_row("kept + dropped + errored = in", ok)
    cc = manifest.get("cc_index")
    if cc:  # index-first run: the saving of deciding before downloading (docs/index-first.md)
        whole, got = cc["bytes_whole_warcs"], cc["bytes_fetched"]
        t.add_row("index-first: rows decided before download", f"{cc['rows_decided_at_plan']:,} of "
                  f"{cc['rows_selected']:,}")
        t.add_row("index-first: bytes fetched", f"{got:,} of {whole:,} ({got / whole:.1%})" if whole else f"{got:,}")
    langs = list(c["documents_by_language"].items())
    for label, n in langs[:10]:
        t.add_row(f"  language {label}", f"{n:,}")
    if len(langs) > 10:
        t.add_row(f"  … {len(langs) - 10} more languages", f"{sum(n for _, n in langs[10:]):,}")
    docs = c["records_in"]
    t.add_row("wall time", f"{wall_seconds:.2f} s ({workers} workers)")
    t.add_row("records/s", f"{docs / wall_seconds:,.1f}" if wall_seconds > 0 else "-")
    failed = [i for i in manifest["inputs"] if i["status"] != "complete"]
    if failed:
        t.add_row("FAILED shards", str(len(failed)))
    console.print(t)
