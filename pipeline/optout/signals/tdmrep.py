"""TDMRep, the W3C TDM Reservation Protocol (Community Group Final Report, 2024).

`tdm-reservation: 1` reserves text-and-data-mining rights (EU DSM Directive art. 4);
`tdm-policy` points to the licence under which they may be obtained; `0` says they are not
reserved (an explicit permission); other values are protocol errors read as unset. Three places,
in the report's processing priority: HTML `<meta name="tdm-reservation">` supersedes the HTTP
header, which supersedes the origin's `/.well-known/tdmrep.json` (a JSON array of {location,
tdm-reservation, tdm-policy}; the first matching rule wins). Locations are matched as robots.txt
path-patterns (the report re-uses draft-koster-rep's `*` and `$`): percent-encoded unreserved
characters are decoded on both sides before comparison, so `/%7Euser/` matches a `/~user/` rule
and the pattern `/path/foo-%24` matches `/path/foo-$`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pipeline.optout.robots import _compile_pattern, path_of
from pipeline.optout.signals.base import FILE, HEADER, META, Finding, clip

SIGNAL = "tdmrep"
TDM_RESERVATION = "tdm-reservation"
TDM_POLICY = "tdm-policy"
WELL_KNOWN = "/.well-known/tdmrep.json"
SPEC = "W3C TDMRep CG Final Report (2024)"


def _reservation(value: object) -> int | None:
    """0 or 1 from a header or meta value; anything else is a protocol error (unset)."""
    text = str(value).strip()
    return int(text) if text in ("0", "1") else None


def _json_reservation(value: object, lenient: bool) -> int | None:
    """In the file `tdm-reservation` "is an integer": 0 or 1 (JSON `true` is not); "1" only when lenient."""
    if type(value) is int and value in (0, 1):
        return value
    if lenient and isinstance(value, str):
        return _reservation(value)
    return None


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
        return Finding(SIGNAL, location, clip(reserve[0]), True, f"{key_prefix}{TDM_RESERVATION}", detail,
                       spec=SPEC)
    if free:
        key = f"{key_prefix}{TDM_RESERVATION}"
        return Finding(SIGNAL, location, clip(free[0]), False, key, f"{TDM_RESERVATION}: 0", permit=True, spec=SPEC)
    if malformed:
        return Finding(SIGNAL, location, clip(malformed[0]), False, f"{key_prefix}{TDM_RESERVATION}",
                       "malformed value (neither 0 nor 1): a protocol error, read as unset", spec=SPEC)
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
    pattern: str  # the location as a robots.txt path-pattern


@lru_cache(maxsize=4096)
def parse_well_known(body: bytes, lenient: bool = False) -> tuple[tuple[TdmRule, ...], str]:
    """The rules of a tdmrep.json, and a problem description ('' when well-formed).

    Entries without a `location` string or a 0/1 `tdm-reservation` are skipped (both are
    mandatory), so a broken entry never hides a later, broader one.
    """
    try:
        data = json.loads(body.decode("utf-8-sig", "replace"))
    except ValueError as exc:
        return (), f"invalid JSON: {str(exc)[:120]}"
    if isinstance(data, dict) and lenient:
        data = [data]
    if not isinstance(data, list):
        return (), "not a JSON array (the brackets are mandatory)"
    rules: list[TdmRule] = []
    skipped = 0
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("location"), str):
            skipped += 1
            continue
        r = _json_reservation(entry.get(TDM_RESERVATION), lenient)
        if r is None:
            skipped += 1
            continue
        loc = entry["location"]
        rules.append(TdmRule(loc, r, str(entry.get(TDM_POLICY) or ""), _location_pattern(loc)))
    return tuple(rules), (f"{skipped} malformed entr{'y' if skipped == 1 else 'ies'} skipped" if skipped else "")


def _location_pattern(loc: str) -> str:
    """A location as a path-pattern; one without a leading `/` (or `*`) is read from the root."""
    return loc if loc.startswith(("/", "*")) else "/" + loc


def location_matches(pattern: str, path: str) -> bool:
    """RFC 9309 path matching, percent-encoding normalised on both sides (`path` from `path_of`)."""
    head, check, _priority, _shape, _literal = _compile_pattern(pattern)
    return path.startswith(head) and (check is None or bool(check(path)))


def from_well_known(body: bytes, url: str, entry_sha256: str, lenient: bool = False) -> Finding | None:
    """The first rule whose location matches the URL (section "TDM File on the Origin Server")."""
    rules, problem = parse_well_known(body, lenient)
    path = path_of(url)
    for rule in rules:
        if location_matches(rule.pattern, path):
            policy = f"; {TDM_POLICY}: {clip(rule.policy, 200)}" if rule.policy else ""
            detail = f"location {rule.location!r}{policy}"
            return Finding(SIGNAL, FILE, clip(f'{{"location": "{rule.location}", "tdm-reservation": '
                                              f'{rule.reservation}}}'), rule.reservation == 1, WELL_KNOWN, detail,
                           entry_sha256, permit=rule.reservation == 0, spec=SPEC)
    if problem:
        return Finding(SIGNAL, FILE, "", False, WELL_KNOWN, problem, entry_sha256, spec=SPEC)
    return None


def decisive(finding: Finding | None) -> bool:
    """Says 0 or 1 (malformed values and broken files are recorded but decide nothing)."""
    return finding is not None and (finding.opt_out or finding.permit)


def decide(meta: Finding | None, header: Finding | None, well_known: Finding | None) -> Finding | None:
    """The effective statement: the last technique in the report's processing priority that says 0 or 1.

    "The values ... found in this header supercede any value inferred from a TDM file"; those of
    the HTML metadata "supercede previous values". A protocol error is unset and supersedes nothing.
    """
    return next((f for f in (meta, header, well_known) if decisive(f)), None)
