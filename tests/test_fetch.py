"""The live robots.txt fetcher against real HTTP servers on 127.0.0.1 (no other traffic).

Each "site" is its own server (an origin is scheme + host + port), serving real robots.txt bodies
(texting_robots, MIT) or misbehaving: redirect chains, too many redirects, 404, 500, a slow
answer, a dribbling body, an endless body, gzip. Other hosts only ever go through a fake
resolver, so no DNS query leaves the machine.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import shared_path

from pipeline import cli as top
from pipeline.optout.build import BuildReport
from pipeline.optout.fetch import (
    USER_AGENT,
    Fetcher,
    FetchOptions,
    _HostLimits,
    fetch_rows,
    is_public_address,
    origins_from_inputs,
    origins_from_lines,
)
from pipeline.optout.snapshot import BODY_CAP, load_snapshot, read_snapshot_meta, read_snapshot_rows


def cli(*argv: object) -> int:
    """`consentcrawl ...` in-process, through the real entry point."""
    return top.main([str(a) for a in argv])


# --------------------------------------------------------------------------------------------
# Test servers
# --------------------------------------------------------------------------------------------

Action = Callable[[BaseHTTPRequestHandler], None]
STOP = threading.Event()  # set at teardown: ends every sleeping or streaming handler


class Site:
    """One HTTP server on 127.0.0.1 with its own routes; counts requests and concurrency."""

    def __init__(self, routes: dict[str, Action]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.active = 0
        self.max_active = 0
        self.sent = 0
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with site.lock:
                    site.requests.append((self.path, dict(self.headers.items())))
                    site.active += 1
                    site.max_active = max(site.max_active, site.active)
                try:
                    site.routes.get(self.path, not_found)(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: expected for oversized bodies
                finally:
                    with site.lock:
                        site.active -= 1

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def send(status: int, body: bytes = b"", headers: dict[str, str] | None = None, delay: float = 0.0) -> Action:
    def act(h: BaseHTTPRequestHandler) -> None:
        if delay:
            STOP.wait(delay)
        h.send_response(status)
        for k, v in (headers or {"Content-Type": "text/plain"}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return act


def moved(location: str, status: int = 301) -> Action:
    return send(status, b"<html>moved</html>", {"Location": location, "Content-Type": "text/html"})


def not_found(h: BaseHTTPRequestHandler) -> None:
    send(404, b"<html><h1>404 Not Found</h1></html>", {"Content-Type": "text/html"})(h)


def dribble(h: BaseHTTPRequestHandler) -> None:
    """Headers at once, then one byte every 50 ms (at most 10 s): only an overall deadline ends it."""
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", "200")
    h.end_headers()
    for _ in range(200):
        if STOP.wait(0.05):
            return
        h.wfile.write(b"#")
        h.wfile.flush()


def endless(site_ref: list[Site]) -> Action:
    """A body without end (bounded at 64 MiB): the fetcher must stop reading after 500 KiB."""

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Connection", "close")
        h.end_headers()
        chunk = (b"User-agent: *\nDisallow: /private/\n" * 2000)[:65536]
        for _ in range(1024):
            if STOP.is_set():
                return
            h.wfile.write(chunk)
            site_ref[0].sent += len(chunk)

    return act


@pytest.fixture(scope="module")
def bodies() -> dict[str, bytes]:
    tr = shared_path("robots_txt", "texting_robots_testdata")
    return {f.name.removesuffix(".robots.txt"): f.read_bytes() for f in sorted(tr.glob("*.robots.txt"))}


@pytest.fixture(scope="module")
def sites(bodies: dict[str, bytes]) -> Iterator[dict[str, Site]]:
    STOP.clear()
    s: dict[str, Site] = {}
    s["reddit"] = Site({"/robots.txt": send(200, bodies["reddit"])})
    s["twitter-gzip"] = Site({"/robots.txt": send(200, gzip.compress(bodies["twitter"], mtime=0),
                                                  {"Content-Type": "text/plain", "Content-Encoding": "gzip"})})
    s["chain-end"] = Site({"/robots.txt": send(200, bodies["ebay"])})
    s["chain-mid"] = Site({"/robots.txt": moved("/moved/robots.txt", 302),
                           "/moved/robots.txt": moved(f"{s['chain-end'].origin}/robots.txt", 307)})
    s["chain-start"] = Site({"/robots.txt": moved(f"{s['chain-mid'].origin}/robots.txt")})
    s["five"] = Site({"/robots.txt": moved("/r1"), **{f"/r{i}": moved(f"/r{i + 1}") for i in range(1, 5)},
                      "/r5": send(200, bodies["quora"])})
    s["six"] = Site({"/robots.txt": moved("/r1"), **{f"/r{i}": moved(f"/r{i + 1}") for i in range(1, 6)},
                     "/r6": send(200, bodies["quora"])})
    s["gone"] = Site({})  # every path 404 with an HTML page
    s["error"] = Site({"/robots.txt": send(500, b"<html>Internal Server Error</html>",
                                           {"Content-Type": "text/html"})})
    s["html"] = Site({"/robots.txt": send(200, b"<!DOCTYPE html><html><body>Welcome!</body></html>",
                                          {"Content-Type": "text/html"})})
    s["slow"] = Site({"/robots.txt": send(200, bodies["zillow"], delay=5.0)})
    s["dribble"] = Site({"/robots.txt": dribble})
    ref: list[Site] = []
    s["endless"] = Site({"/robots.txt": endless(ref)})
    ref.append(s["endless"])
    yield s
    STOP.set()
    for site in s.values():
        site.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def fetched(sites: dict[str, Site], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict], float]:
    """One CLI fetch of every site with --allow-private (as a test must: they are all on 127.0.0.1)."""
    d = tmp_path_factory.mktemp("fetch")
    hosts = d / "hosts.txt"
    dead = closed_port()
    hosts.write_text("# test sites\n" + "".join(f"{s.origin}\n" for s in sites.values())
                     + f"http://127.0.0.1:{dead}/some/page.html\n\nnot a host\n")
    out = d / "s.parquet"
    t0 = time.monotonic()
    assert cli("robots", "fetch", "--hosts", hosts, "--out", out, "--allow-private", "--timeout", "1",
               "--per-host", "32", "--concurrency", "32") == 0
    took = time.monotonic() - t0
    rows = {str(r["host"]): r for r in read_snapshot_rows(out)}
    by_name = {name: rows[site.origin] for name, site in sites.items()}
    by_name["dead"] = rows[f"http://127.0.0.1:{dead}"]
    return out, by_name, took


def test_fetch_stores_rfc_statuses(fetched: tuple[Path, dict[str, dict], float], bodies: dict[str, bytes],
                                   sites: dict[str, Site]) -> None:
    _, rows, took = fetched
    assert rows["reddit"]["http_status"] == 200 and rows["reddit"]["body"] == bodies["reddit"]
    assert rows["twitter-gzip"]["body"] == bodies["twitter"]  # content coding undone
    assert rows["gone"]["http_status"] == 404
    assert rows["error"]["http_status"] == 500
    assert rows["html"]["http_status"] == 200 and rows["html"]["body"].startswith(b"<!DOCTYPE html>")
    assert rows["dead"]["http_status"] == 0 and "connect-error" in str(rows["dead"]["source"])
    ua = sites["reddit"].requests[0][1]["User-Agent"]
    assert ua == USER_AGENT and ua.startswith("consentcrawl/") and "(+https://github.com/consentcrawl)" in ua
    assert took < 15


def test_fetch_follows_up_to_five_redirects(fetched: tuple[Path, dict[str, dict], float],
                                            bodies: dict[str, bytes], sites: dict[str, Site]) -> None:
    _, rows, _ = fetched
    chain = rows["chain-start"]
    assert chain["http_status"] == 200 and chain["body"] == bodies["ebay"]
    assert f"{sites['chain-mid'].origin}/moved/robots.txt" in str(chain["source"])
    assert rows["five"]["http_status"] == 200 and rows["five"]["body"] == bodies["quora"]
    six = rows["six"]
    assert six["http_status"] == 301 and six["body"] == b"" and "too-many-redirects" in str(six["source"])
    assert [p for p, _ in sites["six"].requests].count("/r6") == 0  # the sixth redirect was not followed


def test_fetch_timeouts_and_caps(fetched: tuple[Path, dict[str, dict], float], sites: dict[str, Site]) -> None:
    out, rows, _ = fetched
    for name in ("slow", "dribble"):
        assert rows[name]["http_status"] == 0 and "timeout" in str(rows[name]["source"]), name
    assert len(rows["endless"]["body"]) == BODY_CAP and rows["endless"]["http_status"] == 200
    assert sites["endless"].sent < 32 * 1024 * 1024  # reading stopped; the server gave up early
    meta = read_snapshot_meta(out)
    assert meta["notes"]["outcome:timeout"] == 2 and meta["notes"]["bodies-capped-at-500KiB"] == 1
    assert meta["rejected"] == {"invalid-host": 1}
    assert meta["fetch"]["allow_private"] is True
    snap = load_snapshot(str(out))
    assert len(snap) == len(sites) + 1


def test_private_addresses_are_refused_without_the_flag(sites: dict[str, Site], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    before = {name: len(s.requests) for name, s in sites.items()}
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"{sites['reddit'].origin}\n{sites['chain-start'].origin}\nlocalhost:{sites['reddit'].port}\n")
    out = tmp_path / "s.parquet"
    assert cli("robots", "fetch", "--hosts", hosts, "--out", out, "--timeout", "2", "-v") == 0
    rows = read_snapshot_rows(out)
    assert len(rows) == 3
    for r in rows:
        assert r["http_status"] == 0 and "refused-private" in str(r["source"]), r["source"]
    assert "127.0.0.1" in str(rows[0]["source"])
    assert {name: len(s.requests) for name, s in sites.items()} == before  # no request was sent
    assert "refused-private" in capsys.readouterr().out


class FakeResolver:
    """Answers from a table; never touches the network."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def test_every_resolved_address_is_checked() -> None:
    resolver = FakeResolver({"mixed.test": ["93.184.215.14", "10.1.2.3"],
                             "mapped.test": ["::ffff:127.0.0.1"],
                             "linklocal.test": ["169.254.169.254"]})
    report = BuildReport("t")
    rows = fetch_rows(["https://mixed.test", "https://mapped.test", "http://linklocal.test", "https://nx.test"],
                      FetchOptions(timeout=2), report, resolver=resolver)
    got = {r.host: r for r in rows}
    for host in ("https://mixed.test", "https://mapped.test", "http://linklocal.test"):
        assert got[host].http_status == 0 and "refused-private" in got[host].source
    assert "10.1.2.3" in got["https://mixed.test"].source
    assert got["https://nx.test"].http_status == 0 and "dns-error" in got["https://nx.test"].source
    assert report.notes == {"outcome:refused-private": 3, "outcome:dns-error": 1}


def test_redirect_to_a_private_address_is_refused(sites: dict[str, Site]) -> None:
    """A public host redirecting to 127.0.0.1 (SSRF through a redirect) is refused at that hop."""

    class OnePublicHost(Fetcher):
        async def _addresses(self, host: str, port: int) -> list[str]:
            if host == "public.test":  # stands for a public host; it is served by the 127.0.0.1 site
                return ["127.0.0.1"]
            return await super()._addresses(host, port)

    before = len(sites["reddit"].requests)
    redirector = sites["chain-start"]  # /robots.txt -> 301 -> http://127.0.0.1:<chain-mid>/robots.txt
    origin = f"http://public.test:{redirector.port}"
    results = asyncio.run(OnePublicHost(FetchOptions(timeout=2)).fetch_all([origin]))
    (res,) = results
    assert res.status == 0 and res.outcome == "refused-private" and "127.0.0.1" in res.detail
    assert redirector.requests[-1][1]["Host"] == f"public.test:{redirector.port}"  # the Host header kept
    assert res.chain == [f"{origin}/robots.txt", f"{sites['chain-mid'].origin}/robots.txt"]
    assert len(sites["reddit"].requests) == before


@pytest.mark.parametrize(("addr", "public"), [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True), ("93.184.215.14", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("255.255.255.255", False), ("::1", False), ("fe80::1%eth0", False), ("fc00::1", False),
    ("::ffff:10.0.0.1", False), ("2002:7f00:1::", False), ("not-an-ip", False),
])
def test_is_public_address(addr: str, public: bool) -> None:
    assert is_public_address(addr) is public


def test_concurrency_limits(bodies: dict[str, bytes]) -> None:
    """Per host name (all ports of 127.0.0.1 share one) and global limits hold under load."""
    ok = send(200, bodies["substack"])
    counter = {"active": 0, "max": 0}
    lock = threading.Lock()

    def counting(h: BaseHTTPRequestHandler) -> None:
        # Counted while the request waits, and released *before* the answer goes out: a client
        # that keeps its limit cannot have its next request here before the count drops.
        with lock:
            counter["active"] += 1
            counter["max"] = max(counter["max"], counter["active"])
        time.sleep(0.15)
        with lock:
            counter["active"] -= 1
        ok(h)

    sites = [Site({"/robots.txt": counting}) for _ in range(6)]
    try:
        origins = [s.origin for s in sites]
        for options, limit in ((FetchOptions(allow_private=True, per_host=1, concurrency=8, timeout=5), 1),
                               (FetchOptions(allow_private=True, per_host=8, concurrency=2, timeout=5), 2)):
            counter["max"] = 0
            rows = fetch_rows(origins, options, BuildReport("t"))
            assert all(r.http_status == 200 for r in rows)
            assert counter["max"] == limit
    finally:
        for s in sites:
            s.close()


def test_host_limits_forget_idle_hosts() -> None:
    async def run() -> None:
        limits = _HostLimits(1)
        async with limits.hold("a.example"):
            assert len(limits) == 1
        assert len(limits) == 0

    asyncio.run(run())


def test_origins_from_lines_and_inputs(tmp_path: Path) -> None:
    report = BuildReport("t")
    got = origins_from_lines(["# comment", "Example.COM", "https://example.com/x", "http://a.example:8080/p",
                              "", "not a host", "b.example  # trailing comment"], "hosts", report)
    assert got == ["http://a.example:8080", "https://b.example", "https://example.com"]
    assert report.rejected == {"invalid-host": 1}
    from conftest import ROOT

    sample = ROOT / "pipeline" / "sample" / "cc-main-2020-34-excerpt.warc.gz"
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("\n".join(json.dumps({"url": u, "text": "x"}) for u in
                               ["https://a.example/1", "https://a.example/2", "http://b.example:81/", "mailto:x@y"]))
    report = BuildReport("t")
    origins = origins_from_inputs([str(sample), str(jsonl)], report)
    assert {"https://a.example", "http://b.example:81"} <= set(origins)
    assert "http://003338.cn" in origins  # the first page of the real Common Crawl excerpt
    assert len(origins) == len(set(origins)) and origins == sorted(origins)
    assert report.rejected == {} and report.notes["non-http-urls-skipped"] == 1


def test_fetch_from_input(sites: dict[str, Site], tmp_path: Path, bodies: dict[str, bytes]) -> None:
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("\n".join(json.dumps({"url": f"{sites['reddit'].origin}/r/{i}", "text": "x"}) for i in range(5))
                     + "\n" + json.dumps({"url": f"{sites['gone'].origin}/a", "text": "y"}) + "\n")
    out = tmp_path / "s.parquet"
    assert cli("robots", "fetch", "--from-input", jsonl, "--out", out, "--allow-private") == 0
    rows = {r["host"]: r for r in read_snapshot_rows(out)}
    assert rows[sites["reddit"].origin]["body"] == bodies["reddit"]
    assert rows[sites["gone"].origin]["http_status"] == 404
    assert len(rows) == 2


def test_fetch_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("robots", "fetch", "--hosts", tmp_path / "none.txt", "--out", tmp_path / "s.parquet") == 2
    assert "hosts file not found" in capsys.readouterr().err
    (tmp_path / "h.txt").write_text("example.com\n")
    assert cli("robots", "fetch", "--hosts", tmp_path / "h.txt", "--out", tmp_path / "s.parquet",
               "--concurrency", "0") == 2
    assert cli("robots", "fetch", "--from-input", tmp_path / "x.unknown", "--out", tmp_path / "s.parquet") == 2


def _tls_site(tmp_path: Path, name: str, body: bytes) -> tuple[Site, ssl.SSLContext]:
    """An HTTPS site on 127.0.0.1 with a certificate for ``name``, and a client context trusting it."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(pem)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    site = Site({"/robots.txt": send(200, body)})
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    site.server.socket = server_ctx.wrap_socket(site.server.socket, server_side=True)
    client_ctx = ssl.create_default_context(cadata=pem.decode())
    return site, client_ctx


def test_https_goes_to_the_checked_address_and_verifies_the_host_name(tmp_path: Path,
                                                                     bodies: dict[str, bytes]) -> None:
    """The request is pinned to the resolved IP, but SNI and certificate checks use the host name."""
    site, ctx = _tls_site(tmp_path, "robots.test", bodies["aviation-safety.net"])
    try:
        resolver = FakeResolver({"robots.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        options = FetchOptions(allow_private=True, timeout=5, verify_tls=ctx)
        good, wrong = asyncio.run(Fetcher(options, resolver).fetch_all(
            [f"https://robots.test:{site.port}", f"https://other.test:{site.port}"]))
        assert good.status == 200 and good.body == bodies["aviation-safety.net"], good
        assert site.requests[0][1]["Host"] == f"robots.test:{site.port}"
        assert wrong.status == 0 and wrong.outcome == "tls-error", wrong  # certificate is not for other.test
    finally:
        site.close()


def test_fetch_from_dolma_input_reads_metadata_url(sites: dict[str, Site], tmp_path: Path, bodies: dict[str, bytes],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Dolma rows carry the URL at `metadata.url`: with the run's preset, the same hosts are fetched."""
    dolma = tmp_path / "dolma.jsonl"
    rows = [{"id": str(i), "text": "x", "metadata": {"url": f"{sites['reddit'].origin}/r/{i}"}} for i in range(3)]
    dolma.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "s.parquet"
    assert cli("robots", "fetch", "--from-input", dolma, "--tabular", "dolma", "--out", out, "--allow-private") == 0
    assert [r["host"] for r in read_snapshot_rows(out)] == [sites["reddit"].origin]
    assert cli("robots", "fetch", "--from-input", dolma, "--tabular", "nosuch", "--out", tmp_path / "t.parquet") == 2
    assert "--tabular" in capsys.readouterr().err
