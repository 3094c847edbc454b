"""The per-target figures every backend keeps on write: one declaration, read by both.

Per target domain, each dimension counts the domain's edges (all, and live) under each of its values: the
summary of a domain with millions of backlinks is read from these counts, never from its edges. SQLite's
triggers are generated from ``DIMENSIONS`` (``sqlite/schema.py``), MongoDB's figure documents are updated
from it (``mongo/figures.py``); a dimension added here is counted by both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

FLAGS = ("nofollow", "ugc", "sponsored")


@dataclass(frozen=True)
class Dimension:
    """``name``: the dimension; an edge counts under the value of its field ``field`` or, without one,
    under the constant ``value``; only when ``when`` holds: an edge flag, "follow" (none of ``FLAGS``)
    or None (always). An ``optional`` field counts only edges that have a value (an edge with no known
    server address counts in no IP). Field names are those of an edge row in both backends."""

    name: str
    field: str | None = None
    value: str = ""
    when: str | None = None
    optional: bool = False

    def holds(self, edge: Mapping[str, Any]) -> bool:
        if self.when is None:
            return not self.optional or edge.get(self.field or "") is not None
        if self.when == "follow":
            return not any(edge[flag] for flag in FLAGS)
        return bool(edge[self.when])

    def value_of(self, edge: Mapping[str, Any]) -> str:
        return str(edge[self.field]) if self.field else self.value


DIMENSIONS = (
    Dimension("edge"),
    Dimension("rel", value="follow", when="follow"),
    Dimension("rel", value="nofollow", when="nofollow"),
    Dimension("rel", value="ugc", when="ugc"),
    Dimension("rel", value="sponsored", when="sponsored"),
    Dimension("type", "link_type"),
    Dimension("anchor", "anchor_text"),
    Dimension("ref_domain", "source_domain"),
    Dimension("ref_host", "source_host"),
    Dimension("ref_page", "source_url"),
    Dimension("page", "target_url"),
    Dimension("ref_ip", "source_ip", optional=True),
    Dimension("ref_subnet", "source_subnet", optional=True),
)


def values(edge: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The (dimension, value) pairs ``edge`` counts under."""
    return ((dim.name, dim.value_of(edge)) for dim in DIMENSIONS if dim.holds(edge))
