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

import sys
import time
from typing import Any

import mongomock_ng
from pymongo import UpdateMany, UpdateOne, _csot
from pymongo.errors import AutoReconnect, BulkWriteError, NetworkTimeout, OperationFailure

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
    def __getattribute__(self, name):
        if name not in WRITE_COMMANDS:
            return super().__getattribute__(name)
        flags = vars(self.database.client)
        if flags.get("_standin_read_only", False):
            error = _unauthorized(self, WRITE_COMMANDS[name])

            def denied(*args: Any, **kwargs: Any) -> Any:
                raise error

            return denied
        if flags.get("_standin_stuck_writes", False):

            def stuck(*args: Any, **kwargs: Any) -> Any:
                _wait_for_write_concern()

            return stuck
        return super().__getattribute__(name)

    def bulk_write(self, requests, ordered=True, **kwargs):
        for op in requests:
            if isinstance(op, (UpdateOne, UpdateMany)):
                # Only links is sharded (deploy/README.md); pages is keyed by URL.
                check_update(op._filter, op._doc, bool(op._upsert), sharded=self.name == "links")
        return super().bulk_write(requests, ordered=ordered, **kwargs)


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
