"""`consentcrawl` command line. Errors a user can fix print one line and exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline import __version__
from pipeline.config import ConfigError, load_config
from pipeline.manifest.commands import UsageError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        sys.stderr.write(f"consentcrawl: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _sample_config() -> Path:
    import pipeline.sample

    return Path(next(iter(pipeline.sample.__path__))) / "dry-run.yaml"


def _run(config_path: Path, args: argparse.Namespace, overrides: dict[str, object]) -> int:
    from pipeline.runner import run_pipeline
    from pipeline.summary import render_summary

    config = load_config(config_path, overrides)
    from rich.console import Console

    console = Console(stderr=False)
    console.print(f"consentcrawl {__version__}: {len(config.inputs)} input shard(s) → {config.output}")

    def progress(res: object, done: int, total: int) -> None:
        r = res  # ShardResult
        status = f"FAILED ({r.failed})" if r.failed else f"{r.records_in} records in {r.seconds:.2f}s"
        console.print(f"  [{done}/{total}] {r.uri}: {status}")

    report = run_pipeline(config, scheduler=args.scheduler, workers=args.workers, on_shard=progress)
    render_summary(report.manifest, report.wall_seconds, report.workers, str(report.out_dir), console)
    if report.failed:
        console.print(f"[red]{len(report.failed)} shard(s) failed; the run is incomplete[/red]")
        return EXIT_FAIL
    return EXIT_OK


def cmd_dry_run(args: argparse.Namespace) -> int:
    return _run(_sample_config(), args, {"output": args.out, "workers": args.workers,
                                         "policy": args.policy})


def cmd_run(args: argparse.Namespace) -> int:
    return _run(Path(args.config), args, {"output": args.out, "workers": args.workers})


def cmd_langid(args: argparse.Namespace) -> int:
    from pipeline.langid.cli import main as langid_main

    return langid_main(args.rest)


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

    p = sub.add_parser("run", help="run the pipeline from a YAML config")
    p.add_argument("--config", required=True, help="YAML run config")
    add_exec(p)
    p.set_defaults(func=cmd_run)

    from pipeline.manifest.commands import register as register_dataset_commands

    register_dataset_commands(sub)

    p = sub.add_parser("langid", help="tag lines or JSONL from stdin with language labels",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_langid)
    return ap


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    raise SystemExit(main())
