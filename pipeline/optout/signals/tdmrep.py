"""TDMRep, the W3C TDM Reservation Protocol (Community Group Final Report, 2024).

`tdm-reservation: 1` reserves text-and-data-mining rights (EU DSM Directive art. 4);
`tdm-policy` points to the licence under which they may be obtained. Three places, in the
precedence of the report's section 3: in-document (`<meta name="tdm-reservation">`, section 3.3)
over the HTTP header (section 3.2) over the origin's `/.well-known/tdmrep.json` (section 3.1,
a JSON array of {location, tdm-reservation, tdm-policy}; the first matching entry wins).
A reservation is an opt-out for AI training, with or without a policy URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pipeline.optout.signals.base import FILE, HEADER, META, Finding, clip

SIGNAL = "tdmrep"
TDM_RESERVATION = "tdm-reservation"
TDM_POLICY = "tdm-policy"
WELL_KNOWN = "/.well-known/tdmrep.json"


def _reservation(value: object) -> int | None:
    text = str(value).strip()
    return int(text) if text in ("0", "1") else None


def _level(location: str, pairs: Iterable[tuple[str, str]], key_prefix: str) -> Finding | None:
    """One precedence level; within a level a reservation beats a non-reservation."""
    reserve: list[str] = []
    free: list[str] = []
    policy = ""
    malformed: list[str] = []
    for name, value in pairs:
        if name == TDM_RESERVATION:
            r = _reservation(value)
            if r is None:
                malformed.append(value)
            (reserve if r == 1 else free if r == 0 else []).append(value)
        elif name == TDM_POLICY:
            policy = value.strip()
    if reserve:
        detail = f"{TDM_RESERVATION}: 1" + (f"; {TDM_POLICY}: {clip(policy, 200)}" if policy else "")
        return Finding(SIGNAL, location, clip(reserve[0]), True, f"{key_prefix}{TDM_RESERVATION}", detail)
    if free:
        key = f"{key_prefix}{TDM_RESERVATION}"
        return Finding(SIGNAL, location, clip(free[0]), False, key, f"{TDM_RESERVATION}: 0")
    if malformed:
        return Finding(SIGNAL, location, clip(malformed[0]), False, f"{key_prefix}{TDM_RESERVATION}",
                       "malformed value (neither 0 nor 1): ignored")
    return None


def from_meta(tags: Iterable[tuple[str, str]]) -> Finding | None:
    return _level(META, ((n, v) for n, v in tags if n in (TDM_RESERVATION, TDM_POLICY)), "")


def from_headers(headers: Iterable[tuple[str, str]]) -> Finding | None:
    return _level(HEADER, ((k.strip().lower(), v) for k, v in headers), "")


@dataclass(frozen=True, slots=True)
class TdmRule:
    location: str
    reservation: int
    policy: str
    pattern: re.Pattern[str]


@lru_cache(maxsize=4096)
def parse_well_known(body: bytes) -> tuple[tuple[TdmRule, ...], str]:
    """The rules of a tdmrep.json, and a problem description ('' when well-formed)."""
    try:
        data = json.loads(body.decode("utf-8-sig", "replace"))
    except ValueError as exc:
        return (), f"invalid JSON: {str(exc)[:120]}"
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return (), "not a JSON array"
    rules: list[TdmRule] = []
    skipped = 0
    for entry in data:
        if not isinstance(entry, dict) or "location" not in entry:
            skipped += 1
            continue
        r = _reservation(entry.get(TDM_RESERVATION))
        if r is None:
            skipped += 1
            continue
        loc = str(entry["location"])
        rules.append(TdmRule(loc, r, str(entry.get(TDM_POLICY) or ""), _compile_location(loc)))
    return tuple(rules), (f"{skipped} malformed entr{'y' if skipped == 1 else 'ies'} skipped" if skipped else "")


def _compile_location(loc: str) -> re.Pattern[str]:
    """Section 3.1: a path pattern; `*` matches any characters, `$` ends it, otherwise a prefix."""
    loc = loc if loc.startswith(("/", "*")) else "/" + loc
    anchored = loc.endswith("$")
    body = loc[:-1] if anchored else loc
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""))


def from_well_known(body: bytes, path: str, entry_sha256: str) -> Finding | None:
    rules, problem = parse_well_known(body)
    for rule in rules:
        if rule.pattern.match(path):
            policy = f"; {TDM_POLICY}: {clip(rule.policy, 200)}" if rule.policy else ""
            detail = f"location {rule.location!r}{policy}"
            return Finding(SIGNAL, FILE, clip(f'{{"location": "{rule.location}", "tdm-reservation": '
                                              f'{rule.reservation}}}'), rule.reservation == 1, WELL_KNOWN, detail,
                           entry_sha256)
    if problem:
        return Finding(SIGNAL, FILE, "", False, WELL_KNOWN, problem, entry_sha256)
    return None


def decisive(finding: Finding | None) -> bool:
    """Says 0 or 1 (malformed values and broken files are recorded but decide nothing)."""
    return finding is not None and finding.detail.startswith((f"{TDM_RESERVATION}: ", "location "))


def decide(meta: Finding | None, header: Finding | None, well_known: Finding | None) -> Finding | None:
    """The effective statement: the first level that says 0 or 1, in section 3's precedence."""
    return next((f for f in (meta, header, well_known) if decisive(f)), None)
