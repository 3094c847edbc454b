"""The Scrapy scheduler of a cluster worker (used when ``REDIS_URL`` is set).

Requests the spider yields are buffered and pushed in batches: one script call checks a whole batch
against the dupefilter and queues the new ones. ``next_request`` leases a few entries at a time. The
scheduler also keeps the worker's part of the cluster going: it reaps expired leases, publishes this
worker's figures for ``backlinks status``, completes leases when pages are indexed (``pages_done``), and
keeps an idle worker open for ``BACKLINKS_IDLE_TIMEOUT`` seconds (0 = forever) waiting for work.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections import deque
from typing import Any

import redis
from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from twisted.internet.task import LoopingCall

from backlinkspider.frontier import defaults, dupefilter, serializer
from backlinkspider.frontier.connection import connect
from backlinkspider.frontier.queue import LeasedQueue
from backlinkspider.signals import pages_done

logger = logging.getLogger(__name__)
_POP_BATCH = 8
_LEASED = "_frontier_leased"  # meta flag: already leased, goes straight to this worker's local queue


def lease_id(entry: bytes) -> str | bytes:
    """The id the pop script leased an entry under: its URL, or for a malformed entry the entry itself."""
    try:
        obj = json.loads(entry)
        if isinstance(obj, dict) and isinstance(obj.get("u"), str):
            return obj["u"]
    except (ValueError, UnicodeDecodeError):
        pass
    return entry


class RedisScheduler:
    def __init__(self, crawler: Any, server: redis.Redis) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.server = server
        self.queue = LeasedQueue(server, s.getint("BACKLINKS_LEASE_SECONDS"))
        self.dupefilter = dupefilter.from_settings(server, s)
        self.batch_size = s.getint("BACKLINKS_FRONTIER_BATCH")
        self.idle_timeout = s.getfloat("BACKLINKS_IDLE_TIMEOUT")
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.pending: list[dupefilter.Item] = []
        self.local: deque[Request] = deque()
        self.last_work = time.monotonic()
        self.started = time.time()
        self._queued_at = 0.0
        self._queued = 0
        self.ticker = LoopingCall(self.heartbeat)
        self.poller = LoopingCall(self.poll)
        crawler.signals.connect(self.on_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.on_pages_done, signal=pages_done)

    @classmethod
    def from_crawler(cls, crawler: Any) -> RedisScheduler:
        return cls(crawler, connect(crawler.settings.get("REDIS_URL")))

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.reap()
        self.ticker.start(defaults.HEARTBEAT_SECONDS, now=True)
        self.poller.start(1.0, now=False)

    def close(self, reason: str) -> None:
        self.flush()
        # Entries leased but not started go back to the queue now, not when their lease expires.
        if self.local:
            back = [
                (r.url, serializer.dumps(r.url, r.meta.get("depth", 0), r.priority), -r.priority)
                for r in self.local
            ]
            pipe = self.server.pipeline(transaction=False)
            for _, entry, score in back:
                pipe.zadd(defaults.QUEUE_KEY, {entry: score})
            pipe.execute()
            self.queue.complete(url for url, _, _ in back)
        for loop in (self.ticker, self.poller):
            if loop.running:
                loop.stop()
        self.server.delete(defaults.WORKER_KEY % self.worker)

    def enqueue_request(self, request: Request) -> bool:
        if request.meta.pop(_LEASED, False):  # see poll()
            self.local.appendleft(request)
            return True
        entry = serializer.dumps(request.url, request.meta.get("depth", 0), request.priority)
        fingerprint = self.crawler.request_fingerprinter.fingerprint(request)
        self.pending.append((fingerprint, -request.priority, entry))
        if len(self.pending) >= self.batch_size:
            self.flush()
        return True

    def flush(self) -> None:
        if self.pending:
            new = self.dupefilter.push_new(self.pending)
            self.stats.inc_value("frontier/pushed", new)
            self.stats.inc_value("frontier/duplicates", len(self.pending) - new)
            self.pending = []

    def next_request(self) -> Request | None:
        self.flush()
        if not self.local:
            self.lease()
        if self.local:
            self.last_work = time.monotonic()
            self.stats.inc_value("frontier/leased")
            return self.local.popleft()
        return None

    def lease(self) -> None:
        """Lease a few entries from the shared queue into this worker."""
        for entry in self.queue.pop(_POP_BATCH):
            try:
                url, depth, priority = serializer.loads(entry)
            except serializer.BadEntry as exc:
                self.drop(entry, exc)
                continue
            self.local.append(self.spider.request(url, depth, priority))

    def poll(self) -> None:
        """An idle engine asks its scheduler only every few seconds; when other workers have queued work,
        lease some and hand one to the engine, which wakes it at once."""
        if self.local or self.pending or self.crawler.engine is None:
            return
        try:
            self.lease()
        except redis.RedisError as exc:
            logger.error("frontier poll failed: %s", exc)
            return
        if self.local:
            request = self.local.popleft()
            request.meta[_LEASED] = True
            self.crawler.engine.crawl(request)

    def has_pending_requests(self) -> bool:
        if self.pending or self.local:
            return True
        now = time.monotonic()
        if now - self._queued_at > 1.0:  # the engine asks often; Redis is asked once a second
            self._queued, self._queued_at = self.queue.size(), now
        return self._queued > 0

    def __len__(self) -> int:
        return len(self.pending) + len(self.local) + self.queue.size()

    def drop(self, entry: bytes, exc: Exception) -> None:
        """A malformed or hostile entry: logged, counted, dropped; never run."""
        logger.error("dropped a bad frontier entry (%s): %r", exc, entry[:200])
        self.stats.inc_value("frontier/dropped")
        self.server.incr(defaults.DROPPED_KEY)
        self.queue.complete([lease_id(entry)])

    def reap(self) -> None:
        back = self.queue.reap()
        if back:
            logger.warning("%d expired leases put back in the frontier", back)
            self.stats.inc_value("frontier/reaped", back)

    def heartbeat(self) -> None:
        try:
            self.reap()
            stats = self.stats
            elapsed = max(time.time() - self.started, 1e-9)
            pages = stats.get_value("backlinks/pages", 0) + stats.get_value("backlinks/errors", 0)
            key = defaults.WORKER_KEY % self.worker
            self.server.hset(
                key,
                mapping={
                    "pages": pages,
                    "links": stats.get_value("backlinks/edges_written", 0),
                    "errors": stats.get_value("backlinks/errors", 0),
                    "pages_per_s": round(pages / elapsed, 2),
                    "started": int(self.started),
                },
            )
            self.server.expire(key, defaults.HEARTBEAT_SECONDS * 3)
        except redis.RedisError as exc:
            logger.error("frontier heartbeat failed: %s", exc)

    def on_pages_done(self, urls: list[str]) -> None:
        self.queue.complete(urls)

    def on_idle(self) -> None:
        if self.idle_timeout <= 0 or time.monotonic() - self.last_work < self.idle_timeout:
            raise DontCloseSpider
