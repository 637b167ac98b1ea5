"""Machine-readable AI opt-out signals besides robots.txt, read from what the crawl captured.

Each signal has a small pure parser (one module each, the spec's vocabulary as names) that turns
HTTP headers, `<meta>` tags or a per-host file into `Finding`s; `decide_signals` applies the
policy to the findings of one document; `SignalsFilter` is the pipeline stage; `opt_out` answers one
signal for one agent and URL (True opt-out, False explicit permission, None no statement), like
`pipeline.optout.robots.is_allowed` does for robots.txt.
"""

from __future__ import annotations

from pipeline.optout.signals.base import Finding, SignalDecision
from pipeline.optout.signals.stage import SIGNALS, SignalsFilter, decide_signals, opt_out

__all__ = ["SIGNALS", "Finding", "SignalDecision", "SignalsFilter", "decide_signals", "opt_out"]
