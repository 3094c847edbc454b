"""The Scrapy scheduler of a cluster worker (installed by the add-on, ``frontier.addon``, when
``REDIS_URL`` is set), for any spider.

Nothing here waits for Redis on the reactor: every call goes through the process's one ``Connection``
(a thread that retries through outages), and the engine's synchronous questions are answered from what
this worker holds. Requests the spider yields are buffered and pushed in batches (dupefilter and queue in
one script); requests with ``dont_filter`` (retries, re-crawls) go to the queue as they are, with their
retry count, and complete the lease of the request they retry. Leases are popped as download slots free
up, from hosts whose next-allowed time has come, across the frontier's shards (a rotating one first; a
shard with nothing ready is asked again when its first host is, or after ``_POLL_SECONDS``). A page's lease is completed once the index has its edges
(``pages_done``) *and* its links are pushed: by the push that carries the last request enqueued before
``pages_done`` (the spider yields a page's links before the page), so that a worker killed in between
loses no link. A Redis error that passes (see ``connection``) holds every call behind it, pushes and
completions included, until Redis answers; one that does not stops the crawl (``frontier_failed``).
A heartbeat every TTL/5, through a connection of its own, renews this worker's leases, publishes its
figures for ``backlinks status`` and reaps dead workers' leases. The worker is idle, and after
``BACKLINKS_IDLE_TIMEOUT`` seconds of it closes, only when the frontier is empty and no other worker has
requests in hand or leases of its own unreaped; at close it puts back every lease it still holds.

``BACKLINKS_SCOPE=seeds`` is the cluster's: the seeds' registered domains are added to a set in Redis
before the seeds are pushed, and a worker learns the set's new members with its next pop (before it
handles what it popped), into the spider's ``seed_domains``: a worker given no seeds keeps to the others'.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from backlinkspider.crawl.signals import pages_done
from backlinkspider.frontier import connection, dupefilter, serializer
from backlinkspider.frontier.connection import (
    Connection,
    RedisFailed,
    RedisUnavailable,
    connect_once,
    redis_for,
)
from backlinkspider.frontier.queue import (
    Frontier,
    PushItem,
    add_scope,
    agree_pacing,
    agree_shards,
    encodings_advice,
    push_item,
    token_shard,
)

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)
_WAKE = "_frontier_wake"  # meta flag: a leased request handed to engine.crawl() to wake an idle engine
_POP_MAX = 64
_PUMP_SECONDS = 0.1
_POLL_SECONDS = 0.25  # how soon other workers' pushes are seen by an idle worker
_TELL_SECONDS = 60.0  # how often a worker kept open by the others' work says so


class RedisScheduler:
    def __init__(self, crawler: Crawler, conn: Connection | None, broken: str = "") -> None:
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.conn = conn
        self.broken = broken  # why this worker cannot crawl ("" when it can)
        self.batch_size = s.getint("BACKLINKS_FRONTIER_BATCH")
        self.idle_timeout = s.getfloat("BACKLINKS_IDLE_TIMEOUT")
        self.ttl = s.getfloat("BACKLINKS_HEARTBEAT_TTL")
        self.delay = max(0.0, s.getfloat("BACKLINKS_HOST_DELAY"))
        self.concurrency = s.getint("CONCURRENT_REQUESTS")
        self.shards = s.getint("BACKLINKS_FRONTIER_SHARDS")
        self.worker = connection.worker_name()
        self.pending: list[PushItem] = []
        self.enqueued = self.handed = 0  # items ever put in pending, and ever handed to a push
        self.completing: list[tuple[int, str]] = []  # (enqueued when its page was done, lease token)
        self.local: deque[Request] = deque()
        self.held: dict[str, str] = {}  # URL -> lease token, for requests leased and not yet done
        self.pushing = self.popping = self.beating = self.closing = False
        # per shard: the monotonic time before which a pop would find nothing ready, and its hosts queued
        self.ready_at = [0.0] * self.shards
        self.shard_hosts = [1] * self.shards
        self.scope_known = 0  # members of the cluster's scope this worker has learnt
        self.cluster_busy = True
        self.elsewhere = 0  # other workers busy or gone silent, as the last pop saw them
        self.last_busy = self.told = time.monotonic()
        self.idle_verdict = False  # idle past the timeout but for a pop in flight, which then decides
        self.started = time.time()
        self.connected_since = 0.0  # Redis time since when this worker has seen Redis without a break
        self.outages_seen = 0
        self.frontier: Frontier | None = None
        self.beats: Connection | None = None  # the heartbeat's own connection
        self.spider: Spider | None = None
        self.pump = LoopingCall(self._guarded, self.tick)
        self.beat = LoopingCall(self._guarded, self.heartbeat)
        crawler.signals.connect(self.on_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.on_pages_done, signal=pages_done)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisScheduler:
        url = crawler.settings["REDIS_URL"]
        try:
            # Once, at start: fail fast with one line rather than wait for a Redis that is not there.
            client = connect_once(url)
            s = crawler.settings
            agree_shards(client, s.getint("BACKLINKS_FRONTIER_SHARDS"))  # before the dupefilter's layout
            dupefilter.from_settings(s).setup(client)
            agree_pacing(
                client, max(0.0, s.getfloat("BACKLINKS_HOST_DELAY")), s.getfloat("BACKLINKS_HEARTBEAT_TTL")
            )
            if advice := encodings_advice(client):
                logger.warning("%s", advice)
            client.close()
        except (RedisUnavailable, dupefilter.FrontierConfigError) as exc:
            logger.error("%s; not crawling", exc)
            return cls(crawler, None, broken="frontier_unavailable")
        return cls(crawler, redis_for(crawler))

    # --- Scrapy's scheduler interface -------------------------------------------------------------

    def open(self, spider: Spider) -> None:
        self.spider = spider
        if self.conn is None:
            return
        s = self.crawler.settings
        self.frontier = Frontier(
            self.conn.client,
            self.worker,
            dupefilter.from_settings(s),
            self.shards,
            s.getint("BACKLINKS_MAX_PAGES_PER_HOST"),
        )
        # Before the seeds are pushed (the Redis thread runs calls in order): the cluster's scope.
        domains = getattr(spider, "seed_domains", None) or ()
        self.conn.call(add_scope, self.conn.client, sorted(domains)).addErrback(self._failed, "scope")
        self.beats = Connection(self.conn.url, self.conn.backoff_max)
        self.conn.fatal.append(self._fatal)
        self.beats.fatal.append(self._fatal)
        self.beat.start(self.ttl / 5, now=True)
        self.pump.start(_PUMP_SECONDS, now=True)

    def close(self, reason: str) -> Deferred[Any] | None:
        if self.conn is None or self.frontier is None:
            return None
        self.closing = True
        for loop in (self.pump, self.beat):
            if loop.running:
                loop.stop()
        if self.beats is not None:
            self.beats.close()
        frontier = self.frontier
        while self.pending or self.completing:  # the Redis thread runs these in order, then the release
            self.conn.call(frontier.push, *self._next_batch()).addErrback(self._failed, "push")
        # Whatever this worker still holds was not indexed: back to the frontier for another worker.
        last = self.conn.call(frontier.release, None)
        last.addCallbacks(self._released, self._failed, errbackArgs=("release",))
        return last

    def _released(self, count: int) -> None:
        if count:
            logger.info("%d leases put back in the frontier", count)

    def enqueue_request(self, request: Request) -> bool:
        if self.broken:
            return False
        if request.meta.pop(_WAKE, False):
            self.local.appendleft(request)
            return True
        token = request.meta.pop(serializer.LEASE_META, None)
        # A retry (or any dont_filter copy) of a request this worker leased takes over its lease.
        if token is None or not request.dont_filter or self.held.get(request.url) != token:
            token = ""
        assert self.frontier is not None
        fingerprint = self.crawler.request_fingerprinter.fingerprint(request)
        try:
            item = push_item(request, self.spider, self.frontier.dupefilter, fingerprint, token)
        except serializer.Unserializable as exc:
            logger.error("request refused by the frontier: %s", exc)
            self.stats.inc_value("frontier/refused")
            return False
        if token:
            del self.held[request.url]
        self.pending.append(item)
        self.enqueued += 1
        if len(self.pending) >= self.batch_size:
            self.flush()
        return True

    def next_request(self) -> Request | None:
        if self.pending or self.completing:
            self.flush()
        if self.local:
            return self.local.popleft()
        self.fill()
        return None

    def has_pending_requests(self) -> bool:
        return bool(self.local or self.pending or self.pushing)

    def __len__(self) -> int:
        return len(self.local) + len(self.pending)

    # --- talking to Redis, off the reactor --------------------------------------------------------

    def tick(self) -> None:
        if self.pending or self.completing:
            self.flush()
        if not self.local:
            self.fill()

    def _next_batch(self) -> tuple[list[PushItem], list[str]]:
        """The next push: a batch of pending requests, and the leases whose pages' links it completes."""
        batch, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size :]
        self.handed += len(batch)
        ready = [token for upto, token in self.completing if upto <= self.handed]
        self.completing = [(upto, token) for upto, token in self.completing if upto > self.handed]
        return batch, ready

    def flush(self) -> None:
        if self.pushing or self.conn is None or self.frontier is None:
            return
        if not (self.pending or self.completing):
            return
        batch, ready = self._next_batch()
        self.pushing = True

        def pushed(result: tuple[int, int, int, int]) -> None:
            added, duplicates, _completed, capped = result
            self.stats.inc_value("frontier/pushed", added)
            self.stats.inc_value("frontier/duplicates", duplicates)
            if capped:
                self.stats.inc_value("frontier/over_budget", capped)
            if added:
                self.ready_at = [0.0] * self.shards

        def done(result: Any) -> Any:
            self.pushing = False
            if not self.closing:
                self.flush()
            return result

        d = self.conn.call(self.frontier.push, batch, ready)
        d.addCallbacks(pushed, self._failed, errbackArgs=("push",))
        d.addBoth(done)

    def fill(self) -> None:
        """Lease requests from hosts ready now: enough for the free download slots and as many again, so a
        slot that frees up finds its next request here rather than waiting for a round trip to Redis."""
        if self.popping or self.closing or self.conn is None or self.frontier is None:
            return
        now = time.monotonic()
        due = [shard for shard, at in enumerate(self.ready_at) if now >= at]
        if not due:
            return
        engine = self.crawler.engine
        active = len(engine.downloader.active) if engine is not None else 0
        want = min(2 * self.concurrency - active - len(self.local), _POP_MAX)
        if want <= 0:
            return
        self.popping = True
        d = self.conn.call(self._pop, want, f"{self.worker}:{secrets.token_hex(8)}:", due)
        d.addCallbacks(self._popped, self._failed, errbackArgs=("pop",))

        def done(result: Any) -> Any:
            self.popping = False
            return result

        d.addBoth(done)

    def _pop(
        self, want: int, prefix: str, due: list[int]
    ) -> tuple[list[tuple[str, bytes]], int, dict[int, tuple[float, int]], int, list[str]]:
        """On the Redis thread: lease from the due shards, then mark this worker busy (it holds work) and
        learn whether the others do, and the scope's new members."""
        assert self.frontier is not None
        pairs, dropped, shards = self.frontier.pop(want, prefix, self.delay, due)
        elsewhere, scope = self.frontier.presence(2 * self.ttl / 5 + 1, bool(pairs), self.scope_known)
        return pairs, dropped, shards, elsewhere, scope

    def _popped(
        self, result: tuple[list[tuple[str, bytes]], int, dict[int, tuple[float, int]], int, list[str]]
    ) -> None:
        pairs, dropped, shards, elsewhere, scope = result
        now = time.monotonic()
        if scope and self.spider is not None and hasattr(self.spider, "seed_domains"):
            self.spider.seed_domains |= set(scope)
            self.scope_known = len(scope)
        given = {token_shard(token) for token, _ in pairs}
        for shard, (wait, hosts) in shards.items():
            self.shard_hosts[shard] = hosts
            # Nothing ready there: ask again when its first host is (and soon anyway: others push too).
            if shard not in given:
                self.ready_at[shard] = now + (min(wait, _POLL_SECONDS) if wait >= 0 else _POLL_SECONDS)
        self.elsewhere = elsewhere
        self.cluster_busy = any(self.shard_hosts) or elsewhere > 0
        if self.cluster_busy or pairs:
            self.last_busy = now
        if dropped:
            logger.error("dropped %d bad frontier entries (checked by the pop script)", dropped)
            self.stats.inc_value("frontier/dropped", dropped)
        for token, entry in pairs:
            try:
                request = serializer.loads(entry, self.spider)
            except serializer.BadEntry as exc:
                self.drop(token, entry, exc)
                continue
            request.meta[serializer.LEASE_META] = token
            self.held[request.url] = token
            self.local.append(request)
            self.stats.inc_value("frontier/leased")
        if self.local and self.crawler.engine is not None and not self.closing:
            request = self.local.popleft()
            request.meta[_WAKE] = True
            self.crawler.engine.crawl(request)  # wakes the engine, which then drains self.local
        self._judge_idle(bool(pairs))

    def _judge_idle(self, found: bool) -> None:
        """Close the spider when ``on_idle`` left the verdict to this pop (the worker was idle past the
        timeout but for it) and it found no work."""
        if not self.idle_verdict:
            return
        self.idle_verdict = False
        engine = self.crawler.engine
        if not found and not self._busy() and engine is not None and not self.closing:
            deferred_from_coro(engine.close_spider_async(reason="finished"))

    def drop(self, token: str, entry: bytes, exc: Exception) -> None:
        """A malformed or hostile entry: logged, counted, its lease cleared; never run."""
        logger.error("dropped a bad frontier entry (%s): %r", exc, entry[:200])
        self.stats.inc_value("frontier/dropped")
        assert self.conn is not None and self.frontier is not None
        self.conn.call(self.frontier.drop, token).addErrback(self._failed, "drop")

    def heartbeat(self) -> None:
        if self.beating or self.beats is None or self.frontier is None:
            return
        engine = self.crawler.engine
        busy = bool(self.local or self.pending or self.popping or self.pushing)
        if engine is not None and not busy:
            slot = engine.scraper.slot  # None until the spider is open
            busy = bool(engine.downloader.active) or (slot is not None and not slot.is_idle())
        stats = self.stats
        elapsed = max(time.time() - self.started, 1e-9)
        pages = stats.get_value("backlinks/pages", 0) + stats.get_value("backlinks/errors", 0)
        figures = {
            "pages": pages,
            "links": stats.get_value("backlinks/edges_written", 0),
            "errors": stats.get_value("backlinks/errors", 0),
            "pages_per_s": round(pages / elapsed, 2),
            "started": int(self.started),
        }
        beats = self.beats
        since = self.connected_since if beats.outages == self.outages_seen else 0.0
        self.beating = True

        def beaten(result: tuple[float, int, int, float]) -> None:
            now, back, reaped, since = result
            # An outage during this call (retried until Redis answered): the break-free time starts now.
            self.connected_since = since if beats.outages == self.outages_seen else now
            self.outages_seen = beats.outages
            if back or reaped:
                logger.warning("%d leases of %d dead workers put back in the frontier", back, reaped)
                self.stats.inc_value("frontier/reaped", back)
                self.ready_at = [0.0] * self.shards

        def done(result: Any) -> Any:
            self.beating = False
            return result

        d = beats.call(self.frontier.heartbeat, self.ttl, since, busy, figures, beats.client)
        d.addCallbacks(beaten, self._failed, errbackArgs=("heartbeat",))
        d.addBoth(done)

    def _guarded(self, step: Any) -> None:
        """A looping step that fails is logged; the loop (the heartbeat!) goes on."""
        try:
            step()
        except Exception:
            logger.exception("frontier %s failed", step.__name__)

    def _failed(self, failure: Failure, what: str) -> None:
        if not isinstance(failure.value, RedisFailed):  # _fatal said it
            logger.error("frontier %s failed: %s", what, failure.getErrorMessage())

    def _fatal(self, message: str) -> None:
        """Redis answered with an error waiting cannot cure: one line, and the crawl stops."""
        if self.broken:
            return
        self.broken = "frontier_failed"
        logger.error("%s; stopping the crawl", message)
        engine = self.crawler.engine
        if engine is not None and self.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=self.broken))

    # --- signals -----------------------------------------------------------------------------------

    def on_pages_done(self, urls: list[str]) -> None:
        """Complete these pages' leases with the push of the last request enqueued by now: their links."""
        tokens = [t for t in (self.held.pop(url, None) for url in urls) if t]
        if tokens:
            self.completing += [(self.enqueued, token) for token in tokens]
            self.flush()

    def on_idle(self) -> None:
        if self.broken:
            raise CloseSpider(self.broken)
        now = time.monotonic()
        if self._busy():
            self.last_busy = now
        if self.cluster_busy and now - self.told >= _TELL_SECONDS:
            self.told = now
            logger.info(
                "nothing to fetch here; waiting for the cluster: %d hosts queued, %d other workers busy"
                " or silent",
                sum(self.shard_hosts),
                self.elsewhere,
            )
        if self.idle_timeout <= 0 or now - self.last_busy < self.idle_timeout:
            raise DontCloseSpider
        if self.popping:
            # The engine asks for a request, which starts a poll, just before it reports idle: a pop in
            # flight is no work in hand (counted as work, it kept idle workers up for minutes), but what
            # it finds may be, so it has the last word (``_popped``).
            self.idle_verdict = True
            raise DontCloseSpider

    def _busy(self) -> bool:
        """Whether this worker has work in hand or knows of some in the cluster; a Redis being waited for
        counts, since the frontier may not be empty."""
        waiting = self.conn is not None and self.conn.waiting
        return bool(self.pending or self.local or self.pushing or self.cluster_busy or waiting)
