"""robots.txt obeyed under concurrency: Scrapy's RobotsTxtMiddleware, with every waiter given the parser.

Scrapy 2.19 makes the requests that arrive while a host's robots.txt is downloading await one shared
Deferred. Awaiting a Deferred adds a callback that returns None, and a Deferred hands each callback's
return value to the next one: the first waiter gets the parser, every later one gets None, which the
middleware reads as "no robots.txt, allow everything". A seed list with several disallowed URLs on one
host fetched all but the first of them. Here each waiter gets a Deferred of its own, chained so that the
shared one passes its result on unchanged.
"""

from __future__ import annotations

from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's middleware (same settings, stats and signals); settings.py puts it in Scrapy's place."""

    async def robot_parser(self, request: Request) -> Any:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if isinstance(pending, Deferred):
            own: Deferred[Any] = Deferred()
            pending.addBoth(_hand_on, own)
            return await maybe_deferred_to_future(own)
        return await super().robot_parser(request)


def _hand_on(result: Any, waiter: Deferred[Any]) -> Any:
    waiter.callback(result)
    return result  # for the next waiter
