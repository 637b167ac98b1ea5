"""Content Signals (contentsignals.org, Cloudflare, 2025): `Content-Signal:` lines in robots.txt.

`Content-Signal: search=yes, ai-input=yes, ai-train=no` states the site's preference for the
crawlers of the group it is written in ("If a content-signal = no, you may not collect content for
the corresponding use"; "ai-train: training or fine-tuning AI models"). `ai-train=no` is an
opt-out of AI training, `ai-train=yes` an explicit permission, no `ai-train` key no statement
("neither grants nor restricts permission"). A line before the first user-agent line belongs to
no group and is read for every crawler (an "other record", RFC 9309 section 2.2.4, like Sitemap).
Several lines or a repeated key: each is a statement and `no` wins (the most restrictive).
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.optout.signals.base import ROBOTS, Finding, clip

SIGNAL = "content-signal"
CONTENT_SIGNAL = "content-signal"
SPEC = "contentsignals.org (2025)"
AI_TRAIN, AI_INPUT, SEARCH = "ai-train", "ai-input", "search"
VALUES = {"yes": True, "y": True, "no": False, "n": False}


def parse(value: str) -> dict[str, bool]:
    """Key -> yes/no; a key stated twice is `no` if either says no."""
    out: dict[str, bool] = {}
    for member in value.split(","):
        key, sep, raw = member.strip().partition("=")
        val = VALUES.get(raw.strip().lower()) if sep else None
        if val is not None:
            k = key.strip().lower()
            out[k] = out.get(k, True) and val
    return out


def from_robots(extensions: Iterable[tuple[str, str, int]], agent: str = "") -> list[Finding]:
    """One finding per Content-Signal line that applies to `agent`'s group."""
    out = []
    for key, value, line in extensions:
        if key != CONTENT_SIGNAL:
            continue
        signals = parse(value)
        where = f"line {line}"
        if AI_TRAIN in signals:
            train = signals[AI_TRAIN]
            out.append(Finding(SIGNAL, ROBOTS, clip(value), not train, "Content-Signal",
                               f"{AI_TRAIN}={'yes' if train else 'no'} ({where})", None,
                               permit=train, spec=SPEC, agent=agent))
        else:
            out.append(Finding(SIGNAL, ROBOTS, clip(value), False, "Content-Signal",
                               f"no {AI_TRAIN} key ({where})", None, spec=SPEC, agent=agent))
    return out
