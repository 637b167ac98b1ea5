"""IETF AI Preferences (AIPREF): the `Content-Usage` HTTP header and robots.txt rule.

Follows draft-ietf-aipref-vocab-03 / draft-ietf-aipref-attach-02 (2025): a Structured-Fields-like
dictionary of categories to `y`/`n`, e.g. `Content-Usage: train-ai=n, search=y`; in robots.txt
`Content-Usage: [path] prefs` inside a group. Categories nest: `bots` (automated processing) ⊃
`train-ai` (AI training) ⊃ `train-genai` (generative AI training); training an LLM is
`train-genai`. The most specific stated category decides; at the same level `n` wins.
Earlier draft labels are read as their successors: `tdm`→`bots`, `ai`→`train-ai`,
`genai`→`train-genai`; `yes`/`no` are read as `y`/`n`.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.optout.signals.base import HEADER, ROBOTS, Finding, clip

SIGNAL = "aipref"
CONTENT_USAGE = "content-usage"
BOTS, TRAIN_AI, TRAIN_GENAI, SEARCH, AI_USE = "bots", "train-ai", "train-genai", "search", "ai-use"
# From the most specific category that covers LLM training to the least.
TRAINING_CHAIN = (TRAIN_GENAI, TRAIN_AI, BOTS)
ALIASES = {"tdm": BOTS, "ai": TRAIN_AI, "genai": TRAIN_GENAI, "train-gen-ai": TRAIN_GENAI,
           "automated-processing": BOTS, "ai-training": TRAIN_AI}
VALUES = {"y": "y", "n": "n", "yes": "y", "no": "n"}


def parse_preferences(value: str) -> tuple[dict[str, str], list[str]]:
    """Category → y/n, plus the members it could not read (unknown keys are kept, not applied)."""
    prefs: dict[str, str] = {}
    unread: list[str] = []
    for member in value.split(","):
        member = member.strip()
        if not member:
            continue
        key, sep, raw = member.partition("=")
        key = ALIASES.get(key.strip().lower(), key.strip().lower())
        val = VALUES.get(raw.split(";")[0].strip().strip('"').lower()) if sep else None
        if val is None:
            unread.append(member[:80])
            continue
        if prefs.get(key) != "n":  # the same category twice: n wins
            prefs[key] = val
    return prefs, unread


def training_preference(statements: Iterable[dict[str, str]]) -> tuple[str, str] | None:
    """(category, y|n) that decides LLM training, or None when nothing covers it."""
    stated = list(statements)
    for category in TRAINING_CHAIN:
        values = [s[category] for s in stated if category in s]
        if values:
            return category, ("n" if "n" in values else "y")
    return None


def from_headers(values: Iterable[str]) -> list[tuple[Finding, dict[str, str]]]:
    out = []
    for value in values:
        prefs, unread = parse_preferences(value)
        decided = training_preference([prefs])
        detail = f"{decided[0]}={decided[1]}" if decided else "no training category stated"
        if unread:
            detail += f"; unread: {', '.join(unread)}"
        out.append((Finding(SIGNAL, HEADER, clip(value), bool(decided and decided[1] == "n"), "Content-Usage",
                            detail), prefs))
    return out


def robots_rules(extensions: Iterable[tuple[str, str, int]], path: str) -> list[tuple[Finding, dict[str, str]]]:
    """`Content-Usage: [path] prefs` lines of the applicable group; the longest matching path wins."""
    best: tuple[int, str, int, dict[str, str]] | None = None
    for key, value, line in extensions:
        if key != CONTENT_USAGE:
            continue
        scope, prefs_text = "/", value.strip()
        if prefs_text.startswith("/"):
            scope, _, prefs_text = prefs_text.partition(" ")
        if not path.startswith(scope):
            continue
        prefs, _ = parse_preferences(prefs_text)
        if best is None or len(scope) > best[0]:
            best = (len(scope), value, line, prefs)
    if best is None:
        return []
    _, value, line, prefs = best
    decided = training_preference([prefs])
    detail = (f"{decided[0]}={decided[1]}" if decided else "no training category stated") + f" (line {line})"
    return [(Finding(SIGNAL, ROBOTS, clip(value), bool(decided and decided[1] == "n"), "Content-Usage", detail),
             prefs)]
