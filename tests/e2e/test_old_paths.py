"""The dotted paths the README gives users keep working: a Scrapy project that is not ours, naming only
those paths in its settings, crawls into the index; and the standards layer imports no Scrapy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# A tiny site on loopback: two pages linking out, and one robots.txt keeps the crawler from.
PAGES = {
    "/robots.txt": "User-agent: *\nDisallow: /private\n",
    "/": '<a href="/about">about</a> <a href="/private">private</a> <a href="https://news.example.org/">news</a>',
    "/about": '<a href="https://shop.example.net/item?id=1">a shop</a> <a href="/">home</a>',
    "/private": '<a href="https://secret.example.com/">secret</a>',
}

SETTINGS = """
BOT_NAME = "theirs"
SPIDER_MODULES = ["theirs.spiders"]
# Only the old dotted paths the README names.
ADDONS = {"backlinkspider.frontier.addon.ClusterFrontier": 0}
ITEM_PIPELINES = {"backlinkspider.pipelines.IndexPipeline": 300}
TWISTED_DNS_RESOLVER = "backlinkspider.addresses.PrivateAddressResolver"
ROBOTSTXT_OBEY = True
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "backlinkspider.robots.RobotsTxtMiddleware": 100,
}
BACKLINKS_INDEX = "sqlite:///{db}"
LOG_LEVEL = "INFO"
"""

SPIDER = """
import scrapy


class Pages(scrapy.Spider):
    name = "pages"

    def __init__(self, start, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [start]

    def parse(self, response):
        links = []
        for a in response.css("a"):
            url = response.urljoin(a.attrib["href"])
            links.append({"target_url": url, "anchor_text": a.css("::text").get("")})
            if url.startswith(self.start_urls[0]):
                yield scrapy.Request(url)
        yield {"url": response.url, "links": links}
"""


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path)
        self.send_response(200 if body is not None else 404)
        kind = "text/plain" if self.path.endswith(".txt") else "text/html"
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        data = (body or "").encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_project_naming_the_readmes_old_paths_crawls_into_the_index(tmp_path: Path, site: str) -> None:
    db = tmp_path / "links.db"
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = theirs.settings\n")
    (tmp_path / "theirs" / "spiders").mkdir(parents=True)
    (tmp_path / "theirs" / "__init__.py").write_text("")
    (tmp_path / "theirs" / "settings.py").write_text(SETTINGS.replace("{db}", str(db)))
    (tmp_path / "theirs" / "spiders" / "__init__.py").write_text("")
    (tmp_path / "theirs" / "spiders" / "pages.py").write_text(textwrap.dedent(SPIDER))
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "redis_url", "backlinks_index")
    }
    crawl = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "pages", "-a", f"start={site}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crawl.returncode == 0, crawl.stderr
    export = subprocess.run(
        [sys.executable, "-m", "backlinkspider.cli", "export", "--index", f"sqlite:///{db}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert export.returncode == 0, export.stderr
    edges = {
        (e["source_url"], e["target_url"], e["anchor_text"])
        for e in map(json.loads, export.stdout.splitlines())
    }
    # External links only (BACKLINKS_KEEP_INTERNAL's default, given by the add-on); /private is disallowed.
    assert edges == {
        (site, "https://news.example.org/", "news"),
        (f"{site}about", "https://shop.example.net/item?id=1", "a shop"),
    }


def test_the_standards_layer_imports_no_scrapy() -> None:
    code = "import sys, backlinkspider.standards.urls, backlinkspider.standards.encoding, backlinkspider.standards.extract; print('scrapy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
