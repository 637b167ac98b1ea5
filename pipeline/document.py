"""The records that flow between stages.

A `Document` is what ingest yields; stages annotate it. Every document ends in exactly one
`Outcome` (kept, dropped with a reason, or errored with a reason) so counts always add up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Outcome(str, Enum):
    KEPT = "kept"
    DROPPED = "dropped"
    ERRORED = "errored"


@dataclass(slots=True)
class Document:
    """One candidate document and the provenance needed to find it again in its source."""

    source_uri: str
    source_record_id: str
    source_offset: int
    source_length: int
    record_type: str
    url: str = ""
    crawl_date: str = ""
    payload_digest: str = ""
    http_status: int | None = None
    content_type: str = ""
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    html: bytes | None = None
    text: str | None = None
    # Filled by stages.
    host: str = ""
    lang: str = ""
    script: str = ""
    macrolanguage: str = ""  # ISO macrolanguage of `lang` (zho for cmn), else `lang` itself
    lang_score: float = 0.0
    lang_topk: list[tuple[str, float]] = field(default_factory=list)
    robots_entry: str = ""
    signals: list[str] = field(default_factory=list)  # "signal/location[/opt-out]" for counting
    outcome: Outcome | None = None
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable id: a digest of where the record came from, not of when it was processed."""
        key = f"{self.source_uri}\x00{self.source_record_id}\x00{self.source_offset}"
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def drop(self, reason: str, **evidence: Any) -> Document:
        self.outcome = Outcome.DROPPED
        self.reason = reason
        self.evidence = evidence
        return self

    def error(self, reason: str, **evidence: Any) -> Document:
        self.outcome = Outcome.ERRORED
        self.reason = reason
        self.evidence = evidence
        return self

    def keep(self) -> Document:
        self.outcome = Outcome.KEPT
        return self

    @property
    def done(self) -> bool:
        return self.outcome is not None
