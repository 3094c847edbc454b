"""The cluster's ingest queue (backlinkspider/archives/filequeue.py) against a private redis-server: the
enqueue union, leases, completion, failures and their attempts, reaping a silent worker by the frontier's
rules, and the worker loop's exit. Workers here are FileQueue objects of one process with their own names;
tests/e2e/test_ingest_cluster.py runs real worker processes.

The heartbeat TTL is 1 s here (the default is 15 s): every wait below is a ratio of it."""

from __future__ import annotations

import http.server
import threading
import time
from collections import Counter
from typing import ClassVar

import pytest
import redis
from redisserver import RedisServer

from backlinkspider.archives import ArchiveReader, BadArchive, FetchFailed
from backlinkspider.archives.filequeue import (
    FAILED_KEY,
    HEARTBEATS_KEY,
    LEASES_KEY,
    QUEUE_KEY,
    FileQueue,
    Lease,
    QueueConfigError,
    failures,
    run,
    status,
)
from backlinkspider.config import project_settings
from backlinkspider.frontier.connection import RedisFailed, RedisUnavailable

TTL = 1.0


def queue(server, worker: str, ttl: float = TTL, attempts: int = 3) -> FileQueue:
    return FileQueue(server.url, ttl, attempts, backoff_max=0.2, worker=worker)


def figures(server) -> dict[str, int] | None:
    return status(redis.Redis.from_url(server.url))


def test_paths_are_queued_once_the_union_of_every_workers_list_in_order(redis_server):
    a, b = queue(redis_server, "a"), queue(redis_server, "b")
    assert figures(redis_server) is None, "no ingest queue yet"
    assert a.enqueue(["f1", "f2", "f3"]) == 3
    assert b.enqueue(["f2", "f3", "f4"]) == 1  # the same command on another machine, one more file
    assert a.enqueue(f"g{i}" for i in range(2500)) == 2500  # in batches
    assert figures(redis_server) == {
        "files": 2504,
        "queued": 2504,
        "leased": 0,
        "done": 0,
        "failed": 0,
        "workers": 0,
    }
    got = a.lease()
    assert isinstance(got, Lease) and got.path == "f1"
    assert a.complete(got)
    assert b.enqueue(["f1"]) == 0, "a done file is not queued again"
    assert [b.lease().path for _ in range(3)] == ["f2", "f3", "f4"]


def test_a_worker_on_another_heartbeat_ttl_is_refused_with_one_line(redis_server):
    queue(redis_server, "a").enqueue(["f1"])
    with pytest.raises(
        QueueConfigError, match=r"runs with BACKLINKS_HEARTBEAT_TTL=1\.0; this worker asks for 2\.0"
    ):
        queue(redis_server, "b", ttl=2.0).enqueue(["f1"])


def test_a_lease_is_completed_only_by_its_token_and_a_retry_answers_the_same(redis_server):
    a = queue(redis_server, "a")
    a.enqueue(["f1", "f2"])
    lease = a.lease()
    assert isinstance(lease, Lease)
    assert figures(redis_server) == {
        "files": 2,
        "queued": 1,
        "leased": 1,
        "done": 0,
        "failed": 0,
        "workers": 1,
    }
    # a lost reply: the retried lease call (same token) answers the same file and leases nothing more
    assert a._call(a._lease, "a", lease.token)[0] == b"f1"
    assert figures(redis_server)["queued"] == 1
    assert not a.complete(Lease("someone-else", "f1"))
    assert a.complete(lease) and a.complete(lease), "a retried completion answers done again"
    assert figures(redis_server) == {
        "files": 2,
        "queued": 1,
        "leased": 0,
        "done": 1,
        "failed": 0,
        "workers": 1,
    }


def test_bad_files_fail_at_once_and_fetch_failures_after_their_attempts_while_the_rest_go_on(redis_server):
    q = queue(redis_server, "a", attempts=3)
    q.enqueue(["good1", "notwarc", "flaky", "down", "good2"])
    tries: dict[str, int] = {}

    def ingest_one(path: str) -> None:
        tries[path] = tries.get(path, 0) + 1
        if path == "notwarc":
            raise BadArchive("notwarc: not a WARC file (no WARC record in it)")
        if path == "down":
            raise FetchFailed("down: HTTP 503 Service Unavailable")
        if path == "flaky" and tries[path] == 1:
            raise FetchFailed("flaky: the download broke off at byte 10 of 20")

    tally = run(q, ingest_one)
    assert tries == {"good1": 1, "notwarc": 1, "flaky": 2, "down": 3, "good2": 1}
    assert tally.done == 3 and tally.again == 3 and tally.lost == 0
    reasons = {
        "notwarc": "notwarc: not a WARC file (no WARC record in it)",
        "down": "down: HTTP 503 Service Unavailable",
    }
    assert tally.failed == reasons
    assert figures(redis_server) == {
        "files": 5,
        "queued": 0,
        "leased": 0,
        "done": 3,
        "failed": 2,
        "workers": 0,
    }
    client = redis.Redis.from_url(redis_server.url)
    assert failures(client) == reasons
    assert q.requeue_failed() == 2
    assert figures(redis_server) == {
        "files": 5,
        "queued": 2,
        "leased": 0,
        "done": 3,
        "failed": 0,
        "workers": 0,
    }
    assert client.hlen(FAILED_KEY) == 0
    assert client.zcard(HEARTBEATS_KEY) == 0, "the worker left"


def test_an_error_that_is_not_the_files_puts_it_back_first_and_stops_the_worker(redis_server):
    q = queue(redis_server, "a")
    q.enqueue(["f1", "f2"])

    def index_down(path: str) -> None:
        raise OSError("index unreachable")

    with pytest.raises(OSError, match="index unreachable"):
        run(q, index_down)
    assert figures(redis_server) == {
        "files": 2,
        "queued": 2,
        "leased": 0,
        "done": 0,
        "failed": 0,
        "workers": 0,
    }
    got = queue(redis_server, "b").lease()
    assert isinstance(got, Lease) and got.path == "f1", "the file it held goes next"


def test_a_silent_workers_file_is_back_at_the_head_within_the_ttl_by_the_frontiers_rules(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    a, b = queue(redis_server, "a"), queue(redis_server, "b")
    a.enqueue(["f1", "f2"])
    held = a.lease()  # a leases and goes silent (its lease made its heartbeat entry)
    assert isinstance(held, Lease) and client.zscore(HEARTBEATS_KEY, "a") is not None
    while client.info("server")["uptime_in_seconds"] < 2:  # Redis up for more than a TTL
        time.sleep(0.1)
    time.sleep(TTL * 1.2)  # a silent for more than a TTL
    beats = b.conn
    now, back, reaped, since = b._beat_once(beats, 0.0)
    assert (back, reaped) == (0, 0), "b has not yet seen Redis for a TTL itself"
    while now - since < TTL:  # b beats on time (every TTL/5) for a TTL
        time.sleep(TTL / 5)
        now, back, reaped, since = b._beat_once(beats, since)
        if back:
            break
    assert (back, reaped) == (1, 1)
    assert now - since >= TTL
    got = b.lease()
    assert isinstance(got, Lease) and got.path == "f1", "the reaped file goes next"
    assert not a.complete(held), "the old holder's late completion touches nothing"
    assert b.complete(got)
    assert a.fail(held, "late", may_pass=False) == "lost"
    assert figures(redis_server) == {
        "files": 2,
        "queued": 1,
        "leased": 0,
        "done": 1,
        "failed": 0,
        "workers": 1,
    }


def test_a_stalled_reaper_and_a_restarted_redis_reap_nobody_before_a_ttl(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    a, b = queue(redis_server, "a", ttl=60), queue(redis_server, "b", ttl=60)
    a.enqueue(["f1"])
    a.lease()
    client.zadd(HEARTBEATS_KEY, {"a": 1.0})  # a's last beat long ago ...
    # ... but Redis has been up for less than the TTL: a may have been waiting for it.
    assert b._beat_once(b.conn, 1.0)[1:3] == (0, 0)
    # b's own last beat is over TTL/2 old (b, or Redis, stalled): b's break-free time starts again now.
    client.zadd(HEARTBEATS_KEY, {"b": 1.0})
    now, back, reaped, since = b._beat_once(b.conn, 1.0)
    assert (back, reaped) == (0, 0) and since == now
    assert client.hlen(LEASES_KEY) == 1


def test_a_worker_waits_while_a_file_is_leased_elsewhere_and_takes_it_when_its_holder_dies(redis_server):
    a, b = queue(redis_server, "a"), queue(redis_server, "b")
    a.enqueue(["f1"])
    assert isinstance(a.lease(), Lease)  # a dies holding f1
    started = time.monotonic()
    done: list[str] = []
    tally = run(b, done.append)  # b waits (f1 is leased), reaps a after a TTL of its own beats, ingests f1
    assert done == ["f1"] and tally.done == 1
    assert time.monotonic() - started >= TTL
    assert figures(redis_server) == {
        "files": 1,
        "queued": 0,
        "leased": 0,
        "done": 1,
        "failed": 0,
        "workers": 0,
    }


def test_a_dead_redis_is_one_line_and_a_fatal_reply_is_raised(tmp_path, redis_server):
    settings = project_settings({"REDIS_URL": "redis://127.0.0.1:9/0"})
    with pytest.raises(RedisUnavailable, match=r"^cannot reach Redis at redis://127\.0\.0\.1:9/0: .*") as exc:
        FileQueue.from_settings(settings)
    assert "\n" not in str(exc.value)
    q = queue(redis_server, "a")
    q.enqueue(["f1"])
    redis.Redis.from_url(redis_server.url).set(QUEUE_KEY, "not a list")  # no wait cures this
    with pytest.raises(RedisFailed, match=r"^Redis at .* failed: .*WRONGTYPE"):
        q.lease()


class _Archives(http.server.BaseHTTPRequestHandler):
    """/404 and /503 answer so every time; /cut promises 1,000 bytes and sends 10, then hangs up."""

    requests: ClassVar[Counter[str]] = Counter()

    def do_GET(self) -> None:
        self.requests[self.path] += 1
        if self.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"WARC/1.0\r\n")
            return
        self.send_error(int(self.path[1:]))

    def log_message(self, *args: object) -> None:
        pass


def test_http_errors_that_may_pass_are_tried_the_attempts_and_the_others_once(redis_server):
    """The reader's word (FetchFailed or BadArchive) decides: a 404 is read once, a 503 and a cut download
    ``attempts`` times, each then failed with its reason."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Archives)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        q = queue(redis_server, "a", attempts=2)
        q.enqueue([f"{base}/404", f"{base}/503", f"{base}/cut"])
        tally = run(q, lambda source: list(ArchiveReader(source, timeout=5)), on_failed=lambda m: None)
    finally:
        server.shutdown()
    assert _Archives.requests == {"/404": 1, "/503": 2, "/cut": 2}
    assert tally.failed == {
        f"{base}/404": f"{base}/404: HTTP 404 Not Found",
        f"{base}/503": f"{base}/503: HTTP 503 Service Unavailable",
        f"{base}/cut": f"{base}/cut: the download broke off at byte 10 of 1,000",
    }
    assert figures(redis_server) == {
        "files": 3,
        "queued": 0,
        "leased": 0,
        "done": 0,
        "failed": 3,
        "workers": 0,
    }


def test_redis_stopped_mid_file_for_two_ttls_pauses_the_worker_and_loses_nothing(tmp_path, caplog):
    """Redis (persisted) goes away while a file is read and is back two TTLs later: the completion waits
    for it, nobody is taken for dead (Redis restarted), and every file is done once."""
    server = RedisServer(tmp_path, persist=True).start()
    try:
        q = queue(server, "a")
        q.enqueue(["f1", "f2", "f3"])
        read: list[str] = []

        def ingest_one(path: str) -> None:
            if path == "f1":
                server.stop()
                time.sleep(2 * TTL)
                server.start()
            read.append(path)

        tally = run(q, ingest_one)
        assert read == ["f1", "f2", "f3"] and tally.done == 3 and tally.lost == 0
        waited = [r.message for r in caplog.records if "unavailable" in r.message or "is back" in r.message]
        assert len(waited) == 2, waited  # the heartbeat waited for Redis, once
        assert figures(server) == {"files": 3, "queued": 0, "leased": 0, "done": 3, "failed": 0, "workers": 0}
    finally:
        server.stop()
