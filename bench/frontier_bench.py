"""Frontier benchmark, against private redis-servers it starts on free ports:

- Redis bytes per queued URL at 1, 10 and 100 URLs a host (``--urls`` queued in all, 1M by default), the
  Bloom filter (sized for them, at 0.1%) included, with Redis' default encodings and with the frontier's
  (``queue.REDIS_ENCODINGS``); where the bytes go (the Bloom filter, the ready set, the host queues); and
  the exact seen set's bytes per URL instead of the Bloom filter's;
- Redis CPU per URL (the redis-server process' CPU time over the URLs): push (dedup + queue), push of a
  duplicate, and pop + complete, so URLs/s per Redis core; and the client's push rate (requests
  serialized, one worker);
- ``backlinks status`` (``status.figures``) at 1 URL a host, i.e. ``--urls`` hosts;
- the same workload on one Redis and on a 3-node Redis Cluster (tests/support/redisserver.py's);
- one host queue's ZADD + ZPOPMIN cost by queue length and encoding (what sizes
  ``zset-max-listpack-entries``).

Crawl rates of 1 to 8 workers, and fairness, are in bench/cluster_bench.py.

Run:  python bench/frontier_bench.py [--urls 1000000] [--encodings both|frontier]
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

from redisserver import KINDS, RedisServer, start_redis  # noqa: E402
from scrapy.settings import Settings  # noqa: E402
from scrapy.spidermiddlewares.referer import RefererMiddleware  # noqa: E402

from backlinkspider import config  # noqa: E402
from backlinkspider.crawl.spider import BacklinksSpider  # noqa: E402
from backlinkspider.frontier import defaults, status  # noqa: E402
from backlinkspider.frontier.dupefilter import BloomDupeFilter, SetDupeFilter  # noqa: E402
from backlinkspider.frontier.queue import REDIS_ENCODINGS, Frontier, PushItem, push_item  # noqa: E402
from backlinkspider.frontier.queue import status as counters  # noqa: E402

SPIDER = BacklinksSpider()
SHARDS = config.SETTINGS["BACKLINKS_FRONTIER_SHARDS"].default
# The Referer policy a crawl runs with (the project's REFERRER_POLICY): what a link's entry stores.
REFERRER = RefererMiddleware(config.project_settings()).default_policy()
REDIS_DEFAULTS = {
    "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "64",
    "hash-max-listpack-value": "64",
}


def url_at(rng: random.Random, host: str) -> str:
    """A 64-character URL on a host (the issue's figures are for 64 characters)."""
    base = f"https://{host}/"
    tail = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789-/", k=64 - len(base)))
    return base + tail


def items(n: int, per_host: int, referer: bool = True) -> list[PushItem]:
    """Links as the spider yields them, ``per_host`` to a host, made once for every server they are pushed
    to: with the Referer the project's policy gives them, from a page of the same site when the host has
    several (a site's own links fill its queue: the page's URL), of another site when it has one (its
    origin). Bloom marks for a filter sized for ``n``."""
    rng = random.Random(per_host)
    filt = BloomDupeFilter(n, 0.001, SHARDS)
    out = []
    for i in range(n):
        host = f"www.site{i // per_host:07d}.com"
        request = SPIDER.request(url_at(rng, host), 1 + i % 3)
        if referer:
            referrer = host if per_host > 1 else f"www.site{rng.randrange(10**7):07d}.com"
            if ref := REFERRER.referrer(url_at(rng, referrer), request.url):
                request.headers["Referer"] = ref
        out.append(push_item(request, SPIDER, filt, rng.randbytes(20)))
    return out


def cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def start(tmp: str, encodings: dict[str, str]) -> tuple[RedisServer, redis.Redis]:
    server = RedisServer(Path(tmp)).start()
    client = redis.Redis.from_url(server.url)
    for name, value in encodings.items():
        client.config_set(name, value)
    return server, client


def layout(todo: list[PushItem], per_host: int, encodings: dict[str, str], batch: int) -> dict[str, float]:
    """Queue the items; their bytes, Redis CPU, and then pop + complete them all."""
    n = len(todo)
    with tempfile.TemporaryDirectory() as tmp:
        server, client = start(tmp, encodings)
        try:
            before = client.info("memory")["used_memory"]
            filt = BloomDupeFilter(n, 0.001, SHARDS)
            filt.setup(client)
            frontier = Frontier(client, "bench", filt, SHARDS)
            cpu0, started = cpu(client), time.perf_counter()
            for i in range(0, n, batch):
                frontier.push(todo[i : i + batch])
            seconds, push_cpu = time.perf_counter() - started, cpu(client) - cpu0
            queued = counters(client, SHARDS)["queued"]  # pushed less the Bloom filter's false positives
            used = client.info("memory")["used_memory"] - before
            seen = shards_bytes(client, filt.name)
            hosts = ready_set_bytes(client)
            cpu0 = cpu(client)
            for i in range(0, n, batch):  # again: every one a duplicate now
                frontier.push(todo[i : i + batch])
            dup_cpu = cpu(client) - cpu0
            sample = [f"www.site{i:07d}.com" for i in range(0, n // per_host, max(1, n // per_host // 100))]
            listpacks = sum(
                queue_encoding(client, frontier.shard(h), h) == b"listpack" for h in sample
            ) / len(sample)
            figures = {
                "bytes": used / queued,
                "seen": seen / queued,
                "hosts": hosts / queued,
                "queues": (used - seen - hosts) / queued,
                "listpack": listpacks,
                "push_us": push_cpu / n * 1e6,
                "dup_us": dup_cpu / n * 1e6,
                "push_rate": n / seconds,
            }
            if per_host == 1:
                settings = Settings(
                    {k: v.default for k, v in config.SETTINGS.items() if v.default is not None}
                )
                settings.setdict({"BACKLINKS_DUPEFILTER": "bloom", "BACKLINKS_BLOOM_CAPACITY": n})
                started = time.perf_counter()
                status.figures(client, settings)
                figures["status_s"] = time.perf_counter() - started
            cpu0, popped = cpu(client), 0
            while True:
                got = frontier.pop(64, f"bench:{popped}:", 0.0)[0]
                if not got:
                    break
                popped += len(got)
                frontier.complete([token for token, _ in got])
            figures["pop_us"] = (cpu(client) - cpu0) / max(popped, 1) * 1e6
            assert popped == queued, (popped, queued)
            return figures
        finally:
            server.stop()


def one_or_cluster(todo: list[PushItem], kind: str, batch: int) -> dict[str, float]:
    """The same pushes, then pops + completions, by one client on one Redis or on a 3-node Redis Cluster
    (the fixture's): URLs/s, and Redis CPU per URL summed over the nodes."""
    n = len(todo)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_redis(kind, Path(tmp))
        try:
            nodes = [redis.Redis(port=node.port) for node in getattr(server, "nodes", [server])]
            client = server.client()
            filt = BloomDupeFilter(n, 0.001, SHARDS)
            filt.setup(client)
            frontier = Frontier(client, "bench", filt, SHARDS)
            cpu0, started = sum(cpu(x) for x in nodes), time.perf_counter()
            for i in range(0, n, batch):
                frontier.push(todo[i : i + batch])
            push_s, push_cpu = time.perf_counter() - started, sum(cpu(x) for x in nodes) - cpu0
            cpu0, started, popped = sum(cpu(x) for x in nodes), time.perf_counter(), 0
            while got := frontier.pop(64, f"bench:{popped}:", 0.0)[0]:
                popped += len(got)
                frontier.complete([token for token, _ in got])
            pop_s, pop_cpu = time.perf_counter() - started, sum(cpu(x) for x in nodes) - cpu0
            return {
                "push_rate": n / push_s,
                "pop_rate": popped / pop_s,
                "push_us": push_cpu / n * 1e6,
                "pop_us": pop_cpu / max(popped, 1) * 1e6,
            }
        finally:
            server.stop()


def shards_bytes(client: redis.Redis, name: str) -> int:
    """MEMORY USAGE of one key of every shard."""
    return sum(client.memory_usage(defaults.shard_key(s, name), samples=0) or 0 for s in range(SHARDS))


def ready_set_bytes(client: redis.Redis) -> int:
    """MEMORY USAGE of every shard's ready set: its top and its buckets."""
    pipe = client.pipeline(transaction=False)
    for shard in range(SHARDS):
        pipe.memory_usage(defaults.shard_key(shard, defaults.HOSTS), samples=0)
        for bucket in range(defaults.READY_BUCKETS):
            pipe.memory_usage(defaults.shard_key(shard, f"{defaults.HOST_BUCKET}{bucket}"), samples=0)
    return sum(n or 0 for n in pipe.execute())


def queue_encoding(client: redis.Redis, shard: int, host: str) -> bytes | None:
    """The encoding of what holds a host's queue: its sorted set, or its bucket's one-entry hash."""
    queue = client.object("encoding", defaults.shard_key(shard, defaults.HOST_QUEUE + host))
    one = defaults.bucket_key(shard, defaults.ONE_ENTRY, host)
    return queue if isinstance(queue, bytes) else client.object("encoding", one)


def exact_set_bytes(n: int) -> float:
    """Bytes per URL of the exact seen set (16-byte fingerprints in one Redis set)."""
    with tempfile.TemporaryDirectory() as tmp:
        server, client = start(tmp, {})
        try:
            rng = random.Random(0)
            for _ in range(0, n, 10_000):
                client.sadd(SetDupeFilter.name, *(rng.randbytes(16) for _ in range(10_000)))
            return client.memory_usage(SetDupeFilter.name, samples=0) / client.scard(SetDupeFilter.name)
        finally:
            server.stop()


def queue_ops(length: int, encodings: dict[str, str]) -> float:
    """Microseconds of Redis per ZADD + ZPOPMIN on one queue of ``length`` 50-byte entries."""
    with tempfile.TemporaryDirectory() as tmp:
        server, client = start(tmp, encodings)
        try:
            rng = random.Random(length)
            key = "q"
            client.zadd(key, {rng.randbytes(25).hex(): rng.randrange(3) for _ in range(length)})
            best = float("inf")
            for _ in range(5):  # the least disturbed of 5 rounds (a shared machine)
                client.config_resetstat()
                pipe = client.pipeline(transaction=False)
                for _ in range(5000):
                    pipe.zadd(key, {rng.randbytes(25).hex(): rng.randrange(3)})
                    pipe.zpopmin(key)
                pipe.execute()
                stats = client.info("commandstats")
                best = min(best, sum(stats[f"cmdstat_{c}"]["usec"] for c in ("zadd", "zpopmin")) / 5000)
            return best
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument(
        "--encodings",
        choices=("both", "frontier"),
        default="both",
        help="the layouts with Redis' default encodings too, or with the frontier's only (faster)",
    )
    ap.add_argument("--batch", type=int, default=config.SETTINGS["BACKLINKS_FRONTIER_BATCH"].default)
    args = ap.parse_args()
    ours = dict(REDIS_ENCODINGS)
    print(f"encodings: Redis' defaults {REDIS_DEFAULTS}; the frontier's {ours}")

    print("\none host queue, Redis us per ZADD + ZPOPMIN of a 50-byte entry, by queue length:")
    for length in (16, 64, 128, 256, 1000):
        lp = {"zset-max-listpack-entries": str(length + 10), "zset-max-listpack-value": "64"}
        print(
            f"  {length:>5} entries: listpack {queue_ops(length, lp):5.2f} us,"
            f" skiplist {queue_ops(length, REDIS_DEFAULTS | {'zset-max-listpack-entries': '1'}):5.2f} us"
        )

    print(
        f"\n{args.urls:,} URLs queued (64 characters, with a Referer), Bloom filter at 0.1% sized for them:"
    )
    for per_host in (1, 10, 100):
        todo = items(args.urls, per_host)
        runs = [("Redis defaults", REDIS_DEFAULTS), ("frontier's", ours)]
        for name, enc in runs if args.encodings == "both" else runs[1:]:
            f = layout(todo, per_host, enc, args.batch)
            status_s = (
                f" status {f['status_s'] * 1e3:.1f} ms at {args.urls:,} hosts;" if "status_s" in f else ""
            )
            print(
                f"  {per_host:>3} a host, {name:>14} encodings: {f['bytes']:6.1f} bytes/URL (Bloom {f['seen']:.1f},"
                f" ready set {f['hosts']:.1f}, queues {f['queues']:.1f}; {f['listpack']:.0%} of queues listpacks);"
                f" Redis CPU: push {f['push_us']:.1f} us/URL ({1e6 / f['push_us']:,.0f}/s a core),"
                f" a duplicate {f['dup_us']:.1f} us,"
                f" pop+complete {f['pop_us']:.1f} us/URL ({1e6 / f['pop_us']:,.0f}/s a core);{status_s}"
                f" client push {f['push_rate']:,.0f} requests/s"
            )
    f = layout(items(args.urls, 100, referer=False), 100, ours, args.batch)
    print(
        f"  100 a host, frontier's encodings, no Referer (REFERER_ENABLED=False): {f['bytes']:.1f} bytes/URL"
    )
    print(f"the exact seen set instead of the Bloom filter: {exact_set_bytes(args.urls):.1f} bytes/URL")

    n = min(args.urls, 100_000)
    todo = items(n, 10)
    one, three = (one_or_cluster(todo, kind, args.batch) for kind in KINDS)
    print(f"\n{n:,} URLs at 10 a host, one client, {KINDS[0]} / {KINDS[1]} (all on this machine's cores):")
    for what in ("push", "pop"):
        name = "push" if what == "push" else "pop+complete"
        print(
            f"  {name}: {one[what + '_rate']:,.0f} / {three[what + '_rate']:,.0f} URLs/s"
            f" ({three[what + '_rate'] / one[what + '_rate']:.2f}x); Redis CPU {one[what + '_us']:.1f}"
            f" / {three[what + '_us']:.1f} us per URL, all nodes"
        )
    print(
        f"reproduce: {sys.executable} bench/frontier_bench.py --urls {args.urls} --encodings {args.encodings}"
    )


if __name__ == "__main__":
    main()
