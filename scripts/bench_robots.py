#!/usr/bin/env python
"""Benchmark robots.txt engines: ours (pipeline.optout.robots), protego, robotexclusionrulesparser.

Why: the opt-out filter parses one robots.txt per host and checks every URL
of that host against a policy of AI-crawler agents, so three numbers matter:

1. parse files/s over the shared corpus;
2. "parse per host, check per URL" (as Apertus's robots checker works):
   decisions/s including the parse, for one agent and for the 13-agent policy;
3. warm-cache decisions/s: URLs checked against an already compiled policy
   (``CompiledPolicy.first_disallowing``) and single-agent ``verdict`` calls.

Every figure is per CPU-second (process time, so per core) and the best of
a few repetitions, which keeps it stable when the machine is shared.
Ours is given the raw bytes (it decodes them itself); the peers get
pre-decoded str, which flatters them slightly. Numbers only, no assertions.

    python scripts/bench_robots.py [--quick] [--data DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.optout.policy import load_policy  # noqa: E402
from pipeline.optout.robots import RobotsTxt  # noqa: E402

POLICY = list(load_policy("apertus").agents)  # the 12 AI agents + "*", as the pipeline uses them
HOST = "https://example.com"
DATA = ROOT.parent / "shared" / "data"
_RULE = re.compile(r"(?im)^[ \t]*(?:dis)?allow[ \t]*:[ \t]*([^\s#]+)")
GENERIC = ["/", "/index.html", "/search?q=test", "/blog/2024/05/some-post-title", "/%7Euser/"]


def load(data: Path, limit: int | None) -> list[tuple[bytes, str]]:
    """(raw bytes, decoded text) of every robots.txt in the shared corpus."""
    root = data / "robots_txt"
    texts: list[str] = []
    for p in sorted((root / "texting_robots_testdata").glob("*.robots.txt")):
        texts.append(p.read_bytes().decode("utf-8", "replace"))
    for name in ("top1m_2017_sample.jsonl", "gpt_firewall_2025_sample.jsonl"):
        with open(root / name, encoding="utf-8") as fh:
            texts.extend(json.loads(line)["body"] for line in fh)
    texts.append((root / "ai_robots_txt" / "robots.txt").read_text("utf-8"))
    if limit:
        texts = texts[:: max(1, len(texts) // limit)][:limit]
    return [(t.encode("utf-8", "surrogatepass"), t) for t in texts]


def urls_for(text: str, n: int = 20) -> list[str]:
    """URLs a crawler of this host might see: generic ones and ones near the file's rules."""
    values = sorted(set(_RULE.findall(text)))
    out = list(GENERIC)
    for v in values[:: max(1, len(values) // 8)][:8]:
        base = v.rstrip("$").replace("*", "x")
        base = base if base.startswith("/") else "/" + base
        out += [base, base + "/page-2.html?utm_source=x"]
    return [HOST + p for p in (out * 3)[:n]]


def best(fn: Callable[[], object], reps: int) -> float:
    """Least CPU time of ``reps`` runs: per-core throughput, robust to a busy machine.

    Garbage left by the previous run is collected first, so no run pays for another's.
    """
    times = []
    for _ in range(reps):
        gc.collect()
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def measure(quick: bool = False, data: Path = DATA) -> dict[str, Any]:
    """Every figure of this benchmark in one dict (printed by :func:`show`, embedded by bench.py)."""
    from protego import Protego
    from robotexclusionrulesparser import RobotExclusionRulesParser

    reps = 2 if quick else 5
    corpus = load(data, 150 if quick else None)
    hosts = [(raw, text, urls_for(text)) for raw, text in corpus]
    n_files = len(corpus)
    n_urls = sum(len(u) for _, _, u in hosts)
    size = sum(len(raw) for raw, _ in corpus)
    out: dict[str, Any] = {"corpus": {"files": n_files, "mb": size / 1e6, "urls": n_urls}}

    def rerp(text: str) -> RobotExclusionRulesParser:
        p = RobotExclusionRulesParser()
        p.parse(text)
        return p

    # 1. parse -------------------------------------------------------------------------------
    # Interleaved rounds: each round times all three engines back to back, so the
    # per-round ratio is fair even when the machine's load changes between rounds.
    engines: list[tuple[str, Callable[[], object]]] = [
        ("ours", lambda: [RobotsTxt.parse(raw) for raw, _ in corpus]),
        ("protego", lambda: [Protego.parse(text) for _, text in corpus]),
        ("robotexclusionrulesparser", lambda: [rerp(text) for _, text in corpus]),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in engines}
    for _ in range(reps):
        for name, fn in engines:
            times[name].append(best(fn, 1))
    out["parse_files_per_s"], out["parse_speedup_vs"] = {}, {}
    for name, _ in engines:
        ratios = sorted(t / o for t, o in zip(times[name], times["ours"], strict=True))
        out["parse_files_per_s"][name] = n_files / min(times[name])
        out["parse_speedup_vs"][name] = ratios[len(ratios) // 2]

    # 2. parse per host, check per URL -------------------------------------------------------
    def ours_one() -> None:
        for raw, _, urls in hosts:
            r = RobotsTxt.parse(raw)
            for u in urls:
                r.can_fetch("GPTBot", u)

    def prot_one() -> None:
        for _, text, urls in hosts:
            p = Protego.parse(text)
            for u in urls:
                p.can_fetch(u, "GPTBot")

    def rerp_one() -> None:
        for _, text, urls in hosts:
            p = rerp(text)
            for u in urls:
                p.is_allowed("GPTBot", u)

    def ours_policy() -> None:
        for raw, _, urls in hosts:
            policy = RobotsTxt.parse(raw).compile(POLICY)
            for u in urls:
                policy.first_disallowing(u)

    def prot_policy() -> None:
        for _, text, urls in hosts:
            p = Protego.parse(text)
            for u in urls:
                for a in POLICY:
                    if not p.can_fetch(u, a):
                        break

    def rerp_policy() -> None:
        for _, text, urls in hosts:
            p = rerp(text)
            for u in urls:
                for a in POLICY:
                    if not p.is_allowed(a, u):
                        break

    out["parse_and_check_per_s"] = {}
    for name, one, pol in (
        ("ours", ours_one, ours_policy),
        ("protego", prot_one, prot_policy),
        ("robotexclusionrulesparser", rerp_one, rerp_policy),
    ):
        r = reps if name != "robotexclusionrulesparser" else max(1, reps - 2)  # it is slow
        out["parse_and_check_per_s"][name] = {"1 agent": n_urls / best(one, r), "policy": n_urls / best(pol, r)}

    # 3. warm cache ----------------------------------------------------------------------------
    policies = [(RobotsTxt.parse(raw).compile(POLICY), urls) for raw, _, urls in hosts]
    parsed = [(RobotsTxt.parse(raw), urls) for raw, _, urls in hosts]
    protegos = [(Protego.parse(text), urls) for _, text, urls in hosts]
    rounds = 3 if quick else 10

    def warm_policy() -> None:
        for _ in range(rounds):
            for policy, urls in policies:
                for u in urls:
                    policy.first_disallowing(u)

    def warm_one() -> None:
        for _ in range(rounds):
            for r, urls in parsed:
                for u in urls:
                    r.verdict("GPTBot", u)

    def warm_prot() -> None:
        for _ in range(rounds):
            for p, urls in protegos:
                for u in urls:
                    p.can_fetch(u, "GPTBot")

    warm_policy()
    warm_one()  # fill the caches (plans, verdict tables, hot buckets)
    out["warm_corpus_per_s"] = {
        "ours CompiledPolicy.first_disallowing, 13 agents": n_urls * rounds / best(warm_policy, reps),
        "ours RobotsTxt.verdict, 1 agent": n_urls * rounds / best(warm_one, reps),
        "protego can_fetch, 1 agent": n_urls * rounds / best(warm_prot, reps),
    }

    # A typical file: the median number of rules among files that have rules for GPTBot.
    counts = sorted(
        (len(m.rules), i)
        for i, (r, _) in enumerate(parsed)
        if (m := r._plan("GPTBot")[0]) is not None
    )
    n_rules, idx = counts[len(counts) // 2]
    r, urls = parsed[idx]
    policy = policies[idx][0]
    many = urls * 500

    def typ_one() -> None:
        for u in many:
            r.verdict("GPTBot", u)

    def typ_policy() -> None:
        for u in many:
            policy.first_disallowing(u)

    typ_one()
    typ_policy()
    out["warm_typical_file"] = {
        "rules": n_rules,
        "ours RobotsTxt.verdict, 1 agent": len(many) / best(typ_one, reps),
        "ours CompiledPolicy.first_disallowing, 13 agents": len(many) / best(typ_policy, reps),
    }
    return out


def show(r: dict[str, Any]) -> None:
    c = r["corpus"]
    print(f"corpus: {c['files']} files, {c['mb']:.1f} MB, {c['urls']} URLs ({c['urls'] // c['files']}/host)")
    print("\nparse (files/s; ratio = median over rounds of engine time / ours)")
    for name, v in r["parse_files_per_s"].items():
        print(f"  {name:27s} {v:>11,.0f}   {r['parse_speedup_vs'][name]:.1f}x")
    print("\nparse per host + check per URL (URL decisions/s, parse included)")
    print(f"  {'':27s} {'1 agent':>11s} {'13 agents':>11s}")
    for name, v in r["parse_and_check_per_s"].items():
        print(f"  {name:27s} {v['1 agent']:>11,.0f} {v['policy']:>11,.0f}")
    print("\nwarm cache over the corpus (decisions/s)")
    for name, v in r["warm_corpus_per_s"].items():
        print(f"  {name:48s} {v:>11,.0f}")
    t = r["warm_typical_file"]
    print(f"\nwarm cache, typical file ({t['rules']} rules for GPTBot)")
    for name, v in t.items():
        if name != "rules":
            print(f"  {name:48s} {v:>11,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small corpus slice, fewer repetitions")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    show(measure(args.quick, args.data))


if __name__ == "__main__":
    main()
