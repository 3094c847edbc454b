"""The cluster frontier under the faults of a web-scale crawl, against a real redis-server (a private one
per test): new hosts flooding in, Redis error replies (BUSY, OOM), a Redis stall, a worker killed between
its index write and its links' push, and hostile queue entries."""

from __future__ import annotations

import itertools
import json
import time

import redis
from test_frontier import frontier_for, items_for

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
