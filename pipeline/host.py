"""Host and registrable-domain names of URLs (public suffix list bundled with tldextract)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

# The snapshot of the public suffix list that ships inside tldextract: never fetched at run time.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def url_host(url: str) -> str:
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host.lower()


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """eTLD+1 (e.g. bbc.co.uk), or the host itself for IPs and bare suffixes."""
    parts = _EXTRACT(host)
    return parts.top_domain_under_public_suffix or host


def is_ip(host: str) -> bool:
    """An IPv4/IPv6 literal (no registrable domain, no DNS lookup needed)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
