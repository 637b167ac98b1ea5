#!/usr/bin/env python
"""Benchmark the language-ID stage: speed on short and long documents, and the effect of the
long-document sampling (``max_chars`` / ``windows`` in :mod:`pipeline.langid.prepare`).

Data (all local, nothing downloaded):
- short documents: the shared dev sentences (Tatoeba, Lingua, UDHR paragraphs);
- long documents: real web pages from ``../shared/data/web_pages/*.warc.gz`` extracted with
  fastwarc + resiliparse, and synthetic long documents made by concatenating 50 Lingua
  sentences of one language (gold language known).

Usage::

    python scripts/bench_langid.py                 # speed + sampling table
    python scripts/bench_langid.py --accuracy      # dev-set accuracy (overall / known langs)
    python scripts/bench_langid.py --calibrate     # per-label correctness by score band
    python scripts/bench_langid.py --dev           # issue 18: every dev set (Bible, UDHR, Lingua,
                                                   # Tatoeba, NTREX): exact / same-macrolanguage
                                                   # accuracy, by length, confusions, speed vs lid.176
    python scripts/bench_langid.py --shard-share   # LID's share of a shard's CPU on web pages
    python scripts/bench_langid.py --model PATH --json out.json
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.langid import LanguageIdentifier, lang_matches  # noqa: E402
from pipeline.langid.evaluate import (  # noqa: E402
    Example,
    load_lingua,
    load_tatoeba,
    load_udhr,
    score,
)
from pipeline.langid.labels import LID176  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
MT = SHARED / "multilingual_text"
WEB = SHARED / "web_pages"


def _timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (less noise than the mean) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def load_web_pages(limit: int | None = None) -> list[tuple[str, str]]:
    """(text, declared html_lang primary subtag) for each WARC response record."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    declared: dict[str, str] = {}
    with (WEB / "pages.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            declared[row["record_id"]] = (row["html_lang"] or "").split("-")[0].lower()
    docs: list[tuple[str, str]] = []
    for warc in sorted(WEB.glob("*.warc.gz")):
        with warc.open("rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.response):
                body = rec.reader.read()
                html = bytes_to_str(body, detect_encoding(body))
                text = extract_plain_text(html, main_content=True)
                docs.append((text, declared.get(rec.record_id, "")))
                if limit and len(docs) >= limit:
                    return docs
    return docs


def long_lingua_docs(group: int = 50) -> list[Example]:
    """Concatenate ``group`` Lingua sentences of one language into one long document."""
    per: dict[str, list[str]] = defaultdict(list)
    for ex in load_lingua(MT / "lingua_dev.jsonl"):
        per[ex.lang].append(ex.text)
    docs: list[Example] = []
    for lang, texts in sorted(per.items()):
        for i in range(0, len(texts) - group + 1, group):
            docs.append(Example("\n".join(texts[i : i + group]), lang))
    return docs


def long_bible_docs(chars: int = 2500, per_lang: int = 2) -> list[Example]:
    """Held-out eBible verses of one language joined into ~``chars``-character documents (the long tail)."""
    import gzip

    per: dict[str, list[str]] = defaultdict(list)
    with gzip.open(SHARED / "lid_train" / "ebible_dev.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            per[row["iso639_3"]].append(row["text"])
    docs: list[Example] = []
    for lang, texts in sorted(per.items()):
        buf, n = "", 0
        for t in texts:
            buf += t + " "
            if len(buf) > chars:
                docs.append(Example(buf, lang))
                buf, n = "", n + 1
                if n == per_lang:
                    break
    return docs


def iso639_1_to_3(code: str) -> str:
    """Declared html_lang (2 letters) -> ISO 639-3 through the lid.176 table."""
    entry = LID176.get(code)
    return entry.iso639_3 if entry else code


def bench_speed(model: str, out: dict[str, Any]) -> None:
    ident = LanguageIdentifier(model)
    print(f"model: {ident.model_name} ({ident.model_path.name}, sha256 {ident.model_sha256[:16]})")
    t_load, _ = _timed(lambda: LanguageIdentifier(model), repeat=3)
    print(f"re-create LanguageIdentifier (model cached in process): {t_load * 1e3:.2f} ms")
    out["recreate_ms"] = t_load * 1e3

    print("\n== short documents ==")
    for name, rows in [
        ("tatoeba", load_tatoeba(MT / "tatoeba_dev.tsv")),
        ("lingua", load_lingua(MT / "lingua_dev.jsonl")),
        ("udhr", load_udhr(MT / "udhr_dev.jsonl")),
    ]:
        texts = [e.text for e in rows]
        mean_len = statistics.mean(len(t) for t in texts)
        t, _ = _timed(lambda texts=texts: ident.predict_batch(texts))
        t1, _ = _timed(lambda texts=texts: [ident.predict(x) for x in texts[:2000]], repeat=1)
        print(
            f"{name:8s} n={len(texts):6d} mean_chars={mean_len:6.0f}  "
            f"batch {len(texts) / t:9.0f} docs/s   single {min(2000, len(texts)) / t1:9.0f} docs/s"
        )
        out[f"short_{name}_docs_per_s"] = len(texts) / t

    print("\n== long documents: sampling effect ==")
    web = load_web_pages()
    web_texts = [t for t, _ in web]
    web_chars = sum(len(t) for t in web_texts)
    lingua_long = long_lingua_docs()
    lengths = sorted(len(t) for t in web_texts)
    print(
        f"web pages: {len(web)} docs, {web_chars / 1e6:.1f} M chars after extraction, "
        f"median {lengths[len(lengths) // 2]} max {lengths[-1]}; "
        f"lingua long docs: {len(lingua_long)} docs, mean "
        f"{statistics.mean(len(e.text) for e in lingua_long):.0f} chars"
    )
    reference = LanguageIdentifier(model, max_chars=0)
    ref = reference.predict_batch(web_texts)
    configs: list[tuple[str, int, int]] = [
        ("full text (no cap)", 0, 1),
        ("head 500", 500, 1),
        ("head 2000", 2000, 1),
        ("4 windows x 125 (default)", 500, 4),
        ("4 windows x 250", 1000, 4),
        ("4 windows x 500", 2000, 4),
        ("4 windows x 1000", 4000, 4),
        ("8 windows x 1000", 8000, 8),
    ]
    bible_long = long_bible_docs()
    print(f"bible long docs: {len(bible_long)} docs in {len({e.lang for e in bible_long})} languages")
    print(
        f"{'config':28s} {'web docs/s':>10s} {'MB/s':>6s} {'agree_full':>10s} "
        f"{'acc_html_lang':>13s} {'lingua_long_acc':>15s} {'bible_long_acc':>14s} {'lingua docs/s':>13s}"
    )
    declared = [(i, iso639_1_to_3(d)) for i, (_, d) in enumerate(web) if d]
    rows_out = []
    for name, max_chars, windows in configs:
        ident_c = LanguageIdentifier(model, max_chars=max_chars, windows=windows)
        t, res = _timed(lambda ident_c=ident_c: ident_c.predict_batch(web_texts))
        agree = sum(a.lang == b.lang for a, b in zip(res, ref, strict=True)) / len(ref)
        acc_decl = sum(lang_matches(res[i].lang, g) for i, g in declared) / len(declared)
        t2, res2 = _timed(
            lambda ident_c=ident_c: ident_c.predict_batch([e.text for e in lingua_long])
        )
        acc_long = sum(
            lang_matches(r.lang, e.lang) for r, e in zip(res2, lingua_long, strict=True)
        ) / len(lingua_long)
        res3 = ident_c.predict_batch([e.text for e in bible_long])
        acc_bible = sum(lang_matches(r.lang, e.lang) for r, e in zip(res3, bible_long, strict=True)) / len(bible_long)
        print(
            f"{name:28s} {len(web) / t:10.0f} {web_chars / t / 1e6:6.1f} {agree:10.4f} "
            f"{acc_decl:13.4f} {acc_long:15.4f} {acc_bible:14.4f} {len(lingua_long) / t2:13.0f}"
        )
        rows_out.append(
            {
                "config": name,
                "max_chars": max_chars,
                "windows": windows,
                "web_docs_per_s": len(web) / t,
                "web_mb_per_s": web_chars / t / 1e6,
                "agree_with_full": agree,
                "acc_vs_html_lang": acc_decl,
                "n_html_lang": len(declared),
                "lingua_long_acc": acc_long,
                "bible_long_acc": acc_bible,
                "lingua_long_docs_per_s": len(lingua_long) / t2,
            }
        )
    out["long"] = rows_out

    huge = "Dies ist ein sehr langer deutscher Text über nichts Besonderes. " * 80_000
    t, r = _timed(lambda: ident.predict(huge))
    print(f"\none {len(huge) / 1e6:.1f} M-char document: {t * 1e3:.1f} ms -> {r.label} {r.score}")
    out["huge_doc_ms"] = t * 1e3


def bench_accuracy(model: str, out: dict[str, Any]) -> None:
    ident = LanguageIdentifier(model)
    print(f"\n== dev-set accuracy, model {ident.model_name} ==")
    print("acc = final label (und counts as wrong), top1 = ignoring thresholds,")
    print("precision = accuracy of the documents that got a language label; known = gold")
    print("languages the model has a label for (macro-aware).")
    for name, rows in [
        ("udhr", load_udhr(MT / "udhr_dev.jsonl")),
        ("lingua", load_lingua(MT / "lingua_dev.jsonl")),
        ("tatoeba", load_tatoeba(MT / "tatoeba_dev.tsv")),
    ]:
        s = score(ident, rows)
        precision = s.correct / max(1, s.n - s.und)
        print(f"{name:8s} {s.summary()} precision={precision:.4f}")
        out[f"acc_{name}"] = {
            "n": s.n,
            "langs": len(s.gold_langs),
            "acc": s.accuracy,
            "top1": s.accuracy_top1,
            "und_rate": s.und / s.n,
            "precision": precision,
            "n_known": s.n_known,
            "known_langs": len(s.known_langs),
            "acc_known": s.accuracy_known,
            "top1_known": s.accuracy_top1_known,
        }


def bench_calibrate(model: str, bands: Sequence[float] = (0.3, 0.5, 0.7)) -> None:
    """Per predicted language: right/total per top-1 score band (to tune thresholds.yaml)."""
    ident = LanguageIdentifier(model)
    rows = (
        load_lingua(MT / "lingua_dev.jsonl")
        + load_tatoeba(MT / "tatoeba_dev.tsv")
        + load_udhr(MT / "udhr_dev.jsonl")
    )
    res = ident.predict_batch([e.text for e in rows])
    edges = [0.0, *bands, 1.01]
    table: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(len(edges) - 1)])
    for e, r in zip(rows, res, strict=True):
        if not r.topk:
            continue
        lab, s = r.topk[0]
        lang = lab.partition("_")[0]
        b = next(i for i in range(len(edges) - 1) if edges[i] <= s < edges[i + 1])
        table[lang][b][0] += lang_matches(lang, e.lang)
        table[lang][b][1] += 1
    head = "  ".join(
        f"[{edges[i]:.1f},{min(edges[i + 1], 1.0):.1f})" for i in range(len(edges) - 1)
    )
    print(f"\n== calibration (right/total per score band) ==\nlang  {head}")
    for lang, cells in sorted(table.items(), key=lambda kv: -sum(c[1] for c in kv[1])):
        print(f"{lang:5s} " + "  ".join(f"{a:>5d}/{n:<5d}" for a, n in cells))


LENGTH_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("<=20", 0, 20), ("21-50", 20, 50), ("51-150", 50, 150), (">150", 150, 10**9))


def bench_dev(model: str, out: dict[str, Any], repeat: int = 3) -> None:
    """Every held-out dev set through the real identifier: exact code and same-macrolanguage accuracy,
    per length bucket, the 20 most frequent confusions, languages emitted, and CPU time per document
    against lid.176 alone (timed back to back in this process, best of ``repeat``: load cancels out).

    Uses the splits of :mod:`pipeline.langid.splits`, so no row was trained on.
    """
    from collections import Counter

    from pipeline.langid.labels import macrolanguage_of
    from pipeline.langid.splits import load_splits

    ident = LanguageIdentifier(model)
    lid = LanguageIdentifier("lid176")
    splits = load_splits(SHARED)
    print(f"\n== dev sets (held out), model {ident.model_name} ==")
    print("exact = final label's code == gold individual code; macro = same macrolanguage; und counts as wrong")
    for name, rows in splits.heldout.items():
        texts = [r.text for r in rows]
        res = ident.predict_batch(texts)
        exact = [r.lang == row.gold for r, row in zip(res, rows, strict=True)]
        macro = [lang_matches(r.lang, row.lang) or macrolanguage_of(r.lang) == macrolanguage_of(row.lang)
                 for r, row in zip(res, rows, strict=True)]
        buckets = []
        for bname, lo, hi in LENGTH_BUCKETS:
            idx = [i for i, t in enumerate(texts) if lo < len(t) <= hi]
            if idx:
                buckets.append(f"{bname}: {sum(exact[i] for i in idx) / len(idx):.3f}/"
                               f"{sum(macro[i] for i in idx) / len(idx):.3f} (n={len(idx)})")
        conf = Counter((row.gold, r.lang) for r, row, ok in zip(res, rows, exact, strict=True) if not ok)
        best = {"lid": float("inf"), "model": float("inf")}
        for _ in range(repeat):
            for key, idt in (("lid", lid), ("model", ident)):
                t = time.process_time()
                idt.predict_batch(texts)
                best[key] = min(best[key], time.process_time() - t)
        ratio = best["model"] / best["lid"]
        print(f"{name:10s} n={len(rows):6d} langs={len({r.lang for r in rows}):4d} "
              f"exact={sum(exact) / len(rows):.4f} macro={sum(macro) / len(rows):.4f} "
              f"emitted={len({r.lang for r in res})} µs/doc={best['model'] / len(rows) * 1e6:.0f} "
              f"({ratio:.2f}x lid.176)")
        print("    by length: " + "; ".join(buckets))
        print("    confusions: " + ", ".join(f"{g}->{p} {n}" for (g, p), n in conf.most_common(20)))
        out[f"dev_{name}"] = {"n": len(rows), "exact": sum(exact) / len(rows), "macro": sum(macro) / len(rows),
                              "ratio_vs_lid176": ratio}


def bench_shard_share(model: str, out: dict[str, Any], repeat: int = 3) -> None:
    """LID's share of a shard's CPU on real web pages: ingest (WARC read), main-content extraction,
    LID, Parquet write, each timed with ``time.process_time`` (best of ``repeat``)."""
    import tempfile

    from pipeline.config import LangIdConfig
    from pipeline.extract import Extractor
    from pipeline.ingest.warc import WarcReader
    from pipeline.langid.stage import LanguageStage
    from pipeline.write import DATA_SCHEMA, ParquetShardWriter, data_row

    stage = LanguageStage.for_config(LangIdConfig(model=model))
    stage.identifier.predict("warm up")
    ex = Extractor()
    best: dict[str, float] = {}
    warcs = sorted(WEB.glob("*.warc.gz"))
    n = 0
    for _ in range(repeat):
        spent = dict.fromkeys(("ingest", "extract", "langid", "write"), 0.0)
        n = 0
        for warc in warcs:
            t = time.process_time()
            docs = [d for d in WarcReader(str(warc)) if not d.done]
            spent["ingest"] += time.process_time() - t
            t = time.process_time()
            for d in docs:
                ex.run(d)
            spent["extract"] += time.process_time() - t
            t = time.process_time()
            for d in docs:
                if d.text:
                    stage.run(d)
            spent["langid"] += time.process_time() - t
            with tempfile.TemporaryDirectory() as tmp:
                t = time.process_time()
                w = ParquetShardWriter(Path(tmp), "data/part-00000.parquet", DATA_SCHEMA)
                for d in docs:
                    if d.text:
                        w.add(data_row(d, "bench"))
                w.close()
                spent["write"] += time.process_time() - t
            n += len(docs)
        for k, v in spent.items():
            best[k] = min(best.get(k, float("inf")), v)
    total = sum(best.values())
    print(f"\n== shard CPU on {n} web pages ({len(warcs)} WARCs), model {model} ==")
    for k, v in best.items():
        print(f"  {k:8s} {v * 1e3:8.0f} ms  {v / total:6.1%}")
    out["shard_share"] = {k: v / total for k, v in best.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default")
    p.add_argument("--accuracy", action="store_true", help="only dev-set accuracy")
    p.add_argument("--calibrate", action="store_true", help="only the calibration table")
    p.add_argument("--dev", action="store_true", help="only the held-out dev sets (issue 18 table)")
    p.add_argument("--shard-share", action="store_true", help="only LID's share of shard CPU on web pages")
    p.add_argument("--json", type=Path, default=None, help="also write results as JSON")
    args = p.parse_args(argv)
    if not SHARED.exists():
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 2
    out: dict[str, Any] = {"model": args.model}
    if args.calibrate:
        bench_calibrate(args.model)
    elif args.dev:
        bench_dev(args.model, out)
    elif args.shard_share:
        bench_shard_share(args.model, out)
    elif args.accuracy:
        bench_accuracy(args.model, out)
    else:
        bench_speed(args.model, out)
        bench_accuracy(args.model, out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
