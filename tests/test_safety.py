"""Safe to run on a cloud machine: no fetching of internal addresses, no remote-control server, hostile
pages (huge, slow, compressed, deeply nested, link floods, traps) end without stalling the crawl."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FAST, run_cli
from hostileweb import Resource, Server, StubResolver, Web, html

from backlinkspider.addresses import PrivateAddressRefused, is_internal, refusal

TESTS = Path(__file__).resolve().parent


def crawl(proxy: Server, tmp_path: Path, seeds: list[str], *settings: str, no_proxy: str = ""):
    """``backlinks crawl`` through the hostile web's proxy; returns (exit code, stderr, exported edges)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    env.update(http_proxy=proxy.url, https_proxy=proxy.url, no_proxy=no_proxy)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    uri = f"sqlite:///{tmp_path / 'links.db'}"
    args = [a for s in settings for a in ("-s", s)]
    res = run_cli("crawl", *seeds, "--index", uri, *FAST, "-s", "LOG_LEVEL=INFO", *args, env=env)
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
