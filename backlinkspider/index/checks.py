"""What every backend can store (bridge: the query-layer branch moves ``checked`` here from index/base;
until it lands, this re-export lets the MongoDB store import it from where it will live)."""

from backlinkspider.index.base import checked

__all__ = ["checked"]
