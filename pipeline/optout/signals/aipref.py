"""IETF AI Preferences (AIPREF): the `Content-Usage` HTTP header and robots.txt rule.

Read as the drafts say (docs/signals.md quotes the sentences):

* A statement is an RFC 9651 Dictionary (`sf.parse_dictionary`); a value is a preference only
  when it is the Token `y` or `n`; a repeated key keeps its last value; a Dictionary that does not
  parse (uppercase keys, `train-ai = n`, a trailing comma) states nothing.
* Vocabularies: the current draft (draft-ietf-aipref-vocab-07: `train-ai`, `ai-use`, `search`)
  and the earlier one our first version followed (draft-ietf-aipref-vocab-03: `bots` ⊃ `train-ai` ⊃
  `train-genai`, where an unstated category takes its parent's preference). Training an LLM is
  `train-ai` in -07 and `train-genai` in -03. A statement that uses a label only -03 defines is
  read with -03's nesting; every finding records the vocabulary it matched.
* Several statements (the header, the robots.txt rules, one per agent group) are each resolved,
  then combined as the vocabulary says: any `n` wins over any `y` (vocab section 5.1).
* robots.txt (draft-ietf-aipref-attach-02 section 3): `Content-Usage: <path> <prefs>` is a rule of
  its group; the path is mandatory, matched like Allow/Disallow (longest match in octets, `*`,
  `$`, percent-encoding normalised); rules with the same longest path all apply (n wins); a path
  the group disallows carries no preference.

The lenient reading (policy `signals_lenient: true`) also reads what a site owner plainly meant
but the draft does not accept: upper case, blanks around `=`, `yes`/`no`, quoted values, labels of
drafts before -03 (`tdm`, `ai`, `genai`, `all`), a rule without a path (as `/`). It can only add
`n`s; the finding says when it changed the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.optout.robots import _compile_pattern, path_of
from pipeline.optout.signals.base import HEADER, ROBOTS, Finding, clip
from pipeline.optout.signals.sf import Token, parse_dictionary

SIGNAL = "aipref"
CONTENT_USAGE = "content-usage"
VOCAB_CURRENT = "draft-ietf-aipref-vocab-07"
VOCAB_03 = "draft-ietf-aipref-vocab-03"
ATTACH = "draft-ietf-aipref-attach-02"
BOTS, TRAIN_AI, TRAIN_GENAI, SEARCH, AI_USE = "bots", "train-ai", "train-genai", "search", "ai-use"
#: Labels each vocabulary defines.
LABELS = {VOCAB_CURRENT: frozenset({TRAIN_AI, AI_USE, SEARCH}),
          VOCAB_03: frozenset({BOTS, TRAIN_AI, TRAIN_GENAI, SEARCH})}
#: vocab-03 section 5: "if the usage category is a proper subset of another usage category,
#: recursively apply this process to that category". LLM training is Generative AI Training.
CHAIN_03 = (TRAIN_GENAI, TRAIN_AI, BOTS)
#: Lenient reading only: labels of drafts before -03 and spellings seen in the wild.
ALIASES = {"tdm": BOTS, "all": BOTS, "automated-processing": BOTS, "ai": TRAIN_AI, "ai-training": TRAIN_AI,
           "genai": TRAIN_GENAI, "train-gen-ai": TRAIN_GENAI}
LENIENT_VALUES = {"y": "y", "n": "n", "yes": "y", "no": "n"}


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of preference, resolved for LLM training."""

    preference: str | None  # "y" | "n" | None (unknown)
    category: str  # the label that decided ("" when unknown)
    vocab: str  # the vocabulary it was read with
    reading: str  # "draft" or "lenient" (the lenient reading changed the outcome)
    stated: dict[str, str]  # label -> y/n as read


def draft_preferences(value: str) -> tuple[dict[str, str], str]:
    """Label -> y/n by the vocabulary's processing algorithm, and a note ('' when it parsed)."""
    parsed = parse_dictionary(value)
    if parsed is None:
        return {}, "not an RFC 9651 Dictionary: no preference"
    out = {}
    for key, (val, _params) in parsed.items():
        if isinstance(val, Token) and val in ("y", "n"):
            out[key] = str(val)
    return out, ""


def lenient_preferences(value: str) -> dict[str, str]:
    """The protective reading: case-insensitive, blanks tolerated, yes/no, older labels; n wins."""
    out: dict[str, str] = {}
    for member in value.split(","):
        key, sep, raw = member.strip().partition("=")
        if not sep:
            continue
        k = key.strip().lower()
        k = ALIASES.get(k, k)
        v = LENIENT_VALUES.get(raw.split(";")[0].strip().strip("\"'").lower())
        if v is not None and out.get(k) != "n":
            out[k] = v
    return out


def resolve(stated: dict[str, str]) -> tuple[str | None, str, str]:
    """(y|n|None, deciding label, vocabulary) for LLM training."""
    if stated.keys() & (LABELS[VOCAB_03] - LABELS[VOCAB_CURRENT]):
        for category in CHAIN_03:
            if category in stated:
                return stated[category], category, VOCAB_03
        return None, "", VOCAB_03
    if TRAIN_AI in stated:
        return stated[TRAIN_AI], TRAIN_AI, VOCAB_CURRENT
    return None, "", VOCAB_CURRENT


def read_statement(value: str, lenient: bool) -> tuple[Statement, str]:
    """A statement as the draft reads it; with `lenient`, an `n` the tolerant reading finds wins."""
    stated, note = draft_preferences(value)
    pref, category, vocab = resolve(stated)
    reading = "draft"
    if lenient and pref != "n":
        loose = lenient_preferences(value)
        lpref, lcat, lvocab = resolve(loose)
        if lpref == "n":
            stated, pref, category, vocab, reading = loose, lpref, lcat, lvocab, "lenient"
        elif pref is None and lpref is not None:
            stated, pref, category, vocab, reading = loose, lpref, lcat, lvocab, "lenient"
    return Statement(pref, category, vocab, reading, stated), note


def _finding(location: str, raw: str, st: Statement, note: str, where: str, agent: str = "") -> Finding:
    if st.preference is None:
        detail = "no preference for AI training"
    else:
        detail = f"{st.category}={st.preference}"
    detail += f" ({st.vocab}; {st.reading} reading)"
    if note and st.reading == "draft":
        detail += f"; {note}"
    if where:
        detail += f"; {where}"
    return Finding(SIGNAL, location, clip(raw), st.preference == "n", "Content-Usage", detail, None,
                   permit=st.preference == "y", spec=st.vocab, agent=agent)


def from_headers(values: Sequence[str], lenient: bool = False) -> list[tuple[Finding, Statement]]:
    """All Content-Usage field lines are one field value (RFC 9651 section 4.2: lines joined by ", ")."""
    if not values:
        return []
    joined = ", ".join(v.strip(" \t") for v in values)
    st, note = read_statement(joined, lenient)
    return [(_finding(HEADER, joined, st, note, ""), st)]


@dataclass(frozen=True, slots=True)
class Rule:
    path: str
    prefs: str
    line: int
    raw: str


def parse_rules(extensions: Iterable[tuple[str, str, int]], lenient: bool) -> tuple[list[Rule], list[str]]:
    """Content-Usage rules of a group; and the lines that are not rules (as notes)."""
    rules: list[Rule] = []
    bad: list[str] = []
    for key, value, line in extensions:
        if key != CONTENT_USAGE:
            continue
        if value.startswith("/"):
            cut = min((i for i in (value.find(" "), value.find("\t")) if i >= 0), default=-1)
            if cut < 0:
                bad.append(f"line {line}: a path without preferences")
                continue
            rules.append(Rule(value[:cut], value[cut:].strip(" \t"), line, value))
        elif lenient:
            rules.append(Rule("/", value, line, value))
        else:
            bad.append(f"line {line}: no path (the path is mandatory)")
    return rules, bad


def _matches(pattern: str, path: str) -> int:
    """Octets of `pattern` when it matches `path` (RFC 9309 2.2.2/2.2.3 matching), else -1."""
    head, check, priority, _shape, _lit = _compile_pattern(pattern)
    if path.startswith(head) and (check is None or check(path)):
        return priority
    return -1


def robots_rules(extensions: Iterable[tuple[str, str, int]], url: str, agent: str = "",
                 lenient: bool = False) -> list[tuple[Finding, Statement]]:
    """The Content-Usage rules of one agent's group that decide `url`: those with the longest match."""
    rules, bad = parse_rules(extensions, lenient)
    path = path_of(url)
    best = -1
    chosen: list[Rule] = []
    for rule in rules:
        n = _matches(rule.path, path)
        if n > best:
            best, chosen = n, [rule]
        elif n == best and n >= 0:
            chosen.append(rule)
    out = []
    for rule in chosen:
        st, note = read_statement(rule.prefs, lenient)
        where = f"line {rule.line}, path {rule.path}"
        out.append((_finding(ROBOTS, rule.raw, st, note, where, agent), st))
    if not chosen and bad:
        out.append((Finding(SIGNAL, ROBOTS, "", False, "Content-Usage", "; ".join(bad)[:300], None,
                            spec=ATTACH, agent=agent), Statement(None, "", ATTACH, "draft", {})))
    return out


def combine(statements: Iterable[Statement]) -> str | None:
    """Vocab section 5.1: any disallow wins, then any allow, else unknown."""
    prefs = {s.preference for s in statements}
    return "n" if "n" in prefs else "y" if "y" in prefs else None
