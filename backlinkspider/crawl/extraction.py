"""Extraction off the reactor: a pool of worker processes that run the standards layer's ``extract`` on each
page within a time budget and a link budget; and the one adaptation of a Scrapy response to its input.

Why a process pool: parsing is CPU work (deeply nested markup parses in quadratic time: 400k nested
``<div>`` take minutes), and on the reactor thread it stops every download meanwhile. A thread could not be
stopped; a process can. A page whose extraction takes longer than ``BACKLINKS_EXTRACT_TIMEOUT`` seconds is
abandoned: its worker is killed and replaced (Pebble's ``ProcessPool`` does both), the page is counted
(``backlinks/extract_timeouts``) and logged, and the crawl goes on. An abandoned page is a skip, not a
failure: the index keeps what it knew of the page (nothing is marked lost).

The link budget: links whose URL is longer than ``BACKLINKS_MAX_URL_LENGTH`` are neither stored nor
followed (``backlinks/long_urls``), and of the rest only the first ``BACKLINKS_MAX_LINKS_PER_PAGE`` in
document order are (``backlinks/links_over_cap`` counts the others). Both apply in the worker, so a page of
a million links never crosses back to the crawler.

The page crosses to the worker as a ``Fetched`` (``fetched``): the response's URL, status, body, the three
headers links depend on, and whether Scrapy took it for HTML (an ``HtmlResponse``).

The pool is the spider's, made by the spider's ``from_crawler`` through ``ExtractPool.from_crawler``, which
ties the workers' start and stop to the crawl's.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from concurrent.futures import Future
from typing import Any, NamedTuple

from pebble import ProcessExpired, ProcessPool
from scrapy import signals
from scrapy.http import HtmlResponse, Response
from twisted.internet.defer import Deferred

from backlinkspider.standards.extract import Fetched, Page, extract

logger = logging.getLogger(__name__)


class Extracted(NamedTuple):
    """A page's links within the link budget, and how many links the budget dropped."""

    page: Page
    long_urls: int = 0
    over_cap: int = 0


def limit_links(page: Page, max_links: int, max_url_length: int) -> Extracted:
    """The page without links longer than ``max_url_length`` and past the first ``max_links`` (0: no
    limit)."""
    links = page.links
    long_urls = 0
    if max_url_length:
        kept = [link for link in links if len(link.target_url) <= max_url_length]
        long_urls, links = len(links) - len(kept), kept
    over_cap = 0
    if max_links and len(links) > max_links:
        over_cap, links = len(links) - max_links, links[:max_links]
    if long_urls or over_cap:
        page = Page(page.url, links, page.nofollow, page.failed)
    return Extracted(page, long_urls, over_cap)


def fetched(response: Response) -> Fetched:
    """What the extractor reads of a Scrapy response."""
    headers = response.headers
    return Fetched(
        response.url,
        response.status,
        response.body,
        isinstance(response, HtmlResponse),
        headers.get(b"Content-Type"),
        headers.get(b"Location"),
        tuple(headers.getlist(b"X-Robots-Tag")),
    )


def page_of(response: Response) -> Page:
    """The links of a Scrapy response, extracted in this process."""
    return extract(fetched(response))


def extract_in_worker(response: Fetched, max_links: int, max_url_length: int) -> Extracted:
    """Run in a worker process: extract, apply the link budget."""
    return limit_links(extract(response), max_links, max_url_length)


def _worker_init() -> None:
    # Die at once when the pool terminates a worker stuck in C code (the parser), where a Python signal
    # handler would only run after the parse.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class ExtractionAbandoned(Exception):
    """A page's extraction ran out of time (``stat`` "timeouts") or its worker died ("crashes")."""

    def __init__(self, message: str, stat: str) -> None:
        super().__init__(message)
        self.stat = stat


class ExtractPool:
    """``BACKLINKS_EXTRACT_PROCESSES`` worker processes, started with the crawl and stopped with it."""

    def __init__(
        self,
        processes: int,
        timeout: float,
        max_links: int,
        max_url_length: int,
        crawler: Any = None,
    ) -> None:
        if processes < 1 or timeout <= 0:
            raise ValueError("BACKLINKS_EXTRACT_PROCESSES must be >= 1 and BACKLINKS_EXTRACT_TIMEOUT > 0")
        self.timeout = timeout
        self.max_links = max_links
        self.max_url_length = max_url_length
        self.crawler = crawler  # for its stats, which exist once the crawl starts
        # forkserver: workers start from a clean process that has imported the extractor once, not from a
        # fork of the crawler with its threads and sockets.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        # Any: pebble's annotations are partial (stop() has none).
        self.pool: Any = ProcessPool(max_workers=processes, initializer=_worker_init, context=context)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPool:
        """A pool whose workers start when the spider opens and stop when it closes."""
        s = crawler.settings
        pool = cls(
            s.getint("BACKLINKS_EXTRACT_PROCESSES"),
            s.getfloat("BACKLINKS_EXTRACT_TIMEOUT"),
            s.getint("BACKLINKS_MAX_LINKS_PER_PAGE"),
            s.getint("BACKLINKS_MAX_URL_LENGTH"),
            crawler,
        )
        crawler.signals.connect(pool.start, signal=signals.spider_opened)
        crawler.signals.connect(pool.close, signal=signals.spider_closed)
        return pool

    def submit(self, response: Response) -> Future[Extracted]:
        """Extract in a worker; the future fails with TimeoutError past the budget, ProcessExpired when
        the worker died."""
        future: Future[Extracted] = self.pool.schedule(
            extract_in_worker,
            args=(fetched(response), self.max_links, self.max_url_length),
            timeout=self.timeout,
        )
        return future

    def extract(self, response: Response) -> Deferred[Page]:
        """The page's links (within the link budget), as a Deferred fired on the reactor thread; it fails
        with ExtractionAbandoned when the page is abandoned."""
        from twisted.internet import reactor

        d: Deferred[Page] = Deferred()

        def done(future: Future[Extracted]) -> None:  # in one of the pool's threads
            try:
                result: Any = future.result()
            except TimeoutError:
                result = ExtractionAbandoned(f"extraction took more than {self.timeout:g} s", "timeouts")
            except ProcessExpired as exc:
                result = ExtractionAbandoned(
                    f"its extraction worker died (exit code {exc.exitcode})", "crashes"
                )
            except BaseException as exc:  # a bug in extract(): the spider's callback raises it
                result = exc
            reactor.callFromThread(self._fire, d, result)

        self.submit(response).add_done_callback(done)
        return d

    def _fire(self, d: Deferred[Page], result: Extracted | BaseException) -> None:
        stats = self.crawler.stats if self.crawler is not None else None
        if isinstance(result, BaseException):
            if isinstance(result, ExtractionAbandoned) and stats is not None:
                stats.inc_value(f"backlinks/extract_{result.stat}")
            d.errback(result)
            return
        if stats is not None:
            if result.long_urls:
                stats.inc_value("backlinks/long_urls", result.long_urls)
            if result.over_cap:
                stats.inc_value("backlinks/links_over_cap", result.over_cap)
        d.callback(result.page)

    def start(self) -> None:
        """Start the workers now (the pool starts them all with its first task), so that the first pages
        of the crawl do not wait for them."""
        self.pool.schedule(_worker_init)

    def close(self) -> None:
        """Stop the workers (a page still in one is abandoned)."""
        self.pool.stop()
        self.pool.join(timeout=10)
