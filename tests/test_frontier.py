"""The cluster frontier against a real redis-server (a private one per test, on a free port)."""

from __future__ import annotations

import itertools
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from conftest import CALENDAR_BUDGET, FAST, RedisServer, edge_key, run_cli
from synthweb import HUB, ProxyServer, SyntheticWeb

REPO = Path(__file__).resolve().parents[1]


def truth(web):
    return {
        (
            e.source_url,
            e.target_url,
            e.link_type,
            e.anchor_text,
            e.nofollow,
            e.ugc,
            e.sponsored,
            e.source_domain,
            e.target_domain,
        )
        for e in web.expected(calendar_pages=CALENDAR_BUDGET)
    }


def worker(env, db, *args, seeds=None, log=None):
    """One `scrapy crawl backlinks` worker process, as the cluster runs it."""
    cmd = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "backlinks",
        "-s",
        f"BACKLINKS_INDEX=sqlite:///{db}",
        *FAST,
        "-s",
        f"BACKLINKS_MAX_PAGES_PER_HOST={CALENDAR_BUDGET}",
        "-s",
        "BACKLINKS_IDLE_TIMEOUT=4",
        "-s",
        "LOG_LEVEL=INFO",
        *args,
    ]
    if seeds:
        cmd += ["-a", f"seeds={seeds}"]
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w") if log else subprocess.DEVNULL,
    )


def export(db):
    res = run_cli("export", "--index", f"sqlite:///{db}")
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


@pytest.fixture
def cluster(tmp_path, proxy_env):
    """A fresh synthetic web, its proxy, and a private password-protected Redis."""
    web = SyntheticWeb()
    server = RedisServer(tmp_path, password="s3cret").start()
    with ProxyServer(web) as proxy:
        env = {**proxy_env, "http_proxy": proxy.url, "https_proxy": proxy.url, "REDIS_URL": server.url}
        yield web, server, env
    server.stop()


def test_two_workers_crawl_as_one(cluster, tmp_path):
    web, server, env = cluster
    db = tmp_path / "two.db"
    args = ["-s", "BACKLINKS_HOST_DELAY=0.05", "-s", "CONCURRENT_REQUESTS=8"]
    workers = [
        worker(env, db, *args, seeds=HUB, log=tmp_path / "w1.log"),
        worker(env, db, *args, log=tmp_path / "w2.log"),
    ]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    rows = export(db)
    assert {edge_key(r) for r in rows} == truth(web) and len(rows) == len(truth(web))
    fetched = web.requests_per_url()
    # Each worker reads robots.txt itself; every page is fetched once by the cluster.
    assert [u for u, n in fetched.items() if n > 1 and not u.endswith("/robots.txt")] == []
    assert sum(1 for u in fetched if u.startswith("calendar.trapville.org/cal/")) == CALENDAR_BUDGET
    both = [Path(tmp_path / f"w{i}.log").read_text() for i in (1, 2)]
    assert all("'backlinks/pages'" in log for log in both), "both workers crawled"
    client = redis.Redis.from_url(server.url)
    assert client.zcard("backlinks:queue") == 0 and client.zcard("backlinks:leases") == 0


def test_a_killed_worker_loses_no_page(cluster, tmp_path):
    web, server, env = cluster
    db = tmp_path / "kill.db"
    # Pages fetched again after the kill count against the (cluster-wide) host budget too: give it room.
    slow = [
        "-s",
        "BACKLINKS_HOST_DELAY=0.05",
        "-s",
        "BACKLINKS_LEASE_SECONDS=3",
        "-s",
        "CONCURRENT_REQUESTS=4",
        "-s",
        "BACKLINKS_MAX_PAGES_PER_HOST=60",
    ]
    first = worker(env, db, *slow, seeds=HUB)
    deadline = time.monotonic() + 120
    while len(web.log) < 80 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    leased = redis.Redis.from_url(server.url).zcard("backlinks:leases")
    assert leased > 0, "the killed worker held leases"
    second = worker(env, db, *slow, "-s", "BACKLINKS_IDLE_TIMEOUT=8")
    assert second.wait(timeout=300) == 0
    assert {edge_key(r) for r in export(db)} == truth(web)


def test_a_hostile_queue_entry_is_dropped_not_executed(cluster, tmp_path):
    web, server, env = cluster
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    client = redis.Redis.from_url(server.url)
    client.zadd(
        "backlinks:queue",
        {
            pickle.dumps(Exploit()): -10,
            b"{not json": -10,
            json.dumps({"u": "http://x.org/", "d": 0, "p": 0, "_class": "os.system"}): -10,
            json.dumps({"u": "javascript:alert(1)", "d": 0, "p": 0}): -10,
        },
    )
    log = tmp_path / "w.log"
    w = worker(
        env,
        tmp_path / "h.db",
        "-s",
        "BACKLINKS_HOST_DELAY=0",
        "-s",
        "BACKLINKS_IDLE_TIMEOUT=2",
        seeds="http://alice.github.io/",
        log=log,
    )
    assert w.wait(timeout=120) == 0
    assert not marker.exists()
    text = log.read_text()
    assert text.count("dropped a bad frontier entry") == 4 and "'frontier/dropped': 4" in text
    assert int(client.get("backlinks:dropped")) == 4
    assert client.zcard("backlinks:leases") == 0  # dropped entries leave no lease behind
    assert "alice.github.io/" in web.requests_per_url()  # and the worker went on


def test_the_per_host_delay_holds_across_workers(cluster, tmp_path):
    web, _server, env = cluster
    db = tmp_path / "polite.db"
    args = ["-s", "BACKLINKS_HOST_DELAY=0.25", "-s", "BACKLINKS_SCOPE=seeds"]
    workers = [worker(env, db, *args, seeds="http://www.site0.com/"), worker(env, db, *args)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    times = sorted(t for t, host, path, _ in web.log if host == "www.site0.com")
    assert len(times) >= 8
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.25 - 0.02, gaps


def test_seed_status_and_idle_close(cluster, tmp_path):
    web, _server, env = cluster
    res = run_cli(
        "seed", "http://alice.github.io/", "http://Alice.GitHub.io:80/#x", "http://bob.github.io/", env=env
    )
    assert res.returncode == 0 and res.stdout.strip() == "2 of 2 seeds queued (0 seen before)"
    res = run_cli("seed", "http://bob.github.io/", env=env)
    assert res.stdout.strip() == "0 of 1 seeds queued (1 seen before)"
    res = run_cli("status", env=env)
    assert res.returncode == 0 and "frontier 2" in res.stdout and "seen 2" in res.stdout
    started = time.monotonic()
    w = worker(
        env, tmp_path / "s.db", "-s", "BACKLINKS_IDLE_TIMEOUT=2", "-s", "BACKLINKS_MAX_PAGES_PER_HOST=3"
    )
    assert w.wait(timeout=120) == 0
    assert time.monotonic() - started < 60  # closed by the idle timeout, soon after the work was done
    assert "alice.github.io/" in web.requests_per_url() and "bob.github.io/" in web.requests_per_url()


def test_status_shows_workers_while_they_run(cluster, tmp_path):
    _web, _server, env = cluster
    w = worker(env, tmp_path / "st.db", "-s", "BACKLINKS_HOST_DELAY=0.2", seeds=HUB)
    try:
        deadline = time.monotonic() + 60
        out = ""
        while time.monotonic() < deadline and "workers 1" not in out:
            time.sleep(1)
            out = run_cli("status", env=env).stdout
        assert "workers 1" in out and "pages/s" in out
    finally:
        w.send_signal(signal.SIGINT)
        w.wait(timeout=120)


def test_redis_unreachable_or_wrong_password_is_one_line(cluster, tmp_path):
    _web, server, env = cluster
    for url, message in (
        (f"redis://127.0.0.1:{server.port + 1}/0", "cannot reach Redis at"),
        (server.url.replace("s3cret", "wrong"), "cannot reach Redis at"),
    ):
        res = run_cli(
            "crawl", HUB, "--index", f"sqlite:///{tmp_path / 'x.db'}", env={**env, "REDIS_URL": url}
        )
        assert res.returncode == 1 and res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
        assert "wrong" not in res.stderr  # the password is not shown
        res = run_cli("status", env={**env, "REDIS_URL": url})
        assert res.returncode == 1 and res.stderr.count("\n") == 1
    # `scrapy crawl` itself: one error line, no traceback, and nothing crawled.
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "backlinks",
            "-a",
            f"seeds={HUB}",
            "-s",
            f"BACKLINKS_INDEX=sqlite:///{tmp_path / 'y.db'}",
            "-s",
            "LOG_LEVEL=WARNING",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "REDIS_URL": f"redis://127.0.0.1:{server.port + 1}/0"},
    )
    errors = [line for line in res.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "cannot reach Redis" in errors[0] and "Traceback" not in res.stderr


def test_a_redis_restart_mid_crawl_is_ridden_out(tmp_path, proxy_env):
    web = SyntheticWeb()
    server = RedisServer(tmp_path, persist=True).start()
    try:
        with ProxyServer(web) as proxy:
            env = {**proxy_env, "http_proxy": proxy.url, "https_proxy": proxy.url, "REDIS_URL": server.url}
            db = tmp_path / "restart.db"
            w = worker(
                env,
                db,
                "-s",
                "BACKLINKS_HOST_DELAY=0.05",
                "-s",
                "CONCURRENT_REQUESTS=4",
                "-s",
                "BACKLINKS_IDLE_TIMEOUT=8",
                seeds=HUB,
            )
            while len(web.log) < 60:
                time.sleep(0.05)
            server.stop()  # SIGTERM: Redis writes its append-only file and exits
            time.sleep(2)
            server.start()
            assert w.wait(timeout=300) == 0
            assert {edge_key(r) for r in export(db)} == truth(web)
    finally:
        server.stop()


def test_bloom_false_positive_rate_is_within_its_bound(redis_server):
    from backlinkspider.frontier.dupefilter import BloomDupeFilter

    client = redis.Redis.from_url(redis_server.url)
    capacity, rate = 20_000, 0.01
    bloom = BloomDupeFilter(client, capacity, rate)
    rng = __import__("random").Random(3)
    inserted = [rng.randbytes(20) for _ in range(capacity)]
    for i in range(0, capacity, 500):
        bloom.push_new([(fp, 0, "x") for fp in inserted[i : i + 500]])
    assert bloom.push_new([(inserted[7], 0, "x")]) == 0  # no false negatives
    assert all(bloom.might_contain(inserted))
    fresh = [rng.randbytes(20) for _ in range(50_000)]
    measured = sum(bloom.might_contain(fresh)) / len(fresh)
    assert measured <= rate * 1.2, measured  # 50k trials: the 1.2 covers sampling noise at p = 1%
    assert capacity * (1 - rate) <= bloom.seen() <= capacity  # a few inserts collided: false positives
    assert bloom.bits / capacity == pytest.approx(9.59, rel=0.01) and bloom.hashes == 7


def test_tls_and_password(tmp_path):
    """rediss:// with a password: the same commands work over TLS."""
    server = RedisServer(tmp_path, password="s3cret", tls=True).start()
    try:
        env = {**os.environ, "REDIS_URL": server.url}
        res = run_cli("seed", "http://alice.github.io/", env=env)
        assert res.returncode == 0 and res.stdout.startswith("1 of 1 seeds queued"), res.stderr
        assert "frontier 1" in run_cli("status", env=env).stdout
        plain = {**os.environ, "REDIS_URL": server.url.replace("rediss://", "redis://").split("?")[0]}
        assert run_cli("status", env=plain).returncode == 1  # no TLS, no talk
    finally:
        server.stop()
