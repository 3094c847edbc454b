"""The server's read side of the index: connections per thread, and a cache that a write invalidates.

FastAPI runs each request in a thread pool. A SQLite connection serves one thread here (each has its own
read snapshot); a MongoDB client is thread-safe and pooled, so one is shared. Summaries and histories of
a big domain take tens of milliseconds; they are cached by the index's ``fingerprint()``, which moves
whenever a crawl or a rank commits, so a cached answer is never older than the last write.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

from backlinkspider import config
from backlinkspider.index import LinkIndex, open_index

T = TypeVar("T")
Key = tuple[object, ...]
CACHE_ENTRIES = 1024  # summaries, histories, pages of backlinks and counts kept per server process


def _serving(uri: str) -> LinkIndex:
    """The index read-only, every MongoDB read bounded by ``BACKLINKS_MONGO_TIMEOUT``, each round trip
    of a streamed one too: a request's client gives up long before ``BACKLINKS_MONGO_STREAM_TIMEOUT``,
    and the server must not go on reading for it."""
    settings = config.project_settings()
    settings.set("BACKLINKS_MONGO_STREAM_TIMEOUT", settings.getfloat("BACKLINKS_MONGO_TIMEOUT"))
    return open_index(uri, create=False, settings=settings)


class Reader:
    """Opens ``uri`` read-only (``opener`` is for tests that pass a MongoDB stand-in)."""

    def __init__(self, uri: str, opener: Callable[[str], LinkIndex] | None = None) -> None:
        self.uri = uri
        self._open = opener or _serving
        self._per_thread = uri.startswith("sqlite:")
        self._main = self._open(uri)  # also the one whose fingerprint() the cache reads
        self._fingerprint_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[LinkIndex] = [self._main]
        self._cache: OrderedDict[Key, tuple[list[int | None], Any]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._key_locks: dict[Key, threading.Lock] = {}

    def index(self) -> LinkIndex:
        """The calling thread's index."""
        if not self._per_thread:
            return self._main
        idx = getattr(self._local, "index", None)
        if idx is None:
            idx = self._local.index = self._open(self.uri)
            with self._cache_lock:
                self._all.append(idx)
        return idx

    def stream(self) -> Any:
        """An index of its own for a download: a stream outlives its request's thread. Close it."""
        return self._open(self.uri) if self._per_thread else _Unclosed(self._main)

    def cached(self, key: Key, compute: Callable[[LinkIndex], T]) -> T:
        """``compute(index)``, remembered until the index changes; one computation per key at a time."""
        with self._fingerprint_lock:
            seen = self._main.fingerprint()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit and hit[0] == seen:
                self._cache.move_to_end(key)
                return cast(T, hit[1])
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            with self._cache_lock:
                hit = self._cache.get(key)
                if hit and hit[0] == seen:
                    return cast(T, hit[1])
            value = compute(self.index())
            with self._cache_lock:
                self._cache[key] = (seen, value)
                self._cache.move_to_end(key)
                while len(self._cache) > CACHE_ENTRIES:
                    old, _ = self._cache.popitem(last=False)
                    self._key_locks.pop(old, None)
            return value

    def close(self) -> None:
        for idx in self._all:
            idx.close()


class _Unclosed:
    """A shared index lent to a stream: closing it is a no-op."""

    def __init__(self, index: LinkIndex) -> None:
        self._index = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def close(self) -> None:
        pass
