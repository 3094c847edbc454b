"""The `backlinks` command as a person uses it: outputs, and one-line errors for bad input."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from datetime import timedelta

import pytest
from helpers import run_cli
from test_index import T0

from backlinkspider.crawl.items import page_edges
from backlinkspider.index import open_index
from backlinkspider.records import QUERY_FIELDS, CrawledPage
from backlinkspider.standards.extract import Link, Page


@pytest.fixture
def uri(tmp_path):
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    pages = [
        Page(
            "http://blog.a.com/1",
            [
                Link("http://www.target.co.uk/x", "text", "Target X"),
                Link("http://shop.target.co.uk/", "image", "logo", nofollow=True),
            ],
        ),
        Page(
            "http://b.org/p",
            [
                Link("http://www.target.co.uk/x", "text", "Ünïcode «anchor»", ugc=True),
                Link("http://other.net/", "redirect"),
            ],
        ),
    ]
    with open_index(uri) as idx:
        idx.write([CrawledPage(p.url, T0, page_edges(p, False)) for p in pages])
    return uri


def test_query_jsonl_has_exactly_the_documented_fields(uri):
    res = run_cli("query", "target.co.uk", "--format", "jsonl", "--index", uri)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [tuple(r) for r in rows] == [QUERY_FIELDS] * 3
    assert sorted(r["anchor_text"] for r in rows) == ["Target X", "logo", "Ünïcode «anchor»"]


def test_query_scopes_and_filters(uri):
    def sources(*args):
        res = run_cli("query", *args, "--format", "jsonl", "--index", uri)
        assert res.returncode == 0, res.stderr
        return [(json.loads(x)["source_url"], json.loads(x)["link_type"]) for x in res.stdout.splitlines()]

    assert sources("http://www.target.co.uk/x") == [
        ("http://blog.a.com/1", "text"),
        ("http://b.org/p", "text"),
    ]
    assert sources("shop.target.co.uk", "--scope", "host") == [("http://blog.a.com/1", "image")]
    assert sources("target.co.uk", "--follow-only") == [("http://blog.a.com/1", "text")]
    assert sources("target.co.uk", "--type", "image") == [("http://blog.a.com/1", "image")]
    assert len(sources("target.co.uk", "--limit", "2")) == 2


def test_query_table_and_csv(uri):
    res = run_cli("query", "target.co.uk", "--index", uri)
    assert res.returncode == 0 and "Target X" in res.stdout and "nofollow" in res.stdout
    res = run_cli("query", "target.co.uk", "--format", "csv", "--index", uri)
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 3 and tuple(rows[0]) == QUERY_FIELDS


def test_export_and_query_show_lost_links_with_lost_at(uri):
    """A lost link says when it was lost (JSONL: a time, CSV: the same; live links: null / empty)."""
    with open_index(uri) as idx:  # b.org/p is crawled again without its links: both are lost
        idx.write([CrawledPage("http://b.org/p", T0 + timedelta(days=1), ())])
    res = run_cli("export", "--index", uri)
    lost = {json.loads(line)["source_url"]: json.loads(line)["lost_at"] for line in res.stdout.splitlines()}
    assert lost == {"http://blog.a.com/1": None, "http://b.org/p": "2026-01-03T03:04:05Z"}
    res = run_cli("query", "target.co.uk", "--include-lost", "--format", "csv", "--index", uri)
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert sorted(r["lost_at"] for r in rows) == ["", "", "2026-01-03T03:04:05Z"]
    wide = {**os.environ, "COLUMNS": "200"}  # the table's width off a terminal is 80 columns
    res = run_cli("query", "target.co.uk", "--lost", "--index", uri, env=wide)
    assert res.returncode == 0 and "lost 2026-01-03" in res.stdout


def test_export_jsonl_and_csv(uri):
    res = run_cli("export", "--index", uri)
    assert len(res.stdout.splitlines()) == 4
    res = run_cli("export", "--format", "csv", "--index", uri)
    assert len(list(csv.DictReader(io.StringIO(res.stdout)))) == 4


def test_export_resumes_after_the_edge_id_of_its_last_row(uri):
    """The help's rule gives a row's edge id; the rest of the export follows it, in the same order."""
    rows = [json.loads(line) for line in run_cli("export", "--index", uri).stdout.splitlines()]
    last = rows[1]
    key = f"{last['source_url']}\n{last['target_url']}\n{last['link_type']}".encode()
    res = run_cli("export", "--after", hashlib.blake2b(key, digest_size=16).hexdigest(), "--index", uri)
    assert res.returncode == 0, res.stderr
    assert [json.loads(line) for line in res.stdout.splitlines()] == rows[2:]
    res = run_cli("export", "--after", "xyz", "--index", uri)
    assert res.returncode == 2 and "not an edge id (32 hex digits): 'xyz'" in res.stderr
    assert "Traceback" not in res.stderr


def test_refigure_recounts_a_domain_and_the_summary_is_unchanged(uri):
    before = run_cli("summary", "target.co.uk", "--format", "json", "--index", uri).stdout
    res = run_cli("refigure", "target.co.uk", "nobody.com", "--index", uri)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["target.co.uk: 3 edges counted", "nobody.com: 0 edges counted"]
    assert run_cli("summary", "target.co.uk", "--format", "json", "--index", uri).stdout == before


def test_index_comes_from_the_environment(uri):
    import os

    res = run_cli("export", env={**os.environ, "BACKLINKS_INDEX": uri})
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 4


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["query", "nobody.com"], 1, "no backlinks to domain nobody.com"),
        (["query", "http://"], 2, "not an absolute http(s) URL"),
        (["query", "a b"], 2, "not a host name"),
        (["query", "x.com", "--scope", "planet"], 2, "'planet' is not one of"),
        (["query", "x.com", "--limit", "-1"], 2, "--limit"),
        (["query", "x.com", "--type", "video"], 2, "'video' is not one of"),
        (["export", "--format", "xml"], 2, "'xml' is not one of"),
        (["frobnicate"], 2, "No such command"),
        (["crawl"], 2, "no seeds"),
        (["crawl", "example.com"], 2, "not an absolute http(s) URL"),
        (["crawl", "http://x.org/", "-s", "NOEQUALS"], 2, "not NAME=VALUE"),
        (["crawl", "--seeds-file", "/nonexistent/seeds.txt"], 2, "cannot read"),
        (["crawl", "http://x.org/", "--max-depth", "-1"], 2, "--max-depth"),
    ],
)
def test_bad_input_gets_one_line_and_nonzero_exit(uri, args, code, message):
    res = run_cli(*args, "--index", uri) if args[0] != "frobnicate" else run_cli(*args)
    assert res.returncode == code
    assert res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_missing_or_broken_index_is_one_line(tmp_path):
    for args in (["query", "x.com"], ["export"]):
        res = run_cli(*args, "--index", f"sqlite:///{tmp_path / 'missing.db'}")
        assert res.returncode == 1 and res.stderr.startswith("backlinks: error: no index at")
        assert res.stderr.count("\n") == 1
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not a database" * 100)
    res = run_cli("export", "--index", f"sqlite:///{bad}")
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "garbage.db" in res.stderr
    res = run_cli("crawl", "http://x.org/", "--index", "mysql://db/x")
    assert res.returncode == 1 and "unsupported index URI scheme" in res.stderr


def test_crawl_with_no_reachable_pages_keeps_the_index(uri, tmp_path, proxy_env):
    """A crawl that fetches nothing fails, and leaves what the index already holds untouched."""
    res = run_cli("crawl", "http://nowhere.example/", "--index", uri, "-s", "RETRY_TIMES=0", env=proxy_env)
    assert res.returncode == 1 and "nothing was fetched" in res.stderr, res.stderr
    assert len(run_cli("export", "--index", uri).stdout.splitlines()) == 4


def test_export_to_a_closed_pipe_is_quiet(tmp_path):
    import subprocess
    import sys

    uri = f"sqlite:///{tmp_path / 'big.db'}"
    page = Page("http://s.org/", [Link(f"http://t.org/{i}", "text", "anchor " * 10) for i in range(30_000)])
    with open_index(uri) as idx:
        idx.write([CrawledPage(page.url, T0, page_edges(page, False))])
    cmd = f"{sys.executable} -m backlinkspider.cli export --index {uri} | head -1"
    res = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr == "" and res.stdout.count("\n") == 1
