"""Frontier benchmark, against a private redis-server it starts on a free port:

- push throughput per worker: requests/s through the scheduler's batched push with dedup (set and Bloom),
  and lease (pop) throughput;
- Redis bytes per URL at 1M URLs for the exact set and the Bloom filter (used_memory before and after).

Crawl rates of 1 to 8 workers, and fairness, are in bench/cluster_bench.py.

Run:  python bench/frontier_bench.py [--urls 1000000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from redisserver import RedisServer  # noqa: E402
from scrapy import Request  # noqa: E402

from backlinkspider import config  # noqa: E402
from backlinkspider.frontier import defaults  # noqa: E402
from backlinkspider.frontier.dupefilter import BloomDupeFilter, SetDupeFilter  # noqa: E402
from backlinkspider.frontier.queue import Frontier, push_item  # noqa: E402


def items(frontier: Frontier, n: int, seed: int):
    """Requests as the spider makes them, on a million hosts (serialized here: the worker does it too)."""
    rng = random.Random(seed)
    for i in range(n):
        url = f"https://www.site{rng.randrange(10**6)}.com/p/{i}"
        request = Request(url, meta={"depth": 1, "verbatim_url": True}, priority=-1)
        yield push_item(request, None, frontier.dupefilter, rng.randbytes(20))


def push(frontier: Frontier, n: int, batch: int, seed: int) -> float:
    buf, started = [], time.perf_counter()
    for item in items(frontier, n, seed):
        buf.append(item)
        if len(buf) == batch:
            frontier.push(buf)
            buf = []
    if buf:
        frontier.push(buf)
    return n / (time.perf_counter() - started)


def frontier_for(client, filt) -> Frontier:
    filt.setup(client)
    return Frontier(client, "bench", filt)


def memory_per_url(make, n: int, batch: int) -> tuple[float, float]:
    """(used_memory growth, size of the dupefilter's own key) per URL."""
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            before = client.info("memory")["used_memory"]
            push(frontier_for(client, make()), n, batch, seed=1)
            # The queues are not the dupefilter: drop them (and every other frontier key).
            pipe = client.pipeline(transaction=False)
            for i, key in enumerate(client.scan_iter(count=10_000)):
                if (
                    key
                    != (
                        defaults.BLOOM_KEY if client.exists(defaults.BLOOM_KEY) else defaults.SEEN_KEY
                    ).encode()
                ):
                    pipe.unlink(key)
                if i % 10_000 == 0:
                    pipe.execute()
            pipe.execute()
            used = (client.info("memory")["used_memory"] - before) / n
            key = defaults.BLOOM_KEY if client.exists(defaults.BLOOM_KEY) else defaults.SEEN_KEY
            own = client.memory_usage(key, samples=0) / n
            return used, own
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=config.SETTINGS["BACKLINKS_FRONTIER_BATCH"].default)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            n = 200_000
            rate_set = push(frontier_for(client, SetDupeFilter()), n, args.batch, seed=2)
            rate_dup = push(frontier_for(client, SetDupeFilter()), n, args.batch, seed=2)  # all duplicates
            client.flushall()
            bloom = frontier_for(client, BloomDupeFilter(10_000_000, 0.001))
            rate_bloom = push(bloom, n, args.batch, seed=3)
            started, popped = time.perf_counter(), 0
            while True:
                got = bloom.pop(64, f"bench:{popped}:", 0.0, 7)[0]
                if not got:
                    break
                popped += len(got)
                bloom.complete([token for token, _ in got])
            rate_pop = popped / (time.perf_counter() - started)
        finally:
            server.stop()
    print(
        f"push with dedup, batches of {args.batch}: set {rate_set:,.0f} requests/s new,"
        f" {rate_dup:,.0f}/s duplicates; bloom {rate_bloom:,.0f}/s (target >= 20,000)"
    )
    print(
        f"lease and complete (pop up to 64 from ready hosts, one round trip each way): {rate_pop:,.0f} requests/s"
    )
    set_bytes = memory_per_url(SetDupeFilter, args.urls, args.batch)
    bloom_bytes = memory_per_url(lambda: BloomDupeFilter(args.urls, 0.001), args.urls, args.batch)
    print(
        f"Redis memory per URL at {args.urls:,} URLs (used_memory growth / MEMORY USAGE of the key):"
        f" set {set_bytes[0]:.1f} / {set_bytes[1]:.1f} bytes; bloom at 0.1% {bloom_bytes[0]:.2f} / {bloom_bytes[1]:.2f}"
        " bytes (target <= 2)"
    )
    print(f"reproduce: {sys.executable} bench/frontier_bench.py --urls {args.urls}")


if __name__ == "__main__":
    main()
