"""How pages become index writes, for every writer of the index: the crawl's ``IndexPipeline`` (writes in
a thread, off the reactor) and ``backlinks ingest`` (``BatchWriter``: writes in place). One policy:

- pages are collected into a batch until it holds ``BACKLINKS_BATCH_SIZE`` edges or
  ``BACKLINKS_FLUSH_SECONDS`` passed (``Collector``);
- a batch the index refuses for its data (``BadRow``: retrying cannot help) is split until the page at
  fault is named (by the error, else by halving); that page is not indexed, the rest is written
  (``split``);
- any other failed write keeps its batch and is tried again after 0.5 s, doubling up to 30 s, until
  writes have failed for ``BACKLINKS_WRITE_RETRY_SECONDS`` in a row: then the writer gives up, and every
  page not written is counted as not indexed (``Backoff``).

A failed batch never touches what the index already holds (a store's write is one transaction, or
idempotent upserts).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from backlinkspider.index import BadRow, LinkIndex
from backlinkspider.records import CrawledPage

logger = logging.getLogger(__name__)


class Collector:
    """The batch being collected: full at ``batch_size`` edges, or ``flush_seconds`` after the last
    flush."""

    def __init__(self, batch_size: int, flush_seconds: float) -> None:
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.pages: list[CrawledPage] = []
        self.edges = 0
        self.last_flush = time.monotonic()

    def add(self, page: CrawledPage) -> bool:
        """Collect a page; True when the batch should be written now."""
        self.pages.append(page)
        self.edges += len(page.edges)
        return self.edges >= self.batch_size or time.monotonic() - self.last_flush >= self.flush_seconds

    def take(self) -> list[CrawledPage]:
        """The batch collected so far (possibly empty); collecting starts again."""
        self.last_flush = time.monotonic()
        pages, self.pages, self.edges = self.pages, [], 0
        return pages


class Backoff:
    """When to try a failing write again, and when to give up."""

    FIRST_RETRY = 0.5  # seconds; doubled after every failure up to LAST_RETRY
    LAST_RETRY = 30.0

    def __init__(self, retry_seconds: float) -> None:
        self.retry_seconds = retry_seconds
        self.delay = self.FIRST_RETRY
        self.failing_since: float | None = None

    def failed(self) -> float | None:
        """A write failed: the seconds to wait before the next try, or None to give up."""
        now = time.monotonic()
        self.failing_since = self.failing_since or now
        if now - self.failing_since >= self.retry_seconds:
            return None
        delay, self.delay = self.delay, min(self.delay * 2, self.LAST_RETRY)
        return delay

    def succeeded(self) -> None:
        self.delay, self.failing_since = self.FIRST_RETRY, None


def split(batch: list[CrawledPage], error: BadRow) -> tuple[list[CrawledPage], list[list[CrawledPage]]]:
    """The pages at fault in a refused batch (named by the error, or the batch's only page), and the
    batches to write instead, in order: the rest, or the two halves when no page is named yet."""
    at_fault = [p for p in batch if p.url == error.url] if error.url else []
    if len(batch) == 1 or at_fault:
        at_fault = at_fault or batch
        rest = [p for p in batch if p not in at_fault]
        return at_fault, [rest] if rest else []
    half = len(batch) // 2
    return [], [batch[:half], batch[half:]]


class WritesFailed(Exception):
    """Index writes kept failing for ``BACKLINKS_WRITE_RETRY_SECONDS``: the writer gave up."""


class BatchWriter:
    """The policy above, writing in the caller's thread (``add``, ``flush``): for a loop that has nothing
    else to do while the index writes, as ``backlinks ingest`` (SQLite and pymongo hold no lock on other
    processes' extraction meanwhile).

    ``written`` / ``not_indexed`` count pages; ``edges_written`` edges. After giving up, every page added
    is counted as not indexed and ``flush`` raises ``WritesFailed`` again.
    """

    def __init__(
        self,
        index: LinkIndex,
        batch_size: int,
        flush_seconds: float,
        retry_seconds: float,
        lost_after_failures: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.index = index
        self.collector = Collector(batch_size, flush_seconds)
        self.backoff = Backoff(retry_seconds)
        self.lost_after_failures = lost_after_failures
        self.sleep = sleep
        self.written = 0
        self.edges_written = 0
        self.not_indexed = 0
        self.gave_up: str | None = None  # why, once given up

    def add(self, page: CrawledPage) -> None:
        if self.gave_up is not None:
            self.not_indexed += 1
        elif self.collector.add(page):
            self.flush()

    def flush(self) -> None:
        """Write what was collected; raise ``WritesFailed`` once writes have been given up."""
        batches = deque([self.collector.take()])
        while batches and self.gave_up is None:
            batch = batches.popleft()
            if not batch:
                continue
            try:
                edges = self.index.write(batch, lost_after_failures=self.lost_after_failures)
            except BadRow as exc:
                at_fault, instead = split(batch, exc)
                for page in at_fault:
                    logger.error("page not indexed: %s: %s", page.url, exc)
                self.not_indexed += len(at_fault)
                batches.extendleft(reversed(instead))
                continue
            except Exception as exc:  # a full disk, a lost server ...: the batch is kept and tried again
                delay = self.backoff.failed()
                batches.appendleft(batch)
                if delay is None:
                    self._give_up(str(exc), [p for b in batches for p in b])
                    break
                pages = sum(len(b) for b in batches)
                logger.error(
                    "index write failed (%d pages waiting), retrying in %.1f s: %s", pages, delay, exc
                )
                self.sleep(delay)
                continue
            self.backoff.succeeded()
            self.written += len(batch)
            self.edges_written += edges
        if self.gave_up is not None:
            raise WritesFailed(self.gave_up)

    def _give_up(self, reason: str, pages: Sequence[CrawledPage]) -> None:
        self.gave_up = f"index writes failed for {self.backoff.retry_seconds:g} s: {reason}"
        self.not_indexed += len(pages)
