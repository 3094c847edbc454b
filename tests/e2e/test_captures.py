"""Provenance and referring IPs as a person sees them: ``backlinks query`` / ``summary`` and the API, over
an index holding a crawl and a web archive's captures; and the address a crawl keeps: the server's when it
connects directly, none through a proxy."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from helpers import FAST, run_cli
from test_index import T0

from backlinkspider.crawl.items import crawled_page
from backlinkspider.index import open_index
from backlinkspider.records import QUERY_FIELDS, Target
from backlinkspider.standards.extract import Link, Page
from backlinkspider.web.app import create_app

ARCHIVE = "CC-MAIN-2025-43"
TARGET = "http://www.t.com/"


@pytest.fixture
def uri(tmp_path) -> str:
    """Three referring pages: two crawled (one through a proxy: no address), one from an archive."""
    uri = f"sqlite:///{tmp_path / 'links.db'}"
    items = [
        Page("http://a.org/", [Link(TARGET, "text", "crawled")], ip_address="192.0.2.1"),
        Page("http://b.org/", [Link(TARGET, "text", "proxied")]),
        {
            "url": "http://c.org/",
            "links": [{"target_url": TARGET, "anchor_text": "archived"}],
            "captured_at": T0 - timedelta(days=30),
            "ip_address": "2001:db8::7",
            "archive": ARCHIVE,
        },
    ]
    with open_index(uri) as idx:
        idx.write([crawled_page(item, False, T0) for item in items])
    return uri


def cli_json(*args: str) -> list[dict]:
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def cli_summary(uri: str) -> dict:
    res = run_cli("summary", "t.com", "--format", "json", "--index", uri)
    assert res.returncode == 0, res.stderr
    return dict(json.loads(res.stdout))


def test_the_cli_lists_filters_and_counts_provenance_and_addresses(uri):
    rows = cli_json("query", "t.com", "--format", "jsonl", "--index", uri)
    assert [tuple(r) for r in rows] == [QUERY_FIELDS] * 3 and "provenance" in QUERY_FIELDS
    assert sorted((r["anchor_text"], r["provenance"]) for r in rows) == [
        ("archived", ARCHIVE),
        ("crawled", "crawl"),
        ("proxied", "crawl"),
    ]
    archived = cli_json("query", "t.com", "--provenance", ARCHIVE, "--format", "jsonl", "--index", uri)
    assert [r["source_url"] for r in archived] == ["http://c.org/"]
    res = run_cli("query", "t.com", "--provenance", "crawl", "--format", "csv", "--index", uri)
    table = list(csv.DictReader(io.StringIO(res.stdout)))
    assert sorted(r["source_url"] for r in table) == ["http://a.org/", "http://b.org/"]
    assert {r["provenance"] for r in table} == {"crawl"}
    res = run_cli("query", "t.com", "--provenance", "CC-MAIN-1999-01", "--index", uri)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "no backlinks" in res.stderr
    summary = cli_summary(uri)
    assert (summary["referring_ips"], summary["referring_subnets"]) == (2, 2)
    table = run_cli("summary", "t.com", "--index", uri)
    assert table.returncode == 0 and "referring IPs / subnets" in table.stdout
    line = next(x for x in table.stdout.splitlines() if "referring IPs / subnets" in x)
    assert line.split("subnets", 1)[1].strip(" │") == "2 / 2"


def test_the_api_shows_and_filters_provenance_and_counts_addresses(uri):
    with TestClient(create_app(uri)) as client:
        page = client.get("/api/v1/backlinks", params={"target": "t.com", "provenance": ARCHIVE})
        assert page.status_code == 200, page.text
        assert [(r["source_url"], r["provenance"]) for r in page.json()["rows"]] == [
            ("http://c.org/", ARCHIVE)
        ]
        every = client.get("/api/v1/backlinks", params={"target": "t.com"}).json()["rows"]
        assert sorted(r["provenance"] for r in every) == [ARCHIVE, "crawl", "crawl"]
        summary = client.get("/api/v1/summary", params={"target": "t.com"}).json()
        assert (summary["referring_ips"], summary["referring_subnets"]) == (2, 2)
        assert summary == cli_summary(uri)


# --- the crawl: the address it connected to, only when it connected to the server -----------------------


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = b'<a href="http://www.t.com/">t</a>' if self.path == "/" else b""
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
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


def test_a_direct_crawl_keeps_the_server_address(tmp_path, site):
    uri = f"sqlite:///{tmp_path / 'direct.db'}"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "redis_url")}
    args = ["crawl", site, "--index", uri, *FAST, "-s", "BACKLINKS_ALLOW_PRIVATE_ADDRESSES=True"]
    res = run_cli(*args, "-s", "ROBOTSTXT_OBEY=False", env=env)
    assert res.returncode == 0, res.stderr
    with open_index(uri, create=False) as idx:
        assert idx.page_states([site])[site].ip_address == "127.0.0.1"
        tally = idx.tally(Target("domain", "t.com"), include_lost=False, since=[], top=1)
        assert (tally.backlinks, tally.referring_ips, tally.referring_subnets) == (1, 1, 1)


def test_a_crawl_through_a_proxy_keeps_no_address(crawled_synthweb):
    with open_index(crawled_synthweb, create=False) as idx:
        urls = list(idx.pages_to_recrawl())
        states = idx.page_states(urls)
        assert len(states) > 50 and {s.ip_address for s in states.values()} == {None}
        ranked = [e.target_domain for e in idx.export()]
        tally = idx.tally(Target("domain", ranked[0]), include_lost=True, since=[], top=1)
        assert tally.backlinks > 0 and (tally.referring_ips, tally.referring_subnets) == (0, 0)
