"""What a user runs against their own MongoDB before trusting it with a crawl: failovers, a step-down
under writes, a write concern no set can satisfy, a public suffix list change. Skipped unless
``BACKLINKS_TEST_MONGO_URI`` names a server (deploy/README.md: a three-member replica set in three lines
of compose, with ``enableTestCommands`` for the failpoints; a mongos URI shards the collections first).

The same behaviours run on every commit against the stand-in (``test_index_mongo.py``); here the server
itself fails: ``configureFailPoint failCommand`` (a test command: the manual's "failCommand" and the
drivers' "Server Fail Point" specification), ``replSetStepDown`` and ``stopReplProducer``. Ground truth
is SQLite written with the same batches and no failure.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymongo
import pytest
from pymongo.errors import AutoReconnect, OperationFailure
from test_index import PAGES, REAL_MONGO, T0, mongo_uri, shard_if_mongos
from test_index_mongo import ground_truth_batches, many_pages, moved_domains, stored_domains

from backlinkspider.index import open_index
from backlinkspider.index.errors import IndexUnavailable
from backlinkspider.index.mongo import MongoStore
from backlinkspider.index.mongo.limits import Limits

pytestmark = pytest.mark.skipif(not REAL_MONGO, reason="needs a real server: set BACKLINKS_TEST_MONGO_URI")

TIMEOUT = 12.0  # BACKLINKS_MONGO_TIMEOUT's default: an election fits in it


def fresh_uri(query: str = "") -> str:
    assert REAL_MONGO
    uri = mongo_uri(REAL_MONGO, f"backlinks_test_{uuid.uuid4().hex[:12]}")
    return uri + (("&" if "?" in uri else "?") + query if query else "")


@pytest.fixture
def live() -> Iterator[MongoStore]:
    uri = fresh_uri()
    shard_if_mongos(uri)
    store = MongoStore(uri, limits=Limits(TIMEOUT, 600, 5))
    yield store
    store._client.drop_database(store._db.name)
    store.close()


def topology(store: MongoStore) -> dict[str, Any]:
    return store._client.admin.command("hello")


@contextmanager
def fail_point(client: Any, mode: Any, data: dict[str, Any], name: str = "failCommand") -> Iterator[None]:
    """A server fail point on, then off whatever happens (it outlives the test otherwise)."""
    try:
        client.admin.command({"configureFailPoint": name, "mode": mode, "data": data})
    except OperationFailure as exc:
        pytest.skip(f"the server refuses fail points (start it with enableTestCommands=1): {exc}")
    try:
        yield
    finally:
        client.admin.command({"configureFailPoint": name, "mode": "off"})


def written_like_the_truth(store: MongoStore, tmp_path: Any, batches: list[Any], write: Any = None) -> None:
    """Every batch through ``write(store, batch)`` (None: already written); the index must end as
    SQLite's, written with the same batches and no failure."""
    truth = open_index(f"sqlite:///{tmp_path / 'truth.db'}")
    for batch in batches:
        if write is not None:
            write(store, batch)
        truth.write(batch, lost_after_failures=3)
    assert sorted(store.export()) == sorted(truth.export())
    urls = {p.url for batch in batches for p in batch}
    assert store.page_states(urls) == truth.page_states(urls)
    truth.close()


def as_the_pipeline_does(store: MongoStore, batch: Any, patience: float = 120.0) -> None:
    """Write a batch, and on IndexUnavailable write it again with backoff, as the crawl's pipeline does."""
    deadline = time.monotonic() + patience
    while True:
        try:
            store.write(batch, lost_after_failures=3)
            return
        except IndexUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.mark.parametrize("code", [10107, 189, 11602, 6])
def test_failover_errors_from_the_server_lose_no_page(live: MongoStore, tmp_path: Any, code: int) -> None:
    """Each batch meets three failing update commands (more than the driver's own single retry) with a
    failover's code; nothing is lost or marked twice."""

    def write(store: MongoStore, batch: Any) -> None:
        data = {"failCommands": ["update"], "errorCode": code, "errorLabels": ["RetryableWriteError"]}
        with fail_point(store._client, {"times": 3}, data):
            store.write(batch, lost_after_failures=3)

    written_like_the_truth(live, tmp_path, ground_truth_batches(), write)


def test_a_step_down_under_continuous_writes_loses_no_page(live: MongoStore, tmp_path: Any) -> None:
    """The primary steps down while a writer writes batch after batch; the writer rides out the election
    (server selection waits BACKLINKS_MONGO_TIMEOUT) and retries as the pipeline does."""
    hello = topology(live)
    if hello.get("msg") == "isdbgrid" or len(hello.get("hosts", [])) < 2:
        pytest.skip("needs a replica set with another electable member (deploy/docker-compose.test.yml)")
    batches = [many_pages(50, T0), *ground_truth_batches()] * 3  # the same crawl's batches, again
    done = threading.Event()

    def writer() -> None:
        for batch in batches:
            as_the_pipeline_does(live, batch)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.5)
    with contextlib.suppress(AutoReconnect):  # the step-down closes the connections it was sent on
        live._client.admin.command("replSetStepDown", 10, secondaryCatchUpPeriodSecs=5)
    thread.join(timeout=300)
    assert done.is_set()
    written_like_the_truth(live, tmp_path, batches)


def test_an_unsatisfiable_write_concern_ends_within_its_timeout() -> None:
    """A majority write while no secondary replicates (``stopReplProducer`` on each) never returns on
    its own; on a mongos, a write the server holds (``blockConnection``). It ends as IndexUnavailable
    after BACKLINKS_MONGO_TIMEOUT (2 s here), not after the 120 s write window."""
    uri = fresh_uri("w=majority")
    shard_if_mongos(uri)
    store = MongoStore(uri, limits=Limits(2.0, 600, 5), retry_seconds=120)
    hello = topology(store)
    secondaries = [h for h in hello.get("hosts", []) if h != hello.get("primary")]
    try:
        if secondaries and hello.get("msg") != "isdbgrid":
            with _stopped_replication(secondaries):
                _times_out(store)
        else:
            data = {"failCommands": ["update"], "blockConnection": True, "blockTimeMS": 60_000}
            with fail_point(store._client, {"times": 1}, data):
                _times_out(store)
    finally:
        store._client.drop_database(store._db.name)
        store.close()


@contextmanager
def _stopped_replication(hosts: list[str]) -> Iterator[None]:
    clients = [pymongo.MongoClient(f"mongodb://{host}/?directConnection=true") for host in hosts]
    try:
        with _each(clients, "stopReplProducer"):
            yield
    finally:
        for client in clients:
            client.close()


@contextmanager
def _each(clients: list[Any], name: str) -> Iterator[None]:
    if not clients:
        yield
        return
    with fail_point(clients[0], "alwaysOn", {}, name), _each(clients[1:], name):
        yield


def _times_out(store: MongoStore) -> None:
    started = time.monotonic()
    with pytest.raises(IndexUnavailable, match=r"^cannot write to index "):
        store.write(PAGES, lost_after_failures=3)
    assert time.monotonic() - started < 60  # one bounded try, not the write window


def test_a_new_public_suffix_list_mid_index_keeps_one_document_per_edge(live: MongoStore) -> None:
    """On a sharded cluster the new shard key could route the upsert to another shard and leave two
    documents with one _id; the edge stays where it is stored, once."""
    live.write(PAGES, lost_after_failures=3)
    live.write([moved_domains(PAGES[0], T0.replace(day=3))], lost_after_failures=3)
    assert stored_domains(live, PAGES[0].url) == {("target.co.uk", "a.com")}
    for edge in PAGES[0].edges:
        assert live._links.count_documents({"_id": edge.edge_id}) == 1
    assert live.count() == 5
