"""ai.txt (Spawning, 2023): a robots.txt-like file at /ai.txt whose Disallow lines name paths or
file patterns not to be used for AI training. It has no formal specification, so it is off by
default (only the `strict` policy reads it) and is read with the robots.txt engine for `*`.
"""

from __future__ import annotations

from pipeline.optout.robots import RobotsTxt
from pipeline.optout.signals.base import FILE, Finding, clip

SIGNAL = "ai-txt"
AI_TXT = "/ai.txt"


def from_file(robots: RobotsTxt, url: str, agents: tuple[str, ...], entry_sha256: str) -> Finding | None:
    for agent in agents:
        v = robots.verdict(agent, url)
        if v.rule is not None:
            return Finding(SIGNAL, FILE, clip(v.rule), not v.allowed, AI_TXT,
                           f"{v.rule} (line {v.line}, group {v.group})", entry_sha256)
    return None
