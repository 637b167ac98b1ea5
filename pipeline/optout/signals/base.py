"""Shared vocabulary: a finding (what a signal says, where) and a decision (what the policy does)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Where a signal was found.
HEADER = "http-header"
META = "html-meta"
FILE = "per-host-file"
ROBOTS = "robots.txt"


@dataclass(frozen=True, slots=True)
class Finding:
    """One machine-readable statement about AI use of this document."""

    signal: str  # noai | tdmrep | content-signal | aipref | ai-txt | search-directive
    location: str  # http-header | html-meta | per-host-file | robots.txt
    raw: str  # the value as found (truncated)
    opt_out: bool  # does it reserve the content against AI training?
    key: str = ""  # header / meta name / robots line key
    detail: str = ""  # e.g. the rule that decided, "search directive only", the spec section
    entry_sha256: str | None = None  # for file-based signals: the snapshot entry
    permit: bool = False  # an explicit permission (tdm-reservation: 0, train-ai=y, ai-train=yes)
    spec: str = ""  # the specification (and version) the statement was read with
    agent: str = ""  # the crawler the statement is scoped to ("" when it applies to every crawler)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without empty fields (`permit` only when true), for the ledger's evidence."""
        return {k: v for k, v in asdict(self).items()
                if v not in (None, "") and not (k == "permit" and v is False)}


@dataclass(frozen=True, slots=True)
class SignalDecision:
    allowed: bool
    reason: str = ""  # optout:<signal> when not allowed
    deciding: Finding | None = None
    findings: tuple[Finding, ...] = field(default_factory=tuple)


def clip(value: str, limit: int = 300) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
