"""`consentcrawl robots build|fetch|merge|check`: make, combine and query robots.txt snapshots.

Builders print a summary (entries written, rows rejected by reason with examples) and store the
same counts in the snapshot metadata. Problems a user can fix (missing file, missing columns,
bad date, unknown policy) raise `UsageError`: one line on stderr, exit 2. Rejected rows are not
errors; a build that read records or rows but wrote no entry exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.manifest.commands import EXIT_FAIL, EXIT_OK, UsageError


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the snapshot and policy errors a user can fix into UsageError (one line, exit 2)."""

    def run(args: argparse.Namespace) -> int:
        from pipeline.optout.build import BuildError
        from pipeline.optout.policy import PolicyError
        from pipeline.optout.snapshot import SnapshotError

        try:
            return int(func(args))
        except (BuildError, SnapshotError, PolicyError) as exc:
            raise UsageError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
        except OSError as exc:  # e.g. --out in a folder that cannot be written
            raise UsageError(f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc

    return run


def _finish(report: object, meta: dict[str, object], out: str) -> int:
    from pipeline.optout.build import BuildReport

    assert isinstance(report, BuildReport)
    for line in report.summary():
        print(line)
    print(f"wrote {out}: {meta['entries']} entries, snapshot id {meta['snapshot_id']}, "
          f"fetched {meta['date_min'] or '-'} .. {meta['date_max'] or '-'}")
    if meta["entries"] == 0 and report.rows_in:
        print(f"error: no entries from {report.rows_in} record(s)/row(s) read "
              f"({sum(report.rejected.values())} rejected, the rest not robots.txt; see above)", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _columns(pairs: list[str] | None) -> dict[str, str]:
    from pipeline.optout.build import TABLE_COLUMNS

    out: dict[str, str] = {}
    for pair in pairs or []:
        role, sep, name = pair.partition("=")
        role = role.strip().lower()
        if not sep or role not in TABLE_COLUMNS or not name.strip():
            raise UsageError(f"--column {pair!r}: expected ROLE=NAME with ROLE one of {', '.join(TABLE_COLUMNS)}")
        out[role] = name.strip()
    return out


def _stream_options(args: argparse.Namespace) -> object:
    """Where a build runs (here, an embedded cluster of N workers, or a scheduler) and how it spills."""
    from pipeline.optout.build import StreamOptions

    workers = getattr(args, "workers", None) or 1
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    scheduler = getattr(args, "scheduler", None)
    if scheduler is not None and "://" not in scheduler:
        raise UsageError(f"--scheduler {scheduler!r}: expected an address like tcp://HOST:PORT")
    memory = getattr(args, "memory_limit", None) or StreamOptions.memory_limit
    batch = getattr(args, "batch_rows", None) or StreamOptions.batch_rows
    if batch < 1:
        raise UsageError("--batch-rows must be at least 1")
    return StreamOptions(workers=workers, scheduler=scheduler, memory_limit=memory, batch_rows=batch,
                         temp_dir=getattr(args, "temp_dir", None))


@_guard
def cmd_build(args: argparse.Namespace) -> int:
    from pipeline import __version__
    from pipeline.optout import build

    options = _stream_options(args)
    out = Path(args.out)
    if args.from_warc:
        if args.date or args.column or args.source:
            raise UsageError("--date, --column and --source apply to --from-table, not to --from-warc")
        report = build.BuildReport("robots build --from-warc")
        made_by = f"consentcrawl {__version__} robots build --from-warc ({len(args.from_warc)} file(s))"
        meta = build.build_from_warc(args.from_warc, out, made_by, report, options)
    else:
        report = build.BuildReport("robots build --from-table")
        made_by = f"consentcrawl {__version__} robots build --from-table ({len(args.from_table)} file(s))"
        meta = build.build_from_table(args.from_table, out, made_by, report, default_date=args.date,
                                      columns=_columns(args.column), source_label=args.source, options=options)
    return _finish(report, meta, args.out)


@_guard
def cmd_fetch(args: argparse.Namespace) -> int:
    from pipeline import __version__
    from pipeline.optout import build, fetch

    if args.concurrency < 1 or args.per_host < 1 or args.timeout <= 0:
        raise UsageError("--concurrency and --per-host must be at least 1, --timeout above 0")
    report = build.BuildReport("robots fetch")
    if args.hosts:
        path = Path(args.hosts)
        if not path.is_file():
            raise UsageError(f"hosts file not found: {args.hosts}")
        report.add_input(args.hosts)
        with open(path, encoding="utf-8", errors="replace") as fh:
            origins = fetch.origins_from_lines(fh, path.name, report)
    else:
        origins = fetch.origins_from_inputs(args.from_input, report, args.tabular)
    options = fetch.FetchOptions(allow_private=args.allow_private, concurrency=args.concurrency,
                                 per_host=args.per_host, timeout=args.timeout,
                                 user_agent=args.user_agent or fetch.USER_AGENT)
    print(f"fetching robots.txt of {len(origins)} origin(s) as {options.user_agent!r} "
          f"(concurrency {options.concurrency}, {options.per_host} per host, timeout {options.timeout:g}s"
          f"{', private addresses allowed' if options.allow_private else ''})")

    def show(res: fetch.FetchResult) -> None:
        if args.verbose:
            extra = f" ({res.detail})" if res.detail else ""
            print(f"  {res.origin}: {res.status} {res.outcome}{extra}, {len(res.body)} bytes")

    rows = fetch.fetch_rows(origins, options, report, on_result=show)
    made_by = f"consentcrawl {__version__} robots fetch ({len(origins)} origin(s))"
    extra = {"fetch": {"user_agent": options.user_agent, "allow_private": options.allow_private,
                       "timeout_s": options.timeout, "concurrency": options.concurrency,
                       "per_host": options.per_host}}
    meta = build.write(rows, Path(args.out), made_by, report, extra=extra)
    return _finish(report, meta, args.out)


@_guard
def cmd_merge(args: argparse.Namespace) -> int:
    from pipeline import __version__
    from pipeline.optout import build

    options = _stream_options(args)
    report = build.BuildReport("robots merge")
    how = f" as of {args.as_of}" if args.as_of else ""
    made_by = f"consentcrawl {__version__} robots merge ({len(args.snapshots)} snapshot(s){how})"
    meta = build.merge_snapshots(args.snapshots, Path(args.out), made_by, report, as_of=args.as_of, options=options)
    return _finish(report, meta, args.out)


@_guard
def cmd_check(args: argparse.Namespace) -> int:
    from pipeline.optout.decide import RobotsFilter
    from pipeline.optout.policy import load_policy
    from pipeline.optout.snapshot import as_of_bound, load_snapshot

    policy = load_policy(args.policy)
    bound = None
    if args.as_of:
        try:
            bound = as_of_bound(args.as_of)
        except ValueError as exc:
            raise UsageError(f"--as-of {args.as_of!r} is not a date: {exc}") from exc
    queries = [(q, check_urls(q)) for q in args.urls]  # every query checked before the snapshot is read
    snap = load_snapshot(str(args.snapshot), bound)
    robots = RobotsFilter(snap, policy)
    results = []
    for query, urls in queries:
        for url in urls:
            decision = robots.decide(url)
            entry, _ = snap.lookup(url)
            results.append({"query": query, "url": url, "host": entry.host if entry else None,
                            "source": entry.source if entry else None, **decision.evidence()})
    if args.json:
        print(json.dumps({"snapshot": str(args.snapshot), "snapshot_id": snap.snapshot_id, "policy": policy.name,
                          "as_of": bound, "results": results}, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"snapshot {args.snapshot} (id {snap.snapshot_id[:16]}…, {len(snap)} hosts"
          f"{', as of ' + bound if bound else ''}); policy {policy.name} ({len(policy.agents)} agents)")
    for r in results:
        if r["query"] != r["url"]:
            print(f"{r['query']} has no scheme: read as {r['url']}")
        print(f"{'ALLOWED   ' if r['allowed'] else 'DISALLOWED'} {r['url']}")
        print(f"  basis {r['basis']}" + _rule_text(r, policy.missing_host))
        if r.get("entry_sha256"):
            print(f"  entry {r['entry_sha256']} for {r['host']} (lookup {r['lookup']}), "
                  f"fetched {r['fetched_at']}, HTTP {r['http_status']}")
            print(f"  source {r['source']}")
    return EXIT_OK


def check_urls(query: str) -> list[str]:
    """The URLs a `robots check` query stands for: itself, or http:// and https:// when it has no scheme.

    A site may serve different robots.txt files per scheme (RFC 9309 2.3: one per protocol), so a
    scheme-less query is answered for both; anything that names no web host is a usage error,
    never a silent ALLOWED.
    """
    from pipeline.host import url_host

    text = query.strip()
    has_scheme = "://" in text
    if has_scheme:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise UsageError(f"{query!r}: only http:// and https:// URLs have a robots.txt")
        urls = [text]
    else:
        urls = [f"http://{text}", f"https://{text}"]
    if not text or any(c.isspace() for c in text) or not all(url_host(u) for u in urls):
        raise UsageError(f"{query!r} is not a URL (expected e.g. https://example.org/page or example.org/page)")
    return urls


def _rule_text(r: dict[str, object], missing_host: str) -> str:
    basis = r["basis"]
    if basis == "rules" and r.get("group"):
        who = "all crawlers (User-agent: *)" if r["group"] == "*" else f"AI agent {r['group']} (its own group)"
        return (f": {who}, rule {r['rule']!r} at line {r['line']}; policy agents disallowed: "
                f"{', '.join(r.get('agents') or [])}")
    if basis == "rules":
        return ": no listed agent is disallowed"
    return {
        "no-entry": f": no robots.txt for this host in the snapshot (policy missing_host: {missing_host})",
        "unavailable-4xx": ": robots.txt was a 4xx, RFC 9309 2.3.1.3 says allow all",
        "unreachable-5xx": ": robots.txt was a 5xx or unreachable, RFC 9309 2.3.1.4 says disallow all",
        "redirect-unresolved": ": robots.txt redirected beyond what was captured/allowed (treated as unavailable)",
    }.get(str(basis), "")


def _add_stream_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=None,
                   help="read the inputs with N local Dask worker processes, one task per file (default: in process)")
    p.add_argument("--scheduler", default=None,
                   help="read the inputs on an existing Dask scheduler (tcp://HOST:PORT); the output's folder "
                        "(or --temp-dir) must be shared with its workers")
    p.add_argument("--memory-limit", dest="memory_limit", default=None,
                   help="memory for the sort/merge before it spills to disk (DuckDB syntax, default 1GB)")
    p.add_argument("--batch-rows", dest="batch_rows", type=int, default=None,
                   help="rows a task holds before it spills a run (default 20000; the output does not depend on it)")
    p.add_argument("--temp-dir", dest="temp_dir", default=None,
                   help="folder for spilled runs (default: a hidden folder next to --out, removed afterwards)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `robots` with its subcommands to the top-level parser's subparsers."""
    robots = sub.add_parser("robots", help="build, fetch, merge and query robots.txt snapshots")
    rsub = robots.add_subparsers(dest="robots_command", required=True, metavar="{build,fetch,merge,check}")

    p = rsub.add_parser("build", help="build a snapshot from robots.txt WARC files or a published table")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-warc", nargs="+", metavar="WARC",
                     help="WARC files with robots.txt responses (Common Crawl's robotstxt subset)")
    src.add_argument("--from-table", nargs="+", metavar="TABLE",
                     help="Parquet, JSONL/JSON or CSV/TSV tables of (host or domain, body[, status, date])")
    p.add_argument("--out", required=True, help="snapshot to write (Parquet)")
    p.add_argument("--date", help="table: fetch date for rows without one (YYYY-MM-DD or ISO 8601)")
    p.add_argument("--column", action="append", metavar="ROLE=NAME",
                   help="table: use column NAME for ROLE (host, body, status, date, source); repeatable")
    p.add_argument("--source", help="table: provenance label stored in each row's source (default table:FILE)")
    _add_stream_options(p)
    p.set_defaults(func=cmd_build)

    p = rsub.add_parser("fetch", help="fetch robots.txt files live (RFC 9309 rules, private addresses refused)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--hosts", metavar="FILE", help="file with one host, origin or URL per line")
    src.add_argument("--from-input", nargs="+", metavar="INPUT",
                     help="WARC/Parquet/JSONL inputs: fetch the distinct origins of their documents")
    p.add_argument("--tabular", metavar="PRESET",
                   help="Parquet/JSONL field preset, as a run config's `tabular:` (fineweb, dolma, ...)")
    p.add_argument("--out", required=True, help="snapshot to write (Parquet)")
    p.add_argument("--allow-private", action="store_true",
                   help="also fetch hosts resolving to private, loopback or link-local addresses")
    p.add_argument("--concurrency", type=int, default=32, help="fetches in flight overall (default 32)")
    p.add_argument("--per-host", type=int, default=1, help="fetches in flight per host name (default 1)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds of network time per robots.txt, redirects included (default 10)")
    p.add_argument("--user-agent", default=None, help="User-Agent header (default: consentcrawl/VERSION (+URL))")
    p.add_argument("-v", "--verbose", action="store_true", help="print one line per origin")
    p.set_defaults(func=cmd_fetch)

    p = rsub.add_parser("merge", help="merge snapshots (identical entries once), optionally as of a date")
    p.add_argument("snapshots", nargs="+", metavar="SNAPSHOT")
    p.add_argument("--out", required=True, help="snapshot to write (Parquet)")
    p.add_argument("--as-of", dest="as_of",
                   help="keep per host only the newest entry fetched on or before this date")
    _add_stream_options(p)
    p.set_defaults(func=cmd_merge)

    p = rsub.add_parser("check", help="decide URLs against a snapshot and policy, with the evidence")
    p.add_argument("urls", nargs="+", metavar="URL")
    p.add_argument("--snapshot", required=True, help="robots.txt snapshot (Parquet)")
    p.add_argument("--policy", default="apertus", help="policy name or YAML path (default apertus)")
    p.add_argument("--as-of", dest="as_of", help="use each host's newest entry fetched on or before this date")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_check)
