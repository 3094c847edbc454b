"""Page items as the index stores them: any spider's items (ours, a dict, a dataclass, a scrapy.Item,
read through itemadapter) turned into edges with hosts and registered domains."""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter, is_item

from backlinkspider.config import SETTINGS
from backlinkspider.records import Edge
from backlinkspider.standards.urls import host_of, registered_domain

MAX_ANCHOR = int(SETTINGS["BACKLINKS_MAX_ANCHOR"].default or 0)  # a caller without a run's settings


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
        # A dict (or any item) per link, or an object with these attributes (our Link, a NamedTuple).
        get = (
            ItemAdapter(link).get
            if is_item(link)
            else lambda name, default, link=link: getattr(link, name, default)
        )
        target_url = get("target_url", None)
        if not isinstance(target_url, str):
            raise ValueError(f"a link of {url} has no target_url string")
        target_host = host_of(target_url)
        target_domain = registered_domain(target_host)
        if target_domain == source_domain and not keep_internal:
            continue
        anchor = get("anchor_text", "")
        edges.append(
            Edge(
                url,
                target_url,
                get("link_type", "text"),
                anchor[:max_anchor] if isinstance(anchor, str) else anchor,  # checks.py refuses a non-str
                bool(get("nofollow", False)),
                bool(get("ugc", False)),
                bool(get("sponsored", False)),
                source_host,
                source_domain,
                target_host,
                target_domain,
            )
        )
    return tuple(edges)
