"""The driver's errors as the store's two (``IndexUnavailable``, ``BadRow``), and the retry loops.

The drivers' rules decide what may be sent again (the Retryable Writes specification,
https://github.com/mongodb/specifications/blob/master/source/retryable-writes/retryable-writes.md, and the
manual's "Retryable Writes"): a network error, an error labelled ``RetryableWriteError``, or one of the
codes a failover or a shutdown answers with (``RETRYABLE_CODES``). The driver itself retries such an error
once, and only when the server reports it for the whole command; mongos reports a shard's election as
per-operation ``writeErrors`` (NotWritablePrimary 10107, InterruptedDueToReplStateChange 11602 ...), which
no driver retries. So a bulk write is judged entry by entry (``write_all``):

1. an entry with a retryable code: that operation is sent again, alone with the others that failed (an
   unordered bulk applied the rest; an ordered one stopped there, so it and every later one are sent);
2. E11000 (duplicate key) on an upsert: ``rekey`` reads the document holding that ``_id`` and rewrites the
   operation to keep its shard key (a new public suffix list moved the edge's registered domain; SQLite
   keeps its row the same way); one that still collides is ``BadRow`` naming both domains;
3. any other entry (too large, failed validation): ``BadRow`` naming the page, at once;
4. a write concern error: sent again if retryable, else ``IndexUnavailable`` (the data is written, the
   concern cannot be met now).

A whole operation's error (``with_retries`` and ``write_all`` alike): retryable (rule above; for a
bulk that ``with_retries`` sends, every entry of its ``writeErrors`` retryable) is sent again whole; a timeout (``exc.timeout``: the operation outlived ``BACKLINKS_MONGO_TIMEOUT``, as a write concern
no set can satisfy does) is ``IndexUnavailable`` at once, as is any other ``PyMongoError`` (an
authorization failure ...); ``bson.errors.InvalidDocument`` (the driver refuses a document before
sending it) is ``BadRow``. Retries back off (0.1 s doubling to 5 s) until their window closes, then
``IndexUnavailable`` says for how long it tried; the pipeline then writes the batch again whole, later
(every write is an idempotent upsert or ``$set``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import pymongo
from bson.errors import InvalidDocument
from pymongo.errors import AutoReconnect, BulkWriteError, OperationFailure, PyMongoError

from backlinkspider.index.errors import BadRow, one_line, unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
Op = Any  # a pymongo write model (UpdateOne, UpdateMany ...)
DUPLICATE_KEY = 11000
# The retryable error codes of the Retryable Writes specification, and FailedToSatisfyReadPreference
# (133), which mongos answers while a shard has no primary.
RETRYABLE_CODES = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        133,  # FailedToSatisfyReadPreference
        134,  # ReadConcernMajorityNotAvailableYet
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
    }
)
RETRYABLE_LABEL = "RetryableWriteError"
# Duplicate-key operations by index -> (the rewrite, None if there is none; what the index holds, one line).
Rekey = Callable[[dict[int, Op]], dict[int, tuple[Op | None, str]]]
FIRST_DELAY, MAX_DELAY = 0.1, 5.0


def retryable(exc: BaseException) -> bool:
    """Whether the drivers' rules allow sending the whole operation again. A timeout never: the
    operation had its bounded time (a retry would make an unsatisfiable write concern a loop)."""
    if not isinstance(exc, PyMongoError) or exc.timeout:
        return False
    if isinstance(exc, AutoReconnect) or exc.has_error_label(RETRYABLE_LABEL):
        return True
    if isinstance(exc, BulkWriteError):  # sent again whole only when every refusal is a failover's
        errors = exc.details.get("writeErrors", []) + exc.details.get("writeConcernErrors", [])
        return bool(errors) and all(_code(error.get("code")) for error in errors)
    return isinstance(exc, OperationFailure) and _code(exc.code)


def _code(code: object) -> bool:
    return isinstance(code, int) and code in RETRYABLE_CODES


class Backoff:
    """Waits between tries, doubling, until ``window`` seconds after the first failure."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.deadline = time.monotonic() + window
        self.delay = FIRST_DELAY

    def bounded(self, timeout: float | None) -> AbstractContextManager[None]:
        """A try's ``pymongo.timeout``: ``timeout`` seconds, cut to what is left of the window (so the
        window bounds the whole operation); unbounded for None."""
        if timeout is None:
            return nullcontext()
        return pymongo.timeout(max(min(timeout, self.deadline - time.monotonic()), 0.001))

    def wait(self, verb: str, where: str, exc: BaseException | str) -> None:
        """Sleep before the next try, or raise ``IndexUnavailable`` when the window is over."""
        if time.monotonic() + self.delay > self.deadline:
            raise unavailable(verb, f"{where} for {self.window:.0f}s", exc)
        log.warning(
            "MongoDB: %s; retrying in %.1fs", exc if isinstance(exc, str) else one_line(exc), self.delay
        )
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, MAX_DELAY)


def with_retries(
    operation: Callable[[], T], verb: str, where: str, window: float, timeout: float | None = None
) -> T:
    """``operation()``, each try bounded by ``timeout`` seconds (``pymongo.timeout``: server selection,
    the server's work and the write concern's wait), its errors mapped by the module's rules; ``verb``
    ("read", "write to") and ``where`` (the redacted URI) make the message."""
    backoff = Backoff(window)
    while True:
        try:
            with backoff.bounded(timeout):
                return operation()
        except InvalidDocument as exc:
            raise BadRow(f"index {where} refused the batch: {one_line(exc)}") from None
        except PyMongoError as exc:
            if not retryable(exc):
                raise unavailable(verb, where, exc) from None
            backoff.wait(verb, where, exc)


def write_all(
    send: Callable[[list[Op], bool], object],
    ops: Sequence[Op],
    *,
    ordered: bool,
    where: str,
    window: float,
    timeout: float | None,
    owner: Callable[[int], str | None],
    rekey: Rekey | None = None,
) -> None:
    """Send ``ops`` (``send(ops, ordered)``, a ``bulk_write``) until every one is applied, by the module's
    rules. ``owner(i)``: the page URL operation ``i`` writes for (``BadRow`` names it). ``rekey``: for the
    duplicate-key operations by index, their rewrites (see ``Rekey``)."""
    pending = dict(enumerate(ops))
    backoff = Backoff(window)
    rekeyed: set[int] = set()
    while pending:
        keys, sent = list(pending), dict(pending)
        try:
            with backoff.bounded(timeout):
                send([pending[i] for i in keys], ordered)
            return
        except BulkWriteError as exc:
            if exc.timeout:  # MaxTimeMSExpired: the operation had its bounded time
                raise unavailable("write to", where, exc) from None
            failed = _failed(exc, keys, where, owner)
            duplicates = {i: pending[i] for i, code in failed.items() if code == DUPLICATE_KEY}
            for i, op in _rekeyed(duplicates, rekeyed, rekey, where, owner).items():
                pending[i] = op
            rekeyed |= duplicates.keys()
            applied = set(keys[: min(_positions(exc), default=len(keys))]) if ordered else set(keys)
            pending = {i: op for i, op in pending.items() if i in failed or i not in applied}
            if not failed:  # only a retryable write concern error: every operation again
                pending = sent
            if any(code != DUPLICATE_KEY for code in failed.values()) or not failed:
                backoff.wait("write to", where, one_line(exc))
        except InvalidDocument as exc:
            raise BadRow(f"index {where} refused the batch: {one_line(exc)}") from None
        except PyMongoError as exc:
            if not retryable(exc):
                raise unavailable("write to", where, exc) from None
            backoff.wait("write to", where, exc)


def _positions(exc: BulkWriteError) -> list[int]:
    return [int(error["index"]) for error in exc.details.get("writeErrors", [])]


def _failed(
    exc: BulkWriteError, keys: list[int], where: str, owner: Callable[[int], str | None]
) -> dict[int, int]:
    """The operations to send again (by their index in the whole bulk) with their error code; ``BadRow``
    for an entry the server refused for its data, ``IndexUnavailable`` for a write concern that cannot be
    met."""
    failed: dict[int, int] = {}
    for error in exc.details.get("writeErrors", []):
        i, code = keys[int(error["index"])], error.get("code")
        if code != DUPLICATE_KEY and not _code(code):
            url = owner(i)
            row = f"the row of page {url!r}" if url else "a row"
            raise BadRow(f"index {where} refused {row}: {one_line(error.get('errmsg', ''))}", url)
        failed[i] = int(code)
    for concern in exc.details.get("writeConcernErrors", []):
        labels = concern.get("errorLabels", []) + exc.details.get("errorLabels", [])
        if not (_code(concern.get("code")) or RETRYABLE_LABEL in labels):
            raise unavailable("write to", where, f"write concern: {one_line(concern.get('errmsg', ''))}")
    return failed


def _rekeyed(
    duplicates: dict[int, Op],
    tried: set[int],
    rekey: Rekey | None,
    where: str,
    owner: Callable[[int], str | None],
) -> dict[int, Op]:
    """Duplicate-key operations rewritten to the documents that hold their ``_id``. One that ``rekey``
    cannot rewrite, or that collides again after its rewrite, is ``BadRow`` saying why (the error cannot
    clear: never a retry loop)."""
    if not duplicates:
        return {}
    answers = rekey(duplicates) if rekey else {}
    for i in duplicates:
        op, why = answers.get(i, (None, "no document holds its _id"))
        if op is None or i in tried:
            url = owner(i)
            raise BadRow(f"index {where}: a row of page {url!r} keeps colliding on its _id: {why}", url)
    return {i: answers[i][0] for i in duplicates}


@contextmanager
def reading(where: str) -> Iterator[None]:
    """A read that streams (a cursor consumed by the caller) is not retried: rows already given cannot be
    taken back. Its failure is ``IndexUnavailable``."""
    try:
        yield
    except PyMongoError as exc:
        raise unavailable("read", where, exc) from None
