"""`consentcrawl robots check` (decision + evidence per URL) and the `robots` command group as a user meets it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT

from pipeline import cli as top
from pipeline.optout.policy import load_policy
from pipeline.optout.robots import RobotsTxt
from pipeline.optout.snapshot import SnapshotRow, read_snapshot_rows, write_snapshot

SAMPLE_SNAPSHOT = ROOT / "pipeline" / "sample" / "robots-snapshot.parquet"


def cli(*argv: object) -> int:
    """`consentcrawl ...` in-process, through the real entry point (argparse exits on --help/usage)."""
    try:
        return top.main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code or 0)


def check_json(capsys: pytest.CaptureFixture[str], *argv: object) -> dict:
    capsys.readouterr()
    assert cli("robots", "check", "--json", *argv) == 0
    return json.loads(capsys.readouterr().out)


def test_check_matches_the_engine_on_the_sample_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [r for r in read_snapshot_rows(SAMPLE_SNAPSHOT) if r["fetched_at"] == "2022-03-01T00:00:00Z"]
    assert rows, "the bundled sample has the 2022 texting_robots captures"
    policy = load_policy("ai-training")
    urls = []
    for r in rows:
        for path in ("/", "/search?q=x", "/private/page", "/api/v1/x", "/robots.txt"):
            urls.append(str(r["host"]) + path)
    out = check_json(capsys, "--snapshot", SAMPLE_SNAPSHOT, "--policy", "ai-training", "--as-of", "2022-03-01",
                     *urls)
    assert out["policy"] == "ai-training" and out["as_of"] == "2022-03-01T23:59:59Z"
    by_host = {str(r["host"]): r for r in rows}
    disallowed = 0
    for res in out["results"]:
        entry = by_host[res["host"]]
        hit = RobotsTxt.parse(entry["body"]).compile(list(policy.agents)).first_disallowing(res["url"])
        assert res["allowed"] == (hit is None), res
        assert res["entry_sha256"] == entry["entry_sha256"] and res["fetched_at"] == entry["fetched_at"]
        assert res["http_status"] == 200 and res["basis"] == "rules" and res["lookup"] == "origin"
        if hit is not None:
            disallowed += 1
            group = "*" if hit[1].group == "*" else hit[0]
            assert (res["group"], res["rule"], res["line"]) == (group, hit[1].rule, hit[1].line)
            compiled = RobotsTxt.parse(entry["body"])
            assert res["agents"] == [a for a in policy.agents if not compiled.can_fetch(a, res["url"])]
    assert 0 < disallowed < len(urls)


def test_check_text_output_shows_the_evidence(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli("robots", "check", "--snapshot", SAMPLE_SNAPSHOT, "https://www.reddit.com/r/python",
               "https://no-such-host.example/") == 0
    text = capsys.readouterr().out
    assert "policy apertus" in text
    assert "DISALLOWED https://www.reddit.com/r/python" in text
    assert "basis rules: " in text and "policy agents disallowed: " in text and "at line " in text
    assert "fetched 2025-11-01T00:00:00Z, HTTP 200" in text
    assert "ALLOWED    https://no-such-host.example/" in text
    assert "no robots.txt for this host in the snapshot (policy missing_host: keep)" in text


@pytest.fixture
def dated(tmp_path: Path) -> Path:
    """One host whose robots.txt changed: open in January, closed to GPTBot on 2025-03-10 (10:00 UTC)."""
    snap = tmp_path / "dated.parquet"
    write_snapshot([
        SnapshotRow("https://news.example", "2025-01-05T08:00:00Z", 200, b"User-agent: *\nAllow: /\n"),
        SnapshotRow("https://news.example", "2025-03-10T10:00:00Z", 200,
                    b"# changed\nUser-agent: GPTBot\nDisallow: /articles/\n"),
        SnapshotRow("https://down.example", "2025-01-05T08:00:00Z", 503, b"<html>maintenance</html>"),
        SnapshotRow("https://gone.example", "2025-01-05T08:00:00Z", 404, b""),
        SnapshotRow("http://moved.example", "2025-01-05T08:00:00Z", 301, b""),
    ], snap, made_by="test")
    return snap


def test_check_as_of_picks_the_entry_in_force(dated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "https://news.example/articles/1"
    before = check_json(capsys, "--snapshot", dated, "--policy", "ai-training", "--as-of", "2025-03-09", url)
    assert before["results"][0]["allowed"] and before["results"][0]["fetched_at"] == "2025-01-05T08:00:00Z"
    same_day = check_json(capsys, "--snapshot", dated, "--policy", "ai-training", "--as-of", "2025-03-10", url)
    res = same_day["results"][0]
    assert not res["allowed"] and res["fetched_at"] == "2025-03-10T10:00:00Z"
    assert (res["group"], res["rule"], res["line"]) == ("GPTBot", "Disallow: /articles/", 3)
    earlier_that_day = check_json(capsys, "--snapshot", dated, "--policy", "ai-training",
                                  "--as-of", "2025-03-10T09:59:59Z", url)
    assert earlier_that_day["results"][0]["allowed"]
    latest = check_json(capsys, "--snapshot", dated, "--policy", "ai-training", url)
    assert latest["as_of"] is None and not latest["results"][0]["allowed"]


def test_check_status_bases(dated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = check_json(capsys, "--snapshot", dated, "https://down.example/x", "https://gone.example/x",
                     "https://moved.example/x", "https://news.example/robots.txt")
    got = {r["url"]: (r["allowed"], r["basis"], r.get("http_status"), r.get("lookup")) for r in out["results"]}
    assert got == {
        "https://down.example/x": (False, "unreachable-5xx", 503, "origin"),
        "https://gone.example/x": (True, "unavailable-4xx", 404, "origin"),
        "https://moved.example/x": (True, "redirect-unresolved", 301, "other-scheme"),
        "https://news.example/robots.txt": (True, "rules", 200, "origin"),
    }
    capsys.readouterr()
    assert cli("robots", "check", "--snapshot", dated, "https://down.example/x") == 0  # exit 0 even when dropped
    text = capsys.readouterr().out
    assert "RFC 9309 2.3.1.4 says disallow all" in text and "HTTP 503" in text


@pytest.mark.parametrize(("args", "needle"), [
    (["--policy", "nosuch"], "policy not found: nosuch"),
    (["--as-of", "last tuesday"], "--as-of 'last tuesday' is not a date"),
    (["--snapshot-missing"], "robots snapshot not found"),
    (["--snapshot-lacking"], "lacks column(s): http_status, body"),
])
def test_check_usage_errors_are_one_line(dated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         args: list[str], needle: str) -> None:
    snap: Path = dated
    if args == ["--snapshot-missing"]:
        snap, args = tmp_path / "none.parquet", []
    elif args == ["--snapshot-lacking"]:
        snap, args = tmp_path / "lacking.parquet", []
        pq.write_table(pa.table({"host": ["https://a.example"], "fetched_at": ["2025-01-01"]}), snap)
    capsys.readouterr()
    assert cli("robots", "check", "--snapshot", snap, *args, "https://news.example/") == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_robots_group_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli("robots", "--help") == 0
    help_text = capsys.readouterr().out
    for sub in ("build", "fetch", "merge", "check"):
        assert sub in help_text
    assert cli("robots") == 2
    assert cli("robots", "build", "--out", tmp_path / "s.parquet") == 2  # --from-warc or --from-table needed
    assert cli("robots", "build", "--from-warc", "a.warc.gz", "--from-table", "t.csv", "--out", "s") == 2
    capsys.readouterr()
    assert cli("robots", "build", "--from-warc", tmp_path / "x.warc.gz", "--date", "2025-01-01", "--out", "s") == 2
    assert "apply to --from-table" in capsys.readouterr().err


def test_build_merge_check_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A table published in January and a live-style table in March, merged, then checked as of each month."""
    jan, mar = tmp_path / "jan.csv", tmp_path / "mar.jsonl"
    jan.write_text('domain,content\nshop.example,"User-agent: *\nDisallow: /cart\n"\n')
    mar.write_text(json.dumps({"host": "https://shop.example", "body": "User-agent: CCBot\nDisallow: /\n",
                               "status": 200, "fetched_at": "2025-03-02T12:00:00Z"}) + "\n")
    assert cli("robots", "build", "--from-table", jan, "--date", "2025-01-20", "--out", tmp_path / "jan.parquet") == 0
    assert cli("robots", "build", "--from-table", mar, "--out", tmp_path / "mar.parquet") == 0
    merged = tmp_path / "all.parquet"
    assert cli("robots", "merge", tmp_path / "jan.parquet", tmp_path / "mar.parquet", "--out", merged) == 0
    url = "https://shop.example/products/1"
    in_feb = check_json(capsys, "--snapshot", merged, "--policy", "ai-training", "--as-of", "2025-02", url)
    assert in_feb["results"][0]["allowed"] and in_feb["results"][0]["fetched_at"] == "2025-01-20T00:00:00Z"
    in_mar = check_json(capsys, "--snapshot", merged, "--policy", "ai-training", "--as-of", "2025-03", url)
    assert not in_mar["results"][0]["allowed"] and in_mar["results"][0]["group"] == "CCBot"
