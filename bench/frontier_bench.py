"""Frontier benchmark, against a private redis-server it starts on a free port:

- push throughput per worker: requests/s through the scheduler's batched push with dedup (set and Bloom),
  and lease (pop) throughput;
- Redis bytes per URL at 1M URLs for the exact set and the Bloom filter (used_memory before and after);
- pages/s crawling the synthetic web with 1 worker and with 2 (separate processes), as the cluster runs.

Run:  python bench/frontier_bench.py [--urls 1000000] [--sites 200] [--pages 15]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import RedisServer  # noqa: E402

from backlinkspider.frontier import defaults, serializer  # noqa: E402
from backlinkspider.frontier.dupefilter import BloomDupeFilter, SetDupeFilter  # noqa: E402
from backlinkspider.frontier.queue import LeasedQueue  # noqa: E402


def items(n: int, seed: int):
    rng = random.Random(seed)
    for i in range(n):
        url = f"https://www.site{rng.randrange(10**6)}.com/p/{i}"
        yield rng.randbytes(20), 0, serializer.dumps(url, 1, -1)


def push(filt, n: int, batch: int, seed: int) -> float:
    buf, started = [], time.perf_counter()
    for item in items(n, seed):
        buf.append(item)
        if len(buf) == batch:
            filt.push_new(buf)
            buf = []
    if buf:
        filt.push_new(buf)
    return n / (time.perf_counter() - started)


def memory_per_url(make, n: int, batch: int) -> tuple[float, float]:
    """(used_memory growth, size of the dupefilter's own key) per URL."""
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            before = client.info("memory")["used_memory"]
            filt = make(client)
            push(filt, n, batch, seed=1)
            client.delete(defaults.QUEUE_KEY)  # the queue is not the dupefilter
            used = (client.info("memory")["used_memory"] - before) / n
            key = defaults.BLOOM_KEY if client.exists(defaults.BLOOM_KEY) else defaults.SEEN_KEY
            own = client.memory_usage(key, samples=0) / n
            return used, own
        finally:
            server.stop()


def crawl_rate(workers: int, sites: int, pages: int) -> float:
    """Pages/s of N workers on the synthetic web (served by a proxy in its own process)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        proxy = subprocess.Popen(
            [
                sys.executable,
                "-c",
                (
                    "import sys, threading; sys.path.insert(0, 'tests');"
                    "from synthweb import SyntheticWeb, ProxyServer;"
                    f"p = ProxyServer(SyntheticWeb(seed=11, bulk_sites={sites}, pages_per_site={pages})).__enter__();"
                    "print(p.url, flush=True); threading.Event().wait()"
                ),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = proxy.stdout.readline().strip()
            env = {**os.environ, "http_proxy": url, "https_proxy": url, "REDIS_URL": server.url}
            cmd = [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "backlinks",
                "-s",
                "AUTOTHROTTLE_ENABLED=False",
                "-s",
                "DOWNLOAD_DELAY=0",
                "-s",
                "CONCURRENT_REQUESTS_PER_DOMAIN=8",
                "-s",
                "BACKLINKS_HOST_DELAY=0",
                "-s",
                "BACKLINKS_MAX_PAGES_PER_HOST=100",
                "-s",
                "BACKLINKS_IDLE_TIMEOUT=3",
                "-s",
                f"BACKLINKS_INDEX=sqlite:///{tmp}/bench.db",
                "-s",
                "LOG_LEVEL=INFO",
            ]
            started = time.perf_counter()
            procs = [
                subprocess.Popen(
                    cmd + (["-a", "seeds=http://www.hub-directory.com/"] if i == 0 else []),
                    cwd=ROOT,
                    env=env,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for i in range(workers)
            ]
            logs = [p.communicate()[1] for p in procs]
            pages = sum(
                int(m.group(1)) for log in logs for m in re.finditer(r"'response_received_count': (\d+)", log)
            )
            # Workers wait BACKLINKS_IDLE_TIMEOUT (plus up to one idle check) before closing: not crawl time.
            elapsed = time.perf_counter() - started - 3
            return pages / elapsed
        finally:
            proxy.terminate()
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=defaults.BATCH_SIZE)
    ap.add_argument("--sites", type=int, default=200)
    ap.add_argument("--pages", type=int, default=15)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            n = 200_000
            rate_set = push(SetDupeFilter(client), n, args.batch, seed=2)
            rate_dup = push(SetDupeFilter(client), n, args.batch, seed=2)  # all duplicates
            client.flushall()
            rate_bloom = push(BloomDupeFilter(client, 10_000_000, 0.001), n, args.batch, seed=3)
            queue = LeasedQueue(client)
            started, popped = time.perf_counter(), 0
            while True:
                got = queue.pop(8)
                if not got:
                    break
                popped += len(got)
            rate_pop = popped / (time.perf_counter() - started)
        finally:
            server.stop()
    print(
        f"push with dedup, batches of {args.batch}: set {rate_set:,.0f} requests/s new,"
        f" {rate_dup:,.0f}/s duplicates; bloom {rate_bloom:,.0f}/s (target >= 20,000)"
    )
    print(f"lease (pop 8 at a time): {rate_pop:,.0f} requests/s")
    set_bytes = memory_per_url(SetDupeFilter, args.urls, args.batch)
    bloom_bytes = memory_per_url(lambda c: BloomDupeFilter(c, args.urls, 0.001), args.urls, args.batch)
    print(
        f"Redis memory per URL at {args.urls:,} URLs (used_memory growth / MEMORY USAGE of the key):"
        f" set {set_bytes[0]:.1f} / {set_bytes[1]:.1f} bytes; bloom at 0.1% {bloom_bytes[0]:.2f} / {bloom_bytes[1]:.2f}"
        " bytes (target <= 2)"
    )
    one = crawl_rate(1, args.sites, args.pages)
    two = crawl_rate(2, args.sites, args.pages)
    print(
        f"synthetic web ({args.sites} sites x {args.pages} pages): 1 worker {one:,.0f} pages/s,"
        f" 2 workers {two:,.0f} pages/s (2 cores: the proxy and Redis share them)"
    )
    print(
        f"reproduce: {sys.executable} bench/frontier_bench.py --urls {args.urls} --sites {args.sites}"
        f" --pages {args.pages}"
    )


if __name__ == "__main__":
    main()
