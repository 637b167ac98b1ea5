"""Apply the policy's signals to one document: pure `decide_signals`, and the pipeline stage."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from pipeline.document import Document
from pipeline.optout.policy import Policy
from pipeline.optout.robots import RobotsTxt, product_token
from pipeline.optout.signals import aipref, aitxt, content_signal, noai, tdmrep
from pipeline.optout.signals.base import Finding, SignalDecision
from pipeline.optout.signals.meta import header_values, meta_tags
from pipeline.optout.snapshot import Entry, Snapshot

SIGNALS = (noai.SIGNAL, tdmrep.SIGNAL, content_signal.SIGNAL, aipref.SIGNAL, aitxt.SIGNAL)


@dataclass(frozen=True, slots=True)
class HostFiles:
    """The per-host files in effect for a URL (from snapshots), already parsed."""

    robots: RobotsTxt | None = None
    tdmrep_body: bytes | None = None
    tdmrep_entry: str | None = None
    aitxt: RobotsTxt | None = None
    aitxt_entry: str | None = None
    robots_extensions: tuple[tuple[str, str, int], ...] | None = None  # precomputed per host


@lru_cache(maxsize=64)
def _meta_names(agents: tuple[str, ...]) -> frozenset[bytes]:
    names = {"robots", tdmrep.TDM_RESERVATION, tdmrep.TDM_POLICY, *agents}
    return frozenset(n.lower().encode() for n in names)


def _path(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "/"
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def decide_signals(
    policy: Policy,
    url: str,
    headers: list[tuple[str, str]],
    html: bytes | None,
    files: HostFiles,
) -> SignalDecision:
    """All findings of the enabled signals, and the first that opts the document out.

    Order of the checks (each its own drop reason): TDMRep (its own precedence inside),
    noai, Content-Signal, AIPREF, ai.txt.
    """
    enabled = set(policy.signals)
    search_drop = policy.search_directives == "drop"
    agents = tuple(product_token(a) for a in policy.agents if a != "*")
    agent_set = frozenset(agents)
    path = _path(url)
    wanted = _meta_names(agents)
    tags = meta_tags(html, wanted) if html and enabled & {noai.SIGNAL, tdmrep.SIGNAL} else []
    findings: list[Finding] = []
    deciding: list[Finding] = []

    if tdmrep.SIGNAL in enabled:
        m = tdmrep.from_meta(tags)
        h = tdmrep.from_headers(headers)
        w = (tdmrep.from_well_known(files.tdmrep_body, path, files.tdmrep_entry or "")
             if files.tdmrep_body is not None else None)
        findings += [f for f in (m, h, w) if f is not None]
        effective = tdmrep.decide(m, h, w)
        if effective is not None and effective.opt_out:
            deciding.append(effective)
    if noai.SIGNAL in enabled:
        found = noai.from_meta(tags, agent_set, search_drop)
        found += noai.from_headers(header_values(headers, "x-robots-tag"), agent_set, search_drop)
        findings += found
        deciding += [f for f in found if f.opt_out]
    exts: list[tuple[str, str, int]] = []
    if files.robots is not None and enabled & {content_signal.SIGNAL, aipref.SIGNAL}:
        exts = list(files.robots_extensions if files.robots_extensions is not None
                    else robots_extensions(files.robots, policy.agents))
    if content_signal.SIGNAL in enabled and exts:
        found = content_signal.from_robots(exts)
        findings += found
        deciding += [f for f in found if f.opt_out]
    if aipref.SIGNAL in enabled:
        stated = aipref.from_headers(header_values(headers, "content-usage"))
        stated += aipref.robots_rules(exts, path)
        findings += [f for f, _ in stated]
        decided = aipref.training_preference([prefs for _, prefs in stated])
        if decided is not None and decided[1] == "n":
            deciding.append(next(f for f, prefs in stated if prefs.get(decided[0]) == "n"))
    if aitxt.SIGNAL in enabled and files.aitxt is not None:
        f = aitxt.from_file(files.aitxt, url, ("*", *agents), files.aitxt_entry or "")
        if f is not None:
            findings.append(f)
            if f.opt_out:
                deciding.append(f)
    if deciding:
        first = deciding[0]
        return SignalDecision(False, f"optout:{first.signal}", first, tuple(findings))
    return SignalDecision(True, "", None, tuple(findings))


def robots_extensions(robots: RobotsTxt, agents: tuple[str, ...]) -> tuple[tuple[str, str, int], ...]:
    """Non-RFC lines of the groups that apply to the policy's agents ("*" only when listed)."""
    seen: dict[tuple[str, str, int], None] = {}
    for agent in agents:
        for ext in robots.group_extensions(agent):
            seen.setdefault(ext, None)
    return tuple(seen)


#: Parsed robots.txt files (and their extension lines) a signals stage keeps, per worker process.
PARSED_CACHE_ENTRIES = 8192


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> Any:
    cache[key] = value
    while len(cache) > PARSED_CACHE_ENTRIES:
        cache.popitem(last=False)
    return value


class SignalsFilter:
    """Pipeline stage: drop documents that a non-robots.txt AI opt-out signal reserves."""

    def __init__(self, policy: Policy, robots: Snapshot | None = None, tdmrep_snapshot: Snapshot | None = None,
                 aitxt_snapshot: Snapshot | None = None) -> None:
        self.policy = policy
        self.robots = robots
        self.tdmrep = tdmrep_snapshot
        self.aitxt = aitxt_snapshot
        # Per snapshot entry, bounded (least recently used out): a long-lived worker meets millions of hosts.
        self._parsed: OrderedDict[str, RobotsTxt] = OrderedDict()
        self._extensions: OrderedDict[str, tuple[tuple[str, str, int], ...]] = OrderedDict()

    @property
    def active(self) -> bool:
        return bool(self.policy.signals)

    def _robots_of(self, entry: Entry | None) -> RobotsTxt | None:
        if entry is None or not 200 <= entry.http_status < 300:
            return None
        parsed = self._parsed.get(entry.entry_sha256)
        if parsed is None:
            parsed = _remember(self._parsed, entry.entry_sha256, RobotsTxt.parse(entry.body))
        else:
            self._parsed.move_to_end(entry.entry_sha256)
        return parsed

    def files_for(self, url: str) -> HostFiles:
        entry = self.robots.lookup(url)[0] if self.robots is not None else None
        robots = self._robots_of(entry)
        exts = None
        if robots is not None and entry is not None:
            exts = self._extensions.get(entry.entry_sha256)
            if exts is None:
                exts = _remember(self._extensions, entry.entry_sha256, robots_extensions(robots, self.policy.agents))
        tdm = self.tdmrep.lookup(url)[0] if self.tdmrep is not None else None
        if tdm is not None and not 200 <= tdm.http_status < 300:
            tdm = None
        ai = self.aitxt.lookup(url)[0] if self.aitxt is not None else None
        return HostFiles(robots, tdm.body if tdm else None, tdm.entry_sha256 if tdm else None,
                         self._robots_of(ai), ai.entry_sha256 if ai else None, exts)

    def decide(self, doc: Document) -> SignalDecision:
        return decide_signals(self.policy, doc.url, doc.http_headers, doc.html, self.files_for(doc.url))

    def run(self, doc: Document) -> Document:
        if not self.active:
            return doc
        decision = self.decide(doc)
        doc.signals = [f"{f.signal}/{f.location}" + ("/opt-out" if f.opt_out else "") for f in decision.findings]
        if not decision.allowed and decision.deciding is not None:
            d = decision.deciding
            return doc.drop(decision.reason, signal=d.signal, location=d.location, raw=d.raw, key=d.key,
                            rule=f"{d.key}: {d.raw}" if d.key else d.raw, detail=d.detail,
                            entry_sha256=d.entry_sha256, findings=[f.to_dict() for f in decision.findings])
        return doc
