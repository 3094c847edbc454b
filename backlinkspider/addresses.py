"""The private-address guard: a crawler on a cloud machine must not fetch its own network.

A link to ``http://169.254.169.254/`` (the cloud metadata service), ``http://127.0.0.1:6379/``, a host on
10/8, or a name that resolves to one of them, is still a link and stays in the index; fetching it is
refused, counted (``backlinks/private_address_refused``) and logged once per host. Unless
``BACKLINKS_ALLOW_PRIVATE_ADDRESSES`` is on, two parts check every request, robots.txt and redirects
included:

- ``PrivateAddressMiddleware`` (downloader middleware) refuses literal IP hosts and ``localhost`` names
  before anything is sent, and turns the resolver's refusals into skips (not retried, not errors).
- ``PrivateAddressResolver`` (``TWISTED_DNS_RESOLVER``) checks the address a name resolves to, the one
  the connection then uses, so DNS that points a public name at an internal address is refused too.

Through a proxy (``http_proxy``) Scrapy resolves no target name, the proxy does: literal IPs and
``localhost`` names are still refused, other names go to the proxy, whose own address is trusted.
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.parse
import urllib.request
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

from backlinkspider.urls import host_of

logger = logging.getLogger(__name__)

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


class PrivateAddressMiddleware:
    """Refuse requests to internal addresses (see the module docstring); off with
    ``BACKLINKS_ALLOW_PRIVATE_ADDRESSES``. Sits after RetryMiddleware (so its ``process_exception``
    runs first: a refused name is not retried)."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats
        self.logged: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> PrivateAddressMiddleware:
        if crawler.settings.getbool("BACKLINKS_ALLOW_PRIVATE_ADDRESSES"):
            raise NotConfigured
        return cls(crawler.stats)

    def process_request(self, request: Request) -> None:
        host = host_of(request.url)
        why = refusal(host) or self._resolved(host)
        if why is not None:
            self._refuse(host, why)

    def process_exception(self, request: Request, exception: Exception) -> None:
        host = host_of(request.url)
        why = self._resolved(host)
        if why is not None:
            self._refuse(host, why)

    @staticmethod
    def _resolved(host: str) -> str | None:
        """Why the resolver refused ``host``, if it did. (The resolver is the one installed on the reactor
        when the crawl starts, after the middlewares are built.)"""
        from twisted.internet import reactor

        resolver = getattr(reactor, "resolver", None)
        if isinstance(resolver, PrivateAddressResolver) and host in resolver.refused:
            return f"resolves to {resolver.refused[host]}, a private address"
        return None

    def _refuse(self, host: str, why: str) -> None:
        self.stats.inc_value("backlinks/private_address_refused")
        if host not in self.logged:
            self.logged.add(host)
            logger.warning(
                "not fetching from %s: %s (links to it are indexed; "
                "BACKLINKS_ALLOW_PRIVATE_ADDRESSES=True to fetch)",
                host,
                why,
            )
        raise IgnoreRequest(f"{host}: {why}")
