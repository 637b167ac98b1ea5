"""RFC 9309 (Robots Exclusion Protocol) matching engine with evidence.

Vocabulary follows the RFC: a robots.txt is made of *groups*; a group starts
with one or more *user-agent lines* naming *product tokens* and holds *rules*
(``allow`` / ``disallow`` lines with a *path-pattern*). For a crawler, the
groups naming its product token apply (merged), else the ``*`` groups
(merged), else nothing. Among the rules of the applicable group the *most
specific match* (most octets) wins, ``allow`` wins a tie.

Design, in short:

* ``RobotsTxt.parse`` reads the file once (at most 500 KiB, RFC 2.5) with one
  linear-time regular expression that only stops at RFC lines; patterns are
  normalised when a group is first used, and line numbers for the evidence
  are counted when a verdict first needs them.
* Path-patterns and URL paths go through the same percent-encoding
  normalisation (RFC 2.2.2): non-ASCII octets are percent-encoded, reserved
  characters are left as they are, percent-encoded unreserved characters
  (and ``%2A``/``%24``, RFC 2.2.3) are decoded, hex digits are upper-cased.
* Rules without ``*``/``$`` are plain prefix checks; wildcard rules are one
  left-to-right ``str.find`` pass (linear, nothing to compile). Rules are
  bucketed by the first characters of their literal head; a bucket used a few
  hundred times is compiled into one backtracking-safe regular expression,
  and keyword block-lists ("/*/*-word-") get a trigram index.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

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
    patterns like "/*a*a*a*a*b" on long URLs, and nothing to compile. The
    common one-star shapes get a single C-level call.
    """
    start, mids, last = len(parts[0]), parts[1:-1], parts[-1]
    if not mids:
        if anchored:  # "/x*.pdf$": the tail must end the path, after the head
            n = start + len(last)
            return lambda path: len(path) >= n and path.endswith(last)
        return lambda path: path.find(last, start) >= 0  # "/x*y": the tail comes after the head

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


def _pattern_regex(parts: tuple[str, ...], anchored: bool) -> str | None:
    """The same test as a regex source, or None when it cannot be made backtracking-safe.

    Atomic groups (Python 3.11+) commit each middle piece to its earliest
    occurrence, exactly as ``_wildcard_check`` does. Built only for hot lists.
    """
    if len(parts) == 1:
        return re.escape(parts[0]) + ("\\Z" if anchored else "")
    if not _ATOMIC:  # pragma: no cover - Python 3.10
        return None
    rx = re.escape(parts[0]) + "".join(f"(?>.*?{re.escape(p)})" for p in parts[1:-1])
    return rx + (f".*{re.escape(parts[-1])}\\Z" if anchored else f".*?{re.escape(parts[-1])}")


# A compiled pattern: a path matches when it starts with ``head`` and ``check``
# is None or ``check(path)`` is true; ``priority`` counts its octets; ``shape``
# (literal pieces between the stars, anchored) rebuilds it as a regex; ``literal``
# is a piece after the first '*' that any match must contain ("" if none).
_Shape = tuple[tuple[str, ...], bool]
_Pattern = tuple[str, "_Check | None", int, _Shape, str]


def _compile_pattern(raw: str) -> _Pattern:
    """Compile one path-pattern (RFC 2.2.2/2.2.3); usual ones are shared by all files."""
    return _compile_cached(raw) if len(raw) <= 256 else _compile_uncached(raw)


def _compile_uncached(raw: str) -> _Pattern:
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
    shape = (tuple(parts), anchored)
    if len(parts) == 1:
        return head, (head.__eq__ if anchored else None), priority, shape, ""
    return head, _wildcard_check(parts, anchored), priority, shape, max(parts[1:], key=len)


_compile_cached = lru_cache(maxsize=16384)(_compile_uncached)


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
# A rule ready to match: (rank, head, check, rule index, shape, required literal);
# rank = position in the priority order, so the lowest-ranked match is the most specific.
_Entry = tuple[int, str, "_Check | None", int, _Shape, str]

# A list scanned this many times is compiled into one regular expression:
# compiling costs about as much as a few hundred Python-level scans, so only
# hot lists (warm caches, big hosts) pay for it.
_COMPILE_AFTER = 256
_COMPILE_MIN_ENTRIES = 4
_KEY_LEN = 4  # rules are bucketed by the first characters of their literal head
_GRAM_MIN = 32  # this many keyword-like wildcard rules get a trigram index
_NONE = (1 << 62, -1)  # (rank, rule index) of "no match"


def _line_numbers(text: str, original: str | None, offsets: list[int]) -> list[int]:
    """1-based number of the line that starts after ``text[off]``, for ascending offsets.

    ``text`` is the parsed text ("\\n" + body with every CR turned into LF);
    ``original`` is the body before that (None when it had no CR), where a
    CRLF pair counts as one line end (RFC 2.2 NL). One sweep counts them all.
    """
    out: list[int] = []
    line = 1 if original is not None else 0
    last = 0
    for off in offsets:
        if original is None:
            line += text.count("\n", last, off + 1)
            last = off + 1
        else:  # text[off] is original[off - 1]; a CRLF pair never straddles two offsets
            line += (
                original.count("\n", last, off)
                + original.count("\r", last, off)
                - original.count("\r\n", last, off)
            )
            last = off
        out.append(line)
    return out


def _line_text(text: str, off: int) -> str:
    """The line after ``text[off]`` as written, without its comment and outer blanks."""
    end = text.find("\n", off + 1)
    written = text[off + 1 : end] if end != -1 else text[off + 1 :]
    return written.partition("#")[0].strip(" \t\v\f")


class _Bucket:
    """Entries in priority order; finds the first (most specific) one matching a path.

    Files that block hundreds of keywords ("/*/*-keyword-") would make every
    URL try every pattern; such wildcard entries are indexed by the first
    trigram of a literal they require, so only those whose trigram occurs in
    the path are tried.
    """

    __slots__ = ("entries", "grams", "uses", "rx", "index", "first")  # entries: never mutated

    def __init__(self, entries: list[_Entry]) -> None:
        grams: dict[str, list[_Entry]] | None = None
        if len(entries) >= _GRAM_MIN:
            keyed = [e for e in entries if len(e[5]) >= 3]
            if len(keyed) >= _GRAM_MIN:
                grams = {}
                for e in keyed:
                    grams.setdefault(e[5][:3], []).append(e)
                entries = [e for e in entries if len(e[5]) < 3]
        self.entries = entries
        self.grams = grams
        self.uses = 0
        self.rx: Callable[[str], re.Match[str] | None] | None = None
        self.index: tuple[tuple[int, int], ...] = ()
        # first(path, below) -> (rank, rule index) of the first entry matching ``path`` with
        # rank < ``below``, or _NONE: the plain scan unless there is a keyword index.
        self.first: Callable[[str, int], tuple[int, int]] = (
            self._scan if grams is None else self._scan_and_grams
        )

    def _scan(self, path: str, below: int) -> tuple[int, int]:
        self.uses += 1
        if self.uses == _COMPILE_AFTER:
            self._compile()
        for rank, head, check, i, _shape, _lit in self.entries:
            if rank >= below:
                break
            if path.startswith(head) and (check is None or check(path)):
                return rank, i
        return _NONE

    def _regex(self, path: str, below: int) -> tuple[int, int]:
        m = self.rx(path) if self.rx is not None else None
        if m is not None:
            hit = self.index[m.lastindex]  # type: ignore[index]
            if hit[0] < below:
                return hit
        return _NONE

    def _scan_and_grams(self, path: str, below: int) -> tuple[int, int]:
        hit = self._regex(path, below) if self.rx is not None else self._scan(path, below)
        grams = self.grams
        assert grams is not None
        found = grams.keys() & {path[j : j + 3] for j in range(len(path) - 2)}
        if found:
            limit = min(hit[0], below)
            for rank, head, check, i, _shape, _lit in sorted(e for k in found for e in grams[k]):
                if rank >= limit:
                    break
                if path.startswith(head) and check is not None and check(path):
                    return rank, i
        return hit

    def _compile(self) -> None:
        """Turn the ordered scan into one alternation; the first alternative that matches wins."""
        if len(self.entries) < _COMPILE_MIN_ENTRIES:
            return  # a short scan is as fast
        sources = [_pattern_regex(*e[4]) for e in self.entries]
        if None in sources:
            return  # not expressible safely (Python < 3.11): keep scanning
        self.rx = re.compile("|".join(f"({x})" for x in sources), re.DOTALL).match
        self.index = ((0, -1), *((e[0], e[3]) for e in self.entries))
        if self.grams is None:
            self.first = self._regex


_SORT_KEY = itemgetter(0, 1, 2, 3)


class _Matcher:
    """The merged rules of one set of groups, ordered so the first hit is the most specific.

    Rules are ranked by priority (most octets first, allow before disallow on a
    tie, then file order). Rules whose literal head has at least _KEY_LEN
    characters are bucketed by those characters, so a URL scans only the ones
    that start like it; the few with a shorter head ("/", "/*.pdf$", "*foo")
    form one shared list, scanned only up to the rank of the bucket's hit.
    """

    __slots__ = ("rules", "allow", "_text", "_lines", "_tables", "_buckets", "_short")

    def __init__(
        self, rules: list[_Rule], index_html: bool, text: tuple[str, str | None]
    ) -> None:
        self.rules = rules
        self.allow = [r[0] for r in rules]
        self._text = text  # (parsed text, original), for the evidence: line text and number
        self._lines: list[int] | None = None  # line number of each rule, on first need
        self._tables: dict[str, list[Verdict | None]] = {}
        # (-priority, deny, offset, derived, rule index, pattern): sorting gives the ranks.
        keyed: list[tuple[int, bool, int, bool, int, _Pattern]] = []
        for i, (is_allow, raw, offset) in enumerate(rules):
            pattern = _compile_pattern(raw)
            keyed.append((-pattern[2], not is_allow, offset, False, i, pattern))
            if is_allow and index_html:
                # Google: "Allow: /d/index.html" also allows "/d/"
                # (GoogleOnly_IndexHTMLisDirectory).
                slash = raw.rfind("/")
                if slash != -1 and raw.startswith("/index.htm", slash):
                    pattern = _compile_pattern(raw[: slash + 1] + "$")
                    keyed.append((-pattern[2], False, offset, True, i, pattern))
        keyed.sort(key=_SORT_KEY)
        buckets: dict[str, list[_Entry]] = {}
        short: list[_Entry] = []
        for rank, (_p, _d, _o, _x, i, (head, check, _prio, shape, literal)) in enumerate(keyed):
            entry = (rank, head, check, i, shape, literal)
            if len(head) >= _KEY_LEN:
                buckets.setdefault(head[:_KEY_LEN], []).append(entry)
            else:
                short.append(entry)
        self._buckets = {k: _Bucket(v) for k, v in buckets.items()}
        self._short = _Bucket(short) if short else None

    def table(self, label: str) -> list[Verdict | None]:
        """Verdicts per rule for one group label, created on first use and shared by agents."""
        t = self._tables.get(label)
        if t is None:
            t = self._tables[label] = [None] * len(self.rules)
        return t

    def make(self, table: list[Verdict | None], i: int, label: str) -> Verdict:
        """Create (once) the verdict of rule ``i``: its line as written and its line number."""
        text, original = self._text
        if self._lines is None:
            self._lines = _line_numbers(text, original, [r[2] for r in self.rules])
        written = _line_text(text, self.rules[i][2])
        v = table[i] = Verdict(self.allow[i], written, self._lines[i], label)
        return v

    def match(self, path: str) -> int:
        """Return the index (into ``rules``) of the most specific matching rule, or -1."""
        b = self._buckets.get(path[:_KEY_LEN])
        rank, i = _NONE if b is None else b.first(path, _NONE[0])
        short = self._short
        if short is not None:
            hit = short.first(path, rank)
            if hit[0] < rank:
                return hit[1]
        return i


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_STRIP = " \t\v\f"
_POSSESSIVE = "+" if _ATOMIC else ""
# Keys we act on, with the misspellings Google's parser accepts (RFC 2.2.4
# lets crawlers be lenient with other records; the misspelt forms are never
# valid for anything else).
_KEYS_RX = r"((?i:user[- ]?agent|allow|dis(?:allow|sallow|salow|alow|allaw)|diasllow|site-?maps?))"
# One match per directive line: "key: value" or, as Google accepts, "key value"
# with exactly two words. Lines start after "\n" (the text is normalised so).
# For "key: value" the rest of the line is taken whole ("." is the fastest
# thing the regex engine can run); the comment is cut and blanks stripped in Python.
_DIRECTIVE = re.compile(
    rf"\n[ \t\v\f]*{_POSSESSIVE}(?=[UuAaDdSs])"  # one test rejects most lines, then the
    rf"(Disallow|Allow|User-agent|Sitemap|disallow|allow|user-agent|{_KEYS_RX[1:-1]})"  # usual
    # spellings are tried case-sensitively (fast) before the case-insensitive rest
    rf"(?:[ \t\v\f]*{_POSSESSIVE}:(.*)"
    rf"|[ \t]+{_POSSESSIVE}([^\s:#]+{_POSSESSIVE})(?=[ \t\v\f]*(?:#|\n|\Z)))",
    re.ASCII,
)
_KNOWN_KEY = re.compile(rf"{_KEYS_RX}\Z", re.ASCII | re.IGNORECASE).match
# Any line, for the (lazy) pass over non-RFC records.
_ANY_LINE = re.compile(r"\n[ \t\v\f]*([^:#\n]*)(:?)([^#\n]*)")
_FIELD = re.compile(r"[a-z][a-z0-9_-]*(?: [a-z0-9_-]+)*\Z").match


def _prepare(body: bytes | bytearray | memoryview | str) -> tuple[str, str | None]:
    """Return (text to parse, original): at most MAX_BYTES octets, BOM removed, "\\n" ends.

    The text starts with "\\n" so that every line, the first included, is
    introduced by one; ``original`` (None without CR) keeps the line ends for
    line numbers. Invalid UTF-8 octets survive as surrogate escapes and
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
        data = body if type(body) is bytes else bytes(body)
        cut = len(data) > MAX_BYTES
        if cut:
            data = data[:MAX_BYTES]
        if data[:1] == b"\xef":  # Google skips a BOM and any prefix of one
            n = 1 + (data[1:2] == b"\xbb") + (data[1:3] == b"\xbb\xbf")
            data = data[n:]
        text = data.decode("utf-8", "surrogateescape")
    else:
        raise TypeError(f"robots.txt body must be bytes or str, not {type(body).__name__}")
    if cut:  # drop the line the limit cut through
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]
    if "\r" in text:  # RFC 2.2: NL = CR / LF / CRLF. A CRLF becomes an empty line for the
        return "\n" + text.replace("\r", "\n"), text  # parser; line numbers use the original
    return "\n" + text, None


# Per agent: (matcher or None when no rule can apply, verdict table, no-match verdict, label).
_Plan = tuple["_Matcher | None", "list[Verdict | None]", Verdict, str]


# Other records: (those before any group, those of each extension group, product token -> extension
# groups naming it, extension groups naming "*"); records as (key, value, line).
_Extensions = tuple[
    list[tuple[str, str, int]], list[list[tuple[str, str, int]]], dict[str, list[int]], list[int]
]
#: Other records that are rules of their group (draft-ietf-aipref-attach: "A Content-Usage rule is
#: added to the set of potential rules that can be included in a Group"; Content-Signal lines are
#: read the same way): after one, the next user-agent line starts a new group for the extension
#: lines. Allow/Disallow grouping is unchanged (RFC 9309 exact).
RULE_EXTENSIONS = frozenset({"content-usage", "content-signal"})
_UA_TOKENS: dict[str, str] = {}  # user-agent line value -> "*", its product token or ""


def _ua_token(value: str) -> str:
    """Product token of a user-agent line value (RFC 2.2.1), "*" for the global group.

    Like Google, "*" followed by anything but a token character ("* junk") is
    still the global group; other values are reduced to their leading token.
    """
    if value[:1] == "*" and not _TOKEN(value, 1).group():  # type: ignore[union-attr]
        tok = "*"
    else:
        tok = _TOKEN(value).group().lower()  # type: ignore[union-attr]  # always matches
    if len(value) <= 64 and len(_UA_TOKENS) < 65536:
        _UA_TOKENS[value] = tok
    return tok


class RobotsTxt:
    """A parsed robots.txt; ask it for verdicts, or compile it for a list of agents."""

    __slots__ = (
        "sitemaps",
        "_text",
        "_original",
        "_kinds",
        "_values",
        "_offsets",
        "_bounds",
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
        self._text = "\n"  # the parsed text: a newline + the body, CR turned into LF
        self._original: str | None = None  # the body when it had CRs (for line numbers)
        # The rules of all groups in file order, as parallel flat lists (few objects for the
        # garbage collector to track); group g owns rules _bounds[g] to _bounds[g + 1].
        self._kinds: list[str] = []  # first letter of the key: "a"/"A" allow, else disallow
        self._values: list[str] = []  # path-patterns as written
        self._offsets: list[int] = []  # offset of each rule's line in the parsed text
        self._bounds: list[int] = []
        self._starts: list[int] = []  # offset of each group's first user-agent line
        self._by_token: dict[str, list[int]] = {}  # product token -> groups naming it
        self._global: list[int] = []  # groups naming "*"
        self._index_html = True
        self._matchers: dict[tuple[int, ...], _Matcher] = {}
        self._plans: dict[str, _Plan] = {}
        self._extensions: _Extensions | None = None  # other records, built on first use

    @classmethod
    def parse(cls, body: bytes | str, *, index_html_is_directory: bool = True) -> RobotsTxt:
        """Parse a robots.txt body; never raises on content (HTML, binary, huge, broken).

        ``index_html_is_directory`` keeps Google's rule that "Allow: /d/index.html"
        also allows "/d/"; pass False for the letter of RFC 2.2.2.
        """
        self = cls()
        self._index_html = index_html_is_directory
        text, self._original = _prepare(body)
        self._text = text
        kinds = self._kinds  # first letter of each rule's key: "a"/"A" is allow
        values = self._values
        add_kind = kinds.append
        add_value = values.append
        add_offset = self._offsets.append
        bounds = self._bounds
        starts = self._starts
        by_token = self._by_token
        global_ids = self._global
        sitemaps = self.sitemaps
        ua_tokens = _UA_TOKENS
        gid = -1  # current group; -1: none yet, rules are ignored (RFC 2.2.2)
        in_rules = False  # the current group has had a rule line: a user-agent line starts anew
        for m in _DIRECTIVE.finditer(text):
            key, value, bare = m.groups()
            if value is None:
                value = bare
            else:
                if "#" in value:
                    value = value[: value.index("#")]
                value = value.strip(" \t\v\f")
            c = key[0]
            if c in "dDaA":
                if gid >= 0:
                    in_rules = True
                    if value:  # an empty value is no rule (RFC 2.2 empty-pattern)
                        add_kind(c)
                        add_value(value)
                        add_offset(m.start())
            elif c in "uU":
                if gid < 0 or in_rules:
                    bounds.append(len(values))
                    starts.append(m.start())
                    gid += 1
                    in_rules = False
                tok = ua_tokens.get(value)
                if tok is None:
                    tok = _ua_token(value)
                if tok == "*":
                    if not global_ids or global_ids[-1] != gid:
                        global_ids.append(gid)
                elif tok:
                    ids = by_token.get(tok)
                    if ids is None:
                        by_token[tok] = [gid]
                    elif ids[-1] != gid:
                        ids.append(gid)
            elif value:
                sitemaps.append(value)
        bounds.append(len(values))
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

    def _group_rules(self, g: int) -> list[_Rule]:
        """The rules of group ``g``: (is_allow, path-pattern as written, line offset)."""
        lo, hi = self._bounds[g], self._bounds[g + 1]
        allow = [k in "aA" for k in self._kinds[lo:hi]]
        return list(zip(allow, self._values[lo:hi], self._offsets[lo:hi], strict=True))

    def _matcher(self, ids: tuple[int, ...]) -> _Matcher:
        m = self._matchers.get(ids)
        if m is None:
            rules = [r for g in ids for r in self._group_rules(g)]
            m = self._matchers[ids] = _Matcher(
                rules, self._index_html, (self._text, self._original)
            )
        return m

    def _plan(self, user_agent: str) -> _Plan:
        """Matcher, verdict table, no-match verdict and group label for one agent (cached)."""
        plan = self._plans.get(user_agent)
        if plan is None:
            chosen = self._group_ids(product_token(user_agent))
            if chosen is None:
                plan = (None, [], _ALLOW_NO_GROUP, "")
            else:
                ids, label = chosen
                m = self._matcher(ids)
                nomatch = Verdict(True, None, None, label)
                plan = (m, m.table(label), nomatch, label) if m.rules else (None, [], nomatch, label)
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
        if i < 0:
            return plan[2]
        return plan[1][i] or matcher.make(plan[1], i, plan[3])

    def can_fetch(self, user_agent: str, url: str) -> bool:
        """True when ``user_agent`` may fetch ``url``."""
        return self.verdict(user_agent, url).allowed

    def compile(self, user_agents: Sequence[str]) -> CompiledPolicy:
        """Prepare fast checks of many URLs against a fixed list of agents."""
        return CompiledPolicy(self, user_agents)

    def group_extensions(self, user_agent: str, *, toplevel: bool = True) -> list[tuple[str, str, int]]:
        """Non-RFC lines (key lower-case, value, line) that apply to ``user_agent``.

        These are the lines of the group(s) RFC 2.2.1 selects for the agent (with
        ``RULE_EXTENSIONS`` lines ending a run of user-agent lines, as Allow/Disallow
        do), plus, when ``toplevel``, those written before the first user-agent line
        (which belong to no group), in file order. Sitemap lines are in ``sitemaps``.
        """
        if self._extensions is None:
            self._extensions = self._scan_extensions()
        before, per_group, by_token, global_ids = self._extensions
        out = list(before) if toplevel else []
        token = product_token(user_agent)
        chosen = (by_token.get(token) if token else None) or global_ids
        for g in chosen:
            out.extend(per_group[g])
        out.sort(key=lambda e: e[2])
        return out

    def _scan_extensions(self) -> _Extensions:
        """Collect other records (RFC 2.2.4) per group; done lazily, few callers need it.

        The RFC lines are found with the parser's own expression, so a line is a
        user-agent line or a rule here exactly when it is one for the verdicts.
        """
        text = self._text
        events: list[tuple[int, str, str, str]] = []  # (offset, kind, key, value); kind u/r/s/x
        for m in _DIRECTIVE.finditer(text):
            key, value, bare = m.groups()
            if value is None:
                value = bare
            elif "#" in value:
                value = value[: value.index("#")]
            c = key[0]
            events.append((m.start(), "r" if c in "dDaA" else "u" if c in "uU" else "s", "", value.strip(_STRIP)))
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
            if _FIELD(name):
                events.append((m.start(), "x", name, value))
        events.sort(key=itemgetter(0))
        before: list[tuple[int, str, str]] = []
        per_group: list[list[tuple[int, str, str]]] = []
        by_token: dict[str, list[int]] = {}
        global_ids: list[int] = []
        gid = -1
        in_rules = False
        for off, kind, name, value in events:
            if kind == "u":
                if gid < 0 or in_rules:
                    per_group.append([])
                    gid += 1
                    in_rules = False
                tok = _ua_token(value)
                ids = global_ids if tok == "*" else by_token.setdefault(tok, []) if tok else None
                if ids is not None and (not ids or ids[-1] != gid):
                    ids.append(gid)
            elif kind == "r":
                in_rules = gid >= 0
            elif kind == "x":
                if gid < 0:
                    before.append((off, name, value))
                else:
                    per_group[gid].append((off, name, value))
                    in_rules = in_rules or name in RULE_EXTENSIONS
        # _line_numbers needs ascending offsets: number them sorted, then look each one up.
        ordered = sorted([o for o, _, _ in before] + [o for g in per_group for o, _, _ in g])
        lines = dict(zip(ordered, _line_numbers(text, self._original, ordered), strict=True))
        return (
            [(n, v, lines[o]) for o, n, v in before],
            [[(n, v, lines[o]) for o, n, v in g] for g in per_group],
            by_token,
            global_ids,
        )

    def __repr__(self) -> str:
        return (
            f"RobotsTxt(groups={len(self._starts)}, tokens={sorted(self._by_token)!r}, "
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
        firsts: dict[int, tuple[_Matcher, list[bool], str, list[Verdict | None], str]] = {}
        for agent, (m, table, _nomatch, label) in self._per_agent:
            if m is not None and id(m) not in firsts:
                firsts[id(m)] = (m, m.allow, agent, table, label)
        self._firsts = tuple(firsts.values())

    def first_disallowing(self, url: str) -> tuple[str, Verdict] | None:
        """The first agent (in the given order) not allowed to fetch ``url``, with its Verdict."""
        m = _FAST_URL(url)
        path = m.group(1) if m is not None else normalise_path(_path_params_query(url))
        if path.startswith("/robots.txt") and (len(path) == 11 or path[11] == "?"):
            return None
        for matcher, allow, agent, table, label in self._firsts:
            i = matcher.match(path)
            if i >= 0 and not allow[i]:
                return agent, table[i] or matcher.make(table, i, label)
        return None

    def verdicts(self, url: str) -> list[tuple[str, Verdict]]:
        """The verdict of every agent, in the given order."""
        path = path_of(url)
        if _is_robots_txt(path):
            return [(a, _ALLOW_NO_GROUP) for a in self.agents]
        seen: dict[int, int] = {}
        out: list[tuple[str, Verdict]] = []
        for agent, (m, table, nomatch, label) in self._per_agent:
            if m is None:
                out.append((agent, nomatch))
                continue
            i = seen.get(id(m))
            if i is None:
                i = seen[id(m)] = m.match(path)
            out.append((agent, nomatch if i < 0 else (table[i] or m.make(table, i, label))))
        return out


@lru_cache(maxsize=64)
def _parse_cached(body: bytes | str) -> RobotsTxt:
    return RobotsTxt.parse(body)


def is_allowed(robots_txt: bytes | str, user_agent: str, url: str) -> bool:
    """One-shot check; parsed bodies (up to 64 KiB) are cached, so repeated calls stay cheap."""
    if isinstance(robots_txt, (bytearray, memoryview)):
        robots_txt = bytes(robots_txt)
    if len(robots_txt) > 65536:  # don't keep big bodies alive in the cache
        return RobotsTxt.parse(robots_txt).can_fetch(user_agent, url)
    return _parse_cached(robots_txt).can_fetch(user_agent, url)
