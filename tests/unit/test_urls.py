"""URL normalization and registered domains."""

from __future__ import annotations

import pytest
from helpers import run_cli

from backlinkspider.standards.urls import (
    BadURL,
    host_of,
    normalize,
    normalize_host,
    registered_domain,
    resolve,
    use_suffix_list,
)


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
        ("[::1]", "[::1]"),
        ("localhost", "localhost"),
        # The list's implicit "*" rule: a TLD it lacks is a public suffix, so names under it are sites.
        ("b.example.example", "example.example"),
        ("api.corp.internal", "corp.internal"),
        ("a.b.test", "b.test"),
        # In the shipped 2026-08-19 list, not in tldextract's 2025-04-07 snapshot: *.uberspace.de gave way
        # to uber.space.
        ("blog.uberspace.de", "uberspace.de"),
        ("alice.uber.space", "alice.uber.space"),
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


@pytest.fixture
def shipped_list_after(monkeypatch):
    """Back to the shipped list after the test (before monkeypatch restores the environment)."""
    yield
    monkeypatch.delenv("BACKLINKS_PSL_FILE", raising=False)
    use_suffix_list()


def test_a_newer_suffix_list_file_can_be_named(tmp_path, monkeypatch, shipped_list_after):
    newer = tmp_path / "public_suffix_list.dat"
    newer.write_text("// a list from the future\ncom\nexample\nhosting.example\n", encoding="utf-8")
    assert registered_domain("a.b.hosting.example") == "hosting.example"
    use_suffix_list(newer)
    assert registered_domain("a.b.hosting.example") == "b.hosting.example"
    use_suffix_list()
    assert registered_domain("a.b.hosting.example") == "hosting.example"
    # The environment variable names it for every command (queries compute sites too).
    monkeypatch.setenv("BACKLINKS_PSL_FILE", str(newer))
    use_suffix_list()
    assert registered_domain("a.b.hosting.example") == "b.hosting.example"


def test_a_bad_suffix_list_file_is_refused(tmp_path, shipped_list_after):
    with pytest.raises(OSError):
        use_suffix_list(tmp_path / "missing.dat")
    (tmp_path / "page.html").write_text("<html>503 Service Unavailable</html>")
    with pytest.raises(ValueError, match="not a public suffix list"):
        use_suffix_list(tmp_path / "page.html")
    assert registered_domain("x.co.uk") == "x.co.uk"  # the list in use is unchanged


def test_crawl_with_a_missing_suffix_list_file_is_a_one_line_error(tmp_path):
    index = f"sqlite:///{tmp_path / 'links.db'}"
    res = run_cli(
        "crawl", "http://a.example/", "--index", index, "-s", f"BACKLINKS_PSL_FILE={tmp_path}/nope.dat"
    )
    assert res.returncode == 2 and "BACKLINKS_PSL_FILE" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "links.db").exists()


def test_queries_are_encoded_as_the_parser_sees_them():
    page = "http://a.org/p"
    assert resolve(page, "?q=é", "windows-1252") == "http://a.org/p?q=%E9"
    assert resolve(page, " \t/s?q=\té\n ", "windows-1252") == "http://a.org/s?q=%E9"  # trimmed, tabs dropped
    assert resolve(page, "/s#?q=é", "windows-1252") == "http://a.org/s"  # a '?' in the fragment
    assert resolve(page, "/s?a=é#b=é", "windows-1252") == "http://a.org/s?a=%E9"
    assert resolve(page, "/s?q=é", "utf-8") == "http://a.org/s?q=%C3%A9"
