"""Differential test: our RFC 9309 engine vs protego and robotexclusionrulesparser.

Every robots.txt in ../shared/data/robots_txt is checked for the policy agents
and a set of paths (generic ones and paths derived from the file's own rules,
with queries, percent-encoding and '$'). Each disagreement is explained
automatically by a *ladder* of rewrites of the input:

* every rung is a rewrite that leaves our verdict unchanged (checked at run
  time: RFC 9309 gives the rewritten input the same meaning), and removes one
  construct a peer reads differently (a BOM, a misspelt key, a blank line
  inside a group, an unmerged group, ...);
* rungs are applied cumulatively, and a disagreement is attributed to the
  first rung after which the peer agrees with us.

A disagreement that no rung explains fails the test, and so does a rung that
changes our own verdict. The per-category counts are checked against the
table in docs/robots-conformance.md.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from conftest import shared_path

from pipeline.optout.policy import load_policy
from pipeline.optout.robots import (
    _DIRECTIVE,
    MAX_BYTES,
    RobotsTxt,
    _compile_pattern,
    _prepare,
    normalise_path,
    path_of,
    product_token,
)

protego = pytest.importorskip("protego")
rerp = pytest.importorskip("robotexclusionrulesparser")

pytestmark = pytest.mark.shared

# The apertus policy's agents, "*" replaced by a bot no file names (only '*' groups apply to it).
AGENTS = [a for a in load_policy("apertus").agents if a != "*"] + ["SomeGenericBot"]
HOST = "https://example.com"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "robots-conformance.md"

# ---------------------------------------------------------------------------------------------
# Corpus and probe paths
# ---------------------------------------------------------------------------------------------


def load_corpus() -> list[tuple[str, str]]:
    """(name, body) of every robots.txt in the shared folder; all engines get the same text."""
    root = shared_path("robots_txt")
    files: list[tuple[str, str]] = []
    for p in sorted((root / "texting_robots_testdata").glob("*.robots.txt")):
        files.append((p.name, p.read_bytes().decode("utf-8", "replace")))
    for name in ("top1m_2017_sample.jsonl", "gpt_firewall_2025_sample.jsonl"):
        with open(root / name, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                files.append((f"{name}:{row['domain']}:{row.get('snapshot_month', '')}", row["body"]))
    files.append(("ai_robots_txt/robots.txt", (root / "ai_robots_txt" / "robots.txt").read_text("utf-8")))
    return files


_RULE_VALUE = re.compile(r"(?im)^[ \t]*(?:dis)?allow[ \t]*:[ \t]*([^\s#]+)")
GENERIC_PATHS = [
    "/",
    "/index.html",
    "/search?q=test",
    "/%7Euser/",
    "/caf%C3%A9/menu",
    "/wp-admin/admin-ajax.php",
    "/robots.txt",
]


def _encode_one(path: str) -> str:
    """Percent-encode the last letter of a path: an equivalent spelling (RFC 2.2.2)."""
    for i in range(len(path) - 1, 0, -1):
        if path[i].isascii() and path[i].isalpha():
            return f"{path[:i]}%{ord(path[i]):02X}{path[i + 1:]}"
    return path


def probe_paths(body: str, per_file: int = 5) -> list[str]:
    """Generic paths plus paths taken from the file's own rules (spread over the file)."""
    values = sorted(set(_RULE_VALUE.findall(body)))
    if len(values) > per_file:
        step = len(values) / per_file
        values = [values[int(i * step)] for i in range(per_file)]
    out = dict.fromkeys(GENERIC_PATHS)
    for v in values:
        anchored = v.endswith("$")
        base = v.rstrip("$").replace("*", "x")
        if not base.startswith("/"):
            base = "/" + base
        out[base] = None
        out[_encode_one(base)] = None
        out[base + ("x" if anchored else "?id=1")] = None
    return list(out)


# ---------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------


class Peer:
    """A peer parser behind one interface: parse once, then decide per (agent, url)."""

    name = ""

    def parse(self, body: str) -> object:
        raise NotImplementedError

    def allowed(self, parsed: object, agent: str, url: str) -> bool:
        raise NotImplementedError


class ProtegoPeer(Peer):
    name = "protego"

    def parse(self, body: str) -> object:
        return protego.Protego.parse(body)

    def allowed(self, parsed: object, agent: str, url: str) -> bool:
        return bool(parsed.can_fetch(url, agent))  # type: ignore[attr-defined]


class RerpPeer(Peer):
    """robotexclusionrulesparser; ``is_allowed`` is recomputed per ruleset, not per agent.

    Its ``is_allowed(agent, url)`` is "the first ruleset whose names match the
    agent decides"; we run exactly that loop and memoise the (slow, regex
    rebuilding) ``is_url_allowed`` per ruleset and URL, so the 13 agents that
    share one ruleset cost one evaluation.
    """

    name = "robotexclusionrulesparser"

    def __init__(self) -> None:
        self.memo: dict[tuple[int, str], bool] = {}

    def parse(self, body: str) -> object:
        p = rerp.RobotExclusionRulesParser()
        p.parse(body)
        return p

    def allowed(self, parsed: object, agent: str, url: str) -> bool:
        for ruleset in parsed._RobotExclusionRulesParser__rulesets:  # type: ignore[attr-defined]
            if ruleset.does_user_agent_match(agent):
                key = (id(ruleset), url)
                got = self.memo.get(key)
                if got is None:
                    got = self.memo[key] = bool(ruleset.is_url_allowed(url, rerp.GYM2008))
                return got
        return True


PEERS: list[Peer] = [ProtegoPeer(), RerpPeer()]

# ---------------------------------------------------------------------------------------------
# The ladder of RFC-neutral rewrites
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One input as a peer sees it: robots.txt body, crawler name, URL."""

    body: str
    agent: str
    url: str


_CANON = {1: "User-agent", 2: "Allow", 3: "Disallow", 4: "Sitemap"}
_KIND = {"u": 1, "a": 2, "d": 3, "s": 4}  # directive kind by the first letter of its key
_ODD_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_PCT = re.compile(r"%([0-9A-F]{2})")


class Cache:
    """Memoised parses and rewrites: disagreements cluster by file and agent."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: called after each file, which keeps memory flat."""
        self.ours: dict[tuple[str, bool], RobotsTxt] = {}
        self.peers: dict[tuple[str, str], object] = {}
        self.rewrites: dict[tuple[str, str, str], str] = {}
        self.probes: dict[tuple[str, str, str, str], Probe] = {}

    def parse_ours(self, body: str, index_html: bool = True) -> RobotsTxt:
        key = (body, index_html)
        r = self.ours.get(key)
        if r is None:
            r = self.ours[key] = RobotsTxt.parse(body, index_html_is_directory=index_html)
        return r

    def parse_peer(self, peer: Peer, body: str) -> object:
        key = (peer.name, body)
        r = self.peers.get(key)
        if r is None:
            r = self.peers[key] = peer.parse(body)
        return r


CACHE = Cache()


def _lines(body: str) -> list[str]:
    return body.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _directive(line: str) -> tuple[int, str] | None:
    """(kind, value) when our parser reads ``line`` as a directive, else None."""
    m = _DIRECTIVE.match("\n" + line)
    if m is None:
        return None
    key, value, bare = m.groups()
    value = bare if value is None else value.partition("#")[0].strip(" \t\v\f")
    return _KIND[key[0].lower()], value


# -- rewrites of the whole file -----------------------------------------------------------------


def f_bom(body: str) -> str:
    return body.removeprefix("\ufeff")


def f_size_limit(body: str) -> str:
    if len(body.encode("utf-8", "surrogatepass")) <= MAX_BYTES:
        return body
    text, original = _prepare(body)  # our 500 KiB view, line ends as they were
    return original if original is not None else text[1:]


def f_line_breaks(body: str) -> str:
    return _ODD_BREAKS.sub(" ", body)


def f_key_spelling(body: str) -> str:
    out = []
    for line in _lines(body):
        d = _directive(line)
        out.append(line if d is None else f"{_CANON[d[0]]}: {d[1]}")
    return "\n".join(out)


def f_other_records(body: str) -> str:
    """Drop every line but user-agent/allow/disallow and blank ones (comment lines too:
    no parser reads them, and turning them into blank lines would end a group for some)."""
    keep = []
    for line in _lines(body):
        d = _directive(line)
        if (d is not None and d[0] != 4) or not line.strip():
            keep.append(line)
    return "\n".join(keep)


def f_blank_lines(body: str) -> str:
    return "\n".join(x for x in _lines(body) if x.strip())


def _zone(token: str) -> str:
    return f"Z{token}Z" if token else "Znobody-hereZ"


def f_product_tokens(body: str) -> str:
    out = []
    for line in _lines(body):
        d = _directive(line)
        if d is not None and d[0] == 1:
            v = d[1]
            is_global = v[:1] == "*" and not product_token(v[1:2] or " ")
            line = "User-agent: *" if is_global else f"User-agent: {_zone(product_token(v))}"
        out.append(line)
    return "\n".join(out)


def f_empty_rules(body: str) -> str:
    out = []
    for line in _lines(body):
        d = _directive(line)
        empty_rule = d is not None and d[0] in (2, 3) and not d[1]
        out.append("Disallow: never-matches" if empty_rule else line)
    return "\n".join(out)


# -- rewrites of the group that applies to the agent ---------------------------------------------


def _effective(p: Probe) -> tuple[str, list[tuple[bool, str, int]]] | None:
    r = CACHE.parse_ours(p.body)
    chosen = r._group_ids(product_token(p.agent))
    if chosen is None:
        return None
    ids, label = chosen
    return label, [rule for g in ids for rule in r._group_rules(g)]


def _emit(p: Probe, label: str, rules: list[tuple[bool, str, int]], url: str | None = None) -> Probe:
    head = "User-agent: *" if label == "*" else f"User-agent: {p.agent}"
    lines = [head] + [f"{'Allow' if a else 'Disallow'}: {v}" for a, v, _ in rules]
    return Probe("\n".join(lines) + "\n", p.agent, p.url if url is None else url)


def a_product_tokens(p: Probe) -> Probe:
    return Probe(f_product_tokens(p.body), _zone(product_token(p.agent)), p.url)


def a_merge_groups(p: Probe) -> Probe:
    eff = _effective(p)
    return Probe("", p.agent, p.url) if eff is None else _emit(p, *eff)


def a_rule_order(p: Probe) -> Probe:
    eff = _effective(p)
    if eff is None:
        return p
    label, rules = eff
    return _emit(p, label, sorted(rules, key=lambda r: (-_compile_pattern(r[1])[2], not r[0], r[2])))


def a_absolute_patterns(p: Probe) -> Probe:
    eff = _effective(p)
    if eff is None:
        return p
    label, rules = eff
    return _emit(p, label, [r for r in rules if r[1][:1] in ("/", "*")])


def a_robots_txt(p: Probe) -> Probe:
    """Rules that match /robots.txt never apply to it (RFC 2.2.2), so dropping them is neutral."""
    eff = _effective(p)
    if eff is None or path_of(p.url).partition("?")[0] != "/robots.txt":
        return p
    label, rules = eff
    path = path_of(p.url)
    keep = []
    for r in rules:
        head, check, _prio, _shape, _lit = _compile_pattern(r[1])
        if not (path.startswith(head) and (check is None or check(path))):
            keep.append(r)
    return _emit(p, label, keep)


def _neutral_pattern(value: str) -> str:
    anchored = value.endswith("$")
    body = value[:-1] if anchored else value
    pieces = [_PCT.sub(r"~\1", normalise_path(x)) for x in body.split("*")]
    return "*".join(pieces) + ("$" if anchored else "")


def a_percent_encoding(p: Probe) -> Probe:
    """Spell every percent-escape as "~XX" on both sides: same octet count, nothing to decode."""
    eff = _effective(p)
    url = HOST + _PCT.sub(r"~\1", path_of(p.url))
    if eff is None:
        return Probe(p.body, p.agent, url)
    label, rules = eff
    return _emit(p, label, [(a, _neutral_pattern(v), n) for a, v, n in rules], url)


# -- counterfactuals: what would *we* answer without one of our own choices -----------------------


def c_index_html(p: Probe) -> bool | None:
    return CACHE.parse_ours(p.body, index_html=False).can_fetch(p.agent, p.url)


def c_url_reserialised(p: Probe) -> bool | None:
    """urllib's urlparse/urlunparse round trip drops an empty query "?" or params ";"."""
    url = urlunparse(urlparse(p.url))
    return None if url == p.url else CACHE.parse_ours(p.body).can_fetch(p.agent, url)


@dataclass(frozen=True)
class Rung:
    """One step of the ladder, and what a disagreement attributed to it means.

    ``file``/``probe`` rungs change the input (cumulatively) in a way RFC 9309
    says changes nothing, and the peer is asked again. ``counterfactual`` rungs
    ask what our engine would answer without one of its documented choices.
    """

    name: str
    rfc: str  # the RFC 9309 section that decides the case
    kind: str  # "peer bug", "pre-RFC rule" or "RFC leeway"
    file: Callable[[str], str] | None = None
    probe: Callable[[Probe], Probe] | None = None
    counterfactual: Callable[[Probe], bool | None] | None = None
    per_url: bool = False  # the probe rewrite depends on the URL, not only on file and agent


BUG, OLD, LEEWAY = "peer bug", "pre-RFC rule", "RFC leeway"
LADDER = [
    Rung("bom", "2.3 (UTF-8 file)", BUG, file=f_bom),
    Rung("size_limit", "2.5", LEEWAY, file=f_size_limit),
    Rung("line_breaks", "2.2 (NL = CR / LF / CRLF)", BUG, file=f_line_breaks),
    Rung("key_spelling", "2.2.4 (MAY accept misspellings)", LEEWAY, file=f_key_spelling),
    Rung("other_records", "2.2.4 (MUST NOT terminate a group)", BUG, file=f_other_records),
    Rung("blank_lines", "2.2 (emptyline inside a group)", OLD, file=f_blank_lines),
    Rung("product_tokens", "2.2.1 (match the product token)", BUG, probe=a_product_tokens),
    Rung("empty_rules", "2.2 (empty-pattern), 2.2.2", OLD, file=f_empty_rules),
    Rung("merge_groups", "2.2.1 (MUST be combined)", BUG, probe=a_merge_groups),
    Rung("rule_order", "2.2.2 (most octets wins)", OLD, probe=a_rule_order),
    Rung("absolute_patterns", "2.2 (path-pattern), 2.2.2", LEEWAY, probe=a_absolute_patterns),
    Rung("robots_txt", "2.2.2 (/robots.txt implicitly allowed)", BUG, probe=a_robots_txt, per_url=True),
    Rung("percent_encoding", "2.2.2 (percent-encoding)", BUG, probe=a_percent_encoding, per_url=True),
    Rung("index_html", "2.2.2 (Google extension)", LEEWAY, counterfactual=c_index_html),
    Rung("url_reserialised", "2.2.2 (match the URI as given)", BUG, counterfactual=c_url_reserialised),
]


def _apply(rung: Rung, p: Probe) -> Probe:
    if rung.file is not None:
        key = (rung.name, p.body, "")
        body = CACHE.rewrites.get(key)
        if body is None:
            body = CACHE.rewrites[key] = rung.file(p.body)
        return Probe(body, p.agent, p.url)
    assert rung.probe is not None
    pkey = (rung.name, p.body, p.agent, p.url if rung.per_url else "")
    out = CACHE.probes.get(pkey)
    if out is None:
        out = CACHE.probes[pkey] = rung.probe(p)
    return out if rung.per_url else Probe(out.body, out.agent, p.url)


@dataclass
class Report:
    """Decisions compared, disagreements per peer and their categories."""

    decisions: int = 0
    disagreements: Counter[str] = field(default_factory=Counter)
    categories: dict[str, Counter[str]] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)


def explain(peer: Peer, probe: Probe, want: bool) -> str:
    """Climb the ladder until the peer agrees with our verdict ``want``; return the rung."""
    original = probe
    for rung in LADDER:
        if rung.counterfactual is not None:
            got = peer.allowed(CACHE.parse_peer(peer, original.body), original.agent, original.url)
            if rung.counterfactual(original) is got:
                return rung.name
            continue
        probe = _apply(rung, probe)
        if CACHE.parse_ours(probe.body).can_fetch(probe.agent, probe.url) is not want:
            return f"!{rung.name} changed our verdict"
        if peer.allowed(CACHE.parse_peer(peer, probe.body), probe.agent, probe.url) is want:
            return rung.name
    return "!unexplained"


def run(files: list[tuple[str, str]]) -> Report:
    rep = Report(categories={p.name: Counter() for p in PEERS})
    for name, body in files:
        paths = probe_paths(body)
        policy = RobotsTxt.parse(body).compile(AGENTS)
        parsed = {peer.name: peer.parse(body) for peer in PEERS}
        for path in paths:
            url = HOST + path
            for agent, verdict in policy.verdicts(url):
                rep.decisions += 1
                for peer in PEERS:
                    if peer.allowed(parsed[peer.name], agent, url) is verdict.allowed:
                        continue
                    rep.disagreements[peer.name] += 1
                    cat = explain(peer, Probe(body, agent, url), verdict.allowed)
                    rep.categories[peer.name][cat] += 1
                    if cat.startswith("!"):
                        rep.unexplained.append(f"{peer.name} {cat}: {name} {agent} {path}")
        CACHE.reset()
        for peer in PEERS:
            if isinstance(peer, RerpPeer):
                peer.memo.clear()  # ids of freed rulesets may be reused
    return rep


@pytest.fixture(scope="module")
def report() -> Report:
    return run(load_corpus())


def test_no_unexplained_disagreements(report: Report) -> None:
    """Every disagreement with a peer has a named, documented cause."""
    assert report.decisions > 250_000
    assert not report.unexplained, "\n".join(report.unexplained[:50])


def test_counts_match_docs(report: Report) -> None:
    """docs/robots-conformance.md shows what this test measures."""
    if not DOCS.exists():
        pytest.skip("docs/robots-conformance.md not present")
    doc = DOCS.read_text(encoding="utf-8")
    m = re.search(r"^Decisions compared: ([\d,]+)", doc, re.M)
    assert m and int(m.group(1).replace(",", "")) == report.decisions
    for rung in LADDER:
        row = re.search(rf"^\| `{re.escape(rung.name)}` \|(.*)$", doc, re.M)
        assert row, f"category {rung.name} missing from the docs table"
        cells = [c.strip() for c in row.group(1).split("|")]
        for col, peer in enumerate(p.name for p in PEERS):
            n = report.categories[peer][rung.name]
            got = cells[col].replace(",", "")
            assert got == str(n), f"{peer} {rung.name}: docs {got}, measured {n}"
        assert cells[2] == rung.kind and cells[3] == rung.rfc, f"{rung.name}: kind/RFC differ"
