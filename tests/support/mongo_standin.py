"""The in-process MongoDB stand-in the tests use where no server is given, made strict.

mongomock-ng (a maintained fork of mongomock that works with pymongo >= 4.11) runs our queries, but it
accepts some writes a real server rejects. ``strict_client()`` checks every bulk write against those rules
first, so a test fails here where production would fail on a server:

- an update document holds only update operators;
- no field is named by two operators, nor is one a prefix of another (a server: "would create a
  conflict"), e.g. ``$set`` and ``$setOnInsert`` of one field;
- ``_id`` is never written by an operator (immutable);
- an update pipeline holds only the stages a server allows there, and writes neither ``_id`` nor the
  shard key;
- an upsert into the sharded links collection names the shard key (``target_domain``, ``_id``) by
  equality, as sharded upserts require.

``deny_writes(client)`` makes the client act as a user with the ``read`` role only: every write command
fails with the server's Unauthorized error (code 13), even one that would match nothing, as authorization
is checked before a command runs.

It answers like a server where the store's error handling is decided:

- a duplicate ``_id`` is E11000 in ``writeErrors`` (mongomock's own answer), also when an upsert's filter
  names another ``target_domain`` than the stored document's (a shard-key change);
- ``Failover`` makes the next bulk writes of a collection fail some of their operations as per-operation
  ``writeErrors`` with a failover's code (NotWritablePrimary 10107 ...), the others applied (an unordered
  bulk on mongos during a shard's election; an ordered one stops at the first), which drivers never retry;
- ``unsatisfiable_write_concern(client)``: every write waits for its write concern until the operation's
  timeout (``pymongo.timeout``), then fails as the driver does (``NetworkTimeout``, ``timeout`` true); a
  write with no timeout would never return, so the stand-in refuses it (``ServerWouldReject``).

Run as a script it is the stand-in for a whole CLI run in one process:
``python tests/support/mongo_standin.py crawl URL --index mongodb://standin/backlinks ...`` then the same process
runs ``export`` and prints it, after the crawl (the data lives in this process's memory).
"""

from __future__ import annotations

import bisect
import itertools
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import mongomock_ng
from mongomock_ng.filtering import NOTHING, _get_compare_type, filter_applies, resolve_key
from mongomock_ng.geospatial import extract_near_specs
from pymongo import UpdateMany, UpdateOne, _csot
from pymongo.errors import AutoReconnect, BulkWriteError, DuplicateKeyError, NetworkTimeout, OperationFailure

SHARD_KEY = ("target_domain", "_id")


class ServerWouldReject(AssertionError):
    """A write the stand-in accepts but a real MongoDB server rejects."""


PIPELINE_STAGES = {"$addFields", "$set", "$project", "$unset", "$replaceRoot", "$replaceWith"}


def check_update(
    filter_: dict[str, Any], update: dict[str, Any] | list[dict[str, Any]], upsert: bool, sharded: bool = True
) -> None:
    if isinstance(update, list):  # an update pipeline: only these stages, and never _id or the shard key
        if not update or not all(
            len(stage) == 1 and next(iter(stage)) in PIPELINE_STAGES for stage in update
        ):
            raise ServerWouldReject(f"an update pipeline allows only {sorted(PIPELINE_STAGES)}: {update}")
        written = {
            path for stage in update for body in stage.values() if isinstance(body, dict) for path in body
        }
        if written & set(SHARD_KEY):
            raise ServerWouldReject(f"an update pipeline must not write _id or the shard key: {update}")
        paths: list[str] = []
    else:
        if not update or not all(k.startswith("$") for k in update):
            raise ServerWouldReject(f"update must hold only operators: {update}")
        paths = [path for op in update.values() for path in op]
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            if a == b or a.startswith(b + ".") or b.startswith(a + "."):
                raise ServerWouldReject(f"conflicting update paths {a!r} and {b!r}: {update}")
    if "_id" in paths:
        raise ServerWouldReject(f"_id is immutable: {update}")
    if sharded and upsert and not all(k in filter_ and not isinstance(filter_[k], dict) for k in SHARD_KEY):
        raise ServerWouldReject(f"a sharded upsert must name {SHARD_KEY} by equality: {filter_}")


WRITE_COMMANDS = {
    "bulk_write": "update",
    "insert_one": "insert",
    "insert_many": "insert",
    "update_one": "update",
    "update_many": "update",
    "replace_one": "update",
    "delete_one": "delete",
    "delete_many": "delete",
    "find_one_and_update": "findAndModify",
    "create_index": "createIndexes",
    "create_indexes": "createIndexes",
    "drop_index": "dropIndexes",
    "drop": "drop",
}


def deny_writes(client: Any) -> Any:
    """The client now acts as a user who may read but not write (see the module's docstring)."""
    client._standin_read_only = True
    return client


def _unauthorized(collection: Any, command: str) -> OperationFailure:
    db = collection.database.name
    message = f'not authorized on {db} to execute command {{ {command}: "{collection.name}", ... }}'
    return OperationFailure(message, 13, {"ok": 0, "errmsg": message, "code": 13, "codeName": "Unauthorized"})


def unsatisfiable_write_concern(client: Any) -> Any:
    """Every write now waits for a write concern no member set can satisfy (see the module's docstring)."""
    client._standin_stuck_writes = True
    return client


def _wait_for_write_concern() -> None:
    """Block until the operation's deadline, then fail as the driver does when it passes."""
    left = _csot.remaining()
    if left is None:
        raise ServerWouldReject(
            "a write waiting for an unsatisfiable write concern, with no timeout, never returns"
        )
    time.sleep(max(left, 0))
    raise NetworkTimeout(f"timed out (configured timeouts: timeoutMS: {_csot.get_timeout() * 1000:.1f}ms)")


class StrictCollection(mongomock_ng.collection.Collection):
    def _as_the_server_would(self, name: str) -> None:
        """Before a write command: refuse it (a read-only user) or block it past its deadline (an
        unsatisfiable write concern), as the client's flags say."""
        flags = vars(self.database.client)
        if flags.get("_standin_read_only", False):
            raise _unauthorized(self, WRITE_COMMANDS[name])
        if flags.get("_standin_stuck_writes", False):
            _wait_for_write_concern()

    def _iter_documents(self, filter):
        """Documents named by ``_id`` (a value, or ``$in`` values) are looked up, as a server's ``_id``
        index finds them, instead of mongomock's scan of the whole collection for every update: the
        per-target figures update thousands of documents by ``_id`` a batch, and the scan made the
        stand-in's writes quadratic. The rest of the filter is applied to what the lookup found (not
        the ``_id`` part, which the lookup decided: mongomock tests ``$in`` by a walk of its list, so a
        batch's ``$in`` of n ids cost n² comparisons). Other filters, and ``_id`` values that may not
        hash as stored, are mongomock's, but for a scan those whose field holds another string than the
        filter's equality on it names are passed over unmatched (``_string_equalities``)."""
        ids = _ids_named(filter)
        if ids is None or self._store.is_empty:
            texts = _string_equalities(filter)
            if not texts or self._store.is_empty:
                return super()._iter_documents(filter)
            return (
                doc
                for doc in list(self._store.documents)
                if all(type(v := doc.get(f)) is not str or v == text for f, text in texts)
                and filter_applies(filter, doc)
            )
        store = self._store
        found = [store[i] for i in dict.fromkeys(ids) if i in store]
        rest = {k: v for k, v in filter.items() if k != "_id"}
        if not rest:
            return iter(found)
        return (doc for doc in found if filter_applies(rest, doc))

    def find(self, *args, **kwargs):
        cursor = super().find(*args, **kwargs)
        cursor.__class__ = StrictCursor
        return cursor

    def _get_dataset(self, spec, sort, fields, as_class):
        """mongomock's, with its sort made by native keys (``_native_sort_key``) where every sort value
        has one: mongomock compares wrapped values in Python, microseconds a comparison, so a sorted
        find over a million documents took minutes. The same order: its stable sorts, last key first,
        on keys ordered as ``filtering.bson_compare`` orders their values."""
        keys = _sort_keys(sort)
        if keys is None or (spec and extract_near_specs(spec)[0]):
            yield from super()._get_dataset(spec, sort, fields, as_class)
            return
        mongomock_ng.collection._profiler_set_sort(sort)
        documents = list(self._iter_documents(spec))
        try:
            for name, direction in reversed(keys):
                values = [_native_sort_key(_field(doc, name)) for doc in documents]
                order = sorted(range(len(documents)), key=values.__getitem__, reverse=direction < 0)
                documents = [documents[i] for i in order]
        except (_NoNativeKey, TypeError):
            yield from super()._get_dataset(spec, sort, fields, as_class)
            return
        for document in documents:
            result = self._copy_only_fields(document, fields, as_class, filter=spec)
            if result is not None:
                yield result

    def bulk_write(self, requests, ordered=True, **kwargs):
        self._as_the_server_would("bulk_write")
        for op in requests:
            if isinstance(op, (UpdateOne, UpdateMany)):
                # Only links is sharded (deploy/README.md); pages is keyed by URL.
                check_update(op._filter, op._doc, bool(op._upsert), sharded=self.name == "links")
        return super().bulk_write(requests, ordered=ordered, **kwargs)


def _guarded(name: str) -> Callable[..., Any]:
    """Collection method ``name``, behind ``_as_the_server_would`` (a method each, not a
    ``__getattribute__``, which every attribute read of mongomock's paid for)."""
    inherited = getattr(mongomock_ng.collection.Collection, name)

    def method(self: StrictCollection, *args: Any, **kwargs: Any) -> Any:
        self._as_the_server_would(name)
        return inherited(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in WRITE_COMMANDS.keys() - {"bulk_write"}:
    setattr(StrictCollection, _name, _guarded(_name))


def _string_equalities(filter: Any) -> list[tuple[str, str]]:
    """The top-level fields a filter (or its ``$and``) requires to equal a string: a document whose
    field holds another string cannot match (one holding an array, or nothing, may), so a scan passes
    it over without mongomock's filter, several microseconds a document."""
    if not isinstance(filter, dict):
        return []
    found = [(f, v) for f, v in filter.items() if type(v) is str and not f.startswith("$") and "." not in f]
    parts = filter.get("$and")
    for part in parts if isinstance(parts, list) else []:
        found += _string_equalities(part)
    return found


class StrictCursor(mongomock_ng.collection.Cursor):
    def __next__(self) -> Any:
        """The next row by its position in the results: mongomock's copies the rest of the results
        at every row (``results[skip:]``), quadratic over a walk of a million rows."""
        results = self._compute_results()
        limit = abs(self._limit or 0)
        position = self._skip + self._emitted
        if (limit and self._emitted >= limit) or position >= len(results):
            raise StopIteration
        self._emitted += 1
        return mongomock_ng.collection._cast_document_class(
            results[position], self.collection.codec_options.document_class
        )

    next = __next__


class _NoNativeKey(Exception):
    """A sort value ``_native_sort_key`` does not order (mongomock's own sort then runs)."""


def _sort_keys(sort: Any) -> list[tuple[str, int]] | None:
    """A find's sort as ``(field, direction)`` pairs; None for no sort, or one by ``$natural`` or
    another ``$`` key, which mongomock's sort handles."""
    if not sort:
        return None
    items = sort.items() if isinstance(sort, dict) else sort
    keys = [(item, 1) if isinstance(item, str) else (item[0], item[1]) for item in items]
    return None if any(not isinstance(k, str) or k.startswith("$") for k, _ in keys) else keys


_COMPARE_TYPE: dict[type, Callable[[Any], tuple[Any, ...]]] = {
    type(None): lambda v: (5,),
    int: lambda v: (10, v),
    float: lambda v: (10, v) if v == v else _no_native_key(v),  # NaN: mongomock's order
    str: lambda v: (15, v),
    bytes: lambda v: (30, len(v), v),  # BinData: by length first
    bool: lambda v: (40, v),
    datetime: lambda v: (45, v),
}


def _no_native_key(value: Any) -> tuple[Any, ...]:
    raise _NoNativeKey(value)


def _native_sort_key(value: Any) -> tuple[Any, ...]:
    """``filtering.resolve_sort_key``'s order as a tuple Python compares natively: missing first as
    null, an array by its first element (an empty one before all), then BSON's type order, then the
    value; values of other types raise ``_NoNativeKey``."""
    if value is NOTHING:
        return (1, (5,))
    if isinstance(value, (list, tuple)):
        if not value:
            return (0,)
        value = value[0]
    return (1, _COMPARE_TYPE.get(type(value), _no_native_key)(value))


def _ids_named(filter: Any) -> list[Any] | None:
    """The ``_id`` values a filter is limited to, when it names them by equality or ``$in`` with values
    that hash as stored (str, bytes, int); None otherwise."""
    if not isinstance(filter, dict) or "_id" not in filter:
        return None
    named = filter["_id"]
    if isinstance(named, dict):
        if set(named) != {"$in"} or not isinstance(named["$in"], (list, tuple)):
            return None
        values = list(named["$in"])
    else:
        values = [named]
    return values if all(type(v) in (str, bytes, int) for v in values) else None


class StrictDatabase(mongomock_ng.database.Database):
    def get_collection(self, name, *args, **kwargs):
        # mongomock keeps one store per collection name; only the Python wrapper changes here.
        collection = super().get_collection(name, *args, **kwargs)
        collection.__class__ = StrictCollection
        return collection


def strict_client() -> mongomock_ng.MongoClient:
    client = mongomock_ng.MongoClient()
    original = client.get_database

    def get_database(*args: Any, **kwargs: Any) -> Any:
        db = original(*args, **kwargs)
        db.__class__ = StrictDatabase
        return db

    client.get_database = get_database  # type: ignore[method-assign]
    client.get_default_database = lambda default=None, **kw: get_database(default)  # type: ignore[method-assign]
    return client


def insert_documents(collection: Any, documents: Iterable[dict[str, Any]]) -> int:
    """Store ``documents`` in ``collection`` as ``insert_many`` would, for a bench's load of millions:
    mongomock copies, BSON-encodes and validates each one under a lock, ~100 µs a document. Only for
    flat documents already as a server keeps them (str keys, none starting with ``$``, dates naive UTC
    to the millisecond, an ``_id``), checked here, in a collection with no unique index but ``_id``'s;
    a duplicate ``_id`` is E11000. The dicts themselves are stored: the caller must not change them.
    The number stored."""
    collection._as_the_server_would("insert_many")
    store = collection._store
    if any(index.get("unique") for index in store.indexes.values()) or store.options.get("validator"):
        raise NotImplementedError("insert_documents: unique indexes and validators are insert_many's")
    stored = store._documents
    count = 0
    with store._rwlock.writer():
        for doc in documents:
            for name, value in doc.items():
                if not isinstance(name, str) or name.startswith("$") or isinstance(value, (dict, list)):
                    raise ValueError(f"insert_documents: not a flat document's field: {name!r}")
                if isinstance(value, datetime) and (value.tzinfo or value.microsecond % 1000):
                    raise ValueError(f"insert_documents: not a BSON date: {value!r}")
            if doc["_id"] in stored:
                raise DuplicateKeyError(
                    "E11000 Duplicate Key Error", 11000, {"keyValue": {"_id": doc["_id"]}}
                )
            stored[doc["_id"]] = doc
            count += 1
    return count


class Flaky:
    """Make a collection's bulk_write fail with AutoReconnect on chosen calls, either before the write is
    applied or after it (the acknowledgement lost), as a failing-over replica set does."""

    def __init__(self, collection: Any, fail_before: set[int], fail_after: set[int]) -> None:
        self.collection = collection
        self.fail_before = fail_before
        self.fail_after = fail_after
        self.calls = 0
        self.original = collection.bulk_write
        collection.bulk_write = self

    def __call__(self, requests: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls in self.fail_before:
            raise AutoReconnect(f"connection closed (call {self.calls}, before the write)")
        result = self.original(requests, **kwargs)
        if self.calls in self.fail_after:
            raise AutoReconnect(f"connection closed (call {self.calls}, after the write)")
        return result


FAILOVER_CODES = {
    10107: "NotWritablePrimary",
    11602: "InterruptedDueToReplStateChange",
    189: "PrimarySteppedDown",
    6: "HostUnreachable",
    133: "FailedToSatisfyReadPreference",
}


class Failover:
    """The next ``writes`` bulk writes to ``collection`` fail every ``every``-th operation (the first, then
    every ``every``-th after it; of kind ``only``, if given) with ``code`` in ``writeErrors``, as mongos reports a shard's election;
    the others are applied (an ordered bulk stops at the first failure). ``failed``: how many operations
    were refused."""

    def __init__(
        self, collection: Any, code: int, *, writes: int = 1, every: int = 2, only: type | None = None
    ) -> None:
        self.collection, self.code, self.left, self.every = collection, code, writes, every
        self.only = only  # refuse only operations of this kind (UpdateMany: the lost marks)
        self.failed = 0
        self.original = collection.bulk_write
        collection.bulk_write = self

    def __call__(self, requests: Any, ordered: bool = True, **kwargs: Any) -> Any:
        requests = list(requests)
        kind = [i for i, op in enumerate(requests) if self.only is None or isinstance(op, self.only)]
        refused = [i for n, i in enumerate(kind) if n % self.every == 0]
        if self.left <= 0 or not refused:
            return self.original(requests, ordered=ordered, **kwargs)
        self.left -= 1
        if ordered:
            refused = refused[:1]
        stop = refused[0] if ordered and refused else len(requests)
        applied = [i for i in range(stop) if i not in refused]
        errors = [self._error(i) for i in refused]
        if applied:
            try:
                self.original([requests[i] for i in applied], ordered=ordered, **kwargs)
            except BulkWriteError as exc:  # its own errors (a duplicate key) at their place in the bulk
                errors += [{**e, "index": applied[e["index"]]} for e in exc.details["writeErrors"]]
        self.failed += len(refused)
        details = {"writeErrors": sorted(errors, key=lambda e: e["index"]), "writeConcernErrors": []}
        raise BulkWriteError(details)

    def _error(self, i: int) -> dict[str, Any]:
        name = FAILOVER_CODES.get(self.code, "Error")
        return {"index": i, "code": self.code, "codeName": name, "errmsg": f"{name} (stand-in failover)"}


# --- what a server would examine -------------------------------------------------------------------------


@dataclass
class Examination:
    """One read as a server would run it on the declared indexes: the index chosen, the index keys and
    documents examined, and whether the plan sorts in memory (a blocking SORT stage)."""

    collection: str
    index: str
    keys: int
    docs: int
    blocking_sort: bool


class Examined:
    """Counts what each read on ``client`` would examine on a server with the indexes the collections
    hold (``create_index`` declared them), while active (``with examined:``).

    The stand-in itself scans every document; this models the server: for each declared index it takes
    the bounds the filter puts on the index's leading fields (equalities and ``$in``, then one range),
    walks the keys within them in index order (backwards for a reversed sort) and applies the whole
    filter to each key's document; a limited read whose order the index gives stops at its last row,
    any other read examines every key within the bounds. The plan counted is the cheapest index, as the
    query planner's trial period picks the plan that returns its rows with the least work (the manual,
    "Query Plans"). ``docs``: documents fetched, none for a count the index answers alone (COUNT_SCAN).
    An aggregation is one read: the find its leading ``$match``, ``$sort`` and ``$limit`` make, plus
    that of each ``$unionWith`` branch; a later ``$group`` or ``$sort`` is a blocking stage; its other
    stages are not modelled."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.reads: list[Examination] = []
        self._saved: dict[str, Any] = {}
        self._indexes: dict[Any, tuple[list[Any], list[Any]]] = {}
        self._by_first: dict[Any, dict[Any, list[Any]] | None] = {}
        self._aggregating = 0

    def __enter__(self) -> Examined:
        cursor, collection = mongomock_ng.collection.Cursor, mongomock_ng.collection.Collection
        self._saved = {
            "compute": cursor._compute_results,
            "count_documents": collection.count_documents,
            "find_one": collection.find_one,
            "aggregate": collection.aggregate,
        }
        examined, saved = self, self._saved

        def ours(collection: Any) -> bool:
            return collection.database.client is examined.client

        def compute_results(cursor: Any, with_limit_and_skip: bool = False) -> Any:
            # once per cursor (the stand-in computes its results again at every row)
            inside = examined._aggregating  # the stand-in's own finds for an aggregation counted
            if ours(cursor.collection) and not inside and not vars(cursor).get("_examined"):
                cursor._examined = True
                limit = abs(cursor._limit or 0) or None
                examined.reads.append(
                    examined.examine(cursor.collection, cursor._spec, cursor._sort, cursor._skip, limit)
                )
            return saved["compute"](cursor, with_limit_and_skip)

        def count_documents(collection: Any, filter: Any, **kwargs: Any) -> Any:
            if ours(collection):
                examined.reads.append(examined.examine(collection, filter, None, 0, None, counting=True))
            return saved["count_documents"](collection, filter, **kwargs)

        def find_one(collection: Any, filter: Any = None, *args: Any, **kwargs: Any) -> Any:
            if not ours(collection):
                return saved["find_one"](collection, filter, *args, **kwargs)
            examined.reads.append(examined.examine(collection, filter, kwargs.get("sort"), 0, 1))
            cursor = collection.find(filter, *args, **kwargs)
            cursor._examined = True  # pymongo's find_one is a find with limit 1: counted so, once
            return next(iter(cursor), None)

        def aggregate(collection: Any, pipeline: Any, *args: Any, **kwargs: Any) -> Any:
            if not ours(collection):
                return saved["aggregate"](collection, pipeline, *args, **kwargs)
            examined.reads.append(examined.aggregation(collection, pipeline))
            examined._aggregating += 1
            try:  # the stand-in runs the whole pipeline here
                return saved["aggregate"](collection, pipeline, *args, **kwargs)
            finally:
                examined._aggregating -= 1

        cursor._compute_results = compute_results
        collection.count_documents = count_documents
        collection.find_one = find_one
        collection.aggregate = aggregate
        return self

    def __exit__(self, *exc: object) -> None:
        cursor, collection = mongomock_ng.collection.Cursor, mongomock_ng.collection.Collection
        cursor._compute_results = self._saved["compute"]
        collection.count_documents = self._saved["count_documents"]
        collection.find_one = self._saved["find_one"]
        collection.aggregate = self._saved["aggregate"]

    def total(self) -> tuple[int, int]:
        """Keys and documents examined by the reads so far."""
        return sum(r.keys for r in self.reads), sum(r.docs for r in self.reads)

    def aggregation(self, collection: Any, pipeline: list[dict[str, Any]]) -> Examination:
        """An aggregation as the finds of its leading stages and of its ``$unionWith`` branches."""
        reads, rest = self._leading(collection, pipeline)
        for stage in rest:
            union = stage.get("$unionWith")
            if isinstance(union, dict):
                branch, _ = self._leading(collection.database[union["coll"]], union.get("pipeline", []))
                reads += branch
        blocking = any(next(iter(stage)) in ("$group", "$sort") for stage in rest)
        return Examination(
            collection.name,
            "+".join(r.index for r in reads),
            sum(r.keys for r in reads),
            sum(r.docs for r in reads),
            blocking or any(r.blocking_sort for r in reads),
        )

    def _leading(
        self, collection: Any, pipeline: list[dict[str, Any]]
    ) -> tuple[list[Examination], list[dict[str, Any]]]:
        """The find a pipeline's leading ``$match``, ``$sort`` and ``$limit`` make, and its other stages."""
        parts: dict[str, Any] = {}
        k = 0
        for name in ("$match", "$sort", "$limit"):
            if k < len(pipeline) and name in pipeline[k]:
                parts[name] = pipeline[k][name]
                k += 1
        sort = list(parts["$sort"].items()) if "$sort" in parts else None
        read = self.examine(collection, parts.get("$match", {}), sort, 0, parts.get("$limit"))
        return [read], pipeline[k:]

    def examine(
        self, collection: Any, spec: Any, sort: Any, skip: int, limit: int | None, counting: bool = False
    ) -> Examination:
        order = [(k, d) for k, d in (sort or [])]
        documents = collection._store._documents
        scan = Examination(collection.name, "COLLSCAN", 0, len(documents), bool(order))
        plans = [
            self._plan(collection, name, info["key"], spec or {}, order, skip, limit, counting)
            for name, info in collection.index_information().items()
        ]
        return min([scan, *filter(None, plans)], key=lambda p: (p.keys + p.docs, p.blocking_sort))

    def _entries(
        self, collection: Any, key: list[tuple[str, int]], first: tuple[Any, ...] | None
    ) -> tuple[list[Any], list[Any]]:
        """The index's keys in order and their documents, made once per collection size: those whose
        first key field is ``first`` (a ``_sort_value``), or all with None. A read's bounds never leave
        its first field's value, so only that part of the index is made: the same keys in the same
        order as in the whole index (a stable sort of the documents in their stored order)."""
        documents = collection._store._documents
        groups = self._groups(collection, key[0]) if first is not None else None
        cache = (collection.name, tuple(key), len(documents), first if groups is not None else None)
        if cache not in self._indexes:
            some = documents.values() if groups is None else groups.get(first, [])
            pairs = sorted(((_entry(doc, key), doc) for doc in some), key=lambda e: e[0])
            self._indexes[cache] = ([e for e, _ in pairs], [d for _, d in pairs])
        return self._indexes[cache]

    def _groups(self, collection: Any, field: tuple[str, int]) -> dict[Any, list[Any]] | None:
        """The documents by the value of an index's first field, in their stored order; None where a
        value does not hash (an array or a document: the whole index is then made)."""
        documents = collection._store._documents
        cache = (collection.name, field, len(documents))
        if cache not in self._by_first:
            groups: dict[Any, list[Any]] = {}
            try:
                for doc in documents.values():
                    groups.setdefault(_sort_value(_field(doc, field[0]), field[1]), []).append(doc)
                self._by_first[cache] = groups
            except TypeError:
                self._by_first[cache] = None
        return self._by_first[cache]

    def _plan(
        self,
        collection: Any,
        name: str,
        key: list[tuple[str, int]],
        spec: dict[str, Any],
        order: list[tuple[str, int]],
        skip: int,
        limit: int | None,
        counting: bool,
    ) -> Examination | None:
        fields = [f for f, _ in key]
        equal, range_ = _bounds(spec, key)
        eq_fields = {f for f, values in zip(fields, equal, strict=False) if len(values) == 1}
        after_eq = [(f, d) for f, d in key if f not in eq_fields]
        wanted = [(f, d) for f, d in order if f not in eq_fields]
        forward = after_eq[: len(wanted)] == wanted
        backward = [(f, -d) for f, d in after_eq[: len(wanted)]] == wanted
        provides = not wanted or ((forward or backward) and all(len(v) == 1 for v in equal))
        if not equal and range_ is None and not (wanted and provides):
            return None  # neither bounds nor order: a collection scan does better
        spans = []
        for prefix in itertools.product(*equal):
            head = tuple(_sort_value(v, d) for v, (_, d) in zip(prefix, key, strict=False))
            entries, documents = self._entries(collection, key, head[0] if head else None)
            low, high = range_ if range_ is not None else (None, None)
            lo = head if not low else (*head, low[0]) if low[1] else (*head, low[0], _AFTER)
            hi = (*head, _AFTER) if not high else (*head, high[0], _AFTER) if high[1] else (*head, high[0])
            span = range(bisect.bisect_left(entries, lo), bisect.bisect_left(entries, hi))
            spans.append((documents, span))
        if provides and limit is not None:  # the walk stops at the read's last row
            keys = _walked(spec, spans, reverse=backward and not forward, rows=skip + limit)
        else:  # every key within the bounds
            keys = sum(len(span) for _, span in spans)
        covered = counting and set(_flattened(spec)) <= set(fields) and "$or" not in spec
        return Examination(collection.name, name, keys, 0 if covered else keys, not provides)


def _walked(spec: dict[str, Any], spans: list[tuple[list[Any], range]], reverse: bool, rows: int) -> int:
    """The keys a walk of ``spans`` (in index order, or all reversed) examines until ``rows``
    documents have met ``spec``."""
    keys = found = 0
    for documents, span in reversed(spans) if reverse else spans:
        for i in reversed(span) if reverse else span:
            keys += 1
            if filter_applies(spec, documents[i]):
                found += 1
                if found >= rows:
                    return keys
    return keys


_AFTER = (10**9,)  # sorts after every (type, value) pair of a key


def _sort_value(value: Any, direction: int) -> tuple[Any, ...]:
    """A key field's value as it sorts in an index: by BSON type, then value; a descending field's
    numbers negated (only numbers are indexed descending here)."""
    value = None if value is NOTHING else value
    if direction < 0:
        assert value is None or isinstance(value, (int, float)), "descending keys are numbers"
        value = None if value is None else -value
    compare_type = _TYPE_ORDER.get(type(value))
    return (_get_compare_type(value) if compare_type is None else compare_type, value)


# ``filtering._get_compare_type`` of the common types, by a look-up, not its chain of isinstance.
_TYPE_ORDER = {type(None): 5, int: 10, float: 10, str: 15, bytes: 30, bool: 40, datetime: 45}


def _entry(doc: dict[str, Any], key: list[tuple[str, int]]) -> tuple[Any, ...]:
    return tuple(_sort_value(_field(doc, f), d) for f, d in key)


def _field(doc: dict[str, Any], name: str) -> Any:
    """``filtering.resolve_key``: a top-level field's value read directly (resolve_key's own answer
    for a document and a name without a dot), a dotted one by resolve_key."""
    return doc.get(name, NOTHING) if name and "." not in name else resolve_key(name, doc)


def _bounds(spec: dict[str, Any], key: list[tuple[str, int]]) -> tuple[list[list[Any]], Any]:
    """Per leading key field with an equality (or ``$in``), its values; then the range on the next one:
    ``(low, high)``, each ``((type, value), inclusive)`` in index order, or None."""
    where = _flattened(spec)
    equal: list[list[Any]] = []
    for name, direction in key:
        cond = where.get(name, _MISSING)
        if cond is _MISSING:
            break
        if not isinstance(cond, dict):
            equal.append([cond])
            continue
        if set(cond) == {"$in"}:
            equal.append(sorted(cond["$in"], key=lambda v: _sort_value(v, direction)))
            continue
        low = next(
            ((_sort_value(cond[op], direction), op == "$gte") for op in ("$gte", "$gt") if op in cond), None
        )
        high = next(
            ((_sort_value(cond[op], direction), op == "$lte") for op in ("$lte", "$lt") if op in cond), None
        )
        if low is None and high is None:
            break
        return equal, ((high, low) if direction < 0 else (low, high))
    return equal, None


_MISSING = object()


def _flattened(spec: dict[str, Any]) -> dict[str, Any]:
    """The field conditions every document must meet: top-level ones and those of ``$and``."""
    found = {k: v for k, v in spec.items() if not k.startswith("$")}
    for part in spec.get("$and", []):
        found.update(_flattened(part))
    return found


def main(argv: list[str]) -> int:
    """Run ``backlinks`` commands in this process on one stand-in server, e.g. a crawl then an export:
    ``mongo_standin.py crawl ARGS... -- export ARGS...``."""
    import pymongo

    from backlinkspider import cli

    shared = strict_client()
    shared.close = lambda: None  # one in-memory server for the whole run
    pymongo.MongoClient = lambda *args, **kwargs: shared  # type: ignore[misc,assignment]
    rc = 0
    command: list[str] = []
    for arg in [*argv, "--"]:
        if arg != "--":
            command.append(arg)
            continue
        rc = cli.main(command)
        if rc:
            return rc
        command = []
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
