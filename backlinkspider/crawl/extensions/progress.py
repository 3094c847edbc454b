"""A live progress line for interactive crawls (``BACKLINKS_PROGRESS``; ``backlinks crawl`` turns it on)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.text import Text
from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

# When stderr is not a terminal (a log file, CI), print a plain line this often instead.
LOG_EVERY = 30.0


class ProgressLine:
    """Pages, links indexed, pages/s, errors (and pages not indexed, if any) on stderr: redrawn every
    second on a terminal, a line every ``LOG_EVERY`` seconds elsewhere, and a final line at the end."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats
        self.started = time.monotonic()
        self.console = Console(stderr=True)
        self.live = (
            Live(self.render(), console=self.console, auto_refresh=False)
            if self.console.is_terminal
            else None
        )
        self.ticker = LoopingCall(self.refresh)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLine:
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
        lost = self.stats.get_value("backlinks/pages_not_indexed", 0)
        rate = pages / max(time.monotonic() - self.started, 1e-9)
        line = f"pages {pages:,}  links indexed {links:,}  {rate:,.1f} pages/s  errors {errors:,}"
        return Text(line + (f"  pages not indexed {lost:,}" if lost else ""))

    def refresh(self) -> None:
        if self.live is not None:
            self.live.update(self.render(), refresh=True)
        else:
            self.console.print(self.render())

    def spider_opened(self) -> None:
        self.started = time.monotonic()
        if self.live is not None:
            self.live.start()
        self.ticker.start(1.0 if self.live is not None else LOG_EVERY, now=False)

    def spider_closed(self) -> None:
        if self.ticker.running:
            self.ticker.stop()
        self.refresh()
        if self.live is not None:
            self.live.stop()
