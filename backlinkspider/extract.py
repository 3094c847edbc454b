"""Links out of one fetched page: a pure function from a response to the page's links, with no I/O.

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
from dataclasses import dataclass, field
from typing import NamedTuple

from scrapy.http import HtmlResponse, Response
from selectolax.lexbor import LexborHTMLParser, LexborNode

from backlinkspider.encoding import UTF8, decode_html
from backlinkspider.urls import resolve

TEXT, IMAGE, CANONICAL, REDIRECT = "text", "image", "canonical", "redirect"
LINK_TYPES = (TEXT, IMAGE, CANONICAL, REDIRECT)

# Every element that can carry a link or change how links are read, matched in one pass in document order.
# (`~=` splits on ASCII whitespace as rel does; `i` compares ASCII case-insensitively as HTML does.)
_SELECTOR = "a, area[href], link[href][rel~=canonical i], meta[name=robots i], meta[http-equiv=refresh i]"
_ASCII_WS = " \t\n\r\f"
# Where foreign (SVG, MathML) content ends: the nearest of these above an element says which it is in.
_FOREIGN_ROOTS = frozenset({"svg", "math"})
_HTML_INTEGRATION_POINTS = frozenset(
    {"foreignObject", "desc", "title", "mi", "mo", "mn", "ms", "mtext", "annotation-xml"}
)


class Link(NamedTuple):
    """One outbound link of a page (a tuple: a page holds hundreds, made in a hot loop)."""

    target_url: str
    link_type: str
    anchor_text: str = ""
    nofollow: bool = False
    ugc: bool = False
    sponsored: bool = False


@dataclass(slots=True)
class Page:
    """A fetched page and the links it holds, in document order."""

    url: str
    links: list[Link] = field(default_factory=list)
    nofollow: bool = False  # the page said nofollow for all its links (meta robots / X-Robots-Tag)
    failed: bool = False  # the fetch failed (404, 410, 5xx, a gone host): the page has no links now


def extract(response: Response) -> Page:
    """The links of a Scrapy response (see the module docstring for what counts)."""
    headers = response.headers
    page_nofollow = any(robots_says_nofollow(v.decode("latin-1")) for v in headers.getlist(b"X-Robots-Tag"))
    if 300 <= response.status < 400:
        location = headers.get(b"Location")
        target = resolve(response.url, location_href(location)) if location else None
        links = [Link(target, REDIRECT, nofollow=page_nofollow)] if target else []
        return Page(response.url, links, page_nofollow)
    if 200 <= response.status < 300 and isinstance(response, HtmlResponse):
        text, encoding = decode_html(response.body, headers.get(b"Content-Type"))
        return extract_html(response.url, text, page_nofollow, encoding)
    return Page(response.url, [], page_nofollow)


def extract_html(url: str, html: str, nofollow: bool = False, encoding: str = UTF8) -> Page:
    """The links of an HTML document served at ``url``, decoded from ``encoding``; ``nofollow`` if its
    headers already said so."""
    tree = LexborHTMLParser(html)
    base = url
    for base_node in tree.css("base[href]"):
        if not _in_foreign_content(base_node):
            base = resolve(url, base_node.attributes.get("href") or "", encoding) or url
            break
    # (link_type, href, anchor, rel) in document order; a meta robots nofollow may come after links.
    found: list[tuple[str, str, str, str | None]] = []
    for node in tree.css(_SELECTOR):
        tag = node.tag
        attrs = node.attributes
        if tag == "a" or tag == "area":
            href = attrs.get("href")
            if href is None:  # SVG's <a xlink:href> (an HTML <a> has only href)
                href = attrs.get("xlink:href")
                if href is None or not _in_foreign_content(node):
                    continue
            stripped = href.strip(_ASCII_WS)
            if not stripped or stripped[0] == "#":
                continue
            if tag == "area":
                found.append((TEXT, href, " ".join((attrs.get("alt") or "").split()), attrs.get("rel")))
                continue
            anchor = " ".join(node.text(deep=True).split())
            if not anchor:
                img = node.css_first("img")
                if img is not None:
                    alt = " ".join((img.attributes.get("alt") or "").split())
                    found.append((IMAGE, href, alt, attrs.get("rel")))
                    continue
            found.append((TEXT, href, anchor, attrs.get("rel")))
        elif tag == "link":
            found.append((CANONICAL, attrs.get("href") or "", "", attrs.get("rel")))
        elif "name" in attrs:  # meta robots
            nofollow = nofollow or robots_says_nofollow(attrs.get("content") or "")
        else:  # meta refresh
            refresh = refresh_url(attrs.get("content") or "")
            if refresh:
                found.append((REDIRECT, refresh, "", None))

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
    return Page(url, list(links.values()), nofollow)


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
    s, pos, n = content, 0, len(content)

    def skip_ws(p: int) -> int:
        while p < n and s[p] in _ASCII_WS:
            p += 1
        return p

    pos = skip_ws(pos)
    start = pos
    while pos < n and s[pos].isdigit() and s[pos].isascii():
        pos += 1
    if pos == start and (pos >= n or s[pos] != "."):
        return None
    while pos < n and (s[pos] == "." or (s[pos].isdigit() and s[pos].isascii())):
        pos += 1
    if pos >= n:
        return None
    if s[pos] not in ";," + _ASCII_WS:
        return None
    pos = skip_ws(pos)
    if pos < n and s[pos] in ";,":
        pos += 1
    pos = skip_ws(pos)
    if pos >= n:
        return None
    rest = s[pos:]
    if s[pos] in "Uu":
        pos += 1
        if pos < n and s[pos] in "Rr":
            pos += 1
            if pos < n and s[pos] in "Ll":
                pos += 1
                pos = skip_ws(pos)
                if pos < n and s[pos] == "=":
                    pos = skip_ws(pos + 1)
                    rest = _unquote(s[pos:])
        # "U" not followed by "RL=": the whole remainder is the URL.
    else:
        rest = _unquote(rest)
    return rest or None


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
