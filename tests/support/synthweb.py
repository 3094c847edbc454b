"""A synthetic web with a known link graph, served on 127.0.0.1 as an HTTP forward proxy.

Crawlers reach it with ``http_proxy=http://127.0.0.1:PORT``, so URLs keep real host names
(``shop.greenleaf.co.uk``, ``alice.github.io``, an IDN host) and the crawler's URL handling, robots.txt
and per-host logic run exactly as on the web.

The ground truth is written down by the generator as it writes each link (the canonical target it meant,
the anchor text it put there, the rel flags it chose, the registered domains it knows each host has): it
never runs the code under test. Hand-made pages cover each extraction rule; seeded random pages add bulk
and the URL spellings that must collapse to one (upper-case hosts, ``:80``, dot segments, fragments,
relative and protocol-relative hrefs, padding whitespace).

Every served page is reachable by plain links: the seed (the hub) links to each site's home page, and
each home page to every page of its site.

As hostile as the real web when asked: ``latency`` delays every answer (a slow web, where more requests
in flight go faster); ``faults`` adds a host whose pages answer 503 every time or hang for ``hang``
seconds without a byte (longer than the crawler's download timeout), beside one page that works.
"""

from __future__ import annotations

import contextlib
import html
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HUB = "http://www.hub-directory.com/"
IDN_HOST = "xn--bcher-caf-j4a4r.de"  # bücher-café.de, as its pages are served
CALENDAR_HOST = "calendar.trapville.org"
FAULT_HOST = "www.flaky-hosting.net"
WORDS = [
    "garden",
    "seeds",
    "compost",
    "tomato",
    "review",
    "guide",
    "best",
    "cheap",
    "organic",
    "soil",
    "rose",
    "winter",
    "news",
    "blog",
    "price",
    "shop",
    "tools",
    "recipe",
    "climate",
    "local",
    "market",
    "fresh",
    "café",
    "naïve",
    "crème",
    "brûlée",
    "élan",
    "façade",
]


@dataclass(frozen=True)
class Edge:
    source_url: str
    target_url: str
    link_type: str
    anchor_text: str
    nofollow: bool
    ugc: bool
    sponsored: bool
    source_domain: str
    target_domain: str

    @property
    def external(self) -> bool:
        return self.source_domain != self.target_domain


@dataclass
class Resource:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Page:
    """A page being written: its HTML body parts and the edges it will yield."""

    url: str
    domain: str
    nofollow: bool = False
    parts: list[str] = field(default_factory=list)
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)

    def link(
        self,
        href: str,
        target: str | None,
        target_domain: str = "",
        anchor_html: str = "",
        anchor: str | None = None,
        rel: str = "",
        link_type: str = "text",
        tag: str = "a",
    ) -> None:
        """Write a link; ``target`` is the canonical URL it must resolve to (None: not a link)."""
        rel_attr = f' rel="{html.escape(rel)}"' if rel else ""
        if tag == "a":
            self.parts.append(f'<a href="{html.escape(href)}"{rel_attr}>{anchor_html}</a>\n')
        else:  # <area>: anchor_html is its alt
            self.parts.append(
                f'<area shape="rect" coords="0,0,9,9" href="{html.escape(href)}"'
                f' alt="{html.escape(anchor_html)}"{rel_attr}>\n'
            )
        if target is not None:
            tokens = rel.lower().split()
            self.expect(
                target,
                target_domain,
                link_type,
                anchor if anchor is not None else anchor_html,
                "nofollow" in tokens,
                "ugc" in tokens,
                "sponsored" in tokens,
            )

    def expect(
        self,
        target: str,
        target_domain: str,
        link_type: str,
        anchor: str = "",
        nofollow: bool = False,
        ugc: bool = False,
        sponsored: bool = False,
    ) -> None:
        key = (target, link_type)
        if key not in self.edges:  # the first occurrence wins
            self.edges[key] = Edge(
                self.url,
                target,
                link_type,
                anchor,
                nofollow or self.nofollow,
                ugc,
                sponsored,
                self.domain,
                target_domain,
            )


class SyntheticWeb:
    """Generate the web for ``seed``; ``bulk_sites`` x ``pages_per_site`` random pages beside the
    hand-made ones."""

    def __init__(
        self,
        seed: int = 7,
        bulk_sites: int = 24,
        pages_per_site: int = 10,
        latency: float = 0.0,
        faults: bool = False,
        hang: float = 4.0,
    ) -> None:
        self.rng = random.Random(seed)
        self.latency = latency  # seconds every answer waits
        self.hang = hang  # seconds a hanging page waits before answering
        self.failing: set[str] = set()  # "host/path" of pages that always answer 503
        self.hanging: set[str] = set()  # "host/path" of pages that answer only after ``hang`` seconds
        self.resources: dict[str, Resource] = {}  # "host/path?query" -> what is served
        self.robots: dict[str, str] = {}
        self.domains: dict[str, str] = {}  # host -> registered domain, as the generator knows it
        self.edges: list[Edge] = []  # every edge of every page the crawler parses
        self.site_pages: dict[str, list[str]] = {}  # host -> URLs listed on its home page
        self.homes: dict[str, _Page] = {}  # hand-made home pages, completed by _homes()
        self.log: list[tuple[float, str, str, str]] = []  # (time, host, path, user agent) of each request
        self.log_lock = threading.Lock()
        self.aborted: list[str] = []  # "host/path" of responses the client stopped reading
        self._bulk(bulk_sites, pages_per_site)
        self._special()
        if faults:
            self._faults()
        self._homes()

    # --- ground truth -------------------------------------------------------------------------------

    def expected(self, keep_internal: bool = False, calendar_pages: int = 0) -> set[Edge]:
        """The edges a correct crawl indexes; ``calendar_pages``: how many trap pages its budget allows."""
        edges = set(self.edges)
        for month in range(1, calendar_pages + 1):
            edges |= set(self._calendar_page(month)[1])
        return {e for e in edges if keep_internal or e.external}

    def mutate(self) -> None:
        """The web some time later: on one page a link is removed and one added; another page is gone
        (404). ``expected()`` then gives the edges a re-crawl finds live."""
        changed, gone = "http://shop.greenleaf.co.uk/products", "http://blog.techfeed.net/files"
        self.edges = [e for e in self.edges if e.source_url not in (changed, gone)]
        p = self._page(changed)
        p.link("http://greenleaf.co.uk/about", "http://greenleaf.co.uk/about", "greenleaf.co.uk", "About us")
        p.link(
            "http://bob.github.io/new-partner",
            "http://bob.github.io/new-partner",
            "bob.github.io",
            "Our new partner",
        )
        self._serve(p, listed=False)
        self.resources[gone.split("://", 1)[1]] = Resource(404, b"<html><body>Gone</body></html>")

    # --- serving -------------------------------------------------------------------------------------

    def lookup(self, host: str, path: str) -> Resource:
        if host + path in self.failing:
            return Resource(
                503, b"<html><body>Service unavailable</body></html>", headers={"Retry-After": "1"}
            )
        if path == "/robots.txt":
            if host in self.robots:
                return Resource(200, self.robots[host].encode(), "text/plain")
            return Resource(404, b"no robots here", "text/plain")
        if host == CALENDAR_HOST:
            m = re.fullmatch(r"/cal/(\d+)", path)
            if m and int(m.group(1)) >= 1:
                return Resource(200, self._calendar_page(int(m.group(1)))[0].encode())
        res = self.resources.get(host + path)
        return res or Resource(404, b"<html><body><a href='http://not-found.example/'>x</a></body></html>")

    def reset_log(self) -> None:
        with self.log_lock:
            self.log.clear()
            self.aborted.clear()

    def requests_per_url(self) -> Counter[str]:
        return Counter(f"{host}{path}" for _, host, path, _ in self.log)

    # --- generation ----------------------------------------------------------------------------------

    def _site(self, host: str, domain: str) -> None:
        self.domains[host] = domain
        self.site_pages.setdefault(host, [])

    def _page(self, url: str, nofollow: bool = False) -> _Page:
        host = url.split("/")[2]
        return _Page(url, self.domains[host], nofollow)

    def _serve(
        self,
        page: _Page,
        head: str = "",
        status: int = 200,
        headers: dict | None = None,
        charset: str = "utf-8",
        listed: bool = True,
        parsed: bool = True,
    ) -> None:
        body = (
            f"<!DOCTYPE html>\n<html><head><title>{html.escape(page.url)}</title>{head}</head>\n"
            f"<body>\n{''.join(page.parts)}</body></html>\n"
        )
        key = page.url.split("://", 1)[1]
        self.resources[key] = Resource(
            status, body.encode(charset, "xmlcharrefreplace"), f"text/html; charset={charset}", headers or {}
        )
        if listed:
            self.site_pages[page.url.split("/")[2]].append(page.url)
        if parsed:
            self.edges.extend(page.edges.values())

    def _anchor(self) -> tuple[str, str]:
        """Random anchor markup and the text content a browser gives it."""
        words = self.rng.sample(WORDS, self.rng.randint(1, 4))
        style = self.rng.random()
        if style < 0.2:
            markup = f"  <b>{html.escape(words[0])}</b>\n\t" + " ".join(map(html.escape, words[1:]))
        elif style < 0.3:
            markup = html.escape(" & ".join(words))
            return markup, " & ".join(words)
        else:
            markup = "   ".join(map(html.escape, words))
        return markup, " ".join(words)

    def _spell(self, target: str, source: str) -> str:
        """Another way to write ``target`` in a page at ``source`` that resolves to the same URL."""
        _scheme, _, host, path = target.split("/", 3)
        path = "/" + path
        same_host = source.split("/")[2] == host
        choice = self.rng.randrange(9)
        if choice == 1:
            return f"http://{host.upper()}{path}"
        if choice == 2:
            return f"http://{host}:80{path}"
        if choice == 3:
            return f"{target}#section-{self.rng.randint(1, 9)}"
        if choice == 4:
            return f"//{host}{path}"
        if choice == 5:
            return f"  {target}\n"
        if choice == 6 and path.startswith("/p/"):
            return f"http://{host}/p/x/../{path[3:]}"
        if choice == 7 and same_host:
            return path
        if choice == 8 and same_host and path.startswith("/p/") and source.split("/", 3)[3].startswith("p/"):
            return path[3:]  # relative to /p/
        return target

    def _bulk(self, sites: int, pages: int) -> None:
        kinds = [
            ("www.site{i}.com", "site{i}.com"),
            ("shop.brand{i}.co.uk", "brand{i}.co.uk"),
            ("blog{i}.github.io", "blog{i}.github.io"),
            ("news{i}.net", "news{i}.net"),
        ]
        hosts = []
        for i in range(sites):
            host, domain = (p.format(i=i) for p in kinds[i % len(kinds)])
            self._site(host, domain)
            hosts.append(host)
        urls = {h: [f"http://{h}/p/{j}" for j in range(pages)] for h in hosts}
        offweb = [
            ("http://twitter.com/share", "twitter.com"),
            ("http://www.facebook.com/groups/gardeners", "facebook.com"),
            ("http://a.b.c.blogspot.com/post?id=3&b=2&a=1", "c.blogspot.com"),
        ]
        for host in hosts:
            for url in urls[host]:
                page = self._page(url)
                for _ in range(self.rng.randint(3, 9)):
                    r = self.rng.random()
                    if r < 0.05:
                        target, tdomain = self.rng.choice(offweb)
                    else:
                        th = host if r < 0.35 else self.rng.choice(hosts)
                        target, tdomain = self.rng.choice(urls[th]), self.domains[th]
                    rel = self.rng.choice(
                        [
                            "",
                            "",
                            "",
                            "nofollow",
                            "NoFollow ugc",
                            "sponsored",
                            "noopener",
                            "ugc",
                            "sponsored nofollow",
                        ]
                    )
                    href = self._spell(target, url)
                    if self.rng.random() < 0.15:
                        alt = self.rng.choice(["Logo", "", "  a  photo  "])
                        page.link(
                            href,
                            target,
                            tdomain,
                            f'<img src="/i.png" alt="{alt}">',
                            anchor=" ".join(alt.split()),
                            rel=rel,
                            link_type="image",
                        )
                    else:
                        markup, text = self._anchor()
                        page.link(href, target, tdomain, markup, anchor=text, rel=rel)
                self._serve(page)

    def _homes(self) -> None:
        """The hub links to every site's home; each home to every page of its site."""
        hub = self._page(HUB)
        for host in sorted(self.site_pages):
            if host in ("www.hub-directory.com", CALENDAR_HOST):
                continue
            home = f"http://{host}/"
            hub.link(home, home, self.domains[host], f"Home of {host}")
            page = self.homes.get(host) or self._page(home)
            for url in self.site_pages[host]:
                page.link(url, url, self.domains[host], "page")
            self._serve(page, listed=False)
        hub.link(
            f"http://{CALENDAR_HOST}/cal/1",
            f"http://{CALENDAR_HOST}/cal/1",
            "trapville.org",
            "Events calendar",
        )
        self._serve(hub, listed=False)

    def _faults(self) -> None:
        """A host whose pages fail: three always answer 503, two hang; one works and links out."""
        self._site(FAULT_HOST, "flaky-hosting.net")
        for kind, count, bucket in (("busy", 3, self.failing), ("hang", 2, self.hanging)):
            for i in range(count):
                url = f"http://{FAULT_HOST}/{kind}/{i}"
                bucket.add(url.split("://", 1)[1])
                self.site_pages[FAULT_HOST].append(url)
        p = self._page(f"http://{FAULT_HOST}/ok")
        p.link("http://bob.github.io/", "http://bob.github.io/", "bob.github.io", "Bob, who hosts with us")
        self._serve(p)

    def failing_urls(self) -> set[str]:
        """URLs (as the crawler spells them) that never give a page: every fetch fails."""
        return {f"http://{key}" for key in self.failing | self.hanging}

    def _calendar_page(self, month: int) -> tuple[str, list[Edge]]:
        """An endless calendar: every month links to the next one."""
        page = self._page(f"http://{CALENDAR_HOST}/cal/{month}")
        page.link(f"/cal/{month + 1}", f"http://{CALENDAR_HOST}/cal/{month + 1}", "trapville.org", "next")
        if month > 1:
            page.link(f"{month - 1}", f"http://{CALENDAR_HOST}/cal/{month - 1}", "trapville.org", "prev")
        body = f"<html><body>{''.join(page.parts)}</body></html>"
        return body, list(page.edges.values())

    def _special(self) -> None:
        """Hand-made pages, one per extraction rule."""
        site = self._site
        site("www.hub-directory.com", "hub-directory.com")
        site("greenleaf.co.uk", "greenleaf.co.uk")
        site("shop.greenleaf.co.uk", "greenleaf.co.uk")
        site("www.blueleaf.co.uk", "blueleaf.co.uk")
        site("alice.github.io", "alice.github.io")
        site("bob.github.io", "bob.github.io")
        site(IDN_HOST, IDN_HOST)
        site("news.example-times.com", "example-times.com")
        site("blog.techfeed.net", "techfeed.net")
        site(CALENDAR_HOST, "trapville.org")
        self.domains.update({"docs.blueleaf.co.uk": "blueleaf.co.uk", "twitter.com": "twitter.com"})

        # co.uk: a sub-domain is the same site, another name under co.uk is not.
        p = self._page("http://shop.greenleaf.co.uk/products")
        p.link("http://greenleaf.co.uk/about", "http://greenleaf.co.uk/about", "greenleaf.co.uk", "About us")
        p.link(
            "HTTP://WWW.BlueLeaf.CO.UK:80/partners?b=2&a=1#top",
            "http://www.blueleaf.co.uk/partners?b=2&a=1",
            "blueleaf.co.uk",
            "Partner <em>shop</em>",
            anchor="Partner shop",
        )
        self._serve(p)

        # github.io is a public suffix (private section): alice and bob are two sites.
        p = self._page("http://alice.github.io/")
        p.link("http://bob.github.io/", "http://bob.github.io/", "bob.github.io", "Bob's blog")
        p.link("/about", "http://alice.github.io/about", "alice.github.io", "About me")
        self.homes["alice.github.io"] = p
        self.site_pages["alice.github.io"].append("http://alice.github.io/landing")
        self.resources["alice.github.io/landing"] = Resource(200, b"<html><body>Welcome</body></html>")

        # <base>: the first one counts; relative and protocol-relative hrefs resolve against it.
        p = self._page("http://greenleaf.co.uk/base-test")
        head = '<base href="http://www.blueleaf.co.uk/dir/sub/"><base href="http://wrong.example/">'
        p.link("page.html", "http://www.blueleaf.co.uk/dir/sub/page.html", "blueleaf.co.uk", "Relative")
        p.link("../up?q=1", "http://www.blueleaf.co.uk/dir/up?q=1", "blueleaf.co.uk", "Up")
        p.link("/root", "http://www.blueleaf.co.uk/root", "blueleaf.co.uk", "Root")
        p.link("//bob.github.io/x", "http://bob.github.io/x", "bob.github.io", "Proto-relative")
        p.link("?only=query", "http://www.blueleaf.co.uk/dir/sub/?only=query", "blueleaf.co.uk", "Query")
        self._serve(p, head=head)

        # rel flags, case-insensitive, in every combination; duplicates: the first one wins.
        p = self._page("http://news.example-times.com/rel")
        for i, rel in enumerate(
            [
                "nofollow",
                "UGC",
                "Sponsored",
                "nofollow ugc sponsored",
                "noopener noreferrer",
                "external NOFOLLOW",
                "",
            ]
        ):
            target = f"http://www.blueleaf.co.uk/rel/{i}"
            p.link(target, target, "blueleaf.co.uk", f"rel {i}", rel=rel)
        p.link(
            "http://www.blueleaf.co.uk/rel/0",
            "http://www.blueleaf.co.uk/rel/0",
            "blueleaf.co.uk",
            "second occurrence",
            rel="",
        )
        p.link(
            "http://www.blueleaf.co.uk/rel/0",
            "http://www.blueleaf.co.uk/rel/0",
            "blueleaf.co.uk",
            '<img src="x.png" alt="Same target, as an image">',
            anchor="Same target, as an image",
            link_type="image",
        )
        p.link(
            "http://www.blueleaf.co.uk/img",
            "http://www.blueleaf.co.uk/img",
            "blueleaf.co.uk",
            '<img src="x.png" alt="first"><img src="y.png" alt="second">',
            anchor="first",
            link_type="image",
        )
        p.link(
            "http://www.blueleaf.co.uk/img-text",
            "http://www.blueleaf.co.uk/img-text",
            "blueleaf.co.uk",
            'Text wins <img src="x.png" alt="ignored">',
            anchor="Text wins",
        )
        p.link("http://www.blueleaf.co.uk/empty", "http://www.blueleaf.co.uk/empty", "blueleaf.co.uk", "")
        p.parts.append('<map name="m">')
        p.link(
            "http://bob.github.io/area",
            "http://bob.github.io/area",
            "bob.github.io",
            "Area alt",
            tag="area",
            rel="sponsored",
        )
        p.parts.append("</map>")
        self._serve(p)

        # Not links: other schemes, fragments, empty hrefs, comments, script text, templates.
        p = self._page("http://news.example-times.com/not-links")
        for href in [
            "javascript:void(0)",
            "mailto:ed@example-times.com",
            "tel:+441234",
            "data:text/html,x",
            "#top",
            "  #frag",
            "",
            "ftp://files.blueleaf.co.uk/x",
        ]:
            p.link(href, None, anchor_html="not a link")
        p.parts.append('<a name="anchor-only">no href</a>')
        p.parts.append('<!-- <a href="http://www.blueleaf.co.uk/commented">c</a> -->')
        p.parts.append(
            "<script>document.write('<a href=\"http://www.blueleaf.co.uk/script\">s</a>');</script>"
        )
        p.parts.append('<template><a href="http://www.blueleaf.co.uk/template">t</a></template>')
        p.link(
            "http://bob.github.io/kept",
            "http://bob.github.io/kept",
            "bob.github.io",
            "kept <!-- hidden --> text<script>var s = 1;</script>",
            anchor="kept textvar s = 1;",
        )
        self._serve(p)

        # Page-level nofollow: meta robots, and the X-Robots-Tag header.
        p = self._page("http://blog.techfeed.net/meta-nofollow", nofollow=True)
        p.link("http://www.blueleaf.co.uk/m1", "http://www.blueleaf.co.uk/m1", "blueleaf.co.uk", "m1")
        p.link("http://bob.github.io/m2", "http://bob.github.io/m2", "bob.github.io", "m2", rel="ugc")
        self._serve(p, head='<meta name="ROBOTS" content="noindex, NoFollow">')
        p = self._page("http://blog.techfeed.net/header-none", nofollow=True)
        p.link("http://www.blueleaf.co.uk/h1", "http://www.blueleaf.co.uk/h1", "blueleaf.co.uk", "h1")
        self._serve(p, headers={"X-Robots-Tag": "none"})

        # robots.txt: the disallowed page is never fetched, but links *to* it are indexed.
        self.robots["news.example-times.com"] = "User-agent: *\nDisallow: /private/\n"
        p = self._page("http://news.example-times.com/private/secret")
        p.link("http://www.blueleaf.co.uk/leak", "http://www.blueleaf.co.uk/leak", "blueleaf.co.uk", "x")
        self._serve(p, parsed=False)
        p = self._page("http://blog.techfeed.net/links-to-private")
        p.link(
            "http://news.example-times.com/private/secret",
            "http://news.example-times.com/private/secret",
            "example-times.com",
            "Secret",
        )
        self._serve(p)

        # Redirects: 3xx Locations (absolute, relative, chained, to a disallowed page) and meta refresh.
        def redirect(url: str, status: int, location: str, target: str, tdomain: str) -> None:
            p = self._page(url)
            p.expect(target, tdomain, "redirect")
            self.resources[url.split("://", 1)[1]] = Resource(
                status, b"", "text/html", {"Location": location}
            )
            self.site_pages[url.split("/")[2]].append(url)
            self.edges.extend(p.edges.values())

        redirect(
            "http://blog.techfeed.net/old-post",
            301,
            "http://www.blueleaf.co.uk/moved",
            "http://www.blueleaf.co.uk/moved",
            "blueleaf.co.uk",
        )
        redirect("http://blog.techfeed.net/r1", 302, "/r2", "http://blog.techfeed.net/r2", "techfeed.net")
        redirect(
            "http://blog.techfeed.net/r2",
            307,
            "//bob.github.io/final#x",
            "http://bob.github.io/final",
            "bob.github.io",
        )
        redirect(
            "http://blog.techfeed.net/to-private",
            308,
            "http://news.example-times.com/private/other",
            "http://news.example-times.com/private/other",
            "example-times.com",
        )
        # A Location with a raw latin-1 byte: browsers percent-encode the byte as it is.
        redirect(
            "http://blog.techfeed.net/r-latin1",
            301,
            "/caf\xe9",
            "http://blog.techfeed.net/caf%E9",
            "techfeed.net",
        )
        self.resources["blog.techfeed.net/caf%E9"] = Resource(200, b"<html><body>Caf\xe9</body></html>")
        p = self._page("http://blog.techfeed.net/refresh")
        p.expect("http://alice.github.io/landing", "alice.github.io", "redirect")
        self._serve(p, head='<meta http-equiv="Refresh" content="0; URL=\'http://alice.github.io/landing\'">')

        # Canonicals, across sites too.
        p = self._page("http://blog.techfeed.net/syndicated")
        p.expect("http://news.example-times.com/original", "example-times.com", "canonical")
        p.link(
            "http://news.example-times.com/original",
            "http://news.example-times.com/original",
            "example-times.com",
            "Read the original",
        )
        self._serve(p, head='<link rel="canonical" href="http://news.example-times.com/original">')
        self.site_pages["news.example-times.com"].append("http://news.example-times.com/original")
        self.resources["news.example-times.com/original"] = Resource(
            200, b"<html><body>Original</body></html>"
        )

        # Only 2xx HTML is parsed: not a 404's body, not a PDF (whose URL does not say so).
        p = self._page("http://blog.techfeed.net/gone")
        p.link(
            "http://www.blueleaf.co.uk/from-404", "http://www.blueleaf.co.uk/from-404", "blueleaf.co.uk", "x"
        )
        self._serve(p, status=404, parsed=False)
        self.site_pages["blog.techfeed.net"].append("http://blog.techfeed.net/download?id=7")
        self.resources["blog.techfeed.net/download?id=7"] = Resource(
            200, b'%PDF-1.4 <a href="http://www.blueleaf.co.uk/from-pdf">x</a>', "application/pdf"
        )
        self.site_pages["blog.techfeed.net"].append("http://blog.techfeed.net/video?id=1")
        self.resources["blog.techfeed.net/video?id=1"] = Resource(200, b"\0" * 8_000_000, "video/mp4")
        p = self._page("http://blog.techfeed.net/files")
        p.link(
            "http://docs.blueleaf.co.uk/report.pdf",
            "http://docs.blueleaf.co.uk/report.pdf",
            "blueleaf.co.uk",
            "Annual report (PDF)",
        )
        self._serve(p)

        # A windows-1252 page, declared in the header, and one declared only in a <meta>.
        p = self._page("http://www.blueleaf.co.uk/latin")
        p.link(
            "http://bob.github.io/café",
            "http://bob.github.io/caf%C3%A9",
            "bob.github.io",
            "Café – naïve résumé",
        )
        # The query takes the page's encoding (the URL Standard), the path stays UTF-8.
        p.link(
            "http://bob.github.io/search?q=café",
            "http://bob.github.io/search?q=caf%E9",
            "bob.github.io",
            "Search café",
        )
        self.resources["bob.github.io/search?q=caf%E9"] = Resource(200, b"<html><body>Results</body></html>")
        self._serve(p, charset="windows-1252")
        p = self._page("http://www.blueleaf.co.uk/latin-meta")
        p.link(
            "http://alice.github.io/€uro",
            "http://alice.github.io/%E2%82%ACuro",
            "alice.github.io",
            "Prix en €uros",
        )
        page_head = '<meta charset="windows-1252">'
        body = (f"<html><head>{page_head}</head><body>{''.join(p.parts)}</body></html>").encode("cp1252")
        self.resources["www.blueleaf.co.uk/latin-meta"] = Resource(200, body, "text/html")
        self.site_pages["www.blueleaf.co.uk"].append(p.url)
        self.edges.extend(p.edges.values())

        # Malformed HTML, repaired as a browser repairs it.
        p = self._page("http://www.blueleaf.co.uk/broken")
        p.parts.append(
            '<div><p>Unclosed <a href="http://bob.github.io/b1">one <a href=http://bob.github.io/b2>'
            'two</div><table><a href="http://alice.github.io/b3">in table</a><tr><td>cell</table>'
            '<a href="http://alice.github.io/b4" rel=nofollow>unclosed at end'
        )
        p.expect("http://bob.github.io/b1", "bob.github.io", "text", "one")
        p.expect("http://bob.github.io/b2", "bob.github.io", "text", "two")
        p.expect("http://alice.github.io/b3", "alice.github.io", "text", "in table")
        p.expect("http://alice.github.io/b4", "alice.github.io", "text", "unclosed at end", nofollow=True)
        body = "".join(p.parts).encode()  # no <html>, <head> or <body>: the parser implies them
        self.resources["www.blueleaf.co.uk/broken"] = Resource(200, body)
        self.site_pages["www.blueleaf.co.uk"].append(p.url)
        self.edges.extend(p.edges.values())

        # SVG: its <a xlink:href> is a link; its <base> is not the document's base.
        p = self._page("http://blog.techfeed.net/svg")
        p.parts.append(
            '<svg xmlns:xlink="http://www.w3.org/1999/xlink"><base href="http://wrong.example/"/>'
            '<a xlink:href="http://alice.github.io/svg"><text>Alice in SVG</text></a></svg>'
            '<a href="/svg-next">next</a>'
        )
        p.expect("http://alice.github.io/svg", "alice.github.io", "text", "Alice in SVG")
        p.expect("http://blog.techfeed.net/svg-next", "techfeed.net", "text", "next")
        self._serve(p)

        # An IDN host, linked in Unicode and upper case.
        p = self._page(f"http://{IDN_HOST}/")
        p.link("http://Greenleaf.co.uk/", "http://greenleaf.co.uk/", "greenleaf.co.uk", "Grün")
        self.homes[IDN_HOST] = p
        p = self._page("http://blog.techfeed.net/idn")
        p.link("http://BÜCHER-Café.de/", f"http://{IDN_HOST}/", IDN_HOST, "Bücher")
        self._serve(p)

        # A relative-link trap (/tag/ -> /tag/tag/ -> ...): the segment-repeat guard stops it.
        p = self._page("http://blog.techfeed.net/tag/")
        p.link("tag/", "http://blog.techfeed.net/tag/tag/", "techfeed.net", "more tags")
        p.link("http://bob.github.io/tags", "http://bob.github.io/tags", "bob.github.io", "Bob's tags")
        self._serve(p)
        p = self._page("http://blog.techfeed.net/tag/tag/")
        p.link("tag/", "http://blog.techfeed.net/tag/tag/tag/", "techfeed.net", "more tags")
        self._serve(p, listed=False)


class ProxyServer:
    """Serve a SyntheticWeb as an HTTP forward proxy on 127.0.0.1, in a thread; use as a context manager."""

    def __init__(self, web: SyntheticWeb) -> None:
        self.web = web
        handler = type("Handler", (_Handler,), {"web": web})
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ProxyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Server(ThreadingHTTPServer):
    # A crawler opens many connections at once; the default backlog of 5 stalls it for minutes.
    request_queue_size = 1024
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    web: SyntheticWeb

    def do_GET(self) -> None:
        if not self.path.startswith("http://"):
            return self._send(Resource(400, b"this is a proxy: send absolute URLs", "text/plain"))
        host, _, path = self.path[len("http://") :].partition("/")
        host = host.lower().removesuffix(":80")
        path = "/" + path
        with self.web.log_lock:
            self.web.log.append((time.monotonic(), host, path, self.headers.get("User-Agent", "")))
        if self.web.latency:
            time.sleep(self.web.latency)
        if host + path in self.web.hanging:
            time.sleep(self.web.hang)  # the client has given up by now
        self._send(self.web.lookup(host, path))

    def do_CONNECT(self) -> None:
        # https is not served: refuse the tunnel at once, as a proxy that cannot reach the host would.
        self._send(Resource(502, b"", "text/plain"))
        self.close_connection = True

    def _send(self, res: Resource) -> None:
        try:
            self.send_response(res.status)
            self.send_header("Content-Type", res.content_type)
            self.send_header("Content-Length", str(len(res.body)))
            for name, value in res.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(res.body)
        except (BrokenPipeError, ConnectionResetError):
            # The crawler stopped reading (a body it does not parse).
            with self.web.log_lock:
                self.web.aborted.append(self.path.removeprefix("http://"))
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    # Serve the synthetic web for trying the crawler by hand (the README's worked example).
    with ProxyServer(SyntheticWeb()) as server:
        print(
            f"export http_proxy={server.url} https_proxy={server.url}  # then: backlinks crawl {HUB}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
