"""The private-address guard: a crawler on a cloud machine must not fetch its own network.

A link to ``http://169.254.169.254/`` (the cloud metadata service), ``http://127.0.0.1:6379/``, a host on
10/8, or a name that resolves to one of them, is still a link and stays in the index; fetching it is
refused, counted (``backlinks/private_address_refused``) and logged once per host. Unless
``BACKLINKS_ALLOW_PRIVATE_ADDRESSES`` is on, two parts check every request, robots.txt and redirects
included:

- ``PrivateAddressMiddleware`` (downloader middleware) refuses literal IP hosts and ``localhost`` names
  before anything is sent, and turns the resolver's refusals into skips (not retried, not errors).
- ``PrivateAddressResolver`` (``TWISTED_DNS_RESOLVER``, backlinkspider/crawl/resolver.py) checks the address a name resolves to, the one
  the connection then uses, so DNS that points a public name at an internal address is refused too.

Through a proxy (``http_proxy``) Scrapy resolves no target name, the proxy does: literal IPs and
``localhost`` names are still refused, other names go to the proxy, whose own address is trusted.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured

from backlinkspider.crawl.resolver import PrivateAddressResolver, refusal
from backlinkspider.standards.urls import host_of

logger = logging.getLogger(__name__)


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
