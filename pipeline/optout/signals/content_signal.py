"""Content Signals (contentsignals.org, 2025): `Content-Signal:` lines inside robots.txt groups.

`Content-Signal: search=yes, ai-input=yes, ai-train=no` states the site's preference for the
crawlers of the group it appears in. `ai-train=no` is an opt-out of AI training.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.optout.signals.base import ROBOTS, Finding, clip

SIGNAL = "content-signal"
CONTENT_SIGNAL = "content-signal"
AI_TRAIN, AI_INPUT, SEARCH = "ai-train", "ai-input", "search"
VALUES = {"yes": True, "y": True, "no": False, "n": False}


def parse(value: str) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for member in value.split(","):
        key, sep, raw = member.strip().partition("=")
        val = VALUES.get(raw.strip().lower()) if sep else None
        if val is not None:
            k = key.strip().lower()
            out[k] = out.get(k, True) and val  # the same key twice: "no" wins
    return out


def from_robots(extensions: Iterable[tuple[str, str, int]]) -> list[Finding]:
    out = []
    for key, value, line in extensions:
        if key != CONTENT_SIGNAL:
            continue
        signals = parse(value)
        if AI_TRAIN in signals:
            out.append(Finding(SIGNAL, ROBOTS, clip(value), not signals[AI_TRAIN], "Content-Signal",
                               f"{AI_TRAIN}={'yes' if signals[AI_TRAIN] else 'no'} (line {line})"))
        else:
            out.append(Finding(SIGNAL, ROBOTS, clip(value), False, "Content-Signal",
                               f"no {AI_TRAIN} key (line {line})"))
    return out
