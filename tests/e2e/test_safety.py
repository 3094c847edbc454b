"""Safe to run on a cloud machine: no fetching of internal addresses, no remote-control server, hostile
pages (huge, slow, compressed, deeply nested, link floods, traps) end without stalling the crawl."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from helpers import FAST, SUPPORT, run_cli
from hostileweb import ARCHIVE, CALENDAR, Resource, Server, StubResolver, TrapWeb, Web, gzip_bomb, html

from backlinkspider.crawl.resolver import PrivateAddressRefused, is_internal, refusal
from backlinkspider.crawl.spidermiddlewares.traps import RedisDepths, TrapGuard, url_shape


def crawl(
    proxy: Server,
    tmp_path: Path,
    seeds: list[str],
    *settings: str,
    no_proxy: str = "",
    options: tuple[str, ...] = (),
):
    """``backlinks crawl`` through the hostile web's proxy; returns (exit code, stderr, exported edges)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    env.update(http_proxy=proxy.url, https_proxy=proxy.url, no_proxy=no_proxy)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SUPPORT), env.get("PYTHONPATH")]))
    uri = f"sqlite:///{tmp_path / 'links.db'}"
    args = [a for s in settings for a in ("-s", s)]
    res = run_cli("crawl", *seeds, *options, "--index", uri, *FAST, "-s", "LOG_LEVEL=INFO", *args, env=env)
    out = run_cli("export", "--index", uri)
    edges = [json.loads(line) for line in out.stdout.splitlines()]
    return res.returncode, res.stderr, edges


# --- internal addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "[::1]",
        "169.254.169.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "[fc00::1]",
        "[fd00:ec2::254]",
        "[fe80::1]",
        "0.0.0.0",
        "[::]",
        "100.64.0.1",
        "100.100.100.200",
        "255.255.255.255",
        "224.0.0.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:a9fe:a9fe]",
        "[64:ff9b::a00:1]",
        "[2002:7f00:1::]",
        "[fec0::1]",
    ],
)
def test_internal_addresses_are_refused(address):
    assert is_internal(address)
    assert refusal(address) == "a private address"


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "[2606:4700::1111]", "[::ffff:8.8.8.8]"])
def test_public_addresses_pass(address):
    assert not is_internal(address)
    assert refusal(address) is None


def test_localhost_names_are_refused_and_other_names_left_to_the_resolver():
    assert refusal("localhost") == refusal("api.localhost") == refusal("LOCALHOST.") == "a localhost name"
    assert refusal("www.example.com") is None
    assert refusal("localhost.example.com") is None


def outcome(d):
    results = []
    d.addBoth(results.append)
    (result,) = results
    return result


def test_resolver_refuses_names_that_resolve_to_internal_addresses(monkeypatch):
    """The real resolver class (Scrapy's cache and our check) over a stub table instead of DNS."""
    monkeypatch.setattr(StubResolver, "TABLE", {**StubResolver.TABLE, "www.example.com": "93.184.215.14"})
    from twisted.internet import reactor  # not run: the stub answers at once

    resolver = StubResolver(reactor, cache_size=100, timeout=5)
    assert outcome(resolver.getHostByName("www.example.com")) == "93.184.215.14"
    for name, address in [("intranet.example", "127.0.0.1"), ("metadata.example", "169.254.169.254")]:
        failure = outcome(resolver.getHostByName(name))
        assert failure.check(PrivateAddressRefused), failure
        assert resolver.refused[name] == address
        # A second lookup (from Scrapy's DNS cache now) is refused too.
        assert outcome(resolver.getHostByName(name)).check(PrivateAddressRefused)
    allowed = StubResolver(reactor, cache_size=0, timeout=5, allow_private=True)
    assert outcome(allowed.getHostByName("intranet.example")) == "127.0.0.1"


@pytest.fixture
def secret_server():
    """A real service on loopback, the kind a crawler must never reach: it records every request."""
    web = Web({})
    with Server(web, proxy=False) as server:
        port = server.port
        host = f"127.0.0.1:{port}"
        web.resources[f"{host}/secret"] = Resource(body=html("http://leak.example/from-secret"))
        web.resources[f"{host}/robots.txt"] = Resource(404)
        yield server


def internal_links_web(port: int) -> Web:
    return Web(
        {
            "www.public.example/": Resource(
                body=html(
                    f"http://127.0.0.1:{port}/secret",
                    f"http://localhost:{port}/secret?l",
                    f"http://intranet.example:{port}/secret?dns",
                    "http://www.public.example/moved",
                    "http://www.public.example/fine",
                )
            ),
            "www.public.example/moved": Resource(
                301, headers={"Location": f"http://127.0.0.1:{port}/secret?redirect"}
            ),
            "www.public.example/fine": Resource(body=html("http://other.example/")),
        }
    )


@pytest.mark.parametrize("allow", [False, True])
def test_links_to_internal_addresses_are_indexed_but_not_fetched(tmp_path, secret_server, allow):
    """A public page links to a loopback service by IP, by localhost, by a name that resolves there (the
    stub resolver), and redirects there. By default none of it is fetched, and every link is indexed;
    with BACKLINKS_ALLOW_PRIVATE_ADDRESSES the same crawl does fetch it (so the test can fail)."""
    port = secret_server.port
    with Server(internal_links_web(port)) as proxy:
        code, stderr, edges = crawl(
            proxy,
            tmp_path,
            ["http://www.public.example/"],
            "TWISTED_DNS_RESOLVER=hostileweb.StubResolver",
            f"BACKLINKS_ALLOW_PRIVATE_ADDRESSES={allow}",
            no_proxy="127.0.0.1,localhost,intranet.example",
        )
    assert code == 0, stderr
    targets = {(e["source_url"], e["target_url"]) for e in edges}
    home = "http://www.public.example/"
    assert {
        (home, f"http://127.0.0.1:{port}/secret"),
        (home, f"http://localhost:{port}/secret?l"),
        (home, f"http://intranet.example:{port}/secret?dns"),
        ("http://www.public.example/moved", f"http://127.0.0.1:{port}/secret?redirect"),
        ("http://www.public.example/fine", "http://other.example/"),
    } <= targets
    secrets = {p for p in secret_server.web.fetched() if "/secret" in p}
    if allow:
        assert len(secrets) == 4  # by IP, localhost, the resolved name and the redirect
        assert any("leak.example" in e["target_url"] for e in edges)
    else:
        assert secret_server.web.log == []
        assert not any("leak.example" in e["target_url"] for e in edges)
        # Counted, and logged once per host (127.0.0.1 is linked, redirected to, and has a robots.txt).
        assert "'backlinks/private_address_refused':" in stderr
        assert stderr.count("not fetching from 127.0.0.1: a private address") == 1
        assert stderr.count("not fetching from localhost: a localhost name") == 1
        assert stderr.count("not fetching from intranet.example: resolves to 127.0.0.1") == 1
        assert "Traceback" not in stderr


def test_remote_control_and_telnet_are_off(tmp_path):
    """Scrapy 2.19 starts an HTTP server that runs Python sent to it (it logs "Remote control HTTP server
    listening on port ..." and lists the RemoteControl extension) unless REMOTE_CONTROL_ENABLED is off."""
    with Server(Web({"www.public.example/": Resource(body=html("http://other.example/"))})) as proxy:
        code, stderr, edges = crawl(proxy, tmp_path, ["http://www.public.example/"])
    assert code == 0 and len(edges) == 1, stderr
    assert "Enabled extensions:" in stderr and "scrapy.extensions.corestats.CoreStats" in stderr
    assert "RemoteControl" not in stderr and "Remote control" not in stderr
    assert "TelnetConsole" not in stderr and "Telnet console listening" not in stderr


# --- pages that stall or flood the crawler -------------------------------------------------------------


def stall_web() -> Web:
    """A page of 400k nested <div> (minutes of parsing) beside a chain of 20 normal pages, each served
    in 0.25 s, that keep the crawler busy while the nested page is being extracted."""
    deep = b"<html><body>" + b"<div>" * 400_000 + b'<a href="http://from-deep.example/">x</a></body></html>'
    web = Web({"www.stall.example/": Resource(body=html("/deep", "/chain/1"))})
    web.resources["www.stall.example/deep"] = Resource(body=deep)
    for k in range(1, 21):
        web.resources[f"www.stall.example/chain/{k}"] = Resource(
            body=html(f"/chain/{k + 1}", f"http://ext{k}.example/"), delay=0.25
        )
    return web


def test_a_page_that_stalls_the_parser_is_abandoned_and_the_crawl_goes_on(tmp_path):
    """At the default BACKLINKS_EXTRACT_TIMEOUT the nested page is abandoned (counted, logged, not
    indexed), requests go on while it is being parsed, and every other page is indexed."""
    with Server(stall_web()) as proxy:
        code, stderr, edges = crawl(proxy, tmp_path, ["http://www.stall.example/"])
        log = list(proxy.web.log)
    assert code == 0, stderr
    assert "abandoned http://www.stall.example/deep: extraction took more than 5 s" in stderr
    assert "'backlinks/extract_timeouts': 1," in stderr
    assert "Traceback" not in stderr
    targets = {e["target_url"] for e in edges}
    assert {f"http://ext{k}.example/" for k in range(1, 21)} <= targets
    assert "http://from-deep.example/" not in targets
    (deep_at,) = [t for t, _, path in log if path == "/deep"]
    during = [path for t, _, path in log if deep_at + 1 < t < deep_at + 4]
    assert len(during) >= 4, log  # ~12 chain pages are requested while the parse runs


def flood_web() -> Web:
    flood = html(*(f"http://sink.example/l/{i}" for i in range(25_000)))
    long_url = "http://sink.example/" + "a" * (1 << 20)
    small = html(*(f"http://sink.example/s/{i}" for i in range(120)))
    return Web(
        {
            "www.flood.example/": Resource(body=flood),
            "www.flood.example/small": Resource(body=small),
            "www.long.example/": Resource(
                body=html(long_url, "http://sink.example/" + "b" * 3000, "http://ok.example/")
            ),
        }
    )


def test_links_per_page_are_capped_and_long_urls_dropped(tmp_path):
    """25k distinct links on a page: the first 10,000 are indexed, the rest only counted. URLs longer
    than BACKLINKS_MAX_URL_LENGTH (a 1 MB one among them) are neither stored nor followed. (Seeds only:
    following 10,000 links would be a slow test of the same list.)"""
    with Server(flood_web()) as proxy:
        code, stderr, edges = crawl(
            proxy,
            tmp_path,
            ["http://www.flood.example/", "http://www.long.example/"],
            options=("--max-depth", "0"),
        )
    assert code == 0, stderr
    flood = [e["target_url"] for e in edges if e["source_url"] == "http://www.flood.example/"]
    assert sorted(flood) == sorted(f"http://sink.example/l/{i}" for i in range(10_000))
    assert "'backlinks/links_over_cap': 15000," in stderr
    long_page = {e["target_url"] for e in edges if e["source_url"] == "http://www.long.example/"}
    assert long_page == {"http://ok.example/"}
    assert "'backlinks/long_urls': 2," in stderr


def test_only_the_links_within_the_cap_are_followed(tmp_path):
    """The same rule seen from the requests: of 120 links with a cap of 50, the first 50 are fetched; and
    a long URL, over BACKLINKS_MAX_URL_LENGTH, never is."""
    with Server(flood_web()) as proxy:
        code, stderr, edges = crawl(
            proxy,
            tmp_path,
            ["http://www.flood.example/small", "http://www.long.example/"],
            "BACKLINKS_MAX_LINKS_PER_PAGE=50",
            options=("--max-depth", "1"),
        )
        fetched = proxy.web.fetched()
    assert code == 0, stderr
    sink = {url for url in fetched if url.startswith("sink.example/") and url != "sink.example/robots.txt"}
    assert sink == {f"sink.example/s/{i}" for i in range(50)}
    assert len(edges) == 51 and "'backlinks/links_over_cap': 70," in stderr


def socket_buffers() -> int:
    """The most a loopback connection's two kernel buffers can hold (sender's and receiver's maxima)."""
    maxima = [int(Path(f"/proc/sys/net/ipv4/tcp_{k}").read_text().split()[2]) for k in ("rmem", "wmem")]
    return sum(maxima)


UNANNOUNCED = (10 << 20) + socket_buffers() + (16 << 20)  # more than a reader stopping at 10 MiB lets through


def pathological_web() -> Web:
    big = html("http://leak-big.example/") + b" " * (20 << 20)
    return Web(
        {
            "www.fine.example/": Resource(body=html("http://ok.example/")),
            # 20 MB announced by Content-Length, and a page only the connection's end delimits, longer
            # than 10 MiB and what the sockets' buffers hold together.
            "www.big.example/": Resource(body=big),
            "www.big.example/unannounced": Resource(
                body=html("http://leak-big.example/") + b" " * UNANNOUNCED, send_length=False
            ),
            # 100 MB of zeros in 100 KB of gzip.
            "www.bomb.example/": Resource(
                body=gzip_bomb(100 << 20),
                headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
            ),
            # One byte a second.
            "www.slow.example/": Resource(body=html("http://leak-slow.example/"), bytes_per_second=1),
        }
    )


def test_huge_compressed_and_slow_pages_end_within_the_download_limits(tmp_path):
    """At the default DOWNLOAD_MAXSIZE (10 MiB) the big pages are cut off (the unannounced one after
    10 MiB) and the gzip bomb is not inflated past it; the 1 byte/s page ends at DOWNLOAD_TIMEOUT.
    Test-only override: DOWNLOAD_TIMEOUT=2 instead of 30, else this one test takes 90 s (3 tries); what is
    tested is that the timeout ends the page, whatever its value. The crawl goes on and indexes the rest."""
    seeds = [f"http://www.{name}.example/" for name in ("fine", "big", "bomb", "slow")]
    with Server(pathological_web()) as proxy:
        code, stderr, edges = crawl(
            proxy, tmp_path, [*seeds, "http://www.big.example/unannounced"], "DOWNLOAD_TIMEOUT=2"
        )
        sent = dict(proxy.web.sent)
    assert code == 0, stderr
    assert {e["target_url"] for e in edges} == {"http://ok.example/"}
    assert "Traceback" not in stderr
    # The crawler hangs up after 10 MiB: the server sent no more than that and what the buffers held.
    assert sent["www.big.example/unannounced"] <= (10 << 20) + socket_buffers() + (1 << 20)
    assert "larger than download max size (10485760) in request <GET http://www.big.example/>" in stderr
    assert "larger than download max size (10485760) in request <GET http://www.big.example/unann" in stderr
    assert "<200 http://www.bomb.example/> because its body" in stderr
    assert "exceeded DOWNLOAD_MAXSIZE (10485760 B) during decompression" in stderr
    assert "Getting http://www.slow.example/ took longer than 2.0 seconds" in stderr
    assert sent.get("www.slow.example/", 0) < 30


# --- traps ----------------------------------------------------------------------------------------------


def test_url_shapes_replace_tokens_holding_digits():
    assert url_shape("http://a.example/cal/2026-11") == "/cal/#-#"
    assert url_shape("http://a.example/archive/2024-03/msg00042.html") == "/archive/#-#/#.html"
    assert url_shape("http://a.example/s?page=12&sort=new") == "/s?page=#&sort=new"
    assert url_shape("http://a.example/about/team") is None
    assert url_shape("http://a.example/") is None


def test_a_calendar_trap_ends_early_and_a_numbered_archive_loses_nothing(tmp_path):
    """At the default settings (host budget 5,000 pages): the calendar stops after BACKLINKS_TRAP_HOPS
    (100) pages, far below 500, while all 1,080 messages of the archive, one URL pattern, are fetched."""
    web = TrapWeb()
    with Server(web) as proxy:
        code, stderr, _ = crawl(proxy, tmp_path, ["http://www.trap-hub.example/"])
        fetched = proxy.web.fetched()
    assert code == 0, stderr
    calendar = [url for url in fetched if url.startswith(f"{CALENDAR}/cal/")]
    assert 90 <= len(calendar) <= 500
    archive = {url.removeprefix(ARCHIVE) for url in fetched if url.startswith(f"{ARCHIVE}/archive/")}
    assert set(web.messages) <= archive
    assert len(archive) == len(web.messages) + 1 + 3 + 36  # and the index, years and months
    assert "trap on events.example: not following /cal/#-# more than 100 hops deeper" in stderr
    assert "'backlinks/trap_hops': 1," in stderr


def test_the_shape_window_is_shared_by_the_workers_of_a_cluster(redis_server):
    """Two workers' guards on one Redis: the depth one saw first bounds what the other follows."""
    import redis

    first = TrapGuard(3, 100, RedisDepths(redis.Redis.from_url(redis_server.url), 4))
    second = TrapGuard(3, 100, RedisDepths(redis.Redis.from_url(redis_server.url), 4))
    alone = TrapGuard(3, 100)  # a worker without the cluster's memory
    assert asyncio.run(first.allowed([("http://events.example/cal/2026-02", 2)])) == [True]
    deep = [("http://events.example/cal/2036-05", 150), ("http://events.example/cal/2034-08", 102)]
    assert asyncio.run(second.allowed(deep)) == [False, True]
    assert asyncio.run(alone.allowed(deep)) == [True, True]
    # Another host, another shape: its own window.
    assert asyncio.run(second.allowed([("http://other.example/cal/2040-01", 150)])) == [True]
    assert asyncio.run(second.allowed([("http://events.example/tag/a/tag/b/tag/", 3)])) == [
        False
    ]  # repeated segment
