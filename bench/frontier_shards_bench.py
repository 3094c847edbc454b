"""The frontier on one Redis and on a 3-node Redis Cluster, the same workload (private servers it starts):

- Redis CPU per URL pushed (dedup + queue) and popped + completed, summed over the nodes, so URLs/s per
  Redis core on each;
- each node's share of that CPU on the cluster: the shards' hash slots spread the work, so the cluster's
  ceiling is about the sum of its cores (a share of 1/3 a node is 3x one Redis);
- ``backlinks status`` (``status.figures``) at ``--urls`` hosts, which reads counters (five a shard).

One client pushes and pops (on a 2-core machine several clients would measure the machine); what is
measured is the servers' CPU, which is what bounds a crawl's rate.

Run:  python bench/frontier_shards_bench.py [--urls 200000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from redisserver import KINDS, start_redis  # noqa: E402
from scrapy.settings import Settings  # noqa: E402

from backlinkspider import config  # noqa: E402
from backlinkspider.crawl.spider import BacklinksSpider  # noqa: E402
from backlinkspider.frontier import status  # noqa: E402
from backlinkspider.frontier.dupefilter import BloomDupeFilter  # noqa: E402
from backlinkspider.frontier.queue import Frontier, PushItem, push_item  # noqa: E402

SPIDER = BacklinksSpider()
SHARDS = config.SETTINGS["BACKLINKS_FRONTIER_SHARDS"].default


def items(n: int, per_host: int, filt: BloomDupeFilter) -> list[PushItem]:
    """``n`` links, ``per_host`` to a host, each with a Referer of its own site."""
    rng = random.Random(per_host)
    out = []
    for i in range(n):
        host = f"www.site{i // per_host:07d}.com"
        request = SPIDER.request(f"https://{host}/{rng.randbytes(16).hex()}", 1)
        request.headers["Referer"] = f"https://{host}/"
        out.append(push_item(request, SPIDER, filt, rng.randbytes(20)))
    return out


def cpu(server: Any) -> list[float]:
    """CPU seconds of each node of the server (one for one Redis)."""
    import redis

    nodes = getattr(server, "nodes", [server])
    return [
        float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        for info in (redis.Redis(port=node.port).info("cpu") for node in nodes)
    ]


def run(kind: str, n: int, per_host: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_redis(kind, Path(tmp))
        try:
            client = server.client()
            filt = BloomDupeFilter(n, 0.001, SHARDS)
            filt.setup(client)
            frontier = Frontier(client, "bench", filt, SHARDS)
            todo = items(n, per_host, filt)
            before = cpu(server)
            for i in range(0, n, batch):
                frontier.push(todo[i : i + batch])
            pushed = cpu(server)
            started = time.perf_counter()
            settings = Settings({"BACKLINKS_DUPEFILTER": "bloom", "BACKLINKS_BLOOM_CAPACITY": n})
            status.figures(client, settings)
            status_s = time.perf_counter() - started
            popped = 0
            while got := frontier.pop(64, f"bench:{popped}:", 0.0)[0]:
                popped += len(got)
                frontier.complete([token for token, _ in got])
            done = cpu(server)
            push_cpu = [b - a for a, b in zip(before, pushed, strict=True)]
            pop_cpu = [b - a for a, b in zip(pushed, done, strict=True)]
            total = sum(push_cpu) + sum(pop_cpu)
            return {
                "push_us": sum(push_cpu) / n * 1e6,
                "pop_us": sum(pop_cpu) / max(popped, 1) * 1e6,
                "shares": [(p + q) / total for p, q in zip(push_cpu, pop_cpu, strict=True)],
                "status_s": status_s,
                "popped": popped,
            }
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=200_000)
    ap.add_argument("--per-host", type=int, default=10)
    ap.add_argument("--batch", type=int, default=config.SETTINGS["BACKLINKS_FRONTIER_BATCH"].default)
    args = ap.parse_args()
    print(f"{args.urls:,} URLs, {args.per_host} a host, {SHARDS} shards, Bloom filter at 0.1%:")
    results = {kind: run(kind, args.urls, args.per_host, args.batch) for kind in KINDS}
    for kind, f in results.items():
        shares = " ".join(f"{s:.0%}" for s in f["shares"])
        per_url = f["push_us"] + f["pop_us"]
        print(
            f"  {kind:>15}: push {f['push_us']:.1f} us/URL, pop+complete {f['pop_us']:.1f} us/URL of Redis CPU"
            f" ({1e6 / per_url:,.0f} URLs/s a core); CPU by node {shares}; status {f['status_s'] * 1000:.0f} ms"
        )
    one, three = (results[k] for k in KINDS)
    ceiling = (one["push_us"] + one["pop_us"]) / ((three["push_us"] + three["pop_us"]) * max(three["shares"]))
    print(f"  the cluster's ceiling against one Redis (its busiest node saturating first): {ceiling:.2f}x")
    print(
        f"reproduce: {sys.executable} bench/frontier_shards_bench.py --urls {args.urls} --per-host {args.per_host}"
    )


if __name__ == "__main__":
    main()
