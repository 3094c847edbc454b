"""Crawler traps: endless URL spaces (calendars, paginations without end, counters in paths) recognized long
before they cost a host its whole page budget (``BACKLINKS_MAX_PAGES_PER_HOST``, the backstop).

Two rules decide, for every link the spider would follow, whether it is a trap:

1. **Repeated segments**: a path that repeats one segment ``BACKLINKS_MAX_SEGMENT_REPEATS`` times
   (``/tag/tag/tag/``: relative links that stack up) is not followed (``backlinks/trap_urls``).
2. **The shape window** (after Heritrix's hop counting, per URL pattern): a URL's *shape* is its path and
   query with every token that holds a digit replaced by ``#`` (``/cal/2026-11`` -> ``/cal/#-#``,
   ``/archive/2024-03/msg00042.html`` -> ``/archive/#-#/#.html``). For each (host, shape) the least depth
   (link hops from the seeds) at which a link of that shape was seen is kept, and a URL more than
   ``BACKLINKS_TRAP_HOPS`` hops deeper than that is not followed (``backlinks/trap_hops``, logged once per
   host and shape). A calendar whose every month links the next reaches month k at depth k, so it ends
   after ``BACKLINKS_TRAP_HOPS`` pages; a numbered archive, every page of it a few links from its index,
   is never that much deeper than its first page, and loses nothing. Content that is only reachable
   through a chain of more than ``BACKLINKS_TRAP_HOPS`` same-shape pages (a pagination with only "next"
   links) is cut there, like a trap.

A shape without ``#`` names a single URL (which the dupefilter already sees once) and is not kept. With
``REDIS_URL`` the least depths live in Redis, one hash per host kept for a day, so every worker of a
cluster applies the same window; without it, in memory (the most recently used shapes, a bounded number).

``TrapMiddleware`` applies the rules as a spider middleware: to the requests a callback yields for one
page, judged together (one Redis round trip per page).
"""

from __future__ import annotations

import collections
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from scrapy import Request, signals
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future

from backlinkspider.standards.urls import host_of

logger = logging.getLogger(__name__)

TRAP_KEY_SECONDS = 86400
LOCAL_SHAPES = 200_000  # shapes kept in memory without Redis (about 30 MB)

# A token: what lies between URL delimiters. One holding a digit is a number, a date, an id: a variable.
_VARIABLE = re.compile(r"[^/?&=;,.\-_+~]*[0-9][^/?&=;,.\-_+~]*")

# Lower the stored depth of each (hash KEYS[i], field ARGV[2i-1]) to ARGV[2i] if that is less, and return
# the stored depths; ARGV[#ARGV] is the hashes' lifetime in seconds.
_LOWER_SCRIPT = """
local ttl = ARGV[#ARGV]
local out = {}
for i = 1, #KEYS do
  local field, depth = ARGV[2 * i - 1], tonumber(ARGV[2 * i])
  local least = tonumber(redis.call('HGET', KEYS[i], field))
  if not least or depth < least then
    redis.call('HSET', KEYS[i], field, depth)
    least = depth
  end
  redis.call('EXPIRE', KEYS[i], ttl, 'NX')
  out[i] = least
end
return out
"""


def url_shape(url: str) -> str | None:
    """The path and query of a normalized URL with every token holding a digit as ``#``; None when there
    is no such token (the shape is the URL itself)."""
    rest = url.split("/", 3)[3] if url.count("/") >= 3 else ""
    shape, variables = _VARIABLE.subn("#", rest)
    return "/" + shape if variables else None


def repeats_a_segment(url: str, max_repeats: int) -> bool:
    """True when one segment of the URL's path occurs ``max_repeats`` times or more (0: never)."""
    if not max_repeats:
        return False
    path = url.split("/", 3)[3].split("?", 1)[0] if url.count("/") >= 3 else ""
    counts = collections.Counter(seg for seg in path.split("/") if seg)
    return bool(counts) and max(counts.values()) >= max_repeats


class LocalDepths:
    """Least depths in this process, for the ``LOCAL_SHAPES`` most recently used (host, shape) pairs."""

    def __init__(self, capacity: int = LOCAL_SHAPES) -> None:
        self.capacity = capacity
        self.depths: collections.OrderedDict[tuple[str, str], int] = collections.OrderedDict()

    def lower(self, entries: Sequence[tuple[str, str, int]]) -> list[int]:
        out = []
        for host, shape, depth in entries:
            key = (host, shape)
            least = min(self.depths.get(key, depth), depth)
            self.depths[key] = least
            self.depths.move_to_end(key)
            out.append(least)
        while len(self.depths) > self.capacity:
            self.depths.popitem(last=False)
        return out


class RedisDepths:
    """Least depths shared by a cluster's workers: a hash per host in its frontier shard (so that a Redis
    Cluster serves them), one round trip per page and shard its links go to."""

    def __init__(self, server: Any, shards: int) -> None:
        self.script = server.register_script(_LOWER_SCRIPT)
        self.shards = shards

    def lower(self, entries: Sequence[tuple[str, str, int]]) -> list[int]:
        from backlinkspider.frontier import defaults

        by_shard: dict[int, list[int]] = {}
        for i, (host, _, _) in enumerate(entries):
            by_shard.setdefault(defaults.shard_of(host, self.shards), []).append(i)
        out = [0] * len(entries)
        for shard, indexes in by_shard.items():
            keys = [defaults.shard_key(shard, defaults.HOST_TRAPS + entries[i][0]) for i in indexes]
            args: list[Any] = [x for i in indexes for x in entries[i][1:]]
            for i, depth in zip(indexes, self.script(keys=keys, args=[*args, TRAP_KEY_SECONDS]), strict=True):
                out[i] = int(depth)
        return out


class TrapGuard:
    """Applies both rules (see the module docstring) to the links of one page at a time."""

    def __init__(self, max_repeats: int, hops: int, depths: Any = None, crawler: Any = None) -> None:
        self.max_repeats = max_repeats
        self.hops = hops
        self.depths = depths if depths is not None else LocalDepths()
        self.crawler = crawler  # for its stats, which exist once the crawl starts
        self.logged: set[tuple[str, str]] = set()
        self.connection: Any = None  # the cluster's Redis connection (share_depths)

    @classmethod
    def from_crawler(cls, crawler: Any) -> TrapGuard:
        s = crawler.settings
        guard = cls(s.getint("BACKLINKS_MAX_SEGMENT_REPEATS"), s.getint("BACKLINKS_TRAP_HOPS"), None, crawler)
        if s.get("REDIS_URL"):
            crawler.signals.connect(guard.share_depths, signal=signals.spider_opened)
        return guard

    def share_depths(self) -> None:
        """In a cluster, keep the least depths in Redis: one call per page on the process's one Redis
        connection (the frontier's, made once the reactor runs), off the reactor and retried through
        Redis outages."""
        from backlinkspider.frontier.connection import redis_for

        self.connection = redis_for(self.crawler)
        self.depths = RedisDepths(
            self.connection.client, self.crawler.settings.getint("BACKLINKS_FRONTIER_SHARDS")
        )

    async def allowed(self, links: Iterable[tuple[str, int]]) -> list[bool]:
        """For each (URL, depth) the spider would follow, whether it may be followed."""
        links = list(links)
        verdicts = [not repeats_a_segment(url, self.max_repeats) for url, _ in links]
        self._count("backlinks/trap_urls", verdicts.count(False))
        if not self.hops:
            return verdicts
        tracked = []  # (index, host, shape, depth)
        for i, (url, depth) in enumerate(links):
            shape = url_shape(url) if verdicts[i] else None
            if shape is not None:
                tracked.append((i, host_of(url), shape, depth))
        if not tracked:
            return verdicts
        entries = [(host, shape, depth) for _, host, shape, depth in tracked]
        if self.connection is None:
            least = self.depths.lower(entries)
        else:
            from backlinkspider.frontier.connection import RedisFailed

            try:
                least = await maybe_deferred_to_future(self.connection.call(self.depths.lower, entries))
            except RedisFailed:  # the crawl is stopping (said once): nothing more to follow
                return [False] * len(links)
        refused = 0
        for (i, host, shape, depth), first in zip(tracked, least, strict=True):
            if depth > first + self.hops:
                verdicts[i] = False
                refused += 1
                if (host, shape) not in self.logged:
                    self.logged.add((host, shape))
                    logger.info(
                        "trap on %s: not following %s more than %d hops deeper than its first link (depth %d)",
                        host,
                        shape,
                        self.hops,
                        first,
                    )
        self._count("backlinks/trap_hops", refused)
        return verdicts

    def _count(self, key: str, n: int) -> None:
        if n and self.crawler is not None:
            self.crawler.stats.inc_value(key, n)


class TrapMiddleware:
    """Drops the requests of a callback's output that lead into a trap (``TrapGuard``), judged per page
    when the callback is done. The requests go on in the order it yielded them, then its items: the
    cluster frontier completes a page's lease with the push of the links enqueued before the index has
    the page, so a worker killed in between loses none of them."""

    def __init__(self, guard: TrapGuard) -> None:
        self.guard = guard

    @classmethod
    def from_crawler(cls, crawler: Any) -> TrapMiddleware:
        return cls(TrapGuard.from_crawler(crawler))

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        follow: list[Request] = []
        items: list[Any] = []
        async for out in result:
            (follow if isinstance(out, Request) else items).append(out)
        verdicts = await self.guard.allowed((r.url, r.meta.get("depth", 0)) for r in follow)
        for request, allowed in zip(follow, verdicts, strict=True):
            if allowed:
                yield request
        for item in items:
            yield item
