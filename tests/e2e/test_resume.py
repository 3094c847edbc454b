"""`backlinks crawl --resume DIR`: a crawl interrupted by SIGINT or SIGTERM exits 1 and says how to go on;
the same command again continues it without fetching again what was fetched, and the index ends up
exactly the ground truth."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import pytest
from helpers import BACKLINKS, CALENDAR_BUDGET, FAST, exported_edges, truth
from synthweb import HUB


def fetched(web) -> Counter[str]:
    return Counter({url: n for url, n in web.requests_per_url().items() if not url.endswith("/robots.txt")})


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_crawl_resumes_where_it_stopped(web, proxy_env, tmp_path, signum):
    uri = f"sqlite:///{tmp_path / 'links.db'}"
    job = tmp_path / "job"
    command = [
        *BACKLINKS,
        "crawl",
        HUB,
        "--index",
        uri,
        "--resume",
        str(job),
        *FAST,
        "-s",
        f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}",
        # Slow enough to be caught mid-crawl.
        "-s",
        "CONCURRENT_REQUESTS=4",
    ]
    web.reset_log()
    crawl = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=proxy_env
    )
    try:
        deadline = time.monotonic() + 60
        while len(fetched(web)) < 40 and time.monotonic() < deadline and crawl.poll() is None:
            time.sleep(0.05)
        crawl.send_signal(signum)
        _, stderr = crawl.communicate(timeout=120)
    finally:
        if crawl.poll() is None:
            crawl.kill()
    assert crawl.returncode == 1, stderr
    assert stderr.strip().splitlines()[-1].startswith("backlinks: error: crawl interrupted after ")
    assert "(run the same command to resume)" in stderr
    assert len(exported_edges(uri)) > 0 and exported_edges(uri) < truth(web), (
        "the crawl was not interrupted mid-way"
    )

    res = subprocess.run(command, capture_output=True, text=True, env=proxy_env, timeout=300)
    assert res.returncode == 0, res.stderr
    both = fetched(web)
    assert [url for url, n in both.items() if n > 1] == []  # nothing fetched twice across the two runs
    assert exported_edges(uri) == truth(web)
