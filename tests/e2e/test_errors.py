"""Every mistake a user can make ends in one line on stderr, exit 2 for usage and 1 otherwise, never a
traceback: for `backlinks` and for `scrapy crawl backlinks`; and the seeds-file rules."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import REPO, run_cli
from synthweb import HUB

from backlinkspider import config
from backlinkspider.crawl.seeds import read_seeds


def scrapy(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )


def one_line(res: subprocess.CompletedProcess, code: int, message: str) -> None:
    assert res.returncode == code, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    errors = [line for line in res.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], res.stderr


BAD_SETTINGS = [
    ("BACKLINKS_MAX_PAGES_PER_HOST=lots", "BACKLINKS_MAX_PAGES_PER_HOST must be an integer >= 0, not 'lots'"),
    ("BACKLINKS_SCOPE=bogus", "BACKLINKS_SCOPE must be one of all, seeds, not 'bogus'"),
    ("LOG_LEVEL=LOUD", "LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, not 'LOUD'"),
    ("BACKLINKS_KEEP_INTERNAL=maybe", "BACKLINKS_KEEP_INTERNAL must be true or false, not 'maybe'"),
    ("BACKLINKS_BATCH_SIZE=0", "BACKLINKS_BATCH_SIZE must be an integer >= 1, not '0'"),
    ("BACKLINKS_BLOOM_ERROR_RATE=2", "BACKLINKS_BLOOM_ERROR_RATE must be a number > 0 <= 0.5, not '2'"),
    ("CONCURRENT_REQUESTS=many", "CONCURRENT_REQUESTS must be an integer >= 1, not 'many'"),
]


@pytest.mark.parametrize("setting, message", BAD_SETTINGS)
def test_a_bad_setting_is_one_line_from_backlinks_crawl(tmp_path, setting, message):
    res = run_cli("crawl", "http://x.org/", "--index", f"sqlite:///{tmp_path / 'x.db'}", "-s", setting)
    one_line(res, 2, message)
    assert not (tmp_path / "x.db").exists()  # nothing started


@pytest.mark.parametrize("setting, message", BAD_SETTINGS[:3])
def test_a_bad_setting_is_one_line_from_scrapy_crawl(setting, message):
    one_line(scrapy("crawl", "backlinks", "-a", "seeds=http://x.org/", "-s", setting), 2, message)


@pytest.mark.parametrize(
    "argument, message",
    [
        ("max_depth=abc", "max_depth must be a whole number >= 0, not 'abc'"),
        ("max_pages=0", "max_pages must be a whole number >= 1, not '0'"),
        ("recrawl=perhaps", "recrawl must be true or false, not 'perhaps'"),
        ("seeds=example.com", "did you mean http://example.com?"),
        ("seeds_file=/nonexistent/seeds.txt", "cannot read /nonexistent/seeds.txt"),
    ],
)
def test_a_bad_spider_argument_is_one_line_from_scrapy_crawl(argument, message):
    one_line(scrapy("crawl", "backlinks", "-a", "seeds=http://x.org/", "-a", argument), 2, message)


def test_every_default_passes_and_every_setting_has_a_row():
    """The table covers every BACKLINKS_* setting settings.py defines, and accepts every default."""
    from scrapy.settings import Settings

    from backlinkspider import settings as defaults

    missing = {n for n in dir(defaults) if n.startswith("BACKLINKS_")} - set(config.SETTINGS)
    assert not missing, f"add a row to config.SETTINGS (type, range or choices) for {sorted(missing)}"
    settings = Settings()
    settings.setmodule(defaults)
    assert config.check(settings) == []


def test_an_unknown_backlinks_setting_is_a_warning(tmp_path, proxy_env):
    res = run_cli(
        "crawl",
        HUB,
        "--max-depth",
        "0",
        "--index",
        f"sqlite:///{tmp_path / 'x.db'}",
        "-s",
        "BACKLINKS_MAX_PAGE_PER_HOST=5",
        env=proxy_env,
    )
    assert res.returncode == 0, res.stderr
    assert (
        "backlinks: warning: unknown setting BACKLINKS_MAX_PAGE_PER_HOST"
        " (did you mean BACKLINKS_MAX_PAGES_PER_HOST?): ignored"
    ) in res.stderr


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["query", "x.com", "--limit", "99999999999999999999"], 2, "--limit"),
        (["query", "x.com", "--offset", "99999999999999999999"], 2, "--offset"),
        (["status", "--redis-url", "http://localhost:6379/"], 2, "is not a Redis URL"),
        (["seed", "http://x.org/", "--redis-url", "http://localhost:6379/"], 2, "is not a Redis URL"),
        (["crawl", "x.org/page"], 2, "did you mean http://x.org/page?"),
        (
            ["crawl", "http://x.org/", "--resume", "job", "-s", "REDIS_URL=redis://127.0.0.1:1/0"],
            2,
            "--resume",
        ),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, code, message):
    one_line(run_cli(*args, cwd=tmp_path), code, message)


def test_a_non_utf8_seeds_file_is_reported_by_line_and_the_rest_crawled(tmp_path, proxy_env, web):
    seeds = tmp_path / "seeds.txt"
    seeds.write_bytes(b"\xef\xbb\xbf" + f"{HUB}  # the hub\n".encode() + b"http://caf\xe9.example/\n")
    res = run_cli(
        "crawl",
        "--seeds-file",
        str(seeds),
        "--max-depth",
        "0",
        "--index",
        f"sqlite:///{tmp_path / 'x.db'}",
        env=proxy_env,
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert f"backlinks: warning: skipped seed: {seeds}:2: not UTF-8 text" in res.stderr


def test_a_seeds_file_of_only_bad_lines_is_a_usage_error(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_bytes(b"\xff\xfe\x00h\x00t\x00t\x00p\n")  # UTF-16, as some editors save
    res = run_cli("crawl", "--seeds-file", str(seeds), "--index", f"sqlite:///{tmp_path / 'x.db'}")
    one_line(res, 2, "no seeds")
    assert f"{seeds}:1: not UTF-8 text" in res.stderr


def test_seeds_file_rules(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(
        "\ufeffhttp://a.org/  # trailing comment\n"
        "# a comment line\n"
        "\n"
        "http://b.org/page#section\n"
        "b.org\n"
        "ftp://c.org/\n"
        "HTTP://A.ORG\n",
        encoding="utf-8",
    )
    read = read_seeds(["http://z.org/"], str(seeds))
    assert read.urls == ["http://z.org/", "http://a.org/", "http://b.org/page"]
    assert read.bad_lines == [
        f"{seeds}:5: not an absolute http(s) URL: 'b.org' (did you mean http://b.org?)",
        f"{seeds}:6: not an absolute http(s) URL: 'ftp://c.org/'",
    ]


def test_a_crawl_that_fetched_nothing_from_its_seeds_fails(tmp_path, proxy_env):
    res = run_cli(
        "crawl",
        "http://nowhere.example/",
        "--index",
        f"sqlite:///{tmp_path / 'x.db'}",
        "-s",
        "RETRY_TIMES=0",
        env=proxy_env,
    )
    one_line(res, 1, "nothing was fetched from the 1 seed URL(s)")


def test_scrapy_crawl_that_fetched_nothing_fails(tmp_path, proxy_env):
    res = scrapy(
        "crawl",
        "backlinks",
        "-a",
        "seeds=http://nowhere.example/",
        "-s",
        f"BACKLINKS_INDEX=sqlite:///{tmp_path / 'x.db'}",
        "-s",
        "RETRY_TIMES=0",
        "-s",
        "LOG_LEVEL=WARNING",
        env=proxy_env,
    )
    one_line(res, 1, "nothing was fetched from the 1 seed URL(s)")


def test_a_cluster_worker_says_so_and_when_it_stops(tmp_path, redis_server):
    import os

    env = {**os.environ, "REDIS_URL": redis_server.url}
    res = run_cli(
        "crawl",
        "--index",
        f"sqlite:///{tmp_path / 'x.db'}",
        "-s",
        "BACKLINKS_IDLE_TIMEOUT=1",
        env=env,
    )
    assert res.returncode == 0, res.stderr  # closing idle on an empty frontier is not a failure
    assert f"running as a cluster worker of {redis_server.url} (REDIS_URL): stops after 1 s without work" in (
        res.stderr
    )


def test_csv_booleans_are_spelled_like_jsonl(tmp_path):
    from test_index import T0

    from backlinkspider.index import open_index
    from backlinkspider.records import CrawledPage, Edge

    uri = f"sqlite:///{tmp_path / 'x.db'}"
    edge = Edge(
        "http://a.org/", "http://b.org/", "text", "x", True, False, False, "a.org", "a.org", "b.org", "b.org"
    )
    with open_index(uri) as idx:
        idx.write([CrawledPage("http://a.org/", T0, (edge,))])
    res = run_cli("export", "--format", "csv", "--index", uri)
    header, row = res.stdout.splitlines()
    flags = dict(zip(header.split(","), row.split(","), strict=True))
    assert (flags["nofollow"], flags["ugc"], flags["sponsored"]) == ("true", "false", "false")


def test_scrapy_parse_prints_the_page_and_its_links(proxy_env):
    res = scrapy("parse", "--spider=backlinks", HUB, env=proxy_env)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "'target_url': 'http://alice.github.io/'" in res.stdout and "'link_type': 'text'" in res.stdout
