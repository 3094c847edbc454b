"""The one Redis connection of a worker process, shared by every component that needs Redis.

``redis_for(crawler)`` is the accessor: the scheduler, the host budget and any other component (a trap
guard, an extension) call it and get the same ``Connection``; ``.client`` is its redis-py client.
``call(fn, *args)`` runs ``fn(*args)`` (which uses ``.client``) on one daemon thread, never on the
reactor, and returns a Deferred; calls run one at a time in the order made, so a retried push, a
completion and a pop never overtake each other.

A Redis that cannot be reached (restarting, loading its append-only file, a network cut) is waited for:
every call is retried with exponential backoff (capped at ``BACKLINKS_REDIS_BACKOFF_MAX``, 5 s) for as
long as it takes, the reactor keeps running meanwhile, and one warning is logged when Redis goes away and
one when it is back. ``outages`` counts them, so the heartbeat knows whether this worker saw Redis
continuously (see ``queue``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from twisted.internet.defer import Deferred

from backlinkspider.frontier import defaults
from backlinkspider.redact import redact

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)
T = TypeVar("T")
_TRANSIENT = (redis.ConnectionError, redis.TimeoutError)  # BusyLoadingError (LOADING) is a ConnectionError


class RedisUnavailable(Exception):
    """Redis cannot be reached; the message is one line for a person."""


def connect_once(url: str) -> redis.Redis:
    """A client that fails at once instead of retrying: for start-up checks and the CLI."""
    server = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        server.ping()
    except redis.RedisError as exc:
        raise RedisUnavailable(f"cannot reach Redis at {redact(url)}: {' '.join(str(exc).split())}") from None
    return server


class Connection:
    """A Redis client and the thread that runs its calls, retrying through outages."""

    def __init__(self, url: str, backoff_max: float = defaults.REDIS_BACKOFF_MAX) -> None:
        from twisted.internet import reactor  # installed by now (imported at the top, it would install one)

        self._reactor: Any = reactor
        self.url = url
        self.backoff_max = backoff_max
        # No retries inside redis-py: every failure reaches call(), which counts it and waits.
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=30,
            socket_connect_timeout=5,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 0),
        )
        self.outages = 0
        self._down_since: float | None = None
        self._closed = False
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple, Deferred] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="backlinks-redis", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        """Run ``fn(*args)`` on the Redis thread; the Deferred fires on the reactor."""
        d: Deferred[T] = Deferred()
        self._jobs.put((fn, args, d))
        return d

    def close(self) -> None:
        self._closed = True
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, d = job
            try:
                result = self._retrying(fn, args)
            except BaseException as exc:  # handed to the Deferred's errback, on the reactor
                self._reactor.callFromThread(d.errback, exc)
            else:
                self._reactor.callFromThread(d.callback, result)

    def _retrying(self, fn: Callable[..., Any], args: tuple) -> Any:
        delay = min(0.2, self.backoff_max)
        while True:
            try:
                result = fn(*args)
            except _TRANSIENT as exc:
                if self._closed:
                    raise RedisUnavailable(f"Redis at {redact(self.url)} is unreachable") from None
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    self.outages += 1
                    logger.warning(
                        "Redis at %s unreachable (%s); waiting for it",
                        redact(self.url),
                        " ".join(str(exc).split()),
                    )
                time.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            if self._down_since is not None:
                logger.warning("Redis is back after %.0f s", time.monotonic() - self._down_since)
                self._down_since = None
            return result


def redis_for(crawler: Crawler) -> Connection:
    """This process's Redis connection, made on first use from ``REDIS_URL`` (it does not check that Redis
    is up: the scheduler does, once, at start) and closed when the crawler's engine stops."""
    conn = getattr(crawler, "_backlinks_redis", None)
    if conn is None:
        from scrapy import signals

        conn = Connection(
            crawler.settings["REDIS_URL"], crawler.settings.getfloat("BACKLINKS_REDIS_BACKOFF_MAX")
        )
        crawler._backlinks_redis = conn  # type: ignore[attr-defined]
        crawler.signals.connect(conn.close, signal=signals.engine_stopped, weak=False)
    return conn
