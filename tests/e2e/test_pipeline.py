"""The index pipeline under real faults: a read-only index before the crawl, a disk that fills mid-crawl
(a tiny tmpfs: a real SQLite failing for real), and rows the index refuses. Nothing fetched is lost
silently: it is written once the fault passes, or counted, and the exit code says so."""

from __future__ import annotations

import errno
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import BACKLINKS, CALENDAR_BUDGET, FAST, exported_edges, run_cli, tmpfs, truth
from synthweb import HUB
from test_index import T0

import backlinkspider.query as q
from backlinkspider.crawl.items import page_edges
from backlinkspider.index import open_index
from backlinkspider.records import CrawledPage
from backlinkspider.standards.extract import Link, Page


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB tmpfs of its own, so a test can fill it or make it read-only."""
    with tmpfs(tmp_path, "32m") as mnt:
        yield mnt


def fill(directory: Path) -> Path:
    """Take every free byte of the file system under ``directory``."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


class Crawl:
    """``backlinks crawl`` of the synthetic web in a subprocess, with a hook on each stderr line."""

    def __init__(self, uri: str, env: dict, *extra: str, on_line: Callable[[str], None]) -> None:
        args = ["crawl", HUB, "--index", uri, *FAST, "-s", f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}"]
        self.proc = subprocess.Popen(
            [*BACKLINKS, *args, "-s", "LOG_LEVEL=INFO", *extra],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, args=(on_line,), daemon=True)
        self.reader.start()

    def _read(self, on_line: Callable[[str], None]) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            on_line(line)

    def wait(self) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout=120)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()  # by its own handle: the crawl this test started
        self.reader.join(timeout=10)
        return code, "".join(self.lines)


def test_a_read_only_index_is_refused_before_anything_is_fetched(small_fs, web, proxy_env):
    uri = f"sqlite:///{small_fs / 'links.db'}"
    open_index(uri).close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    web.reset_log()
    res = run_cli("crawl", HUB, "--index", uri, env=proxy_env)
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("backlinks: error: ") and "links.db" in res.stderr
    assert web.requests_per_url() == {}


def test_a_disk_full_mid_crawl_pauses_the_crawl_and_loses_nothing(small_fs, web, proxy_env):
    """The disk fills as the crawl starts: writes fail and are retried with backoff, the backlog stops
    growing (the crawl pauses), and once space is freed everything fetched is written: exit 0, and the
    index is exactly the ground truth."""
    uri = f"sqlite:///{small_fs / 'links.db'}"
    filler: list[Path] = []
    paused_at: list[int] = []

    def on_line(line: str) -> None:
        if "indexing to" in line:
            filler.append(fill(small_fs))
        elif "crawl paused" in line and not paused_at:
            paused_at.append(sum(web.requests_per_url().values()))
            time.sleep(3)  # while paused, nothing new is fetched
            paused_at.append(sum(web.requests_per_url().values()))
            filler[0].unlink()

    web.reset_log()
    # Small batches, so that this small web makes more than the backlog of batches.
    code, stderr = Crawl(uri, proxy_env, "-s", "BACKLINKS_BATCH_SIZE=5", on_line=on_line).wait()
    assert code == 0, stderr
    assert "index write failed" in stderr and "retrying in" in stderr
    assert len(paused_at) == 2 and paused_at[1] - paused_at[0] <= 64, paused_at  # at most those in flight
    assert exported_edges(uri) == truth(web)


def test_a_disk_that_stays_full_stops_the_crawl_and_counts_what_was_lost(small_fs, web, proxy_env):
    uri = f"sqlite:///{small_fs / 'links.db'}"
    page = Page("http://kept.example/", [Link("http://t.example/", "text", "kept")])
    with open_index(uri) as idx:
        idx.write([CrawledPage(page.url, T0, page_edges(page, False))])
    before = exported_edges(uri)

    def on_line(line: str) -> None:
        if "indexing to" in line:
            fill(small_fs)

    # The give-up time shortened from five minutes: what is tested is what happens at the end of it.
    code, stderr = Crawl(uri, proxy_env, "-s", "BACKLINKS_WRITE_RETRY_SECONDS=2", on_line=on_line).wait()
    last = stderr.strip().splitlines()[-1]
    assert code == 1, stderr
    assert last.startswith("backlinks: error: ") and "pages fetched were not indexed" in last, last
    lost, fetched = (int(n.replace(",", "")) for n in last.split()[2:5:2])
    assert 0 < lost <= fetched
    assert "Traceback" not in stderr
    (small_fs / "filler").unlink()
    assert exported_edges(uri) == before  # what the index held is untouched


def test_a_page_the_index_refuses_is_set_aside_and_the_rest_written(tmp_path, caplog):
    from scrapy.utils.test import get_crawler
    from twisted.internet.defer import maybeDeferred

    from backlinkspider.pipelines import IndexPipeline

    crawler = get_crawler(settings_dict={"BACKLINKS_BATCH_SIZE": 100, "BACKLINKS_FLUSH_SECONDS": 60})
    pipe = IndexPipeline.from_crawler(crawler)
    pipe.run = maybeDeferred  # write in place: no reactor runs here
    pipe.index = open_index(f"sqlite:///{tmp_path / 'x.db'}")
    pages = [
        Page("http://a.org/", [Link("http://t.org/1", "text", "fine")]),
        Page("http://bad.org/", [Link("http://t.org/2", "text", "lone \udcff surrogate")]),
        Page("http://c.org/", [Link("http://t.org/3", "text", "fine too")]),
        Page("not a URL", [Link("http://t.org/4", "text")]),
    ]
    for page in pages:
        pipe.process_item(page)
    pipe.flush()
    assert {r["source_url"] for r in q.export(pipe.index)} == {"http://a.org/", "http://c.org/"}
    assert crawler.stats.get_value("backlinks/pages_not_indexed") == 2
    assert crawler.stats.get_value("backlinks/pages_indexed") == 2
    assert (
        "page not indexed: http://bad.org/" in caplog.text and "page not indexed: 'not a URL'" in caplog.text
    )
