"""The index pipeline: pages in, batches of edges out to the link index."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from itemadapter import ItemAdapter, is_item
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from backlinkspider.index import CrawledPage, Edge, IndexUnavailable, LinkIndex, open_index, redact
from backlinkspider.signals import pages_done
from backlinkspider.urls import host_of, registered_domain

logger = logging.getLogger(__name__)


def page_edges(page: Any, keep_internal: bool) -> tuple[Edge, ...]:
    """The edges of a page item as the index stores them: with hosts and registered domains, and without
    internal links unless ``keep_internal``.

    A page item is any item (dict, dataclass, attrs, scrapy.Item; read through itemadapter) with ``url``
    (str), ``links`` (a list of ``{target_url, link_type, anchor_text, nofollow, ugc, sponsored}``: only
    ``target_url`` is required; ``link_type`` defaults to "text", the rest to "" and false) and optionally
    ``failed`` (true: the fetch failed). ``extract.Page`` is one."""
    adapter = ItemAdapter(page)
    url = adapter["url"]
    source_host = host_of(url)
    source_domain = registered_domain(source_host)
    edges = []
    for link in adapter.get("links") or ():
        # A dict (or any item) per link, or an object with these attributes (our Link, a NamedTuple).
        get = (
            ItemAdapter(link).get
            if is_item(link)
            else lambda name, default, link=link: getattr(link, name, default)
        )
        target_url = get("target_url", None)
        if not isinstance(target_url, str):
            raise ValueError(f"a link of {url} has no target_url string")
        target_host = host_of(target_url)
        target_domain = registered_domain(target_host)
        if target_domain == source_domain and not keep_internal:
            continue
        edges.append(
            Edge(
                url,
                target_url,
                get("link_type", "text"),
                get("anchor_text", ""),
                bool(get("nofollow", False)),
                bool(get("ugc", False)),
                bool(get("sponsored", False)),
                source_host,
                source_domain,
                target_host,
                target_domain,
            )
        )
    return tuple(edges)


class IndexPipeline:
    """Write every page's edges to ``BACKLINKS_INDEX`` in transactions of ``BACKLINKS_BATCH_SIZE`` edges,
    or of what came in ``BACKLINKS_FLUSH_SECONDS``, whichever is first.

    Writes run in a thread, one at a time, so the crawl goes on while the index works (SQLite and pymongo
    release the GIL while they do); when writes fall behind by more than a few batches, the pipeline
    makes Scrapy wait. A batch that fails to write (a locked or full disk, a lost server) is kept and
    tried again with the next one and at close, so a passing fault loses nothing; what the index already
    holds is never touched by a failed batch.
    """

    BACKLOG = 4  # batches that may wait while one is written

    def __init__(
        self,
        uri: str,
        batch_size: int,
        flush_seconds: float,
        keep_internal: bool,
        stats: Any,
        lost_after_failures: int = 3,
        signals: Any = None,
    ) -> None:
        self.signals = signals
        self.uri = uri
        self.lost_after_failures = lost_after_failures
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.last_flush = time.monotonic()
        self.keep_internal = keep_internal
        self.stats = stats
        self.index: LinkIndex | None = None
        self.pending: list[CrawledPage] = []
        self.pending_edges = 0
        self.writing: Deferred | None = None
        self.run = deferToThread  # how a write is run (tests run it in place)

    @classmethod
    def from_crawler(cls, crawler: Any) -> IndexPipeline:
        s = crawler.settings
        return cls(
            s.get("BACKLINKS_INDEX"),
            s.getint("BACKLINKS_BATCH_SIZE"),
            s.getfloat("BACKLINKS_FLUSH_SECONDS"),
            s.getbool("BACKLINKS_KEEP_INTERNAL"),
            crawler.stats,
            s.getint("BACKLINKS_LOST_AFTER_FAILURES"),
            crawler.signals,
        )

    def open_spider(self) -> None:
        self.index = open_index(self.uri)
        logger.info("indexing to %s", redact(self.uri))

    def process_item(self, item: Any) -> Any:
        if is_item(item) and isinstance(ItemAdapter(item).get("url"), str):
            adapter = ItemAdapter(item)
            edges = page_edges(item, self.keep_internal)
            self.pending.append(
                CrawledPage(adapter["url"], datetime.now(UTC), edges, bool(adapter.get("failed", False)))
            )
            self.pending_edges += len(edges)
            if (
                self.pending_edges >= self.batch_size
                or time.monotonic() - self.last_flush >= self.flush_seconds
            ):
                self.flush()
            if self.writing is not None and self.pending_edges >= self.BACKLOG * self.batch_size:
                # Writes fall behind: hold this item until the one under way is done.
                waiting: Deferred = Deferred()

                def release(result: Any) -> Any:
                    waiting.callback(item)
                    return result

                self.writing.addBoth(release)
                return waiting
        return item

    async def close_spider(self) -> None:
        for _ in range(3):  # the last batches, with a few tries if the index is failing
            if self.writing is not None:
                await maybe_deferred_to_future(self.writing)
            if not self.pending:
                break
            self.flush()
        if self.writing is not None:
            await maybe_deferred_to_future(self.writing)
        if self.pending:
            logger.error(
                "%d edges of %d pages could not be written to %s",
                self.pending_edges,
                len(self.pending),
                redact(self.uri),
            )
        if self.index is not None:
            self.index.close()

    def flush(self) -> None:
        """Start writing what is pending, unless a write is under way (then it goes with the next one)."""
        self.last_flush = time.monotonic()
        if not self.pending or self.index is None or self.writing is not None:
            return
        batch, self.pending, self.pending_edges = self.pending, [], 0
        d = self.run(self.index.write, batch, lost_after_failures=self.lost_after_failures)
        d.addCallbacks(self._written, self._failed, callbackArgs=(batch,), errbackArgs=(batch,))
        self.writing = d
        d.addBoth(self._done)
        d.addErrback(lambda failure: failure.trap(IndexUnavailable))

    def _written(self, written: int, batch: list[CrawledPage]) -> None:
        self.stats.inc_value("backlinks/edges_written", written)
        if self.signals is not None:
            self.signals.send_catch_log(pages_done, urls=[page.url for page in batch])

    def _failed(self, failure: Failure, batch: list[CrawledPage]) -> Failure:
        failure.trap(IndexUnavailable)
        logger.error("index write failed, will retry: %s", failure.value)
        self.pending[:0] = batch
        self.pending_edges += sum(len(page.edges) for page in batch)
        return failure  # for _done; the last callback below swallows it

    def _done(self, result: Any) -> Any:
        self.writing = None
        if not isinstance(result, Failure) and self.pending_edges >= self.batch_size:
            self.flush()  # a full batch came in while writing: no need to wait for the next item
        return result
