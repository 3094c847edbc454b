"""The cluster frontier under the faults of a web-scale crawl, against a real redis-server (a private one
per test): new hosts flooding in, Redis error replies (BUSY, OOM), a Redis stall, a worker killed between
its index write and its links' push, and hostile queue entries."""

from __future__ import annotations

import itertools
import json
import socket
import time

import pytest
import redis
from conftest import RedisServer
from synthweb import ProxyServer, SyntheticWeb
from test_frontier import frontier_for, items_for, worker

HOST_DELAY = 1.0  # BACKLINKS_HOST_DELAY's default


def test_new_hosts_flooding_in_leave_an_old_host_its_page_per_delay(redis_server):
    """Every round pushes as many new hosts as a pop takes: before, each entered the ready set at score 0,
    ahead of the old host, which got nothing while the flood lasted."""
    client = redis.Redis.from_url(redis_server.url)
    f = frontier_for(client)
    f.push(items_for(f, [f"http://old.org/{i}" for i in range(20)]))
    popped_old, served, batch = [], 0, 20
    started = time.monotonic()
    round_ = 0
    while time.monotonic() - started < 3.5 * HOST_DELAY:
        round_ += 1
        f.push(items_for(f, [f"http://new{round_}-{i}.org/" for i in range(batch)]))
        pairs, *_ = f.pop(batch, f"p{round_}:", HOST_DELAY, 3)
        for _, entry in pairs:
            if json.loads(entry)["url"].startswith("http://old.org/"):
                popped_old.append(time.monotonic() - started)
            else:
                served += 1
    assert len(popped_old) >= 4, popped_old  # at 0, 1, 2 and 3 delays
    gaps = [b - a for a, b in itertools.pairwise(popped_old)]
    assert all(HOST_DELAY - 0.05 <= gap <= HOST_DELAY + 0.3 for gap in gaps), gaps
    assert served >= (round_ - len(popped_old) - 1) * batch * 0.9  # the new hosts are served too


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
        client.zadd("backlinks:q:alice.github.io", queue)
        client.zadd("backlinks:hosts", {"alice.github.io": 0})
        client.set("backlinks:queued", len(queue))
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
            assert int(client.get("backlinks:dropped")) == len(entries)
            assert client.hlen("backlinks:leases") == 0
        finally:
            server.stop()
    for i, kind in enumerate(entries):
        assert f"alice.github.io/hostile/{i}" not in web.requests_per_url(), kind
    assert "alice.github.io/" in web.requests_per_url()  # and the worker crawled on
    assert "Traceback" not in text
