"""A live progress line for interactive crawls (``BACKLINKS_PROGRESS``; ``backlinks crawl`` turns it on)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text
from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall


class ProgressLine:
    """Pages, links indexed, pages/s and errors, redrawn every second on stderr (once at the end when
    stderr is not a terminal)."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats
        self.started = time.monotonic()
        self.live = Live(self.render(), console=Console(stderr=True), auto_refresh=False)
        self.ticker = LoopingCall(self.refresh)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressLine:
        if not crawler.settings.getbool("BACKLINKS_PROGRESS"):
            raise NotConfigured
        ext = cls(crawler.stats)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def render(self) -> Text:
        pages = self.stats.get_value("backlinks/pages", 0)
        links = self.stats.get_value("backlinks/edges_written", 0)
        errors = self.stats.get_value("backlinks/errors", 0)
        rate = pages / max(time.monotonic() - self.started, 1e-9)
        return Text(f"pages {pages:,}  links indexed {links:,}  {rate:,.1f} pages/s  errors {errors:,}")

    def refresh(self) -> None:
        self.live.update(self.render(), refresh=True)

    def spider_opened(self) -> None:
        self.started = time.monotonic()
        self.live.start()
        self.ticker.start(1.0)

    def spider_closed(self) -> None:
        if self.ticker.running:
            self.ticker.stop()
        self.refresh()
        self.live.stop()
