"""URL normalization and registered domains."""

from __future__ import annotations

import pytest

from backlinkspider.urls import BadURL, host_of, normalize, normalize_host, registered_domain, resolve


@pytest.mark.parametrize(
    "url, normal",
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("http://example.com:80/a/../b/./c", "http://example.com/b/c"),
        ("https://example.com:443/?b=2&a=1#frag", "https://example.com/?b=2&a=1"),
        ("http://Bücher.de/ü", "http://xn--bcher-kva.de/%C3%BC"),
        ("  http://example.com/x  ", "http://example.com/x"),
        ("http://example.com:8080", "http://example.com:8080/"),
    ],
)
def test_normalize(url, normal):
    assert normalize(url) == normal


@pytest.mark.parametrize(
    "bad", ["example.com", "ftp://example.com/", "mailto:x@y.z", "http://", "", "http://[::"]
)
def test_normalize_rejects_what_is_not_a_web_url(bad):
    with pytest.raises(BadURL):
        normalize(bad)


def test_resolve_returns_none_for_unfollowable_hrefs():
    assert resolve("http://a.org/x/", "y") == "http://a.org/x/y"
    assert resolve("http://a.org/", "javascript:x") is None
    assert resolve("http://a.org/", "http://[") is None


@pytest.mark.parametrize(
    "host, domain",
    [
        ("shop.greenleaf.co.uk", "greenleaf.co.uk"),
        ("greenleaf.co.uk", "greenleaf.co.uk"),
        ("alice.github.io", "alice.github.io"),  # the private section of the list
        ("x.y.blogspot.com", "y.blogspot.com"),
        ("www.example.com", "example.com"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
    ],
)
def test_registered_domain(host, domain):
    assert registered_domain(host) == domain


def test_hosts():
    assert host_of("http://user:pw@Example.com:8080/x") == "Example.com"
    assert host_of("http://[::1]:8080/x") == "[::1]"
    assert normalize_host("Bücher.DE") == "xn--bcher-kva.de"
    with pytest.raises(BadURL):
        normalize_host("a/b")
