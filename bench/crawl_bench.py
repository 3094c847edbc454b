"""Crawl benchmark: the real spider (extract + index into SQLite) against a no-op Scrapy spider that only
follows links, on the same synthetic web of a few thousand pages, served by a proxy in its own process.

Both run with the project's settings at full speed (no AutoThrottle, no delay) so the crawler, not
politeness, is measured. Prints pages/s for each and their ratio. Run:  python bench/crawl_bench.py
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from synthweb import HUB, ProxyServer, SyntheticWeb  # noqa: E402

FAST = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS": 64,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "BACKLINKS_MAX_PAGES_PER_HOST": 100,
    "LOG_LEVEL": "WARNING",
}


def serve(sites: int, pages: int, port_queue: multiprocessing.Queue) -> None:
    web = SyntheticWeb(seed=11, bulk_sites=sites, pages_per_site=pages)
    with ProxyServer(web) as server:
        port_queue.put(server.url)
        while True:
            time.sleep(3600)


def worker(kind: str, index: str) -> None:
    """Run one crawl in this process and print its stats as JSON."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from backlinkspider.crawl.spider import BacklinksSpider

    class NoopSpider(scrapy.Spider):
        """Follows every <a href>; extracts and stores nothing."""

        name = "noop"
        custom_settings: ClassVar[dict] = {"REDIRECT_ENABLED": True, "ITEM_PIPELINES": {}}

        async def start(self):
            yield scrapy.Request(HUB)

        def parse(self, response):
            if isinstance(response, scrapy.http.HtmlResponse):
                yield from response.follow_all(css="a::attr(href)")

    settings = Settings()
    settings.setmodule("backlinkspider.settings", priority="project")
    settings.setdict({**FAST, "BACKLINKS_INDEX": index}, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BacklinksSpider if kind == "real" else NoopSpider)
    process.crawl(crawler, **({"seeds": HUB} if kind == "real" else {}))
    process.start()
    stats = crawler.stats.get_stats()
    print(
        json.dumps(
            {
                "pages": stats.get("response_received_count", 0),
                "seconds": stats["elapsed_time_seconds"],
                "edges": stats.get("backlinks/edges_written", 0),
            }
        )
    )


def run(kind: str, proxy: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "http_proxy": proxy, "https_proxy": proxy}
        out = subprocess.run(
            [sys.executable, __file__, "--worker", kind, "--index", f"sqlite:///{tmp}/bench.db"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=200)
    ap.add_argument("--pages", type=int, default=15, help="random pages per site")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--worker", choices=["real", "noop"], help=argparse.SUPPRESS)
    ap.add_argument("--index", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.index)

    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.sites, args.pages, ports), daemon=True)
    server.start()
    proxy = ports.get(timeout=120)
    try:
        best: dict[str, dict] = {}
        for _ in range(args.rounds):  # alternate, so both see the same machine load
            for kind in ("noop", "real"):
                r = run(kind, proxy)
                r["rate"] = r["pages"] / r["seconds"]
                if kind not in best or r["rate"] > best[kind]["rate"]:
                    best[kind] = r
    finally:
        server.terminate()
    real, noop = best["real"], best["noop"]
    print(f"synthetic web: {args.sites} sites x {args.pages} pages + hand-made pages; best of {args.rounds}")
    print(
        f"no-op spider:          {noop['pages']:,} responses in {noop['seconds']:.1f}s = {noop['rate']:,.0f} pages/s"
    )
    print(
        f"backlinks spider:      {real['pages']:,} responses in {real['seconds']:.1f}s = {real['rate']:,.0f} pages/s"
        f" ({real['edges']:,} edges indexed)"
    )
    print(f"ratio backlinks/no-op: {real['rate'] / noop['rate']:.2f}")
    print(
        f"reproduce: {sys.executable} bench/crawl_bench.py --sites {args.sites} --pages {args.pages}"
        f" --rounds {args.rounds}"
    )


if __name__ == "__main__":
    main()
