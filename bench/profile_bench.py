"""Profile benchmark: summary and first-page query latency on indexes of 1M and 5M edges.

The index has a realistic shape: target domains drawn from a power law (the biggest holds about a fifth
of all edges: 1M backlinks at 5M edges), a long tail of small targets, ~40 links a source page. It is
built through the real write path (so SQLite's aggregates are maintained as in a crawl), first to 1M
edges, measured, then on to 5M and measured again. For the biggest and a median target it prints the
`summary` latency and the latency of the first page (100 rows) of a `query`, median of 5 runs each.

Run:  python bench/profile_bench.py [--sizes 1000000,5000000] [--path DIR]
      BACKLINKS_TEST_MONGO_URI=mongodb://HOST:27017 python bench/profile_bench.py   (also MongoDB)
"""

from __future__ import annotations

import argparse
import bisect
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import backlinkspider.query as q
from backlinkspider.crawl.items import page_edges
from backlinkspider.index import open_index
from backlinkspider.records import CrawledPage, Target
from backlinkspider.standards.extract import Link, Page

DOMAINS = 200_000
BIGGEST_SHARE = 0.2
LINKS_PER_PAGE = 40


class TargetDraw:
    """Target domain ranks from a power law whose top rank has BIGGEST_SHARE of the mass."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        weights = [1.0 / (rank + 1) ** 1.05 for rank in range(DOMAINS)]
        tail = sum(weights[1:])
        weights[0] = tail * BIGGEST_SHARE / (1 - BIGGEST_SHARE)
        total, acc = sum(weights), 0.0
        self.cumulative = []
        for w in weights:
            acc += w / total
            self.cumulative.append(acc)

    def __call__(self) -> int:
        return min(bisect.bisect_left(self.cumulative, self.rng.random()), DOMAINS - 1)


def pages(count: int, rng: random.Random, draw: TargetDraw, start: datetime, offset: int):
    """Crawled pages holding ``count`` edges in all."""
    made = 0
    n = offset
    while made < count:
        n += 1
        url = f"https://www.src{rng.randrange(300_000)}.com/{rng.randrange(10**6)}/article-{n}.html"
        links = []
        for _ in range(min(LINKS_PER_PAGE, count - made)):
            rank = draw()
            target = f"https://www.target{rank}.com/p/{rng.randrange(2000)}"
            rel = rng.random()
            links.append(
                Link(
                    target,
                    "text" if rel < 0.9 else "image",
                    f"anchor {rng.randrange(500)}",
                    rel < 0.15,
                    0.15 <= rel < 0.17,
                    0.17 <= rel < 0.18,
                )
            )
        made += len(links)
        yield CrawledPage(url, start + timedelta(seconds=n), page_edges(Page(url, links), False))


def fill(index, count: int, rng, draw, start, offset: int, batch: int = 5000) -> int:
    chunk, n, pages_done = [], 0, offset
    for page in pages(count, rng, draw, start, offset):
        chunk.append(page)
        n += len(page.edges)
        pages_done += 1
        if n >= batch:
            index.write(chunk)
            chunk, n = [], 0
    if chunk:
        index.write(chunk)
    return pages_done


def timed(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def measure(index, name: str, size: int) -> None:
    domains = Counter()
    for rank in (0, 10, 100, 1000, 5000):
        domains[f"target{rank}.com"] = 0
    sizes = {}
    for d in domains:
        s = q.profile(index, Target("domain", d))
        sizes[d] = s["backlinks"]
    ordered = sorted(sizes, key=sizes.get, reverse=True)
    biggest = ordered[0]
    median = ordered[len(ordered) // 2]
    for label, domain in (("biggest", biggest), ("median", median)):
        target = Target("domain", domain)
        summary_ms = timed(lambda t=target: q.profile(index, t))
        query_ms = timed(lambda t=target: list(q.backlinks(index, t, limit=100)))
        print(
            f"{name:7} {size:,} edges  {label:7} target {domain:17} {sizes[domain]:>9,} backlinks:"
            f"  summary {summary_ms:7.1f} ms   first page (100 rows) {query_ms:6.1f} ms",
            flush=True,
        )


def run(name: str, uri: str, sizes: list[int]) -> None:
    rng = random.Random(5)
    draw = TargetDraw(rng)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with open_index(uri) as index:
        built, offset = 0, 0
        for size in sizes:
            t = time.perf_counter()
            offset = fill(index, size - built, rng, draw, start, offset)
            print(
                f"{name:7} built {size:,} edges ({(size - built) / (time.perf_counter() - t):,.0f} edges/s)",
                flush=True,
            )
            built = size
            measure(index, name, size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,5000000")
    ap.add_argument("--path", help="directory for the SQLite file (default: a temporary one)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir=args.path) as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'profile.db'}", sizes)
    mongo = os.environ.get("BACKLINKS_TEST_MONGO_URI")
    if mongo:
        head, _, query = mongo.partition("?")
        name = f"backlinks_profile_{uuid.uuid4().hex[:8]}"
        uri = f"{head.rstrip('/')}/{name}" + (f"?{query}" if query else "")
        try:
            run("mongodb", uri, sizes)
        finally:
            with open_index(uri) as idx:
                idx._client.drop_database(name)
    else:
        print(
            "mongodb: needs a real server: BACKLINKS_TEST_MONGO_URI=mongodb://HOST:27017 "
            f"{sys.executable} bench/profile_bench.py"
        )
    print(f"reproduce: {sys.executable} bench/profile_bench.py --sizes {args.sizes}")


if __name__ == "__main__":
    main()
