"""noai / noimageai: DeviantArt's directives, adopted widely, in robots meta tags and X-Robots-Tag.

`<meta name="robots" content="noai, noimageai">`, agent-named metas (`<meta name="GPTBot"
content="noai">`), `X-Robots-Tag: noai` and its agent-scoped form `X-Robots-Tag: GPTBot: noai`.
`noai` reserves the page's content; `noimageai` only its images (recorded, not a text opt-out).
`noindex`/`nofollow`/`none` are search directives: recorded, dropped only if the policy says so.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.optout.signals.base import HEADER, META, Finding, clip

SIGNAL = "noai"
NOAI = "noai"
NOIMAGEAI = "noimageai"
SEARCH_DIRECTIVES = frozenset({"noindex", "nofollow", "none", "noarchive", "nosnippet"})
ROBOTS_META_NAMES = frozenset({"robots"})


def _directives(value: str) -> list[str]:
    return [d.strip().lower() for d in value.replace(";", ",").split(",") if d.strip()]


def _finding(location: str, key: str, raw: str, directives: list[str], search_drop: bool) -> Finding | None:
    ds = set(directives)
    if NOAI in ds:
        return Finding(SIGNAL, location, clip(raw), True, key, "noai")
    if NOIMAGEAI in ds:
        return Finding(SIGNAL, location, clip(raw), False, key, "noimageai: images only, text not reserved")
    search = ds & SEARCH_DIRECTIVES
    if search:
        return Finding("search-directive", location, clip(raw), search_drop, key,
                       f"{','.join(sorted(search))}: a search directive, not an AI opt-out")
    return None


def from_meta(tags: Iterable[tuple[str, str]], agents: frozenset[str], search_drop: bool = False) -> list[Finding]:
    """`agents` are lower-cased product tokens of the policy (a meta named after one applies)."""
    out = []
    for name, content in tags:
        if name in ROBOTS_META_NAMES or name in agents:
            f = _finding(META, name, content, _directives(content), search_drop)
            if f is not None:
                out.append(f)
    return out


def from_headers(values: Iterable[str], agents: frozenset[str], search_drop: bool = False) -> list[Finding]:
    """X-Robots-Tag values; `agent: directives` scopes a value to one crawler (Google's syntax)."""
    out = []
    for value in values:
        scope, sep, rest = value.partition(":")
        token = scope.strip().lower()
        scoped = sep and token and " " not in token and "," not in token
        if scoped and token not in SEARCH_DIRECTIVES | {NOAI, NOIMAGEAI}:
            if token not in agents:
                continue  # scoped to a crawler the policy does not list
            directives = _directives(rest)
            key = f"X-Robots-Tag ({token})"
        else:
            directives = _directives(value)
            key = "X-Robots-Tag"
        f = _finding(HEADER, key, value, directives, search_drop)
        if f is not None:
            out.append(f)
    return out
