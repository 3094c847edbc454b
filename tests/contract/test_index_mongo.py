"""What only the MongoDB store has: its document model, retries, security, and the shape of its reads.

The answers themselves are the contract's (tests/test_store_contract.py); here, how they are asked.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from bson.errors import InvalidDocument
from mongo_standin import (
    FAILOVER_CODES,
    Failover,
    Flaky,
    ServerWouldReject,
    StrictCollection,
    check_update,
    deny_writes,
    strict_client,
    unsatisfiable_write_concern,
)
from pymongo import UpdateMany, UpdateOne
from pymongo.errors import AutoReconnect, BulkWriteError, NetworkTimeout, OperationFailure
from test_index import PAGES, REAL_MONGO, T0, crawled

from backlinkspider.index import open_index
from backlinkspider.index.errors import BadRow, IndexUnavailable
from backlinkspider.index.mongo import INDEXES, MongoStore, update_for
from backlinkspider.index.mongo.documents import PAGE_INDEXES
from backlinkspider.index.mongo.errors import with_retries
from backlinkspider.index.mongo.figures import FIGURE_INDEXES, FIGURES
from backlinkspider.index.mongo.limits import Limits
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
        "provenance",
        "source_ip",
        "source_subnet",
        "counted",
    }


def test_update_documents_are_what_a_real_server_accepts() -> None:
    edge = PAGES[0].edges[0]
    seen = T0.replace(tzinfo=None)
    filter_, update = update_for(edge, seen, PAGES[0])
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


def test_documents_written_before_provenance_and_last_ok_read_as_crawled(standin: MongoStore) -> None:
    """Fields a previous version did not write: an edge without provenance is a crawl's (and the
    provenance filter finds it), a page without last_ok last succeeded at its newest fetch if that did."""
    write(standin, [crawled("http://a.org/", [Link("http://b.org/x", "text", "x")])])
    standin._links.update_many({}, {"$unset": {"provenance": "", "source_ip": "", "source_subnet": ""}})
    standin._pages.update_many({}, {"$unset": {"last_ok": "", "ip_address": ""}})
    target = Target("domain", "b.org")
    assert [r.provenance for r in standin.export()] == ["crawl"]
    assert len(list(standin.edges(target, Filters(provenance="crawl"), sort="first_seen"))) == 1
    assert list(standin.edges(target, Filters(provenance="CC-MAIN-2025-43"), sort="first_seen")) == []
    older = dataclasses.replace(
        crawled("http://a.org/", [Link("http://b.org/y", "text", "y")], T0 - timedelta(days=1)),
        provenance="CC-MAIN-2025-43",
    )
    write(standin, [older])
    lost = {r.target_url: r.lost_at for r in standin.export()}
    assert lost == {"http://b.org/x": None, "http://b.org/y": int(T0.timestamp())}


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


def test_a_document_the_server_refuses_is_bad_data_naming_its_page(standin: MongoStore) -> None:
    """A server's write error for the data (here: too large) is BadRow naming the page, never retried."""
    calls = []

    def refuse(requests: Any, **kwargs: Any) -> Any:
        calls.append(1)
        error = {"index": 2, "code": 10334, "errmsg": "BSONObj size: 17000000 is invalid"}
        raise BulkWriteError({"writeErrors": [error], "writeConcernErrors": [], "nInserted": 0})

    standin._links.bulk_write = refuse  # type: ignore[method-assign]
    with pytest.raises(BadRow, match=r"refused the row of page 'http://b.org/p': BSONObj size") as err:
        write(standin, PAGES)  # edges 0 and 1 are blog.a.com/1's, edge 2 is b.org/p's
    assert err.value.url == "http://b.org/p" and len(calls) == 1


def test_an_operation_past_its_time_limit_is_unavailable_not_bad_data(standin: MongoStore) -> None:
    """MaxTimeMSExpired (50) in writeErrors is the operation's bound, not the row's fault: one try,
    IndexUnavailable (the pipeline retries the batch later), no page set aside."""
    calls = []

    def expire(requests: Any, **kwargs: Any) -> Any:
        calls.append(1)
        error = {"index": 0, "code": 50, "errmsg": "operation exceeded time limit"}
        raise BulkWriteError({"writeErrors": [error], "writeConcernErrors": []})

    standin._pages.bulk_write = expire  # type: ignore[method-assign]
    with pytest.raises(IndexUnavailable, match="exceeded time limit"):
        write(standin, PAGES)
    assert len(calls) == 1


def raising(*errors: Exception) -> Any:
    """An operation that raises ``errors`` in turn, then answers "done"; ``calls`` counts its tries."""
    left = list(errors)

    def operation() -> str:
        operation.calls += 1  # type: ignore[attr-defined]
        if left:
            raise left.pop(0)
        return "done"

    operation.calls = 0  # type: ignore[attr-defined]
    return operation


def test_the_error_rules() -> None:
    """errors.py's rules for a whole operation: lost connections, the RetryableWriteError label and the
    failover codes are retried; a timeout, a write concern error and a refused command are
    IndexUnavailable at the first try; a document the driver refuses is BadRow."""
    labelled = OperationFailure("stepdown", 91, {"errorLabels": ["RetryableWriteError"]})
    stepped_down = OperationFailure("not primary", 10107)
    retried = raising(AutoReconnect("x"), labelled, stepped_down, OperationFailure("election", 11602))
    assert with_retries(retried, "write to", "mongodb://h", 5) == "done" and retried.calls == 5
    failover = BulkWriteError({"writeErrors": [{"index": 0, "code": 10107}, {"index": 3, "code": 189}]})
    whole = raising(failover)  # a bulk sent whole (not by write_all): again whole if every entry may be
    assert with_retries(whole, "write to", "mongodb://h", 5) == "done" and whole.calls == 2
    with pytest.raises(BadRow, match="refused the batch: too big"):
        with_retries(raising(InvalidDocument("too big")), "write to", "mongodb://h", 5)
    concern = BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64, "errmsg": "waiting"}]})
    timeout = NetworkTimeout("timed out (configured timeouts: timeoutMS: 12000.0ms)")
    mixed = BulkWriteError({"writeErrors": [{"index": 0, "code": 10107}, {"index": 1, "code": 121}]})
    for error in (concern, OperationFailure("not authorized", 13), timeout, mixed):
        once = raising(error, error)
        with pytest.raises(IndexUnavailable, match=r"^cannot write to index mongodb://h: "):
            with_retries(once, "write to", "mongodb://h", 5)
        assert once.calls == 1


def many_pages(n: int, when: datetime = T0, links: int = 5) -> list[CrawledPage]:
    return [
        crawled(
            f"http://s{i}.example.com/",
            [Link(f"http://t{j}.org/", "text", f"a{i}") for j in range(links)],
            when,
        )
        for i in range(n)
    ]


class Sizes:
    """Records how many operations each bulk write sends, then sends them."""

    def __init__(self, collection: Any) -> None:
        self.sizes: list[int] = []
        self.original = collection.bulk_write
        collection.bulk_write = self

    def __call__(self, requests: Any, **kwargs: Any) -> Any:
        self.sizes.append(len(requests))
        return self.original(requests, **kwargs)


@pytest.mark.parametrize("code", sorted(FAILOVER_CODES))
def test_a_failover_reported_per_operation_resends_only_what_failed(standin: MongoStore, code: int) -> None:
    """mongos reports a shard's election per operation in writeErrors, which the driver never retries:
    the store sends again just the refused operations (the others were applied) and loses no edge."""
    failover = Failover(standin._links, code, writes=2)
    sizes = Sizes(standin._links)  # outside the failover: what the store sends
    pages = many_pages(8)
    assert write(standin, pages) == 40
    assert sizes.sizes[:3] == [40, 20, 10] and failover.failed == 30  # half refused, twice
    assert sizes.sizes[3:] == [40]  # then the figures' ``counted`` marks (figures.py)
    assert standin.count() == 40
    assert {(r.source_url, r.target_url) for r in standin.export()} == {
        (e.source_url, e.target_url) for p in pages for e in p.edges
    }


def test_an_ordered_bulk_resends_from_the_refused_operation(standin: MongoStore) -> None:
    """The pages' bulk is ordered (one page twice in a batch counts its failures in order): the server
    stops at the refused operation, so it and every later one are sent again."""
    Failover(standin._pages, 10107, writes=1, every=3)
    sizes = Sizes(standin._pages)
    pages = many_pages(5)
    write(standin, pages)
    assert sizes.sizes == [5, 5]  # the first operation was refused: nothing applied, all sent again
    assert {state.url for state in standin.page_states(p.url for p in pages).values()} == {
        p.url for p in pages
    }


def ground_truth_batches() -> list[list[CrawledPage]]:
    """Batches of a crawl with re-crawls: links vanish (lost marks), a page fails three times in a row
    (all its links lost), and one page is fetched twice in one batch."""
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    first = many_pages(12)
    again = [crawled(p.url, [Link("http://t0.org/", "text", "kept")], t1) for p in first[:6]]
    failed = [CrawledPage(first[6].url, T0 + timedelta(hours=h), (), failed=True) for h in (1, 2, 3)]
    twice = [crawled(first[7].url, [Link("http://t1.org/", "text")], t1), crawled(first[7].url, [], t2)]
    return [first[:6], first[6:], again, failed, twice, many_pages(4, t2, links=2)]


@pytest.mark.parametrize("code", [10107, 189, 11602, 6])
def test_failovers_mid_crawl_lose_no_page(standin: MongoStore, tmp_path: Any, code: int) -> None:
    """Every batch of a crawl with re-crawls hits a failover (edges, lost marks and pages alike); the
    index ends as SQLite's, written without one: nothing lost, nothing marked twice."""
    truth = open_index(f"sqlite:///{tmp_path / 'truth.db'}")
    refused = 0
    for batch in ground_truth_batches():
        failovers = [
            Failover(standin._links, code, writes=2, only=UpdateOne),  # the edges
            Failover(standin._links, code, writes=1, only=UpdateMany),  # the lost marks
            Failover(standin._pages, code, writes=1),
        ]
        assert write(standin, batch) == write(truth, batch)
        refused += failovers[1].failed
    assert refused >= 3  # the lost marks did meet failovers
    assert sorted(standin.export()) == sorted(truth.export())
    urls = {p.url for batch in ground_truth_batches() for p in batch}
    assert standin.page_states(urls) == truth.page_states(urls)
    truth.close()


def test_a_key_that_collides_after_its_rewrite_is_one_bad_row_not_a_loop(standin: MongoStore) -> None:
    """A duplicate key is read and rewritten once; one that still collides cannot clear: BadRow naming
    the page, after two sends, never a retry loop."""
    write(standin, PAGES)
    calls = []

    def collide(requests: Any, **kwargs: Any) -> Any:
        calls.append(len(requests))
        error = {"index": 0, "code": 11000, "errmsg": "E11000 duplicate key error"}
        raise BulkWriteError({"writeErrors": [error], "writeConcernErrors": []})

    standin._links.bulk_write = collide  # type: ignore[method-assign]
    with pytest.raises(BadRow, match=r"a row of page 'http://blog.a.com/1' keeps colliding") as err:
        write(standin, PAGES)
    assert err.value.url == "http://blog.a.com/1" and len(calls) == 2


def moved_domains(page: CrawledPage, when: datetime) -> CrawledPage:
    """``page`` fetched again at ``when`` under a newer public suffix list: every edge's registered
    domains computed anew (here: its target's host), its URLs (and so its ``_id``) the same."""
    moved = tuple(
        dataclasses.replace(e, target_domain=e.target_host, source_domain="blog.a.com") for e in page.edges
    )
    return CrawledPage(page.url, when, moved)


def stored_domains(store: MongoStore, url: str) -> set[tuple[str, str]]:
    return {(doc["target_domain"], doc["source_domain"]) for doc in store._links.find({"source_url": url})}


def test_a_new_public_suffix_list_is_written_where_the_edge_is_stored(standin: MongoStore) -> None:
    """A re-crawled page's edge to a domain the page never linked to is looked up first: on a sharded
    cluster its upsert under the new shard key could insert a second document on another shard, with no
    E11000 to say so. The upsert names the stored domain, so nothing collides."""
    write(standin, PAGES)
    recording = Recording(standin._links, "bulk_write")
    assert write(standin, [moved_domains(PAGES[0], T0 + timedelta(days=1))]) == 2
    (edges, *_), _ = recording.calls[0]
    assert len(recording.calls) == 2  # the edges, once (no collision), then the lost marks
    assert {op._filter["target_domain"] for op in edges} == {"target.co.uk"}
    assert stored_domains(standin, PAGES[0].url) == {("target.co.uk", "a.com")}
    assert standin.count() == 5
    (page,) = standin._pages.find({"_id": PAGES[0].url})
    assert page["target_domains"] == ["target.co.uk"]  # the domain it is stored under, not the new one


def test_a_duplicate_key_is_read_and_written_where_the_edge_is_stored(standin: MongoStore) -> None:
    """When nothing said the domain moved (here the page's record is gone), the upsert misses
    ``{_id, target_domain: new}`` and its insert hits E11000: the store reads the stored document and
    sends the upsert again under its domain, keeping its domains (SQLite keeps its row; the contract
    suite checks both answer alike)."""
    write(standin, PAGES)
    standin._pages.delete_many({})
    sizes = Sizes(standin._links)
    assert write(standin, [moved_domains(PAGES[0], T0 + timedelta(days=1))]) == 2
    assert sizes.sizes[:2] == [2, 2]  # both collided, both rewritten in one bulk
    assert stored_domains(standin, PAGES[0].url) == {("target.co.uk", "a.com")}
    docs = list(standin._links.find({"source_url": PAGES[0].url}))
    assert all(doc["last_seen"] == (T0 + timedelta(days=1)).replace(tzinfo=None) for doc in docs)
    assert standin.count() == 5


def test_a_write_concern_no_set_can_satisfy_ends_within_its_timeout() -> None:
    """A majority write with the secondaries gone never returns on its own: the operation's timeout
    ends it, and it is IndexUnavailable at once, not retried for the write window (which would pause
    the crawl for that long). Windows scaled down: timeout 0.3 s, write window 30 s."""
    client = strict_client()
    store = MongoStore(
        "mongodb://standin/backlinks", client=client, retry_seconds=30, limits=Limits(0.3, 600, 0.3)
    )
    unsatisfiable_write_concern(client)
    started = time.monotonic()
    with pytest.raises(
        IndexUnavailable, match=r"^cannot write to index mongodb://standin/backlinks: timed out"
    ):
        write(store, PAGES)
    assert time.monotonic() - started < 15  # one bounded try, not the 30 s window


def test_lost_marks_are_routed_by_the_shard_key(standin: MongoStore) -> None:
    """Marking a re-crawled page's vanished edges lost names the target domains it linked to (the shard
    key), so a sharded cluster sends it only to the shards holding them, not to every shard."""
    write(standin, PAGES)
    recording = Recording(standin._links, "bulk_write")
    t1 = T0 + timedelta(days=1)
    write(standin, [crawled("http://blog.a.com/1", [Link("http://elsewhere.org/", "text")], t1)])
    write(standin, [CrawledPage("http://b.org/p", t1, (), failed=True)] * 3)  # lost after 3 failures
    sent = [op for (requests, *_), _ in recording.calls for op in requests if isinstance(op, UpdateMany)]
    marking = [kw for (requests, *_), kw in recording.calls if isinstance(requests[0], UpdateMany)]
    assert marking and all(kw["ordered"] is False for kw in marking)  # mongos sends them out at once
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
    """No aggregation over the edges: figure documents, two edges (the first and the last), and for a
    window that starts mid-day the count of that day's edges after its start (new, lost); a window from
    midnight is its days' figures alone."""
    write(standin, PAGES)
    recording = aggregations(standin)
    ends = Recording(standin._links, "find_one")
    count = Recording(standin._links, "count_documents")
    got = standin.tally(Target("domain", "target.co.uk"), include_lost=False, since=[0, 43200], top=10)
    assert got.backlinks == 4 and not recording.calls
    assert len(ends.calls) == 2
    filters = [args[0] for args, _ in count.calls]
    assert [sorted(f) for f in filters] == [["first_seen", "target_domain"], ["lost_at", "target_domain"]]
    assert [set(f.get("first_seen", f.get("lost_at"))) for f in filters] == [{"$gte", "$lt"}] * 2


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
    """$group aggregations answering a row per bucket pair, never a document per edge; a domain's
    events read from its figures, not its edges."""
    many = [
        crawled(f"http://s{i}.org/", [Link("http://t.org/a", "text"), Link("http://t.org/b", "text")])
        for i in range(30)
    ]
    write(standin, many)
    weeks = Bucketing(7 * 86400, 3 * 86400)
    recording = aggregations(standin)
    events = standin.events(Target("host", "t.org"), weeks)
    assert events.new_links == {2922: 60} and events.new_domains == {2922: 30}
    assert stages(recording) == [(["$match", "$group"], True), (["$match", "$group", "$group"], True)]
    rows = [list(recording.original(args[0])) for args, _ in recording.calls]
    assert [len(r) for r in rows] == [1, 1]

    links, figures = aggregations(standin), Recording(standin._db[FIGURES], "aggregate")
    assert standin.events(Target("domain", "t.org"), weeks) == events
    assert not links.calls  # the links per day from their figures
    assert [[next(iter(s)) for s in args[0]] for args, _ in figures.calls] == [
        ["$match", "$project", "$group"]
    ]


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
    """Streamed reads fail when iterated, small reads after the retry window: IndexUnavailable both. The
    window (a read's operation timeout, BACKLINKS_MONGO_TIMEOUT: 12 s) is scaled down to 0.3 s for the
    twelve reads."""
    write(standin, PAGES)
    standin.limits = dataclasses.replace(standin.limits, operation=0.3)

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


def test_indexes_are_created_once_by_a_writer_and_never_by_a_reader(monkeypatch: Any) -> None:
    """A writer creates the missing indexes in one createIndexes a collection; a worker starting on a
    ready index only lists them (no create_index stall at start); a reader creates nothing."""
    created: list[tuple[str, list[str]]] = []
    original = StrictCollection.create_indexes

    def recording(self: Any, models: Any, *args: Any, **kwargs: Any) -> Any:
        created.append((self.name, [model.document["name"] for model in models]))
        return original(self, models, *args, **kwargs)

    monkeypatch.setattr(StrictCollection, "create_indexes", recording)
    client = strict_client()
    store = MongoStore("mongodb://standin/backlinks", client=client)
    assert created == [
        ("links", [name for name, _ in INDEXES]),
        ("pages", [name for name, _ in PAGE_INDEXES]),
        (FIGURES, [name for name, _ in FIGURE_INDEXES]),
    ]
    assert {name for name, _ in INDEXES} <= set(store._links.index_information())
    MongoStore("mongodb://standin/backlinks", client=client)  # the next worker: nothing to create
    assert len(created) == 3
    store._links.drop_index("by_source_url")
    MongoStore("mongodb://standin/backlinks", client=client)  # a new index in a new release
    assert created[3:] == [("links", ["by_source_url"])]
    # A reader creates none: a collection made elsewhere keeps only its _id index.
    other = strict_client()
    other.get_database("backlinks")["links"].insert_one({"_id": b"x", "target_domain": "t.org"})
    MongoStore("mongodb://standin/backlinks", create=False, client=other)
    assert set(other.get_database("backlinks")["links"].index_information()) == {"_id_"}
    assert other.get_database("backlinks").list_collection_names() == ["links"] and len(created) == 4


def test_the_opening_check_fails_fast_where_operations_wait_out_an_election() -> None:
    """With no server answering, opening fails after the short opening check, not after the server
    selection an operation gets (long enough for an election); options the URI sets win."""
    limits = Limits(operation=30, stream=600, connect=0.3)
    started = time.monotonic()
    with pytest.raises(IndexUnavailable, match=r"^cannot open index mongodb://127.0.0.1:9/backlinks: "):
        MongoStore("mongodb://127.0.0.1:9/backlinks", limits=limits)
    assert time.monotonic() - started < 15  # the 0.3 s check, not 30 s of server selection
    assert limits.client_options("mongodb://h/b") == {
        "serverSelectionTimeoutMS": 30000,
        "socketTimeoutMS": 600000,
    }
    assert limits.client_options("mongodb://h/b?serverSelectionTimeoutMS=100") == {"socketTimeoutMS": 600000}


def test_linking_back_is_one_round_trip_a_batch(standin: MongoStore) -> None:
    write(
        standin,
        [
            crawled("http://b.org/", [Link("http://a.com/", "text")]),
            crawled("http://c.net/", [Link("http://a.com/", "text")]),
            crawled(
                "http://a.com/",
                [Link("http://b.org/x", "text"), Link("http://c.net/", "text", nofollow=True)],
            ),
        ],
    )
    recording = aggregations(standin)
    find_one = Recording(standin._links, "find_one")
    pairs = [("a.com", "b.org"), ("a.com", "c.net"), ("x.org", "y.org")]
    assert standin.linking_back(pairs) == {("a.com", "b.org")}  # a.com links b.org (followed) only
    assert len(recording.calls) == 1 and not find_one.calls


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


def test_the_pipeline_rides_out_a_stuck_write_concern_then_a_failover() -> None:
    """A write concern no set can satisfy for a while (the secondaries down): each write ends at its
    timeout as IndexUnavailable and the pipeline keeps the batch, retrying with its backoff; when they
    are back, a failover refuses some operations, sent again; every page ends indexed. Timeout scaled
    down to 0.2 s."""
    from scrapy.utils.test import get_crawler
    from twisted.internet.defer import maybeDeferred

    from backlinkspider.pipelines import IndexPipeline

    settings = {"BACKLINKS_BATCH_SIZE": 5, "BACKLINKS_FLUSH_SECONDS": 60, "BACKLINKS_WRITE_RETRY_SECONDS": 60}
    crawler = get_crawler(settings_dict=settings)
    pipe = IndexPipeline.from_crawler(crawler)
    pipe.run = maybeDeferred
    client = strict_client()
    store = MongoStore("mongodb://standin/backlinks", client=client, limits=Limits(0.2, 600, 0.2))
    pipe.index = store
    unsatisfiable_write_concern(client)
    delays: list[float] = []
    failover: list[Failover] = []

    def later(delay: float, retry: Any) -> None:
        delays.append(delay)
        if len(delays) == 2:  # the secondaries are back; a shard's primary steps down
            client._standin_stuck_writes = False
            failover.append(Failover(store._links, 10107, writes=1, only=UpdateOne))
        retry()

    pipe.later = later
    pipe.process_item(Page("http://a.org/", [Link(f"http://b{i}.org/", "text") for i in range(5)]))
    assert len(delays) == 2  # two stuck writes, each ended by its timeout, then written
    assert failover[0].failed == 3 and store.count() == 5 and not pipe.batches
    assert crawler.stats.get_value("backlinks/pages_not_indexed") is None
    assert crawler.stats.get_value("backlinks/pages_indexed") == 1


def test_the_web_server_bounds_every_read_by_the_operation_timeout(monkeypatch: Any) -> None:
    """``serve`` reads with every round trip of a stream bounded like an operation, not by the long
    stream timeout an export gets: its client has given up long before."""
    import pymongo

    from backlinkspider.web.reader import Reader

    given: dict[str, Any] = {}
    shared = strict_client()
    MongoStore("mongodb://standin/backlinks", client=shared)  # an index to serve

    def client(uri: str, **options: Any) -> Any:
        given.update(options)
        return shared

    monkeypatch.setenv("BACKLINKS_MONGO_TIMEOUT", "7")
    monkeypatch.setattr(pymongo, "MongoClient", client)
    Reader("mongodb://standin/backlinks")
    assert given["socketTimeoutMS"] == given["serverSelectionTimeoutMS"] == 7000
