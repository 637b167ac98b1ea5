"""AI opt-out signals other than robots.txt, from the specs' own examples and from real pages."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import ROOT, shared_path

from pipeline.config import load_config
from pipeline.optout.policy import Policy, load_policy
from pipeline.optout.robots import RobotsTxt
from pipeline.optout.signals import decide_signals
from pipeline.optout.signals.aipref import draft_preferences, lenient_preferences, resolve
from pipeline.optout.signals.meta import meta_elements
from pipeline.optout.signals.stage import HostFiles
from pipeline.optout.signals.tdmrep import parse_well_known

STRICT = load_policy("strict")
APERTUS = load_policy("apertus")


def decide(headers=(), html: str | bytes | None = None, files: HostFiles | None = None, policy: Policy = STRICT,
           url: str = "https://example.com/articles/1"):
    body = html.encode() if isinstance(html, str) else html
    return decide_signals(policy, url, list(headers), body, files or HostFiles())


def page(*metas: str) -> str:
    return "<html><head><title>t</title>" + "".join(metas) + "</head><body><p>Hello</p></body></html>"


# --- noai / noimageai (DeviantArt's directives; X-Robots-Tag syntax of Google's robots meta docs) ---

def test_noai_in_robots_meta_drops() -> None:
    d = decide(html=page('<meta name="robots" content="noai, noimageai">'))
    assert not d.allowed and d.reason == "optout:noai" and d.deciding.location == "html-meta"


def test_agent_named_meta_applies_only_to_listed_agents() -> None:
    assert not decide(html=page('<meta name="GPTBot" content="noai">')).allowed
    assert decide(html=page('<meta name="SomeOtherBot" content="noai">')).allowed


def test_x_robots_tag_plain_and_agent_scoped() -> None:
    assert decide([("X-Robots-Tag", "noai")]).reason == "optout:noai"
    assert decide([("X-Robots-Tag", "GPTBot: noai")]).reason == "optout:noai"
    assert decide([("X-Robots-Tag", "otherbot: noai")]).allowed
    assert decide([("x-robots-tag", "noimageai")]).allowed  # images only: recorded, text kept


def test_search_directives_are_recorded_not_dropped_unless_policy_says() -> None:
    d = decide([("X-Robots-Tag", "noindex, nofollow")], html=page('<meta name="robots" content="noindex">'))
    assert d.allowed and {f.signal for f in d.findings} == {"search-directive"}
    dropper = Policy.from_dict({**STRICT.to_dict(), "search_directives": "drop"}, "t")
    assert not decide([("X-Robots-Tag", "noindex")], policy=dropper).allowed


# --- TDMRep (W3C CG Final Report, section 3) ---

def test_tdmrep_header_section_3_2() -> None:
    d = decide([("tdm-reservation", "1"), ("tdm-policy", "https://provider.com/policies/policy.json")])
    assert d.reason == "optout:tdmrep" and "tdm-policy" in d.deciding.detail


def test_tdmrep_meta_section_3_3_overrides_header() -> None:
    """In-document statements take precedence over the HTTP header."""
    html = page('<meta name="tdm-reservation" content="0">')
    assert decide([("tdm-reservation", "1")], html=html).allowed
    html = page('<meta name="tdm-reservation" content="1">')
    assert not decide([("tdm-reservation", "0")], html=html).allowed


def test_tdmrep_well_known_file_section_3_1_first_match_wins() -> None:
    body = b"""[
      {"location": "/images/*", "tdm-reservation": 1, "tdm-policy": "https://provider.com/policies/policy.json"},
      {"location": "/*", "tdm-reservation": 0}
    ]"""
    entry = hashlib.sha256(body).hexdigest()
    files = HostFiles(tdmrep_body=body, tdmrep_entry=entry)
    hit = decide(files=files, url="https://example.com/images/cat.jpg")
    assert hit.reason == "optout:tdmrep" and hit.deciding.entry_sha256 == entry
    assert decide(files=files, url="https://example.com/articles/1").allowed
    # the header outranks the file
    assert decide([("tdm-reservation", "0")], files=files, url="https://example.com/images/x").allowed


@pytest.mark.parametrize("body", [b"{not json", b'"a string"', b'[{"location": "/"}]', b"\xff\xfe\x00", b"[]"])
def test_tdmrep_broken_files_decide_nothing(body: bytes) -> None:
    d = decide(files=HostFiles(tdmrep_body=body, tdmrep_entry="x"))
    assert d.allowed
    rules, problem = parse_well_known(body)
    assert rules == () and (problem or body == b"[]")


def test_tdmrep_malformed_value_is_recorded_not_applied() -> None:
    d = decide([("tdm-reservation", "yes please")])
    assert d.allowed and d.findings and "malformed" in d.findings[0].detail


# --- Content-Signal (contentsignals.org) and AIPREF Content-Usage in robots.txt groups ---

ROBOTS_WITH_SIGNALS = b"""User-agent: *
Content-Signal: search=yes, ai-train=no
Allow: /

User-agent: GPTBot
Content-Usage: train-ai=y
Content-Usage: /private/ train-ai=n
Allow: /
"""


def test_content_signal_scoped_to_its_group() -> None:
    robots = RobotsTxt.parse(ROBOTS_WITH_SIGNALS)
    d = decide(files=HostFiles(robots=robots))
    assert d.reason == "optout:content-signal" and "line 2" in d.deciding.detail
    only_gpt = Policy.from_dict({**STRICT.to_dict(), "agents": ["GPTBot"], "signals": ["content-signal"]}, "t")
    assert decide(files=HostFiles(robots=robots), policy=only_gpt).allowed


def test_aipref_robots_rule_longest_path_wins() -> None:
    robots = RobotsTxt.parse(ROBOTS_WITH_SIGNALS)
    pol = Policy.from_dict({**STRICT.to_dict(), "agents": ["GPTBot"], "signals": ["aipref"]}, "t")
    assert decide(files=HostFiles(robots=robots), policy=pol, url="https://e.com/public/a").allowed
    d = decide(files=HostFiles(robots=robots), policy=pol, url="https://e.com/private/a")
    assert d.reason == "optout:aipref" and "line 7" in d.deciding.detail


def test_aipref_vocabulary_specific_wins_and_n_wins_across_statements() -> None:
    v3 = "draft-ietf-aipref-vocab-03"
    assert resolve(draft_preferences("train-ai=n, train-genai=y")[0]) == ("y", "train-genai", v3)
    assert resolve(draft_preferences("bots=n")[0]) == ("n", "bots", "draft-ietf-aipref-vocab-03")
    assert resolve(draft_preferences("train-ai=n")[0]) == ("n", "train-ai", "draft-ietf-aipref-vocab-07")
    assert resolve(draft_preferences("search=n")[0]) == (None, "", "draft-ietf-aipref-vocab-07")
    # earlier draft labels and yes/no: the lenient reading only
    assert resolve(draft_preferences("tdm=n, genai=y")[0]) == (None, "", "draft-ietf-aipref-vocab-07")
    assert lenient_preferences("tdm=n, genai=y") == {"bots": "n", "train-genai": "y"}
    assert decide([("Content-Usage", "train-ai=n")]).reason == "optout:aipref"
    assert decide([("Content-Usage", "train-ai=n, train-genai=y")]).allowed
    assert decide([("Content-Usage", "=,,;garbage")]).allowed


def test_ai_txt_is_off_unless_enabled() -> None:
    ai = RobotsTxt.parse(b"User-Agent: *\nDisallow: /\n")
    assert decide(files=HostFiles(aitxt=ai, aitxt_entry="e"), policy=APERTUS).allowed
    d = decide(files=HostFiles(aitxt=ai, aitxt_entry="e"))
    assert d.reason == "optout:ai-txt" and d.deciding.entry_sha256 == "e"


def test_apertus_policy_reads_no_signal() -> None:
    assert decide([("X-Robots-Tag", "noai"), ("tdm-reservation", "1")], policy=APERTUS).allowed


def test_conflicts_oversize_and_garbage_never_crash() -> None:
    huge = "noai," * 200_000
    assert not decide([("X-Robots-Tag", huge)]).allowed
    html = b"<head>" + b"<meta " * 50_000 + b'<meta name="robots" content="noai">'
    decide(html=html)
    decide([("Content-Usage", "\x00" * 10_000)], html=b"\xff" * 100_000)
    html = page('<meta name="robots" content="noindex">', '<meta name="tdm-reservation" content="1">')
    d = decide([("tdm-reservation", "0")], html=html)  # the page's meta supersedes the header
    assert not d.allowed and d.deciding.location == "html-meta" and len(d.findings) == 3


def test_meta_elements_come_from_the_dom() -> None:
    html = b"""<head><META content='noai' NAME=robots><meta name="x"><!-- <meta name="a" content="b"> -->
    <meta property="robots" content="noai"></head><body><meta name="robots" content="noindex">"""
    assert meta_elements(html) == [("robots", "noai"), ("robots", "noindex")]


def test_real_pages_with_tdm_reservation(shared: Path) -> None:
    from pipeline.ingest.warc import WarcReader

    found = 0
    for f in sorted(shared_path("web_pages").glob("*.warc.gz")):
        for doc in WarcReader(str(f)):
            if doc.html is not None and decide(doc.http_headers, doc.html, url=doc.url).reason == "optout:tdmrep":
                found += 1
    assert found >= 3  # lesechos.fr, liberation.fr, corriere.it carry <meta name="tdm-reservation" content="1">


def test_strict_dry_run_counts_signals(tmp_path: Path) -> None:
    from pipeline.runner import run_pipeline

    cfg = load_config(ROOT / "pipeline" / "sample" / "dry-run.yaml", {"output": str(tmp_path), "policy": "strict"})
    counts = run_pipeline(cfg, workers=1).manifest["counts"]
    assert counts["dropped_by_reason"].get("optout:tdmrep", 0) >= 1
    assert counts["signals_found"].get("tdmrep/html-meta/opt-out", 0) >= 1 and counts["balanced"]


def test_real_content_signal_in_a_2025_robots_txt(shared: Path) -> None:
    """stackoverflow.com's 2025-11 robots.txt has `content-signal: search=no, ai-train=no` under `*`."""
    import json

    found = {}
    for line in shared_path("robots_txt", "gpt_firewall_2025_sample.jsonl").read_text().splitlines():
        row = json.loads(line)
        d = decide(files=HostFiles(robots=RobotsTxt.parse(row["body"])), policy=Policy.from_dict(
            {**STRICT.to_dict(), "signals": ["content-signal"]}, "t"))
        if not d.allowed:
            found[(row["snapshot_month"], row["domain"])] = d.deciding.detail
    assert found == {("2025-11", "stackoverflow.com"): "ai-train=no (line 2)"}


def test_parsed_robots_cache_is_bounded(monkeypatch) -> None:
    """A long-lived worker meets millions of hosts: the parsed files it keeps are bounded (LRU)."""
    from pipeline.optout.policy import load_policy
    from pipeline.optout.signals import stage
    from pipeline.optout.snapshot import Entry

    monkeypatch.setattr(stage, "PARSED_CACHE_ENTRIES", 3)
    flt = stage.SignalsFilter(load_policy("strict"))
    entries = [Entry(f"https://h{i}.example", "2025-01-01T00:00:00Z", 200, f"User-agent: *\nDisallow: /{i}\n".encode(),
                     f"b{i}", "test", f"e{i}") for i in range(5)]
    for e in entries:
        assert flt._robots_of(e) is not None
    assert list(flt._parsed) == ["e2", "e3", "e4"]
    flt._robots_of(entries[2])  # used again: most recent
    flt._robots_of(entries[0])
    assert list(flt._parsed) == ["e4", "e2", "e0"]
