"""The one Redis connection of a worker process, shared by every component that needs Redis.

``redis_for(crawler)`` is the accessor: the scheduler, the host budget and any other component (a trap
guard, an extension) call it and get the same ``Connection``; ``.client`` is its redis-py client.
``call(fn, *args)`` runs ``fn(*args)`` (which uses ``.client``) on one daemon thread, never on the
reactor, and returns a Deferred; calls run one at a time in the order made, so a retried push, a
completion and a pop never overtake each other.

Every Redis error is classified (``transient``). A Redis that cannot be reached (restarting, loading its
append-only file, a network cut) or that answers with an error reply that passes (``OOM`` at maxmemory,
``BUSY`` behind a long script, ``READONLY`` / ``MASTERDOWN`` in a failover, ``TRYAGAIN``,
``CLUSTERDOWN``) is waited for: the call is retried with exponential backoff (capped at ``BACKLINKS_REDIS_BACKOFF_MAX``, 5 s) for as long
as it takes, and the calls behind it wait their turn, which is the backpressure: the crawl pauses (no
pops, no budget checks) and nothing it holds is dropped. The reactor keeps running meanwhile, and one
warning is logged when Redis goes away and one when it is back. ``outages`` counts them, so the heartbeat
knows whether this worker saw Redis continuously (see ``queue``). Those replies mean the command did not
run, and a script is never left half done: under OOM, Redis refuses a script's first write that needs
memory, before any effect, and once a script has written (a first write that needs none: ZPOPMIN, HDEL)
it runs whole (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/#execution-under-low-memory-conditions),
so the scripts need no ``#!lua flags`` line. A call is retried whole, and every call is safe to retry: a
pop that ran under OOM is retried when the presence call after it is refused, and answers the same leases.

Any other error (a script error, a wrong password or missing permission) cannot pass by waiting: the call
fails with ``RedisFailed`` (one line), and ``fatal`` callbacks run once (the scheduler stops the crawl).

A ``REDIS_URL`` naming any node of a Redis Cluster (``INFO cluster``: ``cluster_enabled:1``) is used
through redis-py's ``RedisCluster``, which learns the slots' owners from that node and follows ``MOVED``
and ``ASK`` itself; ``TRYAGAIN`` (a slot migrating) and ``CLUSTERDOWN`` (a primary lost, before its
replica takes over) are waited for as above. The frontier's keys are laid out so that each script stays in
one slot (``defaults``).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from twisted.internet.defer import Deferred

from backlinkspider.redact import redact

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Error replies that pass with time (a failover, memory freed, a long script done), by their error code.
_TRANSIENT_CODES = frozenset({"OOM", "BUSY", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"})
# The network, and the replies whose code redis-py strips from the message (BUSY and the rest keep it).
_TRANSIENT_ERRORS = (
    redis.ConnectionError,  # LOADING (BusyLoadingError) too
    redis.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    redis.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,  # CLUSTERDOWN, MASTERDOWN
    # The cluster client's own: no node answers (a cluster restarting), a slot with no owner known yet
    # (a failover). Its other errors (cross-slot keys ...) are our bugs, and fatal.
    redis.exceptions.RedisClusterUnreachableError,
    redis.exceptions.SlotNotCoveredError,
)
# Everything a call may raise that is Redis': redis-py's errors, and its cluster client's.
_REDIS_ERRORS = (redis.RedisError, redis.exceptions.RedisClusterException)


class RedisUnavailable(Exception):
    """Redis cannot be reached; the message is one line for a person."""


class RedisFailed(Exception):
    """Redis answered with an error that waiting cannot cure; the message is one line for a person."""


def transient(exc: BaseException) -> bool:
    """Whether a failed call may succeed if tried again later: the network, or an error reply that
    passes. A wrong password is a ConnectionError to redis-py, and no such thing."""
    if isinstance(exc, redis.AuthenticationError | redis.exceptions.AuthorizationError):
        return False
    if isinstance(exc, _TRANSIENT_ERRORS):
        return True
    if isinstance(exc, redis.ResponseError):
        code = getattr(exc, "status_code", None) or str(exc).split(" ", 1)[0]
        return code in _TRANSIENT_CODES
    return False


def one_line(exc: BaseException) -> str:
    """The error on one line, with its error code (redis-py strips some)."""
    text = " ".join(str(exc).split())
    code = getattr(exc, "status_code", None)
    return f"{code} {text}" if code and not text.startswith(code) else text


def is_cluster(url: str) -> bool:
    """Whether ``url`` names a node of a Redis Cluster; raises redis.RedisError when it cannot tell."""
    with redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10) as node:
        return bool(node.info("cluster").get("cluster_enabled"))


def client_for(url: str, cluster: bool, **options: Any) -> redis.Redis:
    """A client of one Redis, or of the whole cluster a node of which ``url`` names. A cluster has one
    database: a ``/DB`` other than 0 is refused by the cluster client."""
    if cluster:
        return RedisCluster.from_url(url, **options)  # type: ignore[return-value]
    return redis.Redis.from_url(url, **options)


def connect_once(url: str) -> redis.Redis:
    """A client that fails at once instead of retrying: for start-up checks and the CLI."""
    try:
        server = client_for(url, is_cluster(url), socket_connect_timeout=3, socket_timeout=10)
        server.ping()
    except (*_REDIS_ERRORS, ValueError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {redact(url)}: {one_line(exc)}") from None
    return server


class Connection:
    """A Redis client and the thread that runs its calls, retrying through outages."""

    def __init__(self, url: str, backoff_max: float, cluster: bool | None = None) -> None:
        from twisted.internet import reactor  # installed by now (imported at the top, it would install one)

        self._reactor: Any = reactor
        self.url = url
        self.backoff_max = backoff_max
        if cluster is None:
            try:
                cluster = is_cluster(url)
            except redis.RedisError:  # down: the scheduler's start-up check says so, and crawls nothing
                cluster = False
        self.cluster = cluster
        # No retries inside redis-py: every failure reaches call(), which counts it and waits (the cluster
        # client still follows MOVED and ASK, and refreshes its slot table after a failover).
        self.client = client_for(
            url,
            cluster,
            socket_timeout=30,
            socket_connect_timeout=5,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 0),
        )
        self.outages = 0
        self.fatal: list[Callable[[str], object]] = []  # called once, on the reactor, with the error
        self._failed = False
        self._down_since: float | None = None
        self._closed = False
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="backlinks-redis", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        """Run ``fn(*args)`` on the Redis thread; the Deferred fires on the reactor."""
        d: Deferred[T] = Deferred()
        self._jobs.put((fn, args, d))
        return d

    @property
    def waiting(self) -> bool:
        """Whether a call is waiting for Redis to come back (its last try failed with an error that
        passes)."""
        return self._down_since is not None

    def close(self) -> None:
        self._closed = True
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, d = job
            try:
                result = self.run(fn, *args)
            except BaseException as exc:  # handed to the Deferred's errback, on the reactor
                self._reactor.callFromThread(d.errback, exc)
            else:
                self._reactor.callFromThread(d.callback, result)

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the calling thread, retried as above: what ``call`` runs on the Redis thread, and
        what a process without a reactor calls itself (``backlinks ingest``: ``archives.filequeue``)."""
        delay = min(0.2, self.backoff_max)
        while True:
            try:
                result = fn(*args)
            except _REDIS_ERRORS as exc:
                if not transient(exc):
                    self._fail(exc)
                if self._closed:
                    raise RedisUnavailable(f"Redis at {redact(self.url)} is unreachable") from None
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    self.outages += 1
                    logger.warning(
                        "Redis at %s unavailable (%s); waiting for it", redact(self.url), one_line(exc)
                    )
                time.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            if self._down_since is not None:
                logger.warning("Redis is back after %.0f s", time.monotonic() - self._down_since)
                self._down_since = None
            return result

    def _fail(self, exc: Exception) -> NoReturn:
        message = f"Redis at {redact(self.url)} failed: {one_line(exc)}"
        if not self._failed:
            self._failed = True
            for callback in self.fatal:
                self._reactor.callFromThread(callback, message)
        raise RedisFailed(message) from None


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


def worker_name() -> str:
    """This process's name in the cluster (heartbeats, leases, ``backlinks status``): host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"
