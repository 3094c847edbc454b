"""Web archives written by the tests: WARC files (warcio, an implementation apart from FastWARC, which
reads them) and WAT files in the shape of Common Crawl's records (ia-web-commons' fields, before and after
December 2024), from responses the tests describe (``Resp``) or the real pages of ../shared/corpus."""

from __future__ import annotations

import gzip
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import Headers as ScrapyHeaders
from scrapy.responsetypes import responsetypes
from selectolax.lexbor import LexborHTMLParser
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from backlinkspider.archives import Limits
from backlinkspider.crawl.extraction import extract_in_worker, fetched
from backlinkspider.crawl.spider import BacklinksSpider
from backlinkspider.standards.encoding import decode_html
from backlinkspider.standards.extract import Page
from backlinkspider.standards.urls import normalize

CORPUS = Path(os.environ.get("BACKLINKS_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
DATE = "2025-10-12T08:30:15Z"
CAPTURED = datetime(2025, 10, 12, 8, 30, 15, tzinfo=UTC)
IP = "93.184.215.14"
NO_LIMITS = Limits(max_links=0, max_url_length=0)
Headers = list[tuple[str, str]]


class Resp:
    """One captured HTTP response, as a test writes it into an archive."""

    def __init__(
        self, url: str, body: bytes = b"", status: int = 200, headers: Headers | None = None, **warc: str
    ) -> None:
        self.url, self.body, self.status = url, body, status
        self.headers = [("Content-Type", "text/html")] if headers is None else headers
        self.warc = {"WARC-Date": DATE, "WARC-IP-Address": IP, **warc}

    def crawl(self, limits: Limits | None = None) -> Page:
        """The page the crawl makes of this response: the spider's errback's failed page for an HTTP error
        (BacklinksSpider.on_error), else its extraction's (headers grouped as Scrapy's are)."""
        if not (200 <= self.status < 300 or self.status in BacklinksSpider.handle_httpstatus_list):
            return Page(normalize(self.url), failed=True)
        limits = limits or Limits()
        grouped: dict[bytes, list[bytes]] = {}
        for name, value in self.headers:
            grouped.setdefault(name.encode(), []).append(value.encode("latin-1"))
        url, headers = normalize(self.url), ScrapyHeaders(grouped)
        response = responsetypes.from_args(headers=headers, url=url, body=self.body)(
            url=url, status=self.status, headers=headers, body=self.body
        )
        return extract_in_worker(fetched(response), limits.max_links, limits.max_url_length).page


def write_warc(
    path: Path, responses: list[Resp], compress: bool = True, is_part_of: str = "CC-MAIN-2025-43"
) -> Path:
    """A WARC file as crawlers write them: warcinfo, then each response with the request before it."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=compress)
        writer.write_record(
            writer.create_warcinfo_record(path.name, {"isPartOf": is_part_of, "software": "test"})
        )
        for resp in responses:
            request = writer.create_warc_record(
                resp.url,
                "request",
                payload=io.BytesIO(b""),
                http_headers=StatusAndHeaders("GET / HTTP/1.1", [("Host", "x")], is_http_request=True),
                warc_headers_dict={"WARC-Date": DATE},
            )
            writer.write_record(request)
            http = StatusAndHeaders(f"{resp.status} X", resp.headers, protocol="HTTP/1.1")
            record = writer.create_warc_record(
                resp.url,
                "response",
                payload=io.BytesIO(resp.body),
                http_headers=http,
                warc_headers_dict=resp.warc,
            )
            writer.write_record(record)
    return path


def corpus_pages() -> list[dict[str, Any]]:
    index = CORPUS / "index.jsonl"
    if not index.is_file():
        pytest.skip(f"the corpus is expected at {CORPUS} (set BACKLINKS_CORPUS)")
    return [json.loads(line) for line in index.read_text().splitlines()]


def corpus_responses() -> list[Resp]:
    # No charset in the headers: the corpus pages are decoded from their bytes, as the expected files were.
    return [Resp(p["url"], gzip.decompress((CORPUS / p["page"]).read_bytes())) for p in corpus_pages()]


def html(body: str) -> bytes:
    return f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>".encode()


def html_metadata(text: str) -> dict[str, Any]:
    """``HTML-Metadata`` as ia-web-commons writes it for a document (its fields and shapes; the tree is read
    with the crawl's parser, so parser differences are not reproduced)."""
    tree = LexborHTMLParser(text)
    head: dict[str, Any] = {"Title": (tree.css_first("title").text() if tree.css_first("title") else "")}
    metas = [
        {
            k: v
            for k, v in node.attributes.items()
            if k in ("name", "rel", "content", "http-equiv", "property") and v is not None
        }
        for node in tree.css("meta")
    ]
    head["Metas"] = [m for m in metas if m]
    head["Link"] = [
        {
            "path": "LINK@/href",
            "url": node.attributes["href"],
            **{k: node.attributes[k] for k in ("rel", "type") if node.attributes.get(k)},
        }
        for node in tree.css("link[href]")
    ]
    base = tree.css_first("base[href]")
    if base is not None:
        head["Base"] = base.attributes["href"]
    links: list[dict[str, Any]] = []
    for node in tree.css("a, area, img[src]"):
        attrs = node.attributes
        if node.tag == "img":
            links.append(
                {
                    "path": "IMG@/src",
                    "url": attrs["src"],
                    **({"alt": attrs["alt"]} if attrs.get("alt") else {}),
                }
            )
        elif node.tag == "area" and attrs.get("href") is not None:
            links.append(
                {
                    "path": "AREA@/href",
                    "url": attrs["href"],
                    **({"rel": attrs["rel"]} if attrs.get("rel") else {}),
                }
            )
        elif node.tag == "a" and attrs.get("href") is not None:
            entry = {"path": "A@/href", "url": attrs["href"]}
            entry.update({k: attrs[k] for k in ("target", "title", "rel") if attrs.get(k) is not None})
            anchor = " ".join(node.text(deep=True).split())[:128]
            if anchor:
                entry["text"] = anchor
            links.append(entry)
    return {"Head": head, "Links": links}


def wat_envelope(resp: Resp, since_2024_12: bool) -> dict[str, Any]:
    """The JSON of a WAT record for a response, in the shape of Common Crawl's records of the time."""
    headers: dict[str, Any] = {}
    for name, value in resp.headers:
        if since_2024_12 and name in headers:
            previous = headers[name]
            headers[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            headers[name] = value  # before December 2024, one value per header name
    http_meta: dict[str, Any] = {
        "Response-Message": {"Status": str(resp.status), "Version": "HTTP/1.1", "Reason": "X"},
        "Headers": headers,
        "Headers-Length": "200",
        "Entity-Length": str(len(resp.body)),
    }
    content_type = dict(resp.headers).get("Content-Type", "")
    if 200 <= resp.status < 300 and "html" in content_type:
        charset = None
        for name, value in resp.headers:
            if name == "Content-Type" and "charset=" in value:
                charset = value.split("charset=")[1]
        text, _ = decode_html(resp.body, f"text/html; charset={charset}" if charset else None)
        http_meta["HTML-Metadata"] = html_metadata(text)
    return {
        "Container": {
            "Filename": "CC-MAIN-20251012083015-00001.warc.gz",
            "Compressed": True,
            "Offset": "1234",
        },
        "Envelope": {
            "Format": "WARC",
            "WARC-Header-Length": "600",
            "WARC-Header-Metadata": {
                "WARC-Type": "response",
                "WARC-Target-URI": resp.url,
                "Content-Type": "application/http; msgtype=response",
                **resp.warc,
            },
            "Payload-Metadata": {
                "Actual-Content-Type": "application/http; msgtype=response",
                "HTTP-Response-Metadata": http_meta,
            },
        },
    }


def write_wat(path: Path, responses: list[Resp], since_2024_12: bool = True) -> Path:
    """A WAT file as Common Crawl writes them: warcinfo (no isPartOf), then a metadata record of JSON for
    each record of the WARC (here its warcinfo, then a request and a response for each page)."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        info = {
            "Software-Info": "ia-web-commons.1.1.10",
            "Extracted-Date": "Sun, 12 Oct 2025 09:00:00 GMT",
            "format": "WARC File Format 1.0",
        }
        writer.write_record(writer.create_warcinfo_record(path.name, info))
        warcinfo = {"Envelope": {"WARC-Header-Metadata": {"WARC-Type": "warcinfo", "WARC-Date": DATE}}}
        payload = io.BytesIO(json.dumps(warcinfo).encode())
        writer.write_record(
            writer.create_warc_record(None, "metadata", payload=payload, warc_content_type="application/json")
        )
        for resp in responses:
            request = {
                "Envelope": {
                    "WARC-Header-Metadata": {
                        "WARC-Type": "request",
                        "WARC-Target-URI": resp.url,
                        "WARC-Date": DATE,
                    }
                }
            }
            for envelope in (request, wat_envelope(resp, since_2024_12)):
                payload = io.BytesIO(json.dumps(envelope).encode())
                record = writer.create_warc_record(
                    resp.url, "metadata", payload=payload, warc_content_type="application/json"
                )
                writer.write_record(record)
    return path
