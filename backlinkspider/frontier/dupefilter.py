"""Which URLs the cluster has seen, checked and recorded together with the push to the queue: one
script call per batch of requests, atomic, so two workers never both take one URL as new.

``SetDupeFilter`` (the default) is exact: a set of 16-byte fingerprints (scrapy-redis keeps 40-character
hex strings: about 88 bytes of Redis memory per URL; see bench/frontier_bench.py for ours).
``BloomDupeFilter`` bounds memory: a Bloom filter on a plain Redis bitmap (no module: Debian's Redis has no
``BF.*``), sized from ``BACKLINKS_BLOOM_CAPACITY`` and ``BACKLINKS_BLOOM_ERROR_RATE``: m = -n ln p / (ln 2)²
bits and k = (m / n) ln 2 hash positions, from two 64-bit halves of the fingerprint (double hashing). At
0.1% it takes 14.4 bits (1.8 bytes) per URL; one bitmap holds up to 2³² bits (about 298M URLs at 0.1%).
A false positive means one URL is never crawled, with probability at most the error rate at capacity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import redis

from backlinkspider.frontier import defaults

Item = tuple[bytes, int, str]  # (fingerprint, queue score, entry)

# KEYS: seen set, queue. ARGV: fingerprint, score, entry, fingerprint, score, entry, ...
_SET_PUSH = """
local added = 0
for i = 1, #ARGV, 3 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i + 2])
    added = added + 1
  end
end
return added
"""

# KEYS: bitmap, queue, counter. ARGV: k, then per item: k bit offsets, score, entry.
_BLOOM_PUSH = """
local k = tonumber(ARGV[1])
local added = 0
local i = 2
while i <= #ARGV do
  local new = false
  for j = 0, k - 1 do
    if redis.call('SETBIT', KEYS[1], ARGV[i + j], 1) == 0 then new = true end
  end
  if new then
    redis.call('ZADD', KEYS[2], ARGV[i + k], ARGV[i + k + 1])
    added = added + 1
  end
  i = i + k + 2
end
if added > 0 then redis.call('INCRBY', KEYS[3], added) end
return added
"""


class SetDupeFilter:
    def __init__(self, server: redis.Redis) -> None:
        self.server = server
        self._push = server.register_script(_SET_PUSH)

    def push_new(self, items: Sequence[Item]) -> int:
        """Push the items whose fingerprint was not seen; returns how many were new."""
        args: list = []
        for fingerprint, score, entry in items:
            args += [fingerprint[:16], score, entry]
        return self._push(keys=[defaults.SEEN_KEY, defaults.QUEUE_KEY], args=args) if args else 0

    def seen(self) -> int:
        return self.server.scard(defaults.SEEN_KEY)


class BloomDupeFilter:
    def __init__(self, server: redis.Redis, capacity: int, error_rate: float) -> None:
        if capacity < 1 or not 0 < error_rate < 1:
            raise ValueError("BACKLINKS_BLOOM_CAPACITY must be >= 1 and BACKLINKS_BLOOM_ERROR_RATE in (0, 1)")
        self.server = server
        self.bits = min(math.ceil(-capacity * math.log(error_rate) / math.log(2) ** 2), 2**32)
        self.hashes = max(1, round(self.bits / capacity * math.log(2)))
        self._push = server.register_script(_BLOOM_PUSH)
        # Allocate the whole bitmap at once: grown bit by bit, Redis over-allocates it by up to 1 MB.
        server.eval(
            "if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SETBIT', KEYS[1], ARGV[1], 0) end",
            1,
            defaults.BLOOM_KEY,
            self.bits - 1,
        )

    def offsets(self, fingerprint: bytes) -> list[int]:
        h1 = int.from_bytes(fingerprint[:8], "big")
        h2 = int.from_bytes(fingerprint[8:16], "big") | 1
        return [(h1 + i * h2) % self.bits for i in range(self.hashes)]

    def push_new(self, items: Sequence[Item]) -> int:
        args: list = [self.hashes]
        for fingerprint, score, entry in items:
            args += [*self.offsets(fingerprint), score, entry]
        if len(args) == 1:
            return 0
        return self._push(keys=[defaults.BLOOM_KEY, defaults.QUEUE_KEY, defaults.SEEN_COUNT_KEY], args=args)

    def might_contain(self, fingerprints: Sequence[bytes]) -> list[bool]:
        """Whether each fingerprint may have been added (false positives at the error rate), adding nothing."""
        pipe = self.server.pipeline(transaction=False)
        for fingerprint in fingerprints:
            for offset in self.offsets(fingerprint):
                pipe.getbit(defaults.BLOOM_KEY, offset)
        bits = pipe.execute()
        k = self.hashes
        return [all(bits[i * k : (i + 1) * k]) for i in range(len(fingerprints))]

    def seen(self) -> int:
        return int(self.server.get(defaults.SEEN_COUNT_KEY) or 0)


def from_settings(server: redis.Redis, settings) -> SetDupeFilter | BloomDupeFilter:
    kind = settings.get("BACKLINKS_DUPEFILTER", defaults.DUPEFILTER)
    if kind == "set":
        return SetDupeFilter(server)
    if kind == "bloom":
        return BloomDupeFilter(
            server,
            settings.getint("BACKLINKS_BLOOM_CAPACITY"),
            settings.getfloat("BACKLINKS_BLOOM_ERROR_RATE"),
        )
    raise ValueError(f"BACKLINKS_DUPEFILTER must be 'set' or 'bloom', not {kind!r}")
