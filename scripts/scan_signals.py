"""Count the AI opt-out signals found in real pages (the numbers in docs/signals.md).

python scripts/scan_signals.py [WARC ...]   (default: ../shared/data/web_pages and cc_warc_samples)
Headers and <meta> only (no per-host files); the `strict` policy; prints counts and ms per document.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.ingest.warc import WarcReader  # noqa: E402
from pipeline.optout.policy import load_policy  # noqa: E402
from pipeline.optout.signals.stage import HostFiles, decide_signals  # noqa: E402


def main() -> int:
    shared = ROOT.parent / "shared" / "data"
    files = [Path(a) for a in sys.argv[1:]] or sorted((shared / "web_pages").glob("*.warc.gz")) + sorted(
        (shared / "cc_warc_samples").glob("*/*.warc*"))
    policy = load_policy("strict")
    found: Counter[str] = Counter()
    docs, seconds = 0, 0.0
    for f in files:
        for doc in WarcReader(str(f)):
            if doc.html is None:
                continue
            docs += 1
            t = time.perf_counter()
            decision = decide_signals(policy, doc.url, doc.http_headers, doc.html, HostFiles())
            seconds += time.perf_counter() - t
            for finding in decision.findings:
                found[f"{finding.signal}/{finding.location}/{finding.detail.split(':')[0]}"] += 1
    print(f"{docs} HTML documents, {seconds / max(docs, 1) * 1e3:.3f} ms per document for the signal checks")
    for key, n in found.most_common():
        print(f"  {n:5d}  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
