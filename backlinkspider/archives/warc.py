"""A WARC ``response`` record as the page the crawl would have made of the same response.

The record's HTTP message goes through the crawl's own chain, not a copy of it: the response Scrapy's
downloader would have built (``responsetypes.from_args``), Scrapy's ``HttpCompressionMiddleware`` (gzip,
deflate, br, zstd, bounded by DOWNLOAD_MAXSIZE), the spider's status filter, then
``extractpool.extract_in_worker``: the extractor and the link budget every crawled page goes through. So
page encoding (headers, BOM, meta), ``<base>``, rel flags, meta robots and X-Robots-Tag, canonical, refresh
and the link caps are the crawl's, by construction.

Responses the crawl would not parse, handled as the crawl handles them:

- 3xx (the spider's ``handle_httpstatus_list``): the redirect edge from ``Location``, nothing else.
- Any other status outside 2xx: a failed page (``failed=True``, no links), as the spider's errback makes
  of an HTTP error; the index counts it toward lost links as it counts a failed re-crawl.
- 2xx not HTML (by headers, URL and body, as Scrapy decides): a page with no links, as crawled.
- A body over DOWNLOAD_MAXSIZE (as stored, or once decompressed): the crawl's download fails (HTML: a failed
  page) or its decompression is refused (a skip, ``too large``); a non-HTML body the crawl stops reading
  early gives its page with no links, as here.
- ``WARC-Truncated`` (the archiver kept only part of the body): the crawl never parses a partial body, and
  the cut is the archiver's limit, not the server's answer, so a 2xx HTML record is skipped (``truncated``),
  like an extraction the crawl abandons: the index keeps what it knew of the page. A truncated 3xx or
  non-HTML record is read as usual (its body does not matter).
- Transfer-Encoding ``chunked`` (kept as sent by some archivers; Common Crawl stores bodies de-chunked) is
  undone as the crawl's HTTP client undoes it; a body that is not in chunks is read as stored (some
  archivers de-chunk it and keep the header; warcio reads such records the same way).
"""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from fastwarc.stream_io import ChunkedReader
from fastwarc.warc import WarcRecord
from scrapy import Request
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Headers, HtmlResponse, Response
from scrapy.responsetypes import responsetypes
from scrapy.signalmanager import SignalManager

from backlinkspider import config
from backlinkspider.archives.capture import Capture, Limits, Skip
from backlinkspider.crawl.extraction import Extracted, extract_in_worker, fetched
from backlinkspider.crawl.spider import BacklinksSpider
from backlinkspider.standards.extract import Page

# Statuses the spider reads itself (redirects); with 2xx, the only ones that reach it.
PARSED_STATUSES = frozenset(BacklinksSpider.handle_httpstatus_list)


def response_page(record: WarcRecord, capture: Capture, limits: Limits) -> Extracted:
    """The page the crawl makes of this response record (see the module docstring); Skip when it makes
    none."""
    response = _response(record, capture.url, limits)
    if isinstance(response, Page):
        return Extracted(response)
    if capture.truncated and 200 <= response.status < 300 and isinstance(response, HtmlResponse):
        raise Skip("truncated")
    return extract_in_worker(fetched(response), limits.max_links, limits.max_url_length)


def _response(record: WarcRecord, url: str, limits: Limits) -> Response | Page:
    """The response the spider would have been given for this record, or the failed page its errback
    would have made."""
    try:
        record.parse_http()
    except OSError:
        raise Skip("bad http headers") from None
    http = record.http_headers
    status = http.status_code if http is not None else None
    if http is None or status is None:
        raise Skip("not http")
    if not (200 <= status < 300 or status in PARSED_STATUSES):
        return Page(url, failed=True)
    headers: dict[bytes, list[bytes]] = {}
    for name, value in http.items_bytes():
        headers.setdefault(name, []).append(value)
    response_headers = Headers(headers)
    body, too_large = _body(record, limits.max_size)
    if b"chunked" in b",".join(response_headers.getlist(b"Transfer-Encoding")).lower():
        with contextlib.suppress(OSError):  # not in chunks: stored de-chunked, header kept
            body = ChunkedReader(io.BytesIO(body)).read()
    cls = responsetypes.from_args(headers=response_headers, url=url, body=body)
    response = cls(url=url, status=status, headers=response_headers, body=body)
    if too_large and isinstance(response, HtmlResponse):
        return Page(url, failed=True)
    return _decompressed(response, limits)


def _decompressed(response: Response, limits: Limits) -> Response | Page:
    """The response after Scrapy's HttpCompressionMiddleware, as the spider receives it (the middleware
    returns a response without ``Content-Encoding`` as it is: no Request is made for it then)."""
    if not response.headers.getlist(b"Content-Encoding"):
        return response
    try:
        decoded = _compression(limits.max_size, limits.warn_size).process_response(
            Request(response.url), response
        )
    except IgnoreRequest:
        raise Skip("too large") from None
    except Exception:  # a corrupt compressed body: the crawl's download of it fails
        return Page(response.url, failed=True)
    assert isinstance(decoded, Response)  # the middleware returns no new request
    return decoded


def _body(record: WarcRecord, max_size: int) -> tuple[bytes, bool]:
    """The record's HTTP body, at most ``max_size`` bytes of it (constant memory), and whether there was
    more."""
    body = record.reader.read(max_size + 1) if max_size else record.reader.read()
    if max_size and len(body) > max_size:
        return body[:max_size], True
    return body, False


@lru_cache(maxsize=4)
def _compression(max_size: int, warn_size: int) -> HttpCompressionMiddleware:
    """Scrapy's own decompression, with the crawl's size limits (it reads them off a crawler)."""
    settings = config.project_settings({"DOWNLOAD_MAXSIZE": max_size, "DOWNLOAD_WARNSIZE": warn_size})
    crawler: Any = SimpleNamespace(stats=None, settings=settings, signals=SignalManager())
    return HttpCompressionMiddleware(crawler=crawler)
