"""Conformance of `opt_out` with the texts of the AI opt-out specifications, one signal at a time.

Every case is written from a specification's own sentence or example and carries that sentence
(`quote`), so a failure says which text the code disagrees with. Sources, at the versions
docs/signals.md names: the W3C TDMRep Community Group Final Report (2024); the IETF AIPREF
vocabulary (draft-ietf-aipref-vocab-03 and -07) and attachment (draft-ietf-aipref-attach-02)
drafts, with RFC 9651 (Structured Fields) and RFC 9309 (robots.txt) they build on; Cloudflare's
Content Signals Policy (contentsignals.org); the noai/noimageai convention written in the robots
meta syntax of MDN and Google. `test_conformance_table_matches_docs` keeps the table in
docs/signals.md equal to what these cases measure.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pytest
from conftest import ROOT

from pipeline.optout.signals import opt_out


@dataclass(frozen=True)
class Case:
    id: str
    signal: str
    quote: str  # the sentence (or example) of the specification that decides the case
    expect: bool | None  # True opt-out, False explicit permission, None no statement
    url: str = "https://example.com/page"
    agent: str = "SomeBot/1.0"
    headers: tuple[tuple[str, str], ...] = ()
    html: str | None = None
    robots_txt: str | None = None
    tdmrep_json: str | None = None
    lenient: bool = False
    spec: str = field(default="")


def page(*head: str, body: str = "<p>Hello</p>") -> str:
    return "<!DOCTYPE html><html><head><title>t</title>" + "".join(head) + f"</head><body>{body}</body></html>"


CASES: list[Case] = []


def case(id: str, signal: str, quote: str, expect: bool | None, **kw: object) -> None:
    CASES.append(Case(id, signal, quote, expect, **kw))  # type: ignore[arg-type]


# ============================ TDMRep: W3C CG Final Report (2024) ===============================
T = "tdmrep"
Q_OPT = ('The "opt-out" option specified by the Article 4 of the DSM Directive is expressed by the use of '
         '`tdm-reservation` with value equal 1.')
Q_ZERO = ("TDM rights are not reserved. TDM agents can mine the content for TDM purposes without having to "
          "contact the rightsholder.")
Q_ERR = ("Other values are considered protocol errors. In such a case the TDM Agents MUST consider that "
         "`tdm-reservation` is unset.")
Q_INT = "`tdm-reservation` is an integer."
Q_HDR = ("`tdm-reservation` and the optional `tdm-policy` are two properties added to the HTTP header of the "
         "response to a GET or HEAD request.")
Q_HDR_EX = ("The server returns a `tdm-reservation` header field with value 1 and a `tdm-policy` header field "
            "pointing to a TDM Policy.")
Q_META = ("`tdm-reservation` is expressed as value of the `name` attribute of a `meta` element and `tdm-policy` "
          "is expressed as value of the `name` attribute of a second `meta` element.")
Q_HTML_NAMES = ("HTML, the meta element: Names are case-insensitive, and must be compared in an ASCII"
                " case-insensitive manner.")
Q_PRIO_H = ("The values of `tdm-reservation` and `tdm-policy` found in this header supercede any value inferred "
            "from a TDM file on the origin server.")
Q_PRIO_M = "The values of `tdm-reservation` and `tdm-policy` found here supercede previous values."
Q_FILE = "This file contains an array of JSON objects; each object represents a rule and accepts three properties"
Q_MAND = "In each rule, `location` and `tdm-reservation` are mandatory, `tdm-policy` is optional."
Q_FIRST = "The most specific match found MUST be used. The most specific match is the first in sequence."
Q_NOMATCH = "If no match is found, a TDM Agent MUST consider that `tdm-reservation` is unset for the given URL."
Q_PCT = ("If a percent-encoded US-ASCII character is encountered in the URI, it MUST be unencoded prior to "
         "comparison, unless it is a reserved character in the URI as defined by RFC3986 or the character is "
         "outside the unreserved character range.")
Q_OCTETS = ("The match evaluates positively if and only if the end of the path from the rule is reached before a "
            "difference in octets is encountered.")
Q_CASE = "The matching SHOULD be case sensitive."
Q_DOLLAR = '"$" Designates the end of the match pattern.'
Q_STAR = '"*" Designates 0 or more instances of any character.'
Q_VERBATIM = ('If TDM Agents match special characters verbatim in the URI, they MUST use "%" encoding. '
              "For example: /path/foo-%24 matches https://provider.com/path/foo-$")
Q_BRACKETS = ("Note the brackets at the start and end of the file. They indicate that this is a JSON array, and "
              "they are mandatory even if you express only one rule.")
Q_EX2 = ("the first group is a set of files stored in /directory-a; the second group is stored in "
         "/directory-b/html and the third group in /directory-b/images. [...] TDM rights are not reserved for all "
         "JPEG images contained in the third group.")
EX2 = ('[{"location": "/directory-a/", "tdm-reservation": 1}, {"location": "/directory-b/html/", '
       '"tdm-reservation": 1, "tdm-policy": "https://provider.com/policies/policy.json"}, '
       '{"location": "/directory-b/images/*.jpg", "tdm-reservation": 0}]')
ALL = '[{"location": "/", "tdm-reservation": 1}]'
TDM_META1 = '<meta name="tdm-reservation" content="1">'
TDM_META0 = '<meta name="tdm-reservation" content="0">'
POLICY_META = '<meta name="tdm-policy" content="https://provider.com/policies/policy.json">'

case("tdm-header-1", T, Q_HDR, True, headers=(("tdm-reservation", "1"),))
case("tdm-header-1-policy", T, Q_HDR_EX, True,
     headers=(("tdm-reservation", "1"), ("tdm-policy", "https://provider.com/policies/policy.json")))
case("tdm-header-0", T, Q_ZERO, False, headers=(("tdm-reservation", "0"),))
case("tdm-header-name-case", T, "RFC 9110 5.1: Field names are case-insensitive.", True,
     headers=(("TDM-Reservation", "1"),))
case("tdm-header-2", T, Q_ERR, None, headers=(("tdm-reservation", "2"),))
case("tdm-header-yes", T, Q_ERR, None, headers=(("tdm-reservation", "yes"),))
case("tdm-header-policy-only", T, Q_OPT, None, headers=(("tdm-policy", "https://provider.com/p.json"),))
case("tdm-meta-1", T, Q_META, True, html=page(TDM_META1, POLICY_META))
case("tdm-meta-0", T, Q_ZERO, False, html=page(TDM_META0))
case("tdm-meta-name-case", T, Q_HTML_NAMES, True, html=page('<meta name="TDM-Reservation" content="1">'))
case("tdm-meta-in-comment", T, Q_META, None, html=page(f"<!-- {TDM_META1} -->"))
case("tdm-meta-in-script", T, Q_META, None, html=page(f"<script>var m = '{TDM_META1}';</script>"))
case("tdm-meta-property", T, Q_META, None, html=page('<meta property="tdm-reservation" content="1">'))
case("tdm-meta-in-textarea", T, Q_META, None, html=page(body=f"<textarea>{TDM_META1}</textarea>"))
case("tdm-meta-no-content", T, Q_META, None, html=page('<meta name="tdm-reservation">'))
case("tdm-meta-2", T, Q_ERR, None, html=page('<meta name="tdm-reservation" content="2">'))
case("tdm-meta-over-header", T, Q_PRIO_M, False, headers=(("tdm-reservation", "1"),), html=page(TDM_META0))
case("tdm-meta-1-over-header-0", T, Q_PRIO_M, True, headers=(("tdm-reservation", "0"),), html=page(TDM_META1))
case("tdm-meta-error-does-not-supersede", T, Q_ERR, True, headers=(("tdm-reservation", "1"),),
     html=page('<meta name="tdm-reservation" content="true">'))
case("tdm-header-over-file", T, Q_PRIO_H, False, headers=(("tdm-reservation", "0"),), tdmrep_json=ALL)
case("tdm-header-1-over-file-0", T, Q_PRIO_H, True, headers=(("tdm-reservation", "1"),),
     tdmrep_json='[{"location": "/", "tdm-reservation": 0}]')
case("tdm-meta-over-file", T, Q_PRIO_M, False, html=page(TDM_META0), tdmrep_json=ALL)
case("tdm-file-all", T, Q_BRACKETS, True, tdmrep_json=ALL)
case("tdm-file-object-not-array", T, Q_BRACKETS, None, tdmrep_json='{"location": "/", "tdm-reservation": 1}')
case("tdm-file-example-a", T, Q_EX2, True, url="https://provider.com/directory-a/report.pdf", tdmrep_json=EX2)
case("tdm-file-example-b", T, Q_EX2, True, url="https://provider.com/directory-b/html/x.html", tdmrep_json=EX2)
case("tdm-file-example-jpg", T, Q_EX2, False, url="https://provider.com/directory-b/images/cat.jpg",
     tdmrep_json=EX2)
case("tdm-file-example-png", T, Q_NOMATCH, None, url="https://provider.com/directory-b/images/cat.png",
     tdmrep_json=EX2)
case("tdm-file-no-match", T, Q_NOMATCH, None, url="https://provider.com/other/x", tdmrep_json=EX2)
case("tdm-file-first-wins", T, Q_FIRST, False, url="https://e.com/open/a",
     tdmrep_json='[{"location": "/open/", "tdm-reservation": 0}, {"location": "/", "tdm-reservation": 1}]')
case("tdm-file-first-wins-broad", T, Q_FIRST, True, url="https://e.com/open/a",
     tdmrep_json='[{"location": "/", "tdm-reservation": 1}, {"location": "/open/", "tdm-reservation": 0}]')
case("tdm-file-missing-reservation", T, Q_MAND, True, url="https://e.com/a/b",
     tdmrep_json='[{"location": "/a/"}, {"location": "/", "tdm-reservation": 1}]')
case("tdm-file-missing-location", T, Q_MAND, None, tdmrep_json='[{"tdm-reservation": 1}]')
case("tdm-file-string-value", T, Q_INT, None, tdmrep_json='[{"location": "/", "tdm-reservation": "1"}]')
case("tdm-file-bool-value", T, Q_INT, None, tdmrep_json='[{"location": "/", "tdm-reservation": true}]')
case("tdm-file-value-2", T, Q_ERR, None, tdmrep_json='[{"location": "/", "tdm-reservation": 2}]')
case("tdm-file-percent-tilde", T, Q_PCT, True, url="https://e.com/%7Euser/page",
     tdmrep_json='[{"location": "/~user/", "tdm-reservation": 1}]')
case("tdm-file-percent-in-rule", T, Q_PCT, True, url="https://e.com/~user/page",
     tdmrep_json='[{"location": "/%7euser/", "tdm-reservation": 1}]')
case("tdm-file-percent-letter", T, Q_PCT, True, url="https://e.com/%61rchive/x",
     tdmrep_json='[{"location": "/archive/", "tdm-reservation": 1}]')
case("tdm-file-reserved-slash-stays", T, Q_PCT, None, url="https://e.com/a%2Fb",
     tdmrep_json='[{"location": "/a/b", "tdm-reservation": 1}]')
case("tdm-file-foo-24", T, Q_VERBATIM, True, url="https://provider.com/path/foo-$",
     tdmrep_json='[{"location": "/path/foo-%24", "tdm-reservation": 1}]')
case("tdm-file-octets-utf8", T, Q_OCTETS, True, url="https://e.com/caf%C3%A9/x",
     tdmrep_json='[{"location": "/café/", "tdm-reservation": 1}]')
case("tdm-file-case-sensitive", T, Q_CASE, None, url="https://e.com/Private/x",
     tdmrep_json='[{"location": "/private/", "tdm-reservation": 1}]')
case("tdm-file-dollar", T, Q_DOLLAR, True, url="https://e.com/this/path/exactly",
     tdmrep_json='[{"location": "/this/path/exactly$", "tdm-reservation": 1}]')
case("tdm-file-dollar-longer", T, Q_DOLLAR, None, url="https://e.com/this/path/exactly/more",
     tdmrep_json='[{"location": "/this/path/exactly$", "tdm-reservation": 1}]')
case("tdm-file-star", T, Q_STAR, True, url="https://e.com/this/a/b/then",
     tdmrep_json='[{"location": "/this/*/then", "tdm-reservation": 1}]')
case("tdm-file-star-no", T, Q_STAR, None, url="https://e.com/that/a/then",
     tdmrep_json='[{"location": "/this/*/then", "tdm-reservation": 1}]')
case("tdm-file-prefix", T, Q_OCTETS, True, url="https://e.com/directory-a-suffix",
     tdmrep_json='[{"location": "/directory-a", "tdm-reservation": 1}]')
case("tdm-file-broken-json", T, Q_FILE, None, tdmrep_json='[{"location": "/", "tdm-reservation": 1')
case("tdm-none", T, Q_NOMATCH, None, html=page())

# ======================= AIPREF: vocab-03 / vocab-07, attach-02, RFC 9651 ======================
A = "aipref"
V3 = "draft-ietf-aipref-vocab-03"
V7 = "draft-ietf-aipref-vocab-07"
Q_N = (f"{V7} / {V3}: If the value is a Token with a value of n, the associated preference is to disallow "
       "that category of use.")
Q_Y = (f"{V7} / {V3}: If the value is a Token with a value of y, the associated preference is to allow that "
       "category of use.")
Q_OTHER = (f"{V7}: Note that this last alternative includes the key being absent from the collection, values that "
           "are not Tokens, and Token values that are other than `y` or `n`.")
Q_UPPER = (f"{V7}: If the parsing of the Dictionary fails, preferences are unknown. This includes where keys "
           "include uppercase characters, as this format is case sensitive")
Q_DUP7 = (f"{V7}: if the same key appears multiple times, the algorithms in [FIELDS] ensure that only the last "
          "value applies. [...] the following results in all preferences being unknown: "
          'train-ai=y, train-ai, search=n, search="n"')
Q_DUP3 = (f"{V3}: if the same key appears multiple times, only the last value is taken. [...] the following "
          'expresses no preferences: train-ai=y, train-ai="n", train-genai=n, train-genai, bots=n, bots=()')
Q_PARAMS7 = (f"{V7}: the following preference carries no parameters, and a preference to allow the usage: "
             "train-ai;allow=n, train-ai=y")
Q_PARAMS = f"{V3}: When processing a parsed Dictionary to obtain preferences, any unknown parameters MUST be ignored."
Q_LABELS = f"{V3}: when processing a parsed Dictionary to obtain preferences, any unknown labels MUST be ignored."
Q_TRAIN7 = f"{V7} 4.1 AI Training (train-ai): Using an asset to modify the learned parameters of a generative AI model."
Q_SUBSET = (f"{V3} 3: A preference that is expressed for the more general category applies if no preference is "
            "expressed for the more specific category.")
Q_RECURSE = (f"{V3} 5: Otherwise, if the usage category is a proper subset of another usage category, recursively "
             "apply this process to that category and use the result of that process.")
Q_EXAMPLE3 = (f"{V3} 6: the following expresses a preference to allow AI training (Section 4.2), disallow "
              "generative AI training (Section 4.3): train-ai=y, train-genai=n")
Q_SEARCH = f"{V3} 4.4: The use of assets for Search is a proper subset of Automated Processing usage."
Q_COMBINE = (f"{V7} 5.1: If any statement of preference indicates that the usage is disallowed, the result is that "
             "the usage is disallowed.")
Q_SF_WS = ("RFC 9651 4.2.2: a Dictionary member is key [ \"=\" member-value ]; after a member only OWS and a comma "
           "may follow, so blanks around \"=\" fail the parse")
Q_SF_LINES = ("RFC 9651 4.2: parsers MUST combine all field lines in the same section (header or trailer) that "
              "case-insensitively match the field name into one comma-separated field value")
Q_HDR_A = "attach-02 2: The Content-Usage field is a structured field dictionary, as defined in Section 3.2 of FIELDS."
Q_RULE = ('attach-02 3: A Content-Usage rule is added to the set of potential rules that can be included in a Group '
          'for "robots.txt".')
Q_PATH = ('attach-02 3.2: The first part of the rule value is the path. It always starts with "/" (U+2F), and ends '
          'immediately before the first SP (U+20) or HTAB ("U+09") character.')
Q_MATCH = ("attach-02 3.1: Any Content-Usage rules determine the usage preferences for resources using the same "
           "path prefix matching rules as defined for Allow and Disallow.")
Q_CRAWL = ("attach-02 3.1: Usage preferences apply only to those resources that can be crawled according to "
           "Allow/Disallow rules; no preferences are implied for resources that are disallowed.")
Q_IDENT = ("attach-02 3.1: If there are Content-Usage rules that have identical paths and conflicting usage "
           "preferences, these preferences apply separately")
Q_ORDER = ("attach-02 3.1: The ordering of rules in a group carries no semantics. Thus, Content-Usage rules can be "
           "interleaved with Allow and Disallow rules.")
Q_COMMENT = ('attach-02 3.2: The remainder of the line - up to either the first CR (U+0D), LF (U+0A), or octothorpe '
             '("#", U+23) - is the rule value.')
Q_LABEL_WS = ("attach-02 3.2: This requires that SP and HTAB characters are ignored, before and after the label, in "
              'addition to before and after the COLON (":", U+3A) separator.')
Q_GROUPS = ("attach-02 3.1: Each group in the file applies to a set of crawlers, identified by product token as "
            "defined in Section 2.2.1 of ROBOTS.")
Q_GROUP_END = ("RFC 9309 2.2 ABNF: group = startgroupline *(startgroupline / emptyline) *(rule / emptyline); with "
               "attach-02 3: rule =/ content-usage")
Q_PCT_A = ("attach-02 3.1: Paths specified for Content-Usage rules use the same percent-encoding rules as used for "
           "Allow/Disallow rules")
ATTACH_EX = ("User-Agent: *\nAllow: /\nDisallow: /never/\nContent-Usage: / train-ai=n\nContent-Usage: /ai-ok/ "
             "train-ai=y\n\nUser-Agent: ExampleBot\nAllow: /\nContent-Usage: / train-ai=y\n")
Q_EX_TABLE = "attach-02 3.4 Table 1: /test | yes | train-ai=n; /never/test | no | N/A; /ai-ok/test | yes | train-ai=y"
Q_EX_BOT = 'attach-02 3.4: A crawler that identifies as "ExampleBot" uses the second group.'


def cu(value: str, **kw: object) -> dict[str, object]:
    return {"headers": (("Content-Usage", value),), **kw}


case("aipref-header-example", A, Q_HDR_A + " Example: Content-Usage: train-ai=n", True, **cu("train-ai=n"))
case("aipref-header-y", A, Q_Y, False, **cu("train-ai=y"))
case("aipref-header-search-only", A, Q_OTHER, None, **cu("search=n"))
case("aipref-header-ai-use-only", A, Q_TRAIN7, None, **cu("ai-use=n"))
case("aipref-upper-key", A, Q_UPPER, None, **cu("Train-AI=n"))
case("aipref-upper-value", A, Q_OTHER, None, **cu("train-ai=N"))
case("aipref-value-no", A, Q_OTHER, None, **cu("train-ai=no"))
case("aipref-value-string", A, Q_OTHER, None, **cu('train-ai="n"'))
case("aipref-value-boolean", A, Q_OTHER, None, **cu("train-ai"))
case("aipref-value-integer", A, Q_OTHER, None, **cu("train-ai=0"))
case("aipref-value-inner-list", A, Q_OTHER, None, **cu("train-ai=(n)"))
case("aipref-blanks-around-equals", A, Q_SF_WS, None, **cu("train-ai = n"))
case("aipref-blank-before-equals", A, Q_SF_WS, None, **cu("train-ai =n"))
case("aipref-trailing-comma", A, Q_UPPER, None, **cu("train-ai=n,"))
case("aipref-semicolon-separator", A, Q_UPPER, None, **cu("search=y; train-ai=n"))
case("aipref-dup-last-wins-y", A, Q_DUP7, False, **cu("train-ai=n, train-ai=y"))
case("aipref-dup-last-wins-n", A, Q_DUP7, True, **cu("train-ai=y, train-ai=n"))
case("aipref-dup-example-7", A, Q_DUP7, None, **cu('train-ai=y, train-ai, search=n, search="n"'))
case("aipref-dup-example-3", A, Q_DUP3, None,
     **cu('train-ai=y, train-ai="n", train-genai=n, train-genai, bots=n, bots=()'))
case("aipref-params-example", A, Q_PARAMS7, False, **cu("train-ai;allow=n, train-ai=y"))
case("aipref-params-ignored", A, Q_PARAMS, True, **cu("train-ai=n;reason=\"licence\""))
case("aipref-unknown-label", A, Q_LABELS, True, **cu("foo-bar=n, train-ai=n, x.y=y"))
case("aipref-ows-after-comma", A, Q_N, True, **cu("search=y,\ttrain-ai=n"))
case("aipref-two-lines-last-wins", A, Q_SF_LINES + "; " + Q_DUP7, False,
     headers=(("Content-Usage", "train-ai=n"), ("Content-Usage", "train-ai=y")))
case("aipref-two-lines-n-last", A, Q_SF_LINES, True,
     headers=(("Content-Usage", "search=y"), ("content-usage", "train-ai=n")))
case("aipref-two-lines-one-broken", A, Q_SF_LINES + "; " + Q_UPPER, None,
     headers=(("Content-Usage", "train-ai=n"), ("Content-Usage", "Search=y")))
case("aipref-v3-genai", A, Q_EXAMPLE3, True, **cu("train-ai=y, train-genai=n"))
case("aipref-v3-genai-y-over-ai-n", A, Q_RECURSE, False, **cu("train-ai=n, train-genai=y"))
case("aipref-v3-bots-n", A, Q_SUBSET, True, **cu("bots=n"))
case("aipref-v3-bots-y", A, Q_SUBSET, False, **cu("bots=y"))
case("aipref-v3-bots-n-train-ai-y", A, Q_RECURSE, False, **cu("bots=n, train-ai=y"))
case("aipref-v3-search-y-bots-n", A, Q_SEARCH, True, **cu("search=y, bots=n"))
case("aipref-v3-genai-only-y", A, Q_Y, False, **cu("train-genai=y"))
case("aipref-combine-header-bots-n-robots-y", A, Q_COMBINE, True, headers=(("Content-Usage", "bots=n"),),
     robots_txt="User-agent: *\nAllow: /\nContent-Usage: / train-ai=y\n")
case("aipref-combine-header-y-robots-n", A, Q_COMBINE, True, headers=(("Content-Usage", "train-ai=y"),),
     robots_txt="User-agent: *\nAllow: /\nContent-Usage: / bots=n\n")
case("aipref-combine-both-y", A, Q_COMBINE, False, headers=(("Content-Usage", "train-ai=y"),),
     robots_txt="User-agent: *\nContent-Usage: / train-ai=y\n")
case("aipref-robots-example-test", A, Q_EX_TABLE, True, url="https://e.com/test", robots_txt=ATTACH_EX)
case("aipref-robots-example-never", A, Q_EX_TABLE + "; " + Q_CRAWL, None, url="https://e.com/never/test",
     robots_txt=ATTACH_EX)
case("aipref-robots-example-ai-ok", A, Q_EX_TABLE, False, url="https://e.com/ai-ok/test", robots_txt=ATTACH_EX)
case("aipref-robots-example-examplebot", A, Q_EX_BOT, False, url="https://e.com/test", agent="ExampleBot",
     robots_txt=ATTACH_EX)
case("aipref-robots-path-required", A, Q_PATH, None, robots_txt="User-agent: *\nContent-Usage: train-ai=n\n")
case("aipref-robots-path-no-prefs", A, Q_PATH, None, robots_txt="User-agent: *\nContent-Usage: /\n")
case("aipref-robots-tab-separator", A, Q_PATH, True, robots_txt="User-agent: *\nContent-Usage: /\ttrain-ai=n\n")
case("aipref-robots-comment", A, Q_COMMENT, True, robots_txt="User-agent: *\nContent-Usage: / train-ai=n # no AI\n")
case("aipref-robots-comment-hides", A, Q_COMMENT, None, robots_txt="User-agent: *\nContent-Usage: / # train-ai=n\n")
case("aipref-robots-label-case-blanks", A, Q_LABEL_WS, True,
     robots_txt="User-agent: *\n  content-USAGE  :  / train-ai=n\n")
case("aipref-robots-upper-key", A, Q_UPPER, None, robots_txt="User-agent: *\nContent-Usage: / Train-AI=n\n")
case("aipref-robots-interleaved", A, Q_ORDER, True,
     robots_txt="User-agent: *\nContent-Usage: /a/ train-ai=n\nAllow: /\nDisallow: /z/\n", url="https://e.com/a/1")
case("aipref-robots-longest", A, Q_MATCH, False, url="https://e.com/docs/open/x",
     robots_txt="User-agent: *\nContent-Usage: /docs/ train-ai=n\nContent-Usage: /docs/open/ train-ai=y\n")
case("aipref-robots-longest-n", A, Q_MATCH, True, url="https://e.com/docs/closed/x",
     robots_txt="User-agent: *\nContent-Usage: /docs/ train-ai=y\nContent-Usage: /docs/closed/ train-ai=n\n")
case("aipref-robots-identical-paths", A, Q_IDENT, True,
     robots_txt="User-agent: *\nContent-Usage: / train-ai=y\nContent-Usage: / train-ai=n\n")
case("aipref-robots-identical-paths-other-order", A, Q_IDENT, True,
     robots_txt="User-agent: *\nContent-Usage: / train-ai=n\nContent-Usage: / train-ai=y\n")
case("aipref-robots-identical-paths-categories", A, Q_IDENT + "; " + Q_SUBSET, True,
     robots_txt="User-agent: *\nContent-Usage: / bots=n\nContent-Usage: / train-ai=y\n")
case("aipref-robots-star", A, Q_MATCH, True, url="https://e.com/a/x.pdf",
     robots_txt="User-agent: *\nContent-Usage: /*.pdf train-ai=n\n")
case("aipref-robots-dollar", A, Q_MATCH, None, url="https://e.com/a/x.pdf?v=1",
     robots_txt="User-agent: *\nContent-Usage: /*.pdf$ train-ai=n\n")
case("aipref-robots-dollar-match", A, Q_MATCH, True, url="https://e.com/a/x.pdf",
     robots_txt="User-agent: *\nContent-Usage: /*.pdf$ train-ai=n\n")
case("aipref-robots-percent", A, Q_PCT_A, True, url="https://e.com/%7Euser/x",
     robots_txt="User-agent: *\nContent-Usage: /~user/ train-ai=n\n")
case("aipref-robots-no-match", A, Q_MATCH, None, url="https://e.com/b/",
     robots_txt="User-agent: *\nContent-Usage: /a/ train-ai=n\n")
case("aipref-robots-disallowed-path", A, Q_CRAWL, None, url="https://e.com/private/x",
     robots_txt="User-agent: *\nDisallow: /private/\nContent-Usage: / train-ai=n\n")
case("aipref-robots-other-group", A, Q_GROUPS, None, agent="CCBot",
     robots_txt="User-agent: GPTBot\nContent-Usage: / train-ai=n\n\nUser-agent: *\nAllow: /\n")
case("aipref-robots-own-group", A, Q_GROUPS, True, agent="GPTBot",
     robots_txt="User-agent: GPTBot\nContent-Usage: / train-ai=n\n\nUser-agent: *\nAllow: /\n")
case("aipref-robots-rule-ends-group", A, Q_GROUP_END, None, agent="GPTBot",
     robots_txt="User-agent: CCBot\nContent-Usage: / train-ai=n\nUser-agent: GPTBot\nAllow: /\n")
case("aipref-robots-named-group-over-star", A, Q_GROUPS, None, agent="GPTBot",
     robots_txt="User-agent: *\nContent-Usage: / train-ai=n\n\nUser-agent: GPTBot\nAllow: /\n")
case("aipref-robots-merged-ua-lines", A, Q_GROUP_END, True, agent="GPTBot",
     robots_txt="User-agent: CCBot\nUser-agent: GPTBot\nContent-Usage: / train-ai=n\n")
case("aipref-robots-before-any-group", A, Q_RULE, None,
     robots_txt="Content-Usage: / train-ai=n\nUser-agent: *\nAllow: /\n")
case("aipref-robots-v3-genai", A, Q_EXAMPLE3, True,
     robots_txt="User-agent: *\nContent-Usage: / train-ai=y, train-genai=n\n")
case("aipref-none", A, Q_OTHER, None, html=page())

# ===================== Content-Signal: Cloudflare's Content Signals Policy =====================
C = "content-signal"
Q_CS_NO = "(b) If a content-signal = no, you may not collect content for the corresponding use."
Q_CS_YES = "(a) If a content-signal = yes, you may collect content for the corresponding use."
Q_CS_NONE = ("(c) If the website operator does not include a content signal for a corresponding use, the website "
             "operator neither grants nor restricts permission via content signal with respect to the "
             "corresponding use.")
Q_CS_TRAIN = "ai-train: training or fine-tuning AI models."
Q_CS_EX = "User-Agent: *\nContent-Signal: ai-train=no, search=yes, ai-input=yes\nAllow: /"
Q_CS_SEARCH = ("search: building a search index and providing search results (e.g., returning hyperlinks and short "
               "excerpts from your website's contents).")
Q_CS_GROUP = Q_GROUP_END.replace("rule =/ content-usage", "Content-Signal lines are rules of the group they are in")

case("cs-example", C, Q_CS_EX, True, robots_txt=Q_CS_EX + "\n")
case("cs-no", C, Q_CS_NO + " " + Q_CS_TRAIN, True, robots_txt="User-agent: *\nContent-Signal: ai-train=no\n")
case("cs-yes", C, Q_CS_YES, False, robots_txt="User-agent: *\nContent-Signal: ai-train=yes\n")
case("cs-search-only", C, Q_CS_NONE, None, robots_txt="User-agent: *\nContent-Signal: search=no\n")
case("cs-input-only", C, Q_CS_NONE, None, robots_txt="User-agent: *\nContent-Signal: ai-input=no\n")
case("cs-search-no-train-yes", C, Q_CS_SEARCH, False,
     robots_txt="User-agent: *\nContent-Signal: search=no, ai-train=yes\n")
case("cs-no-spaces", C, Q_CS_NO, True, robots_txt="User-Agent: *\nContent-Signal: search=yes,ai-train=no\nAllow: /\n")
case("cs-lowercase-key", C, Q_CS_NO + " (robots.txt keys are case-insensitive, RFC 9309 2.2)", True,
     robots_txt="user-agent: *\ncontent-signal: search=no, ai-train=no\n")
case("cs-other-group", C, Q_GROUPS, None, agent="CCBot",
     robots_txt="User-agent: GPTBot\nContent-Signal: ai-train=no\n\nUser-agent: *\nAllow: /\n")
case("cs-own-group", C, Q_GROUPS, True, agent="GPTBot",
     robots_txt="User-agent: GPTBot\nContent-Signal: ai-train=no\n\nUser-agent: *\nAllow: /\n")
case("cs-rule-ends-group", C, Q_CS_GROUP, None, agent="GPTBot",
     robots_txt="User-agent: CCBot\nContent-Signal: ai-train=no\nUser-agent: GPTBot\nAllow: /\n")
case("cs-named-group-over-star", C, Q_GROUPS, False, agent="GPTBot",
     robots_txt="User-agent: *\nContent-Signal: ai-train=no\n\nUser-agent: GPTBot\nContent-Signal: ai-train=yes\n")
case("cs-two-lines-no-wins", C, Q_CS_NO, True,
     robots_txt="User-agent: *\nContent-Signal: ai-train=yes\nContent-Signal: ai-train=no\n")
case("cs-comment", C, Q_COMMENT.replace("attach-02 3.2", "RFC 9309 2.2 comments, as for every line"), None,
     robots_txt="User-agent: *\nContent-Signal: search=yes # ai-train=no\n")
case("cs-none", C, Q_CS_NONE, None, robots_txt="User-agent: *\nAllow: /\n")
case("cs-not-in-header", C, Q_CS_EX, None, headers=(("Content-Signal", "ai-train=no"),))

# ============== noai / noimageai, in the robots meta syntax of MDN and Google =====================
N = "noai"
Q_NOAI = 'noai convention (DeviantArt, 2022): <meta name="robots" content="noai, noimageai">'
Q_NOIMAGE = 'noai convention: "noimageai" concerns images; the text of the page is reserved by "noai" only'
Q_G_CASE = "Google robots meta spec: Both the name and the content attributes are case-insensitive."
Q_G_CRAWLER = ("Google robots meta spec: To address a specific crawler, replace the robots value of the name "
               "attribute with the name of the crawler that you are addressing.")
Q_G_COMMA = ("Google robots meta spec: Multiple X-Robots-Tag headers can be combined within the HTTP response, or "
             "you can specify a comma-separated list of rules.")
Q_MDN_SYNTAX = "MDN X-Robots-Tag syntax: X-Robots-Tag: <indexing-rule>, <bot-name>: <indexing-rule>"
Q_MDN_BOT = ("MDN X-Robots-Tag: An optional <bot-name>: specifies the user agent that the subsequent rules should"
             " apply to")
Q_MDN_MAX = "MDN X-Robots-Tag: max-snippet: <number> and unavailable_after: <date/time> are indexing rules"
Q_META_EL = "MDN <meta name=\"robots\">: the content attribute of the <meta> element defines rules for crawlers"

case("noai-meta", N, Q_NOAI, True, html=page('<meta name="robots" content="noai, noimageai">'))
case("noai-meta-only-noai", N, Q_NOAI, True, html=page('<meta name="robots" content="noai">'))
case("noai-meta-case", N, Q_G_CASE, True, html=page('<META NAME="Robots" CONTENT="NoAI">'))
case("noai-meta-noimageai-only", N, Q_NOIMAGE, None, html=page('<meta name="robots" content="noimageai">'))
case("noai-meta-noindex-only", N, Q_NOAI, None, html=page('<meta name="robots" content="noindex, nofollow">'))
case("noai-meta-agent", N, Q_G_CRAWLER, True, agent="GPTBot", html=page('<meta name="GPTBot" content="noai">'))
case("noai-meta-other-agent", N, Q_G_CRAWLER, None, agent="CCBot", html=page('<meta name="GPTBot" content="noai">'))
case("noai-meta-in-comment", N, Q_META_EL, None, html=page('<!-- <meta name="robots" content="noai"> -->'))
case("noai-meta-in-script", N, Q_META_EL, None,
     html=page("<script>document.write('<meta name=\"robots\" content=\"noai\">');</script>"))
case("noai-meta-property", N, Q_META_EL, None, html=page('<meta property="robots" content="noai">'))
case("noai-meta-in-body", N, Q_META_EL, True, html=page(body='<p>x</p><meta name="robots" content="noai">'))
case("noai-text-mention", N, Q_META_EL, None, html=page(body="<p>Add noai to your robots meta tag.</p>"))
case("noai-header", N, Q_G_COMMA, True, headers=(("X-Robots-Tag", "noai"),))
case("noai-header-list", N, Q_G_COMMA, True, headers=(("X-Robots-Tag", "noindex, noai, noimageai"),))
case("noai-header-two-lines", N, Q_G_COMMA, True, headers=(("X-Robots-Tag", "noindex"), ("X-Robots-Tag", "noai")))
case("noai-header-case", N, Q_G_CASE, True, headers=(("x-robots-tag", "NOAI"),))
case("noai-header-bot", N, Q_MDN_BOT, True, agent="GPTBot", headers=(("X-Robots-Tag", "GPTBot: noai"),))
case("noai-header-other-bot", N, Q_MDN_BOT, None, agent="CCBot", headers=(("X-Robots-Tag", "GPTBot: noai"),))
case("noai-header-mdn-mixed-for-bot", N, Q_MDN_SYNTAX, True, agent="GPTBot",
     headers=(("X-Robots-Tag", "noindex, GPTBot: noai"),))
case("noai-header-mdn-mixed-other", N, Q_MDN_SYNTAX, None, agent="CCBot",
     headers=(("X-Robots-Tag", "noindex, GPTBot: noai"),))
case("noai-header-two-bots-second", N, Q_MDN_BOT, True, agent="Googlebot",
     headers=(("X-Robots-Tag", "BadBot: noindex, googlebot: noai"),))
case("noai-header-two-bots-first", N, Q_MDN_BOT, None, agent="BadBot",
     headers=(("X-Robots-Tag", "BadBot: noindex, googlebot: noai"),))
case("noai-header-global-before-bot", N, Q_MDN_SYNTAX, True, agent="CCBot",
     headers=(("X-Robots-Tag", "noai, GPTBot: noindex"),))
case("noai-header-max-snippet", N, Q_MDN_MAX, True, headers=(("X-Robots-Tag", "max-snippet: 20, noai"),))
case("noai-header-unavailable-after", N, Q_MDN_MAX, True,
     headers=(("X-Robots-Tag", "unavailable_after: 25 Jun 2010 15:00:00 PST, noai"),))
case("noai-none", N, Q_NOAI, None, html=page())


# ----------------------------------------------------------------------------------------------
def spec_of(c: Case) -> str:
    return {"tdmrep": "TDMRep", "aipref": "AIPREF", "content-signal": "Content-Signal", "noai": "noai"}[c.signal]


def run(c: Case) -> bool | None:
    return opt_out(c.signal, c.url, c.agent, headers=c.headers, html=c.html, robots_txt=c.robots_txt,
                   tdmrep_json=c.tdmrep_json, lenient=c.lenient)


def test_case_ids_are_unique_and_quoted() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert all(len(c.quote) > 20 for c in CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_conformance(c: Case) -> None:
    got = run(c)
    assert got is c.expect, f"{c.id}: expected {c.expect}, got {got}; the spec says: {c.quote}"


def test_conformance_table_matches_docs() -> None:
    """The per-spec table in docs/signals.md is what these cases measure."""
    totals = Counter(spec_of(c) for c in CASES)
    passing = Counter(spec_of(c) for c in CASES if run(c) is c.expect)
    text = (ROOT / "docs" / "signals.md").read_text("utf-8")
    for spec, total in totals.items():
        m = re.search(rf"^\| {re.escape(spec)} \| (\d+) \| (\d+) \|", text, re.MULTILINE)
        assert m is not None, f"docs/signals.md has no conformance row for {spec}"
        assert (int(m.group(1)), int(m.group(2))) == (total, passing[spec]), spec


# --- the lenient reading: a named policy option, never the default ------------------------------

@pytest.mark.parametrize("value", ["Train-AI=n", "train-ai = n", "train-ai=no", 'train-ai="n"', "ai=n", "tdm=n"])
def test_lenient_reading_reads_what_the_draft_does_not(value: str) -> None:
    url = "https://example.com/page"
    assert opt_out("aipref", url, "GPTBot", headers={"Content-Usage": value}) is None
    assert opt_out("aipref", url, "GPTBot", headers={"Content-Usage": value}, lenient=True) is True


def test_lenient_reading_never_removes_an_opt_out() -> None:
    for value in ("train-ai=n", "train-ai=y, train-ai=n", "bots=n"):
        assert opt_out("aipref", "https://e.com/", "GPTBot", headers={"Content-Usage": value}, lenient=True) is True
    rule = "User-agent: *\nContent-Usage: train-ai=n\n"  # no path: the draft reads no rule
    assert opt_out("aipref", "https://e.com/a", "GPTBot", robots_txt=rule) is None
    assert opt_out("aipref", "https://e.com/a", "GPTBot", robots_txt=rule, lenient=True) is True
    obj = '{"location": "/", "tdm-reservation": 1}'  # not an array
    assert opt_out("tdmrep", "https://e.com/a", "GPTBot", tdmrep_json=obj) is None
    assert opt_out("tdmrep", "https://e.com/a", "GPTBot", tdmrep_json=obj, lenient=True) is True


def test_unknown_signal_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        opt_out("ai-txt", "https://e.com/", "GPTBot")
