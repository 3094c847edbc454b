"""The cluster's queue of archive files: every machine runs the same ``backlinks ingest --paths-file F``,
and each file is ingested once, by one worker at a time, whatever dies.

The rules are the crawl frontier's (``frontier.queue``), for files instead of pages:

- **Enqueue by path, the union**: each worker adds its paths; a path the queue has ever known (queued,
  leased, done or failed) is never added again. So the same command run on every machine, or run again
  after a crash, queues each file once, and a machine given a longer list adds only what is new. A failed
  file is tried again only when asked (``requeue_failed``: ``backlinks ingest --retry-failed``).
- **A lease per file** under a random token, one file per worker at a time, completed only after the file's
  edges are written (``complete`` is a compare-and-delete: a worker that lost its lease touches nothing).
- **Heartbeats**: each worker beats every TTL/5 (``BACKLINKS_HEARTBEAT_TTL``) through a connection of its
  own, on a thread of its own, never behind a long ingest. A worker whose heartbeat has been missing for
  the TTL *while the reaping worker saw Redis up the whole time* is dead: its file goes back to the head of
  the queue, to be ingested again (idempotently: the index's writes are). After an outage or a stall (the
  reaper's own previous beat over TTL/2 old, or Redis restarted) nobody reaps before a TTL of timely beats.
- **Failures**: a bad file (``BadArchive``: not WARC, a broken gzip member, an HTTP 4xx) is recorded
  failed with its reason at once, and the rest go on; a file that could not be fetched whole
  (``FetchFailed``: an HTTP 5xx or 429, a network error, a cut download) goes to the back of the queue and
  is tried ``BACKLINKS_INGEST_ATTEMPTS`` times in all before it is failed. Any other error (the index is
  unreachable, Ctrl-C) is not the file's: the file goes back to the head of the queue untried, and the
  worker stops with that error.
- **Exit**: a worker leaves when nothing is queued and nothing leased; while another worker holds a file it
  waits, since that file comes back if its holder dies.
- **Status in O(1)**: the scripts keep the figures (list and hash lengths, a done counter).

Every key carries the hash tag ``{ingest}`` and every script is given every key it touches, so the queue
runs on Redis Cluster as on one server (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
Every call waits through outages (the frontier's ``Connection.run``, in the calling thread), and every
script is safe to retry after a lost reply: a lease is taken under a token chosen before the call,
enqueueing is set-like, and a completion answers "done" twice.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from backlinkspider.archives.capture import BadArchive, FetchFailed
from backlinkspider.frontier.connection import (
    Connection,
    RedisFailed,
    RedisUnavailable,
    connect_once,
    worker_name,
)

if TYPE_CHECKING:
    import redis
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

_PREFIX = "backlinks:{ingest}:"
QUEUE_KEY = _PREFIX + "queue"  # list of paths, next first
FILES_KEY = _PREFIX + "files"  # hash: every path ever queued -> fetch failures so far | done | failed
LEASES_KEY = _PREFIX + "leases"  # hash: token -> worker TAB path
HEARTBEATS_KEY = _PREFIX + "heartbeats"  # sorted set: worker -> its last beat (Redis clock, s)
FAILED_KEY = _PREFIX + "failed"  # hash: path -> why it failed
COUNTS_KEY = _PREFIX + "counts"  # hash: done -> files done
CONFIG_KEY = _PREFIX + "config"  # hash: BACKLINKS_HEARTBEAT_TTL, the first worker's
KEYS = (QUEUE_KEY, FILES_KEY, LEASES_KEY, HEARTBEATS_KEY, FAILED_KEY, COUNTS_KEY, CONFIG_KEY)
_ENQUEUE_BATCH = 1000  # paths a script takes: a Common Crawl listing (~90,000) is 90 short scripts

_COMMON = """
local QUEUE, FILES, LEASES, BEATS, FAILED, COUNTS, CONFIG = unpack(KEYS)
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function path_of(rec) return string.sub(rec, string.find(rec, '\\t', 1, true) + 1) end
-- a leased file back at the head of the queue: it was being ingested, so it goes next
local function requeue(token)
  local rec = redis.call('HGET', LEASES, token)
  if not rec then return 0 end
  redis.call('LPUSH', QUEUE, path_of(rec))
  redis.call('HDEL', LEASES, token)
  return 1
end
"""

# ARGV: heartbeat TTL, then paths. Returns {paths added, ""} or {-1, the cluster's TTL}.
_ENQUEUE = """
redis.call('HSETNX', CONFIG, 'BACKLINKS_HEARTBEAT_TTL', ARGV[1])
local ttl = redis.call('HGET', CONFIG, 'BACKLINKS_HEARTBEAT_TTL')
if ttl ~= ARGV[1] then return {-1, ttl} end
local added = 0
for i = 2, #ARGV do
  if redis.call('HSETNX', FILES, ARGV[i], 0) == 1 then
    redis.call('RPUSH', QUEUE, ARGV[i])
    added = added + 1
  end
end
return {added, ''}
"""

# ARGV: worker, token. Returns {path, 0}, or {false, files leased} when nothing is queued.
_LEASE = """
local rec = redis.call('HGET', LEASES, ARGV[2])
if rec then return {path_of(rec), 0} end  -- a retried lease: the file the first one took
local path = redis.call('LPOP', QUEUE)
if not path then return {false, redis.call('HLEN', LEASES)} end
redis.call('HSET', LEASES, ARGV[2], ARGV[1] .. '\\t' .. path)
redis.call('ZADD', BEATS, 'NX', now_s(), ARGV[1])  -- never a lease without a heartbeat to reap it by
return {path, 0}
"""

# ARGV: token, path. Returns 1 when the file is done (by this lease, or already), 0 when the lease was lost.
_COMPLETE = """
if redis.call('HDEL', LEASES, ARGV[1]) == 1 then
  redis.call('HSET', FILES, ARGV[2], 'done')
  redis.call('HINCRBY', COUNTS, 'done', 1)
  return 1
end
if redis.call('HGET', FILES, ARGV[2]) == 'done' then return 1 end
return 0
"""

# ARGV: token, path, reason, may pass (0|1), attempts. Returns again | failed | lost.
_FAIL = """
if redis.call('HDEL', LEASES, ARGV[1]) == 0 then return 'lost' end
local tries = redis.call('HINCRBY', FILES, ARGV[2], 1)
if ARGV[4] == '1' and tries < tonumber(ARGV[5]) then
  redis.call('RPUSH', QUEUE, ARGV[2])  -- behind the others: time for the cause to pass
  return 'again'
end
redis.call('HSET', FILES, ARGV[2], 'failed')
redis.call('HSET', FAILED, ARGV[2], ARGV[3])
return 'failed'
"""

# ARGV: worker, tokens to put back. The worker leaves the cluster.
_LEAVE = """
local n = 0
for i = 2, #ARGV do n = n + requeue(ARGV[i]) end
redis.call('ZREM', BEATS, ARGV[1])
return n
"""

# ARGV: worker, TTL, Redis time since when this worker has seen Redis without a break (0: not yet).
# Returns {Redis time, files put back, workers reaped, since as now judged}. The frontier's rules
# (frontier.queue._HEARTBEAT): a worker whose own last beat is over TTL/2 old (it beats every TTL/5) has not
# seen Redis without a break, and reaps nobody before a TTL of beats on time; nor within a TTL of a restart
# (Redis' uptime, read here: on a Redis Cluster, of the node that holds the queue).
_HEARTBEAT = """
local worker, ttl, since = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_s()
local last = redis.call('ZSCORE', BEATS, worker)
if since == 0 or not last or now - tonumber(last) > ttl / 2 then since = now end
since = math.max(since, now - tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)')))
redis.call('ZADD', BEATS, now, worker)
local back, reaped = 0, 0
if now - since >= ttl then
  local dead = {}
  for _, w in ipairs(redis.call('ZRANGEBYSCORE', BEATS, '-inf', '(' .. (now - ttl))) do
    dead[w] = true
    redis.call('ZREM', BEATS, w)
    reaped = reaped + 1
  end
  if reaped > 0 then
    local leases = redis.call('HGETALL', LEASES)  -- one a worker: as many as the cluster has workers
    for i = 1, #leases, 2 do
      local rec = leases[i + 1]
      if dead[string.sub(rec, 1, string.find(rec, '\\t', 1, true) - 1)] then back = back + requeue(leases[i]) end
    end
  end
end
return {string.format('%.6f', now), back, reaped, string.format('%.6f', since)}
"""

# ARGV: none. Failed files back in the queue, their tries forgotten. Returns how many.
_REQUEUE_FAILED = """
local failed = redis.call('HKEYS', FAILED)
for _, path in ipairs(failed) do
  redis.call('HSET', FILES, path, 0)
  redis.call('RPUSH', QUEUE, path)
end
redis.call('DEL', FAILED)
return #failed
"""

Outcome = Literal["again", "failed", "lost"]


class QueueConfigError(Exception):
    """This worker's settings differ from the cluster's; the message is one line for a person."""


@dataclass(frozen=True, slots=True)
class Lease:
    token: str
    path: str


@dataclass(slots=True)
class Tally:
    """What one worker did: files done, failed (with why), tried again later, and leases lost."""

    done: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    again: int = 0
    lost: int = 0


class FileQueue:
    """The scripts above, bound to one worker; every method is one round trip, retried through outages."""

    def __init__(self, url: str, ttl: float, attempts: int, backoff_max: float, worker: str = "") -> None:
        self.url = url
        self.ttl = ttl
        self.attempts = attempts
        self.worker = worker or worker_name()
        self.conn = Connection(url, backoff_max)
        register = self.conn.client.register_script
        self._enqueue, self._lease, self._complete, self._fail, self._leave, self._beat, self._requeue = (
            register(_COMMON + body)
            for body in (_ENQUEUE, _LEASE, _COMPLETE, _FAIL, _LEAVE, _HEARTBEAT, _REQUEUE_FAILED)
        )
        self._beat_error: RedisFailed | None = None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> FileQueue:
        """The queue at ``REDIS_URL``; RedisUnavailable (one line) when Redis cannot be reached now."""
        url = settings["REDIS_URL"]
        connect_once(url).close()
        return cls(
            url,
            settings.getfloat("BACKLINKS_HEARTBEAT_TTL"),
            settings.getint("BACKLINKS_INGEST_ATTEMPTS"),
            settings.getfloat("BACKLINKS_REDIS_BACKOFF_MAX"),
        )

    def _call(self, script: Any, *args: Any, conn: Connection | None = None) -> Any:
        conn = conn or self.conn
        return conn.run(lambda: script(keys=KEYS, args=args, client=conn.client))

    def enqueue(self, paths: Iterable[str]) -> int:
        """Queue the paths the queue has never known, in order; returns how many. QueueConfigError when the
        cluster beats on another TTL (a worker beating slower than the others would be reaped alive)."""
        added, batch = 0, []
        for path in paths:
            batch.append(path)
            if len(batch) == _ENQUEUE_BATCH:
                added += self._enqueue_batch(batch)
                batch = []
        return added + self._enqueue_batch(batch)

    def _enqueue_batch(self, paths: list[str]) -> int:
        added, ttl = self._call(self._enqueue, repr(float(self.ttl)), *paths)
        if int(added) < 0:
            raise QueueConfigError(
                f"the cluster's ingest queue runs with BACKLINKS_HEARTBEAT_TTL={ttl.decode()}; this worker"
                f" asks for {self.ttl!r} (use the same BACKLINKS_HEARTBEAT_TTL everywhere)"
            )
        return int(added)

    def lease(self) -> Lease | int:
        """The next queued file, leased to this worker; or, when none is queued, how many files are
        leased (0: the work is over)."""
        token = f"{self.worker}:{secrets.token_hex(8)}"
        path, leased = self._call(self._lease, self.worker, token)
        return Lease(token, path.decode()) if path is not None else int(leased)

    def complete(self, lease: Lease) -> bool:
        """The file's edges are written: done. False when the lease was lost (this worker was taken for
        dead and the file is queued again: ingesting it twice is harmless)."""
        return bool(self._call(self._complete, lease.token, lease.path))

    def fail(self, lease: Lease, reason: str, may_pass: bool) -> Outcome:
        """The file could not be ingested: queued again (``may_pass``, attempts left) or recorded failed."""
        outcome = self._call(self._fail, lease.token, lease.path, reason, int(may_pass), self.attempts)
        return outcome.decode()  # type: ignore[no-any-return]

    def leave(self, lease: Lease | None = None) -> int:
        """Leave the cluster, putting back the file this worker holds (``lease``) at the head of the queue."""
        return int(self._call(self._leave, self.worker, *([lease.token] if lease else [])))

    def requeue_failed(self) -> int:
        """Put every failed file back in the queue, as if never tried; returns how many."""
        return int(self._call(self._requeue))

    @contextmanager
    def beating(self) -> Iterator[None]:
        """Heartbeats while the block runs: the first now (this worker is in the cluster before it leases),
        then every TTL/5 on a thread with its own connection."""
        beats = Connection(self.url, self.conn.backoff_max)
        stop = threading.Event()
        since = self._heartbeat(beats, 0.0)

        def loop() -> None:
            nonlocal since
            while not stop.wait(self.ttl / 5):
                try:
                    since = self._heartbeat(beats, since)
                except RedisFailed as exc:
                    self._beat_error = exc
                    return
                except RedisUnavailable:  # closed while Redis is away: the worker is leaving
                    return

        thread = threading.Thread(target=loop, name="backlinks-ingest-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            beats.close()
            thread.join(timeout=self.ttl)

    def _heartbeat(self, beats: Connection, since: float) -> float:
        outages = beats.outages
        now, back, reaped, judged = self._beat_once(beats, since)
        if back or reaped:
            logger.warning("%d files of %d dead workers put back in the ingest queue", back, reaped)
        # An outage during this call (retried until Redis answered): the break-free time starts now.
        return judged if beats.outages == outages else now

    def _beat_once(self, beats: Connection, since: float) -> tuple[float, int, int, float]:
        now, back, reaped, judged = self._call(self._beat, self.worker, self.ttl, since, conn=beats)
        return float(now), int(back), int(reaped), float(judged)

    def check(self) -> None:
        """Raise the heartbeat's error, if it stopped on one."""
        if self._beat_error is not None:
            raise self._beat_error


def _log_failed(message: str) -> None:
    logger.error("failed: %s", message)


def run(
    queue: FileQueue, ingest_one: Callable[[str], object], on_failed: Callable[[str], None] = _log_failed
) -> Tally:
    """Lease files and ingest them with ``ingest_one(path)`` (which writes the file's edges, or raises
    BadArchive) until nothing is queued or leased; then leave. A file recorded failed is one line
    (``on_failed``). Whatever else ``ingest_one`` raises puts the file back and is raised."""
    tally = Tally()
    lease: Lease | None = None
    try:
        with queue.beating():
            while True:
                queue.check()
                got = queue.lease()
                if not isinstance(got, Lease):
                    if got == 0:
                        break
                    time.sleep(queue.ttl / 5)  # a file held elsewhere comes back if its holder dies
                    continue
                lease = got
                _ingest(queue, lease, ingest_one, tally, on_failed)
                lease = None
    finally:
        queue.leave(lease)  # once the heartbeats have stopped: none comes after
    return tally


def _ingest(
    queue: FileQueue,
    lease: Lease,
    ingest_one: Callable[[str], object],
    tally: Tally,
    on_failed: Callable[[str], None],
) -> None:
    try:
        ingest_one(lease.path)
    except BadArchive as exc:
        outcome = queue.fail(lease, str(exc), may_pass=isinstance(exc, FetchFailed))
        if outcome == "failed":
            tally.failed[lease.path] = str(exc)
            on_failed(str(exc))
        elif outcome == "again":
            tally.again += 1
            logger.warning("%s; it will be tried again", exc)
        else:
            tally.lost += 1
        return
    if queue.complete(lease):
        tally.done += 1
    else:
        tally.lost += 1
        logger.warning("%s: this worker was taken for dead; the file is queued again", lease.path)


def status(client: redis.Redis) -> dict[str, int] | None:
    """All files, those queued, leased, done and failed, and the workers beating; None when there is no
    ingest queue."""
    pipe = client.pipeline(transaction=False)
    pipe.hlen(FILES_KEY)
    pipe.llen(QUEUE_KEY)
    pipe.hlen(LEASES_KEY)
    pipe.hget(COUNTS_KEY, "done")
    pipe.hlen(FAILED_KEY)
    pipe.zcard(HEARTBEATS_KEY)
    files, queued, leased, done, failed, workers = pipe.execute()
    if not files:
        return None
    return {
        "files": files,
        "queued": queued,
        "leased": leased,
        "done": int(done or 0),
        "failed": failed,
        "workers": workers,
    }


def failures(client: redis.Redis, limit: int = 10) -> dict[str, str]:
    """Up to ``limit`` failed files and why."""
    found: dict[str, str] = {}
    for path, reason in client.hscan_iter(FAILED_KEY, count=limit):
        found[path.decode()] = reason.decode()
        if len(found) >= limit:
            break
    return found
