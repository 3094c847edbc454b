"""Link index backends behind one interface (``base.LinkIndex``), chosen by URI.

``sqlite:///path.db`` (relative) or ``sqlite:////abs/path.db`` is the embedded default.
"""

from __future__ import annotations

from backlinkspider.index.base import (
    FIELDS,
    BadTarget,
    CrawledPage,
    Edge,
    IndexUnavailable,
    LinkIndex,
    Target,
    parse_target,
)

DEFAULT_INDEX = "sqlite:///backlinks.db"

__all__ = [
    "DEFAULT_INDEX",
    "FIELDS",
    "BadTarget",
    "CrawledPage",
    "Edge",
    "IndexUnavailable",
    "LinkIndex",
    "Target",
    "open_index",
    "parse_target",
]


def open_index(uri: str, *, create: bool = True) -> LinkIndex:
    """Open the index a URI names. ``create=False`` (readers) fails on an index that does not exist yet."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise IndexUnavailable(f"not an index URI: {uri!r} (expected sqlite:///PATH)")
    if scheme == "sqlite":
        from backlinkspider.index.sqlite import SQLiteIndex

        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise IndexUnavailable(f"no file in index URI {uri!r} (expected sqlite:///PATH)")
        return SQLiteIndex(path, create=create)
    raise IndexUnavailable(f"unsupported index URI scheme {scheme!r} in {uri!r} (expected sqlite)")
