"""Where a document is dropped for robots.txt: a pure decision with its evidence.

`decide_robots` maps (URL, snapshot entry, policy) to a `RobotsDecision`; `RobotsFilter` is the
pipeline stage that looks the entry up, caches the compiled rules per entry, and applies it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pipeline.document import Document
from pipeline.optout.policy import Policy
from pipeline.optout.robots import CompiledPolicy, RobotsTxt
from pipeline.optout.snapshot import Entry, Snapshot

DROP_REASON = "optout:robots"


@dataclass(frozen=True, slots=True)
class RobotsDecision:
    allowed: bool
    basis: str  # rules | unavailable-4xx | unreachable-5xx | no-entry | redirect-unresolved
    agent: str | None = None
    rule: str | None = None
    line: int | None = None
    entry_sha256: str | None = None
    fetched_at: str | None = None
    http_status: int | None = None
    snapshot_id: str = ""
    lookup: str = "none"

    def evidence(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def compile_entry(entry: Entry, policy: Policy) -> CompiledPolicy:
    return RobotsTxt.parse(entry.body).compile(list(policy.agents))


def decide_robots(
    url: str,
    entry: Entry | None,
    compiled: CompiledPolicy | None,
    policy: Policy,
    snapshot_id: str,
    lookup: str = "origin",
) -> RobotsDecision:
    """RFC 9309 section 2.3.1 status handling, then the rules of the first disallowing agent."""
    if entry is None:
        allowed = policy.missing_host == "keep"
        return RobotsDecision(allowed, "no-entry", snapshot_id=snapshot_id, lookup="none")
    base = {
        "entry_sha256": entry.entry_sha256,
        "fetched_at": entry.fetched_at,
        "http_status": entry.http_status,
        "snapshot_id": snapshot_id,
        "lookup": lookup,
    }
    status = entry.http_status
    if 400 <= status < 500:
        return RobotsDecision(True, "unavailable-4xx", **base)
    if status >= 500 or status < 100:
        return RobotsDecision(policy.server_error == "allow", "unreachable-5xx", **base)
    if 300 <= status < 400:
        return RobotsDecision(True, "redirect-unresolved", **base)
    assert compiled is not None
    target = url if policy.scope == "url" else entry.host + "/"
    hit = compiled.first_disallowing(target)
    if hit is None:
        return RobotsDecision(True, "rules", **base)
    agent, verdict = hit
    return RobotsDecision(False, "rules", agent, verdict.rule, verdict.line, **base)


class RobotsFilter:
    """Pipeline stage: drop documents whose URL a listed AI agent may not fetch."""

    def __init__(self, snapshot: Snapshot | None, policy: Policy) -> None:
        self.snapshot = snapshot
        self.policy = policy
        self._compiled: dict[str, CompiledPolicy] = {}

    def _compiled_for(self, entry: Entry) -> CompiledPolicy | None:
        if not 200 <= entry.http_status < 300:
            return None
        compiled = self._compiled.get(entry.entry_sha256)
        if compiled is None:
            compiled = compile_entry(entry, self.policy)
            self._compiled[entry.entry_sha256] = compiled
        return compiled

    def decide(self, url: str) -> RobotsDecision:
        if self.snapshot is None:
            return RobotsDecision(self.policy.missing_host == "keep", "no-entry")
        entry, lookup = self.snapshot.lookup(url)
        compiled = self._compiled_for(entry) if entry is not None else None
        return decide_robots(url, entry, compiled, self.policy, self.snapshot.snapshot_id, lookup)

    def run(self, doc: Document) -> Document:
        decision = self.decide(doc.url)
        doc.robots_entry = decision.entry_sha256 or ""
        if not decision.allowed:
            return doc.drop(DROP_REASON, **decision.evidence())
        return doc
