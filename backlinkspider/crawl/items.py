"""Page items as the index stores them: any spider's items (ours, a dict, a dataclass, a scrapy.Item,
read through itemadapter) and an archive's (``ArchivedPage``) turned into one ``CrawledPage`` each, with
hosts and registered domains, so a crawl and an ingest write the same records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from itemadapter import ItemAdapter, is_item

from backlinkspider.archives.capture import ip_address
from backlinkspider.config import SETTINGS
from backlinkspider.records import CrawledPage, Edge, Link
from backlinkspider.standards.urls import host_of, registered_domain

MAX_ANCHOR = int(SETTINGS["BACKLINKS_MAX_ANCHOR"].default or 0)  # a caller without a run's settings


def crawled_page(item: Any, keep_internal: bool, now: datetime, max_anchor: int = MAX_ANCHOR) -> CrawledPage:
    """What the index writes for a page item: its edges (see ``page_edges``), ``failed`` and ``status``,
    and the capture's facts.

    ``seen_at`` is the item's ``captured_at`` (an archive's WARC-Date) when it has one, else ``now``
    (the fetch); ``provenance`` its ``archive`` (else "crawl"); ``ip_address`` its ``ip_address`` in
    canonical spelling (None when absent or not an address). Raises on an item no index can take (a
    link without a target URL, a URL that is not one); a naive ``captured_at`` is taken as UTC."""
    adapter = ItemAdapter(item)
    captured_at = adapter.get("captured_at")
    seen_at = captured_at if isinstance(captured_at, datetime) else now
    if seen_at.tzinfo is None:
        seen_at = seen_at.replace(tzinfo=UTC)
    return CrawledPage(
        adapter["url"],
        seen_at,
        page_edges(item, keep_internal, max_anchor),
        bool(adapter.get("failed", False)),
        adapter.get("status"),
        str(adapter.get("archive") or "crawl"),
        ip_address(adapter.get("ip_address")),
    )


def page_edges(page: Any, keep_internal: bool, max_anchor: int = MAX_ANCHOR) -> tuple[Edge, ...]:
    """The edges of a page item as the index stores them: with hosts and registered domains, anchors cut
    to ``max_anchor`` characters (BACKLINKS_MAX_ANCHOR), and without internal links unless
    ``keep_internal``.

    A page item is any item (dict, dataclass, attrs, scrapy.Item; read through itemadapter) with ``url``
    (str), ``links`` (a list of ``{target_url, link_type, anchor_text, nofollow, ugc, sponsored}``: only
    ``target_url`` is required; ``link_type`` defaults to "text", the rest to "" and false) and optionally
    ``failed`` (true: the fetch failed). ``Page`` is one."""
    adapter = ItemAdapter(page)
    url = adapter["url"]
    source_host = host_of(url)
    source_domain = registered_domain(source_host)
    edges = []
    for link in adapter.get("links") or ():
        # Our Link as it is (the crawl's and the archives' pages: asking itemadapter costs a third of an
        # archive's ingest); any other link through _link_fields.
        fields = link if type(link) is Link else _link_fields(link)
        target_url, link_type, anchor_text, nofollow, ugc, sponsored = fields
        if not isinstance(target_url, str):
            raise ValueError(f"a link of {url} has no target_url string")
        target_host = host_of(target_url)
        target_domain = registered_domain(target_host)
        if target_domain == source_domain and not keep_internal:
            continue
        edges.append(
            Edge(
                url,
                target_url,
                link_type,
                anchor_text[:max_anchor]
                if isinstance(anchor_text, str)
                else anchor_text,  # checks.py refuses a non-str
                bool(nofollow),
                bool(ugc),
                bool(sponsored),
                source_host,
                source_domain,
                target_host,
                target_domain,
            )
        )
    return tuple(edges)


def _link_fields(link: Any) -> tuple[Any, ...]:
    """A link's fields in ``Link``'s order: from a dict (or any item) or an object with these attributes
    (a NamedTuple of one's own), with Link's defaults."""
    adapter = ItemAdapter(link) if is_item(link) else None

    def get(name: str, default: Any) -> Any:
        return adapter.get(name, default) if adapter is not None else getattr(link, name, default)

    return (
        get("target_url", None),
        get("link_type", "text"),
        get("anchor_text", ""),
        get("nofollow", False),
        get("ugc", False),
        get("sponsored", False),
    )
