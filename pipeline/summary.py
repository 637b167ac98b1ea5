"""The end-of-run summary table: counts that visibly add up, top languages, speed."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


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
    for reason, n in c["dropped_by_reason"].items():
        t.add_row(f"  dropped: {reason}", f"{n:,}")
    for agent, n in c["dropped_by_agent"].items():
        t.add_row(f"    by agent {agent}", f"{n:,}")
    for signal, n in c.get("signals_found", {}).items():
        t.add_row(f"  signal found: {signal}", f"{n:,}")
    t.add_row("errored", f"{c['errored']:,}")
    for reason, n in c["errored_by_reason"].items():
        t.add_row(f"  errored: {reason}", f"{n:,}")
    ok = "yes" if c["balanced"] else "NO"
    t.add_row("kept + dropped + errored = in", ok)
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
