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
from helpers import CALENDAR_BUDGET, FAST, REPO, edge_key, exit_codes, export, run_cli, truth, worker
from redisserver import RedisServer
from synthweb import HUB, ProxyServer, SyntheticWeb

from backlinkspider.frontier import defaults

SHARDS = 16  # BACKLINKS_FRONTIER_SHARDS's default


def figures(client) -> dict[str, int]:
    """The frontier's counters, summed over the shards."""
    from backlinkspider.frontier.queue import status

    return status(client, SHARDS)


def drained(client) -> bool:
    """Nothing queued and nothing leased: the crawl's work is done."""
    f = figures(client)
    return f["queued"] == 0 and f["leased"] == 0


def host_key(host: str, name: str = "") -> str:
    """A key of the shard of ``host``: ``host_key(h, "hosts")``, or the host's queue by default."""
    return defaults.shard_key(defaults.shard_of(host, SHARDS), name or defaults.HOST_QUEUE + host)


def plant(client, host: str, entries: dict) -> None:
    """Put entries in a host's queue behind the frontier's back (as whoever can write to Redis could)."""
    bucket = defaults.bucket_of(host)
    if entries:
        client.zadd(host_key(host), entries)
    client.zadd(host_key(host, f"{defaults.HOST_BUCKET}{bucket}"), {host: 0})
    client.zadd(host_key(host, defaults.HOSTS), {str(bucket): 0})
    client.incr(host_key(host, defaults.READY_HOSTS))
    client.incrby(host_key(host, defaults.QUEUED), len(entries))


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
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    workers = [worker(env, db, *args, seeds=HUB, log=logs[0]), worker(env, db, *args, log=logs[1])]
    assert exit_codes(workers, logs) == [0, 0]
    rows = export(db)
    assert {edge_key(r) for r in rows} == truth(web) and len(rows) == len(truth(web))
    fetched = web.requests_per_url()
    # Each worker reads robots.txt itself; every page is fetched once by the cluster.
    assert [u for u, n in fetched.items() if n > 1 and not u.endswith("/robots.txt")] == []
    assert sum(1 for u in fetched if u.startswith("calendar.trapville.org/cal/")) == CALENDAR_BUDGET
    both = [Path(tmp_path / f"w{i}.log").read_text() for i in (1, 2)]
    assert all("'backlinks/pages'" in log for log in both), "both workers crawled"
    assert drained(redis.Redis.from_url(server.url))


def test_the_per_host_delay_holds_across_workers(cluster, tmp_path):
    web, _server, env = cluster
    db = tmp_path / "polite.db"
    args = ["-s", "BACKLINKS_HOST_DELAY=0.25", "-s", "BACKLINKS_SCOPE=seeds"]
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    # One gets the seed: the scope is the cluster's (stored in Redis before the seed is pushed), so the
    # other, if it pops the seed, follows its links as the first would.
    workers = [
        worker(env, db, *args, seeds="http://www.site0.com/" if log == logs[0] else None, log=log)
        for log in logs
    ]
    assert exit_codes(workers, logs) == [0, 0]
    # robots.txt is each worker's own (Scrapy's download slot spaces it); the frontier spaces the pages.
    times = sorted(t for t, host, path, _ in web.log if host == "www.site0.com" and path != "/robots.txt")
    assert len(times) >= 8, "\n".join(log.read_text()[-3000:] for log in logs)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The frontier spaces the pops (on Redis' clock); each request then reaches the host after its
    # worker's own pop-to-send latency, tens of ms on a loaded 2-core machine, so one gap may lose what
    # two latencies differ by (0.21 s seen), while the rate holds: n requests span n - 1 delays. Two
    # workers pacing the host each on its own would send some requests together (gaps near 0).
    assert min(gaps) >= 0.25 * 0.8, gaps
    assert (times[-1] - times[0]) / len(gaps) >= 0.25 - 0.01, gaps


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


def test_a_pop_in_flight_keeps_no_idle_worker_up():
    """The engine asks the scheduler for a request, which starts a poll of the frontier, just before it
    reports idle. A pop in flight is no work in hand: it does not restart the idle clock (it did, and kept
    idle workers up for minutes past their timeout), it only has the last word when it lands."""
    from scrapy.exceptions import DontCloseSpider
    from scrapy.utils.test import get_crawler

    from backlinkspider.frontier.scheduler import RedisScheduler

    scheduler = RedisScheduler(get_crawler(settings_dict={"BACKLINKS_IDLE_TIMEOUT": 8}), None)
    scheduler.cluster_busy = False
    scheduler.last_busy -= 8  # idle for the timeout, as the last pops that landed found
    scheduler.popping = True
    with pytest.raises(DontCloseSpider):
        scheduler.on_idle()  # the pop in flight decides ...
    assert scheduler.idle_verdict
    scheduler.popping = False
    scheduler.on_idle()  # ... and the idle clock ran on: closes, no DontCloseSpider
    scheduler.pending.append(([], False, "x.org", 0.0, "u0 /", ""))  # not pushed yet: work in hand
    with pytest.raises(DontCloseSpider):
        scheduler.on_idle()


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


# --- the scripts, one at a time ------------------------------------------------------------------------


def frontier_for(client, worker="w", dupefilter=None, budget=0):
    from backlinkspider.frontier.dupefilter import SetDupeFilter
    from backlinkspider.frontier.queue import Frontier

    filt = dupefilter or SetDupeFilter()
    filt.setup(client)
    return Frontier(client, worker, filt, getattr(filt, "shards", SHARDS), budget)


def items_for(frontier, urls, depth=0, dont_filter=False, token=""):
    from scrapy.utils.request import fingerprint

    from backlinkspider.crawl.spider import BacklinksSpider
    from backlinkspider.frontier.queue import push_item

    spider = BacklinksSpider()
    out = []
    for url in urls:
        request = spider.request(url, depth, dont_filter=dont_filter)
        out.append(push_item(request, spider, frontier.dupefilter, fingerprint(request), token))
    return out


def url_of(entry):
    """The URL of a popped entry, as the worker reads it."""
    from backlinkspider.crawl.spider import BacklinksSpider
    from backlinkspider.frontier import serializer

    return serializer.loads(entry, BacklinksSpider()).url


def wait_for_uptime(client, seconds):
    while client.info("server")["uptime_in_seconds"] < seconds:
        time.sleep(0.2)


def test_a_lease_reaped_from_a_silent_worker_is_not_completed_by_it(redis_server):
    from backlinkspider.frontier.queue import status

    client = redis.Redis.from_url(redis_server.url)
    a, b = frontier_for(client, "a"), frontier_for(client, "b")
    a.push(items_for(a, ["http://x.org/"]))
    a.heartbeat(1, 0, True, {})
    [(token_a, _)], *_ = a.pop(4, "a:1:", 0)
    wait_for_uptime(client, 2)  # Redis up for more than a TTL
    time.sleep(1.2)  # a is silent for more than a TTL
    now, *_ = b.heartbeat(1, 0, False, {})
    assert b.heartbeat(1, now, False, {})[1:3] == (0, 0), "b has not yet seen Redis for a TTL itself"
    beat = (now, 0, 0)
    while beat[0] - now < 1:  # b beats on time (every TTL/5) for a TTL
        assert beat[1:3] == (0, 0)
        time.sleep(0.2)
        beat = b.heartbeat(1, now, False, {})
    assert beat[1:3] == (1, 1)  # a's lease is back, a is gone
    [(token_b, _)], *_ = b.pop(4, "b:1:", 0)
    assert token_b != token_a
    assert a.complete([token_a]) == 0, "the old holder's late completion touches nothing"
    assert client.hexists(host_key("x.org", defaults.LEASES), token_b)
    assert b.complete([token_b]) == 1
    assert status(client, SHARDS) == {"queued": 0, "hosts": 0, "leased": 0, "dropped": 0, "over_budget": 0}


def test_nobody_is_reaped_after_a_redis_restart_until_a_ttl_has_passed(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    a, b = frontier_for(client, "a"), frontier_for(client, "b")
    a.push(items_for(a, ["http://x.org/"]))
    a.heartbeat(60, 0, True, {})
    a.pop(4, "a:1:", 0)
    client.zadd(defaults.HEARTBEATS_KEY, {"a": 1.0})  # a's last beat long ago ...
    # ... but Redis itself has been up for less than the TTL: a may have been waiting for it.
    assert b.heartbeat(60, 1.0, False, {})[1:3] == (0, 0)
    assert figures(client)["leased"] == 1


def test_per_host_queues_pop_ready_hosts_round_robin_lowest_depth_first(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    f = frontier_for(client)
    for depth in (3, 1, 2, 0):
        f.push(items_for(f, [f"http://big.org/{depth}"], depth=depth))
    f.push(items_for(f, ["http://a.org/", "http://b.org/"], depth=5))
    pairs, dropped, shards = f.pop(10, "p1:", 0.4)
    urls = [url_of(entry) for _, entry in pairs]
    assert sorted(urls) == ["http://a.org/", "http://b.org/", "http://big.org/0"] and dropped == 0
    wait, hosts = shards[f.shard("big.org")]
    assert sum(h for _, h in shards.values()) == hosts == 1 and 0.3 < wait <= 0.4  # big.org waits its delay
    assert f.pop(10, "p2:", 0.4)[0] == []
    time.sleep(wait + 0.01)
    pairs, *_ = f.pop(10, "p3:", 0.4)
    assert [url_of(e) for _, e in pairs] == ["http://big.org/1"]
    # a retried pop (its reply lost) answers the same leases, and leases nothing more
    assert f.pop(10, "p3:", 0.4)[0] == pairs
    assert figures(client)["leased"] == 4
    # without a delay (once big.org's slot has come), one host's entries come out together
    time.sleep(0.41)
    pairs, *_ = frontier_for(client, "z").pop(10, "p4:", 0)
    assert [url_of(e) for _, e in pairs] == ["http://big.org/2", "http://big.org/3"]


def hosts_in_shards(n: int) -> list[str]:
    """One host in each of the first ``n`` shards (in shard order)."""
    hosts: dict[int, str] = {}
    for i in itertools.count():
        hosts.setdefault(defaults.shard_of(f"site{i}.org", SHARDS), f"site{i}.org")
        if len(hosts) == SHARDS:
            return [hosts[shard] for shard in sorted(hosts)][:n]
    raise AssertionError


def test_a_pop_retried_whole_answers_every_lease_its_first_try_made(redis_server):
    """Under OOM a pop runs (its first write, ZPOPMIN, needs no memory, and Redis then runs the script
    whole: see connection.py) but the presence call the scheduler makes with it is refused, so the call
    is retried whole, with the same prefix. Its first try moved the shard rotation on: the retry must
    still visit the shards it leased from, or those leases stay held by this worker, their URLs never
    fetched (issue #20: 6 URLs lost in an OOM window)."""
    client = redis.Redis.from_url(redis_server.url)
    f = frontier_for(client)
    hosts = hosts_in_shards(4)
    f.push(items_for(f, [f"http://{h}/" for h in hosts[1:]]))
    client.config_set("maxmemory", 1)
    pairs, *_ = f.pop(2, "p1:", 1.0)
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        f.presence(7, True, 0)
    client.config_set("maxmemory", 0)
    assert [url_of(e) for _, e in pairs] == [f"http://{hosts[1]}/", f"http://{hosts[2]}/"]
    assert f.pop(2, "p1:", 1.0)[0] == pairs  # not hosts[3]'s, from the shard the rotation moved on to
    assert figures(client)["leased"] == 2
    # A shard the first try found empty has a host ready by the retry: the retry leases it, and still
    # answers the first try's lease beyond the count (another worker: its rotation starts at shard 0).
    g = frontier_for(client, "g")
    assert [url_of(e) for _, e in g.pop(1, "p2:", 1.0)[0]] == [f"http://{hosts[3]}/"]
    g.push(items_for(g, [f"http://{hosts[0]}/"]))
    again, *_ = g.pop(1, "p2:", 1.0)
    assert [url_of(e) for _, e in again] == [f"http://{hosts[0]}/", f"http://{hosts[3]}/"]
    assert figures(client)["leased"] == 4 and figures(client)["queued"] == 0


def test_a_pop_retried_through_an_outage_answers_every_lease_it_made(redis_server):
    """Issue #20: a pop whose reply was lost in an outage is retried once Redis is back, and by then a
    shard it found empty has hosts ready; a pop retried whole because the call after it (the scheduler's
    presence check) failed. Either way the retry answers every lease the first try made (and what the
    shard found empty leases now): a lease its worker never heard of is renewed by its heartbeat and
    fetched by nobody."""
    client = redis.Redis.from_url(redis_server.url)
    f = frontier_for(client)
    empty, first, lost = (f.shard(h) for h in ("h20.org", "h30.org", "h38.org"))
    assert empty < first < lost  # the order a pop visits them in
    f.push(items_for(f, ["http://h30.org/", "http://h38.org/"]))
    script = f._pop

    def reply_lost(keys, args):
        answer = script(keys=keys, args=args)
        if keys[0] == defaults.shard_key(lost, defaults.HOSTS):
            f._pop = script
            raise redis.ConnectionError("Connection closed by server.")
        return answer

    f._pop = reply_lost
    with pytest.raises(redis.ConnectionError):
        f.pop(2, "p1:", 0, [empty, first, lost])
    f.push(items_for(f, ["http://h20.org/", "http://h21.org/"]))  # meanwhile, the empty shard fills
    pairs = f.pop(2, "p1:", 0, [empty, first, lost])[0]
    answered = {url_of(e) for _, e in pairs}
    assert {"http://h30.org/", "http://h38.org/"} <= answered  # the first try's leases
    assert f.pop(2, "p1:", 0, [empty, first, lost])[0] == pairs  # the call around it retried
    held = {t.decode() for shard in range(SHARDS) for t in client.smembers(f.held_key(shard))}
    assert held == {token for token, _ in pairs} and figures(client)["leased"] == len(pairs)
    rest = {url_of(e) for _, e in f.pop(4, "p2:", 0)[0]}
    assert answered | rest == {"http://h20.org/", "http://h21.org/", "http://h30.org/", "http://h38.org/"}


def test_a_pop_retried_after_any_outage_answers_its_leases(redis_server):
    """A pop whose reply was lost is answered by its retry however long Redis was away: here every key
    that can expire has (an outage longer than any TTL), and the retry still finds the first try's
    leases. An answer kept 600 s left them held and unfetched after a 10-minute outage (issue #20)."""
    client = redis.Redis.from_url(redis_server.url)
    f = frontier_for(client)
    f.push(items_for(f, ["http://a.org/", "http://b.org/", "http://b.org/2"]))
    pairs = f.pop(2, "p1:", 1.0)[0]
    assert len(pairs) == 2
    for key in client.scan_iter():
        if client.ttl(key) != -1:
            client.delete(key)
    assert f.pop(2, "p1:", 1.0)[0] == pairs
    assert figures(client)["leased"] == 2 and figures(client)["queued"] == 1


def test_dont_filter_bypasses_the_dupefilter_and_takes_over_the_lease(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    f = frontier_for(client)
    assert f.push(items_for(f, ["http://x.org/"])) == (1, 0, 0, 0)
    [(token, _)], *_ = f.pop(1, "p1:", 0)
    assert f.push(items_for(f, ["http://x.org/"])) == (0, 1, 0, 0)  # a duplicate
    assert f.push(items_for(f, ["http://x.org/"], dont_filter=True, token=token)) == (1, 0, 0, 0)  # a retry
    assert figures(client)["leased"] == 0 and figures(client)["queued"] == 1
    assert f.complete([token]) == 0


def test_a_request_whose_meta_is_not_json_is_refused_at_push():
    from scrapy import Request

    from backlinkspider.frontier import serializer

    with pytest.raises(serializer.Unserializable, match=r"http://x.org/: meta.*not JSON"):
        serializer.dumps(Request("http://x.org/", meta={"when": object()}), None)
    with pytest.raises(serializer.Unserializable, match=r"http://x.org/: .*not GET"):
        serializer.dumps(Request("http://x.org/", method="POST", body=b"a=1"), None)
    back = serializer.loads(
        serializer.dumps(Request("http://x.org/", headers={"Referer": b"\xe9"}), None), None
    )
    assert back.headers[b"Referer"] == b"\xe9"


HOSTILE = {
    "a pickle": None,  # filled in the test (it needs the marker path)
    "deeply nested JSON": '{"url":"http://evil.example/","meta":{"x":' + "[" * 100_000 + "]" * 100_000 + "}}",
    "a lone surrogate": '{"url":"http://evil.example/\\ud800"}',
    "invalid UTF-8": b'{"url":"http://evil.example/\xff\xfe"}',
    "a depth of 10**400": '{"url":"http://evil.example/d","meta":{"depth":1' + "0" * 400 + "}}",
    "a depth of 1e400": '{"url":"http://evil.example/e","meta":{"depth":1e400}}',
    "a _class to import": json.dumps({"url": "http://evil.example/c", "_class": "os.system"}),
    "a javascript: URL": json.dumps({"url": "javascript:alert(1)"}),
    "not a spider method": json.dumps({"url": "http://evil.example/m", "callback": "name"}),
    "not JSON": "{not json",
}


def test_hostile_queue_entries_are_dropped_counted_and_leave_no_lease(cluster, tmp_path):
    web, server, env = cluster
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    entries = {**HOSTILE, "a pickle": pickle.dumps(Exploit())}
    client = redis.Redis.from_url(server.url)
    plant(client, "evil.example", {entry: i for i, entry in enumerate(entries.values())})
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
    assert f"'frontier/dropped': {len(entries)}" in text, text[-3000:]
    assert figures(client)["dropped"] == len(entries)
    assert figures(client)["leased"] == 0  # dropped entries leave no lease behind
    assert "Traceback" not in text
    assert "alice.github.io/" in web.requests_per_url()  # and the worker went on
    assert "'finish_reason': 'finished'" in text


def test_bloom_false_positive_rate_is_within_its_bound(redis_server):
    from backlinkspider.frontier.dupefilter import BloomDupeFilter

    client = redis.Redis.from_url(redis_server.url)
    capacity, rate = 20_000, 0.01
    bloom = BloomDupeFilter(capacity, rate)  # one shard
    f = frontier_for(client, dupefilter=bloom)
    rng = __import__("random").Random(3)
    inserted = [rng.randbytes(20) for _ in range(capacity)]
    for i in range(0, capacity, 500):
        f.push([(bloom.marks(fp), False, "h.org", 0, "x", "") for fp in inserted[i : i + 500]])
    assert f.push([(bloom.marks(inserted[7]), False, "h.org", 0, "x", "")]) == (
        0,
        1,
        0,
        0,
    )  # no false negatives
    assert all(bloom.might_contain(client, inserted))
    fresh = [rng.randbytes(20) for _ in range(50_000)]
    measured = sum(bloom.might_contain(client, fresh)) / len(fresh)
    assert measured <= rate * 1.2, measured  # 50k trials: the 1.2 covers sampling noise at p = 1%
    assert capacity * (1 - rate) <= bloom.seen(client, 1) <= capacity  # a few inserts collided
    assert bloom.bits / capacity == pytest.approx(9.59, rel=0.01) and bloom.hashes == 7


def test_the_frontier_configuration_has_one_source(cluster, tmp_path):
    _web, server, env = cluster
    bloom = ["-s", "BACKLINKS_DUPEFILTER=bloom", "-s", "BACKLINKS_BLOOM_CAPACITY=10000"]
    res = run_cli("seed", "http://alice.github.io/", *bloom, env=env)
    assert res.returncode == 0, res.stderr
    client = redis.Redis.from_url(server.url)
    bitmaps = [defaults.shard_key(shard, defaults.BLOOM) for shard in range(SHARDS)]
    assert client.exists(*bitmaps) == SHARDS and not client.exists(defaults.shard_key(0, defaults.SEEN))
    assert client.hget(defaults.BLOOM_PARAMS_KEY, "capacity") == b"10000"
    assert "seen 1" in run_cli("status", *bloom, env=env).stdout
    for args, says in (
        (["-s", "BACKLINKS_DUPEFILTER=set"], "made with dupefilter=bloom"),
        (["-s", "BACKLINKS_BLOOM_CAPACITY=10000"], "made with dupefilter=bloom"),  # auto: the set
        ([], "capacity=10000"),  # auto, a capacity of 100M: a Bloom filter of another size
        (["-s", "BACKLINKS_DUPEFILTER=bloom"], "capacity=10000"),
        ([*bloom, "-s", "BACKLINKS_BLOOM_ERROR_RATE=0.01"], "error_rate=0.001"),
    ):
        for command in ("seed", "status"):
            res = run_cli(command, *(["http://bob.github.io/"] if command == "seed" else []), *args, env=env)
            assert res.returncode == 1 and res.stderr.count("\n") == 1 and says in res.stderr, res.stderr
    res = run_cli(
        "seed",
        "http://bob.github.io/",
        "-s",
        "BACKLINKS_DUPEFILTER=bloom",
        "-s",
        "BACKLINKS_BLOOM_CAPACITY=10000000000",  # 1.4e11 bits: 9e9 a shard
        env=env,
    )
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "2^32" in res.stderr, res.stderr
    # a worker asking for another filter: one error line, and it crawls nothing
    log = tmp_path / "w.log"
    set_ = ["-s", "BACKLINKS_DUPEFILTER=set"]
    assert worker(env, tmp_path / "c.db", *set_, log=log).wait(timeout=120) == 1  # work it could not do
    errors = [line for line in log.read_text().splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "made with dupefilter=bloom" in errors[0], errors
    assert "'finish_reason': 'frontier_unavailable'" in log.read_text()
    # a frontier an earlier release made (its keys laid out otherwise): refused, not misread
    client.hdel(defaults.CONFIG_KEY, "frontier_layout")
    res = run_cli("seed", "http://bob.github.io/", *bloom, env=env)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "earlier release" in res.stderr, res.stderr


def test_backlinks_crawl_is_a_cluster_worker_too(cluster, tmp_path):
    _web, server, env = cluster
    db = tmp_path / "cli.db"
    res = run_cli(
        "crawl",
        "http://alice.github.io/",
        "--index",
        f"sqlite:///{db}",
        *FAST,
        "-s",
        "BACKLINKS_SCOPE=seeds",
        "-s",
        "BACKLINKS_IDLE_TIMEOUT=1",
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert ("http://alice.github.io/", "http://bob.github.io/") in {
        (r["source_url"], r["target_url"]) for r in export(db)
    }
    assert figures(redis.Redis.from_url(server.url))["queued"] == 0


def test_a_hosts_queue_holds_at_most_its_remaining_budget_kept_for_the_crawl(redis_server):
    """Budget 3: the queue takes 3 of 10 new URLs (the other 7 are not marked seen: room may free up);
    each page paid for leaves room for one less; the page that spends the budget drops the queue. A
    retry (dont_filter) is not capped: its page is paid for already. The budget never expires."""
    import hashlib

    client = redis.Redis.from_url(redis_server.url)
    f = frontier_for(client, budget=3)
    urls = [f"http://big.org/{i}" for i in range(10)]
    assert f.push(items_for(f, urls)) == (3, 0, 0, 7)
    assert f.push(items_for(f, urls[3:])) == (0, 0, 0, 7), "the refused URLs were not marked seen"
    assert figures(client)["over_budget"] == 14
    pairs, *_ = f.pop(1, "p1:", 0)
    assert f.spend("big.org", hashlib.sha1(b"http://big.org/0").digest()[:8]) == 0
    assert f.push(items_for(f, urls[3:])) == (0, 0, 0, 7), "2 queued + 1 spent: no room"
    f.complete([pairs[0][0]])
    assert f.push(items_for(f, ["http://big.org/0"], dont_filter=True)) == (1, 0, 0, 0)  # a retry
    assert figures(client)["queued"] == 3
    for page in (b"http://big.org/1", b"http://big.org/2"):
        f.spend("big.org", hashlib.sha1(page).digest()[:8])
    assert figures(client) | {"over_budget": 0} == {
        "queued": 0,
        "hosts": 0,
        "leased": 0,
        "dropped": 0,
        "over_budget": 0,
    }
    assert figures(client)["over_budget"] == 14 + 7 + 3  # the pushes refused, and the queue dropped
    budget = host_key("big.org", defaults.HOST_BUDGET + "big.org")
    assert client.scard(budget) == 3 and client.ttl(budget) == -1  # kept for the crawl
    assert f.push(items_for(f, ["http://big.org/new"])) == (0, 0, 0, 1)


def test_a_recrawl_is_queued_once_by_the_cluster(cluster, tmp_path):
    """Two workers started with --recrawl on the same index: the first queues it (a marker in Redis), the
    other crawls what it queued; every page is fetched once more, not twice. A recrawl runs on a fresh
    frontier (the budgets and the seen set are the first crawl's)."""
    web, server, env = cluster
    db = tmp_path / "re.db"
    scope = ["-s", "BACKLINKS_SCOPE=seeds", "-s", "BACKLINKS_HOST_DELAY=0.05"]
    assert worker(env, db, *scope, seeds="http://alice.github.io/").wait(timeout=120) == 0
    first = web.requests_per_url()
    pages = {u for u in first if not u.endswith("/robots.txt")}
    assert len(pages) >= 2
    server.client().flushall()  # a fresh frontier
    logs = [tmp_path / "r1.log", tmp_path / "r2.log"]
    workers = [worker(env, db, *scope, "-a", "recrawl=true", log=log) for log in logs]
    assert exit_codes(workers, logs, timeout=120) == [0, 0]
    again = web.requests_per_url()
    assert {u: again[u] - first[u] for u in pages} == dict.fromkeys(pages, 1)
    texts = [log.read_text() for log in logs]
    assert sum("re-crawling" in text for text in texts) == 1
    assert sum("the cluster's recrawl was queued by" in text for text in texts) == 1


def test_seed_and_status_on_a_redis_cluster(tmp_path, proxy_env):
    """A REDIS_URL naming one node of a cluster: seed and status use the whole cluster, and status reads
    the shards' counters."""
    from redisserver import RedisClusterServer

    server = RedisClusterServer(tmp_path).start()
    try:
        env = {**proxy_env, "REDIS_URL": server.nodes[1].url}
        res = run_cli("seed", *(f"http://site{i}.example/" for i in range(20)), env=env)
        assert res.returncode == 0 and res.stdout.startswith("20 of 20 seeds queued"), res.stderr
        out = run_cli("status", env=env).stdout
        assert "frontier 20 on 20 hosts" in out and "seen 20" in out, out
        client = server.client()
        assert figures(client)["queued"] == 20
        nodes = {client.get_node_from_key(host_key(f"site{i}.example")).port for i in range(20)}
        assert len(nodes) == 3, "the hosts are spread over the three nodes"
    finally:
        server.stop()
