"""Consentcrawl's opt-out decision as a batched function for 🤗 `datasets` (`filter` and `map`).

    optout = OptOutDecider("robots-snapshot.parquet", policy="apertus", as_of="2025-01-31")
    kept = fineweb.filter(optout, batched=True, input_columns=["url"])
    annotated = fineweb.map(optout.columns, batched=True, input_columns=["url"])

The decider pickles as its configuration and the snapshot's sha256 (see pipeline/integrations/
core.py), so `num_proc=N` workers open the snapshot themselves and datasets' cache fingerprint
changes exactly when the snapshot bytes, the policy or the as-of date do. The library itself is
not imported here: the decider works on plain lists as well.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, overload

from pipeline.integrations.core import ALLOWED, COLUMNS, EVIDENCE, REASON, OptOut, OptOutResult
from pipeline.optout.decide import DEFAULT_RULES_CACHE_BYTES
from pipeline.optout.policy import Policy

__all__ = ["ALLOWED", "COLUMNS", "EVIDENCE", "REASON", "OptOutDecider"]


class OptOutDecider:
    """`filter` keeps what consentcrawl keeps; `columns` (for `map`) adds the decision columns.

    With `input_columns=["url"]` the functions receive the URLs; `["url", "html"]` or
    `["url", "html", "headers"]` pass a page's HTML and headers too, for policies that read
    `<meta>`/header signals (`strict`). FineWeb rows carry extracted text only, so there the
    URL-level decisions apply: robots.txt, and per-host signals when the policy reads them.
    Works batched (lists) and unbatched (one value).
    """

    def __init__(self, robots_snapshot: str | os.PathLike[str], policy: str | Policy = "apertus",
                 as_of: str | None = None, *, tdmrep_snapshot: str | os.PathLike[str] | None = None,
                 aitxt_snapshot: str | os.PathLike[str] | None = None,
                 rules_cache_bytes: int = DEFAULT_RULES_CACHE_BYTES) -> None:
        self.optout = OptOut(robots_snapshot, policy, as_of, tdmrep_snapshot=tdmrep_snapshot,
                             aitxt_snapshot=aitxt_snapshot, rules_cache_bytes=rules_cache_bytes)

    def __repr__(self) -> str:
        return f"OptOutDecider({self.optout!r})"

    def decide(self, urls: Sequence[str], html: Sequence[Any] | None = None,
               headers: Sequence[Any] | None = None) -> list[OptOutResult]:
        """One `OptOutResult` per URL, in order."""
        n = len(urls)
        for name, values in (("html", html), ("headers", headers)):
            if values is not None and len(values) != n:
                raise ValueError(f"{name} has {len(values)} values for {n} URLs")
        return [self.optout.decide(url, headers[i] if headers is not None else None,
                                   html[i] if html is not None else None) for i, url in enumerate(urls)]

    @overload
    def __call__(self, urls: str, html: Any = None, headers: Any = None) -> bool: ...

    @overload
    def __call__(self, urls: Sequence[str], html: Sequence[Any] | None = None,
                 headers: Sequence[Any] | None = None) -> list[bool]: ...

    def __call__(self, urls: str | Sequence[str], html: Any = None, headers: Any = None) -> bool | list[bool]:
        """For `Dataset.filter`: True where consentcrawl keeps the row."""
        if isinstance(urls, str):
            return self.optout.decide(urls, headers, html).allowed
        return [r.allowed for r in self.decide(urls, html, headers)]

    def columns(self, urls: str | Sequence[str], html: Any = None, headers: Any = None) -> dict[str, Any]:
        """For `Dataset.map`: `optout_allowed` (bool), `optout_reason` (str, "" when kept) and
        `optout_evidence` (the stages' evidence as a JSON string: its keys vary by decision)."""
        if isinstance(urls, str):
            return self.optout.decide(urls, headers, html).columns()
        results = self.decide(urls, html, headers)
        return {ALLOWED: [r.allowed for r in results], REASON: [r.reason for r in results],
                EVIDENCE: [r.evidence_json() for r in results]}
