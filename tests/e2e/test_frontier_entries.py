"""Frontier entries through the real pop script (a private redis-server): a request stored compact comes
back equal, and a compact entry that is not one ``serializer.dumps`` writes is dropped and counted."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redisserver import RedisServer
from scrapy.utils.request import fingerprint
from test_frontier import SHARDS, figures, plant

from backlinkspider.crawl.spider import BacklinksSpider
from backlinkspider.frontier import defaults, serializer
from backlinkspider.frontier.dupefilter import SetDupeFilter
from backlinkspider.frontier.queue import REDIS_ENCODINGS, Frontier, encodings_advice, push_item

SPIDER = BacklinksSpider()
POPS = itertools.count()  # a pop's prefix names it: the same one again is a retry (Frontier.pop)


@pytest.fixture(scope="module")
def frontier():
    """One server for the module: hypothesis runs many examples, each leaves the frontier empty."""
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            filt = SetDupeFilter()
            filt.setup(client)
            yield Frontier(client, "w", filt, SHARDS)
        finally:
            server.stop()


def through(frontier: Frontier, request) -> tuple[str, bytes]:
    """Push a request to an empty frontier, pop it: (the stored entry, the entry the worker reads)."""
    frontier.client.flushdb()
    frontier.dupefilter.setup(frontier.client)
    stored = serializer.dumps(request, SPIDER)
    frontier.push([push_item(request, SPIDER, frontier.dupefilter, fingerprint(request))])
    [(token, entry)], dropped, _ = frontier.pop(1, f"t{next(POPS)}:", 0)
    assert dropped == 0
    assert frontier.complete([token]) == 1
    return stored, entry


label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
hosts = st.lists(label, min_size=1, max_size=3).map(lambda labels: ".".join([*labels, "org"]))
paths = st.text("abcXYZ019-._~/%!$&'()*+,;=:@", max_size=60).map(lambda p: "/" + p)
queries = st.one_of(st.just(""), st.text("a=1&b-~.%", max_size=20).map(lambda q: "?" + q))
ports = st.sampled_from(["", ":8080"])
schemes = st.sampled_from(["http", "https"])
urls = st.builds(lambda s, h, port, p, q: f"{s}://{h}{port}{p}{q}", schemes, hosts, ports, paths, queries)


@st.composite
def requests(draw):
    """Requests as the spider makes them (and a few that need the JSON form): a Referer of the same
    origin, another site or none; now and then another priority or a retry's meta."""
    url, depth = draw(urls), draw(st.integers(0, defaults.MAX_DEPTH))
    request = SPIDER.request(url, depth, priority=draw(st.sampled_from([None, None, None, 3, -depth - 1])))
    referer = draw(st.sampled_from(["none", "same", "other"]))
    if referer == "same":
        request.headers["Referer"] = request.url.split("?")[0].rsplit("/", 1)[0] + "/"
    elif referer == "other":
        request.headers["Referer"] = draw(urls)
    if draw(st.integers(0, 9)) == 0:
        request.meta["retry_times"] = 1
    return request


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests())
def test_a_request_comes_back_equal_and_the_common_one_compact(frontier, request):
    stored, entry = through(frontier, request)
    back = serializer.loads(entry, SPIDER)
    assert back.to_dict(spider=SPIDER) == request.to_dict(spider=SPIDER)
    common = request.priority == -request.meta["depth"] and "retry_times" not in request.meta
    assert stored[0] in ("s", "p", "u") if common else stored.startswith("{")
    if common and ":8080" not in request.url:  # the host is the queue's: not stored
        assert stored[0] in ("s", "p") and stored.split(" ")[1].startswith("/")


def test_a_link_within_a_site_is_stored_in_under_a_third_of_its_json(frontier):
    url = "https://www.example-site.com/blog/2024/05/title-of-an-article-xy"
    assert len(url) == 64
    request = SPIDER.request(url, 3)
    request.headers["Referer"] = "https://www.example-site.com/blog/"
    stored, entry = through(frontier, request)
    assert stored == "s3 /blog/2024/05/title-of-an-article-xy /blog/"
    assert entry == f"u3 {url} https://www.example-site.com/blog/".encode()
    assert len(serializer.dumps(SPIDER.request(url, 1), SPIDER)) == 39  # its JSON: 167 bytes


BAD = {
    "a garbage tag": "x1 /a",
    "no tag": "1 /a",
    "a depth that is not a number": "s1a /a",
    "a depth over the bound": f"s{defaults.MAX_DEPTH + 1} /a",
    "a depth of 10**400": "s1" + "0" * 400 + " /a",
    "no depth": "s /a",
    "a relative URL under the absolute tag": "u1 /a",
    "a javascript: URL": "u1 javascript:alert(1)",
    "a host-relative URL not starting with /": "s1 @evil.org/",
    "a non-http Referer": "s1 /a javascript:alert(1)",
    "a relative Referer under the absolute tag": "u1 http://ok.org/ /b",
    "a third field": "s1 /a /b /c",
    "two spaces": "s1  /a",
    "a tab": "s1 /a\t/b",
    "a newline": "s1 /a\n",
    "a NUL byte": "s1 /a\x00",
    "a non-ASCII byte": "s1 /\xe9",
    "an oversize entry": "s1 /" + "a" * defaults.MAX_ENTRY_BYTES,
    "an oversize URL": "u1 http://ok.org/" + "a" * defaults.MAX_URL_LENGTH,
}


def test_bad_compact_entries_are_dropped_and_counted_by_the_pop_script(frontier):
    client = frontier.client
    client.flushdb()
    entries = {entry.encode("latin-1"): i for i, entry in enumerate(BAD.values())}
    plant(client, "ok.org", {**entries, b"s0 /good": len(BAD)})
    pairs, dropped, _ = frontier.pop(len(BAD) + 1, "bad:", 0)
    assert [entry for _, entry in pairs] == [b"u0 https://ok.org/good"]
    assert dropped == len(BAD) and figures(client)["dropped"] == len(BAD)
    assert frontier.complete([token for token, _ in pairs]) == 1
    assert figures(client)["queued"] == 0 and figures(client)["leased"] == 0


@pytest.mark.parametrize(
    "entry",
    [
        *(e for e in BAD.values() if e.startswith("u")),
        "u1 https://ok.org/",  # fine by itself: bad below with the spider it is read for
        "s1 /a",  # the stored form: the pop script hands out only the u form
        "u01x https://ok.org/",
        "u1 https://ok.org/ https://ok.org/ https://ok.org/",
        b"u1 https://ok.org/\xff",
    ],
)
def test_bad_compact_entries_are_refused_by_the_worker_too(entry):
    class Other(BacklinksSpider):
        on_error = None  # no errback of that name: an entry naming it is not this spider's

    spider = Other() if entry == "u1 https://ok.org/" else SPIDER
    data = entry if isinstance(entry, bytes) else entry.encode("latin-1")
    with pytest.raises(serializer.BadEntry):
        serializer.loads(data, spider)


def test_a_redis_keeping_queues_in_a_costlier_encoding_is_told_how_to_fix_it(frontier):
    client = frontier.client
    assert encodings_advice(client) == ""  # the fixture's server has the README's encodings
    client.config_set("zset-max-listpack-value", 64)  # Redis' default
    try:
        advice = encodings_advice(client)
        assert "zset-max-listpack-value 64" in advice and "zset-max-listpack-value 256" in advice
        assert "zset-max-listpack-entries 128 " not in advice.split(":")[0]  # only what falls short
    finally:
        client.config_set("zset-max-listpack-value", REDIS_ENCODINGS["zset-max-listpack-value"])


def test_a_host_keeps_one_entry_in_its_buckets_hash_and_more_in_a_set_of_its_own(frontier):
    """Issue #20, 1 URL a host: a host's first entry costs a hash field, not a key; its second moves both
    to its sorted set, lowest depth first as before; a retried push of either counts once; a hash value
    that is not an entry is dropped and counted at pop like any bad entry."""
    client = frontier.client
    client.flushdb()
    frontier.dupefilter.setup(client)
    host, shard = "one.org", frontier.shard("one.org")
    one = defaults.bucket_key(shard, defaults.ONE_ENTRY, host)
    queue = defaults.shard_key(shard, defaults.HOST_QUEUE + host)

    def push(url: str, depth: int, dont_filter: bool = False) -> None:
        request = SPIDER.request(url, depth, dont_filter=dont_filter)
        frontier.push([push_item(request, SPIDER, frontier.dupefilter, fingerprint(request))])

    push("https://one.org/deep", 2)
    assert client.hget(one, host) == b"2 s2 /deep" and not client.exists(queue)
    push("https://one.org/deep", 2, dont_filter=True)  # the same entry again: no second one
    assert figures(client)["queued"] == 1 and figures(client)["hosts"] == 1
    push("https://one.org/", 0)
    assert not client.hexists(one, host) and client.zcard(queue) == 2
    assert figures(client)["queued"] == 2 and figures(client)["hosts"] == 1
    first, _, _ = frontier.pop(1, "one:1:", 0)
    second, _, _ = frontier.pop(1, "one:2:", 0)
    assert [e for _, e in first + second] == [b"u0 https://one.org/", b"u2 https://one.org/deep"]
    assert figures(client)["queued"] == 0 and figures(client)["hosts"] == 0
    assert frontier.complete([t for t, _ in first + second]) == 2

    plant(client, "bad.org", {})  # the ready set names it; its bucket's hash holds no entry
    client.hset(
        defaults.bucket_key(frontier.shard("bad.org"), defaults.ONE_ENTRY, "bad.org"),
        "bad.org",
        "not an entry",
    )
    client.incr(defaults.shard_key(frontier.shard("bad.org"), defaults.QUEUED))
    assert frontier.pop(1, "one:3:", 0)[:2] == ([], 1)
    assert figures(client)["queued"] == 0 and figures(client)["hosts"] == 0

    # a bucket deleted behind the scripts' back: the pop passes over it, and forgets it
    plant(client, "gone.org", {b"s0 /": 0})
    shard, bucket = frontier.shard("gone.org"), str(defaults.bucket_of("gone.org"))
    client.delete(defaults.bucket_key(shard, defaults.HOST_BUCKET, "gone.org"))
    assert frontier.pop(1, "one:4:", 0)[:2] == ([], 0)
    assert client.zscore(defaults.shard_key(shard, defaults.HOSTS), bucket) is None
