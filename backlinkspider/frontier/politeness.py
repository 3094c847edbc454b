"""A per-host delay that holds across all workers: ``BACKLINKS_HOST_DELAY`` seconds between the starts
of two requests to one host, whichever workers send them.

Each request reserves the host's next free slot in one atomic script on Redis' clock (the earliest start
is max(now, the host's next slot), and the next slot moves one delay after it) and waits until its slot
comes. Scrapy's own per-process delay and AutoThrottle still apply on top.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Request
from scrapy.exceptions import NotConfigured

from backlinkspider.frontier import defaults
from backlinkspider.frontier.connection import connect
from backlinkspider.urls import host_of

# KEYS: host key. ARGV: delay (s). Returns how long to wait, in seconds, as a string.
_RESERVE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local slot = math.max(t, tonumber(redis.call('GET', KEYS[1]) or '0'))
local delay = tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.6f', slot + delay), 'PX', math.ceil((slot - t + delay) * 1000) + 1000)
return string.format('%.6f', slot - t)
"""


class ClusterPolitenessMiddleware:
    def __init__(self, server: Any, delay: float) -> None:
        self.delay = delay
        self._reserve = server.register_script(_RESERVE)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClusterPolitenessMiddleware:
        s = crawler.settings
        if not s.get("REDIS_URL") or s.getfloat("BACKLINKS_HOST_DELAY") <= 0:
            raise NotConfigured
        return cls(connect(s.get("REDIS_URL")), s.getfloat("BACKLINKS_HOST_DELAY"))

    async def process_request(self, request: Request) -> None:
        wait = float(self._reserve(keys=[defaults.HOST_KEY % host_of(request.url)], args=[self.delay]))
        if wait > 0:
            await asyncio.sleep(wait)
