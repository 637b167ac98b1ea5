"""`consentcrawl` command line. Errors a user can fix print one line and exit 2."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.config import ConfigError, RunConfig, load_config
from pipeline.manifest.commands import UsageError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        sys.stderr.write(f"consentcrawl: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


class _Renamed(argparse.Action):
    """`run --dry-run` was the plan while `consentcrawl dry-run` runs everything: one name each now."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        parser.error("`run --dry-run` is now `run --plan` (print the plan without running); "
                     "`consentcrawl dry-run` runs the whole pipeline on the bundled sample")


def _sample_config() -> Path:
    import pipeline.sample

    return Path(next(iter(pipeline.sample.__path__))) / "dry-run.yaml"


def _plan(config: RunConfig, args: argparse.Namespace) -> int:
    """What a run would do, without doing it."""
    workers = args.workers or config.workers
    where = args.scheduler or f"embedded LocalCluster, {workers} worker process(es)"
    print(f"plan: {len(config.inputs)} shard(s) on {where} → {config.output}")
    print(f"policy {config.policy.name} ({len(config.policy.agents)} agents, scope {config.policy.scope}); "
          f"config sha256 {config.sha256[:16]}…")
    if config.robots_snapshot is None:
        print("robots snapshot: none — no robots.txt filtering is applied")
    else:
        as_of = f" as of {config.robots_as_of}" if config.robots_as_of else ""
        print(f"robots snapshot: {config.display(config.robots_snapshot)}{as_of}")
    for i, uri in enumerate(config.inputs):
        print(f"  shard {i:05d}: {config.display(uri)}")
    return EXIT_OK


def _run(config_path: Path, args: argparse.Namespace, overrides: dict[str, object]) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from pipeline.runner import run_pipeline
    from pipeline.shard import ShardResult
    from pipeline.summary import render_summary

    config = load_config(config_path, overrides)
    if args.scheduler:
        from pipeline.runner import parse_scheduler

        parse_scheduler(args.scheduler)
    if getattr(args, "plan", False):
        return _plan(config, args)
    from pipeline.runner import OutputInUse, OutputLock, check_output
    from pipeline.storage import OutputFolder

    out = OutputFolder(config.output)
    if OutputLock(out).held_by_other():
        raise OutputInUse(f"another consentcrawl run is writing into {out}; wait for it or choose another folder")
    check_output(out, config, getattr(args, "resume", False))  # refusals come before any other output
    console = Console()
    what = (f"index-first, {len(config.cc_index.files)} index file(s)" if config.cc_index is not None
            else f"{len(config.inputs)} input shard(s)")
    console.print(f"consentcrawl {__version__}: {what} → {config.output}")
    live = console.is_terminal
    progress = Progress(TextColumn("shards"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                        TimeRemainingColumn(), console=console, disable=not live)
    task = progress.add_task("run", total=len(config.inputs), rate="")
    records = 0
    t0 = time.perf_counter()

    def on_start(total: int, resumed: int, dashboard: str) -> None:
        if dashboard:
            console.print(f"Dask dashboard: {dashboard}")
        if resumed:
            console.print(f"resuming: {resumed} of {total} shard(s) already complete")
        progress.update(task, completed=resumed)

    def on_shard(r: ShardResult, done: int, total: int) -> None:
        nonlocal records
        records += r.records_in
        rate = f"{records / max(time.perf_counter() - t0, 1e-9):,.0f} records/s"
        progress.update(task, completed=done, rate=rate)
        if not live:
            status = f"FAILED ({r.failed})" if r.failed else f"{r.records_in} records in {r.seconds:.2f}s"
            console.print(f"  [{done}/{total}] {r.uri}: {status}")

    def on_note(text: str) -> None:
        console.print(f"note: {text}")

    with progress:
        report = run_pipeline(config, scheduler=args.scheduler, workers=args.workers,
                              resume=getattr(args, "resume", False), on_shard=on_shard, on_start=on_start,
                              on_note=on_note)
    render_summary(report.manifest, report.wall_seconds, report.workers, str(report.out_dir), console)
    if report.failed:
        for f in report.failed:
            console.print(f"[red]failed shard: {f}[/red]")
        console.print(f"[red]{len(report.failed)} shard(s) failed; the run is incomplete (exit 1)[/red]")
        return EXIT_FAIL
    return EXIT_OK


def cmd_dry_run(args: argparse.Namespace) -> int:
    # The sample config lives in the package: its output goes to the current folder unless --out says.
    return _run(_sample_config(), args, {"output": args.out or "consentcrawl-dry-run", "workers": args.workers,
                                         "policy": args.policy})


def cmd_run(args: argparse.Namespace) -> int:
    return _run(Path(args.config), args, {"output": args.out, "workers": args.workers})


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="consentcrawl", description="Opt-out-respecting, auditable web-crawl datasets.")
    ap.add_argument("--version", action="version", version=f"consentcrawl {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add_exec(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", help="output dataset folder")
        p.add_argument("--workers", type=int, help="number of local Dask worker processes")
        p.add_argument("--scheduler", help="address of an existing Dask scheduler (tcp://HOST:PORT)")

    p = sub.add_parser("dry-run", help="run the whole pipeline on the bundled sample shard")
    add_exec(p)
    p.add_argument("--policy", help="opt-out policy name or YAML path (default: apertus)")
    p.set_defaults(func=cmd_dry_run)

    p = sub.add_parser("run", help="run the pipeline from a YAML config",
                       epilog="Every config key, with its type, default and meaning: docs/config.md "
                              "(or `python -m pipeline.config_reference` where the docs are not installed).")
    p.add_argument("--config", required=True, help="YAML run config")
    add_exec(p)
    p.add_argument("--resume", action="store_true",
                   help="skip shards finished by an interrupted run of the same config into the same --out")
    p.add_argument("--plan", action="store_true",
                   help="print the plan (shards, workers, output, snapshot) and exit without running")
    p.add_argument("--dry-run", action=_Renamed, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_run)

    from pipeline.manifest.commands import register as register_dataset_commands

    register_dataset_commands(sub)
    from pipeline.optout.commands import register as register_robots_commands

    register_robots_commands(sub)

    sub.add_parser("langid", help="tag lines or JSONL from stdin with language labels (see langid --help)")
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["langid"]:  # its own parser, shared with `python -m pipeline.langid.cli`
        from pipeline.langid.cli import main as langid_main

        return langid_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, UsageError) as exc:
        sys.stderr.write(f"consentcrawl: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("consentcrawl: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`consentcrawl lookup ... | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
