"""The cluster frontier as a Scrapy add-on, for any project:

    ADDONS = {"backlinkspider.frontier.addon.ClusterFrontier": 0}
    REDIS_URL = "redis://..."       # unset: Scrapy's own scheduler, one process

It gives every ``BACKLINKS_*`` setting the project leaves unset its default (backlinkspider/config.py;
``BACKLINKS_INDEX``, ``BACKLINKS_PSL_FILE`` and ``REDIS_URL`` from the environment when it has them),
so the index pipeline and the frontier work in any project. With ``REDIS_URL`` set it installs the Redis
scheduler and two small middlewares that complete the leases of what the index will never see: responses
that yield no item of their own URL, and requests that fail for good with no errback to turn the failure
into an item (nothing to index, so nothing to wait for). Items with ``url`` and ``links`` go to the index
through ``backlinkspider.crawl.pipeline.IndexPipeline`` (see ``crawl.items.page_edges`` for the schema), which completes
the leases of the pages it writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter, is_item

from backlinkspider.crawl.signals import pages_done

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import Settings

_SCHEDULER = "backlinkspider.frontier.scheduler.RedisScheduler"
_MIDDLEWARE = "backlinkspider.frontier.addon.CompleteItemless"
_DOWNLOADER_MIDDLEWARE = "backlinkspider.frontier.addon.CompleteUnhandled"


class ClusterFrontier:
    def update_settings(self, settings: Settings) -> None:
        from backlinkspider import config

        for name, value in config.own_defaults().items():
            if name not in settings:
                settings.set(name, value, priority="default")
        if not settings.get("REDIS_URL"):
            return
        settings.set("SCHEDULER", _SCHEDULER, priority="addon")
        # The last to see a response's output, after HttpErrorMiddleware has turned an error into none.
        settings["SPIDER_MIDDLEWARES"][_MIDDLEWARE] = 1
        settings["DOWNLOADER_MIDDLEWARES"][_DOWNLOADER_MIDDLEWARE] = 1  # the last to see an exception


class CompleteItemless:
    """A response whose callback yields no item with the response's URL has nothing for the index to
    write: its lease completes when the callback is done with it."""

    def __init__(self, crawler: Crawler) -> None:
        self.signals = crawler.signals

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CompleteItemless:
        return cls(crawler)

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        indexed = False
        async for out in result:
            if not indexed and is_item(out) and ItemAdapter(out).get("url") == response.url:
                indexed = True
            yield out
        if not indexed:
            self.signals.send_catch_log(pages_done, urls=[response.request.url])  # type: ignore[union-attr]


class CompleteUnhandled:
    """A request that fails for good (no middleware retried or answered it) and has no errback yields
    nothing to index: its lease completes now. (With an errback, the item it yields completes it.)"""

    def __init__(self, crawler: Crawler) -> None:
        self.signals = crawler.signals

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CompleteUnhandled:
        return cls(crawler)

    def process_exception(self, request: Request, exception: Exception) -> None:
        if request.errback is None:
            self.signals.send_catch_log(pages_done, urls=[request.url])
