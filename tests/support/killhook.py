"""A test hook, loaded by the tests as a Scrapy extension: SIGKILL this worker right after the index has
written the page named by the ``KILL_AFTER_INDEXING`` setting, with whatever the worker has queued for
Redis by then given time to reach it."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from scrapy import signals

from backlinkspider.crawl.signals import pages_done

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class KillAfterIndexing:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.url = crawler.settings.get("KILL_AFTER_INDEXING")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KillAfterIndexing:
        hook = cls(crawler)
        crawler.signals.connect(hook.spider_opened, signal=signals.spider_opened)
        return hook

    def spider_opened(self) -> None:
        # Connected after the scheduler's own receiver, which runs first.
        self.crawler.signals.connect(self.pages_done, signal=pages_done)

    def pages_done(self, urls: list[str]) -> None:
        if self.url in urls:
            time.sleep(0.5)  # the reactor stops here; the Redis thread runs what was handed to it
            os.kill(os.getpid(), signal.SIGKILL)
