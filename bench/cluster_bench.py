"""Cluster benchmark: does the Redis frontier scale, and is it fair?

Both compare the cluster with one process running the same command without ``REDIS_URL``, same settings,
in the same run, with AutoThrottle off and a fixed small delay (at the polite defaults a crawl of a few
hosts is bound by politeness, not by the frontier):

- scaling: the synthetic web with ~100 ms answers (I/O bound, so more requests in flight go faster even
  on 2 cores); pages/s of one process with 4 requests in flight, against 1, 2, 4 and 8 workers with 4
  each (target: 2 workers >= 1.6x one process);
- fairness: two workers, a frontier where one host holds 90% of the queued URLs, a per-host delay of 1 s:
  the other hosts' pages/s, against the same crawl without the big host (target: within 10%).

Run:  python bench/cluster_bench.py [--workers 1,2,4,8] [--sites 60] [--pages 10] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from helpers import run_cli  # noqa: E402
from redisserver import RedisServer  # noqa: E402
from synthweb import HUB, ProxyServer, SyntheticWeb  # noqa: E402

COMMON = [
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    "-s",
    "DOWNLOAD_DELAY=0.05",  # Scrapy's own per-host delay, in every process
    "-s",
    "BACKLINKS_HOST_DELAY=0.05",  # the cluster-wide one (ignored without REDIS_URL)
    "-s",
    "CONCURRENT_REQUESTS=4",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=4",
    "-s",
    "BACKLINKS_MAX_PAGES_PER_HOST=25",
    "-s",
    "BACKLINKS_IDLE_TIMEOUT=3",
    "-s",
    "LOG_LEVEL=WARNING",
]


def scrapy(env: dict, db: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-s", f"BACKLINKS_INDEX=sqlite:///{db}"]
    return subprocess.Popen(
        [*cmd, *COMMON, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def crawl_rate(web: SyntheticWeb, proxy_url: str, workers: int) -> tuple[float, int]:
    """(pages/s, pages) of one process without Redis (workers=0) or of N workers; the clock runs from
    the first page fetched to the last (start-up, ~3 s of CPU a process, and the workers' idle wait
    before closing are not crawl time)."""
    web.reset_log()
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "no_proxy", "NO_PROXY")}
    env = {**base, "http_proxy": proxy_url, "https_proxy": proxy_url}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        if workers == 0:
            procs = [scrapy(env, db, "-a", f"seeds={HUB}")]
        else:
            server = RedisServer(Path(tmp)).start()
            env["REDIS_URL"] = server.url
            procs = [scrapy(env, db, *(["-a", f"seeds={HUB}"] if i == 0 else [])) for i in range(workers)]
        try:
            for p in procs:
                p.wait(timeout=900)
        finally:
            if workers:
                server.stop()
    pages = [t for t, _, path, _ in web.log if path != "/robots.txt"]
    return len(pages) / (max(pages) - min(pages)), len(pages)


def fairness(proxy_url: str, web: SyntheticWeb, big: bool, others: int = 20, per_host: int = 10) -> float:
    """Pages/s of the small hosts, two workers, 1 s per-host delay; with a big host holding 90% of the
    frontier, or without it."""
    web.reset_log()
    urls = [f"http://small{h}.example/p/{i}" for h in range(others) for i in range(per_host)]
    if big:
        urls += [f"http://big.example/p/{i}" for i in range(9 * len(urls))]
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        base = {k: v for k, v in os.environ.items() if k not in ("no_proxy", "NO_PROXY")}
        env = {**base, "http_proxy": proxy_url, "https_proxy": proxy_url, "REDIS_URL": server.url}
        seeds = Path(tmp) / "seeds.txt"
        seeds.write_text("\n".join(urls))
        res = run_cli("seed", "--seeds-file", str(seeds), env=env)
        assert res.returncode == 0, res.stderr
        args = ["-s", "BACKLINKS_HOST_DELAY=1", "-s", "BACKLINKS_MAX_PAGES_PER_HOST=0"]
        procs = [scrapy(env, Path(tmp) / "f.db", *args) for _ in range(2)]
        small = len(urls) if not big else len(urls) // 10
        try:
            while True:
                done = [
                    t
                    for t, host, path, _ in list(web.log)
                    if host.startswith("small") and path != "/robots.txt"
                ]
                if len(done) >= small:
                    break
                time.sleep(0.1)
        finally:
            for p in procs:
                p.send_signal(signal.SIGKILL)
                p.wait()
            server.stop()
    return small / (max(done) - min(done))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2,4,8")
    ap.add_argument("--sites", type=int, default=60)
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--skip-fairness", action="store_true")
    args = ap.parse_args()
    web = SyntheticWeb(seed=11, bulk_sites=args.sites, pages_per_site=args.pages, latency=args.latency)
    with ProxyServer(web) as proxy:
        one, pages = crawl_rate(web, proxy.url, 0)
        print(
            f"latency web ({pages} pages, {args.latency * 1000:.0f} ms answers), 4 requests in flight per process:"
        )
        print(f"  1 process without Redis: {one:6.1f} pages/s")
        for n in (int(x) for x in args.workers.split(",")):
            rate, got = crawl_rate(web, proxy.url, n)
            print(
                f"  {n} worker{'s' if n > 1 else ' '} through Redis: {rate:6.1f} pages/s = {rate / one:.2f}x ({got} pages)"
            )
        if not args.skip_fairness:
            alone = fairness(proxy.url, web, big=False)
            shared = fairness(proxy.url, web, big=True)
            print(
                f"fairness, 2 workers, 1 s per-host delay, 20 small hosts x 10 URLs: small hosts {alone:.1f} pages/s"
                f" alone, {shared:.1f} pages/s beside a host holding 90% of the frontier ({shared / alone:.2f}x; target >= 0.90)"
            )
    print(
        f"reproduce: {sys.executable} bench/cluster_bench.py --workers {args.workers} --sites {args.sites}"
        f" --pages {args.pages} --latency {args.latency}"
    )


if __name__ == "__main__":
    main()
