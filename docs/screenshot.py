"""Make docs/profile.png, the README's picture of the profile page.

A generated index (a made-up site, example-shop.com, linked from blogs, news, forums and directories under
a mix of TLDs over half a year, some links later lost) is served by ``backlinks serve`` and photographed in
Debian's chromium through Playwright.

Run:  python docs/screenshot.py [--out docs/profile.png]
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from backlinkspider.crawl.items import page_edges
from backlinkspider.index import open_index
from backlinkspider.records import CrawledPage
from backlinkspider.standards.extract import Link, Page

TLDS = ["com", "com", "com", "org", "net", "co.uk", "de", "io", "fr", "nl", "com.au", "github.io"]
KINDS = ["blog", "news", "forum", "shop", "directory", "review", "guide", "wiki"]
ANCHORS = [
    "example shop",
    "Example Shop",
    "cheap widgets",
    "this store",
    "click here",
    "widgets",
    "example-shop.com",
    "read more",
    "best widget deals",
    "source",
    "",
]
PAGES = ["/", "/", "/widgets", "/widgets/blue", "/sale", "/blog/how-to-choose", "/about", "/contact"]


def build(uri: str) -> None:
    rng = random.Random(7)
    start = datetime(2026, 5, 4, 9, tzinfo=UTC)
    sources = [f"{rng.choice(KINDS)}{i}.{rng.choice(TLDS)}" for i in range(260)]
    crawled = []
    with open_index(uri) as index:
        for n in range(900):
            domain = (
                sources[min(int(rng.paretovariate(1.2)) - 1, len(sources) - 1)]
                if rng.random() < 0.6
                else rng.choice(sources)
            )
            url = f"https://www.{domain}/posts/{n}"
            links = []
            for _ in range(rng.choice([1, 1, 2, 3])):
                r = rng.random()
                links.append(
                    Link(
                        f"https://www.example-shop.com{rng.choice(PAGES)}",
                        "text"
                        if r < 0.8
                        else "image"
                        if r < 0.93
                        else "redirect"
                        if r < 0.97
                        else "canonical",
                        rng.choice(ANCHORS),
                        nofollow=r > 0.7,
                        ugc=0.66 < r < 0.7,
                        sponsored=0.63 < r < 0.66,
                    )
                )
            when = start + timedelta(days=180 * (n / 900) ** 0.8, hours=rng.randrange(24))
            crawled.append((url, links, when))
            index.write([CrawledPage(url, when, page_edges(Page(url, links), False))])
        for url, links, when in rng.sample(crawled, 90):  # re-crawled later: some links gone
            later = min(when + timedelta(days=rng.randrange(20, 90)), start + timedelta(days=182))
            index.write([CrawledPage(url, later, page_edges(Page(url, links[1:]), False))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "profile.png"))
    ap.add_argument("--width", type=int, default=1280, help="viewport width (390: a phone)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'demo.db'}"
        build(uri)
        log = Path(tmp) / "serve.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "backlinkspider.cli",
                    "serve",
                    "--index",
                    uri,
                    "--port",
                    "0",
                    "--workers",
                    "1",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            while not (found := re.search(r"Uvicorn running on (http://\S+:\d+)", log.read_text())):
                time.sleep(0.1)
            base = found.group(1)
            while httpx.get(f"{base}/api/v1/healthz").status_code != 200:
                time.sleep(0.1)
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page(viewport={"width": args.width, "height": 900}, device_scale_factor=1)
                page.goto(f"{base}/?target=example-shop.com")
                page.wait_for_selector("#rows tbody tr")
                page.select_option("#filters select[name=limit]", "25")
                page.wait_for_timeout(500)
                page.screenshot(path=args.out, full_page=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
