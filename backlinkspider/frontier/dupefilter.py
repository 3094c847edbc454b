"""Which URLs the cluster has seen: the marks a request's fingerprint sets, checked and set by the push
script (``queue``) together with the push, one script call per batch, so two workers never both take one
URL as new.

``SetDupeFilter`` is exact: a set of 16-byte fingerprints, 64 to 76 bytes of Redis memory per URL
(bench/frontier_bench.py, at 1M and 20k; scrapy-redis keeps 40-character hex strings: about 88). ``BloomDupeFilter``
bounds memory: a Bloom filter on plain Redis bitmaps (no module: Debian's Redis has no ``BF.*``), sized
from ``BACKLINKS_BLOOM_CAPACITY`` and ``BACKLINKS_BLOOM_ERROR_RATE``: m = -n ln p / (ln 2)² bits and
k = (m / n) ln 2 hash positions, from two 64-bit halves of the fingerprint (double hashing). At 0.1% it
takes 14.4 bits (1.8 bytes) per URL of capacity, allocated at once. Each frontier shard (``queue``) holds
its hosts' part, a bitmap of m / S bits: the URLs are spread over the shards by host, so each holds about
n / S of them (a crawl of few hosts fills some shards' bitmaps faster: size the capacity for the largest
shard). One bitmap holds at most 2³² bits (about 298M URLs a shard at 0.1%), and a capacity it cannot
hold at the asked rate is an error, not a silent cap. Both filters keep one structure per shard, beside
the shard's queues, so that the push script checks and queues in one hash slot.

``BACKLINKS_DUPEFILTER=auto`` (the default) takes the set for a crawl sized (``BACKLINKS_BLOOM_CAPACITY``)
up to ``EXACT_UP_TO`` URLs, the Bloom filter past it: the set's exactness costs at most ~70 MB there, and
past it grows 35 times faster than the filter (a crawl of 100M URLs: ~6.4 GB against 172 MB). The choice is
made once, when the cluster's frontier is made: the filter cannot be resized or the set converted later.

The cluster's choice (set or bloom) and the Bloom filter's parameters are stored in Redis by the first
worker or ``backlinks seed``; anyone asking for others gets ``FrontierConfigError``, one line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from backlinkspider import config
from backlinkspider.frontier import defaults

if TYPE_CHECKING:
    import redis
    from scrapy.settings import BaseSettings

_MAX_BITS = 2**32
EXACT_UP_TO = 1_000_000  # BACKLINKS_DUPEFILTER=auto: the exact set up to this capacity (see above)


class FrontierConfigError(ValueError):
    """This worker's frontier settings disagree with the cluster's, or cannot work; one line."""


# KEYS: config, bloom params. ARGV: dupefilter kind, then the Bloom parameters as field, value pairs.
# Returns "" when they agree (stored if new), else what the cluster has.
_AGREE = """
local kind = redis.call('HGET', KEYS[1], 'dupefilter')
if not kind then redis.call('HSET', KEYS[1], 'dupefilter', ARGV[1]); kind = ARGV[1] end
if kind ~= ARGV[1] then return 'dupefilter=' .. kind end
if #ARGV > 1 then
  if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('HSET', KEYS[2], unpack(ARGV, 2)) end
  for i = 2, #ARGV, 2 do
    local have = redis.call('HGET', KEYS[2], ARGV[i])
    if have ~= ARGV[i + 1] then
      local all = redis.call('HGETALL', KEYS[2])
      local parts = {}
      for j = 1, #all, 2 do parts[#parts + 1] = all[j] .. '=' .. all[j + 1] end
      return table.concat(parts, ' ')
    end
  end
end
return ''
"""


class SetDupeFilter:
    kind = "set"
    name = defaults.SEEN  # of each shard's key

    def marks(self, fingerprint: bytes) -> list[bytes | int]:
        return [fingerprint[:16]]

    def setup(self, client: redis.Redis) -> None:
        _agree(client, self.kind, [])

    def seen(self, client: redis.Redis, shards: int) -> int:
        pipe = client.pipeline(transaction=False)
        for shard in range(shards):
            pipe.scard(defaults.shard_key(shard, defaults.SEEN))
        return sum(int(n) for n in pipe.execute())


class BloomDupeFilter:
    kind = "bloom"
    name = defaults.BLOOM  # of each shard's key

    def __init__(self, capacity: int, error_rate: float, shards: int = 1) -> None:
        if capacity < 1 or not 0 < error_rate < 1:
            raise FrontierConfigError(
                "BACKLINKS_BLOOM_CAPACITY must be >= 1 and BACKLINKS_BLOOM_ERROR_RATE in (0, 1)"
            )
        self.capacity, self.error_rate = capacity, error_rate
        self.shards = shards
        self.bits = math.ceil(-capacity * math.log(error_rate) / math.log(2) ** 2)
        self.shard_bits = math.ceil(self.bits / shards)
        if self.shard_bits > _MAX_BITS:
            most = math.floor(shards * _MAX_BITS * math.log(2) ** 2 / -math.log(error_rate))
            raise FrontierConfigError(
                f"BACKLINKS_BLOOM_CAPACITY={capacity:,} at BACKLINKS_BLOOM_ERROR_RATE={error_rate} needs "
                f"{self.bits:,} bits; one Redis bitmap (of {shards} shards) holds 2^32 (at most {most:,} URLs at"
                " that rate)"
            )
        self.hashes = max(1, round(self.bits / capacity * math.log(2)))

    def params(self) -> list[str]:
        return [
            "capacity",
            str(self.capacity),
            "error_rate",
            repr(self.error_rate),
            "bits",
            str(self.bits),
            "hashes",
            str(self.hashes),
        ]

    def setup(self, client: redis.Redis) -> None:
        _agree(client, self.kind, self.params())
        # Allocate each whole bitmap at once: grown bit by bit, Redis over-allocates it by up to 1 MB.
        for shard in range(self.shards):
            client.eval(
                "if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SETBIT', KEYS[1], ARGV[1], 0) end",
                1,
                defaults.shard_key(shard, defaults.BLOOM),
                self.shard_bits - 1,
            )

    def marks(self, fingerprint: bytes) -> list[int]:
        h1 = int.from_bytes(fingerprint[:8], "big")
        h2 = int.from_bytes(fingerprint[8:16], "big") | 1
        return [(h1 + i * h2) % self.shard_bits for i in range(self.hashes)]

    def might_contain(self, client: redis.Redis, fingerprints: Sequence[bytes], shard: int = 0) -> list[bool]:
        """Whether each fingerprint may have been added to this shard (false positives at the error
        rate), adding nothing."""
        pipe = client.pipeline(transaction=False)
        for fingerprint in fingerprints:
            for offset in self.marks(fingerprint):
                pipe.getbit(defaults.shard_key(shard, defaults.BLOOM), offset)
        bits = pipe.execute()
        k = self.hashes
        return [all(bits[i * k : (i + 1) * k]) for i in range(len(fingerprints))]

    def seen(self, client: redis.Redis, shards: int) -> int:
        pipe = client.pipeline(transaction=False)
        for shard in range(shards):
            pipe.get(defaults.shard_key(shard, defaults.SEEN_COUNT))
        return sum(int(n or 0) for n in pipe.execute())


DupeFilter = SetDupeFilter | BloomDupeFilter


def _agree(client: redis.Redis, kind: str, params: list[str]) -> None:
    have = client.eval(_AGREE, 2, defaults.CONFIG_KEY, defaults.BLOOM_PARAMS_KEY, kind, *params)
    if have:
        asked = (
            " ".join(f"{params[i]}={params[i + 1]}" for i in range(0, len(params), 2)) or f"dupefilter={kind}"
        )
        raise FrontierConfigError(
            f"the cluster's frontier was made with {have.decode()}; this one asks for {asked}"
            " (use the same BACKLINKS_DUPEFILTER and BACKLINKS_BLOOM_* everywhere)"
        )


def from_settings(settings: BaseSettings | Any) -> DupeFilter:
    def get(name: str) -> Any:
        return settings.get(name, config.SETTINGS[name].default)

    kind, capacity = get("BACKLINKS_DUPEFILTER"), int(get("BACKLINKS_BLOOM_CAPACITY"))
    if kind == "auto":
        kind = "set" if capacity <= EXACT_UP_TO else "bloom"
    if kind == "set":
        return SetDupeFilter()
    if kind == "bloom":
        return BloomDupeFilter(
            capacity, float(get("BACKLINKS_BLOOM_ERROR_RATE")), int(get("BACKLINKS_FRONTIER_SHARDS"))
        )
    raise FrontierConfigError(f"BACKLINKS_DUPEFILTER must be 'auto', 'set' or 'bloom', not {kind!r}")
