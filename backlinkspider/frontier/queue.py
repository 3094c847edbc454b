"""The shared priority queue, with leases.

A worker that pops entries *leases* them: they move, in one atomic script, from the queue to a lease
set that expires ``lease_seconds`` later (Redis' clock, so workers' clocks do not matter). The worker
``complete()``s a lease when the page's edges are in the index. Any worker's ``reap()`` puts expired
leases back in the queue, so a page popped by a worker that then died (SIGKILL, OOM, a lost node) is
crawled by another: at-least-once, and the index is idempotent, so twice is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from backlinkspider.frontier import defaults

# KEYS: queue, leases, lease entries. ARGV: how many, lease seconds.
_POP = """
local items = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return items end
redis.call('ZREM', KEYS[1], unpack(items))
local now = redis.call('TIME')
local expiry = tonumber(now[1]) + tonumber(ARGV[2])
for _, entry in ipairs(items) do
  local ok, obj = pcall(cjson.decode, entry)
  local id = entry
  if ok and type(obj) == 'table' and type(obj.u) == 'string' then id = obj.u end
  redis.call('ZADD', KEYS[2], expiry, id)
  redis.call('HSET', KEYS[3], id, entry)
end
return items
"""

# KEYS: leases, lease entries, queue. ARGV: at most how many.
_REAP = """
local now = redis.call('TIME')
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', tonumber(now[1]), 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(ids) do
  local entry = redis.call('HGET', KEYS[2], id)
  if entry then
    local score = 0
    local ok, obj = pcall(cjson.decode, entry)
    if ok and type(obj) == 'table' and tonumber(obj.p) then score = -tonumber(obj.p) end
    redis.call('ZADD', KEYS[3], score, entry)
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return #ids
"""


class LeasedQueue:
    def __init__(self, server: redis.Redis, lease_seconds: int = defaults.LEASE_SECONDS) -> None:
        self.server = server
        self.lease_seconds = lease_seconds
        self._pop = server.register_script(_POP)
        self._reap = server.register_script(_REAP)
        self.keys = (defaults.QUEUE_KEY, defaults.LEASES_KEY, defaults.LEASE_ENTRIES_KEY)

    def pop(self, count: int) -> list[bytes]:
        """Lease up to ``count`` entries, highest priority first."""
        return self._pop(keys=list(self.keys), args=[count, self.lease_seconds])

    def complete(self, urls: Iterable[str | bytes]) -> None:
        urls = list(urls)
        if urls:
            pipe = self.server.pipeline(transaction=False)
            pipe.zrem(defaults.LEASES_KEY, *urls)
            pipe.hdel(defaults.LEASE_ENTRIES_KEY, *urls)
            pipe.execute()

    def reap(self, limit: int = 1000) -> int:
        """Put expired leases back in the queue; returns how many."""
        return self._reap(
            keys=[defaults.LEASES_KEY, defaults.LEASE_ENTRIES_KEY, defaults.QUEUE_KEY], args=[limit]
        )

    def size(self) -> int:
        return self.server.zcard(defaults.QUEUE_KEY)

    def leased(self) -> int:
        return self.server.zcard(defaults.LEASES_KEY)
