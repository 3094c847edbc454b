"""Downloader middlewares."""

from __future__ import annotations

import collections
import hashlib
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future

from backlinkspider.frontier.connection import RedisFailed
from backlinkspider.frontier.defaults import BUDGET_KEY
from backlinkspider.standards.urls import host_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from backlinkspider.frontier.connection import Connection


# The cluster's budget of a host: a set of the pages paid for (8 bytes of each URL's SHA-1), kept a day.
_SPEND = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
local spent = redis.call('SCARD', KEYS[1])
if spent < tonumber(ARGV[2]) then
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3], 'NX')
end
return spent
"""


class HostBudgetMiddleware:
    """Fetch at most ``BACKLINKS_MAX_PAGES_PER_HOST`` pages per host, so endless URL spaces (calendars,
    faceted search, session IDs) end. Counts requests that reach the downloader, i.e. after the dupefilter
    and robots.txt, so duplicates and disallowed pages cost nothing. 0 turns it off.

    With ``REDIS_URL`` the count is the cluster's (a Redis set per host of the pages paid for, kept a
    day), so N workers together fetch no more than the budget, and a page fetched again after its worker
    died is not paid for twice; it is counted through the process's one Redis connection, off the reactor.
    """

    def __init__(self, budget: int, stats: Any, redis: Connection | None = None) -> None:
        self.budget = budget
        self.stats = stats
        self.redis = redis
        self.fetched: collections.Counter[str] = collections.Counter()
        self._script: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostBudgetMiddleware:
        budget = crawler.settings.getint("BACKLINKS_MAX_PAGES_PER_HOST")
        if budget <= 0:
            raise NotConfigured
        redis = None
        if crawler.settings.get("REDIS_URL"):
            from backlinkspider.frontier.connection import redis_for

            redis = redis_for(crawler)
        mw = cls(budget, crawler.stats, redis)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    def spider_opened(self, spider: Spider) -> None:
        # A resumable crawl (JOBDIR: backlinks crawl --resume) saves the counts with the spider's state,
        # so a resumed crawl does not spend each host's budget a second time.
        state = getattr(spider, "state", None)
        if isinstance(state, dict):
            self.fetched = state.setdefault("host_budget", self.fetched)

    def _spend(self, key: str, url: str) -> int:
        """Pages of the host's budget spent before this one; a URL already paid for (fetched again after
        its worker died) costs nothing, so a dead worker's pages are not refused on their second try."""
        assert self.redis is not None
        if self._script is None:
            self._script = self.redis.client.register_script(_SPEND)
        page = hashlib.sha1(url.encode()).digest()[:8]
        return int(self._script(keys=[key], args=[page, self.budget, 86400]))

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt"):  # robots.txt itself
            return
        host = host_of(request.url)
        if self.redis is not None:
            try:
                spent = await maybe_deferred_to_future(
                    self.redis.call(self._spend, BUDGET_KEY % host, request.url)
                )
            except RedisFailed as exc:  # the crawl is stopping (said once): a skip, not a failed page
                raise IgnoreRequest(str(exc)) from None
        else:
            spent = self.fetched[host]
            self.fetched[host] += 1
        if spent >= self.budget:
            self.stats.inc_value("backlinks/host_budget_exceeded")
            raise IgnoreRequest(f"host budget of {self.budget} pages spent on {host}")
