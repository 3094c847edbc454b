"""The ``backlinks`` spider: fetch pages from seeds outward, hand each page's links to the pipelines and
follow them. What is not the spider's own is a component of its own, listed in settings.py: the trap
guard is a spider middleware that judges the links the spider would follow, the User-Agent comes from the
add-on (backlinkspider/crawl/addon.py).

It reads 3xx responses itself (``REDIRECT_ENABLED`` is off) so that a redirect is an edge of the index
even when its target was already crawled or is disallowed by robots.txt, and then follows it like a link.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.error import (
    ConnectError,
    ConnectionDone,
    ConnectionLost,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from backlinkspider.crawl.extraction import ExtractionAbandoned, ExtractPool
from backlinkspider.crawl.seeds import read_seeds
from backlinkspider.crawl.signals import pages_done
from backlinkspider.records import PageStatus
from backlinkspider.standards.extract import REDIRECT, Link, Page
from backlinkspider.standards.urls import BadURL, host_of, registered_domain, use_suffix_list

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

_SKIPPED_SUFFIXES = tuple(f".{ext}" for ext in IGNORED_EXTENSIONS)
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")
# Network failures by kind (Twisted's errors, as Scrapy's downloader raises them), first match wins.
_FAILURE_KINDS: tuple[tuple[str, tuple[type[BaseException], ...]], ...] = (
    ("dns", (DNSLookupError,)),
    ("timeout", (TimeoutError, TCPTimedOutError, ResponseNeverReceived)),
    ("connection", (ConnectError, ConnectionLost, ConnectionDone, ResponseFailed)),
)
_SMALL_BODY = 256 * 1024  # bytes; more than one socket read, so never complete with the headers


class BadArgument(ValueError):
    """A spider argument (``-a NAME=VALUE``) that cannot be used; the message is one line for a person."""


class Arguments(NamedTuple):
    """The spider's arguments, checked and converted (see ``BacklinksSpider``)."""

    seeds: list[str]
    bad_seed_lines: list[str]
    max_depth: int | None
    max_pages: int | None
    recrawl: bool


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def arguments(
    seeds: str | Iterable[str] | None = None,
    seeds_file: str | None = None,
    max_depth: str | int | None = None,
    max_pages: str | int | None = None,
    recrawl: str | bool = False,
) -> Arguments:
    """Check and convert the spider's arguments; BadArgument names the one that is wrong. ``scrapy
    crawl`` calls this before it starts, so a bad argument is one line (backlinkspider/crawl/commands)."""
    try:
        read = read_seeds(seeds, seeds_file)
    except BadURL as exc:
        raise BadArgument(f"seeds: {exc}") from None
    except OSError as exc:
        raise BadArgument(f"seeds_file: cannot read {seeds_file}: {exc.strerror}") from None
    flag = str(recrawl).strip().lower()
    if flag not in _TRUE + _FALSE:
        raise BadArgument(f"recrawl must be true or false, not {recrawl!r}")
    return Arguments(
        read.urls,
        read.bad_lines,
        _whole_number("max_depth", max_depth, 0),
        _whole_number("max_pages", max_pages, 1),
        flag in _TRUE,
    )


def _whole_number(name: str, value: str | int | None, minimum: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise BadArgument(f"{name} must be a whole number >= {minimum}, not {value!r}")
    return number


def failure_status(failure: Failure) -> PageStatus:
    """Why a fetch failed, as the index keeps it: the HTTP status of an error answer, else the kind of
    network failure."""
    error = failure.value
    if isinstance(error, HttpError):
        return int(error.response.status)
    return next((kind for kind, errors in _FAILURE_KINDS if isinstance(error, errors)), "error")


def server_address(response: Response) -> str | None:
    """The address the crawl connected to for ``response`` (``Response.ip_address``), None through a
    proxy: then it is the proxy's, not the server's. ``meta["proxy"]`` is set for a proxy asked for
    per request and, by Scrapy's HttpProxyMiddleware, for one from the environment (``http_proxy``)."""
    if response.meta.get("proxy") or response.ip_address is None:
        return None
    return str(response.ip_address)  # ipaddress' canonical spelling


class BacklinksSpider(Spider):
    """Crawl from seeds; every page becomes a ``Page`` item (backlinkspider/standards/extract.py).

    Arguments (``-a NAME=VALUE``): ``seeds`` (comma-separated URLs), ``seeds_file`` (one URL a line),
    ``max_depth`` (links from the seeds to follow: 0 = seeds only; default unlimited), ``max_pages``
    (stop after about this many pages; pages already in flight finish; default unlimited), ``recrawl``
    (any true value: re-visit the pages already in the index, least recently crawled first, following
    only their redirects; needs no seeds).
    """

    name = "backlinks"
    # 3xx responses come to parse() (see the module docstring).
    handle_httpstatus_list: ClassVar[list[int]] = [301, 302, 303, 307, 308]
    # Read from the settings in from_crawler.
    scope: str
    follow_nofollow: bool
    extraction: ExtractPool
    resumed: bool = False

    def __init__(
        self,
        seeds: str | None = None,
        seeds_file: str | None = None,
        max_depth: str | int | None = None,
        max_pages: str | int | None = None,
        recrawl: str | bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        args = arguments(seeds, seeds_file, max_depth, max_pages, recrawl)
        for line in args.bad_seed_lines:
            self.logger.warning("skipped seed: %s", line)
        self.seeds, self.recrawl, self.max_pages = args.seeds, args.recrawl, args.max_pages
        self.max_depth = 0 if self.recrawl else args.max_depth
        self.seed_domains = {registered_domain(host_of(u)) for u in self.seeds}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> BacklinksSpider:
        settings = crawler.settings
        # Before the seeds' sites are computed (in __init__).
        use_suffix_list(settings.get("BACKLINKS_PSL_FILE") or None)
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.max_pages:
            # Each fetched page yields exactly one item, so Scrapy's item count is our page count.
            settings.set("CLOSESPIDER_ITEMCOUNT", spider.max_pages, priority="spider")
        spider.scope = settings.get("BACKLINKS_SCOPE")
        # A crawl resumed from a job directory has fetched its seeds before (Scrapy's dupefilter keeps
        # requests.seen there).
        jobdir = settings.get("JOBDIR")
        spider.resumed = bool(jobdir) and Path(jobdir, "requests.seen").exists()
        spider.follow_nofollow = settings.getbool("BACKLINKS_FOLLOW_NOFOLLOW")
        crawler.signals.connect(spider.headers_received, signal=signals.headers_received)
        spider.extraction = ExtractPool.from_crawler(crawler)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        if self.recrawl:
            from backlinkspider.index import open_index

            if await self._recrawl_queued_by_another():
                return

            settings = self.crawler.settings
            with open_index(settings.get("BACKLINKS_INDEX"), create=False, settings=settings) as index:
                urls = list(index.pages_to_recrawl(self.max_pages))
            self.logger.info("re-crawling %d pages", len(urls))
            for i, url in enumerate(urls):  # the least recently crawled first; crawled before, so dont_filter
                yield self.request(url, 0, priority=len(urls) - i, dont_filter=True)
            return
        if not self.seeds and not self.crawler.settings.get("REDIS_URL"):
            self.logger.error("no seeds: pass -a seeds=URL[,URL...] or -a seeds_file=PATH")
        for url in self.seeds:
            yield self.request(url, 0)

    async def _recrawl_queued_by_another(self) -> bool:
        """In a cluster the first worker queues the recrawl, once (a marker in Redis, kept for the
        crawl); the others crawl what it queued. Asked once, off the reactor, failing fast: a Redis
        that cannot be reached is the scheduler's to report (it crawls nothing)."""
        url = self.crawler.settings.get("REDIS_URL")
        if not url:
            return False
        import os
        import socket
        import time

        import redis
        from twisted.internet.threads import deferToThread

        from backlinkspider.frontier.connection import RedisUnavailable, connect_once, one_line
        from backlinkspider.frontier.queue import claim_recrawl

        me = f"{socket.gethostname()}:{os.getpid()} at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"

        def claim() -> str:
            with connect_once(url) as client:
                return claim_recrawl(client, me)

        try:
            holder = await maybe_deferred_to_future(deferToThread(claim))
        except RedisUnavailable:
            return True
        except redis.RedisError as exc:  # OOM, BUSY ...: not worth a retry loop at start
            self.logger.error("the recrawl was not queued: Redis answered %s", one_line(exc))
            return True
        if holder:
            self.logger.info("the cluster's recrawl was queued by %s; crawling it", holder)
        return bool(holder)

    def failure(self) -> str | None:
        """Why this finished crawl must exit non-zero, in one line; None when it ran to its end and
        every page it fetched is in the index. A cluster worker closing idle is a normal end."""
        stats = self.crawler.stats
        assert stats is not None
        reason = stats.get_value("finish_reason")
        pages = stats.get_value("backlinks/pages", 0) + stats.get_value("backlinks/errors", 0)
        lost = stats.get_value("backlinks/pages_not_indexed", 0)
        if lost:
            return f"{lost:,} of {pages:,} pages fetched were not indexed (see the errors above)"
        if reason == "frontier_unavailable":
            return "the cluster frontier could not be used (see the error above); nothing was crawled"
        if reason == "shutdown":
            resume = self.crawler.settings.get("JOBDIR")
            hint = (
                "run the same command to resume" if resume else "use --resume DIR to make a crawl resumable"
            )
            return f"crawl interrupted after {pages:,} pages ({hint})"
        if reason not in ("finished", "closespider_itemcount"):
            return f"crawl ended early: {reason}"
        cluster = self.crawler.settings.get("REDIS_URL")  # its seeds may have been crawled by others
        if self.seeds and not stats.get_value("backlinks/pages", 0) and not (self.resumed or cluster):
            return f"nothing was fetched from the {len(self.seeds):,} seed URL(s) (see the errors above)"
        return None

    async def parse(self, response: Response) -> AsyncIterator[Page | Request]:
        self.crawler.stats.inc_value("backlinks/pages")
        try:
            page = await maybe_deferred_to_future(self.extraction.extract(response))
        except ExtractionAbandoned as exc:
            # A skip like a robots.txt refusal: what the index knows of the page stays as it is.
            self.logger.warning("abandoned %s: %s", response.url, exc)
            self.crawler.signals.send_catch_log(pages_done, urls=[response.url])
            return
        depth = response.meta.get("depth", 0)
        for link in page.links:
            next_depth = depth if link.link_type == REDIRECT else depth + 1
            # TrapMiddleware drops those that lead into a trap (crawl/spidermiddlewares/traps.py).
            if self._should_follow(link, next_depth):
                yield self.request(link.target_url, next_depth)
        page.ip_address = server_address(response)
        # After its links: the cluster frontier completes a page's lease with the push of the links
        # enqueued before the index has the page, so a worker killed in between loses none.
        yield page

    def on_error(self, failure: Failure) -> Iterable[Page]:
        """A page that could not be fetched (an HTTP error, a gone host) is a failed page for the index;
        robots.txt and budget refusals are skips, not errors."""
        if isinstance(failure.value, IgnoreRequest) and not isinstance(failure.value, HttpError):
            self.crawler.stats.inc_value("backlinks/skipped")
            self.crawler.signals.send_catch_log(pages_done, urls=[failure.request.url])  # type: ignore[attr-defined]
            return
        self.crawler.stats.inc_value("backlinks/errors")
        error = failure.value
        address = server_address(error.response) if isinstance(error, HttpError) else None
        yield Page(failure.request.url, failed=True, status=failure_status(failure), ip_address=address)  # type: ignore[attr-defined]

    def headers_received(self, headers: Headers, body_length: int, request: Request, spider: Spider) -> None:
        """Stop downloading a large body we will not parse (images, PDFs, archives ...) of our own
        requests (not robots.txt, which is plain text).

        Only bodies known to be large are stopped: a small one that arrived with its headers has already
        freed its connection for the next request, and stopping would close that connection under it
        (Twisted then sends that request again). DOWNLOAD_MAXSIZE bounds the rest.
        """
        if request.callback != self.parse or not isinstance(body_length, int) or body_length <= _SMALL_BODY:
            return
        content_type = headers.get(b"Content-Type")
        if content_type and not content_type.lower().startswith(_HTML_TYPES):
            raise StopDownload(fail=False)

    def request(
        self, url: str, depth: int, priority: int | None = None, dont_filter: bool = False
    ) -> Request:
        """The request for a normalized URL at a depth; breadth first unless a priority is given.

        verbatim_url: send our WHATWG-normalized URL as is, so response.url (the source of the page's
        edges) is spelled exactly as the links that point to it.
        """
        meta = {"depth": depth, "verbatim_url": True}
        priority = -depth if priority is None else priority
        return Request(
            url, self.parse, errback=self.on_error, meta=meta, priority=priority, dont_filter=dont_filter
        )

    def _should_follow(self, link: Link, depth: int) -> bool:
        url = link.target_url
        if self.max_depth is not None and depth > self.max_depth:
            return False
        if link.nofollow and not self.follow_nofollow:
            return False
        if url.split("?", 1)[0].lower().endswith(_SKIPPED_SUFFIXES):
            return False
        return not (self.scope == "seeds" and registered_domain(host_of(url)) not in self.seed_domains)
