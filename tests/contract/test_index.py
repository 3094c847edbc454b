"""The link index contract, run against every backend."""

from __future__ import annotations

import dataclasses
import os
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

import backlinkspider.query as q
from backlinkspider.crawl.items import page_edges
from backlinkspider.index import BadRow, IndexUnavailable, open_index
from backlinkspider.query import BadTarget, parse_target
from backlinkspider.records import QUERY_FIELDS, CrawledPage, Filters, Link, Page, Target

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


REAL_MONGO = os.environ.get("BACKLINKS_TEST_MONGO_URI")


def mongo_uri(base: str, database: str) -> str:
    """``base`` (a server URI with no database) with ``database`` as its path."""
    head, _, query = base.partition("?")
    return f"{head.rstrip('/')}/{database}" + (f"?{query}" if query else "")


def sqlite_store(request, tmp_path):
    return open_index(f"sqlite:///{tmp_path / 'links.db'}")


def mongo_standin_store(request, tmp_path):
    from mongo_standin import strict_client

    from backlinkspider.index.mongo import MongoStore

    return MongoStore("mongodb://standin/backlinks", client=strict_client())


def shard_if_mongos(uri: str) -> None:
    """On a sharded cluster (the URI names a mongos), shard the database's links collection as
    deploy/README.md says, before anything is written; on a replica set, nothing."""
    import pymongo

    with pymongo.MongoClient(uri) as client:
        if client.admin.command("hello").get("msg") != "isdbgrid":
            return
        name = client.get_default_database().name
        client.admin.command("enableSharding", name)
        client.admin.command("shardCollection", f"{name}.links", key={"target_domain": 1, "_id": 1})


def mongo_real_store(request, tmp_path):
    """A fresh database on the server BACKLINKS_TEST_MONGO_URI names (sharded when it is a mongos),
    dropped after the test."""
    uri = mongo_uri(REAL_MONGO, f"backlinks_test_{uuid.uuid4().hex[:12]}")
    shard_if_mongos(uri)
    idx = open_index(uri)
    request.addfinalizer(lambda: idx._client.drop_database(idx._links.database.name))
    return idx


# Every backend the contract runs on, by name: an opener(request, tmp_path) of a fresh, empty store.
# Every test taking the ``index`` fixture (here and in the test_contract_* files, test_rank_index.py,
# test_api.py) runs on each: SQLite, MongoDB on the stand-in (tests/mongo_standin.py), and a real server
# when BACKLINKS_TEST_MONGO_URI is set.
BACKENDS = {"sqlite": sqlite_store, "mongo-standin": mongo_standin_store}
if REAL_MONGO:
    BACKENDS["mongo-real"] = mongo_real_store


@pytest.fixture(params=list(BACKENDS))
def index(request, tmp_path):
    """Every backend, fresh."""
    idx = BACKENDS[request.param](request, tmp_path)
    yield idx
    idx.close()


def crawled(url: str, links: list[Link], when: datetime = T0) -> CrawledPage:
    return CrawledPage(url, when, page_edges(Page(url, links), keep_internal=False))


PAGES = [  # the second page is crawled a minute after the first: "oldest first" is well defined
    crawled(
        "http://blog.a.com/1",
        [
            Link("http://www.target.co.uk/x", "text", "Target X"),
            Link("http://shop.target.co.uk/", "image", "logo", nofollow=True),
            Link("http://blog.a.com/internal", "text", "not stored"),
        ],
    ),
    crawled(
        "http://b.org/p",
        [
            Link("http://www.target.co.uk/x", "text", "X again", ugc=True),
            Link("http://www.target.co.uk/x", "canonical"),
            Link("http://other.net/", "redirect"),
        ],
        T0 + timedelta(minutes=1),
    ),
]


def test_write_then_export_round_trips_every_field(index):
    assert index.write(PAGES) == 5
    rows = list(q.export(index))
    assert next(r for r in rows if r["anchor_text"] == "Target X") == {
        "source_url": "http://blog.a.com/1",
        "target_url": "http://www.target.co.uk/x",
        "source_domain": "a.com",
        "target_domain": "target.co.uk",
        "link_type": "text",
        "anchor_text": "Target X",
        "nofollow": False,
        "ugc": False,
        "sponsored": False,
        "first_seen": "2026-01-02T03:04:05Z",
        "last_seen": "2026-01-02T03:04:05Z",
        "lost_at": None,
        "provenance": "crawl",
    }
    assert sorted((r["source_url"], r["target_url"], r["link_type"]) for r in rows) == [
        ("http://b.org/p", "http://other.net/", "redirect"),
        ("http://b.org/p", "http://www.target.co.uk/x", "canonical"),
        ("http://b.org/p", "http://www.target.co.uk/x", "text"),
        ("http://blog.a.com/1", "http://shop.target.co.uk/", "image"),
        ("http://blog.a.com/1", "http://www.target.co.uk/x", "text"),
    ]
    assert index.count() == 5


def test_rewrite_is_idempotent_keeps_first_seen_and_moves_last_seen(index):
    index.write(PAGES)
    later = T0 + timedelta(days=3)
    changed = crawled(
        "http://blog.a.com/1",
        [Link("http://www.target.co.uk/x", "text", "New anchor", sponsored=True)],
        later,
    )
    index.write([changed])
    index.write([changed])
    assert index.count() == 5
    row = next(
        r for r in q.export(index) if r["source_url"] == "http://blog.a.com/1" and r["link_type"] == "text"
    )
    assert (row["first_seen"], row["last_seen"]) == ("2026-01-02T03:04:05Z", "2026-01-05T03:04:05Z")
    assert (row["anchor_text"], row["sponsored"]) == ("New anchor", True)
    # An older fetch written late never moves last_seen back.
    index.write([crawled("http://blog.a.com/1", [Link("http://www.target.co.uk/x", "text", "old")], T0)])
    row = next(
        r for r in q.export(index) if r["source_url"] == "http://blog.a.com/1" and r["link_type"] == "text"
    )
    assert row["last_seen"] == "2026-01-05T03:04:05Z"


def test_a_late_write_of_an_older_fetch_changes_nothing_a_newer_one_set(index):
    """Only a fetch at least as new as all an edge reflects changes its anchor, rel flags or lost state
    (a retried batch or a slow worker writes old news late)."""
    url, target = "http://blog.a.com/1", "http://www.target.co.uk/x"
    t1, t2, t3 = (T0 + timedelta(days=d) for d in (1, 2, 3))

    def row(link_type="text"):
        return next(r for r in q.export(index) if r["source_url"] == url and r["link_type"] == link_type)

    index.write(PAGES)  # at T0: "Target X", follow; and an image link
    index.write([crawled(url, [Link(target, "text", "$100 off", sponsored=True)], t2)])  # image lost at t2
    late = crawled(
        url, [Link(target, "text", "stale"), Link("http://shop.target.co.uk/", "image", "logo")], t1
    )
    index.write([late])
    got = row()
    assert (got["anchor_text"], got["sponsored"], got["last_seen"]) == (
        "$100 off",
        True,
        "2026-01-04T03:04:05Z",
    )
    assert live(index, status="lost") == [(url, "http://shop.target.co.uk/", "image")]  # still lost
    # A late failed fetch does not lose what a newer fetch saw.
    index.write([CrawledPage(url, t1, (), failed=True)], lost_after_failures=1)
    assert live(index, status="lost") == [(url, "http://shop.target.co.uk/", "image")]
    # A newer fetch still changes everything.
    index.write(
        [crawled(url, [Link(target, "text", "fresh"), Link("http://shop.target.co.uk/", "image")], t3)]
    )
    assert (row()["anchor_text"], row()["sponsored"]) == ("fresh", False)
    assert live(index, status="lost") == []
    domain = Target("domain", "target.co.uk")  # the aggregates followed every change
    got, want = (
        q.profile(index, domain, now=t3),
        expected_summary(list(q.backlinks(index, domain, limit=0)), t3),
    )
    assert {k: got[k] for k in want} == want and got["by_rel"]["sponsored"] == 0


def test_a_new_public_suffix_list_keeps_each_stored_edge_where_it_is(index):
    """A newer public suffix list computes other registered domains for edges already stored (the edge
    id, from the URLs, is the same): every backend keeps the stored row's domains (SQLite's upsert keeps
    its row; MongoDB's upsert misses ``{_id, target_domain: new}``, hits E11000 and writes to the stored
    document) and still moves last_seen, and a later re-crawl marks the edges lost all the same."""
    url = "http://blog.a.com/1"
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    index.write(PAGES)
    old = {r.edge_id: r for r in index.export()}
    page = PAGES[0]
    renamed = tuple(
        dataclasses.replace(e, target_domain=e.target_host, source_domain="blog.a.com") for e in page.edges
    )
    assert index.write([CrawledPage(url, t1, renamed)]) == 2
    rows = {r.edge_id: r for r in index.export()}
    assert len(rows) == 5
    for edge in page.edges:
        got, was = rows[edge.edge_id], old[edge.edge_id]
        assert (got.target_domain, got.source_domain) == (was.target_domain, was.source_domain)
        assert (got.first_seen, got.last_seen, got.lost_at) == (was.first_seen, int(t1.timestamp()), None)
    index.write([CrawledPage(url, t2, ())])  # the page dropped its links: both lost, where they are
    lost = [r for r in index.export() if r.lost_at]
    assert sorted((r.target_domain, r.lost_at) for r in lost) == [("target.co.uk", int(t2.timestamp()))] * 2


def test_query_by_scope(index):
    index.write(PAGES)
    url = list(q.backlinks(index, Target("url", "http://www.target.co.uk/x")))
    host = list(q.backlinks(index, Target("host", "shop.target.co.uk")))
    domain = list(q.backlinks(index, Target("domain", "target.co.uk")))
    assert [r["source_url"] for r in url] == ["http://blog.a.com/1", "http://b.org/p", "http://b.org/p"]
    assert {r["link_type"] for r in url[1:]} == {"text", "canonical"}
    assert [r["target_url"] for r in host] == ["http://shop.target.co.uk/"]
    assert len(domain) == 4
    assert list(q.backlinks(index, Target("domain", "nobody.com"))) == []


def test_query_filters(index):
    index.write(PAGES)
    domain = Target("domain", "target.co.uk")
    follow = list(q.backlinks(index, domain, Filters(rel="follow")))
    assert [(r["source_url"], r["link_type"]) for r in follow] == [
        ("http://blog.a.com/1", "text"),
        ("http://b.org/p", "canonical"),
    ]
    assert [r["link_type"] for r in q.backlinks(index, domain, Filters(link_type="image"))] == ["image"]
    assert len(list(q.backlinks(index, domain, limit=2))) == 2


def test_redact_hides_passwords_in_every_uri_shown():
    from backlinkspider.redact import redact

    assert redact("mongodb://crawler:s3cret@db1,db2/backlinks?tls=true") == (
        "mongodb://crawler:***@db1,db2/backlinks?tls=true"
    )
    assert redact("redis://:pw@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact("rediss://user:p@ss@host/0") == "rediss://user:***@host/0"
    assert redact("sqlite:///backlinks.db") == "sqlite:///backlinks.db"


def test_parse_target():
    assert parse_target("https://WWW.Target.co.uk/x#y") == Target("url", "https://www.target.co.uk/x")
    assert parse_target("shop.target.co.uk") == Target("domain", "target.co.uk")
    assert parse_target("shop.target.co.uk", "host") == Target("host", "shop.target.co.uk")
    assert parse_target("http://shop.target.co.uk/a", "domain") == Target("domain", "target.co.uk")
    assert parse_target("Bücher.de") == Target("domain", "xn--bcher-kva.de")
    for bad in ("", "not a host", "http://", "ftp://x.org/"):
        with pytest.raises(BadTarget):
            parse_target(bad)
    with pytest.raises(BadTarget):
        parse_target("x.org", "planet")


def test_export_streams_in_constant_memory(index, request):
    if "standin" in request.node.callspec.id:
        pytest.skip("the stand-in keeps its data in this process: this would measure the stand-in")
    many = [
        crawled(f"http://s{i}.example.com/", [Link(f"http://t.org/{j}", "text", "x" * 40) for j in range(50)])
        for i in range(500)
    ]
    index.write(many)
    tracemalloc.start()
    n = sum(1 for _ in q.export(index))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 25_000
    assert peak < 3_000_000  # the 25k rows would take ~15 MB as a list


def bad_edge(**changes):
    good = page_edges(Page("http://x.org/", [Link("http://y.org/", "text", "ok")]), False)[0]
    return dataclasses.replace(good, **changes)


@pytest.mark.parametrize(
    "bad",
    [
        {"anchor_text": None},
        {"anchor_text": "broken \udc80 text"},  # a lone surrogate: no backend can encode it
        {"nofollow": "yes"},
        {"target_domain": 7},
    ],
)
def test_a_batch_with_a_bad_row_is_refused_as_bad_data_and_changes_nothing(index, bad):
    index.write(PAGES)
    before = list(q.export(index))
    good = page_edges(Page("http://z.org/", [Link("http://y.org/", "text", "ok")]), False)
    pages = [CrawledPage("http://z.org/", T0, good), CrawledPage("http://x.org/", T0, (bad_edge(**bad),))]
    with pytest.raises(BadRow) as err:
        index.write(pages)
    assert err.value.url == "http://x.org/" and "\n" not in str(err.value)
    assert not isinstance(err.value, IndexUnavailable)  # retrying cannot help: the pipeline splits the batch
    assert list(q.export(index)) == before
    assert index.write(pages[:1]) == 1  # the rest of the batch is fine


@pytest.mark.parametrize("backend", ["sqlite", "mongo-standin"])
def test_init_makes_an_index_readers_can_open_and_changes_nothing_when_run_again(
    backend, tmp_path, monkeypatch, capsys
):
    """``backlinks init`` means the same on both backends: after it, a reader opens the (empty) index."""
    from backlinkspider import cli

    uri = f"sqlite:///{tmp_path / 'links.db'}"
    if backend == "mongo-standin":
        import pymongo
        from mongo_standin import strict_client

        shared = strict_client()
        shared.close = lambda: None  # one in-memory server for the test
        monkeypatch.setattr(pymongo, "MongoClient", lambda *args, **kwargs: shared)
        uri = "mongodb://standin/backlinks"
    with pytest.raises(IndexUnavailable, match="no index at"):
        open_index(uri, create=False)
    assert cli.main(["init", "--index", uri]) == 0
    assert capsys.readouterr().err == f"backlinks: index ready at {uri}\n"
    with open_index(uri, create=False) as idx:
        assert idx.count() == 0
        idx.write(PAGES)
    assert cli.main(["init", "--index", uri]) == 0
    with open_index(uri, create=False) as idx:
        assert idx.count() == 5


def test_opening_a_missing_index_for_reading_fails_clearly(tmp_path):
    with pytest.raises(IndexUnavailable, match="no index at"):
        open_index(f"sqlite:///{tmp_path / 'none.db'}", create=False)
    for uri in ("backlinks.db", "sqlite://", "postgres://x/y"):
        with pytest.raises(IndexUnavailable):
            open_index(uri)
    with pytest.raises(IndexUnavailable, match="cannot open"):
        open_index(f"sqlite:///{tmp_path}")  # a directory


def unprivileged(fn):
    """``fn()`` run in a forked child that file permissions bind (root drops to nobody, as root ignores
    them); returns ``("ok", result)`` or ``("error", "ExceptionName: message")``."""
    import pickle

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no pytest teardown, only os._exit
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            out = ("ok", fn())
        except BaseException as exc:
            out = ("error", f"{type(exc).__name__}: {exc}")
        os.write(write, pickle.dumps(out))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


@pytest.fixture
def shared_dir():
    """A directory outside pytest's private tmp, which an unprivileged child can reach."""
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="backlinks-test-")
    os.chmod(path, 0o777)
    yield path
    os.chmod(path, 0o755)
    shutil.rmtree(path)


def test_check_writable_refuses_a_read_only_sqlite_index_and_changes_nothing(shared_dir):
    db = os.path.join(shared_dir, "links.db")
    with open_index(f"sqlite:///{db}") as idx:
        idx.write(PAGES)
        before = list(q.export(idx))
        idx.check_writable()  # a writable index passes, unchanged
        assert list(q.export(idx)) == before

    def check(path):
        with open_index(f"sqlite:///{path}") as idx:
            idx.check_writable()
            return len(list(q.export(idx)))

    os.chmod(db, 0o444)  # a read-only file in a writable directory: it opens, but cannot be written
    status, message = unprivileged(lambda: check(db))
    assert status == "error" and message.startswith("IndexUnavailable: cannot write to index")
    assert db in message and "\n" not in message
    os.chmod(db, 0o666)
    os.chmod(shared_dir, 0o555)  # a read-only directory: the WAL cannot be made next to the file
    status, message = unprivileged(lambda: check(db))
    assert status == "error" and message.startswith("IndexUnavailable: cannot")
    status, message = unprivileged(lambda: check(os.path.join(shared_dir, "new.db")))
    assert status == "error" and message.startswith("IndexUnavailable: cannot open index")
    os.chmod(shared_dir, 0o777)
    for path in (db, f"{db}-wal", f"{db}-shm"):  # with the WAL files the child made read-only, too
        if os.path.exists(path):
            os.chmod(path, 0o666)
    assert unprivileged(lambda: check(db)) == ("ok", 5)  # writable again
    with open_index(f"sqlite:///{db}") as idx:
        assert list(q.export(idx)) == before


def in_processes(jobs, start_at=None):
    """Run each ``job()`` in a forked process, all starting at the same moment (``start_at``, by
    time.time()); returns their results, or "ExceptionName: message" for those that raised."""
    import pickle

    start_at = start_at or time.time() + 0.05
    children = []
    for job in jobs:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: no pytest teardown, only os._exit
            try:
                while time.time() < start_at:
                    pass
                out = job()
            except BaseException as exc:
                out = f"{type(exc).__name__}: {exc}"
            os.write(write, pickle.dumps(out))
            os._exit(0)
        os.close(write)
        children.append((pid, read))
    results = []
    for pid, read in children:
        with os.fdopen(read, "rb") as pipe:
            results.append(pickle.loads(pipe.read()))
        os.waitpid(pid, 0)
    return results


def open_and_write(path, n):
    with open_index(f"sqlite:///{path}") as idx:
        return idx.write([crawled(f"http://w{n}.example.org/", [Link("http://t.org/", "text", "x")])])


def test_opening_waits_for_another_process_writing_the_same_new_file(tmp_path):
    """The moment a race hits: another process holds the write lock of the new, not yet WAL, file (as
    one does while it switches the file to WAL). Opening must wait for it, not fail "database is
    locked"."""
    import sqlite3

    path = tmp_path / "new.db"

    def hold_the_write_lock():
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("CREATE TABLE IF NOT EXISTS placeholder (x)")
        time.sleep(0.5)
        other.execute("COMMIT")
        return time.monotonic()

    def open_meanwhile():
        time.sleep(0.1)
        return open_and_write(path, 0), time.monotonic()

    released, opened = in_processes([hold_the_write_lock, open_meanwhile])
    assert opened[0] == 1 and opened[1] >= released, opened  # it waited for the lock, then wrote


def test_workers_opening_a_new_sqlite_index_at_once_all_succeed(tmp_path):
    """Several processes open the same new file at the same moment, many times over: each opens, makes
    the schema (once) and writes."""
    workers, rounds = 4, 12
    for r in range(rounds):
        path = tmp_path / f"race{r}.db"
        results = in_processes([partial(open_and_write, path, n) for n in range(workers)])
        assert results == [1] * workers, (r, results)
        with open_index(f"sqlite:///{path}", create=False) as idx:
            assert idx.count() == workers


# --- lost links, filters, pagination, summaries (the backlink profile) ---------------------------------


def live(index, target=Target("domain", "target.co.uk"), **filters):
    return sorted(
        (r["source_url"], r["target_url"], r["link_type"])
        for r in q.backlinks(index, target, Filters(**filters))
    )


def test_a_recrawl_marks_vanished_edges_lost_and_returning_ones_live(index):
    index.write(PAGES)
    t1 = T0 + timedelta(days=1)
    index.write([crawled("http://blog.a.com/1", [Link("http://www.target.co.uk/x", "text", "Target X")], t1)])
    assert ("http://blog.a.com/1", "http://shop.target.co.uk/", "image") not in live(index)
    assert live(index, status="lost") == [("http://blog.a.com/1", "http://shop.target.co.uk/", "image")]
    assert len(live(index, status="all")) == 4 and index.count() == 5
    index.write(
        [
            crawled(
                "http://blog.a.com/1",
                [Link("http://shop.target.co.uk/", "image", "logo")],
                t1 + timedelta(days=1),
            )
        ]
    )
    assert live(index, status="lost") == [("http://blog.a.com/1", "http://www.target.co.uk/x", "text")]


def test_rows_say_when_a_link_was_lost(index):
    """``lost_at``: null while live, the time of the crawl that found the link gone once lost; the
    same in export and query rows, on every backend; found again, it is null again."""
    index.write(PAGES)
    t1 = T0 + timedelta(days=1)
    index.write([crawled("http://blog.a.com/1", [Link("http://www.target.co.uk/x", "text", "Target X")], t1)])
    exported = {(r["source_url"], r["target_url"], r["link_type"]): r["lost_at"] for r in q.export(index)}
    image = ("http://blog.a.com/1", "http://shop.target.co.uk/", "image")
    assert exported.pop(image) == "2026-01-03T03:04:05Z"
    assert set(exported.values()) == {None}
    domain = Target("domain", "target.co.uk")
    for status, want in (
        ("lost", ["2026-01-03T03:04:05Z"]),
        ("all", ["2026-01-03T03:04:05Z", None, None, None]),
    ):
        for kwargs in ({}, {"one_per_domain": True}, {"sort": "last_seen"}):
            rows = list(q.backlinks(index, domain, Filters(status=status), **kwargs))
            assert all(tuple(k for k in r if k != "_cursor") == QUERY_FIELDS for r in rows)
            if not kwargs:
                assert sorted((r["lost_at"] for r in rows), key=str) == sorted(want, key=str)
    assert {r["lost_at"] for r in q.backlinks(index, domain)} == {None}
    index.write(
        [
            crawled(
                "http://blog.a.com/1",
                [Link("http://shop.target.co.uk/", "image", "logo")],
                t1 + timedelta(days=1),
            )
        ]
    )
    assert next(r for r in q.export(index) if r["link_type"] == "image")["lost_at"] is None


def test_a_page_that_fails_loses_its_links_only_after_repeated_failures(index):
    index.write(PAGES)
    gone = CrawledPage("http://b.org/p", T0 + timedelta(days=1), (), failed=True)
    index.write([gone], lost_after_failures=2)
    assert len(live(index)) == 4  # one failure is a blip
    index.write(
        [CrawledPage("http://b.org/p", T0 + timedelta(days=2), (), failed=True)], lost_after_failures=2
    )
    assert live(index) == [
        ("http://blog.a.com/1", "http://shop.target.co.uk/", "image"),
        ("http://blog.a.com/1", "http://www.target.co.uk/x", "text"),
    ]
    # A success resets the count: the page's links come back with it.
    index.write([CrawledPage(PAGES[1].url, T0 + timedelta(days=3), PAGES[1].edges)])
    assert len(live(index)) == 4


def test_filters(index):
    index.write(PAGES)
    assert live(index, rel="nofollow") == [
        ("http://b.org/p", "http://www.target.co.uk/x", "text"),
        ("http://blog.a.com/1", "http://shop.target.co.uk/", "image"),
    ]
    assert live(index, from_domain="b.org") == [
        ("http://b.org/p", "http://www.target.co.uk/x", "canonical"),
        ("http://b.org/p", "http://www.target.co.uk/x", "text"),
    ]
    assert live(index, anchor_contains="AGAIN") == [("http://b.org/p", "http://www.target.co.uk/x", "text")]
    assert live(index, anchor_contains="%") == [] and live(index, anchor_contains="_") == []
    since = int((T0 + timedelta(seconds=30)).timestamp())
    assert {s for s, _, _ in live(index, since=since)} == {"http://b.org/p"}


def test_one_per_domain_keeps_the_best_link(index):
    index.write(PAGES)
    rows = list(q.backlinks(index, Target("domain", "target.co.uk"), one_per_domain=True))
    assert sorted((r["source_domain"], r["link_type"], r["nofollow"] or r["ugc"]) for r in rows) == [
        ("a.com", "text", False),
        ("b.org", "canonical", False),
    ]


def test_one_per_domain_is_the_same_rule_on_every_backend_and_pages_never_repeat_a_domain(index):
    """Best link per referring domain: follow before any of nofollow / ugc / sponsored (all alike), then
    the oldest; chosen before paging, so a domain shows once however the rows are paged."""
    t = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731
    index.write(
        [
            crawled(
                "http://d.com/1", [Link("http://t.org/a", "text", "nofollow, oldest", nofollow=True)], t(0)
            ),
            crawled("http://d.com/2", [Link("http://t.org/b", "text", "ugc, newer", ugc=True)], t(2)),
            crawled("http://e.com/1", [Link("http://t.org/c", "text", "sponsored", sponsored=True)], t(1)),
            crawled("http://e.com/2", [Link("http://t.org/d", "text", "follow, newest")], t(5)),
            crawled("http://f.com/1", [Link("http://t.org/e", "text", "only")], t(3)),
        ]
    )
    target = Target("domain", "t.org")
    best = {r["source_domain"]: r["anchor_text"] for r in q.backlinks(index, target, one_per_domain=True)}
    assert best == {"d.com": "nofollow, oldest", "e.com": "follow, newest", "f.com": "only"}
    for sort in ("first_seen", "last_seen", "source_domain"):
        whole = [r["source_domain"] for r in q.backlinks(index, target, sort=sort, one_per_domain=True)]
        paged, cursor = [], None
        while batch := list(
            q.backlinks(index, target, sort=sort, limit=1, cursor=cursor, one_per_domain=True)
        ):
            paged += [r["source_domain"] for r in batch]
            cursor = batch[-1]["_cursor"]
        by_offset = [
            r["source_domain"]
            for n in range(4)
            for r in q.backlinks(index, target, sort=sort, limit=1, offset=n, one_per_domain=True)
        ]
        assert paged == by_offset == whole and sorted(whole) == ["d.com", "e.com", "f.com"], sort


@pytest.mark.parametrize("sort", ["first_seen", "source_domain"])
def test_cursor_pagination_neither_skips_nor_repeats_while_the_crawl_writes(index, sort):
    pages = [
        crawled(
            f"http://s{i % 7}-{i}.example.com/",
            [Link("http://t.org/x", "text", f"a{i}")],
            T0 + timedelta(seconds=i % 5),
        )
        for i in range(60)
    ]
    index.write(pages)
    target = Target("domain", "t.org")
    before = {r["source_url"] for r in q.backlinks(index, target)}
    seen: list[str] = []
    cursor = None
    for n in range(100):
        batch = list(q.backlinks(index, target, sort=sort, limit=7, cursor=cursor))
        if not batch:
            break
        seen += [r["source_url"] for r in batch]
        cursor = batch[-1]["_cursor"]
        if n >= 5:
            continue
        # The crawl goes on: new links to the target, and old ones seen again.
        index.write(
            [
                crawled(
                    f"http://new{n}.example.net/",
                    [Link("http://t.org/x", "text", "new")],
                    T0 + timedelta(hours=1, seconds=n),
                ),
                crawled(pages[n].url, [Link("http://t.org/x", "text", f"a{n}")], T0 + timedelta(hours=2)),
            ]
        )
    assert len(seen) == len(set(seen))
    assert before <= set(seen)
    assert n < 20  # it ended
    values = [r[sort] for r in q.backlinks(index, target, sort=sort, limit=0)]
    assert values == sorted(values)


def test_crafted_cursors_are_refused_in_one_line(index):
    """A cursor's value must have its sort's type: never an operator, a float, a bool or a wrong id."""
    import base64
    import json

    index.write(PAGES)
    target = Target("domain", "target.co.uk")
    edge = "00" * 16

    def token(value, edge_hex=edge):
        return base64.urlsafe_b64encode(json.dumps([value, edge_hex]).encode()).decode().rstrip("=")

    crafted = {
        "first_seen": [{"$ne": None}, {"$gt": 0}, None, "2026", 1.5, True, -1, 10**20, [1]],
        "last_seen": [{"$ne": None}, "x"],
        "source_domain": [{"$ne": None}, {"$gt": ""}, 5, None, ["a.com"]],
    }
    for sort, values in crafted.items():
        for value in values:
            with pytest.raises(BadTarget, match=f"not a cursor for --sort {sort}") as err:
                list(q.backlinks(index, target, sort=sort, cursor=token(value)))
            assert "\n" not in str(err.value)
    for bad in (token(0, "zz"), token(0, "00"), token(0, {"$gt": ""}), "%%%", "a" * 5000):
        with pytest.raises(BadTarget) as err:
            list(q.backlinks(index, target, cursor=bad))
        assert len(str(err.value)) < 200
    # A real cursor still works, and a cursor of another sort is refused rather than misread.
    rows = list(q.backlinks(index, target, sort="source_domain", limit=1))
    assert len(list(q.backlinks(index, target, sort="source_domain", cursor=rows[0]["_cursor"]))) == 3
    with pytest.raises(BadTarget, match="for --sort first_seen"):
        list(q.backlinks(index, target, sort="first_seen", cursor=rows[0]["_cursor"]))


def test_offset_pagination(index):
    index.write(PAGES)
    all_rows = [
        r["source_url"] + r["link_type"] for r in q.backlinks(index, Target("domain", "target.co.uk"))
    ]
    paged = [
        r["source_url"] + r["link_type"]
        for off in (0, 2)
        for r in q.backlinks(index, Target("domain", "target.co.uk"), limit=2, offset=off)
    ]
    assert paged == all_rows


def expected_summary(rows, now):
    """A summary computed from exported records, independently of the backends' aggregates."""
    from collections import Counter

    def top(values):
        return [
            {"value": v, "count": c}
            for v, c in sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        ]

    return {
        "backlinks": len(rows),
        "referring_pages": len({r["source_url"] for r in rows}),
        "referring_domains": len({r["source_domain"] for r in rows}),
        "by_rel": {
            "follow": sum(not (r["nofollow"] or r["ugc"] or r["sponsored"]) for r in rows),
            "nofollow": sum(r["nofollow"] for r in rows),
            "ugc": sum(r["ugc"] for r in rows),
            "sponsored": sum(r["sponsored"] for r in rows),
        },
        "by_type": {
            t: sum(r["link_type"] == t for r in rows) for t in ("text", "image", "canonical", "redirect")
        },
        "top_anchors": top(r["anchor_text"] for r in rows),
        "top_referring_domains": top(r["source_domain"] for r in rows),
        "top_pages": top(r["target_url"] for r in rows),
        "first_seen": min(r["first_seen"] for r in rows),
        "last_seen": max(r["last_seen"] for r in rows),
    }


@pytest.mark.parametrize(
    "target",
    [
        Target("domain", "target.co.uk"),
        Target("host", "www.target.co.uk"),
        Target("url", "http://www.target.co.uk/x"),
    ],
)
def test_summary_equals_what_the_records_say(index, target):
    index.write(PAGES)
    index.write(
        [
            crawled(
                "http://blog.a.com/1",
                [Link("http://www.target.co.uk/x", "text", "Target X")],
                T0 + timedelta(days=20),
            )
        ]
    )  # the image link is lost on day 20
    now = T0 + timedelta(days=25)
    got = q.profile(index, target, now=now)
    rows = list(q.backlinks(index, target, limit=0))
    want = expected_summary(rows, now)
    assert {k: got[k] for k in want} == want
    assert got["referring_hosts"] == len({r["source_url"].split("/")[2] for r in rows})
    lost = target.scope == "domain"
    assert got["lost"]["7d"] == {"backlinks": int(lost), "referring_domains": 0}
    assert got["new"]["7d"] == {"backlinks": 0, "referring_domains": 0}
    assert got["new"]["30d"]["backlinks"] == len(
        list(q.backlinks(index, target, Filters(status="all"), limit=0))
    )
    with_lost = q.profile(index, target, include_lost=True, now=now)
    assert with_lost["backlinks"] == len(list(q.backlinks(index, target, Filters(status="all"), limit=0)))


def test_lost_referring_domains(index):
    index.write(PAGES)
    index.write([CrawledPage("http://b.org/p", T0 + timedelta(days=1), ())])  # b.org drops all its links
    got = q.profile(index, Target("domain", "target.co.uk"), now=T0 + timedelta(days=2))
    assert got["lost"]["7d"] == {"backlinks": 2, "referring_domains": 1}
    assert got["referring_domains"] == 1 and got["backlinks"] == 2


def test_pages_to_recrawl_oldest_first(index):
    index.write(PAGES)
    index.write([CrawledPage("http://blog.a.com/1", T0 + timedelta(days=1), PAGES[0].edges)])
    assert list(index.pages_to_recrawl()) == ["http://b.org/p", "http://blog.a.com/1"]
    assert list(index.pages_to_recrawl(1)) == ["http://b.org/p"]
