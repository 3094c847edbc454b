"""The ``backlinks`` spider: fetch pages from seeds outward, hand each page's links to the pipelines and
follow them.

It reads 3xx responses itself (``REDIRECT_ENABLED`` is off) so that a redirect is an edge of the index
even when its target was already crawled or is disallowed by robots.txt, and then follows it like a link.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, ClassVar

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.misc import load_object
from twisted.python.failure import Failure

from backlinkspider import __version__
from backlinkspider.extract import REDIRECT, Link, Page, extract
from backlinkspider.signals import pages_done
from backlinkspider.urls import BadURL, host_of, normalize, registered_domain

_SKIPPED_SUFFIXES = tuple(f".{ext}" for ext in IGNORED_EXTENSIONS)
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")
_SMALL_BODY = 256 * 1024  # bytes; more than one socket read, so never complete with the headers


def read_seeds(seeds: str | Iterable[str] | None = None, seeds_file: str | None = None) -> list[str]:
    """Normalized seed URLs from a comma-separated string or list, and a file of one URL a line.

    Raises BadURL (with the offending line) or OSError for an unreadable file.
    """
    if isinstance(seeds, str):
        seeds = seeds.split(",")
    raw = [s for s in (seeds or []) if s.strip()]
    if seeds_file:
        lines = Path(seeds_file).read_text(encoding="utf-8").splitlines()
        raw += [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return list(dict.fromkeys(normalize(s) for s in raw))


def looks_like_trap(url: str, max_length: int, max_repeats: int) -> bool:
    """True for URLs that endless URL spaces generate: too long, or a path segment repeated again and
    again (relative links that stack up: /a/b/a/b/a/b/...)."""
    if max_length and len(url) > max_length:
        return True
    if max_repeats:
        path = url.split("/", 3)[3].split("?", 1)[0] if url.count("/") >= 3 else ""
        counts = collections.Counter(seg for seg in path.split("/") if seg)
        if counts and max(counts.values()) >= max_repeats:
            return True
    return False


class NetworkErrorsOnOneLine(logging.Filter):
    """Scrapy logs a full traceback when robots.txt cannot be fetched: on a broad crawl, where dead hosts
    are routine, that floods the log. For network errors (Scrapy's RETRY_EXCEPTIONS) keep the one line."""

    def __init__(self, network_errors: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.network_errors = network_errors

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.network_errors):
            record.exc_info = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class BacklinksSpider(Spider):
    """Crawl from seeds; every page becomes an ``extract.Page`` item.

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
    max_url_length: int
    max_segment_repeats: int

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
        try:
            self.seeds = read_seeds(seeds, seeds_file)
        except (BadURL, OSError) as exc:
            self.logger.error("bad seeds, nothing to crawl: %s", exc)
            self.seeds = []
        self.recrawl = str(recrawl).lower() in ("1", "true", "yes", "on")
        self.max_depth = 0 if self.recrawl else None if max_depth in (None, "") else int(max_depth)
        self.max_pages = None if max_pages in (None, "") else int(max_pages)
        if (self.max_depth is not None and self.max_depth < 0) or (
            self.max_pages is not None and self.max_pages < 1
        ):
            raise ValueError("max_depth must be >= 0 and max_pages >= 1")
        self.seed_domains = {registered_domain(host_of(u)) for u in self.seeds}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> BacklinksSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        if spider.max_pages:
            # Each fetched page yields exactly one item, so Scrapy's item count is our page count.
            settings.set("CLOSESPIDER_ITEMCOUNT", spider.max_pages, priority="spider")
        contact = settings.get("BACKLINKS_CONTACT_URL")
        settings.set("USER_AGENT", f"backlinkspider/{__version__} (+{contact})", priority="project")
        spider.scope = settings.get("BACKLINKS_SCOPE")
        if spider.scope not in ("all", "seeds"):
            raise ValueError(f"BACKLINKS_SCOPE must be 'all' or 'seeds', not {spider.scope!r}")
        spider.follow_nofollow = settings.getbool("BACKLINKS_FOLLOW_NOFOLLOW")
        spider.max_url_length = settings.getint("BACKLINKS_MAX_URL_LENGTH")
        spider.max_segment_repeats = settings.getint("BACKLINKS_MAX_SEGMENT_REPEATS")
        crawler.signals.connect(spider.headers_received, signal=signals.headers_received)
        network_errors = tuple(
            e if isinstance(e, type) else load_object(e) for e in settings.getlist("RETRY_EXCEPTIONS")
        )
        logging.getLogger("scrapy.downloadermiddlewares.robotstxt").addFilter(
            NetworkErrorsOnOneLine(network_errors)
        )
        return spider

    async def start(self) -> AsyncIterator[Request]:
        if self.recrawl:
            from backlinkspider.index import open_index

            with open_index(self.crawler.settings.get("BACKLINKS_INDEX"), create=False) as index:
                urls = list(index.pages_to_recrawl(self.max_pages))
            self.logger.info("re-crawling %d pages", len(urls))
            for i, url in enumerate(urls):  # the least recently crawled first; crawled before, so dont_filter
                yield self.request(url, 0, priority=len(urls) - i, dont_filter=True)
            return
        if not self.seeds and not self.crawler.settings.get("REDIS_URL"):
            self.logger.error("no seeds: pass -a seeds=URL[,URL...] or -a seeds_file=PATH")
        for url in self.seeds:
            yield self.request(url, 0)

    def parse(self, response: Any) -> Iterable[Any]:
        self.crawler.stats.inc_value("backlinks/pages")
        page = extract(response)
        yield page
        depth = response.meta.get("depth", 0)
        for link in page.links:
            next_depth = depth if link.link_type == REDIRECT else depth + 1
            if self._should_follow(link, next_depth):
                yield self.request(link.target_url, next_depth)

    def on_error(self, failure: Failure) -> Iterable[Page]:
        """A page that could not be fetched (an HTTP error, a gone host) is a failed page for the index;
        robots.txt and budget refusals are skips, not errors."""
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            self.crawler.stats.inc_value("backlinks/skipped")
            self.crawler.signals.send_catch_log(pages_done, urls=[failure.request.url])  # type: ignore[attr-defined]
            return
        self.crawler.stats.inc_value("backlinks/errors")
        yield Page(failure.request.url, failed=True)  # type: ignore[attr-defined]

    def headers_received(self, headers: Any, body_length: int, request: Request, spider: Spider) -> None:
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
        if self.scope == "seeds" and registered_domain(host_of(url)) not in self.seed_domains:
            return False
        if looks_like_trap(url, self.max_url_length, self.max_segment_repeats):
            self.crawler.stats.inc_value("backlinks/trap_urls")
            return False
        return True
