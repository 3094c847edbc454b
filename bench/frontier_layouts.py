"""Issue #20's case of 1 URL a host: Redis bytes a host of the layouts of the ready set and of a one-entry
host that were weighed, written directly (no scripts) to a private redis-server, so that each step of a
layout change is priced apart from the frontier's scripts. The frontier's (queue.py) is ``bucket hash
none ms 1024``: the project's Referer policy sends none to another site.

A layout is ``READY ONE REFERER SCORE BUCKETS``:

- READY ``flat``: today's ``hosts`` zset a shard (a skiplist past 128 hosts); ``bucket``: hosts in
  BUCKETS zsets a shard chosen by a hash of the host (listpacks while they hold <= 128), with a top zset
  of each bucket's earliest score;
- ONE ``key``: today's queue key a host; ``hash``: a host with one entry keeps it in one of BUCKETS hashes
  a shard, field host, value "score entry"; ``hashnos``: the same without the score (a compact entry's
  score is its depth);
- REFERER ``full``: another site's page URL, absolute (Scrapy's default policy); ``origin``: its origin
  (the project's policy); ``compact``: the origin as one tag character and the host; ``none``;
- SCORE ``s``: seconds with microseconds, as the scripts keep them; ``ms``: whole milliseconds (a listpack
  keeps an integer in 9 bytes rather than a 17-character string).

The Bloom filter (1.8 bytes a URL) is not included. Then the Redis CPU of the ready set's part of a push
(a new host entering it) and of a pop (the host leaving it), flat against bucketed, in one shard of
1M hosts: scripts of the frontier's shape, with none of its other work.

Run:  python bench/frontier_layouts.py [--hosts 1000000] ["flat key full s 0" "bucket hash origin ms 1024" ...]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import zlib
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from redisserver import RedisServer  # noqa: E402

SHARDS = 16
ENCODINGS = {
    "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "256",
    "hash-max-listpack-entries": "128",
    "hash-max-listpack-value": "256",
}
LAYOUTS = [
    "flat key full s 0",
    "flat key origin s 0",
    "bucket key full s 1024",
    "bucket hash full s 1024",
    "bucket hash origin s 1024",
    "bucket hash compact s 1024",
    "bucket hash origin ms 1024",
    "bucket hash compact ms 1024",
    "bucket hash origin ms 4096",
    "bucket hashnos origin ms 1024",
    "bucket hashnos none ms 1024",
]


def path(rng: random.Random) -> str:
    """The 36 characters after a 64-character URL's origin (the frontier bench's URLs)."""
    return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789-/", k=36))


def entry(rng: random.Random, referer: str) -> str:
    """A compact entry of a depth-1 link, with another site's Referer of the given form."""
    other = f"www.site{rng.randrange(10**7):07d}.com"
    refs = {
        "full": f" https://{other}/{path(rng)}",
        "origin": f" https://{other}/",
        "compact": f" >{other}",
        "none": "",
    }
    return f"s1 /{path(rng)}{refs[referer]}"


def layout(client: redis.Redis, hosts: int, spec: str) -> float:
    """Bytes a host of one layout (``used_memory`` growth over the hosts)."""
    ready, one, referer, unit, buckets = spec.split()
    rng = random.Random(1)
    client.flushall()
    before = int(client.info("memory")["used_memory"])
    pipe = client.pipeline(transaction=False)
    tops: dict[tuple[str, int], float] = {}
    for i in range(hosts):
        host = f"www.site{i:07d}.com"
        tag = f"backlinks:{{s{zlib.crc32(host.encode()) % SHARDS}}}:"
        bucket = zlib.crc32(host.encode()[::-1]) % max(1, int(buckets))
        t = 1765075548.123456 + rng.random()
        score = int(t * 1000) if unit == "ms" else t
        if ready == "flat":
            pipe.zadd(tag + "hosts", {host: score})
        else:
            pipe.zadd(tag + f"hosts:{bucket}", {host: score})
            tops[(tag, bucket)] = min(tops.get((tag, bucket), score), score)
        e = entry(rng, referer)
        if one == "key":
            pipe.zadd(tag + "q:" + host, {e: 1})
        else:
            pipe.hset(tag + f"one:{bucket}", host, "1 " + e if one == "hash" else e)
        if i % 5000 == 4999:
            pipe.execute()
    for (tag, bucket), score in tops.items():
        pipe.zadd(tag + "hosts", {str(bucket): score})
    pipe.execute()
    return (int(client.info("memory")["used_memory"]) - before) / hosts


_BUCKET = """
local function bucket(host)
  return KEYS[1] .. ':' .. (tonumber(string.sub(redis.sha1hex(host), 1, 8), 16) % tonumber(ARGV[2]))
end
"""
# ARGV: score, buckets, hosts. A host not in the ready set enters it.
_ENTER = {
    "flat": """for i = 3, #ARGV do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i]) end
end""",
    "bucket": _BUCKET
    + """for i = 3, #ARGV do
  local b = bucket(ARGV[i])
  if not redis.call('ZSCORE', b, ARGV[i]) then
    redis.call('ZADD', b, ARGV[1], ARGV[i])
    redis.call('ZADD', KEYS[1], 'LT', ARGV[1], string.sub(b, #KEYS[1] + 2))
  end
end""",
}
# ARGV: now. Up to 64 hosts ready now leave the ready set, the longest-waiting first; returns how many.
_LEAVE = {
    "flat": """local hosts = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 64)
for _, host in ipairs(hosts) do redis.call('ZREM', KEYS[1], host) end
return #hosts""",
    "bucket": """local n = 0
while n < 64 do
  local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #top == 0 or tonumber(top[2]) > tonumber(ARGV[1]) then break end
  local b = KEYS[1] .. ':' .. top[1]
  redis.call('ZREM', b, redis.call('ZRANGE', b, 0, 0)[1])
  local first = redis.call('ZRANGE', b, 0, 0, 'WITHSCORES')
  if #first == 0 then redis.call('ZREM', KEYS[1], top[1]) else redis.call('ZADD', KEYS[1], first[2], top[1]) end
  n = n + 1
end
return n""",
}


def ready_cpu(client: redis.Redis, hosts: int, buckets: int) -> dict[str, tuple[float, float]]:
    """Redis us a host entering and leaving one shard's ready set (``hosts``/16 of them), flat and
    bucketed (``buckets`` a shard), the best of 3 rounds (a shared machine)."""
    names = [f"www.site{i:07d}.com" for i in range(hosts // SHARDS)]
    random.Random(0).shuffle(names)
    out = {}
    for kind in ("flat", "bucket"):
        enter = client.register_script(_ENTER[kind] + " return 1")
        leave = client.register_script(_LEAVE[kind])
        best = (float("inf"), float("inf"))
        for _ in range(3):
            client.flushall()
            client.config_resetstat()
            for i in range(0, len(names), 64):
                enter(keys=["hosts"], args=[1765075548.0 + i / 1000, buckets, *names[i : i + 64]])
            push = client.info("commandstats")["cmdstat_evalsha"]["usec"] / len(names)
            client.config_resetstat()
            while leave(keys=["hosts"], args=[2e9]):
                pass
            pop = client.info("commandstats")["cmdstat_evalsha"]["usec"] / len(names)
            best = (min(best[0], push), min(best[1], pop))
        out[kind] = best
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1_000_000)
    ap.add_argument("layouts", nargs="*", default=LAYOUTS)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            for name, value in ENCODINGS.items():
                client.config_set(name, value)
            for spec in args.layouts:
                print(f"  {spec:32s} {layout(client, args.hosts, spec):6.1f} bytes a host", flush=True)
            for kind, (push, pop) in ready_cpu(client, args.hosts, 1024).items():
                print(f"  ready set, {kind:6s}: a host entering {push:5.2f} us, leaving {pop:5.2f} us")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
