"""`consentcrawl revoke`: remove documents from a released dataset as a new, verifiable version.

Two triggers, no re-extraction: a newer robots.txt snapshot (decided with the same
`RobotsFilter` and, by default, the dataset's own policy) or a list of removal requests (URLs,
hosts, domains). Removed rows move to the new version's exclusion ledger with reason
`revoked:robots` / `revoked:removal-request`; the manifest names the previous manifest's sha256.
The new version is built in a temporary folder, verified, then renamed: never half-written.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.manifest.build import (
    MANIFEST_NAME,
    build_info,
    dump_manifest,
    file_kind,
    nest_counts,
    pipeline_info,
    seal,
)
from pipeline.manifest.card import add_card
from pipeline.manifest.dataset import Dataset, check_parquet
from pipeline.manifest.targets import Target, parse_target, url_key
from pipeline.manifest.verify import verify
from pipeline.storage import OutputFolder
from pipeline.write import LEDGER_SCHEMA, ROW_GROUP_ROWS, sha256_file

ROBOTS_REASON = "revoked:robots"
REQUEST_REASON = "revoked:removal-request"
PUBLISH_KINDS = ("croissant", "card", "report", "lookup")  # describe one version: not carried to the next


class RevokeError(ValueError):
    """A revocation that cannot be made; the message says why (printed as one line)."""


@dataclass(slots=True)
class Malformed:
    line: int
    problem: str


@dataclass(slots=True)
class RemovalList:
    path: Path
    sha256: str
    lines: int
    requests: list[tuple[int, Target]]
    malformed: list[Malformed]


@dataclass(slots=True)
class RevokeReport:
    out: Path
    version: int
    removed: int
    reason: str
    ledger: str
    manifest_sha256: str
    malformed: list[Malformed] = field(default_factory=list)
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    removed_by_host: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _redact(msg: str) -> str:
    """Malformed lines are recorded without their text (a removal list may hold anything)."""
    return re.sub(r"'[^']*'", "'…'", msg)


def read_removals(path: str | Path) -> RemovalList:
    """One URL, host or domain per line; '#' starts a comment line; bad lines are reported, not fatal."""
    p = Path(path)
    if p.is_dir():
        raise RevokeError(f"removal list {path} is a folder, not a file")
    if not p.is_file():
        raise RevokeError(f"removal list not found: {path}")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise RevokeError(f"removal list {path}: cannot read ({exc.strerror or type(exc).__name__})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RevokeError(f"{path}:{line}: not UTF-8 text (byte {exc.start})") from exc
    requests: list[tuple[int, Target]] = []
    malformed: list[Malformed] = []
    lines = text.splitlines()
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            requests.append((i, parse_target(s)))
        except ValueError as exc:
            malformed.append(Malformed(i, str(exc)))
    return RemovalList(p, hashlib.sha256(raw).hexdigest(), len(lines), requests, malformed)


class _RequestMatcher:
    """The most specific request that covers a (url, host): URL, then host, then domain."""

    def __init__(self, requests: list[tuple[int, Target]]) -> None:
        self.urls: dict[str, tuple[int, Target]] = {}
        self.hosts: dict[str, tuple[int, Target]] = {}
        self.domains: dict[str, tuple[int, Target]] = {}
        for line, t in requests:
            table = {"url": self.urls, "host": self.hosts, "domain": self.domains}[t.kind]
            table.setdefault(t.url_key if t.kind == "url" else t.host, (line, t))
        self.used: set[int] = set()

    def match(self, url: str, host: str) -> tuple[int, Target] | None:
        hit = self.urls.get(url_key(url)) if self.urls else None
        hit = hit or self.hosts.get(host)
        if hit is None and self.domains:
            labels = host.split(".")
            for i in range(len(labels) - 1):
                hit = self.domains.get(".".join(labels[i:]))
                if hit:
                    break
        if hit:
            self.used.add(hit[0])
        return hit


def _decide_robots(ds: Dataset, snapshot_path: Path, policy_ref: str | None, as_of: str | None,
                   version: int) -> tuple[dict[str, dict[str, Any]], dict[str, Any], Any]:
    """id -> ledger fields of every kept row the new snapshot disallows."""
    from pipeline.optout.decide import RobotsFilter
    from pipeline.optout.policy import Policy, PolicyError, load_policy
    from pipeline.optout.snapshot import SnapshotError, load_snapshot

    try:
        policy = load_policy(policy_ref, Path.cwd()) if policy_ref else Policy.from_dict(
            ds.manifest["policy"], f"{ds.root / MANIFEST_NAME}: policy")
    except PolicyError as exc:
        raise RevokeError(str(exc)) from exc
    if snapshot_path.is_dir():
        raise RevokeError(f"robots snapshot {snapshot_path} is a folder, not a Parquet file")
    try:
        snap = load_snapshot(str(snapshot_path), as_of)
    except SnapshotError as exc:
        raise RevokeError(str(exc)) from exc
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:  # whatever the reader lets through
        raise RevokeError(f"robots snapshot {snapshot_path} is not usable ({type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''})") from exc
    robots = RobotsFilter(snap, policy)
    removed: dict[str, dict[str, Any]] = {}
    for path in ds.paths("data"):
        t = pq.read_table(path, columns=["id", "url"]).to_pydict()
        for rid, url in zip(t["id"], t["url"], strict=True):
            d = robots.decide(url)
            if not d.allowed:
                removed[rid] = {
                    "reason": ROBOTS_REASON, "group": d.group, "agents": list(d.agents or ()),
                    "rule": d.rule, "rule_line": d.line,
                    "snapshot_entry_sha256": d.entry_sha256, "snapshot_fetched_at": d.fetched_at,
                    "evidence": {**d.evidence(), "policy": policy.name, "revoked_in_version": version},
                }
    return removed, policy.to_dict(), snap


def _decide_requests(ds: Dataset, removals: RemovalList, version: int) -> tuple[dict[str, dict[str, Any]], set[int]]:
    matcher = _RequestMatcher(removals.requests)
    removed: dict[str, dict[str, Any]] = {}
    for path in ds.paths("data"):
        t = pq.read_table(path, columns=["id", "url", "host"]).to_pydict()
        for rid, url, host in zip(t["id"], t["url"], t["host"], strict=True):
            hit = matcher.match(url, host)
            if hit:
                line, target = hit
                removed[rid] = {
                    "reason": REQUEST_REASON, "group": None, "agents": None, "rule": None, "rule_line": None,
                    "snapshot_entry_sha256": None, "snapshot_fetched_at": None,
                    "evidence": {"request_line": line, "request": target.text, "matched_as": target.kind,
                                 "removals_sha256": removals.sha256, "revoked_in_version": version},
                }
    return removed, matcher.used


def _entry(root: Path, rel: str, rows: int | None) -> dict[str, Any]:
    p = root / rel
    return {"path": rel, "sha256": sha256_file(p), "bytes": p.stat().st_size, "rows": rows, "kind": file_kind(rel)}


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP_ROWS, write_statistics=True)


def _ledger_rows(removed_rows: pa.Table, why: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in removed_rows.to_pylist():
        w = why[r["id"]]
        out.append({
            "id": r["id"], "url": r["url"], "host": r["host"], "domain": r.get("domain"),
            "outcome": "dropped", "reason": w["reason"],
            "group": w["group"], "agents": w["agents"], "rule": w["rule"], "rule_line": w["rule_line"],
            "snapshot_entry_sha256": w["snapshot_entry_sha256"], "snapshot_fetched_at": w["snapshot_fetched_at"],
            "evidence": json.dumps(w["evidence"], sort_keys=True, default=str, ensure_ascii=False),
            "chars": len(r["text"] or ""), "record_type": None, "source_uri": r["source_uri"],
            "source_record_id": r["source_record_id"], "source_offset": r["source_offset"],
            "source_length": r["source_length"], "payload_digest": r["payload_digest"],
            "_lang": f"{r['lang']}_{r['script']}",
        })
    return out


def _sorted_counter(c: Counter[str], by_count: bool) -> dict[str, int]:
    items = [(k, v) for k, v in c.items() if v > 0]
    return dict(sorted(items, key=lambda kv: (-kv[1], kv[0])) if by_count else sorted(items))


def _update_counts(counts: dict[str, Any], ledger: list[dict[str, Any]], reason: str) -> dict[str, Any]:
    c = copy.deepcopy(counts)
    n = len(ledger)
    docs, chars = Counter(c["documents_by_language"]), Counter(c["chars_by_language"])
    groups = Counter({(reason, g): n for reason, by in c["dropped_by_group"].items() for g, n in by.items()})
    reasons = Counter(c["dropped_by_reason"])
    for r in ledger:
        docs[r["_lang"]] -= 1
        chars[r["_lang"]] -= r["chars"]
        if r["group"]:
            groups[reason, r["group"]] += 1
    if n:
        reasons[reason] += n
    c.update(
        kept=c["kept"] - n, dropped=c["dropped"] + n, excluded_rows=c["excluded_rows"] + n,
        chars_kept=c["chars_kept"] - sum(r["chars"] for r in ledger),
        documents_by_language=_sorted_counter(docs, True), chars_by_language=_sorted_counter(chars, True),
        dropped_by_group=nest_counts(groups), dropped_by_reason=_sorted_counter(reasons, False),
    )
    c["balanced"] = c["records_in"] == c["kept"] + c["dropped"] + c["errored"]
    return c


_AS_OF = re.compile(r"[0-9]{4}-[0-9]{2}(?:-[0-9]{2}(?:[Tt ].*)?)?")


def check_as_of(as_of: str) -> str:
    """The inclusive fetched_at bound for `as_of`, or RevokeError: a typo must not silently apply no date."""
    from pipeline.optout.snapshot import as_of_bound

    text = as_of.strip()
    # ASCII digits only (int() would read full-width ones) and a real year (calendar accepts year 0)
    ok = text.isascii() and _AS_OF.fullmatch(text) is not None and int(text[:4]) >= 1
    try:
        bound = as_of_bound(text) if ok else ""
    except ValueError:  # calendar.IllegalMonthError, datetime's range errors
        bound = ""
    if not bound:
        raise RevokeError(f"--as-of {as_of!r}: not a date (expected YYYY-MM-DD, YYYY-MM or an ISO 8601 time)")
    return bound


def revoke(
    folder: str | Path,
    out: str | Path,
    *,
    snapshot: str | Path | None = None,
    policy: str | None = None,
    as_of: str | None = None,
    removals: str | Path | None = None,
) -> RevokeReport:
    """Write version N+1 of the dataset at `out`; the source folder is never modified."""
    if (snapshot is None) == (removals is None):
        raise RevokeError("give either a robots snapshot or a removal list")
    if as_of is not None:
        check_as_of(as_of)
    src, dest = Path(folder), Path(out)
    ds = Dataset.open(src)
    if dest.exists():
        raise RevokeError(f"{dest} already exists: a new version goes to a new folder")
    if dest.resolve().is_relative_to(src.resolve()):
        raise RevokeError(f"{dest} is inside the dataset {src}: choose a folder outside it")
    if not dest.resolve().parent.is_dir():
        what = "is a file, not a folder" if dest.resolve().parent.exists() else "does not exist"
        raise RevokeError(f"parent folder of {dest} {what}")
    if not os.access(dest.resolve().parent, os.W_OK | os.X_OK):
        raise RevokeError(f"parent folder of {dest} is not writable")
    problems = verify(src)
    if problems:
        raise RevokeError(f"{src} does not verify ({len(problems)} problem(s), first: {problems[0]}); "
                          "refusing to derive a new version from it")
    check_parquet(ds.paths("data"))
    version = ds.version + 1
    report_warnings: list[str] = []
    revocation: dict[str, Any] = {}
    removal_list: RemovalList | None = None
    new_snapshot: dict[str, Any] | None = None
    snap_rel = f"snapshots/robots-v{version:04d}.parquet"
    if snapshot is not None:
        why, policy_dict, snap = _decide_robots(ds, Path(snapshot), policy, as_of, version)
        reason, kind = ROBOTS_REASON, "robots"
        revocation["robots"] = {"snapshot_id": snap.snapshot_id, "snapshot_path": snap_rel, "as_of": as_of,
                                "policy": policy_dict}
        newest = max((s["date_max"] for s in ds.manifest["snapshots"]), default="")
        if str(snap.meta.get("date_max", "")) and str(snap.meta.get("date_max", "")) < newest:
            report_warnings.append(f"snapshot {snapshot} ends {snap.meta.get('date_max')}, before the dataset's "
                                   f"newest snapshot ({newest}); applying it anyway")
        new_snapshot = {
            "kind": "robots.txt", "path": snap_rel, "snapshot_id": snap.snapshot_id, "sha256": "",
            "entries": int(snap.meta.get("entries", len(snap))), "hosts_in_effect": len(snap),
            "date_min": str(snap.meta.get("date_min", "")), "date_max": str(snap.meta.get("date_max", "")),
            "as_of": as_of, "made_by": str(snap.meta.get("made_by", "")), "role": "revocation", "version": version,
        }
        unmatched: list[tuple[int, str]] = []
    else:
        removal_list = read_removals(removals)  # type: ignore[arg-type]
        if not removal_list.requests:
            first = f", first at line {removal_list.malformed[0].line}" if removal_list.malformed else ""
            raise RevokeError(f"{removals}: no valid removal request ({len(removal_list.malformed)} malformed "
                              f"line(s){first})")
        why, used = _decide_requests(ds, removal_list, version)
        reason, kind = REQUEST_REASON, "removal-request"
        unmatched = [(line, t.text) for line, t in removal_list.requests if line not in used]
        revocation["removals"] = {
            "file_sha256": removal_list.sha256, "lines": removal_list.lines, "requests": len(removal_list.requests),
            "unmatched_requests": len(unmatched),
            "malformed": [{"line": m.line, "problem": _redact(m.problem)} for m in removal_list.malformed],
        }

    tmp = dest.resolve().parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        ledger_rel = f"excluded/revoked-v{version:04d}.parquet"
        manifest = _build_version(ds, tmp, why, reason, kind, version, ledger_rel, revocation, new_snapshot,
                                  Path(snapshot) if snapshot is not None else None)
        problems = verify(tmp)
        if problems:
            raise RevokeError(f"the new version did not verify ({problems[0]}); nothing was written")
        os.rename(tmp, dest)
    except OSError as exc:  # disk full, permissions, a name the file system refuses: one line, nothing left
        shutil.rmtree(tmp, ignore_errors=True)
        reason = str(exc.strerror or exc or type(exc).__name__).splitlines()[0][:200]
        raise RevokeError(f"cannot write the new version to {dest}: {reason}"
                          + (f" ({str(exc.filename)[:200]})" if exc.filename else "")) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    rev = manifest["lineage"]["revocations"][-1]
    return RevokeReport(
        out=dest, version=version, removed=rev["removed"], reason=reason, ledger=ledger_rel,
        manifest_sha256=sha256_file(dest / MANIFEST_NAME),
        malformed=removal_list.malformed if removal_list else [], unmatched=unmatched,
        removed_by_host=rev["removed_by_host"], warnings=report_warnings,
    )


def _build_version(ds: Dataset, tmp: Path, why: dict[str, dict[str, Any]], reason: str, kind: str, version: int,
                   ledger_rel: str, revocation: dict[str, Any], new_snapshot: dict[str, Any] | None,
                   snapshot_src: Path | None) -> dict[str, Any]:
    """Write every file of the new version into `tmp` and its sealed manifest; return the manifest."""
    tmp.mkdir(parents=True)
    removed_ids = pa.array(sorted(why), type=pa.string())
    files: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    for entry in ds.manifest["files"]:
        rel = entry["path"]
        if entry["kind"] in PUBLISH_KINDS:
            continue
        dst = tmp / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if entry["kind"] == "data" and len(removed_ids):
            table = pq.read_table(ds.root / rel)
            hit = pc.is_in(table["id"], value_set=removed_ids)
            if pc.any(hit).as_py():
                ledger.extend(_ledger_rows(table.filter(hit), why))
                kept = table.filter(pc.invert(hit))
                _write(kept, dst)
                files.append(_entry(tmp, rel, kept.num_rows))
                continue
        shutil.copyfile(ds.root / rel, dst)
        files.append({**entry})
    ledger_table = pa.Table.from_pylist([{k: v for k, v in r.items() if k != "_lang"} for r in ledger],
                                        schema=LEDGER_SCHEMA)
    _write(ledger_table, tmp / ledger_rel)
    files.append(_entry(tmp, ledger_rel, ledger_table.num_rows))
    m = copy.deepcopy(ds.manifest)
    m.pop("merkle_root", None)
    if new_snapshot is not None and snapshot_src is not None:
        dst = tmp / new_snapshot["path"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(snapshot_src, dst)
        snap_entry = _entry(tmp, new_snapshot["path"], pq.ParquetFile(dst).metadata.num_rows)
        files.append(snap_entry)
        m["snapshots"].append({**new_snapshot, "sha256": snap_entry["sha256"]})
    by_host = Counter(r["host"] for r in ledger)
    m["dataset"]["version"] = version
    m["build"] = build_info()
    m["lineage"]["previous"] = {"manifest_sha256": ds.manifest_sha256, "version": ds.version,
                                "merkle_root": ds.manifest["merkle_root"]}
    m["lineage"]["revocations"].append({
        "version": version, "kind": kind, "reason": reason, "previous_manifest_sha256": ds.manifest_sha256,
        "removed": len(ledger), "chars_removed": sum(r["chars"] for r in ledger),
        "removed_by_host": _sorted_counter(by_host, False),
        "removed_by_language": _sorted_counter(Counter(r["_lang"] for r in ledger), True),
        "removed_by_group": _sorted_counter(Counter(r["group"] for r in ledger if r["group"]), False),
        "ledger": ledger_rel, "tool": pipeline_info(), **revocation,
    })
    m["counts"] = _update_counts(m["counts"], ledger, reason)
    m["files"] = files
    seal(m)
    add_card(Dataset(OutputFolder(str(tmp)), m, tmp))  # the card describes one version: written anew for it
    dump_manifest(m, tmp / MANIFEST_NAME)
    return m
