"""What a site owner names: a URL, a host or a registrable domain, parsed and validated.

Shared by `lookup` and by removal requests in `revoke`, so both match the same documents.
URLs match ignoring the scheme, the default port and the fragment (a request for
https://x.org/a also covers http://x.org/a); a domain covers every host under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from pipeline.host import is_ip, netloc_host, registrable_domain, url_host

KINDS = ("url", "host", "domain")
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # url | host | domain
    text: str  # as given
    host: str  # host of a URL, the host, or the domain itself
    domain: str  # registrable domain (eTLD+1)
    url_key: str = ""  # for kind == "url"

    def describe(self) -> str:
        return {"url": "page", "host": "host", "domain": "domain (all its hosts)"}[self.kind]

    def host_predicate(self, domain_column: bool = False) -> pl.Expr:
        """Parquet predicate on `host`, led by a `domain` column when the files have one.

        Equality on `domain` lets row-group min/max statistics prune files sorted by domain; a
        suffix test on `host` cannot be pruned, so domain lookups scan the host column.
        """
        if self.kind == "domain":
            if domain_column:
                return pl.col("domain") == self.domain
            return (pl.col("host") == self.host) | pl.col("host").str.ends_with("." + self.host)
        if domain_column:
            return (pl.col("domain") == self.domain) & (pl.col("host") == self.host)
        return pl.col("host") == self.host

    def host_filter(self, domain_column: bool = False) -> Any:
        """`host_predicate` as a pyarrow expression: lets pyarrow skip row groups of remote files.

        Only a pre-filter: the polars predicate is applied to what it returns, so both agree.
        """
        import pyarrow.compute as pc

        host = pc.field("host")
        if self.kind == "domain":
            if domain_column:
                return pc.field("domain") == self.domain
            return (host == self.host) | pc.ends_with(host, "." + self.host)
        if domain_column:
            return (pc.field("domain") == self.domain) & (host == self.host)
        return host == self.host

    def matches_host(self, host: str) -> bool:
        if self.kind == "domain":
            return host == self.host or host.endswith("." + self.host)
        return host == self.host


def _valid_host(host: str) -> bool:
    if is_ip(host):
        return True
    return bool(_HOSTNAME.match(host)) and not host.replace(".", "").isdigit()


def url_key(url: str) -> str:
    """host[:port]/path[?query], lower-case host, no scheme, default port and fragment dropped."""
    parts = urlsplit(url.strip())
    host = url_host(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = netloc_host(host) if port in (None, 80, 443) else f"{netloc_host(host)}:{port}"
    return netloc + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def parse_target(text: str, kind: str = "auto") -> Target:
    """Classify and validate; ValueError says what is wrong. `kind` forces url/host/domain."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty")
    if any(ch.isspace() for ch in raw):
        raise ValueError("contains whitespace")
    prefix, sep, rest = raw.partition(":")
    if sep and prefix.lower() in KINDS and not rest.startswith("//"):
        kind, raw = prefix.lower(), rest  # explicit "host:example.org", "domain:example.org", "url:..."
    looks_like_url = "://" in raw or "/" in raw
    if kind == "url" or (kind == "auto" and looks_like_url):
        url = raw if "://" in raw else f"http://{raw}"
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL (scheme {scheme!r})")
        try:
            urlsplit(url).port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"bad port ({exc})") from exc
        host = url_host(url)
        if not host or not _valid_host(host):
            raise ValueError(f"no valid host in URL (got {host!r})")
        return Target("url", text.strip(), host, registrable_domain(host), url_key(url))
    if kind not in ("auto", "host", "domain"):
        raise ValueError(f"unknown kind {kind!r}")
    bare = raw.removeprefix("*.")
    # a bare IPv6 literal (2001:db8::1) would parse as host "2001" with a port: bracket it
    host = url_host(f"http://[{bare}]" if ":" in bare and is_ip(bare) else f"http://{bare}")
    if not host or not _valid_host(host):
        raise ValueError(f"{raw!r} is not a valid URL, host name or domain")
    domain = registrable_domain(host)
    if not is_ip(host) and registrable_domain(f"x.{host}") == f"x.{host}":
        raise ValueError(f"{host!r} is a public suffix (or has no known one), not a site")
    if kind == "domain" and domain != host:
        raise ValueError(f"{host!r} is not a registrable domain (its domain is {domain!r})")
    if kind == "auto":
        kind = "domain" if domain == host and not is_ip(host) else "host"
    return Target(kind, text.strip(), host, domain)
