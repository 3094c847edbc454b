"""Downloader middlewares."""

from __future__ import annotations

import collections
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured

from backlinkspider.urls import host_of


class HostBudgetMiddleware:
    """Fetch at most ``BACKLINKS_MAX_PAGES_PER_HOST`` pages per host, so endless URL spaces (calendars,
    faceted search, session IDs) end. Counts requests that reach the downloader, i.e. after the dupefilter
    and robots.txt, so duplicates and disallowed pages cost nothing. 0 turns it off."""

    def __init__(self, budget: int, stats: Any) -> None:
        self.budget = budget
        self.stats = stats
        self.fetched: collections.Counter[str] = collections.Counter()

    @classmethod
    def from_crawler(cls, crawler: Any) -> HostBudgetMiddleware:
        budget = crawler.settings.getint("BACKLINKS_MAX_PAGES_PER_HOST")
        if budget <= 0:
            raise NotConfigured
        return cls(budget, crawler.stats)

    def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt"):  # robots.txt itself
            return
        host = host_of(request.url)
        if self.fetched[host] >= self.budget:
            self.stats.inc_value("backlinks/host_budget_exceeded")
            raise IgnoreRequest(f"host budget of {self.budget} pages spent on {host}")
        self.fetched[host] += 1
