"""One opt-out decision per URL with consentcrawl's own stages, packaged to travel between processes.

`OptOut` is what the datatrove and datasets integrations share. It is built in the driver, where
it checks the configuration at once (the policy exists, the as-of is a date, the snapshots are
Parquet files with the required columns) and pins each snapshot's sha256, as a `consentcrawl run`
plans a run. It pickles as that configuration only: a worker process (datatrove's multiprocess
pool, `datasets.map(num_proc=...)`) opens the snapshot lazily, checking that its bytes are still
the pinned ones, and builds `RobotsFilter` and `SignalsFilter` exactly as pipeline/shard.py does.
Because the pickled state is the configuration and the digests, `datasets` fingerprints (dill
hashes) are stable across calls and change when the snapshot bytes, policy or as-of change.

Not thread-safe (the stages keep per-process caches): use one per process, as both libraries do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.document import Document, Outcome
from pipeline.host import url_host
from pipeline.optout.decide import DEFAULT_RULES_CACHE_BYTES, DROP_REASON, RobotsFilter
from pipeline.optout.policy import Policy, load_policy
from pipeline.optout.signals import SignalsFilter
from pipeline.optout.snapshot import (
    Snapshot,
    SnapshotError,
    as_of_bound,
    current_sha256,
    load_snapshot,
    validate_snapshot,
)

#: The decision columns (datasets) and metadata keys (datatrove) every integration writes.
ALLOWED, REASON, EVIDENCE = "optout_allowed", "optout_reason", "optout_evidence"
COLUMNS = (ALLOWED, REASON, EVIDENCE)
#: The pipeline's reason for a record without a usable URL (pipeline/shard.py::_run_stages).
INVALID_URL = "invalid-url"
#: Signals that read the page itself; the others need only the URL (per-host files, robots.txt lines).
_PAGE_SIGNALS = frozenset({"noai", "tdmrep"})

Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class OptOutResult:
    """The pipeline's outcome for one URL: kept, or dropped with its reason and evidence.

    `evidence` is passed through as the stages produce it: for a robots.txt decision (kept or
    dropped) `RobotsDecision.evidence()`, for a signal drop what `SignalsFilter.run` records.
    """

    allowed: bool
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    signals: tuple[str, ...] = ()  # "signal/location[/opt-out]" of every finding, as the run counts them

    def evidence_json(self) -> str:
        """Evidence as one JSON string: its keys vary by decision, a Parquet column's type may not."""
        return json.dumps(self.evidence, sort_keys=True, ensure_ascii=False, default=str)

    def columns(self) -> dict[str, Any]:
        return {ALLOWED: self.allowed, REASON: self.reason, EVIDENCE: self.evidence_json()}


def normalise_headers(value: Any) -> Headers:
    """HTTP headers as the signal parsers read them, from what a dataset may hold.

    Accepts a mapping, a list of (name, value) pairs (JSON turns tuples into lists), or a raw
    header block ("Name: value" lines, a status line is skipped); None or "" mean none.
    """
    if value is None or value == "":
        return []
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        pairs = []
        for line in value.splitlines():
            name, sep, val = line.partition(":")
            if sep and name.strip() and " " not in name.strip():
                pairs.append((name.strip(), val.strip()))
        return pairs
    if isinstance(value, Mapping):
        items: Iterable[Any] = value.items()
    else:
        items = value
    out: Headers = []
    for item in items:
        name, val = item
        if isinstance(val, (list, tuple)):  # a mapping of name -> several values
            out += [(str(name), str(v)) for v in val]
        else:
            out.append((str(name), str(val)))
    return out


def _as_bytes(html: str | bytes | None) -> bytes | None:
    if html is None or isinstance(html, bytes):
        return html
    return html.encode("utf-8", "surrogatepass")


class OptOut:
    """Consentcrawl's opt-out decision for URLs (and their headers and HTML when a record has them).

    `robots_snapshot` is a snapshot Parquet (`consentcrawl robots build/fetch`), `policy` a bundled
    policy name or a YAML path, `as_of` a date: each host's newest robots.txt fetched on or before
    it (None: the newest). `tdmrep_snapshot` and `aitxt_snapshot` are the optional per-host files
    the `strict` policy reads, as in a run's config.
    """

    def __init__(self, robots_snapshot: str | os.PathLike[str], policy: str | Policy = "apertus",
                 as_of: str | None = None, *, tdmrep_snapshot: str | os.PathLike[str] | None = None,
                 aitxt_snapshot: str | os.PathLike[str] | None = None,
                 rules_cache_bytes: int = DEFAULT_RULES_CACHE_BYTES) -> None:
        self.policy = policy if isinstance(policy, Policy) else load_policy(str(policy))
        if as_of is not None:
            try:
                as_of_bound(as_of)
            except ValueError as exc:
                raise SnapshotError(f"not a date for as-of: {as_of!r}") from exc
        self.as_of = as_of
        if rules_cache_bytes < 0:
            raise ValueError(f"rules_cache_bytes must be 0 or more, not {rules_cache_bytes}")
        self.rules_cache_bytes = rules_cache_bytes
        self.robots_snapshot = self._pin(robots_snapshot)
        self.tdmrep_snapshot = self._pin(tdmrep_snapshot) if tdmrep_snapshot is not None else None
        self.aitxt_snapshot = self._pin(aitxt_snapshot) if aitxt_snapshot is not None else None
        self._stages: tuple[RobotsFilter, SignalsFilter] | None = None

    @staticmethod
    def _pin(path: str | os.PathLike[str]) -> tuple[str, str]:
        """(absolute path, sha256): workers in other folders open the same file, and only its planned bytes."""
        p = Path(path).expanduser().resolve()
        digest = current_sha256(p)  # also refuses a missing file or a folder, with one line
        validate_snapshot(p)
        return str(p), digest

    # Pickled (datatrove, datasets' num_proc, datasets' fingerprint) as configuration only.
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_stages"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._stages = None

    def __repr__(self) -> str:
        """Full digests: datatrove records this text in its executor.json, the run's own provenance."""
        path, digest = self.robots_snapshot
        extra = "".join(f", {name}={pin[0]!r} (sha256 {pin[1]})" for name, pin in
                        (("tdmrep_snapshot", self.tdmrep_snapshot), ("aitxt_snapshot", self.aitxt_snapshot)) if pin)
        return (f"OptOut(policy={self.policy.name!r}, robots_snapshot={path!r} (sha256 {digest}){extra}, "
                f"as_of={self.as_of!r}, signals={list(self.policy.signals)})")

    @property
    def reads_pages(self) -> bool:
        """Whether the policy reads headers/HTML at all (else passing them is wasted work)."""
        return bool(_PAGE_SIGNALS & set(self.policy.signals))

    def _open(self, pinned: tuple[str, str] | None) -> Snapshot | None:
        if pinned is None:
            return None
        return load_snapshot(pinned[0], self.as_of, pinned[1])

    def stages(self) -> tuple[RobotsFilter, SignalsFilter]:
        """The pipeline's own robots and signals stages, built once per process as pipeline/shard.py builds them."""
        if self._stages is None:
            robots = self._open(self.robots_snapshot)
            signals = SignalsFilter(self.policy, robots, self._open(self.tdmrep_snapshot),
                                    self._open(self.aitxt_snapshot))
            self._stages = (RobotsFilter(robots, self.policy, rules_cache_bytes=self.rules_cache_bytes), signals)
        return self._stages

    def decide(self, url: str, headers: Any = None, html: str | bytes | None = None) -> OptOutResult:
        """The pipeline's outcome for this URL: robots.txt first, then the policy's other signals.

        A URL without a host is not kept, as a run errors it (`invalid-url`). A stage that raises
        on one record ends that record only (`stage-failed:<stage>`), as in a run.
        """
        robots, signals = self.stages()
        if not isinstance(url, str) or not url_host(url):
            return OptOutResult(False, INVALID_URL, {"url": str(url)[:300]})
        try:
            decision = robots.decide(url)
        except Exception as exc:  # one bad record never ends the shard
            return _failed(robots, exc)
        if not decision.allowed:
            return OptOutResult(False, DROP_REASON, decision.evidence())
        if not signals.active:
            return OptOutResult(True, "", decision.evidence())
        doc = Document(source_uri="", source_record_id="", source_offset=0, source_length=0,
                       record_type="response", url=url)
        if self.reads_pages:
            doc.http_headers = normalise_headers(headers)
            doc.html = _as_bytes(html)
        try:
            signals.run(doc)
        except Exception as exc:
            return _failed(signals, exc)
        found = tuple(doc.signals)
        if doc.outcome is Outcome.DROPPED:
            return OptOutResult(False, doc.reason, dict(doc.evidence), found)
        return OptOutResult(True, "", decision.evidence(), found)


def _failed(stage: object, exc: Exception) -> OptOutResult:
    return OptOutResult(False, f"stage-failed:{type(stage).__name__}",
                        {"detail": f"{type(exc).__name__}: {exc}"[:300]})
