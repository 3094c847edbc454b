"""A WAT record (Common Crawl's JSON metadata of one WARC record) as the page the crawl would have made.

A WAT file holds, for each record of a WARC file, a ``metadata`` record whose JSON ``Envelope`` carries
the WARC headers (``WARC-Header-Metadata``) and, for an HTML response, what ia-web-commons read from it
(``Payload-Metadata.HTTP-Response-Metadata``: ``Response-Message.Status``, ``Headers``, and
``HTML-Metadata`` with ``Head.Base``, ``Head.Metas``, ``Head.Link`` and ``Links``). Header values are
strings, or lists of strings for a repeated header (WAT files since December 2024).

What is read, by the rules of ``extract`` (``urls.resolve`` for every URL):

- ``Links`` entries with ``path`` ``A@/href`` (anchor: ``text``; rel flags: ``rel``) and ``AREA@/href``;
  ``LINK@/href`` entries with rel ``canonical`` (ia-web-commons lists ``<link>`` in ``Head.Link``; both
  lists are read alike);
- ``Head.Base`` for resolving; ``Head.Metas``: ``robots`` nofollow / none, ``refresh`` redirects, and
  the ``content-type`` charset; X-Robots-Tag from ``Headers``;
- 3xx, non-HTML and error responses go through ``extractpool.extract_in_worker`` itself (they need no
  body), truncated records are skipped as in ``warc``; dedup, flags and link caps are the crawl's.

Departures from the WARC path, each because the WAT does not hold what the extractor uses (``DEPARTURES``
names them; the tests check that WARC and WAT of the same pages differ in nothing else):

- ``image-link``: an ``<a>`` holding only an ``<img>`` is a ``text`` link with an empty anchor, not an
  ``image`` link with the image's alt: a WAT lists the ``<img>`` as a separate ``IMG@/src`` entry, and
  cannot say whether it was inside the link. Where the same target is also a text link, the first of
  the two wins as one ``text`` link.
- ``area-alt``: an ``<area>`` link has an empty anchor: ia-web-commons keeps only its href and rel.
- ``anchor-cap``: anchors are cut at 128 characters (ia-web-commons' limit); the crawl keeps them whole.
- ``query-encoding``: a non-ASCII query is percent-encoded in the charset the HTTP headers or a
  ``<meta http-equiv=content-type>`` declare, else UTF-8: the WAT holds the href as decoded text, without
  the bytes, BOM or ``<meta charset>`` the crawl sniffs the page's encoding from. (Likewise a Location
  header's bytes that are not UTF-8, which the crawl percent-encodes as they are, reach us decoded.)
- ``svg-xlink``: SVG's ``<a xlink:href>`` is not a link: ia-web-commons reads only ``href``.
- ``order``: head links (canonical, refresh) come before body links, since the WAT lists them apart; a
  page over the link cap may keep a different first N.
- ``parser``: ia-web-commons' HTML parser is not the HTML5 algorithm the crawl parses with, so misnested
  markup, ``<template>`` contents and markup in odd places can give different links. (Not produced by the
  tests' WAT writer, which reads pages with the crawl's parser.)
- ``sniffed-html``: a 2xx response with no Content-Type is HTML when ia-web-commons found HTML in it
  (``HTML-Metadata``); the crawl sniffs the body itself.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from fastwarc.warc import WarcRecord
from scrapy.http import Headers, HtmlResponse
from scrapy.responsetypes import responsetypes

from backlinkspider.archives.capture import Capture, Limits, Skip
from backlinkspider.archives.warc import PARSED_STATUSES
from backlinkspider.crawl.extraction import Extracted, extract_in_worker, fetched, limit_links
from backlinkspider.standards.encoding import UTF8, charset_in
from backlinkspider.standards.extract import (
    CANONICAL,
    REDIRECT,
    TEXT,
    Found,
    Page,
    refresh_url,
    resolved_links,
    robots_says_nofollow,
)
from backlinkspider.standards.urls import resolve

DEPARTURES = {
    "image-link": "a WAT lists an <a>'s <img> apart and cannot say it was inside: text link, empty anchor",
    "area-alt": "ia-web-commons keeps an <area>'s href and rel, not its alt: empty anchor",
    "anchor-cap": "ia-web-commons cuts anchor text at 128 characters",
    "query-encoding": "no bytes to sniff the encoding from: queries in the declared charset, else UTF-8",
    "svg-xlink": "ia-web-commons reads only href, not SVG's xlink:href",
    "order": "head links (canonical, refresh) are listed apart, before body links",
    "parser": "ia-web-commons' HTML parser is not the HTML5 parsing algorithm",
    "sniffed-html": "no body to sniff: a response with no Content-Type is HTML if ia-web-commons found HTML",
}
_ASCII_WS = " \t\n\r\f"
_ANCHOR_PATHS = ("A@/href", "AREA@/href")
_WANTED_PATHS = frozenset({*_ANCHOR_PATHS, "LINK@/href"})


class Envelope(NamedTuple):
    """A WAT record's JSON, read once: its WARC headers and the page it gives."""

    envelope: dict[str, Any]

    def warc_headers(self, name: str) -> str | None:
        return _first(_dict(self.envelope.get("WARC-Header-Metadata")).get(name))

    def page(self, _record: WarcRecord, capture: Capture, limits: Limits) -> Extracted:
        """The page the crawl makes of the response this envelope describes; Skip when it makes none."""
        meta = _dict(_dict(self.envelope.get("Payload-Metadata")).get("HTTP-Response-Metadata"))
        try:
            status = int(_first(_dict(meta.get("Response-Message")).get("Status")) or "")
        except ValueError:
            raise Skip("not http") from None
        headers = Headers({name: _all(value) for name, value in _dict(meta.get("Headers")).items()})
        html = meta.get("HTML-Metadata")
        url = capture.url
        if 200 <= status < 300 and _is_html(headers, url, isinstance(html, dict)):
            if capture.truncated:
                raise Skip("truncated")
            page = _html_page(url, headers, _dict(html))
            return limit_links(page, limits.max_links, limits.max_url_length)
        if not (200 <= status < 300 or status in PARSED_STATUSES):
            return Extracted(Page(url, failed=True))
        # A redirect, or a response with no HTML: the crawl's extractor needs no body for these.
        response = responsetypes.from_args(headers=headers, url=url)(url=url, status=status, headers=headers)
        return extract_in_worker(fetched(response), limits.max_links, limits.max_url_length)


def is_wat_record(record: WarcRecord) -> bool:
    """A WAT file's record: ``metadata`` holding JSON (WARC files' own metadata records hold fields)."""
    return (record.headers.get("Content-Type") or "").split(";", 1)[0].strip() == "application/json"


def envelope(record: WarcRecord, limits: Limits) -> Envelope:
    """The record's JSON envelope when it describes a response; Skip (its record type, or ``bad wat
    record``) otherwise."""
    data = record.reader.read(limits.max_size + 1) if limits.max_size else record.reader.read()
    if limits.max_size and len(data) > limits.max_size:
        raise Skip("too large")
    try:
        parsed = json.loads(data)
    except ValueError:
        raise Skip("bad wat record") from None
    found = parsed.get("Envelope") if isinstance(parsed, dict) else None
    if not isinstance(found, dict):
        raise Skip("bad wat record")
    read = Envelope(found)
    kind = read.warc_headers("WARC-Type")
    if kind != "response":  # the WARC's warcinfo, request and metadata records have envelopes too
        raise Skip(kind or "unknown")
    return read


def _html_page(url: str, headers: Headers, html: dict[str, Any]) -> Page:
    """``extract.extract_html``'s rules over what a WAT kept of the document."""
    robots = headers.getlist(b"X-Robots-Tag")
    nofollow = any(robots_says_nofollow(v.decode("utf-8", "replace")) for v in robots)
    content_type = headers.get(b"Content-Type")
    declared = charset_in(content_type.decode("utf-8", "replace")) if content_type else None
    head = _dict(html.get("Head"))
    # (link_type, href, anchor, rel), head first (see "order").
    found, meta_nofollow, meta_charset = _read_metas(_dicts(head.get("Metas")))
    for entry in [*_dicts(head.get("Link")), *_dicts(html.get("Links"))]:
        path, href = entry.get("path"), entry.get("url")
        if path not in _WANTED_PATHS or not isinstance(href, str):  # IMG@/src, SCRIPT@/src ... (most)
            continue
        rel = _first(entry.get("rel"))
        if path in _ANCHOR_PATHS:
            stripped = href.strip(_ASCII_WS)
            if stripped and stripped[0] != "#":
                anchor = " ".join((_first(entry.get("text")) or "").split()) if path == "A@/href" else ""
                found.append((TEXT, href, anchor, rel))
        elif path == "LINK@/href" and "canonical" in (rel or "").lower().split():
            found.append((CANONICAL, href, "", rel))
    nofollow = nofollow or meta_nofollow
    encoding = declared or meta_charset or UTF8
    base_href = _first(head.get("Base"))
    base = (resolve(url, base_href, encoding) or url) if base_href is not None else url
    return Page(url, resolved_links(found, base, encoding, nofollow), nofollow)


def _read_metas(metas: list[dict[str, Any]]) -> tuple[list[Found], bool, str | None]:
    """From a page's metas: refresh redirects, whether robots says nofollow, the declared charset."""
    found: list[Found] = []
    nofollow = False
    charset = None
    for meta in metas:
        name = (_first(meta.get("name")) or "").lower()
        equiv = (_first(meta.get("http-equiv")) or "").lower()
        content = _first(meta.get("content")) or ""
        if name == "robots":
            nofollow = nofollow or robots_says_nofollow(content)
        elif equiv == "refresh":
            target = refresh_url(content)
            if target:
                found.append((REDIRECT, target, "", None))
        elif equiv == "content-type" and charset is None:
            charset = charset_in(content)
    return found, nofollow, charset


def _is_html(headers: Headers, url: str, html_found: bool) -> bool:
    """HTML as the crawl decides it from headers and URL; with no Content-Type, whether ia-web-commons
    found HTML stands in for the crawl's look at the body ("sniffed-html")."""
    if not headers.get(b"Content-Type"):
        return html_found
    return issubclass(responsetypes.from_args(headers=headers, url=url), HtmlResponse)


def _first(value: Any) -> str | None:
    """A header or field value: a string, or the first of a list (repeated headers since Dec 2024)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _all(value: Any) -> list[str]:
    """Every value of a header: one string, or a list of them."""
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
