"""noai / noimageai: DeviantArt's directives (2022), written with the robots meta tag syntax.

Where they are read, as MDN and Google document robots rules:

* `<meta name="robots" content="noai, noimageai">` for every crawler, `<meta name="GPTBot"
  content="noai">` for one (a policy agent's product token). Names and content are
  case-insensitive; rules are comma-separated. Meta elements come from the parsed document
  (`meta.meta_elements`), so a tag in a comment, a script string or a `property=` attribute is
  not one.
* `X-Robots-Tag`, in MDN's syntax: `X-Robots-Tag: <indexing-rule>, <bot-name>: <indexing-rule>`;
  "An optional <bot-name>: specifies the user agent that the subsequent rules should apply to",
  so in `noindex, GPTBot: noai` the `noai` is GPTBot's only, and in `BadBot: noindex, googlebot:
  noai` the `noindex` is BadBot's. Rules whose own value follows a colon (`max-snippet: 20`,
  `unavailable_after: ...`) are not bot names.

`noai` reserves the page's content; `noimageai` only its images (recorded, not a text opt-out).
Neither has an opposite, so noai never states a permission. `noindex`/`nofollow`/`none`/
`noarchive`/`nosnippet` are search directives: recorded, dropped only if the policy says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.optout.robots import product_token
from pipeline.optout.signals.base import HEADER, META, Finding, clip

SIGNAL = "noai"
SPEC = "noai/noimageai (DeviantArt 2022), robots meta syntax (MDN, Google)"
NOAI = "noai"
NOIMAGEAI = "noimageai"
SEARCH_DIRECTIVES = frozenset({"noindex", "nofollow", "none", "noarchive", "nosnippet"})
ROBOTS_META_NAMES = frozenset({"robots"})
#: Indexing rules that take a value after a colon (MDN's list): never a <bot-name>.
VALUED_RULES = frozenset({"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"})
_NOT_BOTS = VALUED_RULES | SEARCH_DIRECTIVES | {NOAI, NOIMAGEAI}
_SCOPED = re.compile(r"[ \t]*([A-Za-z0-9_.\-]+)[ \t]*:(.*)\Z", re.DOTALL)
_LENIENT_SPLIT = re.compile(r"[,;\s]+")


def directives(value: str, lenient: bool = False) -> list[str]:
    """The comma-separated rules of a content attribute, lower-cased (lenient: also `;` and blanks)."""
    parts = _LENIENT_SPLIT.split(value) if lenient else value.split(",")
    return [d.strip(" \t\r\n\f").lower() for d in parts if d.strip(" \t\r\n\f")]


def header_rules(value: str, lenient: bool = False) -> list[tuple[str, str]]:
    """(product token of the bot the rule is for, or "" for every bot; rule) in an X-Robots-Tag value."""
    scope = ""
    out: list[tuple[str, str]] = []
    for item in value.split(","):
        m = _SCOPED.match(item)
        if m is not None and m.group(1).lower() not in _NOT_BOTS:
            scope = product_token(m.group(1))
            item = m.group(2)
        out.extend((scope, d) for d in directives(item, lenient))
    return out


def _finding(location: str, key: str, raw: str, rules: list[str], search_drop: bool, agent: str) -> Finding | None:
    ds = set(rules)
    if NOAI in ds:
        return Finding(SIGNAL, location, clip(raw), True, key, "noai", spec=SPEC, agent=agent)
    if NOIMAGEAI in ds:
        return Finding(SIGNAL, location, clip(raw), False, key, "noimageai: images only, text not reserved",
                       spec=SPEC, agent=agent)
    search = ds & SEARCH_DIRECTIVES
    if search:
        return Finding("search-directive", location, clip(raw), search_drop, key,
                       f"{','.join(sorted(search))}: a search directive, not an AI opt-out", agent=agent)
    return None


def from_meta(tags: Iterable[tuple[str, str]], agents: frozenset[str], search_drop: bool = False,
              lenient: bool = False) -> list[Finding]:
    """`tags`: (lower-cased name, content) of meta elements; `agents`: lower-cased product tokens."""
    out = []
    for name, content in tags:
        if name in ROBOTS_META_NAMES or name in agents:
            agent = "" if name in ROBOTS_META_NAMES else name
            f = _finding(META, name, content, directives(content, lenient), search_drop, agent)
            if f is not None:
                out.append(f)
    return out


def from_headers(values: Iterable[str], agents: frozenset[str], search_drop: bool = False,
                 lenient: bool = False) -> list[Finding]:
    """X-Robots-Tag values: one finding per header line and bot scope that applies to a policy agent."""
    out = []
    for value in values:
        by_scope: dict[str, list[str]] = {}
        for scope, rule in header_rules(value, lenient):
            if scope == "" or scope in agents:
                by_scope.setdefault(scope, []).append(rule)
        for scope in sorted(by_scope):
            key = f"X-Robots-Tag ({scope})" if scope else "X-Robots-Tag"
            f = _finding(HEADER, key, value, by_scope[scope], search_drop, scope)
            if f is not None:
                out.append(f)
    return out
