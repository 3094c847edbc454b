"""What only the MongoDB backend has: its document model, retries, security, and index use."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from mongo_standin import Flaky, ServerWouldReject, check_update, deny_writes, strict_client
from test_index import PAGES, REAL_MONGO, T0, crawled

from backlinkspider.extract import Link, Page
from backlinkspider.index import BadRow, CrawledPage, Filters, IndexUnavailable, Target, open_index
from backlinkspider.index.mongo import INDEXES, MongoIndex, update_for


@pytest.fixture
def standin():
    return MongoIndex("mongodb://standin/backlinks", client=strict_client(), retry_seconds=5)


def test_one_document_per_edge_with_a_deterministic_id(standin):
    standin.write(PAGES)
    standin.write(PAGES)
    docs = list(standin._links.find({}))
    assert len(docs) == 5
    edges = [e for page in PAGES for e in page.edges]
    assert {d["_id"] for d in docs} == {e.edge_id for e in edges}
    assert all(isinstance(d["_id"], bytes) and len(d["_id"]) == 16 for d in docs)
    assert not any(isinstance(v, list) for d in docs for v in d.values())  # no arrays of sources
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
    }


def test_update_documents_are_what_a_real_server_accepts():
    edge = PAGES[0].edges[0]
    filter_, update = update_for(edge, T0)
    check_update(filter_, update, upsert=True)
    with pytest.raises(ServerWouldReject):  # the guard itself catches the classic mistake
        check_update(filter_, {"$set": {"first_seen": T0}, "$setOnInsert": {"first_seen": T0}}, True)
    with pytest.raises(ServerWouldReject):
        check_update({"_id": edge.edge_id}, update, upsert=True)  # no shard key
    with pytest.raises(ServerWouldReject):
        check_update(filter_, [{"$set": {"target_domain": "x"}}], upsert=True)  # the shard key
    with pytest.raises(ServerWouldReject):
        check_update(filter_, [{"$match": {}}], upsert=True)  # not an update stage


def test_transient_errors_are_retried_and_every_edge_lands_once(standin):
    many = [
        crawled(f"http://s{i}.example.com/", [Link(f"http://t{j}.org/", "text", f"a{i}") for j in range(5)])
        for i in range(40)
    ]
    flaky = Flaky(standin._links, fail_before={1, 4}, fail_after={2, 7})
    for i in range(0, 40, 10):  # four batches
        standin.write(many[i : i + 10])
    assert flaky.calls == 4 + 4  # each batch: its edges (new pages have nothing to mark lost); 4 failed
    rows = list(standin.export())
    assert len(rows) == 200
    assert {(r["source_url"], r["target_url"]) for r in rows} == {
        (e.source_url, e.target_url) for p in many for e in p.edges
    }


def test_an_outage_longer_than_the_retry_window_is_one_clear_error(standin):
    standin.retry_seconds = 0.5
    Flaky(standin._links, fail_before=set(range(1, 1000)), fail_after=set())
    started = time.monotonic()
    with pytest.raises(IndexUnavailable, match="for 0s: connection closed"):
        standin.write(PAGES)
    assert time.monotonic() - started < 3


def test_a_document_the_server_refuses_is_bad_data_not_an_outage(standin):
    """A server's write error other than a duplicate key (here: too large) is BadRow, never retried."""
    from pymongo.errors import BulkWriteError

    calls = []

    def refuse(requests, **kwargs):
        calls.append(1)
        error = {"index": 0, "code": 10334, "errmsg": "BSONObj size: 17000000 is invalid"}
        raise BulkWriteError({"writeErrors": [error], "writeConcernErrors": [], "nInserted": 0})

    standin._links.bulk_write = refuse
    with pytest.raises(BadRow, match=r"refused the batch: .*BSONObj size"):
        standin.write(PAGES)
    assert len(calls) == 1


def test_lost_marks_are_routed_by_the_shard_key(standin):
    """Marking a re-crawled page's vanished edges lost names the target domains it linked to (the shard
    key), so a sharded cluster sends it only to the shards holding them, not to every shard."""
    from pymongo import UpdateMany

    standin.write(PAGES)
    sent = []
    original = standin._links.bulk_write

    def recording(requests, **kwargs):
        sent.extend(op for op in requests if isinstance(op, UpdateMany))
        return original(requests, **kwargs)

    standin._links.bulk_write = recording
    t1 = T0 + timedelta(days=1)
    standin.write([crawled("http://blog.a.com/1", [Link("http://elsewhere.org/", "text")], t1)])
    standin.write([CrawledPage("http://b.org/p", t1, (), failed=True)] * 3)  # lost after 3 failures
    assert [op._filter["target_domain"] for op in sent] == [
        {"$in": ["target.co.uk"]},
        {"$in": ["other.net", "target.co.uk"]},
    ]
    lost = {(r["source_url"], r["target_url"]) for r in standin.export() if r["lost_at"]}
    assert lost == {
        ("http://blog.a.com/1", "http://www.target.co.uk/x"),
        ("http://blog.a.com/1", "http://shop.target.co.uk/"),
        ("http://b.org/p", "http://www.target.co.uk/x"),
        ("http://b.org/p", "http://other.net/"),
    }


def test_a_summary_is_one_facet_aggregation_and_one_stream_of_domains(standin):
    """Not a pass per figure: every count in one $facet, the referring domains in one more pass, both
    allowed to spill to disk; the figures themselves are checked against the records in test_index."""
    standin.write(PAGES)
    calls = []
    aggregate, count_documents = standin._links.aggregate, standin._links.count_documents

    def recording_aggregate(pipeline, **kwargs):
        calls.append(("aggregate", [next(iter(stage)) for stage in pipeline], kwargs.get("allowDiskUse")))
        return aggregate(pipeline, **kwargs)

    def recording_count(*args, **kwargs):
        calls.append(("count_documents", [], None))
        return count_documents(*args, **kwargs)

    standin._links.aggregate, standin._links.count_documents = recording_aggregate, recording_count
    for scope, value in (("domain", "target.co.uk"), ("url", "http://www.target.co.uk/x")):
        calls.clear()
        got = standin.summary(Target(scope, value), now=T0)
        assert calls == [
            ("aggregate", ["$match", "$facet"], True),
            ("aggregate", ["$match", "$match", "$group"], True),
        ]
        assert got["backlinks"] == (4 if scope == "domain" else 3)


def test_user_input_never_becomes_an_operator(standin):
    standin.write(PAGES)
    assert list(standin.query(Target("domain", '{"$gt": ""}'))) == []
    assert list(standin.query(Target("url", {"$gt": ""}))) == []  # type: ignore[arg-type]
    assert list(standin.query(Target("host", "$where"), Filters(link_type='{"$ne": null}'))) == []
    assert list(standin.query(Target("domain", "target.co.uk"), Filters(anchor_contains=".*"))) == []
    assert list(standin.query(Target("domain", "target.co.uk"), Filters(from_domain='{"$gt": ""}'))) == []
    assert len(list(standin.query(Target("domain", "target.co.uk")))) == 4


def test_check_writable_refuses_a_user_without_write_rights_and_changes_nothing():
    client = strict_client()
    writer = MongoIndex("mongodb://crawler:s3cret@standin/backlinks", client=client)
    writer.write(PAGES)
    before = (list(writer._links.find({})), list(writer._pages.find({})))
    writer.check_writable()
    assert (list(writer._links.find({})), list(writer._pages.find({}))) == before
    deny_writes(client)
    reader = MongoIndex("mongodb://crawler:s3cret@standin/backlinks", create=False, client=client)
    assert len(list(reader.export())) == 5  # reading is allowed
    with pytest.raises(IndexUnavailable) as err:
        reader.check_writable()
    message = str(err.value)
    assert message.startswith("cannot write to index mongodb://crawler:***@standin/backlinks: not authorized")
    assert "s3cret" not in message and "\n" not in message
    assert (list(writer._links.find({})), list(writer._pages.find({}))) == before


def test_credentials_are_never_shown(caplog):
    uri = "mongodb://crawler:s3cret@127.0.0.1:9/backlinks?serverSelectionTimeoutMS=300"
    with pytest.raises(IndexUnavailable) as err:
        open_index(uri)
    assert "s3cret" not in str(err.value) and "crawler:***@127.0.0.1:9" in str(err.value)
    assert "\n" not in str(err.value)
    assert "s3cret" not in caplog.text


def test_tls_uris_are_accepted_by_the_driver():
    """With no server here, a TLS URI must fail to connect, not to configure."""
    with pytest.raises(IndexUnavailable) as err:
        open_index(
            "mongodb://127.0.0.1:9/backlinks?tls=true&tlsAllowInvalidCertificates=true"
            "&serverSelectionTimeoutMS=300"
        )
    assert "cannot open index" in str(err.value) and "Unknown option" not in str(err.value)
    import pymongo

    client = pymongo.MongoClient("mongodb://h/backlinks?tls=true", connect=False)
    assert client.options.pool_options._ssl_context is not None
    client.close()


def test_a_missing_index_is_reported_to_readers():
    with pytest.raises(IndexUnavailable, match="no index at"):
        MongoIndex("mongodb://standin/empty", create=False, client=strict_client())


def test_indexes_are_created_for_every_query():
    idx = MongoIndex("mongodb://standin/backlinks", client=strict_client())
    names = set(idx._links.index_information())
    assert {name for name, _ in INDEXES} <= names
    MongoIndex("mongodb://standin/backlinks", client=idx._client)  # idempotent
    # A reader creates none: a collection made elsewhere keeps only its _id index.
    client = strict_client()
    client.get_database("backlinks")["links"].insert_one({"_id": b"x", "target_domain": "t.org"})
    MongoIndex("mongodb://standin/backlinks", create=False, client=client)
    assert set(client.get_database("backlinks")["links"].index_information()) == {"_id_"}


@pytest.mark.skipif(not REAL_MONGO, reason="needs a real server: set BACKLINKS_TEST_MONGO_URI")
def test_queries_use_the_indexes_on_a_real_server(index):
    """explain() on a real server (the stand-in's explain always says COLLSCAN)."""
    index.write(PAGES)
    for field, value in (
        ("target_url", "http://www.target.co.uk/x"),
        ("target_host", "shop.target.co.uk"),
        ("target_domain", "target.co.uk"),
    ):
        plan = index._links.find({field: value}).sort([("first_seen", 1), ("_id", 1)]).limit(10).explain()
        text = str(plan["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in text and f"by_{field}" in text and "SORT" not in text, text


def test_pages_with_no_edges_write_nothing(standin):
    assert standin.write([crawled("http://a.org/", [Link("http://a.org/self", "text")])]) == 0
    assert standin.write([]) == 0
    assert list(standin.export()) == []


def test_pipeline_keeps_a_batch_the_index_refused(tmp_path):
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
    pipe.run = maybeDeferred  # write and retry in place: no reactor runs here
    pipe.later = lambda delay, retry: retry()
    pipe.index = MongoIndex("mongodb://standin/backlinks", client=strict_client(), retry_seconds=0.2)
    flaky = Flaky(pipe.index._links, fail_before={1, 2, 3, 4, 5, 6, 7, 8}, fail_after=set())
    assert flaky.calls == 0
    pipe.process_item(
        Page(
            "http://a.org/",
            [Link("http://b.org/1", "text"), Link("http://b.org/2", "text"), Link("http://b.org/3", "text")],
        )
    )
    assert pipe.index.count() == 3  # written by a retry after the failures
    pipe.process_item(Page("http://c.org/", [Link("http://b.org/4", "text")] * 3))
    assert not pipe.batches and pipe.index.count() == 4
    assert crawler.stats.get_value("backlinks/pages_not_indexed") is None
