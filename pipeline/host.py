"""Host and registrable-domain names of URLs (public suffix list bundled with tldextract)."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

# The snapshot of the public suffix list that ships inside tldextract: never fetched at run time.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

# A DNS name as hosts on the web really are after IDNA: labels of letters, digits, '-' and '_'
# (underscores and edge hyphens occur on real sites), 1-63 characters each, 253 in all.
_LABEL = r"[a-z0-9_-]{1,63}"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
MAX_HOST_CHARS = 253


def canonical_host(name: str, bracketed: bool = False) -> str:
    """The canonical form of a URL's host name, or "" when it cannot name a web host.

    Lower case, trailing dots dropped, IDN in punycode, IPv6 compressed and without brackets.
    "" for NUL, U+FFFD, other control or forbidden characters, empty or over-long labels, and
    bracketed literals that are not IPv6 (IPvFuture, zone ids): such a URL names no origin whose
    robots.txt could be checked, so the record must be errored rather than kept under a junk host.
    """
    if bracketed:
        return _ipv6_literal(name)
    host = name.rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return ""  # U+FFFD, prohibited or unassignable code points: not a valid IDN
    if len(host) > MAX_HOST_CHARS or not _DNS_NAME.fullmatch(host):
        return ""
    return host


def _ipv6_literal(text: str) -> str:
    try:
        addr = ipaddress.IPv6Address(text)
    except ValueError:
        return ""
    if addr.scope_id:
        return ""  # a zone id is local to one machine, not a public origin
    mapped = addr.ipv4_mapped
    # Spelled out so the text does not depend on the Python version's formatting of mapped addresses.
    return f"::ffff:{mapped}" if mapped is not None else addr.compressed


def url_host(url: str) -> str:
    """The canonical host of a URL (see `canonical_host`); "" when there is none or it is invalid."""
    try:
        parts = urlsplit(url.strip())
        name = parts.hostname or ""
    except ValueError:  # e.g. an unbalanced or invalid bracketed IPv6 literal
        return ""
    if not name:
        return ""
    return canonical_host(name, bracketed=parts.netloc.rpartition("@")[2].startswith("["))


def netloc_host(host: str) -> str:
    """A host as written in a URL or origin: IPv6 literals in brackets (`[::1]:8080` is not `::1:8080`)."""
    return f"[{host}]" if ":" in host else host


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """eTLD+1 (e.g. bbc.co.uk), or the host itself for IPs and bare suffixes."""
    if ":" in host:
        return host  # an IPv6 literal: no public suffix applies
    parts = _EXTRACT(host)
    return parts.top_domain_under_public_suffix or host


def is_ip(host: str) -> bool:
    """An IPv4/IPv6 literal (no registrable domain, no DNS lookup needed); brackets allowed."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
