"""The index pipeline: pages in, batches of edges out to the link index."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter, is_item
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from backlinkspider.crawl.batches import Backoff, Collector, split
from backlinkspider.crawl.items import MAX_ANCHOR, crawled_page
from backlinkspider.crawl.signals import pages_done
from backlinkspider.index import BadRow, LinkIndex, open_index
from backlinkspider.records import CrawledPage
from backlinkspider.redact import redact

if TYPE_CHECKING:
    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import Crawler
    from scrapy.signalmanager import SignalManager
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class IndexPipeline:
    """Write every page's edges to ``BACKLINKS_INDEX`` in transactions of ``BACKLINKS_BATCH_SIZE`` edges,
    or of what came in ``BACKLINKS_FLUSH_SECONDS``, whichever is first.

    Writes run in a thread, one at a time, so the crawl goes on while the index works (SQLite and pymongo
    release the GIL while they do). The batching, splitting and retry policy is ``crawl.batches``', shared
    with ``backlinks ingest``. Nothing fetched is dropped quietly:

    - A write that fails (a full or read-only disk, a lost server, any error) keeps its batch and is
      tried again with exponential backoff; meanwhile at most ``BACKLOG`` batches wait, and then the
      pipeline pauses Scrapy's engine (no new requests; those in flight finish) instead of growing
      memory, until writes catch up. When writes have failed for
      ``BACKLINKS_WRITE_RETRY_SECONDS`` in a row, the crawl is stopped and every page not written is
      counted as not indexed.
    - A batch the index refuses for its data (``BadRow``: retrying cannot help) is split to find the page
      at fault, which is logged and counted as not indexed; the rest is written.

    ``backlinks/pages_not_indexed`` in the stats (and the crawl's exit code) says what was lost. A failed
    batch never touches what the index already holds.
    """

    BACKLOG = 4  # batches that may wait while one is written or retried

    def __init__(
        self,
        uri: str,
        batch_size: int,
        flush_seconds: float,
        keep_internal: bool,
        stats: StatsCollector,
        lost_after_failures: int = 3,
        signals: SignalManager | None = None,
        retry_seconds: float = 300.0,
        crawler: Crawler | None = None,
        max_anchor: int = MAX_ANCHOR,
    ) -> None:
        self.max_anchor = max_anchor
        self.signals = signals
        self.uri = uri
        self.lost_after_failures = lost_after_failures
        self.crawler = crawler
        self.engine: ExecutionEngine | None = None  # of a running crawl: to pause it, and to stop it
        self.keep_internal = keep_internal
        self.stats = stats
        self.index: LinkIndex | None = None
        self.collecting = Collector(batch_size, flush_seconds)  # the next batch
        self.batches: deque[list[CrawledPage]] = deque()  # ready to write, the first one next
        self.writing: Deferred[Any] | None = None
        self.backoff = Backoff(retry_seconds)
        self.gave_up = False
        self.drained: Deferred[Any] | None = None  # fired at close when everything is written or given up
        self.run = deferToThread  # how a write is run (tests run it in place)
        self.later: Callable[[float, Callable[[], None]], object] = call_later  # how a retry is scheduled
        self.retry: object | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IndexPipeline:
        s = crawler.settings
        assert crawler.stats is not None
        return cls(
            s.get("BACKLINKS_INDEX"),
            s.getint("BACKLINKS_BATCH_SIZE"),
            s.getfloat("BACKLINKS_FLUSH_SECONDS"),
            s.getbool("BACKLINKS_KEEP_INTERNAL"),
            crawler.stats,
            s.getint("BACKLINKS_LOST_AFTER_FAILURES"),
            crawler.signals,
            s.getfloat("BACKLINKS_WRITE_RETRY_SECONDS"),
            crawler,
            s.getint("BACKLINKS_MAX_ANCHOR", MAX_ANCHOR),
        )

    def open_spider(self) -> None:
        self.index = open_index(self.uri, settings=self.crawler.settings if self.crawler else None)
        self.engine = self.crawler.engine if self.crawler is not None else None
        logger.info("indexing to %s", redact(self.uri))

    def process_item(self, item: Any) -> Any:
        if not is_item(item) or not isinstance(ItemAdapter(item).get("url"), str):
            return item
        adapter = ItemAdapter(item)
        try:
            page = crawled_page(item, self.keep_internal, datetime.now(UTC), self.max_anchor)
        except Exception as exc:  # an item no index can take (a URL that is not one ...): counted, not fatal
            logger.error("page not indexed: %r: %s", adapter.get("url"), exc)
            self.stats.inc_value("backlinks/pages_not_indexed")
            return item
        if self.gave_up:
            self._not_indexed([page])
            return item
        if self.collecting.add(page):
            self.flush()
        return item

    async def close_spider(self) -> None:
        self.flush()
        if self.batches or self.writing is not None:
            self.drained = Deferred()
            await maybe_deferred_to_future(self.drained)
        lost = self.stats.get_value("backlinks/pages_not_indexed", 0)
        if lost:
            logger.error("%d pages fetched were not indexed in %s", lost, redact(self.uri))
        if self.index is not None:
            self.index.close()

    def flush(self) -> None:
        """Queue the batch being collected for writing, and start a write if none is under way."""
        batch = self.collecting.take()
        if batch:
            self.batches.append(batch)
        self._next()

    def _next(self) -> None:
        self._pace()
        if self.writing is not None or self.retry is not None or self.index is None:
            return
        if not self.batches:
            if self.drained is not None:
                self.drained.callback(None)
            return
        batch = self.batches.popleft()
        self.writing = self.run(self.index.write, batch, lost_after_failures=self.lost_after_failures)
        self.writing.addCallbacks(self._written, self._failed, callbackArgs=(batch,), errbackArgs=(batch,))

    def _written(self, written: int, batch: list[CrawledPage]) -> None:
        self.writing = None
        self.backoff.succeeded()
        self.stats.inc_value("backlinks/edges_written", written)
        self.stats.inc_value("backlinks/pages_indexed", len(batch))
        self._done(batch)
        self._next()

    def _failed(self, failure: Failure, batch: list[CrawledPage]) -> None:
        self.writing = None
        if isinstance(failure.value, BadRow):
            self._split(batch, failure.value)
            self._next()
            return
        self.batches.appendleft(batch)
        delay = self.backoff.failed()
        if delay is None:
            self._give_up(failure.getErrorMessage())
            return
        pages = sum(len(b) for b in self.batches)
        logger.error(
            "index write failed (%d pages waiting), retrying in %.1f s: %s",
            pages,
            delay,
            failure.getErrorMessage(),
        )
        self._pace()
        self.retry = self.later(delay, self._retry)

    def _retry(self) -> None:
        self.retry = None
        self._next()

    def _split(self, batch: list[CrawledPage], error: BadRow) -> None:
        """Set aside the page at fault (``batches.split``) and queue the rest."""
        at_fault, instead = split(batch, error)
        for page in at_fault:
            logger.error("page not indexed: %s: %s", page.url, error)
        if at_fault:
            self._not_indexed(at_fault)
        self.batches.extendleft(reversed(instead))

    def _give_up(self, reason: str) -> None:
        pages = [p for b in self.batches for p in b] + self.collecting.take()
        logger.error(
            "index writes failed for %.0f s, stopping the crawl; %d pages not indexed: %s",
            self.backoff.retry_seconds,
            len(pages),
            reason,
        )
        self.gave_up = True
        self.batches.clear()
        self._not_indexed(pages)
        self._pace()
        if self.drained is not None:
            self.drained.callback(None)
        elif self.engine is not None:
            deferred_from_coro(self.engine.close_spider_async(reason="index_unwritable"))

    def _not_indexed(self, pages: list[CrawledPage]) -> None:
        self.stats.inc_value("backlinks/pages_not_indexed", len(pages))
        self._done(pages)  # a cluster lease is complete: fetching the page again would not help

    def _done(self, pages: list[CrawledPage]) -> None:
        if self.signals is not None:
            self.signals.send_catch_log(pages_done, urls=[page.url for page in pages])

    def _pace(self) -> None:
        """Pause the crawl while ``BACKLOG`` batches wait to be written; go on when they are fewer."""
        engine = self.engine
        if engine is None:
            return
        behind = len(self.batches) >= self.BACKLOG and not self.gave_up
        if behind and not engine.paused:
            logger.warning("index writes fall behind: crawl paused until they catch up")
            engine.pause()
        elif not behind and engine.paused:
            engine.unpause()
