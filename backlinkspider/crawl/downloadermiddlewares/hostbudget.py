"""Downloader middlewares."""

from __future__ import annotations

import collections
import hashlib
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future

from backlinkspider.frontier.connection import RedisFailed
from backlinkspider.standards.urls import host_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from backlinkspider.frontier.connection import Connection
    from backlinkspider.frontier.queue import Frontier


class HostBudgetMiddleware:
    """Fetch at most ``BACKLINKS_MAX_PAGES_PER_HOST`` pages per host, so endless URL spaces (calendars,
    faceted search, session IDs) end. Counts requests that reach the downloader, i.e. after the dupefilter
    and robots.txt, so duplicates and disallowed pages cost nothing. 0 turns it off.

    With ``REDIS_URL`` the count is the cluster's (a Redis set per host of the pages paid for, in the
    host's frontier shard, kept for the crawl: it never resets), so N workers together fetch no more than
    the budget, and a page fetched again after its worker died is not paid for twice; it is counted
    through the process's one Redis connection, off the reactor. The frontier caps a host's queue at the
    budget left and drops it when the budget is spent (``frontier.queue``).
    """

    def __init__(self, budget: int, stats: Any, redis: Connection | None = None, shards: int = 1) -> None:
        self.budget = budget
        self.stats = stats
        self.redis = redis
        self.shards = shards
        self.fetched: collections.Counter[str] = collections.Counter()
        self._frontier: Frontier | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostBudgetMiddleware:
        budget = crawler.settings.getint("BACKLINKS_MAX_PAGES_PER_HOST")
        if budget <= 0:
            raise NotConfigured
        redis = None
        if crawler.settings.get("REDIS_URL"):
            from backlinkspider.frontier.connection import redis_for

            redis = redis_for(crawler)
        mw = cls(budget, crawler.stats, redis, crawler.settings.getint("BACKLINKS_FRONTIER_SHARDS"))
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    def spider_opened(self, spider: Spider) -> None:
        # A resumable crawl (JOBDIR: backlinks crawl --resume) saves the counts with the spider's state,
        # so a resumed crawl does not spend each host's budget a second time.
        state = getattr(spider, "state", None)
        if isinstance(state, dict):
            self.fetched = state.setdefault("host_budget", self.fetched)

    def _spend(self, host: str, url: str) -> int:
        """Pages of the host's budget spent before this one; a URL already paid for (fetched again after
        its worker died) costs nothing, so a dead worker's pages are not refused on their second try."""
        if self._frontier is None:
            from backlinkspider.frontier.dupefilter import SetDupeFilter
            from backlinkspider.frontier.queue import Frontier

            assert self.redis is not None  # the dupefilter is not used: spend touches the budget only
            self._frontier = Frontier(self.redis.client, "", SetDupeFilter(), self.shards, self.budget)
        return self._frontier.spend(host, hashlib.sha1(url.encode()).digest()[:8])

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt"):  # robots.txt itself
            return
        host = host_of(request.url)
        if self.redis is not None:
            from backlinkspider.frontier.queue import queue_host

            try:
                spent = await maybe_deferred_to_future(
                    self.redis.call(self._spend, queue_host(request.url), request.url)
                )
            except RedisFailed as exc:  # the crawl is stopping (said once): a skip, not a failed page
                raise IgnoreRequest(str(exc)) from None
        else:
            spent = self.fetched[host]
            self.fetched[host] += 1
        if spent >= self.budget:
            self.stats.inc_value("backlinks/host_budget_exceeded")
            raise IgnoreRequest(f"host budget of {self.budget} pages spent on {host}")
