"""Consentcrawl's opt-out decision as a datatrove filter step (FineWeb-style pipelines).

Place it right after the reader, as FineWeb places its URL filter: the robots.txt decision needs
only `metadata["url"]`, and at that point a `WarcReader` document's text is still the page's HTML,
so a policy that reads `<meta>` signals (`strict`) sees them. Every document gets the decision in
its metadata (`optout_allowed`, `optout_reason`, `optout_evidence` as a JSON string, so that a
Parquet writer's schema stays the same whatever the evidence holds); dropped ones go to the
`exclusion_writer` with datatrove's `filter_reason` set to the pipeline's reason (`optout:robots`,
`optout:tdmrep`, …).
"""

from __future__ import annotations

import os
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from pipeline.integrations.core import OptOut
from pipeline.optout.decide import DEFAULT_RULES_CACHE_BYTES
from pipeline.optout.policy import Policy

#: Where the page's HTML is: the document's text (straight after a WarcReader), or a metadata key.
TEXT = "text"


class OptOutFilter(BaseFilter):
    """Drop documents an AI opt-out reserves, with consentcrawl's engine, policy and snapshot.

    Args:
        robots_snapshot: robots.txt snapshot Parquet (`consentcrawl robots build` / `fetch`).
        policy: bundled policy name (`apertus`, `ai-training`, `strict`) or a YAML path.
        as_of: use each host's newest robots.txt fetched on or before this date (None: newest).
        tdmrep_snapshot, aitxt_snapshot: per-host TDMRep / ai.txt snapshots (read by `strict`).
        url_key: metadata key holding the URL (datatrove's readers use "url").
        html: where the HTML is, for policies that read `<meta>` signals: "text" (the document's
            text, before extraction), a metadata key, or None (no HTML).
        headers_key: metadata key holding the HTTP response headers (pairs, a mapping or a raw
            header block), or None. datatrove's WarcReader keeps none; a reader of your own may.
        exclusion_writer: where dropped documents are written (datatrove's convention).
    """

    name = "🛑 Consentcrawl opt-out"

    def __init__(
        self,
        robots_snapshot: str | os.PathLike[str],
        policy: str | Policy = "apertus",
        as_of: str | None = None,
        *,
        tdmrep_snapshot: str | os.PathLike[str] | None = None,
        aitxt_snapshot: str | os.PathLike[str] | None = None,
        url_key: str = "url",
        html: str | None = TEXT,
        headers_key: str | None = "http_headers",
        exclusion_writer: DiskWriter | None = None,
        rules_cache_bytes: int = DEFAULT_RULES_CACHE_BYTES,
    ) -> None:
        super().__init__(exclusion_writer)
        # Checked here, in the driver, before any task starts; snapshots open lazily per worker.
        self.optout = OptOut(robots_snapshot, policy, as_of, tdmrep_snapshot=tdmrep_snapshot,
                             aitxt_snapshot=aitxt_snapshot, rules_cache_bytes=rules_cache_bytes)
        self.url_key = url_key
        self.html = html
        self.headers_key = headers_key

    def _page(self, doc: Document) -> tuple[Any, Any]:
        """(headers, html) of the document, read only when the policy looks at pages."""
        if not self.optout.reads_pages:
            return None, None
        headers = doc.metadata.get(self.headers_key) if self.headers_key else None
        if self.html is None:
            html = None
        elif self.html == TEXT:
            html = doc.text
        else:
            html = doc.metadata.get(self.html)
        return headers, html

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        headers, html = self._page(doc)
        result = self.optout.decide(doc.metadata.get(self.url_key) or "", headers, html)
        doc.metadata.update(result.columns())
        for found in result.signals:
            self.stat_update(f"signal_{found}")
        if result.allowed:
            return True
        return False, result.reason
