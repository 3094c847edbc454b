"""Links out of one fetched page: a pure function from a response to the page's links, with no I/O and
no Scrapy (the crawl layer hands it a ``Fetched``: backlinkspider/crawl/extraction.py).

The rules (the crawl issue states them; tests/unit/test_extract.py and the corpus test hold them):

1. Links are ``<a href>`` and ``<area href>`` whose resolved URL is http(s), and SVG's ``<a href>`` or
   ``<a xlink:href>``. ``javascript:``, ``mailto:``,
   ``tel:``, ``data:``, empty and fragment-only hrefs are not links; nor is anything inside comments,
   ``<script>`` or ``<template>`` (the HTML5 parser makes those inert, as a browser does).
2. Relative hrefs resolve against the first HTML ``<base href>`` (not SVG's), else the page URL (see
   ``urls``), with queries percent-encoded in the page's encoding (see ``encoding``).
3. ``image`` when an ``<a>`` has no text but holds an ``<img>`` (anchor: the image's alt), else ``text``
   (anchor: DOM text content, whitespace collapsed; ``<area>``: its alt). ``<link rel=canonical>`` gives a
   ``canonical`` link, a 3xx Location or a ``<meta http-equiv=refresh>`` URL a ``redirect`` link.
4. ``nofollow`` / ``ugc`` / ``sponsored`` from rel tokens; a page whose meta robots or X-Robots-Tag says
   ``nofollow`` or ``none`` makes all its links nofollow.
5. One link per (target_url, link_type) per page; the first occurrence wins.
6. Only 2xx HTML responses are parsed, decoded as browsers decode them (see ``encoding``); a 3xx
   contributes its redirect.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

from selectolax.lexbor import LexborHTMLParser, LexborNode

from backlinkspider.records import Link as Link  # the records a page is made of, importable here
from backlinkspider.records import Page as Page
from backlinkspider.standards.encoding import UTF8, decode_html
from backlinkspider.standards.urls import resolve

TEXT, IMAGE, CANONICAL, REDIRECT = "text", "image", "canonical", "redirect"

# Every element that can carry a link or change how links are read, matched in one pass in document order.
# (`~=` splits on ASCII whitespace as rel does; `i` compares ASCII case-insensitively as HTML does.)
_SELECTOR = "a, area[href], link[href][rel~=canonical i], meta[name=robots i], meta[http-equiv=refresh i]"
_ASCII_WS = " \t\n\r\f"
# Where foreign (SVG, MathML) content ends: the nearest of these above an element says which it is in.
_FOREIGN_ROOTS = frozenset({"svg", "math"})
_HTML_INTEGRATION_POINTS = frozenset(
    {"foreignObject", "desc", "title", "mi", "mo", "mn", "ms", "mtext", "annotation-xml"}
)


class Fetched(NamedTuple):
    """A fetched response, as much of it as links depend on."""

    url: str
    status: int
    body: bytes = b""
    html: bool = False  # the crawler took the body for HTML (Scrapy: an HtmlResponse)
    content_type: bytes | None = None
    location: bytes | None = None
    x_robots_tag: tuple[bytes, ...] = ()


def extract(response: Fetched) -> Page:
    """The links of a fetched response (see the module docstring for what counts)."""
    page_nofollow = any(robots_says_nofollow(v.decode("latin-1")) for v in response.x_robots_tag)
    if 300 <= response.status < 400:
        location = response.location
        target = resolve(response.url, location_href(location)) if location else None
        links = [Link(target, REDIRECT, nofollow=page_nofollow)] if target else []
        return Page(response.url, links, page_nofollow)
    if 200 <= response.status < 300 and response.html:
        text, encoding = decode_html(response.body, response.content_type)
        return extract_html(response.url, text, page_nofollow, encoding)
    return Page(response.url, [], page_nofollow)


# A link found in a page before its href is resolved: (link_type, href, anchor, rel).
Found = tuple[str, str, str, str | None]  # a link as a page holds it: type, href, anchor, rel


def extract_html(url: str, html: str, nofollow: bool = False, encoding: str = UTF8) -> Page:
    """The links of an HTML document served at ``url``, decoded from ``encoding``; ``nofollow`` if its
    headers already said so."""
    tree = LexborHTMLParser(html)
    base = _base_url(tree, url, encoding)
    # In document order; a meta robots nofollow may come after links, so links are made at the end.
    found: list[Found] = []
    for node in tree.css(_SELECTOR):
        tag = node.tag
        attrs = node.attributes
        if tag == "a" or tag == "area":
            link = _anchor(node, tag, attrs)
            if link is not None:
                found.append(link)
        elif tag == "link":
            found.append((CANONICAL, attrs.get("href") or "", "", attrs.get("rel")))
        elif "name" in attrs:  # meta robots
            nofollow = nofollow or robots_says_nofollow(attrs.get("content") or "")
        else:  # meta refresh
            refresh = refresh_url(attrs.get("content") or "")
            if refresh:
                found.append((REDIRECT, refresh, "", None))
    return Page(url, resolved_links(found, base, encoding, nofollow), nofollow)


def _base_url(tree: LexborHTMLParser, url: str, encoding: str) -> str:
    """The URL relative hrefs resolve against: the first HTML ``<base href>``'s, else the page's."""
    for base_node in tree.css("base[href]"):
        if not _in_foreign_content(base_node):
            return resolve(url, base_node.attributes.get("href") or "", encoding) or url
    return url


def _anchor(node: LexborNode, tag: str, attrs: dict[str, str | None]) -> Found | None:
    """The link of an ``<a>`` or ``<area>``, or None when it has no href that can name a page."""
    href = attrs.get("href")
    if href is None:  # SVG's <a xlink:href> (an HTML <a> has only href)
        href = attrs.get("xlink:href")
        if href is None or not _in_foreign_content(node):
            return None
    stripped = href.strip(_ASCII_WS)
    if not stripped or stripped[0] == "#":
        return None
    if tag == "area":
        return TEXT, href, " ".join((attrs.get("alt") or "").split()), attrs.get("rel")
    anchor = " ".join(node.text(deep=True).split())
    if not anchor:
        img = node.css_first("img")
        if img is not None:
            return IMAGE, href, " ".join((img.attributes.get("alt") or "").split()), attrs.get("rel")
    return TEXT, href, anchor, attrs.get("rel")


def resolved_links(found: list[Found], base: str, encoding: str, nofollow: bool) -> list[Link]:
    """The found links resolved against ``base`` (queries in ``encoding``), one per (target_url,
    link_type), the first occurrence winning; rel tokens give the flags, a page's nofollow applies to all.
    The archives' WAT reader hands its links here too, so both read links by one rule."""
    links: dict[tuple[str, str], Link] = {}
    resolved: dict[str, str | None] = {}  # pages repeat hrefs; resolve each once
    for link_type, href, anchor, rel in found:
        target = resolved.get(href, "")
        if target == "":
            target = resolved[href] = resolve(base, href, encoding)
        if target is None or (target, link_type) in links:
            continue
        if rel:
            tokens = rel.lower().split()
            flags = (nofollow or "nofollow" in tokens, "ugc" in tokens, "sponsored" in tokens)
            links[(target, link_type)] = Link(target, link_type, anchor, *flags)
        else:
            links[(target, link_type)] = Link(target, link_type, anchor, nofollow, False, False)
    return list(links.values())


def robots_says_nofollow(directives: str) -> bool:
    """True if a meta robots content or X-Robots-Tag value forbids following links.

    Directives are comma-separated; one may carry a user-agent prefix (``googlebot: nofollow``), which
    still counts: the tool reports links as search engines weigh them.
    """
    for directive in directives.lower().split(","):
        token = directive.rsplit(":", 1)[-1].strip()
        if token in ("nofollow", "none"):
            return True
    return False


def refresh_url(content: str) -> str | None:
    """The URL a ``<meta http-equiv=refresh>`` content names, by the HTML Standard's parsing steps.

    None when it names none (a plain reload) or is malformed.
    """
    pos = _refresh_url_start(content)
    if pos is None:
        return None
    return _refresh_target(content[pos:]) or None


def _refresh_url_start(s: str) -> int | None:
    """Where the URL part starts, past the time and its separator; None when nothing follows them or the
    time is malformed."""
    n = len(s)
    pos = start = _skip_ws(s, 0)
    while pos < n and s[pos].isdigit() and s[pos].isascii():
        pos += 1
    if pos == start and (pos >= n or s[pos] != "."):
        return None
    while pos < n and (s[pos] == "." or (s[pos].isdigit() and s[pos].isascii())):
        pos += 1
    if pos >= n or s[pos] not in ";," + _ASCII_WS:
        return None
    pos = _skip_ws(s, pos)
    if pos < n and s[pos] in ";,":
        pos += 1
    pos = _skip_ws(s, pos)
    return pos if pos < n else None


def _refresh_target(s: str) -> str:
    """The URL of a refresh's URL part (``s`` starts at its first non-space character): after an
    optional ``URL =``, unquoted."""
    if s[0] not in "Uu":
        return _unquote(s)
    if s[1:2] not in ("R", "r") or s[2:3] not in ("L", "l"):
        return s  # "U" not followed by "RL=": the whole remainder is the URL
    pos = _skip_ws(s, 3)
    if pos < len(s) and s[pos] == "=":
        return _unquote(s[_skip_ws(s, pos + 1) :])
    return s


def _skip_ws(s: str, pos: int) -> int:
    while pos < len(s) and s[pos] in _ASCII_WS:
        pos += 1
    return pos


def _unquote(text: str) -> str:
    if text[:1] in ("'", '"'):
        quote, text = text[0], text[1:]
        cut = text.find(quote)
        if cut >= 0:
            text = text[:cut]
    return text


def _in_foreign_content(node: LexborNode) -> bool:
    """True for an element inside SVG or MathML (and not back in HTML through a foreignObject ...)."""
    parent = node.parent
    while parent is not None:
        tag = parent.tag
        if tag in _FOREIGN_ROOTS:
            return True
        if tag in _HTML_INTEGRATION_POINTS:
            return False
        parent = parent.parent
    return False


def location_href(value: bytes) -> str:
    """A Location header as the URL parser reads it: bytes that are not UTF-8 are percent-encoded as
    they are (``/caf\\xe9`` -> ``/caf%E9``), as browsers do, not decoded as latin-1 and re-encoded."""
    return value.decode("utf-8", "backlinkspider-percent")


def _percent_encode_bytes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(f"%{b:02X}" for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error("backlinkspider-percent", _percent_encode_bytes)
