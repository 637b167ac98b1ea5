"""RFC 9309 (Robots Exclusion Protocol) matching engine with evidence.

Vocabulary follows the RFC: a robots.txt is made of *groups*; a group starts
with one or more *user-agent lines* naming *product tokens* and holds *rules*
(``allow`` / ``disallow`` lines with a *path-pattern*). For a crawler, the
groups naming its product token apply (merged), else the ``*`` groups
(merged), else nothing. Among the rules of the applicable group the *most
specific match* (most octets) wins, ``allow`` wins a tie.

Design, in short:

* ``RobotsTxt.parse`` reads the file once (at most 500 KiB, RFC 2.5) with a
  single linear-time regular expression and a tight loop; patterns are only
  normalised when a group is first needed.
* Path-patterns and URL paths go through the same percent-encoding
  normalisation (RFC 2.2.2): non-ASCII octets are percent-encoded, reserved
  characters are left as they are, percent-encoded unreserved characters
  (and ``%2A``/``%24``, RFC 2.2.3) are decoded, hex digits are upper-cased.
* Rules without ``*``/``$`` are plain prefix checks; wildcard rules are
  compiled once to a backtracking-safe regular expression (atomic groups),
  shared by every file that uses the same pattern.
* ``RobotsTxt.compile`` dedupes agents that resolve to the same groups (most
  agents fall back to ``*``), so a URL is matched once per distinct group set.
* Every decision is a :class:`Verdict` carrying the rule line that decided it.

Leniencies beyond the RFC grammar (RFC 2.2.4 allows them) are listed in
``docs/robots-conformance.md``: misspelt keys as Google's parser accepts them,
a missing colon, ``*`` followed by junk, user-agent values reduced to their
leading token (digits kept, e.g. ``AI2Bot``), and Google's
``/index.html`` -> ``/`` rule.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "MAX_BYTES",
    "CompiledPolicy",
    "RobotsTxt",
    "Verdict",
    "is_allowed",
    "normalise_path",
    "path_of",
    "product_token",
]

#: RFC 9309 section 2.5: the parsing limit MUST be at least 500 KiB; we read exactly that.
MAX_BYTES = 500 * 1024

# --------------------------------------------------------------------------------------------
# Product tokens (RFC 2.2.1)
# --------------------------------------------------------------------------------------------

# RFC 2.2.1 allows letters, "_" and "-" in a product token. Digits are kept as
# well: real crawlers (AI2Bot, MJ12bot, 360Spider, Crawl4AI) use them, and
# dropping them would make "AI2Bot" collide with any token starting "AI".
_TOKEN = re.compile(r"[A-Za-z0-9_-]*").match


def product_token(user_agent: str) -> str:
    """Return the lower-cased product token of a user-agent string.

    The token is the leading run of token characters, so "GPTBot/1.1" and
    "GPTBot 1.1" give "gptbot" and "panscient.com" gives "panscient". The same
    reduction is applied to robots.txt user-agent lines, so both sides compare
    equal whenever the RFC says they should.
    """
    m = _TOKEN(user_agent.strip())
    return m.group().lower() if m else ""


# --------------------------------------------------------------------------------------------
# Percent-encoding normalisation (RFC 2.2.2, 2.2.3)
# --------------------------------------------------------------------------------------------

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Reserved characters (RFC 3986 gen-delims and sub-delims) keep their literal
# form; "%2F" and "/" therefore stay different, as RFC 9309 2.2.2 requires.
_CLEAN = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*").fullmatch
_TO_FIX = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]")


def _build_pct_map() -> dict[str, str]:
    """Map every "%hh" spelling to its canonical form.

    Unreserved octets are decoded (RFC 2.2.2). "%2A" and "%24" are decoded as
    well: RFC 2.2.3 says the encoded pattern "/path/foo-%24" matches the URI
    "/path/foo-$", so both spellings must compare equal on both sides.
    """
    out: dict[str, str] = {}
    digits = "0123456789ABCDEFabcdef"
    for a in digits:
        for b in digits:
            v = int(a + b, 16)
            c = chr(v)
            out["%" + a + b] = c if (c in _UNRESERVED or c in "*$") else f"%{v:02X}"
    return out


_PCT = _build_pct_map()
_CHAR_CACHE: dict[str, str] = {"%": "%25"}


def _escape_char(c: str) -> str:
    """Percent-encode one character as the UTF-8 octets it stands for.

    Surrogate escapes (from undecodable bytes of the file) become the original
    octet, so an invalid-UTF-8 path still compares octet by octet.
    """
    try:
        raw = c.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = c.encode("utf-8", "surrogatepass")
    return "".join(f"%{o:02X}" for o in raw)


def _fix(m: re.Match[str]) -> str:
    s = m.group()
    if len(s) == 3:
        return _PCT[s]
    r = _CHAR_CACHE.get(s)
    if r is None:
        r = _escape_char(s)
        if len(_CHAR_CACHE) < 65536:
            _CHAR_CACHE[s] = r
    return r


def normalise_path(text: str) -> str:
    """Return ``text`` (a path-pattern piece or a URL path) in canonical form.

    The same function is used on both sides of every comparison, which is the
    whole point: "/ツ", "/%e3%83%84" and "/%E3%83%84" become one string.
    """
    if _CLEAN(text):
        return text
    return _TO_FIX.sub(_fix, text)


# --------------------------------------------------------------------------------------------
# URL -> path+query
# --------------------------------------------------------------------------------------------

# Fast path: an absolute URL (or a path) whose path+query needs no normalisation.
_FAST_URL = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.\-]*://[^/?#;]*|(?!//))(/[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=]*)"
).fullmatch
_PATH_START = re.compile(r"[/?;]").search


def _path_params_query(url: str) -> str:
    """Extract path, params and query from ``url`` (port of Google's GetPathParamsQuery).

    Scheme, authority and fragment are dropped; the result starts with "/".
    """
    start = 2 if url.startswith("//") else 0
    early = _PATH_START(url, start)
    proto = url.find("://", start)
    if early is not None and (proto == -1 or early.start() < proto):
        proto = -1
    proto_end = start if proto == -1 else proto + 3
    m = _PATH_START(url, proto_end)
    if m is None:
        return "/"
    path_start = m.start()
    hash_pos = url.find("#", start)
    if hash_pos != -1 and hash_pos < path_start:
        return "/"
    path = url[path_start:hash_pos] if hash_pos != -1 else url[path_start:]
    return path if path[0] == "/" else "/" + path


def path_of(url: str) -> str:
    """Return the normalised path+query of ``url`` (full URL or path), the string rules match."""
    m = _FAST_URL(url)
    if m is not None:
        return m.group(1)
    return normalise_path(_path_params_query(url))


def _is_robots_txt(path: str) -> bool:
    """RFC 2.2.2: "The /robots.txt URI is implicitly allowed" (whatever the query)."""
    return path == "/robots.txt" or path.startswith("/robots.txt?")


# --------------------------------------------------------------------------------------------
# Path-pattern compilation
# --------------------------------------------------------------------------------------------

_ATOMIC = sys.version_info >= (3, 11)  # "(?>...)" keeps wildcard matching linear-ish
_Check = Callable[[str], object]


def _wildcard_check(parts: list[str], anchored: bool) -> _Check:
    """Build a matcher for a pattern with '*' (parts: the literal pieces between the stars).

    Taking each middle piece at its earliest occurrence is optimal, so one
    left-to-right pass of ``str.find`` decides: linear time even for hostile
    patterns like "/*a*a*a*a*b" on long URLs, and nothing to compile.
    """
    start, mids, last = len(parts[0]), parts[1:-1], parts[-1]

    def check(path: str) -> bool:
        pos = start
        for p in mids:
            i = path.find(p, pos)
            if i < 0:
                return False
            pos = i + len(p)
        if anchored:
            return len(path) - len(last) >= pos and path.endswith(last)
        return path.find(last, pos) >= 0

    return check


def _wildcard_regex(parts: list[str], anchored: bool) -> str | None:
    """The same matcher as a regex source, or None when it cannot be made backtracking-safe.

    Atomic groups (Python 3.11+) commit each middle piece to its earliest
    occurrence, exactly as ``_wildcard_check`` does.
    """
    if not _ATOMIC:  # pragma: no cover - Python 3.10
        return None
    rx = re.escape(parts[0]) + "".join(f"(?>.*?{re.escape(p)})" for p in parts[1:-1])
    return rx + (f".*{re.escape(parts[-1])}\\Z" if anchored else f".*?{re.escape(parts[-1])}")


# A compiled pattern: a path matches when it starts with ``head`` and ``check``
# is None or ``check(path)`` is true; ``priority`` counts its octets; ``regex``
# is the same test as a regular expression source (None: not expressible).
_Pattern = tuple[str, "_Check | None", int, "str | None"]


@lru_cache(maxsize=16384)
def _compile_pattern(raw: str) -> _Pattern:
    """Compile one path-pattern (RFC 2.2.2/2.2.3); shared by all files through the cache."""
    anchored = raw.endswith("$")
    body = raw[:-1] if anchored else raw
    stars = body.count("*")
    parts = [normalise_path(p) for p in body.split("*")] if stars else [normalise_path(body)]
    # Octets of the pattern as written, in canonical form: '*' and '$' count,
    # as in Google's reference matcher ("/*.html" outranks "/page").
    priority = sum(map(len, parts)) + stars + anchored
    if len(parts) > 1 and parts[-1] == "":  # "/a*" and "/a*$" both mean "/a"
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        anchored = False
    if len(parts) > 2:  # "**" is "*"
        parts = [parts[0], *[p for p in parts[1:-1] if p], parts[-1]]
    head = parts[0]
    if len(parts) == 1:
        if anchored:
            return head, head.__eq__, priority, re.escape(head) + "\\Z"
        return head, None, priority, re.escape(head)
    return head, _wildcard_check(parts, anchored), priority, _wildcard_regex(parts, anchored)


# --------------------------------------------------------------------------------------------
# Evidence
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """The evidence of one decision: which rule of which group decided it."""

    allowed: bool
    rule: str | None  # the rule line as written (comment and outer blanks removed)
    line: int | None  # 1-based line number of that rule
    group: str | None  # product token of the group used ("*" or e.g. "gptbot")


_ALLOW_NO_GROUP = Verdict(True, None, None, None)

# --------------------------------------------------------------------------------------------
# Matching of one effective group
# --------------------------------------------------------------------------------------------

# A rule as parsed: (is_allow, path-pattern as written, offset of its line in the text).
_Rule = tuple[bool, str, int]
# A rule ready to match: (head, check, rule index, regex source).
_Entry = tuple[str, "_Check | None", int, "str | None"]

# A bucket scanned this many times is compiled into one regular expression:
# compiling costs about as much as a few hundred Python-level scans, so only
# buckets that are really hot (warm caches, big hosts) pay for it.
_COMPILE_AFTER = 256
_COMPILE_MIN_ENTRIES = 4


class _Bucket:
    """Rules whose literal head starts with the same two characters, most specific first."""

    __slots__ = ("entries", "uses", "rx", "index")

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = tuple(entries)
        self.uses = 0
        self.rx: Callable[[str], re.Match[str] | None] | None = None
        self.index: tuple[int, ...] = ()

    def compile(self) -> None:
        """Turn the ordered scan into one alternation; the first alternative that matches wins."""
        if any(e[3] is None for e in self.entries):
            return  # a pattern with no safe regex form (Python < 3.11): keep scanning
        self.rx = re.compile("|".join(f"({e[3]})" for e in self.entries), re.DOTALL).match
        self.index = (-1, *(e[2] for e in self.entries))


class _Matcher:
    """The merged rules of one set of groups, ordered so the first hit is the most specific.

    Rules are sorted by priority (most octets first, allow before disallow on
    a tie, then file order) and bucketed by the first two characters of their
    literal head, so a URL only scans the rules that could start like it.
    """

    __slots__ = ("rules", "allow", "evidence", "_buckets", "_default")

    def __init__(self, rules: list[_Rule], index_html: bool) -> None:
        self.rules = rules
        self.allow = [r[0] for r in rules]
        self.evidence: list[tuple[str, int]] = []  # (line text, line number), filled by RobotsTxt
        keyed: list[tuple[int, int, int, _Entry]] = []
        for i, (is_allow, raw, offset) in enumerate(rules):
            head, check, prio, rx = _compile_pattern(raw)
            keyed.append((-prio, 0 if is_allow else 1, offset, (head, check, i, rx)))
            if is_allow and index_html:
                # Google: "Allow: /d/index.html" also allows "/d/"
                # (GoogleOnly_IndexHTMLisDirectory).
                slash = raw.rfind("/")
                if slash != -1 and raw.startswith("/index.htm", slash):
                    head, check, prio, rx = _compile_pattern(raw[: slash + 1] + "$")
                    keyed.append((-prio, 0, offset, (head, check, i, rx)))
        keyed.sort(key=lambda k: k[:3])
        ordered = [k[3] for k in keyed]
        buckets: dict[str, list[_Entry]] = {e[0][:2]: [] for e in ordered if len(e[0]) >= 2}
        for e in ordered:  # a short head ("", "/") can match any path: it joins every bucket
            if len(e[0]) >= 2:
                buckets[e[0][:2]].append(e)
            else:
                for lst in buckets.values():
                    lst.append(e)
        self._buckets = {k: _Bucket(v) for k, v in buckets.items()}
        self._default = _Bucket([e for e in ordered if len(e[0]) < 2])

    def match(self, path: str) -> int:
        """Return the index (into ``rules``) of the most specific matching rule, or -1."""
        b = self._buckets.get(path[:2], self._default)
        rx = b.rx
        if rx is not None:
            m = rx(path)
            return -1 if m is None else b.index[m.lastindex]  # type: ignore[index]
        entries = b.entries
        if not entries:
            return -1
        b.uses += 1
        if b.uses == _COMPILE_AFTER and len(entries) >= _COMPILE_MIN_ENTRIES:
            b.compile()
        for head, check, i, _rx in entries:
            if path.startswith(head) and (check is None or check(path)):
                return i
        return -1


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_STRIP = " \t\v\f"
_BOM = b"\xef\xbb\xbf"
_POSSESSIVE = "+" if _ATOMIC else ""
# Keys we act on, with the misspellings Google's parser accepts (RFC 2.2.4
# lets crawlers be lenient with other records; the misspelt forms are never
# valid for anything else).
_KEYS_RX = r"(user[- ]?agent|allow|dis(?:allow|sallow|salow|alow|allaw)|diasllow|site-?maps?)"
# One match per directive line: "key: value" or, as Google accepts, "key value"
# with exactly two words. Lines start after "\n" (the text is normalised so).
_DIRECTIVE = re.compile(
    rf"\n[ \t\v\f]*{_POSSESSIVE}(?i:{_KEYS_RX})"
    rf"(?:[ \t\v\f]*{_POSSESSIVE}:([^#\n]*)"
    rf"|[ \t]+{_POSSESSIVE}([^\s:#]+{_POSSESSIVE})(?=[ \t\v\f]*(?:#|\n|\Z)))",
    re.ASCII,
)
_KNOWN_KEY = re.compile(rf"{_KEYS_RX}\Z", re.ASCII | re.IGNORECASE).match
# Any line, for the (lazy) pass over non-RFC records.
_ANY_LINE = re.compile(r"\n[ \t\v\f]*([^:#\n]*)(:?)([^#\n]*)")
_FIELD = re.compile(r"[a-z][a-z0-9_-]*(?: [a-z0-9_-]+)*\Z").match
_KIND = {"u": 1, "U": 1, "a": 2, "A": 2, "d": 3, "D": 3, "s": 4, "S": 4}
_UA, _ALLOW, _DISALLOW, _SITEMAP = 1, 2, 3, 4


def _prepare(body: bytes | bytearray | memoryview | str) -> str:
    """Return the text to parse: at most MAX_BYTES octets, BOM removed, "\\n" line ends.

    The result starts with "\\n" so that every line, the first included, is
    introduced by one. Invalid UTF-8 octets survive as surrogate escapes and
    are percent-encoded octet by octet if they occur in a path-pattern. A line
    cut by the size limit is dropped rather than read as a shorter, broader
    pattern.
    """
    if isinstance(body, str):
        text = body
        cut = False
        if len(text) > MAX_BYTES // 4:  # only then can it exceed MAX_BYTES in UTF-8
            raw = text.encode("utf-8", "surrogatepass")
            if len(raw) > MAX_BYTES:
                end = MAX_BYTES
                while end > 0 and (raw[end] & 0xC0) == 0x80:
                    end -= 1
                text = text[: len(raw[:end].decode("utf-8", "surrogatepass"))]
                cut = True
        if text.startswith("\ufeff"):
            text = text[1:]
    elif isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
        cut = len(data) > MAX_BYTES
        if cut:
            data = data[:MAX_BYTES]
        # Google skips a BOM and any prefix of one (ID_UTF8ByteOrderMarkIsSkipped).
        n = 0
        while n < 3 and n < len(data) and data[n] == _BOM[n]:
            n += 1
        text = data[n:].decode("utf-8", "surrogateescape")
    else:
        raise TypeError(f"robots.txt body must be bytes or str, not {type(body).__name__}")
    if "\r" in text:  # RFC 2.2: NL = CR / LF / CRLF
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if cut:
        text = text[: text.rfind("\n") + 1]
    return "\n" + text


class RobotsTxt:
    """A parsed robots.txt; ask it for verdicts, or compile it for a list of agents."""

    __slots__ = (
        "sitemaps",
        "_text",
        "_groups",
        "_starts",
        "_by_token",
        "_global",
        "_index_html",
        "_matchers",
        "_plans",
        "_extensions",
    )

    def __init__(self) -> None:
        self.sitemaps: list[str] = []
        self._text = "\n"
        self._groups: list[list[_Rule]] = []  # rules of each group, in file order
        self._starts: list[int] = []  # offset of each group's first user-agent line
        self._by_token: dict[str, list[int]] = {}  # product token -> groups naming it
        self._global: list[int] = []  # groups naming "*"
        self._index_html = True
        self._matchers: dict[tuple[int, ...], _Matcher] = {}
        self._plans: dict[str, tuple[_Matcher | None, list[Verdict], Verdict]] = {}
        self._extensions: tuple[list[tuple[str, str, int]], list[list[tuple[str, str, int]]]]
        self._extensions = None  # type: ignore[assignment]  # built on first use

    @classmethod
    def parse(cls, body: bytes | str, *, index_html_is_directory: bool = True) -> RobotsTxt:
        """Parse a robots.txt body; never raises on content (HTML, binary, huge, broken).

        ``index_html_is_directory`` keeps Google's rule that "Allow: /d/index.html"
        also allows "/d/"; pass False for the letter of RFC 2.2.2.
        """
        self = cls()
        self._index_html = index_html_is_directory
        self._text = text = _prepare(body)
        groups = self._groups
        starts = self._starts
        by_token = self._by_token
        global_ids = self._global
        sitemaps = self.sitemaps
        kinds = _KIND
        rules: list[_Rule] | None = None  # rules of the current group
        gid = -1
        in_rules = False  # the current group has had a rule line: a user-agent line starts anew
        for m in _DIRECTIVE.finditer(text):
            key, value, bare = m.groups()
            kind = kinds[key[0]]
            value = bare if value is None else value.strip(_STRIP)
            if kind >= _ALLOW:
                if kind == _SITEMAP:
                    if value:
                        sitemaps.append(value)
                elif rules is not None:  # RFC 2.2.2: rules outside any group are ignored
                    in_rules = True
                    if value:  # an empty value is no rule (RFC 2.2 empty-pattern)
                        rules.append((kind == _ALLOW, value, m.start()))
            else:
                if rules is None or in_rules:
                    rules = []
                    groups.append(rules)
                    starts.append(m.start())
                    gid += 1
                    in_rules = False
                if value[:1] == "*" and not _TOKEN(value, 1).group():  # type: ignore[union-attr]
                    # "*", and like Google "* junk": the token of the line is "*"
                    if not global_ids or global_ids[-1] != gid:
                        global_ids.append(gid)
                else:
                    tok = _TOKEN(value).group()  # type: ignore[union-attr]  # always matches
                    if tok:
                        ids = by_token.setdefault(tok.lower(), [])
                        if not ids or ids[-1] != gid:
                            ids.append(gid)
        return self

    # -- group selection (RFC 2.2.1) ---------------------------------------------------------

    def _group_ids(self, token: str) -> tuple[tuple[int, ...], str] | None:
        """Groups that apply to ``token`` (merged) and the label of that choice, or None."""
        ids = self._by_token.get(token) if token else None
        if ids:
            return tuple(ids), token
        if self._global:
            return tuple(self._global), "*"
        return None

    def _matcher(self, ids: tuple[int, ...]) -> _Matcher:
        m = self._matchers.get(ids)
        if m is None:
            rules = [r for g in ids for r in self._groups[g]]
            m = self._matchers[ids] = _Matcher(rules, self._index_html)
            m.evidence = self._evidence([r[2] for r in rules])
        return m

    def _evidence(self, offsets: list[int]) -> list[tuple[str, int]]:
        """Line text and 1-based line number of each offset (ascending), in one sweep."""
        text = self._text
        out: list[tuple[str, int]] = []
        line = 0
        last = 0
        for off in offsets:
            line += text.count("\n", last, off + 1)
            last = off + 1
            end = text.find("\n", last)
            written = text[last:end] if end != -1 else text[last:]
            out.append((written.partition("#")[0].strip(_STRIP), line))
        return out

    def _plan(self, user_agent: str) -> tuple[_Matcher | None, list[Verdict], Verdict]:
        """Matcher and precomputed verdicts for one agent (cached per agent string)."""
        plan = self._plans.get(user_agent)
        if plan is None:
            chosen = self._group_ids(product_token(user_agent))
            if chosen is None:
                plan = (None, [], _ALLOW_NO_GROUP)
            else:
                ids, label = chosen
                m = self._matcher(ids)
                table = [
                    Verdict(a, text, line, label)
                    for a, (text, line) in zip(m.allow, m.evidence, strict=True)
                ]
                plan = (m if m.rules else None, table, Verdict(True, None, None, label))
            self._plans[user_agent] = plan
        return plan

    # -- public API --------------------------------------------------------------------------

    def verdict(self, user_agent: str, url: str) -> Verdict:
        """Decide whether ``user_agent`` may fetch ``url`` (a full URL or a path+query)."""
        m = _FAST_URL(url)
        path = m.group(1) if m is not None else normalise_path(_path_params_query(url))
        if path.startswith("/robots.txt") and (len(path) == 11 or path[11] == "?"):
            return _ALLOW_NO_GROUP  # RFC 2.2.2: "/robots.txt" is implicitly allowed
        plan = self._plans.get(user_agent) or self._plan(user_agent)
        matcher = plan[0]
        if matcher is None:
            return plan[2]
        i = matcher.match(path)
        return plan[2] if i < 0 else plan[1][i]

    def can_fetch(self, user_agent: str, url: str) -> bool:
        """True when ``user_agent`` may fetch ``url``."""
        return self.verdict(user_agent, url).allowed

    def compile(self, user_agents: Sequence[str]) -> CompiledPolicy:
        """Prepare fast checks of many URLs against a fixed list of agents."""
        return CompiledPolicy(self, user_agents)

    def group_extensions(self, user_agent: str) -> list[tuple[str, str, int]]:
        """Non-RFC lines (key lower-case, value, line) that apply to ``user_agent``.

        These are the lines of the group(s) RFC 2.2.1 selects for the agent,
        plus those written before the first user-agent line (which apply to
        every agent), in file order. Sitemap lines are in ``sitemaps``.
        """
        if self._extensions is None:
            self._extensions = self._scan_extensions()
        toplevel, per_group = self._extensions
        out = list(toplevel)
        chosen = self._group_ids(product_token(user_agent))
        if chosen is not None:
            for g in chosen[0]:
                out.extend(per_group[g])
        out.sort(key=lambda e: e[2])
        return out

    def _scan_extensions(
        self,
    ) -> tuple[list[tuple[str, str, int]], list[list[tuple[str, str, int]]]]:
        """Collect other records (RFC 2.2.4) per group; done lazily, few callers need it."""
        text = self._text
        starts = self._starts
        toplevel: list[tuple[str, str, int]] = []
        per_group: list[list[tuple[str, str, int]]] = [[] for _ in starts]
        line = 0
        last = 0
        for m in _ANY_LINE.finditer(text):
            key, colon, value = m.groups()
            if colon:
                key = key.strip(_STRIP)
                value = value.strip(_STRIP)
            else:
                parts = key.split()
                if len(parts) != 2:
                    continue
                key, value = parts
            if not key or _KNOWN_KEY(key):
                continue
            name = key.lower()
            if not _FIELD(name):
                continue
            off = m.start()
            line += text.count("\n", last, off + 1)
            last = off + 1
            g = bisect_right(starts, off) - 1
            (toplevel if g < 0 else per_group[g]).append((name, value, line))
        return toplevel, per_group

    def __repr__(self) -> str:
        return (
            f"RobotsTxt(groups={len(self._groups)}, tokens={sorted(self._by_token)!r}, "
            f"global={bool(self._global)}, sitemaps={len(self.sitemaps)})"
        )


class CompiledPolicy:
    """A robots.txt bound to an ordered list of agents; each distinct group set is matched once."""

    __slots__ = ("agents", "_firsts", "_per_agent")

    def __init__(self, robots: RobotsTxt, user_agents: Sequence[str]) -> None:
        self.agents: tuple[str, ...] = tuple(user_agents)
        self._per_agent = tuple((a, robots._plan(a)) for a in self.agents)
        # Distinct matchers, each with the first agent (in the given order) that uses it;
        # scanning them in that order makes the first disallowing one the answer.
        firsts: dict[int, tuple[_Matcher, list[bool], str, list[Verdict]]] = {}
        for agent, (m, table, _nomatch) in self._per_agent:
            if m is not None and id(m) not in firsts:
                firsts[id(m)] = (m, m.allow, agent, table)
        self._firsts = tuple(firsts.values())

    def first_disallowing(self, url: str) -> tuple[str, Verdict] | None:
        """The first agent (in the given order) not allowed to fetch ``url``, with its Verdict."""
        m = _FAST_URL(url)
        path = m.group(1) if m is not None else normalise_path(_path_params_query(url))
        if path.startswith("/robots.txt") and (len(path) == 11 or path[11] == "?"):
            return None
        for matcher, allow, agent, table in self._firsts:
            i = matcher.match(path)
            if i >= 0 and not allow[i]:
                return agent, table[i]
        return None

    def verdicts(self, url: str) -> list[tuple[str, Verdict]]:
        """The verdict of every agent, in the given order."""
        path = path_of(url)
        if _is_robots_txt(path):
            return [(a, _ALLOW_NO_GROUP) for a in self.agents]
        seen: dict[int, int] = {}
        out: list[tuple[str, Verdict]] = []
        for agent, (m, table, nomatch) in self._per_agent:
            if m is None:
                out.append((agent, nomatch))
                continue
            i = seen.get(id(m))
            if i is None:
                i = seen[id(m)] = m.match(path)
            out.append((agent, nomatch if i < 0 else table[i]))
        return out


@lru_cache(maxsize=256)
def _parse_cached(body: bytes | str) -> RobotsTxt:
    return RobotsTxt.parse(body)


def is_allowed(robots_txt: bytes | str, user_agent: str, url: str) -> bool:
    """One-shot check; the parsed file is cached, so repeated calls on one body stay cheap."""
    if isinstance(robots_txt, (bytearray, memoryview)):
        robots_txt = bytes(robots_txt)
    return _parse_cached(robots_txt).can_fetch(user_agent, url)
