"""The cluster frontier as a Scrapy add-on, for any project:

    ADDONS = {"backlinkspider.frontier.addon.ClusterFrontier": 0}
    REDIS_URL = "redis://..."       # unset: Scrapy's own scheduler, one process

With ``REDIS_URL`` set it installs the Redis scheduler and the spider middleware that completes the
leases of responses that yield no item of their own URL (nothing to index, so nothing to wait for).
Items with ``url`` and ``links`` go to the index through ``backlinkspider.pipelines.IndexPipeline``, which
completes the leases of the pages it writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter, is_item

from backlinkspider.signals import pages_done

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import Settings

_SCHEDULER = "backlinkspider.frontier.scheduler.RedisScheduler"
_MIDDLEWARE = "backlinkspider.frontier.addon.CompleteItemless"


class ClusterFrontier:
    def update_settings(self, settings: Settings) -> None:
        if not settings.get("REDIS_URL"):
            return
        settings.set("SCHEDULER", _SCHEDULER, priority="addon")
        settings["SPIDER_MIDDLEWARES"][_MIDDLEWARE] = 1000  # nearest the spider: sees its own output


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
