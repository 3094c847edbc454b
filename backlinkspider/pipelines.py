"""The index pipeline: pages in, batches of edges out to the link index."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from backlinkspider.extract import Page
from backlinkspider.signals import pages_done
from backlinkspider.index import CrawledPage, Edge, IndexUnavailable, LinkIndex, open_index, redact
from backlinkspider.urls import host_of, registered_domain

logger = logging.getLogger(__name__)


def page_edges(page: Page, keep_internal: bool) -> tuple[Edge, ...]:
    """The edges of a page as the index stores them: with hosts and registered domains, and without
    internal links unless ``keep_internal``."""
    source_host = host_of(page.url)
    source_domain = registered_domain(source_host)
    edges = []
    for link in page.links:
        target_host = host_of(link.target_url)
        target_domain = registered_domain(target_host)
        if target_domain == source_domain and not keep_internal:
            continue
        edges.append(
            Edge(
                page.url,
                link.target_url,
                link.link_type,
                link.anchor_text,
                link.nofollow,
                link.ugc,
                link.sponsored,
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

    A batch that fails to write (a locked or full disk, a lost server) is kept and tried again with the
    next one and at close, so a passing fault loses nothing; what the index already holds is never
    touched by a failed batch.
    """

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
        if isinstance(item, Page):
            edges = page_edges(item, self.keep_internal)
            self.pending.append(CrawledPage(item.url, datetime.now(UTC), edges, item.failed))
            self.pending_edges += len(edges)
            if (
                self.pending_edges >= self.batch_size
                or time.monotonic() - self.last_flush >= self.flush_seconds
            ):
                self.flush()
        return item

    def close_spider(self) -> None:
        self.flush()
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
        self.last_flush = time.monotonic()
        if not self.pending or self.index is None:
            return
        try:
            written = self.index.write(self.pending, lost_after_failures=self.lost_after_failures)
        except IndexUnavailable as exc:
            logger.error("index write failed, will retry: %s", exc)
            return
        self.stats.inc_value("backlinks/edges_written", written)
        if self.signals is not None:
            self.signals.send_catch_log(pages_done, urls=[page.url for page in self.pending])
        self.pending.clear()
        self.pending_edges = 0
