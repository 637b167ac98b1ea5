"""Apply the policy's signals to one document: pure `decide_signals`, `opt_out`, and the pipeline stage."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.document import Document
from pipeline.optout.policy import Policy
from pipeline.optout.robots import RobotsTxt, product_token
from pipeline.optout.signals import aipref, aitxt, content_signal, noai, tdmrep
from pipeline.optout.signals.base import ROBOTS, Finding, SignalDecision
from pipeline.optout.signals.meta import PARSE_MARGIN, header_values, keywords_at, meta_elements
from pipeline.optout.snapshot import Entry, Snapshot

SIGNALS = (noai.SIGNAL, tdmrep.SIGNAL, content_signal.SIGNAL, aipref.SIGNAL, aitxt.SIGNAL)
#: Signals `opt_out` answers for (ai.txt has no specification to conform to).
OPT_OUT_SIGNALS = (noai.SIGNAL, tdmrep.SIGNAL, content_signal.SIGNAL, aipref.SIGNAL)
_Ext = tuple[tuple[str, str, int], ...]
#: Per distinct robots.txt group set: (first policy agent that uses it, that group's extension lines).
AgentGroups = tuple[tuple[str, _Ext], ...]
_SEARCH_KEYWORDS = (b"noindex", b"nofollow", b"none", b"noarchive", b"nosnippet")


@dataclass(frozen=True, slots=True)
class HostFiles:
    """The per-host files in effect for a URL (from snapshots), already parsed."""

    robots: RobotsTxt | None = None
    tdmrep_body: bytes | None = None
    tdmrep_entry: str | None = None
    aitxt: RobotsTxt | None = None
    aitxt_entry: str | None = None
    robots_groups: tuple[_Ext, AgentGroups] | None = None  # (lines before any group, per agent); per host


def robots_groups(robots: RobotsTxt, agents: Iterable[str]) -> tuple[_Ext, AgentGroups]:
    """Extension lines written before any group, and those of each policy agent's group(s).

    Agents whose groups hold the same lines share one entry (most fall back to `*`), named after
    the first of them; each entry is a separate statement, never merged with another agent's.
    """
    toplevel: _Ext | None = None
    seen: dict[_Ext, str] = {}
    for agent in agents:
        mine = tuple(robots.group_extensions(agent, toplevel=False))
        if toplevel is None:
            in_group = set(mine)
            toplevel = tuple(e for e in robots.group_extensions(agent) if e not in in_group)
        seen.setdefault(mine, agent)
    return toplevel or (), tuple((agent, exts) for exts, agent in seen.items() if exts)


def _header(headers: list[tuple[str, str]], name: str) -> str:
    values = header_values(headers, name)
    return values[0] if values else ""


def _page_metas(policy: Policy, html: bytes | None, headers: list[tuple[str, str]],
                enabled: set[str]) -> list[tuple[str, str]]:
    """Meta elements of the page, parsed only when its bytes hold a word a statement needs."""
    if not html:
        return []
    keywords: tuple[bytes, ...] = ()
    if noai.SIGNAL in enabled:
        keywords += (b"noai",) + (_SEARCH_KEYWORDS if policy.search_directives == "drop" else ())
    if tdmrep.SIGNAL in enabled:
        keywords += (b"tdm-",)
    at = keywords_at(html, keywords) if keywords else -1
    if at < 0:
        return []
    return meta_elements(html, _header(headers, "content-type"), upto=at + PARSE_MARGIN,
                         http_equiv=policy.signals_lenient)


def _aipref_robots(files: HostFiles, groups: tuple[_Ext, AgentGroups], url: str,
                   lenient: bool) -> list[tuple[Finding, aipref.Statement]]:
    """Content-Usage rules of each agent's group; none for a URL the group disallows (attach-02 section 3)."""
    toplevel, per_agent = groups
    out: list[tuple[Finding, aipref.Statement]] = []
    for agent, exts in per_agent:
        lines = exts + toplevel if lenient else exts
        if not any(k == aipref.CONTENT_USAGE for k, _, _ in lines):
            continue
        verdict = files.robots.verdict(agent, url) if files.robots is not None else None
        if verdict is not None and not verdict.allowed:
            detail = f"not crawlable ({verdict.rule}, line {verdict.line}): no usage preference"
            out.append((Finding(aipref.SIGNAL, ROBOTS, "", False, "Content-Usage", detail, spec=aipref.ATTACH,
                                agent=agent), aipref.Statement(None, "", aipref.ATTACH, "draft", {})))
            continue
        out += aipref.robots_rules(lines, url, agent, lenient)
    return out


def decide_signals(
    policy: Policy,
    url: str,
    headers: list[tuple[str, str]],
    html: bytes | None,
    files: HostFiles,
) -> SignalDecision:
    """All findings of the enabled signals, and the first that opts the document out.

    Order of the checks (each its own drop reason): TDMRep (its own precedence inside),
    noai, Content-Signal, AIPREF, ai.txt. Statements scoped to a crawler count for the policy's
    agents only; robots.txt statements are read per agent group, never merged across agents.
    """
    enabled = set(policy.signals)
    lenient = policy.signals_lenient
    search_drop = policy.search_directives == "drop"
    agents = tuple(product_token(a) for a in policy.agents if a != "*")
    agent_set = frozenset(a for a in agents if a)
    tags = _page_metas(policy, html, headers, enabled) if enabled & {noai.SIGNAL, tdmrep.SIGNAL} else []
    findings: list[Finding] = []
    deciding: list[Finding] = []

    if tdmrep.SIGNAL in enabled:
        m = tdmrep.from_meta(tags)
        h = tdmrep.from_headers(headers)
        w = (tdmrep.from_well_known(files.tdmrep_body, url, files.tdmrep_entry or "", lenient)
             if files.tdmrep_body is not None else None)
        findings += [f for f in (m, h, w) if f is not None]
        effective = tdmrep.decide(m, h, w)
        if effective is not None and effective.opt_out:
            deciding.append(effective)
    if noai.SIGNAL in enabled:
        found = noai.from_meta(tags, agent_set, search_drop, lenient)
        found += noai.from_headers(header_values(headers, "x-robots-tag"), agent_set, search_drop, lenient)
        findings += found
        deciding += [f for f in found if f.opt_out]
    groups: tuple[_Ext, AgentGroups] = ((), ())
    if files.robots is not None and enabled & {content_signal.SIGNAL, aipref.SIGNAL}:
        groups = (files.robots_groups if files.robots_groups is not None
                  else robots_groups(files.robots, policy.agents))
    if content_signal.SIGNAL in enabled:
        found = content_signal.from_robots(groups[0])
        for agent, exts in groups[1]:
            found += content_signal.from_robots(exts, agent)
        findings += found
        deciding += [f for f in found if f.opt_out]
    if aipref.SIGNAL in enabled:
        stated = aipref.from_headers(header_values(headers, "content-usage"), lenient)
        stated += _aipref_robots(files, groups, url, lenient)
        findings += [f for f, _ in stated]
        if aipref.combine(st for _, st in stated) == "n":
            deciding.append(next(f for f, st in stated if st.preference == "n"))
    if aitxt.SIGNAL in enabled and files.aitxt is not None:
        f = aitxt.from_file(files.aitxt, url, ("*", *agents), files.aitxt_entry or "")
        if f is not None:
            findings.append(f)
            if f.opt_out:
                deciding.append(f)
    if deciding:
        first = deciding[0]
        return SignalDecision(False, f"optout:{first.signal}", first, tuple(findings))
    return SignalDecision(True, "", None, tuple(findings))


def _bytes(value: bytes | str | None) -> bytes | None:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value


def opt_out(
    signal: str,
    url: str,
    user_agent: str,
    *,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    html: bytes | str | None = None,
    robots_txt: bytes | str | None = None,
    tdmrep_json: bytes | str | None = None,
    lenient: bool = False,
) -> bool | None:
    """Does `signal` opt `url` out of AI training for `user_agent`? The conformance API.

    True: an opt-out statement applies to this agent and URL; False: an explicit permission
    (`tdm-reservation: 0`, `train-ai=y`, `ai-train=yes`) and no opt-out; None: no statement
    (noai has no permission form). `headers` are the response's (a mapping or repeated pairs),
    `html` its body, `robots_txt` and `tdmrep_json` the host's files. The pipeline stage runs the
    same `decide_signals`; `lenient` is the policy's `signals_lenient`.
    """
    if signal not in OPT_OUT_SIGNALS:
        raise ValueError(f"unknown signal {signal!r}; known: {', '.join(OPT_OUT_SIGNALS)}")
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or [])
    policy = Policy(name="opt_out", agents=(user_agent,), signals=(signal,), signals_lenient=lenient)
    robots = RobotsTxt.parse(robots_txt) if robots_txt is not None else None
    files = HostFiles(robots=robots, tdmrep_body=_bytes(tdmrep_json), tdmrep_entry="")
    decision = decide_signals(policy, url, pairs, _bytes(html), files)
    if not decision.allowed and decision.deciding is not None and decision.deciding.signal == signal:
        return True
    if any(f.permit for f in decision.findings if f.signal == signal):
        return False
    return None


#: Parsed robots.txt files (and their extension lines) a signals stage keeps, per worker process.
PARSED_CACHE_ENTRIES = 8192


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> Any:
    cache[key] = value
    while len(cache) > PARSED_CACHE_ENTRIES:
        cache.popitem(last=False)
    return value


class SignalsFilter:
    """Pipeline stage: drop documents that a non-robots.txt AI opt-out signal reserves."""

    def __init__(self, policy: Policy, robots: Snapshot | None = None, tdmrep_snapshot: Snapshot | None = None,
                 aitxt_snapshot: Snapshot | None = None) -> None:
        self.policy = policy
        self.robots = robots
        self.tdmrep = tdmrep_snapshot
        self.aitxt = aitxt_snapshot
        # Per snapshot entry, bounded (least recently used out): a long-lived worker meets millions of hosts.
        self._parsed: OrderedDict[str, RobotsTxt] = OrderedDict()
        self._extensions: OrderedDict[str, tuple[_Ext, AgentGroups]] = OrderedDict()

    @property
    def active(self) -> bool:
        return bool(self.policy.signals)

    def _robots_of(self, entry: Entry | None) -> RobotsTxt | None:
        if entry is None or not 200 <= entry.http_status < 300:
            return None
        parsed = self._parsed.get(entry.entry_sha256)
        if parsed is None:
            parsed = _remember(self._parsed, entry.entry_sha256, RobotsTxt.parse(entry.body))
        else:
            self._parsed.move_to_end(entry.entry_sha256)
        return parsed

    def files_for(self, url: str) -> HostFiles:
        entry = self.robots.lookup(url)[0] if self.robots is not None else None
        robots = self._robots_of(entry)
        exts = None
        if robots is not None and entry is not None:
            exts = self._extensions.get(entry.entry_sha256)
            if exts is None:
                exts = _remember(self._extensions, entry.entry_sha256, robots_groups(robots, self.policy.agents))
        tdm = self.tdmrep.lookup(url)[0] if self.tdmrep is not None else None
        if tdm is not None and not 200 <= tdm.http_status < 300:
            tdm = None
        ai = self.aitxt.lookup(url)[0] if self.aitxt is not None else None
        return HostFiles(robots, tdm.body if tdm else None, tdm.entry_sha256 if tdm else None,
                         self._robots_of(ai), ai.entry_sha256 if ai else None, exts)

    def decide(self, doc: Document) -> SignalDecision:
        return decide_signals(self.policy, doc.url, doc.http_headers, doc.html, self.files_for(doc.url))

    def run(self, doc: Document) -> Document:
        if not self.active:
            return doc
        decision = self.decide(doc)
        doc.signals = [f"{f.signal}/{f.location}" + ("/opt-out" if f.opt_out else "") for f in decision.findings]
        if not decision.allowed and decision.deciding is not None:
            d = decision.deciding
            return doc.drop(decision.reason, signal=d.signal, location=d.location, raw=d.raw, key=d.key,
                            rule=f"{d.key}: {d.raw}" if d.key else d.raw, detail=d.detail,
                            entry_sha256=d.entry_sha256, findings=[f.to_dict() for f in decision.findings])
        return doc
