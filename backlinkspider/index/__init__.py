"""Storage only: backends behind one narrow interface (``protocols.LinkIndex``), chosen by URI.

``sqlite:///path.db`` (relative) or ``sqlite:////abs/path.db`` is the embedded default;
``mongodb://[user:password@]host[:port][,host...]/[database][?options]`` (or ``mongodb+srv://``) the
cluster one. Every rule a person sees is in ``backlinkspider.query``, above this package.
"""

from __future__ import annotations

from typing import Any

from backlinkspider.index.errors import BadRow, IndexUnavailable
from backlinkspider.index.protocols import LinkIndex
from backlinkspider.redact import redact

DEFAULT_INDEX = "sqlite:///backlinks.db"

__all__ = ["DEFAULT_INDEX", "BadRow", "IndexUnavailable", "LinkIndex", "open_index"]


def open_index(uri: str, *, create: bool = True, settings: Any = None) -> LinkIndex:
    """Open the index a URI names. ``create=False`` (readers) fails on an index that does not exist yet.
    ``settings``: the run's (a crawl's), for the MongoDB limits; None: the project's and the environment's."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise IndexUnavailable(
            f"not an index URI: {redact(uri)!r} (expected sqlite:///PATH or mongodb://...)"
        )
    if scheme == "sqlite":
        from backlinkspider.index.sqlite import SQLiteStore

        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise IndexUnavailable(f"no file in index URI {uri!r} (expected sqlite:///PATH)")
        return SQLiteStore(path, create=create)
    if scheme in ("mongodb", "mongodb+srv"):
        from backlinkspider.index.mongo import MongoStore
        from backlinkspider.index.mongo.limits import Limits

        return MongoStore(uri, create=create, limits=Limits.from_settings(settings))
    raise IndexUnavailable(
        f"unsupported index URI scheme {scheme!r} in {redact(uri)!r} (expected sqlite or mongodb)"
    )
