"""Live robots.txt fetcher with RFC 9309 semantics and the safety rules of a public crawler.

For each origin it fetches ``/robots.txt`` and stores what the RFC needs to decide later:

* up to 5 redirects (section 2.3.1.2), each hop checked like the first; more, or a redirect that
  cannot be followed, keeps its 3xx status ("unavailable": allow);
* 4xx: the status is stored (section 2.3.1.3, "unavailable": allow all when decided);
* 5xx, and no answer at all (DNS failure, refused connection, TLS error, timeout): stored as the
  5xx status or as status 0 (section 2.3.1.4, "unreachable": disallow all when decided);
* at most 500 KiB of body (section 2.5): reading stops there, the connection is dropped.

Safety: every host name is resolved first and *every* address checked with `ipaddress`; a host
with a private, loopback, link-local, multicast or otherwise non-global address is refused
(recorded as status 0 with the reason, not fatal) unless ``allow_private``. The request then
goes to the checked address itself (TLS still verified against the host name), so a second DNS
answer cannot point it elsewhere (DNS rebinding). Connections are not reused between hosts.
Concurrency is bounded globally and per host name; each fetch has one overall deadline, so a
server that dribbles bytes cannot hold a slot for longer than ``timeout``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

from pipeline import __version__
from pipeline.host import is_ip
from pipeline.optout.build import RAW_LIMIT, BuildError, BuildReport, decode_content, host_origin
from pipeline.optout.snapshot import BODY_CAP, SnapshotRow, origin

USER_AGENT = f"consentcrawl/{__version__} (+https://github.com/consentcrawl)"
MAX_REDIRECTS = 5
NO_ANSWER = 0  # http_status stored when there was no HTTP answer: RFC 9309 "unreachable"

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class FetchOptions:
    allow_private: bool = False
    concurrency: int = 32  # fetches in flight overall
    per_host: int = 1  # fetches in flight per host name (both schemes, redirect targets included)
    timeout: float = 10.0  # seconds for one robots.txt, all hops, DNS and body included
    user_agent: str = USER_AGENT
    verify_tls: bool | ssl.SSLContext = True  # a context: trust its CAs only (tests, private PKI)


@dataclass
class FetchResult:
    """What happened for one origin; becomes one snapshot row."""

    origin: str
    fetched_at: str
    status: int
    body: bytes = b""
    outcome: str = "ok"  # ok | unavailable | server-error | redirect-unresolved | too-many-redirects |
    # refused-private | dns-error | timeout | connect-error | tls-error | http-error | undecodable-body |
    # fetch-error
    detail: str = ""
    chain: list[str] = field(default_factory=list)  # URLs requested, in order
    capped: bool = False

    def row(self, user_agent: str) -> SnapshotRow:
        """The snapshot row: the source says how it was fetched and, when not plainly, why."""
        agent = user_agent.split(" ", 1)[0]
        source = f"fetch {agent}: " + " -> ".join(self.chain or [self.origin + "/robots.txt"])
        if self.outcome != "ok":
            source += f" [{self.outcome}{': ' + self.detail if self.detail else ''}]"
        return SnapshotRow(self.origin, self.fetched_at, self.status, self.body, source)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def is_public_address(addr: str) -> bool:
    """True for a globally routable unicast address; False for private, loopback, link-local etc.

    IPv4-mapped and 6to4/Teredo IPv6 forms are judged by the IPv4 address they carry.
    """
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None and not is_public_address(str(inner)):
            return False
    return bool(ip.is_global) and not (ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local
                                       or ip.is_reserved or ip.is_unspecified)


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (TCP), in its order, deduplicated."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _HostLimits:
    """One semaphore per host name, dropped when no fetch uses it (millions of hosts, little memory)."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._sems: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        sem, users = self._sems.get(host) or (asyncio.Semaphore(self.per_host), 0)
        self._sems[host] = (sem, users + 1)
        try:
            await sem.acquire()
            try:
                yield
            finally:
                sem.release()
        finally:
            sem, users = self._sems[host]
            if users <= 1:
                del self._sems[host]
            else:
                self._sems[host] = (sem, users - 1)

    def __len__(self) -> int:
        return len(self._sems)


class _Answer(Exception):
    """Ends a fetch early with a stored result (refusal, DNS error, ...)."""

    def __init__(self, status: int, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.outcome, self.detail = status, outcome, detail


class Fetcher:
    """Fetch the robots.txt of many origins concurrently (see the module docstring for the rules)."""

    def __init__(self, options: FetchOptions | None = None, resolver: Resolver | None = None,
                 clock: Callable[[], str] = utc_now) -> None:
        self.options = options or FetchOptions()
        self.resolve = resolver or system_resolve
        self.clock = clock

    async def fetch_all(self, origins: Sequence[str],
                        on_result: Callable[[FetchResult], None] | None = None) -> list[FetchResult]:
        """Fetch every origin with at most ``concurrency`` in flight; results in input order."""
        import httpx

        opts = self.options
        timeout = httpx.Timeout(opts.timeout)
        limits = httpx.Limits(max_connections=max(1, opts.concurrency), max_keepalive_connections=0)
        results: list[FetchResult | None] = [None] * len(origins)
        hosts = _HostLimits(max(1, opts.per_host))
        # getaddrinfo runs in the default executor: give it one thread per fetch in flight, else
        # lookups queue behind a handful of threads and eat the fetches' time budgets.
        asyncio.get_running_loop().set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.concurrency), thread_name_prefix="dns"))
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(origins)):
            queue.put_nowait(i)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, verify=opts.verify_tls, trust_env=False,
                                     follow_redirects=False) as client:

            async def worker() -> None:
                while True:
                    try:
                        i = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    res = await self.fetch_one(client, origins[i], hosts)
                    results[i] = res
                    if on_result is not None:
                        on_result(res)

            n = max(1, min(opts.concurrency, len(origins)))
            await asyncio.gather(*(worker() for _ in range(n)))
        return [r for r in results if r is not None]

    async def fetch_one(self, client: object, origin_: str, hosts: _HostLimits) -> FetchResult:
        """One origin's robots.txt; never raises for network trouble, every outcome is a result.

        ``timeout`` bounds the time spent on the network (DNS, connect, headers, body, every hop),
        not the wait for a free per-host slot, so hosts behind one busy server are not failed.
        """
        chain: list[str] = []
        detail = ""
        try:
            status, body, capped, outcome = await self._follow(client, origin_ + "/robots.txt", chain, hosts)
        except asyncio.TimeoutError:
            status, body, capped, outcome, detail = NO_ANSWER, b"", False, "timeout", f"{self.options.timeout:g}s"
        except _Answer as ans:
            status, body, capped, outcome, detail = ans.status, b"", False, ans.outcome, ans.detail
        except Exception as exc:  # e.g. a URL httpx cannot send: one host's problem, never the run's
            status, body, capped, outcome, detail = NO_ANSWER, b"", False, "fetch-error", f"{type(exc).__name__}: {exc}"
            detail = detail[:200]
        return FetchResult(origin_, self.clock(), status, body, outcome, detail, chain, capped)

    async def _follow(self, client: object, url: str, chain: list[str],
                      hosts: _HostLimits) -> tuple[int, bytes, bool, str]:
        budget = self.options.timeout
        for hop in range(MAX_REDIRECTS + 1):
            chain.append(url)
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme == "https" else 80)
            t0 = time.monotonic()
            addrs = await asyncio.wait_for(self._addresses(host, port), max(budget, 0.001))
            budget -= time.monotonic() - t0
            async with hosts.hold(host):
                t0 = time.monotonic()
                status, location, body, capped = await asyncio.wait_for(self._get(client, url, addrs),
                                                                        max(budget, 0.001))
                budget -= time.monotonic() - t0
            if 300 <= status < 400:
                if not location:
                    return status, b"", False, "redirect-unresolved"
                nxt = urljoin(url, location)
                if urlsplit(nxt).scheme.lower() not in ("http", "https") or not urlsplit(nxt).hostname:
                    raise _Answer(status, "redirect-unresolved", f"not an http(s) URL: {nxt[:200]}")
                if hop == MAX_REDIRECTS:
                    raise _Answer(status, "too-many-redirects", f"more than {MAX_REDIRECTS}")
                url = nxt
                continue
            if 400 <= status < 500:
                return status, body, capped, "unavailable"
            if status >= 500:
                return status, body, capped, "server-error"
            return status, body, capped, "ok"
        raise AssertionError("unreachable")  # pragma: no cover

    async def _addresses(self, host: str, port: int) -> list[str]:
        """Resolve and check every address; refuse the host if any is not public."""
        if not host:
            raise _Answer(NO_ANSWER, "dns-error", "no host name")
        try:
            addrs = await self.resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise _Answer(NO_ANSWER, "dns-error", f"{host}: {exc}") from None
        if not addrs:
            raise _Answer(NO_ANSWER, "dns-error", f"{host}: no address")
        if not self.options.allow_private:
            bad = [a for a in addrs if not is_public_address(a)]
            if bad:
                raise _Answer(NO_ANSWER, "refused-private",
                              f"{host} resolves to non-public address {', '.join(bad[:3])}")
        return addrs

    async def _get(self, client: object, url: str, addrs: list[str]) -> tuple[int, str, bytes, bool]:
        """GET ``url`` at one of the checked addresses: (status, Location, body, capped)."""
        import httpx

        parts = urlsplit(url)
        host = parts.hostname or ""
        literal_ip = is_ip(host)
        last: Exception | None = None
        for addr in addrs[:4]:
            ip = addr.split("%", 1)[0]
            netloc = f"[{ip}]" if ":" in ip else ip
            if parts.port:
                netloc += f":{parts.port}"
            pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
            host_header = parts.netloc.rsplit("@", 1)[-1]
            headers = {"Host": host_header, "User-Agent": self.options.user_agent,
                       "Accept": "text/plain, */*;q=0.5", "Accept-Encoding": "gzip, deflate"}
            ext = {"sni_hostname": host} if parts.scheme == "https" and not literal_ip else {}
            request = client.build_request("GET", pinned, headers=headers, extensions=ext)  # type: ignore[attr-defined]
            try:
                response = await client.send(request, stream=True)  # type: ignore[attr-defined]
            except httpx.ConnectError as exc:
                last = exc
                continue  # try the next address
            except httpx.TimeoutException as exc:
                raise _Answer(NO_ANSWER, "timeout", f"{type(exc).__name__}") from None
            except httpx.HTTPError as exc:
                raise _Answer(NO_ANSWER, "http-error", f"{type(exc).__name__}: {exc}"[:200]) from None
            try:
                return await _read(response)
            except httpx.TimeoutException as exc:
                raise _Answer(NO_ANSWER, "timeout", f"{type(exc).__name__} while reading") from None
            except httpx.HTTPError as exc:
                raise _Answer(NO_ANSWER, "http-error", f"{type(exc).__name__}: {exc}"[:200]) from None
            finally:
                await response.aclose()
        text = f"{type(last).__name__}: {last}"[:200] if last else "no address"
        kind = "tls-error" if last is not None and "SSL" in str(last).upper() else "connect-error"
        raise _Answer(NO_ANSWER, kind, text)


async def _read(response: object) -> tuple[int, str, bytes, bool]:
    """Status, Location and at most BODY_CAP decoded bytes; stops reading beyond the cap."""
    status = int(response.status_code)  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    location = (headers.get("location") or "").strip()
    if 300 <= status < 400:
        return status, location, b"", False
    encoding = headers.get("content-encoding")
    limit = BODY_CAP + 1 if not encoding or encoding.strip().lower() == "identity" else RAW_LIMIT
    raw = bytearray()
    capped = False
    async for chunk in response.aiter_raw():  # type: ignore[attr-defined]
        raw += chunk
        if len(raw) >= limit:
            capped = True
            break
    data = bytes(raw[:limit])  # aiter_raw: transfer coding (chunked) undone, content coding not
    try:
        body = decode_content(data, encoding, BODY_CAP + 1)
    except ValueError as exc:
        raise _Answer(NO_ANSWER, "undecodable-body", str(exc)[:200]) from None
    if len(body) > BODY_CAP:
        capped = True
    return status, location, body[:BODY_CAP], capped


# --------------------------------------------------------------------------------------------
# Which origins to fetch
# --------------------------------------------------------------------------------------------


def origins_from_lines(lines: Iterable[str], where: str, report: BuildReport) -> list[str]:
    """Distinct origins from host/domain/URL lines ('#' comments and blank lines skipped)."""
    out: dict[str, None] = {}
    for n, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not text:
            continue
        report.rows_in += 1
        o = host_origin(text)
        if o is None:
            report.reject("invalid-host", f"{where}:{n}", text[:80])
            continue
        out[o] = None
    return sorted(out)


def origins_from_inputs(uris: Sequence[str], report: BuildReport, tabular: str | None = None) -> list[str]:
    """Distinct origins of the documents in WARC/Parquet/JSONL inputs (only their URLs are read).

    `tabular` is a run config's preset name (`dolma`: the URL is `metadata.url`), so a snapshot is
    fetched for the same URLs the run will decide.
    """
    from pipeline.ingest import UnsupportedInput, open_reader
    from pipeline.ingest.mapping import MappingError, mapping_from_config

    try:
        mapping = mapping_from_config(tabular)
    except MappingError as exc:
        raise BuildError(str(exc).replace("config key 'tabular.preset'", "--tabular")) from None

    out: dict[str, None] = {}
    for uri in uris:
        name = report.add_input(uri)
        try:
            # A 0-byte payload limit: the reader keeps each record's URL and skips its body.
            docs = open_reader(uri, max_payload_bytes=0, mapping=mapping)
            for doc in docs:
                report.rows_in += 1
                if not doc.url:
                    continue
                if urlsplit(doc.url).scheme.lower() not in ("http", "https"):
                    report.note("non-http-urls-skipped")  # dns:, mailto:, ... records
                    continue
                o = host_origin(doc.url)
                if o is None:
                    report.reject("invalid-url", name, doc.url[:120])
                    continue
                out[o] = None
        except UnsupportedInput as exc:
            raise BuildError(str(exc)) from exc
        except FileNotFoundError as exc:
            raise BuildError(f"input not found: {uri}") from exc
    return sorted(out)


def fetch_rows(origins: Sequence[str], options: FetchOptions, report: BuildReport,
               resolver: Resolver | None = None,
               on_result: Callable[[FetchResult], None] | None = None) -> list[SnapshotRow]:
    """Fetch every origin's robots.txt; the report counts outcomes (refusals are notes, not errors)."""
    fetcher = Fetcher(options, resolver)
    results = asyncio.run(fetcher.fetch_all([origin(o) for o in origins], on_result))
    rows = []
    for res in results:
        report.note(f"outcome:{res.outcome}")
        if res.capped:
            report.note("bodies-capped-at-500KiB")
        if len(res.chain) > 1:
            report.note("redirects-followed")
        rows.append(res.row(options.user_agent))
    return rows
