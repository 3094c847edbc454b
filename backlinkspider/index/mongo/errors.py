"""The driver's errors as the store's two (``IndexUnavailable``, ``BadRow``), and the retry loop.

The rules, in the order they are applied to an operation's error:

1. ``bson.errors.InvalidDocument`` (the driver refuses a document before sending it: too large, say):
   ``BadRow``, at once.
2. ``AutoReconnect`` and its kin (``NotPrimaryError``, ``NetworkTimeout``, no server selectable): retried.
3. ``BulkWriteError`` whose ``writeErrors`` are all duplicate keys (E11000: two upserts of one new edge
   raced, here or on another worker): retried; the retry updates the document the winner inserted.
4. ``BulkWriteError`` with any other entry in ``writeErrors`` (too large, failed validation): ``BadRow``,
   at once: the server refused the data, reach is not the problem.
5. Any other ``PyMongoError`` (a write concern error, an authorization failure ...): ``IndexUnavailable``,
   at once.

Retries back off exponentially (0.1 s doubling to 5 s) for ``retry_seconds``, then ``IndexUnavailable``
says for how long it tried. Every write is an idempotent upsert or ``$set``, so an operation retried whole
(its acknowledgement lost, say) lands once. Issue 18 refines these rules per ``writeErrors`` entry (a
failover reported per operation by mongos is retryable); they live here so that change touches one module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from bson.errors import InvalidDocument
from pymongo.errors import AutoReconnect, BulkWriteError, PyMongoError

from backlinkspider.index.errors import BadRow, one_line, unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
DUPLICATE_KEY = 11000
FIRST_DELAY, MAX_DELAY = 0.1, 5.0


def with_retries(operation: Callable[[], T], verb: str, where: str, retry_seconds: float) -> T:
    """``operation()``, its errors mapped by the module's rules; ``verb`` ("read", "write to") and
    ``where`` (the redacted URI) make the message."""
    deadline = time.monotonic() + retry_seconds
    delay = FIRST_DELAY
    while True:
        try:
            return operation()
        except (InvalidDocument, AutoReconnect, BulkWriteError) as exc:
            if not _transient(exc, where):
                raise unavailable(verb, where, exc) from None
            if time.monotonic() + delay > deadline:
                raise unavailable(verb, f"{where} for {retry_seconds:.0f}s", exc) from None
            log.warning("MongoDB: %s; retrying in %.1fs", one_line(exc), delay)
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
        except PyMongoError as exc:
            raise unavailable(verb, where, exc) from None


def _transient(exc: InvalidDocument | AutoReconnect | BulkWriteError, where: str) -> bool:
    """Whether a retry may succeed (rules 2 and 3); ``BadRow`` for data the index refuses (1 and 4);
    False for the rest of rule 5."""
    if isinstance(exc, AutoReconnect):
        return True
    if isinstance(exc, BulkWriteError):
        codes = [error.get("code") for error in exc.details.get("writeErrors", [])]
        if not codes:  # a write concern error: rule 5
            return False
        if all(code == DUPLICATE_KEY for code in codes):
            return True
    raise BadRow(f"index {where} refused the batch: {one_line(exc)}") from None


@contextmanager
def reading(where: str) -> Iterator[None]:
    """A read that streams (a cursor consumed by the caller) is not retried: rows already given cannot be
    taken back. Its failure is ``IndexUnavailable``."""
    try:
        yield
    except PyMongoError as exc:
        raise unavailable("read", where, exc) from None
