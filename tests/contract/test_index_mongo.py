"""What only the MongoDB store has: its document model, retries, security, and the shape of its reads.

The answers themselves are the contract's (tests/test_store_contract.py); here, how they are asked.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from bson.errors import InvalidDocument
from mongo_standin import Flaky, ServerWouldReject, check_update, deny_writes, strict_client
from pymongo import UpdateMany
from pymongo.errors import AutoReconnect, BulkWriteError, OperationFailure
from test_index import PAGES, REAL_MONGO, T0, crawled

from backlinkspider.index import open_index
from backlinkspider.index.errors import BadRow, IndexUnavailable
from backlinkspider.index.mongo import INDEXES, MongoStore, update_for
from backlinkspider.index.mongo.errors import with_retries
from backlinkspider.index.mongo.figures import FIGURE_INDEXES, FIGURES
from backlinkspider.records import Bucketing, CrawledPage, Filters, Target
from backlinkspider.standards.extract import Link, Page

pytestmark = pytest.mark.filterwarnings("ignore:'(allowDiskUse|batchSize)' is accepted:UserWarning")


@pytest.fixture
def standin() -> MongoStore:
    return MongoStore("mongodb://standin/backlinks", client=strict_client(), retry_seconds=5)


LOST_AFTER = 3


def write(store: MongoStore, pages: list[CrawledPage]) -> int:
    return store.write(pages, lost_after_failures=LOST_AFTER)


class Recording:
    """Records the calls a collection's method gets, then makes them."""

    def __init__(self, collection: Any, name: str) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.original = getattr(collection, name)
        setattr(collection, name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        return self.original(*args, **kwargs)


# --- the document model and the write path --------------------------------------------------------------


def test_one_document_per_edge_with_a_deterministic_id(standin: MongoStore) -> None:
    write(standin, PAGES)
    write(standin, PAGES)
    docs = list(standin._links.find({}))
    assert len(docs) == 5
    edges = [e for page in PAGES for e in page.edges]
    assert {d["_id"] for d in docs} == {e.edge_id for e in edges}
    assert all(isinstance(d["_id"], bytes) and len(d["_id"]) == 16 for d in docs)
    # no arrays of sources (``counted``: the five fields the figures last counted)
    assert not any(isinstance(v, list) for d in docs for k, v in d.items() if k != "counted")
    assert set(docs[0]) == {
        "_id",
        "source_url",
        "target_url",
        "link_type",
        "anchor_text",
        "nofollow",
        "ugc",
        "sponsored",
        "source_host",
        "source_domain",
        "target_host",
        "target_domain",
        "first_seen",
        "last_seen",
        "lost_at",
        "counted",
    }


def test_update_documents_are_what_a_real_server_accepts() -> None:
    edge = PAGES[0].edges[0]
    seen = T0.replace(tzinfo=None)
    filter_, update = update_for(edge, seen)
    check_update(filter_, update, upsert=True)
    with pytest.raises(ServerWouldReject):  # the guard itself catches the classic mistake
        check_update(filter_, {"$set": {"first_seen": seen}, "$setOnInsert": {"first_seen": seen}}, True)
    with pytest.raises(ServerWouldReject):
        check_update({"_id": edge.edge_id}, update, upsert=True)  # no shard key
    with pytest.raises(ServerWouldReject):
        check_update(filter_, [{"$set": {"target_domain": "x"}}], upsert=True)  # the shard key
    with pytest.raises(ServerWouldReject):
        check_update(filter_, [{"$match": {}}], upsert=True)  # not an update stage


def test_an_anchor_that_looks_like_a_field_path_is_stored_as_text(standin: MongoStore) -> None:
    write(standin, [crawled("http://a.org/", [Link("http://b.org/", "text", "$100 off")])])
    assert next(standin.export()).anchor_text == "$100 off"


def test_transient_errors_are_retried_and_every_edge_lands_once(standin: MongoStore) -> None:
    many = [
        crawled(f"http://s{i}.example.com/", [Link(f"http://t{j}.org/", "text", f"a{i}") for j in range(5)])
        for i in range(40)
    ]
    flaky = Flaky(standin._links, fail_before={1, 4}, fail_after={2, 7})
    for i in range(0, 40, 10):  # four batches
        write(standin, many[i : i + 10])
    # each batch: its edges and their figures' counted marks (new pages have nothing to mark lost); 4 failed
    assert flaky.calls == 4 * 2 + 4
    assert standin.tally(Target("domain", "t0.org"), include_lost=False, since=[0], top=3).backlinks == 40
    rows = list(standin.export())
    assert len(rows) == 200
    assert {(r.source_url, r.target_url) for r in rows} == {
        (e.source_url, e.target_url) for p in many for e in p.edges
    }


def test_an_outage_longer_than_the_retry_window_is_one_clear_error(standin: MongoStore) -> None:
    standin.retry_seconds = 0.5
    Flaky(standin._links, fail_before=set(range(1, 1000)), fail_after=set())
    started = time.monotonic()
    with pytest.raises(IndexUnavailable, match="for 0s: connection closed"):
        write(standin, PAGES)
    assert time.monotonic() - started < 3


def test_a_document_the_server_refuses_is_bad_data_not_an_outage(standin: MongoStore) -> None:
    """A server's write error other than a duplicate key (here: too large) is BadRow, never retried."""
    calls = []

    def refuse(requests: Any, **kwargs: Any) -> Any:
        calls.append(1)
        error = {"index": 0, "code": 10334, "errmsg": "BSONObj size: 17000000 is invalid"}
        raise BulkWriteError({"writeErrors": [error], "writeConcernErrors": [], "nInserted": 0})

    standin._links.bulk_write = refuse  # type: ignore[method-assign]
    with pytest.raises(BadRow, match=r"refused the batch: .*BSONObj size"):
        write(standin, PAGES)
    assert len(calls) == 1


def raising(*errors: Exception) -> Any:
    """An operation that raises ``errors`` in turn, then answers "done"."""
    left = list(errors)

    def operation() -> str:
        if left:
            raise left.pop(0)
        return "done"

    return operation


def test_the_error_rules() -> None:
    """errors.py's rules: races and lost connections are retried; refused data is BadRow at once; any
    other failure (a write concern error, a refused command) is IndexUnavailable at once."""
    race = BulkWriteError({"writeErrors": [{"index": 0, "code": 11000, "errmsg": "E11000 duplicate key"}]})
    concern = BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64, "errmsg": "waiting"}]})
    assert with_retries(raising(race, AutoReconnect("x"), race), "write to", "mongodb://h", 5) == "done"
    with pytest.raises(BadRow, match="refused the batch: too big"):
        with_retries(raising(InvalidDocument("too big")), "write to", "mongodb://h", 5)
    for error in (concern, OperationFailure("not authorized", 13)):
        with pytest.raises(IndexUnavailable, match=r"^cannot write to index mongodb://h: "):
            with_retries(raising(error, error), "write to", "mongodb://h", 5)


def test_lost_marks_are_routed_by_the_shard_key(standin: MongoStore) -> None:
    """Marking a re-crawled page's vanished edges lost names the target domains it linked to (the shard
    key), so a sharded cluster sends it only to the shards holding them, not to every shard."""
    write(standin, PAGES)
    recording = Recording(standin._links, "bulk_write")
    t1 = T0 + timedelta(days=1)
    write(standin, [crawled("http://blog.a.com/1", [Link("http://elsewhere.org/", "text")], t1)])
    write(standin, [CrawledPage("http://b.org/p", t1, (), failed=True)] * 3)  # lost after 3 failures
    sent = [op for (requests, *_), _ in recording.calls for op in requests if isinstance(op, UpdateMany)]
    assert [op._filter["target_domain"] for op in sent] == [
        {"$in": ["target.co.uk"]},
        {"$in": ["other.net", "target.co.uk"]},
    ]
    lost = {(r.source_url, r.target_url) for r in standin.export() if r.lost_at}
    assert lost == {
        ("http://blog.a.com/1", "http://www.target.co.uk/x"),
        ("http://blog.a.com/1", "http://shop.target.co.uk/"),
        ("http://b.org/p", "http://www.target.co.uk/x"),
        ("http://b.org/p", "http://other.net/"),
    }


def test_every_write_batch_bumps_the_counter_once(standin: MongoStore) -> None:
    counters = standin._db["counters"]
    write(standin, PAGES)
    write(standin, [CrawledPage("http://b.org/p", T0 + timedelta(days=1), ())])  # only lost marks
    assert list(counters.find({})) == [{"_id": "write_batches", "n": 2}]
    assert standin.fingerprint() == [2, 0]
    write(standin, [])
    assert standin.fingerprint() == [2, 0]


def test_pages_with_no_edges_write_nothing(standin: MongoStore) -> None:
    assert write(standin, [crawled("http://a.org/", [Link("http://a.org/self", "text")])]) == 0
    assert list(standin.export()) == []


# --- the shape of the reads ----------------------------------------------------------------------------


def aggregations(store: MongoStore) -> Recording:
    return Recording(store._links, "aggregate")


def stages(recording: Recording) -> list[tuple[list[str], Any]]:
    return [
        ([next(iter(s)) for s in args[0]], kwargs.get("allowDiskUse")) for args, kwargs in recording.calls
    ]


def test_a_url_tally_is_one_facet_aggregation(standin: MongoStore) -> None:
    """Not a pass per figure: every count in one $facet over the target's edges, allowed to spill."""
    write(standin, PAGES)
    recording = aggregations(standin)
    count = Recording(standin._links, "count_documents")
    got = standin.tally(Target("url", "http://www.target.co.uk/x"), include_lost=False, since=[0], top=10)
    assert stages(recording) == [(["$match", "$facet"], True)] and not count.calls
    assert got.backlinks == 3


def test_a_domain_tally_reads_its_figures_not_its_edges(standin: MongoStore) -> None:
    """No aggregation over the edges: figure documents, two edges (the first and the last) and one
    count of edges per window."""
    write(standin, PAGES)
    recording = aggregations(standin)
    ends = Recording(standin._links, "find_one")
    count = Recording(standin._links, "count_documents")
    got = standin.tally(Target("domain", "target.co.uk"), include_lost=False, since=[0], top=10)
    assert got.backlinks == 4 and not recording.calls
    assert len(ends.calls) == 2
    assert len(count.calls) == 2  # new and lost edges since 0


def test_referring_domains_are_a_streamed_group_not_distinct(standin: MongoStore) -> None:
    """``distinct`` answers in one document of at most 16 MB; a $group streams in batches. A domain's
    live or all referring domains are its figures: no edge is read."""
    write(standin, PAGES)
    recording = aggregations(standin)
    distinct = Recording(standin._links, "distinct")
    domain = Target("domain", "target.co.uk")
    assert list(standin.referring_domains(domain, Filters())) == ["a.com", "b.org"]
    assert not recording.calls
    assert list(standin.referring_domains(domain, Filters(rel="follow"))) == ["a.com", "b.org"]
    assert stages(recording) == [(["$match", "$group", "$sort"], True)] and not distinct.calls


def test_events_are_grouped_on_the_server(standin: MongoStore) -> None:
    """Two $group aggregations answering a row per bucket pair, never a document per edge."""
    many = [
        crawled(f"http://s{i}.org/", [Link("http://t.org/a", "text"), Link("http://t.org/b", "text")])
        for i in range(30)
    ]
    write(standin, many)
    recording = aggregations(standin)
    events = standin.events(Target("domain", "t.org"), Bucketing(7 * 86400, 3 * 86400))
    assert events.new_links == {2922: 60} and events.new_domains == {2922: 30}
    assert stages(recording) == [(["$match", "$group"], True), (["$match", "$group", "$group"], True)]
    rows = [list(recording.original(args[0])) for args, _ in recording.calls]
    assert [len(r) for r in rows] == [1, 1]


def test_one_link_per_domain_is_chosen_before_paging(standin: MongoStore) -> None:
    write(standin, PAGES)
    recording = aggregations(standin)
    list(
        standin.edges(
            Target("domain", "target.co.uk"),
            Filters(),
            sort="first_seen",
            limit=1,
            offset=1,
            one_per_domain=True,
        )
    )
    (names, _), *_ = stages(recording)
    assert names == ["$match", "$set", "$sort", "$group", "$replaceWith", "$sort", "$skip", "$limit"]


def test_user_input_never_becomes_an_operator(standin: MongoStore) -> None:
    write(standin, PAGES)
    domain = Target("domain", "target.co.uk")

    def edges(target: Target, filters: Filters | None = None) -> list[Any]:
        return list(standin.edges(target, filters or Filters(), sort="first_seen"))

    assert edges(Target("domain", '{"$gt": ""}')) == []
    assert edges(Target("url", {"$gt": ""})) == []  # type: ignore[arg-type]
    assert edges(Target("host", "$where"), Filters(link_type='{"$ne": null}')) == []
    assert edges(domain, Filters(anchor_contains=".*")) == []
    assert edges(domain, Filters(from_domain='{"$gt": ""}')) == []
    assert (
        len(edges(domain, Filters(anchor_contains="X")))
        == 2
        == len(edges(domain, Filters(anchor_contains="x")))
    )


def test_every_read_of_a_lost_server_is_one_clear_error(standin: MongoStore) -> None:
    """Streamed reads fail when iterated, small reads after the retry window: IndexUnavailable both."""
    write(standin, PAGES)
    standin.retry_seconds = 0.2

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise AutoReconnect("connection refused")

    for collection in (standin._links, standin._pages, standin._counters, standin._db[FIGURES]):
        for name in ("find", "find_one", "aggregate", "count_documents"):
            setattr(collection, name, lost)
    domain = Target("domain", "target.co.uk")
    reads = [
        lambda: list(standin.edges(domain, Filters(), sort="first_seen")),
        lambda: list(standin.edges(domain, Filters(), sort="first_seen", one_per_domain=True)),
        lambda: list(standin.export()),
        standin.count,
        lambda: list(standin.pages_to_recrawl()),
        standin.fingerprint,
        lambda: standin.tally(domain, include_lost=False, since=[0], top=10),
        lambda: list(standin.referring_domains(domain, Filters())),
        lambda: standin.events(domain, Bucketing(86400)),
        lambda: standin.linking_back([("target.co.uk", "a.com")]),
        lambda: list(standin.graph_domains()),
        lambda: list(standin.domain_graph()),
    ]
    for read in reads:
        with pytest.raises(
            IndexUnavailable, match=r"^cannot read index mongodb://standin/backlinks.*: connection"
        ):
            read()


# --- opening, rights and credentials -------------------------------------------------------------------


def test_check_writable_refuses_a_user_without_write_rights_and_changes_nothing() -> None:
    client = strict_client()
    writer = MongoStore("mongodb://crawler:s3cret@standin/backlinks", client=client)
    write(writer, PAGES)

    def everything() -> list[list[dict[str, Any]]]:
        return [list(writer._db[name].find({})) for name in ("links", "pages", "counters")]

    before = everything()
    writer.check_writable()
    assert everything() == before
    deny_writes(client)
    reader = MongoStore("mongodb://crawler:s3cret@standin/backlinks", create=False, client=client)
    assert len(list(reader.export())) == 5 and reader.fingerprint() == [1, 0]  # reading is allowed
    with pytest.raises(IndexUnavailable) as err:
        reader.check_writable()
    message = str(err.value)
    assert message.startswith("cannot write to index mongodb://crawler:***@standin/backlinks: not authorized")
    assert "s3cret" not in message and "\n" not in message
    assert everything() == before


def test_credentials_are_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    uri = "mongodb://crawler:s3cret@127.0.0.1:9/backlinks?serverSelectionTimeoutMS=300"
    with pytest.raises(IndexUnavailable) as err:
        open_index(uri)
    assert "s3cret" not in str(err.value) and "crawler:***@127.0.0.1:9" in str(err.value)
    assert "\n" not in str(err.value)
    assert "s3cret" not in caplog.text


def test_tls_uris_are_accepted_by_the_driver() -> None:
    """With no server here, a TLS URI must fail to connect, not to configure."""
    with pytest.raises(IndexUnavailable) as err:
        open_index(
            "mongodb://127.0.0.1:9/backlinks?tls=true&tlsAllowInvalidCertificates=true"
            "&serverSelectionTimeoutMS=300"
        )
    assert "cannot open index" in str(err.value) and "Unknown option" not in str(err.value)
    import pymongo

    client: Any = pymongo.MongoClient("mongodb://h/backlinks?tls=true", connect=False)
    assert client.options.pool_options._ssl_context is not None
    client.close()


def test_a_missing_index_is_reported_to_readers() -> None:
    with pytest.raises(IndexUnavailable, match="no index at"):
        MongoStore("mongodb://standin/empty", create=False, client=strict_client())


def test_writers_create_the_indexes_and_readers_none() -> None:
    store = MongoStore("mongodb://standin/backlinks", client=strict_client())
    assert {name for name, _ in INDEXES} <= set(store._links.index_information())
    assert "by_recrawl_order" in store._pages.index_information()
    assert {name for name, _ in FIGURE_INDEXES} <= set(store._db[FIGURES].index_information())
    MongoStore("mongodb://standin/backlinks", client=store._client)  # idempotent
    # A reader creates none: a collection made elsewhere keeps only its _id index.
    client = strict_client()
    client.get_database("backlinks")["links"].insert_one({"_id": b"x", "target_domain": "t.org"})
    MongoStore("mongodb://standin/backlinks", create=False, client=client)
    assert set(client.get_database("backlinks")["links"].index_information()) == {"_id_"}
    assert client.get_database("backlinks").list_collection_names() == ["links"]


# --- a real server ---------------------------------------------------------------------------------------


@pytest.fixture
def real() -> Any:
    assert REAL_MONGO
    head, _, query = REAL_MONGO.partition("?")
    uri = f"{head.rstrip('/')}/backlinks_test_{uuid.uuid4().hex[:12]}" + (f"?{query}" if query else "")
    store = MongoStore(uri)
    yield store
    store._client.drop_database(store._db.name)
    store.close()


@pytest.mark.skipif(not REAL_MONGO, reason="needs a real server: set BACKLINKS_TEST_MONGO_URI")
def test_edges_use_the_indexes_on_a_real_server(real: MongoStore) -> None:
    """explain() on a real server (the stand-in's explain always says COLLSCAN)."""
    write(real, PAGES)
    for field, value in (
        ("target_url", "http://www.target.co.uk/x"),
        ("target_host", "shop.target.co.uk"),
        ("target_domain", "target.co.uk"),
    ):
        plan = real._links.find({field: value}).sort([("first_seen", 1), ("_id", 1)]).limit(10).explain()
        text = str(plan["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in text and f"by_{field}" in text and "SORT" not in text, text


def test_pipeline_keeps_a_batch_the_index_refused() -> None:
    """A batch that fails to write is kept and written with the next flush: nothing is lost."""
    from scrapy.utils.test import get_crawler
    from twisted.internet.defer import maybeDeferred

    from backlinkspider.pipelines import IndexPipeline

    crawler = get_crawler(
        settings_dict={
            "BACKLINKS_BATCH_SIZE": 3,
            "BACKLINKS_FLUSH_SECONDS": 60,
            "BACKLINKS_WRITE_RETRY_SECONDS": 60,
        }
    )
    pipe = IndexPipeline.from_crawler(crawler)
    pipe.run = maybeDeferred
    pipe.later = lambda delay, retry: retry()
    store = MongoStore("mongodb://standin/backlinks", client=strict_client(), retry_seconds=0.2)
    pipe.index = store
    flaky = Flaky(store._links, fail_before={1, 2, 3, 4, 5, 6, 7, 8}, fail_after=set())
    assert flaky.calls == 0
    pipe.process_item(
        Page(
            "http://a.org/",
            [Link("http://b.org/1", "text"), Link("http://b.org/2", "text"), Link("http://b.org/3", "text")],
        )
    )
    assert store.count() == 3  # written by a retry after the failures
    pipe.process_item(Page("http://c.org/", [Link("http://b.org/4", "text")] * 3))
    assert not pipe.batches and store.count() == 4
    assert crawler.stats.get_value("backlinks/pages_not_indexed") is None
