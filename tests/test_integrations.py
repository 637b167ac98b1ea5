"""The datatrove and datasets integrations decide as the pipeline does, on the bundled real sample.

The examples of docs/integrations.md are extracted and run as they are written (in a folder where
`pipeline/sample` is the bundled sample and `fineweb/…` a FineWeb-style shard made from its pages);
their outputs are compared with what consentcrawl's own `RobotsFilter` and `SignalsFilter` decide
for the same pages, read by consentcrawl's own WARC reader.
"""

from __future__ import annotations

import csv
import json
import pickle
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT

from pipeline.document import Document, Outcome
from pipeline.extract import Extractor
from pipeline.ingest.warc import WarcReader
from pipeline.integrations.core import OptOut
from pipeline.optout.decide import RobotsFilter
from pipeline.optout.policy import PolicyError, load_policy
from pipeline.optout.signals import SignalsFilter
from pipeline.optout.snapshot import SnapshotError, SnapshotRow, load_snapshot, read_snapshot_rows, write_snapshot

SAMPLE = ROOT / "pipeline" / "sample"
SNAPSHOT = SAMPLE / "robots-snapshot.parquet"
DOCS = ROOT / "docs" / "integrations.md"
AS_OF = "2025-01-31"  # the date both doc examples use (Apertus applied a January 2025 snapshot)
# Known decisions of the sample snapshot as of 2025-01-31 (checked against the robots.txt bodies below).
LEMONDE = "https://www.lemonde.fr/economie/article/2019/05/07/"  # URL prefix: dropped, AI2Bot group
LEMONDE_LINE = 295
ECONOMIST = "https://www.economist.com/open-future/2018/06/18/why-collaborative-thinking-beats-individual-smarts"
ECONOMIST_LINE = 65
FOXNEWS = "https://www.foxnews.com/politics/"  # URL prefix: kept by the rules of a real robots.txt
TDMREP_META = ("https://www.lesechos.fr/", "https://www.corriere.it/")  # tdm-reservation: 1 in <meta>


def read_warc(path: Path) -> list[Document]:
    """The records of a WARC file as consentcrawl's own reader yields them (real headers and HTML)."""
    return list(WarcReader(str(path), max_payload_bytes=8 * 1024 * 1024))


def snippets() -> dict[str, str]:
    """The python blocks of docs/integrations.md, by their `<!-- run: NAME -->` marker."""
    text = DOCS.read_text("utf-8")
    found = dict(re.findall(r"<!-- run: (\w+) -->\s*```python\n(.*?)```", text, flags=re.S))
    assert set(found) == {"datatrove", "datasets"}, sorted(found)
    return found


def run_snippet(name: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run one docs example as written, with cwd where its relative paths resolve; return its variables."""
    monkeypatch.chdir(cwd)
    namespace: dict[str, Any] = {"__name__": f"docs_integrations_{name}"}
    exec(compile(snippets()[name], f"{DOCS}:{name}", "exec"), namespace)
    return namespace


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder laid out as the docs assume (`pipeline/sample` is the bundled sample), datasets' cache inside."""
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "sample").symlink_to(SAMPLE, target_is_directory=True)
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # a local file: never ask the Hub
    return tmp_path


def pipeline_outcomes(policy: str, as_of: str | None) -> dict[str, Document]:
    """Every response of the two sample WARC files through consentcrawl's own robots and signals stages."""
    pol = load_policy(policy)
    snap = load_snapshot(str(SNAPSHOT), as_of)
    robots, signals = RobotsFilter(snap, pol), SignalsFilter(pol, snap)
    out: dict[str, Document] = {}
    for warc in sorted(SAMPLE.glob("sample-*.warc.gz")):
        for doc in read_warc(warc):
            if doc.record_type != "response":
                continue
            robots.run(doc)
            if not doc.done:
                signals.run(doc)
            out[doc.url] = doc
    assert len(out) == 120
    return out


def robots_body_line(url: str, fetched_at: str, line: int) -> str:
    """Line `line` of the robots.txt the snapshot holds for the URL's host at `fetched_at`."""
    host = "/".join(url.split("/")[:3])
    (row,) = [r for r in read_snapshot_rows(SNAPSHOT) if r["host"] == host and r["fetched_at"] == fetched_at]
    return bytes(row["body"]).decode("utf-8").splitlines()[line - 1].strip()


def normalised(evidence: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(evidence, default=str))


def fineweb_shard(path: Path) -> list[str]:
    """A FineWeb-style Parquet (FineWeb's column names and types) of the sample's real pages; returns the URLs.

    Text is extracted by consentcrawl's own extractor; `language` is the page's declared language
    (pages.csv). FineWeb's `language_score` is left out rather than invented.
    """
    langs = {r["url"]: r["html_lang"] for r in csv.DictReader((SAMPLE / "pages.csv").open(encoding="utf-8"))}
    extractor = Extractor()
    rows = []
    for warc in sorted(SAMPLE.glob("sample-*.warc.gz")):
        for doc in read_warc(warc):
            if doc.record_type != "response":
                continue
            extractor.run(doc)
            if doc.done:  # no text: FineWeb has no such rows
                continue
            rows.append({"text": doc.text, "id": doc.source_record_id, "dump": "consentcrawl-sample", "url": doc.url,
                         "date": doc.crawl_date, "file_path": f"pipeline/sample/{warc.name}",
                         "language": (langs.get(doc.url) or "").split("-")[0],
                         "token_count": len((doc.text or "").split())})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return [r["url"] for r in rows]


# --------------------------------------------------------------------------------------------
# datatrove
# --------------------------------------------------------------------------------------------


def read_jsonl_folder(folder: Path) -> list[dict[str, Any]]:
    import gzip

    rows = []
    for f in sorted(folder.glob("*.jsonl*")):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def test_datatrove_docs_example_drops_what_consentcrawl_drops(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The docs' datatrove pipeline (2 tasks in 2 processes) keeps and drops each page as the pipeline's stages do."""
    run_snippet("datatrove", workdir, monkeypatch)
    out = workdir / "out"
    kept = [r["metadata"] for r in pq.read_table(out / "optout-kept").to_pylist()]
    excluded = read_jsonl_folder(out / "optout-excluded")
    read = [r["metadata"]["url"] for r in excluded]
    kept_urls = [r["url"] for r in kept]
    assert len(kept_urls) + len(read) == 105  # what datatrove's WarcReader yields from the two files
    assert len(set(kept_urls) | set(read)) == 105

    expected = pipeline_outcomes("strict", AS_OF)
    for row in kept:
        assert expected[row["url"]].outcome is None, row["url"]  # consentcrawl keeps it too
        assert row["optout_allowed"] is True and row["optout_reason"] == ""
        evidence = json.loads(row["optout_evidence"])
        assert evidence["basis"] in ("no-entry", "rules")
        assert evidence.get("entry_sha256", "") == (expected[row["url"]].robots_entry or "")
    reasons: dict[str, str] = {}
    for row in excluded:
        meta = row["metadata"]
        doc = expected[meta["url"]]
        assert doc.outcome is Outcome.DROPPED, meta["url"]
        assert meta["filter_reason"] == meta["optout_reason"] == doc.reason
        assert meta["optout_allowed"] is False
        assert json.loads(meta["optout_evidence"]) == normalised(doc.evidence)
        reasons[meta["url"]] = doc.reason

    assert sorted(set(reasons.values())) == ["optout:robots", "optout:tdmrep"]
    assert sum(r == "optout:robots" for r in reasons.values()) == 15
    assert sorted(u for u, r in reasons.items() if r == "optout:tdmrep") == sorted(
        u for u in read if u.startswith(TDMREP_META))
    (lemonde,) = [r["metadata"] for r in excluded if r["metadata"]["url"].startswith(LEMONDE)]
    evidence = json.loads(lemonde["optout_evidence"])
    assert (evidence["rule"], evidence["line"], evidence["basis"]) == ("disallow: /", LEMONDE_LINE, "rules")
    assert robots_body_line(lemonde["url"], evidence["fetched_at"], evidence["line"]) == "disallow: /"
    assert robots_body_line(lemonde["url"], evidence["fetched_at"], evidence["line"] - 1) == "user-agent: ai2bot"
    (fox,) = [r for r in kept if r["url"].startswith(FOXNEWS)]
    assert json.loads(fox["optout_evidence"])["basis"] == "rules"  # a real robots.txt that allows it

    stats = json.loads((out / "logs" / "stats.json").read_text())
    (step,) = [s for s in stats if "opt-out" in s["name"]]
    counts = {k: v["total"] if isinstance(v, dict) else v for k, v in step["stats"].items()}
    assert counts["total"] == 105 and counts["forwarded"] == len(kept_urls)
    assert counts["dropped_optout:robots"] == 15 and counts["dropped_optout:tdmrep"] == len(reasons) - 15


def test_datatrove_reads_headers_and_html_from_metadata(tmp_path: Path) -> None:
    """A reader that keeps HTTP headers gets header signals applied, with the pipeline's evidence.

    Two real sample pages go through datatrove's JsonlReader; one of them carries a crafted
    `X-Robots-Tag: noai` header on top of its real headers (no sample page sends one).
    """
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from pipeline.integrations.datatrove import OptOutFilter

    docs = [d for d in read_warc(SAMPLE / "sample-00000.warc.gz")
            if d.record_type == "response" and d.url.startswith(("http://247sports.com/", "http://www.today.com/"))]
    assert len(docs) == 2
    docs[1].http_headers = [*docs[1].http_headers, ("X-Robots-Tag", "noai, noimageai")]
    (tmp_path / "in").mkdir()
    with (tmp_path / "in" / "pages.jsonl").open("w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps({"id": d.source_record_id, "text": "(extracted later)", "url": d.url,
                                 "html": d.html.decode("utf-8"), "http_headers": d.http_headers}) + "\n")
    LocalPipelineExecutor(pipeline=[
        JsonlReader(str(tmp_path / "in")),
        OptOutFilter(SNAPSHOT, policy="strict", html="html", exclusion_writer=JsonlWriter(str(tmp_path / "excluded"))),
        JsonlWriter(str(tmp_path / "kept")),
    ], tasks=1, workers=1, logging_dir=str(tmp_path / "logs")).run()

    kept = read_jsonl_folder(tmp_path / "kept")
    (excluded,) = read_jsonl_folder(tmp_path / "excluded")
    assert [r["metadata"]["url"] for r in kept] == [docs[0].url]
    assert excluded["metadata"]["url"] == docs[1].url
    pol = load_policy("strict")
    SignalsFilter(pol, load_snapshot(str(SNAPSHOT))).run(docs[1])
    assert docs[1].reason == "optout:noai" == excluded["metadata"]["filter_reason"]
    assert json.loads(excluded["metadata"]["optout_evidence"]) == normalised(docs[1].evidence)
    assert json.loads(excluded["metadata"]["optout_evidence"])["location"] == "http-header"


def test_datatrove_filter_checks_its_configuration_in_the_driver(tmp_path: Path) -> None:
    """A wrong policy, date or snapshot fails when the pipeline is written, not in every task."""
    from pipeline.integrations.datatrove import OptOutFilter

    with pytest.raises(PolicyError, match="policy not found"):
        OptOutFilter(SNAPSHOT, policy="no-such-policy")
    with pytest.raises(SnapshotError, match="as-of"):
        OptOutFilter(SNAPSHOT, as_of="last january")
    with pytest.raises(SnapshotError, match="not found"):
        OptOutFilter(tmp_path / "missing.parquet")
    (tmp_path / "notes.parquet").write_text("not parquet")
    with pytest.raises(SnapshotError):
        OptOutFilter(tmp_path / "notes.parquet")


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------


def test_datasets_docs_example_matches_robots_filter(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The docs' three lines on a FineWeb-style shard keep exactly the rows consentcrawl's RobotsFilter allows."""
    urls = fineweb_shard(workdir / "fineweb" / "sample" / "10BT" / "000_00000.parquet")
    ns = run_snippet("datasets", workdir, monkeypatch)
    robots = RobotsFilter(load_snapshot(str(SNAPSHOT), AS_OF), load_policy("apertus"))
    decisions = {u: robots.decide(u) for u in urls}
    disallowed = sorted(u for u, d in decisions.items() if not d.allowed)
    assert (len(urls), len(disallowed)) == (116, 14)  # twitter and instagram pages have no text, no row

    fineweb, kept, annotated, dropped = ns["fineweb"], ns["kept"], ns["annotated"], ns["dropped"]
    assert fineweb.num_rows == len(urls)
    assert kept["url"] == [u for u in urls if decisions[u].allowed]  # order kept, rows untouched
    assert kept.column_names == fineweb.column_names
    assert annotated.num_rows == fineweb.num_rows  # map with num_proc=2: every row, in order
    assert annotated["url"] == urls
    assert annotated["optout_allowed"] == [decisions[u].allowed for u in urls]
    for url, reason, evidence in zip(urls, annotated["optout_reason"], annotated["optout_evidence"], strict=True):
        assert reason == ("" if decisions[url].allowed else "optout:robots")
        assert json.loads(evidence) == normalised(decisions[url].evidence())
    assert sorted(dropped["url"]) == disallowed

    (economist,) = [r for r in dropped if r["url"] == ECONOMIST]
    evidence = json.loads(economist["optout_evidence"])
    assert (evidence["rule"], evidence["line"], evidence["fetched_at"]) == \
        ("disallow: /", ECONOMIST_LINE, "2025-01-01T00:00:00Z")
    assert robots_body_line(ECONOMIST, evidence["fetched_at"], ECONOMIST_LINE) == "disallow: /"
    assert robots_body_line(ECONOMIST, evidence["fetched_at"], ECONOMIST_LINE - 1) == "user-agent: applebot-extended"
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and all(" optout:robots disallow: / line " in line for line in printed)


def test_as_of_decides_which_robots_txt_applies() -> None:
    """The economist page is dropped by its January 2025 robots.txt and kept by the newest capture."""
    from pipeline.integrations.datasets import OptOutDecider

    january = OptOutDecider(SNAPSHOT, as_of=AS_OF)
    newest = OptOutDecider(SNAPSHOT)
    assert january(ECONOMIST) is False and newest(ECONOMIST) is True  # unbatched use
    assert json.loads(newest.columns(ECONOMIST)["optout_evidence"])["fetched_at"] == "2025-11-01T00:00:00Z"


def test_datasets_fingerprint_follows_snapshot_policy_and_date(tmp_path: Path) -> None:
    """datasets' cache key (dill hash of the function) is stable across use and copies, changes with the decision."""
    from datasets import Dataset
    from datasets.fingerprint import Hasher

    from pipeline.integrations.datasets import OptOutDecider

    decider = OptOutDecider(SNAPSHOT, as_of=AS_OF)
    before = Hasher.hash(decider)
    ds = Dataset.from_dict({"url": [ECONOMIST, "https://www.foxnews.com/politics/x"]})
    first = ds.filter(decider, batched=True, input_columns=["url"])
    assert first["url"] == ["https://www.foxnews.com/politics/x"]
    assert Hasher.hash(decider) == before  # the loaded snapshot and rule caches are not part of it
    assert Hasher.hash(pickle.loads(pickle.dumps(decider))) == before
    again = ds.filter(OptOutDecider(SNAPSHOT, as_of=AS_OF), batched=True, input_columns=["url"])
    assert again._fingerprint == first._fingerprint

    other_date = ds.filter(OptOutDecider(SNAPSHOT), batched=True, input_columns=["url"])
    assert other_date._fingerprint != first._fingerprint and other_date.num_rows == 2
    assert Hasher.hash(OptOutDecider(SNAPSHOT, policy="strict", as_of=AS_OF)) != before
    copy = tmp_path / "robots-snapshot.parquet"
    shutil.copy(SNAPSHOT, copy)
    same_bytes = Hasher.hash(OptOutDecider(copy, as_of=AS_OF))
    rows = [r for r in read_snapshot_rows(SNAPSHOT) if "economist" not in str(r["host"])]
    write_snapshot((SnapshotRow(str(r["host"]), str(r["fetched_at"]), int(r["http_status"]), bytes(r["body"]),
                                str(r["source"] or "")) for r in rows), copy, made_by="test")
    fewer = OptOutDecider(copy, as_of=AS_OF)
    assert Hasher.hash(fewer) != same_bytes
    assert fewer(ECONOMIST) is True  # and the new bytes decide: no entry for the host, kept


def test_a_snapshot_changed_after_planning_is_refused_in_the_worker(tmp_path: Path) -> None:
    """A worker never applies other rules than the ones the decider was built with."""
    copy = tmp_path / "robots-snapshot.parquet"
    shutil.copy(SNAPSHOT, copy)
    planned = pickle.dumps(OptOut(copy, as_of=AS_OF))
    rows = read_snapshot_rows(SNAPSHOT)[:-1]
    write_snapshot((SnapshotRow(str(r["host"]), str(r["fetched_at"]), int(r["http_status"]), bytes(r["body"]),
                                str(r["source"] or "")) for r in rows), copy, made_by="test")
    with pytest.raises(SnapshotError, match="changed"):
        pickle.loads(planned).decide(ECONOMIST)


def test_urls_without_a_host_are_not_kept_as_in_a_run() -> None:
    """A run errors a record without a usable URL (`invalid-url`); the integrations do not keep it either."""
    from pipeline.integrations.datasets import OptOutDecider

    decider = OptOutDecider(SNAPSHOT)
    assert decider(["", "not a url", ECONOMIST]) == [False, False, True]
    assert decider.columns(["", ECONOMIST])["optout_reason"] == ["invalid-url", ""]
    with pytest.raises(ValueError, match="html has 1 values for 2 URLs"):
        decider(["https://a.example/", "https://b.example/"], ["<html></html>"])
