"""CLI subcommands that work on a finished dataset folder.

verify, sign, keygen, lookup, revoke, publish, report. Problems a user can fix raise
`UsageError` (one line on stderr, exit 2); a dataset that fails verification exits 1.

Where the line is drawn for `verify`: a path that is not a dataset at all (missing, a file, a
folder without manifest.json) is a usage error, exit 2. A manifest.json that exists but cannot be
read (not JSON, not an object, a 5,000-digit number, nesting 100,000 deep, wrong types) is a
dataset that fails verification: one `FAIL manifest.json: ...` line and exit 1, as for any other
tampering. The other commands refuse such a dataset with one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """A problem the user can fix: printed as one line, exit 2."""


def _folder(path: str) -> Path:
    p = Path(path)
    if p.is_dir():
        return p
    if p.exists():
        raise UsageError(f"{path} is a file, not a dataset folder")
    raise UsageError(f"dataset folder not found: {path}")


def _remote_dataset(url: str) -> str:
    """The same refusals for a folder on a store (an empty prefix and a missing one are alike there)."""
    from pipeline.manifest.build import MANIFEST_NAME
    from pipeline.storage import OutputFolder

    try:
        folder = OutputFolder(url)
        folder.refresh()
        if folder.exists(MANIFEST_NAME):
            return url
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{url} is a file, not a dataset folder")
        if not folder.list_top():
            raise UsageError(f"dataset folder not found: {url}")
    except (OSError, ValueError, ImportError) as exc:  # no such bucket, no credentials, no s3fs, bad URL
        if isinstance(exc, UsageError):
            raise
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot open {url}: {detail}") from exc
    raise UsageError(f"{url} is a folder without manifest.json, not a consentcrawl dataset")


def _dataset_folder(path: str) -> Path | str:
    """A folder that at least claims to be a dataset: one that lacks manifest.json is the wrong argument.

    A local folder comes back as a Path, an fsspec URL (s3://…) as the URL.
    """
    from pipeline.manifest.build import MANIFEST_NAME
    from pipeline.storage import is_remote

    if is_remote(path):
        return _remote_dataset(path)
    p = _folder(path)
    if not (p / MANIFEST_NAME).exists() and not (p / MANIFEST_NAME).is_symlink():
        try:
            what = "an empty folder" if not any(p.iterdir()) else "a folder without manifest.json"
        except OSError:
            what = "a folder without (readable) manifest.json"
        raise UsageError(f"{path} is {what}, not a consentcrawl dataset")
    return p


def _local_only(folder: Path | str, command: str) -> Path:
    """revoke and sign write next to a local manifest; a store is refused in one line."""
    if isinstance(folder, str):
        raise UsageError(f"{command} works on a local folder, not {folder}: copy it locally first")
    return folder


def _has_file(folder: Path | str, name: str) -> bool:
    from pipeline.storage import OutputFolder

    return (folder / name).exists() if isinstance(folder, Path) else OutputFolder(folder).exists(name)


def _join(folder: Path | str, *parts: str) -> str:
    return str(Path(folder, *parts)) if isinstance(folder, Path) else "/".join([folder.rstrip("/"), *parts])


def _count(text: str) -> int:
    """argparse type for --limit: a count, so never negative (a negative slice would hide rows)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {n}")
    return n


def _user_errors() -> tuple[type[Exception], ...]:
    from pipeline.manifest.dataset import DatasetError
    from pipeline.manifest.publish import PublishError
    from pipeline.manifest.revoke import RevokeError
    from pipeline.manifest.schema import ManifestError
    from pipeline.manifest.sign import SigningKeyError

    return ManifestError, DatasetError, RevokeError, PublishError, SigningKeyError


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the package's user-fixable errors into UsageError (one line, exit 2)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except _user_errors() as exc:
            raise UsageError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc

    return run


@_guard
def cmd_verify(args: argparse.Namespace) -> int:
    from pipeline.manifest import verify
    from pipeline.manifest.build import SIGNATURE_NAME

    folder = _dataset_folder(args.dir)
    if args.pubkey:
        from pipeline.manifest.sign import load_public_key

        load_public_key(args.pubkey)  # a bad key file is a usage error, not a dataset problem
    problems = verify(folder, pubkey=args.pubkey)
    for p in problems:
        print(f"FAIL {p}")
    if problems:
        print(f"{args.dir}: {len(problems)} problem(s)")
        return EXIT_FAIL
    signed = " and its signature" if args.pubkey else ""
    print(f"{args.dir}: OK, every file matches manifest.json{signed}")
    if not args.pubkey and _has_file(folder, SIGNATURE_NAME):
        print(f"note: {SIGNATURE_NAME} present but not checked (pass --pubkey)")
    return EXIT_OK


@_guard
def cmd_keygen(args: argparse.Namespace) -> int:
    from pipeline.manifest.sign import keygen

    key, pub = keygen(args.prefix)
    print(f"private key: {key} (keep it secret)\npublic key:  {pub} (publish it)")
    return EXIT_OK


@_guard
def cmd_sign(args: argparse.Namespace) -> int:
    from pipeline.manifest import verify
    from pipeline.manifest.sign import load_private_key, sign_dataset

    folder = _local_only(_dataset_folder(args.dir), "sign")
    load_private_key(args.key)
    problems = verify(folder)
    if problems:
        raise UsageError(f"{folder} does not verify ({len(problems)} problem(s), first: {problems[0]}); not signing")
    out = sign_dataset(folder, args.key)
    print(f"wrote {out} (Ed25519 signature of manifest.json)")
    return EXIT_OK


@_guard
def cmd_lookup(args: argparse.Namespace) -> int:
    from pipeline.manifest.lookup import format_result, lookup
    from pipeline.manifest.targets import parse_target

    folder = _dataset_folder(args.dir)
    try:
        target = parse_target(args.query, args.kind)
    except ValueError as exc:
        raise UsageError(f"cannot look up {args.query!r}: {exc}") from exc
    res = lookup(folder, target)
    if args.json:
        print(json.dumps(res.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, default=str))
    else:
        print(format_result(res, args.dir, limit=args.limit))
    return EXIT_OK if res.kept else EXIT_FAIL


@_guard
def cmd_revoke(args: argparse.Namespace) -> int:
    from pipeline.manifest.revoke import revoke

    if args.removals and (args.policy or args.as_of):
        raise UsageError("--policy and --as-of apply to --snapshot, not to --removals")
    if args.as_of is not None:
        from pipeline.manifest.revoke import check_as_of

        check_as_of(args.as_of)  # before any dataset is read: a bad date is the cheapest thing to catch
    _local_only(_dataset_folder(args.dir), "revoke")
    rep = revoke(args.dir, args.out, snapshot=args.snapshot, policy=args.policy, as_of=args.as_of,
                 removals=args.removals)
    for m in rep.malformed:
        print(f"{args.removals}:{m.line}: skipped malformed line: {m.problem}", file=sys.stderr)
    for w in rep.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for line, text in rep.unmatched:
        print(f"{args.removals}:{line}: {text} matched no kept document (nothing to remove)")
    print(f"version {rep.version} written to {rep.out}: {rep.removed} document(s) removed ({rep.reason}), "
          f"listed in {rep.ledger}")
    for host, n in list(rep.removed_by_host.items())[:20]:
        print(f"  {host}: {n}")
    print(f"manifest sha256 {rep.manifest_sha256}; it names the previous manifest's sha256 as lineage.previous")
    print("the new version has its own dataset card (README.md: `datasets.load_dataset` reads it as it is); "
          "`consentcrawl publish` it to add croissant.json, the report and the publication details")
    return EXIT_OK


@_guard
def cmd_publish(args: argparse.Namespace) -> int:
    from pipeline.manifest.publish import check_date, publish

    if args.date is not None:
        check_date(args.date)
    folder = _dataset_folder(args.dir)

    def warn(msg: str) -> None:
        print(f"warning: {msg}", file=sys.stderr)

    outputs = publish(folder, name=args.name, license=args.license, description=args.description,
                      url=args.url, date_published=args.date, with_report=not args.no_report, on_warning=warn)
    print(f"wrote {len(outputs)} file(s) in {folder} and listed them in manifest.json:")
    for o in outputs:
        print(f"  {o}")
    return EXIT_OK


@_guard
def cmd_report(args: argparse.Namespace) -> int:
    from pipeline.manifest.build import SIGNATURE_NAME
    from pipeline.manifest.report import report

    folder = _dataset_folder(args.dir)
    outputs = report(folder)
    print(f"wrote {_join(folder, 'report', 'index.html')} and {len(outputs) - 1} plot(s); listed in manifest.json")
    if _has_file(folder, SIGNATURE_NAME):
        print(f"warning: {_join(folder, SIGNATURE_NAME)} no longer matches manifest.json: sign it again",
              file=sys.stderr)
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="recompute every checksum, row count and the Merkle root of DIR")
    p.add_argument("dir")
    p.add_argument("--pubkey", help="also check DIR/manifest.json.sig against this Ed25519 public key (PEM)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("keygen", help="make an Ed25519 key pair PREFIX.key / PREFIX.pub for signing manifests")
    p.add_argument("prefix")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("sign", help="write DIR/manifest.json.sig, a detached Ed25519 signature of manifest.json")
    p.add_argument("dir")
    p.add_argument("--key", required=True, help="Ed25519 private key (PEM, from `consentcrawl keygen`)")
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("lookup", help="is a page/host/domain in DIR, excluded (and why), or never in the input?")
    p.add_argument("dir")
    p.add_argument("query", help="URL, host name or registrable domain (prefix host:/domain:/url: to force)")
    p.add_argument("--kind", choices=["auto", "url", "host", "domain"], default="auto",
                   help="how to read QUERY (default: URL if it has a scheme or path, domain if it is eTLD+1, "
                        "else host)")
    p.add_argument("--json", action="store_true", help="print every matching row as JSON")
    p.add_argument("--limit", type=_count, default=20, help="rows shown per section (default 20)")
    p.set_defaults(func=cmd_lookup)

    p = sub.add_parser("revoke", help="remove documents as a new dataset version (newer robots.txt or requests)")
    p.add_argument("dir")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--snapshot", help="newer robots.txt snapshot (Parquet) to apply")
    how.add_argument("--removals", help="file of removal requests: one URL, host or domain per line")
    p.add_argument("--policy", help="opt-out policy name or YAML for --snapshot (default: the dataset's own)")
    p.add_argument("--as-of", dest="as_of", help="with --snapshot: ignore entries fetched after this date")
    p.add_argument("--out", required=True, help="folder for the new version (must not exist)")
    p.set_defaults(func=cmd_revoke)

    p = sub.add_parser("publish", help="write croissant.json, the dataset card README.md and report/")
    p.add_argument("dir")
    p.add_argument("--name", help="dataset name (default: kept from an earlier publish, else the folder name)")
    p.add_argument("--license", help="license id, e.g. odc-by (default), cc-by-4.0, or any text")
    p.add_argument("--description", help="one-paragraph description (default: generated from the counts)")
    p.add_argument("--url", help="where the dataset is published")
    p.add_argument("--date", help="publication date YYYY-MM-DD for croissant.json (never taken from the clock)")
    p.add_argument("--no-report", action="store_true", help="do not (re)write report/")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("report", help="write DIR/report/index.html with plots of the run")
    p.add_argument("dir")
    p.set_defaults(func=cmd_report)
