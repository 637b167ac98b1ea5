"""http(s) inputs read as one resumable stream, and Common Crawl path listings, against real loopback servers.

Servers: Python's SimpleHTTPRequestHandler (no Range support), and a scripted handler that can cut
a response after K bytes (FIN or RST), answer Range requests or not, fail with 500 first, or serve a
different version of the file on a later request. Files are the bundled real sample shards.
"""

from __future__ import annotations

import functools
import gzip
import io
import pickle
import re
import shutil
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ROOT
from fastwarc.warc import ArchiveIterator

from pipeline.ingest.listing import DEFAULT_INPUT_PREFIX, ListingError, expand_listing, is_listing
from pipeline.ingest.remote import RemoteFileChanged, RemoteInputError, open_stream

SAMPLE = ROOT / "pipeline" / "sample"
WARC = SAMPLE / "sample-00000.warc.gz"
WET = SAMPLE / "cc-main-2024-22-whirlwind.warc.wet.gz"
FAST = 0.01  # back-off in tests: real pauses, short


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Script:
    """What the scripted server does for one path, request by request (the last entry repeats)."""

    versions: list[tuple[bytes, str | None, str]]  # (body, ETag or None, Last-Modified)
    cuts: list[int | None] = field(default_factory=list)  # bytes sent before cutting, per request
    fail_first: int = 0  # answer 500 to this many requests first
    status: int | None = None  # answer this status always (e.g. 404)


class _Scripted(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - existence checks at config time; not counted
        script: Script | None = self.server.scripts.get(self.path)  # type: ignore[attr-defined]
        self.send_response(404 if script is None or script.status else 200)
        self.send_header("Content-Length", str(len(script.versions[0][0])) if script and not script.status else "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        srv = self.server
        script: Script | None = srv.scripts.get(self.path)  # type: ignore[attr-defined]
        rng = self.headers.get("Range")
        with srv.lock:  # type: ignore[attr-defined]
            n = srv.counts.get(self.path, 0)  # type: ignore[attr-defined]
            srv.counts[self.path] = n + 1  # type: ignore[attr-defined]
            srv.log.append((self.path, rng))  # type: ignore[attr-defined]
        if script is None or script.status or n < script.fail_first:
            code = script.status if script and script.status else 404 if script is None else 500
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, etag, modified = script.versions[min(n, len(script.versions) - 1)]
        start, code = 0, 200
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if srv.ranges and m:  # type: ignore[attr-defined]
            start, code = int(m.group(1)), 206
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(code)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Last-Modified", modified)
        if etag:
            self.send_header("ETag", etag)
        if srv.ranges:  # type: ignore[attr-defined]
            self.send_header("Accept-Ranges", "bytes")
        if code == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        cut = script.cuts[min(n, len(script.cuts) - 1)] if script.cuts else None
        data = body[start:]
        if cut is None:
            self.wfile.write(data)
            return
        self.wfile.write(data[:cut])
        self.wfile.flush()
        if srv.cut_mode == "reset":  # type: ignore[attr-defined]
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # RST
        else:
            self.connection.shutdown(socket.SHUT_RDWR)  # FIN before Content-Length bytes
        self.close_connection = True


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ranges: bool, cut_mode: str = "close") -> None:
        super().__init__(("127.0.0.1", 0), _Scripted)
        self.ranges, self.cut_mode = ranges, cut_mode
        self.scripts: dict[str, Script] = {}
        self.counts: dict[str, int] = {}
        self.log: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the cuts are on purpose: no tracebacks on stderr

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _serve(httpd: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[str]:
    """http.server over a copy of the sample folder: no Range support, Last-Modified, no ETag."""
    root = tmp_path / "www"
    root.mkdir()
    for f in (WARC, WET):
        shutil.copy(f, root / f.name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    for srv in _serve(httpd):
        yield f"http://127.0.0.1:{srv.server_address[1]}"


@pytest.fixture(params=[True, False], ids=["ranges", "no-ranges"])
def scripted(request: pytest.FixtureRequest) -> Iterator[ScriptedServer]:
    yield from _serve(ScriptedServer(ranges=request.param))  # type: ignore[misc]


def _read_all(stream: io.RawIOBase, size: int = 50_000) -> bytes:
    out = bytearray()
    while chunk := stream.read(size):
        out += chunk
    return bytes(out)


LM = "Wed, 01 May 2024 00:00:00 GMT"


# --- (a) no Range support, no fault ---------------------------------------------------------------

def test_server_without_range_support_streams_every_byte(plain: str) -> None:
    calls: list[dict] = []
    with open_stream(f"{plain}/{WARC.name}", on_retry=calls.append) as fh:
        assert fh.readable() and not fh.seekable() and fh.tell() == 0
        assert fh.size == WARC.stat().st_size
        head = fh.read(10)
        buf = bytearray(12345)
        n = fh.readinto(buf)
        rest = fh.read()
        assert fh.tell() == WARC.stat().st_size and fh.read(1) == b""
    assert fh.closed
    assert head + bytes(buf[:n]) + rest == WARC.read_bytes() and n == 12345
    assert calls == []


# --- (b)/(c) a connection cut mid-file ------------------------------------------------------------

def test_cut_connection_resumes_at_the_byte_it_stopped(scripted: ScriptedServer) -> None:
    body = WARC.read_bytes()
    k = 1_000_003
    scripted.scripts["/f.warc.gz"] = Script([(body, '"v1"', LM)], cuts=[k, None])
    calls: list[dict] = []
    with open_stream(f"{scripted.url}/f.warc.gz", backoff=FAST, on_retry=calls.append) as fh:
        got = _read_all(fh)
        assert fh.retries == 1
    assert got == body
    assert len(calls) == 1 and calls[0]["offset"] == k and calls[0]["attempt"] == 1
    assert calls[0]["uri"] == f"{scripted.url}/f.warc.gz" and calls[0]["error"]
    # ranges: resumed with Range at byte K (206); no ranges: asked once, got 200, skipped K bytes
    assert scripted.log == [("/f.warc.gz", None), ("/f.warc.gz", f"bytes={k}-")]


def test_reset_connections_resume_until_the_end(scripted: ScriptedServer) -> None:
    """RST instead of FIN, three times: the client may lose unread bytes, never a wrong byte."""
    scripted.cut_mode = "reset"  # type: ignore[attr-defined]
    body = WARC.read_bytes()
    scripted.scripts["/f.warc.gz"] = Script([(body, '"v1"', LM)], cuts=[300_000, 200_000, 100_000, None])
    calls: list[dict] = []
    with open_stream(f"{scripted.url}/f.warc.gz", backoff=FAST, on_retry=calls.append) as fh:
        assert _read_all(fh) == body
    assert [c["attempt"] for c in calls] == [1, 2, 3]
    offsets = [c["offset"] for c in calls]
    assert offsets == sorted(offsets) and 0 < offsets[0] <= 300_000
    sent = [r for _, r in scripted.log]
    if scripted.ranges:  # type: ignore[attr-defined]
        assert sent == [None] + [f"bytes={o}-" for o in offsets]
    else:  # asked for a range once, got 200: never asks again
        assert sent == [None, f"bytes={offsets[0]}-", None, None]


def test_retries_are_bounded(scripted: ScriptedServer) -> None:
    body = WARC.read_bytes()
    scripted.scripts["/f.warc.gz"] = Script([(body, '"v1"', LM)], cuts=[1000])  # every response is cut
    calls: list[dict] = []
    with open_stream(f"{scripted.url}/f.warc.gz", retries=3, backoff=FAST, on_retry=calls.append) as fh:
        with pytest.raises(RemoteInputError, match="gave up after 3 retries"):
            _read_all(fh)
    assert len(calls) == 3 and len(scripted.log) == 4


def test_5xx_first_then_ok(scripted: ScriptedServer) -> None:
    body = WET.read_bytes()
    scripted.scripts["/f.wet.gz"] = Script([(body, None, LM)], fail_first=2)
    calls: list[dict] = []
    with open_stream(f"{scripted.url}/f.wet.gz", backoff=FAST, on_retry=calls.append) as fh:
        assert fh.read() == body
    assert [(c["offset"], c["attempt"]) for c in calls] == [(0, 1), (0, 2)]
    assert "HTTP 500" in calls[0]["error"]


# --- (d) the file changes between two connections -------------------------------------------------

@pytest.mark.parametrize("change", ["etag", "last-modified", "length"])
def test_changed_file_is_an_error_never_a_splice(scripted: ScriptedServer, change: str) -> None:
    a = WARC.read_bytes()
    b = bytes(a[:500_000]) + b"X" * 10 + a[500_010:]  # same length, different bytes after the cut
    second = {"etag": (b, '"v2"', LM), "last-modified": (b, '"v1"', "Thu, 02 May 2024 00:00:00 GMT"),
              "length": (b + b"more", '"v1"', LM)}[change]
    scripted.scripts["/f.warc.gz"] = Script([(a, '"v1"', LM), second], cuts=[400_000, None])
    fh = open_stream(f"{scripted.url}/f.warc.gz", backoff=FAST)
    got = bytearray()
    with pytest.raises(RemoteFileChanged, match="changed") as info:
        while chunk := fh.read(65536):
            got += chunk
    with pytest.raises(RemoteFileChanged):  # sticky: a caller that swallowed it meets it again
        fh.read(1)
    fh.close()
    assert len(got) <= 400_000 and bytes(got) == a[: len(got)]
    assert "\n" not in str(info.value) and "/f.warc.gz" in str(info.value)
    assert len(scripted.log) == 2


# --- (e) errors -----------------------------------------------------------------------------------

def test_404_is_a_one_line_picklable_error(plain: str) -> None:
    with pytest.raises(RemoteInputError) as info:
        open_stream(f"{plain}/missing.warc.gz", backoff=FAST)
    msg = str(info.value)
    assert "\n" not in msg and "404" in msg and "missing.warc.gz" in msg
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is RemoteInputError and str(again) == msg
    assert not isinstance(info.value, (OSError, ValueError))  # fails the shard, not a "damaged bytes" row


def test_403_is_not_retried(scripted: ScriptedServer) -> None:
    scripted.scripts["/f.warc.gz"] = Script([(b"", None, LM)], status=403)
    calls: list[dict] = []
    with pytest.raises(RemoteInputError, match="HTTP 403"):
        open_stream(f"{scripted.url}/f.warc.gz", backoff=FAST, on_retry=calls.append)
    assert calls == [] and len(scripted.log) == 1


def test_500_forever_and_refused_connection_give_up(scripted: ScriptedServer) -> None:
    scripted.scripts["/f.warc.gz"] = Script([(b"x", None, LM)], status=500)
    with pytest.raises(RemoteInputError, match=r"gave up after 2 retries.*HTTP 500") as info:
        open_stream(f"{scripted.url}/f.warc.gz", retries=2, backoff=FAST)
    assert "\n" not in str(info.value) and len(scripted.log) == 3
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RemoteInputError, match="gave up after 1 retries"):
        open_stream(f"http://127.0.0.1:{port}/x.warc.gz", retries=1, backoff=FAST)
    with pytest.raises(RemoteInputError, match="http"):
        open_stream("s3://bucket/x.warc.gz")


# --- (f) fastwarc over a resumed stream -----------------------------------------------------------

def _records(fh: object) -> list[tuple[str, str, str]]:
    out = []
    for rec in ArchiveIterator(fh, parse_http=False):
        h = rec.headers
        out.append((str(rec.record_type), h.get("WARC-Target-URI") or "",
                    h.get("WARC-Payload-Digest") or h.get("WARC-Block-Digest") or ""))
        if rec.reader is not None:
            rec.reader.consume()
    return out


@pytest.mark.parametrize("path", [WARC, WET], ids=["warc", "wet"])
def test_fastwarc_records_over_a_cut_stream_equal_the_local_file(scripted: ScriptedServer, path: Path) -> None:
    body = path.read_bytes()
    cut = len(body) // 2 + 7  # inside a record
    scripted.scripts["/" + path.name] = Script([(body, '"v1"', LM)], cuts=[cut, None])
    with open(path, "rb") as local:
        expected = _records(local)
    calls: list[dict] = []
    with open_stream(f"{scripted.url}/{path.name}", backoff=FAST, on_retry=calls.append) as fh:
        got = _records(fh)
    assert got == expected and len(got) >= 2
    assert all(u for t, u, _ in got if t.lower().endswith(("response", "conversion")))
    assert [c["offset"] for c in calls] == [cut]


def test_fastwarc_raises_the_change_instead_of_reading_it(scripted: ScriptedServer) -> None:
    """fastwarc lets Python exceptions from read() through: a changed file fails, it is not "truncated"."""
    a = WARC.read_bytes()
    scripted.scripts["/f.warc.gz"] = Script([(a, '"v1"', LM), (a, '"v2"', LM)], cuts=[600_000, None])
    with open_stream(f"{scripted.url}/f.warc.gz", backoff=FAST) as fh, pytest.raises(RemoteFileChanged):
        _records(fh)


# --- (g) listings ---------------------------------------------------------------------------------

CRAWL = "crawl-data/CC-MAIN-2024-22/segments/1715971057216.39"


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A folder laid out like data.commoncrawl.org, with a real warc.paths.gz and a plain wet.paths."""
    root = tmp_path / "mirror"
    warc_rel = [f"{CRAWL}/warc/{n}" for n in ("sample-00000.warc.gz", "cc-main-2020-34-excerpt.warc.gz")]
    wet_rel = [f"{CRAWL}/wet/{WET.name}"]
    for rel in warc_rel + wet_rel:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / Path(rel).name, root / rel)
    listing = root / "crawl-data" / "CC-MAIN-2024-22" / "warc.paths.gz"
    listing.write_bytes(gzip.compress(("\n".join(warc_rel) + "\n\n").encode()))  # blank trailing lines
    (root / "crawl-data" / "CC-MAIN-2024-22" / "wet.paths").write_text("\r\n".join(wet_rel) + "\r\n")
    return root


def test_is_listing_by_name() -> None:
    assert is_listing("crawl-data/CC-MAIN-2024-22/warc.paths.gz")
    assert is_listing("https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-22/wet.paths.gz?x=1")
    assert is_listing("/tmp/WET.PATHS")
    assert not is_listing("x.warc.gz") and not is_listing("paths.txt") and not is_listing("x.paths.gz.warc.gz")
    assert DEFAULT_INPUT_PREFIX == "https://data.commoncrawl.org/"


def test_listing_served_over_http_expands_to_urls_that_stream(mirror: Path) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(mirror)))
    for srv in _serve(httpd):
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        inputs = expand_listing(f"{url}/crawl-data/CC-MAIN-2024-22/warc.paths.gz", prefix=url + "/")
        assert inputs == [f"{url}/{CRAWL}/warc/sample-00000.warc.gz",
                          f"{url}/{CRAWL}/warc/cc-main-2020-34-excerpt.warc.gz"]  # listing order, not sorted
        assert expand_listing(f"{url}/crawl-data/CC-MAIN-2024-22/wet.paths", prefix=url) == [
            f"{url}/{CRAWL}/wet/{WET.name}"]
        for uri in inputs:
            with open_stream(uri) as fh:
                assert fh.read() == (SAMPLE / uri.rsplit("/", 1)[1]).read_bytes()
        # the default prefix is Common Crawl's (nothing is fetched from it here)
        assert expand_listing(f"{url}/crawl-data/CC-MAIN-2024-22/warc.paths.gz")[0] == (
            f"https://data.commoncrawl.org/{CRAWL}/warc/sample-00000.warc.gz")


def test_listing_with_a_local_mirror_prefix(mirror: Path) -> None:
    listing = mirror / "crawl-data" / "CC-MAIN-2024-22" / "warc.paths.gz"
    inputs = expand_listing(str(listing), prefix=str(mirror))
    assert inputs == [str(mirror / CRAWL / "warc" / "sample-00000.warc.gz"),
                      str(mirror / CRAWL / "warc" / "cc-main-2020-34-excerpt.warc.gz")]
    assert all(Path(p).read_bytes() == (SAMPLE / Path(p).name).read_bytes() for p in inputs)
    assert expand_listing("file://" + str(listing), prefix=str(mirror) + "/") == inputs


def test_listing_lines_that_are_urls_stay(tmp_path: Path) -> None:
    listing = tmp_path / "mixed.paths"
    listing.write_text("https://mirror.example/a.warc.gz\ncrawl-data/b.warc.wet.gz\n")
    assert expand_listing(str(listing), prefix="s3://commoncrawl/") == [
        "https://mirror.example/a.warc.gz", "s3://commoncrawl/crawl-data/b.warc.wet.gz"]
    import fsspec  # any other fsspec scheme goes through fsspec (memory:// stands in for s3:// here)

    with fsspec.open("memory://listings/warc.paths.gz", "wb") as fh:
        fh.write(gzip.compress(listing.read_bytes()))
    assert expand_listing("memory://listings/warc.paths.gz", prefix="s3://commoncrawl") == [
        "https://mirror.example/a.warc.gz", "s3://commoncrawl/crawl-data/b.warc.wet.gz"]


@pytest.mark.parametrize(("lines", "lineno", "what"), [
    (["crawl-data/a.warc.gz", "", "crawl-data/CC-MAIN-2024-22/wat/x.warc.wat.gz"], 3, "not a WARC/WET"),
    (["crawl-data/a.warc.gz", "crawl-data/../../etc/b.warc.gz"], 2, "'..'"),
    (["cc-index/collections/CC-MAIN-2024-22/indexes/cdx-00000.gz"], 1, "not a WARC/WET"),
])
def test_bad_listing_line_names_its_number(tmp_path: Path, lines: list[str], lineno: int, what: str) -> None:
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress("\n".join(lines).encode()))
    with pytest.raises(ListingError, match=f"line {lineno}: .*{re.escape(what)}") as info:
        expand_listing(str(listing), prefix=str(tmp_path))
    assert "\n" not in str(info.value)


def test_unreadable_listings(tmp_path: Path, plain: str) -> None:
    with pytest.raises(ListingError, match="not found"):
        expand_listing(str(tmp_path / "none.paths.gz"))
    with pytest.raises(ListingError, match="404"):
        expand_listing(f"{plain}/none.paths.gz")
    cut = tmp_path / "cut.paths.gz"
    cut.write_bytes(gzip.compress(b"crawl-data/a.warc.gz\n" * 1000)[:-30])
    with pytest.raises(ListingError, match="unreadable"):
        expand_listing(str(cut))
    empty = tmp_path / "empty.paths"
    empty.write_text("\n\n")
    with pytest.raises(ListingError, match="names no file"):
        expand_listing(str(empty))


# --- the whole pipeline over a crawl listing and a connection that drops ----------------------------


def test_listing_run_over_a_dropping_server_equals_the_local_run(scripted: ScriptedServer, tmp_path: Path) -> None:
    """A `warc.paths.gz` with `input_prefix` at a server that cuts the first GET mid-file (with and
    without Range): the dataset equals a run on the local file, and the reconnection is in the run log."""
    import json

    import pyarrow.parquet as pq

    from pipeline.config import load_config
    from pipeline.runner import run_pipeline

    body = WARC.read_bytes()
    rel = "crawl-data/CC-TEST/segments/1/warc/CC-TEST-00000.warc.gz"
    scripted.scripts["/" + rel] = Script(versions=[(body, '"v1"', LM)], cuts=[len(body) // 3, None])
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress((rel + "\n").encode()))
    snapshot = WARC.parent / "robots-snapshot.parquet"
    remote_cfg = tmp_path / "remote.yaml"
    remote_cfg.write_text(f"inputs: ['{listing}']\ninput_prefix: {scripted.url}/\noutput: {tmp_path / 'r'}\n"
                          f"robots_snapshot: {snapshot}\nworkers: 1\n")
    local_cfg = tmp_path / "local.yaml"
    local_cfg.write_text(f"inputs: ['{WARC}']\noutput: {tmp_path / 'l'}\nrobots_snapshot: {snapshot}\nworkers: 1\n")
    remote = run_pipeline(load_config(remote_cfg))
    local = run_pipeline(load_config(local_cfg))
    assert not remote.failed and remote.manifest["inputs"][0]["uri"] == f"{scripted.url}/{rel}"
    a = pq.read_table(tmp_path / "r" / "data" / "part-00000.parquet").drop(["id", "source_uri"])
    b = pq.read_table(tmp_path / "l" / "data" / "part-00000.parquet").drop(["id", "source_uri"])
    assert a.equals(b) and a.num_rows > 0
    assert remote.manifest["counts"]["kept"] == local.manifest["counts"]["kept"]
    log = [json.loads(x) for x in (tmp_path / "r" / "run-log.jsonl").read_text().splitlines()]
    retries = [e for e in log if e["event"] == "input-retry"]
    assert len(retries) == 1 and retries[0]["offset"] == len(body) // 3
    ranges = [r for p, r in scripted.log if p == "/" + rel]
    assert ranges == [None, f"bytes={len(body) // 3}-"]  # asked either way; a server without Range sends it all
