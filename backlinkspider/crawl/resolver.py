"""The private-address guard's resolver (``TWISTED_DNS_RESOLVER``), and what counts as internal.

``PrivateAddressResolver`` checks the address a name resolves to, the one the connection then uses, so DNS
that points a public name at an internal address is refused too;
backlinkspider/crawl/downloadermiddlewares/privateaddress.py (the guard's other half) explains the whole.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
import urllib.request
from typing import Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_internal(address: str) -> bool:
    """True for an address a public crawler has no business fetching.

    Internal is anything Python's ``ipaddress`` does not call global (``is_global`` is False for
    ``is_private`` 10/8, 172.16/12, 192.168/16, fc00::/7; ``is_loopback`` 127/8, ::1; ``is_link_local``
    169.254/16, fe80::/10; ``is_unspecified`` 0.0.0.0, ::; shared 100.64/10; documentation and benchmark
    ranges), plus ``is_reserved`` (240/4, broadcast), ``is_multicast`` and IPv6 site-local. An IPv6
    address that embeds an IPv4 one (mapped ``::ffff:a.b.c.d``, 6to4, NAT64) is judged by the IPv4 one.
    Raises ValueError for a string that is not an IP address.
    """
    ip = ipaddress.ip_address(address.strip("[]"))
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_internal(str(embedded))
        if ip.is_site_local:
            return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved


def refusal(host: str) -> str | None:
    """Why a URL host (as ``urls.host_of`` gives it) may not be fetched, judged without DNS; or None."""
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback
        return "a localhost name"
    try:
        internal = is_internal(name)
    except ValueError:  # a name: the resolver judges its address
        return None
    return "a private address" if internal else None


class PrivateAddressRefused(DNSLookupError):
    """A name resolved to an internal address. A DNSLookupError, so that Twisted's name resolution drops
    it quietly (the connection then fails as a failed lookup, which the middleware turns into a skip)."""


class PrivateAddressResolver(CachingThreadedResolver):
    """Scrapy's default resolver, refusing names that resolve to internal addresses (``is_internal``).

    Literal IPs pass (the middleware has judged target IPs; the configured proxy's is trusted), and so do
    the host names of the proxies in the environment (``http_proxy``, ``https_proxy``), which may well
    be internal. Refused names are remembered in ``refused`` (name -> address) for the middleware.
    """

    def __init__(self, reactor: Any, cache_size: int, timeout: float, allow_private: bool = False) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.allow_private = allow_private
        self.refused: dict[str, str] = {}
        self.trusted = {
            (urllib.parse.urlsplit(url).hostname or "").lower()
            for url in urllib.request.getproxies().values()
            if "://" in url
        }

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> PrivateAddressResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_private = crawler.settings.getbool("BACKLINKS_ALLOW_PRIVATE_ADDRESSES")
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> Any:
        d = super().getHostByName(name, timeout)
        if not self.allow_private and name.lower() not in self.trusted and refusal(name) is None:
            d.addCallback(self._check, name)
        return d

    def _check(self, address: str, name: str) -> str:
        if is_internal(address):
            self.refused[name.lower()] = address
            raise PrivateAddressRefused(f"{name} resolves to {address}, a private address")
        return address
