"""The cluster frontier under the faults of a web-scale crawl, against a real redis-server (a private one
per test): new hosts flooding in, Redis error replies (BUSY, OOM), a Redis stall, a worker killed between
its index write and its links' push, and hostile queue entries."""

from __future__ import annotations

import itertools
import json
import signal
import socket
import subprocess
import time

import pytest
import redis
from helpers import SUPPORT, edge_key, exit_codes, export, worker
from redisserver import KINDS, RedisServer, start_redis
from synthweb import HUB, ProxyServer, SyntheticWeb
from test_cluster import expected, fetched_twice
from test_frontier import drained, figures, frontier_for, items_for, plant, url_of

HOST_DELAY = 1.0  # BACKLINKS_HOST_DELAY's default


@pytest.mark.parametrize("kind", KINDS)
def test_new_hosts_flooding_in_leave_an_old_host_its_page_per_delay(tmp_path, kind):
    """Every round pushes as many new hosts as a pop takes: before, each entered the ready set at score 0,
    ahead of the old host, which got nothing while the flood lasted. On a cluster the pop visits the
    shards on three nodes, the old host's among them."""
    server = start_redis(kind, tmp_path)
    try:
        flood(server.client())
    finally:
        server.stop()


def flood(client) -> None:
    f = frontier_for(client)
    f.push(items_for(f, [f"http://old.org/{i}" for i in range(20)]))
    popped_old, served, batch = [], 0, 20
    started = time.monotonic()
    round_ = 0
    while time.monotonic() - started < 3.5 * HOST_DELAY:
        round_ += 1
        f.push(items_for(f, [f"http://new{round_}-{i}.org/" for i in range(batch)]))
        pairs, *_ = f.pop(batch, f"p{round_}:", HOST_DELAY)
        for _, entry in pairs:
            if url_of(entry).startswith("http://old.org/"):
                popped_old.append(time.monotonic() - started)
            else:
                served += 1
    assert len(popped_old) >= 4, popped_old  # at 0, 1, 2 and 3 delays
    gaps = [b - a for a, b in itertools.pairwise(popped_old)]
    assert all(HOST_DELAY - 0.05 <= gap <= HOST_DELAY + 0.3 for gap in gaps), gaps
    assert served >= (round_ - len(popped_old) - 1) * batch * 0.9  # the new hosts are served too


# --- a crawl through Redis faults ----------------------------------------------------------------------

TTL = 15  # BACKLINKS_HEARTBEAT_TTL's default
# The OOM and stall windows are measured in TTLs; they run on a TTL half the default (and so windows half
# as long), every ratio kept: the scheduler reads the TTL, and its heartbeat period (TTL/5), from the
# setting, so nothing else moves.
HALF_TTL = TTL / 2
WORKER_ARGS = [
    "-s",
    "BACKLINKS_HOST_DELAY=0.2",
    "-s",
    "CONCURRENT_REQUESTS=4",
    "-s",
    "BACKLINKS_IDLE_TIMEOUT=8",
]
# A script that keeps Redis to itself for ARGV[1] seconds.
BLOCK = """
local t = redis.call('TIME')
local start = tonumber(t[1]) + tonumber(t[2]) / 1000000
repeat
  t = redis.call('TIME')
until tonumber(t[1]) + tonumber(t[2]) / 1000000 - start >= tonumber(ARGV[1])
return 1
"""


@pytest.fixture
def crawl_through(tmp_path, proxy_env):
    """Two workers crawl a small slow web (no failing pages: anything fetched twice is the frontier's
    doing); ``fault(client, server)`` runs once 40 pages are fetched; the workers end with ``codes``.
    Returns the web, the index and the workers' logs. The host delay is 0.2 s rather than 1 s only to
    keep the crawl short: the faults' windows are measured against the heartbeat TTL (the default unless a
    test says otherwise)."""

    def run(fault, *args: str, codes=(0, 0), kind=KINDS[0], persist=False):
        web = SyntheticWeb(seed=5, bulk_sites=8, pages_per_site=5, latency=0.1)
        server = start_redis(kind, tmp_path, persist)
        try:
            with ProxyServer(web) as proxy:
                env = {
                    **proxy_env,
                    "http_proxy": proxy.url,
                    "https_proxy": proxy.url,
                    "REDIS_URL": server.url,
                }
                db = tmp_path / "faults.db"
                logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
                procs = [
                    worker(env, db, *WORKER_ARGS, *args, seeds=HUB, log=logs[0]),
                    worker(env, db, *WORKER_ARGS, *args, log=logs[1]),
                ]
                while len(web.log) < 40:
                    assert all(p.poll() is None for p in procs), "the crawl ended before the fault"
                    time.sleep(0.05)
                client = server.client()
                fault(client, server)
                ended = exit_codes(procs, logs)
                texts = [log.read_text() for log in logs]
                assert ended == list(codes), "\n".join(t[-3000:] for t in texts)
                if codes == (0, 0):  # the work is done
                    assert drained(client), figures(client)
        finally:
            server.stop()
        return web, db, texts

    return run


def assert_ground_truth(web: SyntheticWeb, db) -> None:
    fetched = web.requests_per_url()
    assert len(fetched) > 100, "there was work left after the fault"
    assert {edge_key(r) for r in export(db)} == expected(web, set(fetched))  # nothing lost
    assert fetched_twice(web, set()) == {}  # nothing fetched twice


def test_a_script_blocking_redis_for_6_s_loses_nothing_and_refetches_nothing(crawl_through):
    """Redis answers BUSY to every other client while a script runs past busy-reply-threshold (5 s, a
    server setting; lowered to 0.1 s on this Redis so that BUSY lasts nearly all of the 6 s)."""

    def busy(client, server, *_):
        client.config_set("busy-reply-threshold", 100)
        blocker = subprocess.run(
            ["redis-cli", "-p", str(server.port), "EVAL", BLOCK, "0", "6"], capture_output=True, timeout=60
        )
        assert blocker.stdout.strip() == b"1", blocker

    web, db, texts = crawl_through(busy)
    assert_ground_truth(web, db)
    assert all("BUSY" in text and "Redis is back" in text for text in texts)  # both met it, and waited
    assert not any("Traceback" in text or "dead workers" in text for text in texts)


def test_a_window_of_maxmemory_below_use_loses_nothing_and_refetches_nothing(crawl_through):
    """OOM for longer than the heartbeat TTL: every write that may grow memory (a push, a heartbeat, a
    budget or trap call) is refused, and retried until the window closes. (On half the default TTL:
    HALF_TTL.)"""

    def oom(client, *_):
        client.config_set("maxmemory", 1)
        time.sleep(HALF_TTL + 2.5)
        client.config_set("maxmemory", 0)

    web, db, texts = crawl_through(oom, "-s", f"BACKLINKS_HEARTBEAT_TTL={HALF_TTL}")
    assert_ground_truth(web, db)
    assert all("maxmemory" in text and "Redis is back" in text for text in texts)
    assert not any("Traceback" in text or "dead workers" in text for text in texts)


def test_a_redis_cluster_stopped_and_restarted_mid_crawl_loses_nothing(crawl_through):
    """Every node of a persisted 3-node cluster stopped for 5 s, then restarted: the cluster client finds
    it again (the nodes keep their slots in their cluster config files), and the workers go on."""

    def outage(client, server, *_):
        server.stop()
        time.sleep(5)
        server.start()

    web, db, texts = crawl_through(outage, kind=KINDS[1], persist=True)
    assert_ground_truth(web, db)
    assert all("Redis is back" in text for text in texts)
    assert not any("Traceback" in text or "dead workers" in text for text in texts)


def test_a_stall_of_one_and_a_half_ttl_reaps_nobody_alive(crawl_through):
    """Redis stalls (DEBUG SLEEP) for 1.5 TTL, less than the socket timeout (30 s), so no worker sees an
    error: each one's own heartbeat is then stale, and none reaps the others. (On a cluster the same
    global script decides, on the node serving the heartbeats: one Redis tells as much, in less time. On
    half the default TTL: HALF_TTL.)"""

    def stall(client, server, *_):
        sleep = str(1.5 * HALF_TTL)
        subprocess.run(["redis-cli", "-p", str(server.port), "DEBUG", "SLEEP", sleep], timeout=60)

    web, db, texts = crawl_through(stall, "-s", f"BACKLINKS_HEARTBEAT_TTL={HALF_TTL}")
    assert_ground_truth(web, db)
    assert not any("Traceback" in text or "dead workers" in text for text in texts)


@pytest.mark.parametrize("kind", KINDS)
def test_a_worker_killed_between_its_index_write_and_its_links_push_loses_none(tmp_path, proxy_env, kind):
    """The hub (the seed, whose links reach every site) is indexed, then its worker is SIGKILLed: its lease
    completes only after the push of its links (to every shard they go to), so either both happened or
    its lease comes back after the TTL and a replacement fetches it again. The victim writes each page to
    the index at once (BACKLINKS_FLUSH_SECONDS=0), so the hook fires as soon after the hub's links were
    yielded as can be."""
    web = SyntheticWeb(seed=5, bulk_sites=8, pages_per_site=5, latency=0.1)
    server = start_redis(kind, tmp_path)
    try:
        with ProxyServer(web) as proxy:
            env = {
                **proxy_env,
                "http_proxy": proxy.url,
                "https_proxy": proxy.url,
                "REDIS_URL": server.url,
                "PYTHONPATH": str(SUPPORT),
            }
            db = tmp_path / "kill.db"
            hook = ["-s", 'EXTENSIONS={"killhook.KillAfterIndexing": 0}', "-s", f"KILL_AFTER_INDEXING={HUB}"]
            victim = worker(env, db, *WORKER_ARGS, "-s", "BACKLINKS_FLUSH_SECONDS=0", *hook, seeds=HUB)
            assert victim.wait(timeout=120) == -signal.SIGKILL
            assert HUB.removeprefix("http://") in web.requests_per_url()
            replacement = worker(env, db, *WORKER_ARGS, log=tmp_path / "replacement.log")
            assert replacement.wait(timeout=300) == 0
            assert drained(server.client())
    finally:
        server.stop()
    fetched = web.requests_per_url()
    assert len(fetched) > 100
    assert {edge_key(r) for r in export(db)} == expected(web, set(fetched))


def test_an_error_waiting_cannot_cure_is_one_line_and_stops_the_crawl(crawl_through):
    """A password set on Redis mid-crawl: reconnecting, each worker gets NOAUTH, says so on one line and
    stops (exit 1), rather than retry forever or go on losing its pushes quietly."""

    def new_password(client, *_):
        client.config_set("requirepass", "changed")
        client.client_kill_filter(_type="normal")  # every worker reconnects

    _web, _db, texts = crawl_through(new_password, codes=(1, 1))
    for text in texts:
        errors = [line for line in text.splitlines() if " ERROR: " in line]
        assert len(errors) == 1 and "failed: NOAUTH" in errors[0] and "stopping the crawl" in errors[0], (
            errors
        )
        assert "'finish_reason': 'frontier_failed'" in text and "Traceback" not in text


def test_what_the_downloader_added_to_a_retry_is_not_stored_and_a_spider_proxy_is_refused():
    """A retry comes back with the headers and meta Scrapy's downloader middlewares set; the worker that
    fetches it sets them again. A proxy the spider chose is another matter: refused at push."""
    from scrapy import Request

    from backlinkspider.frontier import serializer

    added = {"User-Agent": "ua", "Accept-Encoding": "gzip", "Cookie": "a=1", "Referer": "http://a.org/"}
    meta = {"proxy": "http://127.0.0.1:1", "_scheme_proxy": True, "download_timeout": 30, "retry_times": 1}
    entry = json.loads(serializer.dumps(Request("http://x.org/", headers=added, meta=meta), None))
    assert entry["headers"] == {"Referer": ["http://a.org/"]} and entry["meta"] == {"retry_times": 1}
    with pytest.raises(serializer.Unserializable, match="meta 'proxy' changes the fetch"):
        serializer.dumps(Request("http://x.org/", meta={"proxy": "http://127.0.0.1:1"}), None)


def hostile_entries(proxy_port: int) -> dict[str, dict]:
    """One entry per way an entry could steer a worker; each would be a page of alice.github.io."""
    page = {"callback": "parse", "errback": "on_error"}
    kinds: dict[str, dict] = {
        "method POST": {"method": "POST", "body": "a=1"},
        "an Authorization header": {"headers": {"Authorization": ["Basic eDp5"]}},
        "a Host header": {"headers": {"Host": ["169.254.169.254"]}},
        "cookies": {"cookies": {"session": "x"}},
        "meta.proxy naming another proxy": {"meta": {"proxy": f"http://127.0.0.1:{proxy_port}"}},
        "meta.dont_obey_robotstxt (robots.txt and the budget skipped)": {
            "meta": {"dont_obey_robotstxt": True}
        },
        "meta.download_maxsize 0": {"meta": {"download_maxsize": 0}},
        "meta.download_warnsize": {"meta": {"download_warnsize": 1}},
        "meta.download_timeout": {"meta": {"download_timeout": 100000}},
        "meta.bindaddress": {"meta": {"bindaddress": ["127.0.0.2", 0]}},
        "meta.handle_httpstatus_all": {"meta": {"handle_httpstatus_all": True}},
        "meta.handle_httpstatus_list": {"meta": {"handle_httpstatus_list": [404]}},
        "meta.allow_offsite": {"meta": {"allow_offsite": True}},
        "dont_filter (passes the offsite filter)": {"dont_filter": True},
    }
    return {
        kind: {"url": f"http://alice.github.io/hostile/{i}", **page, **fields}
        for i, (kind, fields) in enumerate(kinds.items())
    }


def test_entries_asking_more_than_a_get_are_dropped_and_counted(tmp_path, proxy_env):
    web = SyntheticWeb()
    server = RedisServer(tmp_path).start()
    with socket.socket() as other_proxy, ProxyServer(web) as proxy:
        other_proxy.bind(("127.0.0.1", 0))
        other_proxy.listen()
        other_proxy.setblocking(False)
        entries = hostile_entries(other_proxy.getsockname()[1])
        client = redis.Redis.from_url(server.url)
        queue = {json.dumps(entry, separators=(",", ":")): i for i, entry in enumerate(entries.values())}
        plant(client, "alice.github.io", queue)
        env = {**proxy_env, "http_proxy": proxy.url, "https_proxy": proxy.url, "REDIS_URL": server.url}
        log = tmp_path / "w.log"
        args = [
            "-s",
            "BACKLINKS_HOST_DELAY=0",
            "-s",
            "BACKLINKS_IDLE_TIMEOUT=2",
            "-s",
            "BACKLINKS_SCOPE=seeds",
        ]
        try:
            assert (
                worker(env, tmp_path / "h.db", *args, seeds="http://alice.github.io/", log=log).wait(120) == 0
            )
            with pytest.raises(BlockingIOError):
                other_proxy.accept()  # nobody came to the other proxy
            text = log.read_text()
            assert f"'frontier/dropped': {len(entries)}" in text, text[-3000:]
            assert figures(client)["dropped"] == len(entries)
            assert figures(client)["leased"] == 0
        finally:
            server.stop()
    for i, kind in enumerate(entries):
        assert f"alice.github.io/hostile/{i}" not in web.requests_per_url(), kind
    assert "alice.github.io/" in web.requests_per_url()  # and the worker crawled on
    assert "Traceback" not in text


def test_the_host_delay_and_heartbeat_ttl_have_one_source(redis_server, proxy_env, tmp_path):
    """The first worker fixes them for the cluster; a worker asking for others crawls nothing and says
    why on one line."""
    env = {**proxy_env, "REDIS_URL": redis_server.url}
    assert worker(env, tmp_path / "a.db").wait(timeout=120) == 0  # the defaults, stored
    for args, says in (
        (["-s", "BACKLINKS_HOST_DELAY=0.5"], "BACKLINKS_HOST_DELAY=1.0"),
        (["-s", "BACKLINKS_HEARTBEAT_TTL=30"], "BACKLINKS_HEARTBEAT_TTL=15.0"),
    ):
        log = tmp_path / "w.log"
        assert worker(env, tmp_path / "b.db", *args, log=log).wait(timeout=120) == 1
        errors = [line for line in log.read_text().splitlines() if " ERROR: " in line]
        assert len(errors) == 1 and says in errors[0], errors


def test_redis_error_replies_are_classified_as_they_come(redis_server):
    """The replies of a real Redis: those that pass with time are retried (READONLY and MASTERDOWN from a
    replica cut off from its master, as in a failover; OOM), the others are fatal (a script error, a
    missing password)."""
    from backlinkspider.frontier.connection import transient

    client = redis.Redis.from_url(redis_server.url)

    def reply(fn) -> redis.RedisError:
        with pytest.raises(redis.RedisError) as caught:
            fn()
        return caught.value

    with socket.socket() as nobody:  # a master that never answers
        nobody.bind(("127.0.0.1", 0))
        client.replicaof("127.0.0.1", nobody.getsockname()[1])
        readonly = reply(lambda: client.set("k", "v"))
        assert isinstance(readonly, redis.ReadOnlyError) and transient(readonly)
        client.config_set("replica-serve-stale-data", "no")
        masterdown = reply(lambda: client.get("k"))
        assert isinstance(masterdown, redis.exceptions.MasterDownError) and transient(masterdown)
        client.config_set("replica-serve-stale-data", "yes")
        client.replicaof("NO", "ONE")
    client.config_set("maxmemory", 1)
    oom = reply(lambda: client.register_script("redis.call('SET', 'k', 'v')")())
    assert isinstance(oom, redis.exceptions.OutOfMemoryError) and transient(oom)
    client.config_set("maxmemory", 0)
    assert not transient(reply(lambda: client.register_script("return nil + 1")()))
    client.config_set("requirepass", "s3cret")
    noauth = reply(lambda: redis.Redis.from_url(redis_server.url).ping())
    assert isinstance(noauth, redis.AuthenticationError) and not transient(noauth)


def test_the_cluster_clients_errors_are_classified_as_they_come(tmp_path):
    """What redis-py's RedisCluster raises on a real 3-node cluster: BUSY and OOM from a node, and no node
    answering (a cluster restarting), pass with time; keys in two slots in one script are our bug."""
    from redisserver import RedisClusterServer

    from backlinkspider.frontier.connection import transient

    server = RedisClusterServer(tmp_path).start()
    try:
        client = server.client()

        def reply(fn) -> Exception:
            with pytest.raises(Exception) as caught:  # what it raises is the question
                fn()
            return caught.value

        node = client.get_node_from_key("k")
        direct = redis.Redis(port=node.port)
        direct.config_set("maxmemory", 1)
        oom = reply(lambda: client.register_script("redis.call('SET', KEYS[1], 'v')")(keys=["k"]))
        assert isinstance(oom, redis.exceptions.OutOfMemoryError) and transient(oom)
        direct.config_set("maxmemory", 0)
        direct.config_set("busy-reply-threshold", 100)
        blocker = subprocess.Popen(
            ["redis-cli", "-p", str(node.port), "EVAL", BLOCK, "0", "2"], stdout=subprocess.DEVNULL
        )
        time.sleep(0.5)
        busy = reply(lambda: client.get("k"))
        blocker.wait(timeout=30)
        assert "BUSY" in str(busy) and transient(busy), busy
        cross = reply(lambda: client.register_script("return 1")(keys=["a", "b"]))
        assert not transient(cross), cross
        server.stop()
        gone = reply(lambda: client.get("k"))
        assert transient(gone), repr(gone)
    finally:
        server.stop()
