"""Issue 14, section 6: junk host names error the record; IPv6 literal origins are valid hosts.

A host with NUL, U+FFFD or other characters no web host can have names no origin whose robots.txt
could be checked, so `url_host` gives "" and the shard errors the record `invalid-url` (before:
kept under that host). IPv6 literals are hosts like any other, in one canonical spelling.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from crafted_tabular import SENTENCES, write_lines  # noqa: E402

from pipeline.config import config_from_dict  # noqa: E402
from pipeline.host import canonical_host, is_ip, netloc_host, registrable_domain, url_host  # noqa: E402
from pipeline.optout.snapshot import origin  # noqa: E402
from pipeline.shard import process_shard  # noqa: E402

INVALID = [
    "http://a\x00b.example.org/",  # NUL
    "http://a\ufffdb.example.org/",  # U+FFFD, what a lossy decode leaves
    "http://exa\x01mple.org/",
    "http://example\x7f.org/",
    "http://exa mple.org/",
    "http://a<b.example.org/",
    "http://a%00b.example.org/",  # percent-encoded NUL in the host
    "http://a..b.example.org/",  # empty label
    "http://" + "a" * 64 + ".example.org/",  # label over 63
    "http://[v1.fe]/",  # IPvFuture: no IPv6 address
    "http://[fe80::1%25eth0]/",  # zone id: local to one machine
    "http://[::1/",  # unbalanced bracket
    "http://münchen\x00.de/",
    "http:///path-only",
    "",
]


@pytest.mark.parametrize("url", INVALID)
def test_invalid_hosts_give_empty(url: str) -> None:
    assert url_host(url) == ""


@pytest.mark.parametrize(("url", "host"), [
    ("http://[2001:db8::1]/path", "2001:db8::1"),
    ("http://[::1]:8080/", "::1"),
    ("https://[2001:0DB8:0000::0001]:443/x", "2001:db8::1"),  # one canonical spelling
    ("http://[::ffff:192.0.2.1]/", "::ffff:192.0.2.1"),
    ("http://192.0.2.1/", "192.0.2.1"),
    ("https://WWW.Example.ORG./a", "www.example.org"),
    ("http://münchen.de/", "xn--mnchen-3ya.de"),
    ("http://user:pw@sub_domain.example.org:8080/", "sub_domain.example.org"),
])
def test_valid_hosts(url: str, host: str) -> None:
    assert url_host(url) == host


def test_ipv6_hosts_are_ips_with_themselves_as_domain() -> None:
    for host in ("2001:db8::1", "::1", "::ffff:192.0.2.1"):
        assert is_ip(host) and is_ip(f"[{host}]")
        assert registrable_domain(host) == host
        assert netloc_host(host) == f"[{host}]"
    assert netloc_host("example.org") == "example.org"
    assert canonical_host("2001:DB8:0::1", bracketed=True) == "2001:db8::1"
    assert canonical_host("example.org", bracketed=True) == ""


def test_origin_keeps_ipv6_brackets() -> None:
    """origin() drops the brackets today, so http://[::1]:8080/ and http://[::1:8080]/ share a key."""
    assert origin("http://[::1]:8080/") == "http://[::1]:8080"
    assert origin("http://[::1:8080]/") == "http://[::1:8080]"
    assert origin("https://[2001:db8::1]/a") == "https://[2001:db8::1]"


def test_shard_errors_junk_hosts_and_keeps_ipv6(tmp_path: Path) -> None:
    """Before: 7 in, 7 kept (NUL and U+FFFD hosts in the dataset). After: 4 kept, 3 errored invalid-url."""
    urls = ["http://[2001:db8::1]/path", "http://[::1]:8080/", "http://a\x00b.example.org/",
            "http://a\ufffdb.example.org/", "https://ok.example.org/", "http://[v1.fe]/page",
            "https://[2001:db8::2]/"]
    rows = [json.dumps({"text": f"{SENTENCES[0]} {SENTENCES[1]} {SENTENCES[2]}", "url": u, "id": f"r{i}"}).encode()
            for i, u in enumerate(urls)]
    path = tmp_path / "hosts.jsonl"
    write_lines(path, rows)
    out = tmp_path / "out"
    config = config_from_dict({"inputs": [str(path)], "output": str(out), "workers": 1,
                              "robots_snapshot": "none"}, tmp_path)
    result = process_shard(0, str(path), config, str(out))
    dropped, errored = sum(result.dropped.values()), sum(result.errored.values())
    assert result.records_in == len(urls) and result.kept + dropped + errored == len(urls)
    assert result.errored.get("invalid-url") == 3
    ledger = pq.read_table(out / "excluded" / "part-00000.parquet").to_pylist()
    assert len(ledger) == dropped + errored
    assert sorted(r["source_record_id"] for r in ledger if r["reason"] == "invalid-url") == ["r2", "r3", "r5"]
    kept = pq.read_table(out / "data" / "part-00000.parquet").to_pylist()
    hosts = {r["source_record_id"]: r["host"] for r in kept}
    assert hosts.get("r0") == "2001:db8::1" and hosts.get("r1") == "::1" and hosts.get("r6") == "2001:db8::2"
    assert {r["domain"] for r in kept if r["source_record_id"] in ("r0", "r1")} == {"2001:db8::1", "::1"}


def test_lookup_targets_keep_ipv6_literals_apart() -> None:
    from pipeline.manifest.targets import parse_target, url_key

    assert url_key("http://[::1]:8080/a") != url_key("http://[::1:8080]/a")
    assert url_key("http://[::1]:8080/a") == "[::1]:8080/a"
    bare = parse_target("2001:DB8::1")
    assert (bare.kind, bare.host) == ("host", "2001:db8::1")
