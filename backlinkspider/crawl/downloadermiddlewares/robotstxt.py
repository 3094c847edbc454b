"""robots.txt obeyed under concurrency: Scrapy's RobotsTxtMiddleware, with every waiter given the parser.

Scrapy 2.19 makes the requests that arrive while a host's robots.txt is downloading await one shared
Deferred. Awaiting a Deferred adds a callback that returns None, and a Deferred hands each callback's
return value to the next one: the first waiter gets the parser, every later one gets None, which the
middleware reads as "no robots.txt, allow everything". A seed list with several disallowed URLs on one
host fetched all but the first of them. Here each waiter gets a Deferred of its own, chained so that the
shared one passes its result on unchanged.

Scrapy logs a full traceback when robots.txt cannot be fetched: on a broad crawl, where dead hosts are
routine, that floods the log, so the middleware keeps one line for network errors (``NetworkErrorsOnOneLine``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object
from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class NetworkErrorsOnOneLine(logging.Filter):
    """For network errors (Scrapy's RETRY_EXCEPTIONS) a warning of one line, not an error with a
    traceback."""

    def __init__(self, network_errors: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.network_errors = network_errors

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.network_errors):
            record.exc_info = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's middleware (same settings, stats and signals); settings.py puts it in Scrapy's place."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsTxtMiddleware:
        middleware = super().from_crawler(crawler)
        network_errors = tuple(
            e if isinstance(e, type) else load_object(e) for e in crawler.settings.getlist("RETRY_EXCEPTIONS")
        )
        logging.getLogger("scrapy.downloadermiddlewares.robotstxt").addFilter(
            NetworkErrorsOnOneLine(network_errors)
        )
        return middleware

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
