"""The MongoDB store: the primitives of ``index.protocols`` as finds and aggregations, and no policy.

Writes are ``bulk_write``s of upserts (see ``documents.update_for``), sent by ``errors.write_all``, which
sends again only the operations a failover refused. Reads stream a cursor (``errors.reading``) or run one
aggregation with ``allowDiskUse``. Every operation is bounded (``limits.Limits``). Every read of a
target's edges names ``target_domain`` (the shard key's prefix), so a sharded cluster asks only the
shards holding that domain. A reader (``create=False``) creates nothing: a user with the ``read`` role
can run it; a writer creates the indexes ``documents`` lists only when one is missing (``backlinks init``
creates them ahead of the workers).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import pymongo
from pymongo import IndexModel, UpdateMany, UpdateOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ConfigurationError, PyMongoError

from backlinkspider.index.checks import checked
from backlinkspider.index.errors import BadRow, IndexUnavailable, unavailable
from backlinkspider.index.mongo import documents as d
from backlinkspider.index.mongo import pipelines as p
from backlinkspider.index.mongo.errors import DUPLICATE_KEY, Op, reading, with_retries, write_all
from backlinkspider.index.mongo.figures import FIGURE_INDEXES, FIGURES, Figures, reached_by_marks
from backlinkspider.index.mongo.limits import Limits
from backlinkspider.records import (
    Bucketing,
    CrawledPage,
    Crossing,
    Edge,
    EdgeRow,
    EdgeSort,
    Events,
    Filters,
    Group,
    GroupBy,
    Outgoing,
    PageState,
    ScoreRow,
    ScoreRun,
    ScoreSort,
    Span,
    Status,
    Tally,
    Target,
)
from backlinkspider.redact import redact

T = TypeVar("T")
Document = d.Document
DEFAULT_DATABASE = "backlinks"
BATCH = 1000  # names per $in, score documents per insert_many


class MongoStore:
    """The edge and score store in the database a ``mongodb://`` (or ``mongodb+srv://``) URI names
    (default ``backlinks``). Credentials and TLS come from the URI or the driver's environment; the URI
    is only ever shown redacted. ``client``: an in-process stand-in, for tests. ``limits``: the run's
    (None: from the project's settings and the environment). ``retry_seconds``: how long a write's
    retryable failures are sent again before ``IndexUnavailable`` (the pipeline then retries the batch)."""

    def __init__(
        self,
        uri: str,
        *,
        create: bool = True,
        retry_seconds: float = 120.0,
        client: Any = None,
        limits: Limits | None = None,
    ) -> None:
        self.uri = uri
        self.where = redact(uri)
        self.retry_seconds = retry_seconds
        self.limits = limits or Limits.from_settings()
        try:
            self._client: pymongo.MongoClient[Document] = client or pymongo.MongoClient(
                uri, appname="backlinkspider", **self.limits.client_options(uri)
            )
            self._db: Database[Document] = self._client.get_default_database(default=DEFAULT_DATABASE)
            self._links = self._db[d.LINKS]
            self._pages = self._db[d.PAGES]
            self._counters = self._db[d.COUNTERS]
            with pymongo.timeout(self.limits.connect):  # fail fast when no server answers at all
                self._client.admin.command("ping")
            self._figures = Figures(self._links, self._client, self._written)
            if create:
                self._ensure_indexes()
            elif d.LINKS not in self._retried(self._db.list_collection_names):
                raise IndexUnavailable(f"no index at {self.where} (crawl first, or pass --index)")
        except (ConfigurationError, PyMongoError, ValueError) as exc:
            raise unavailable("open", self.where, exc) from None

    def _ensure_indexes(self) -> None:
        """Create the indexes ``documents`` lists that are missing, one ``createIndexes`` a collection:
        a writer's first use of a new index, or ``backlinks init``. A worker starting on a ready index
        only lists them (creating existing ones would still take each collection's lock in turn)."""
        for collection, indexes in (
            (self._links, d.INDEXES),
            (self._pages, d.PAGE_INDEXES),
            (self._db[FIGURES], FIGURE_INDEXES),
        ):
            present = self._retried(collection.index_information)
            missing = [IndexModel(keys, name=name) for name, keys in indexes if name not in present]
            if missing:
                self._written(partial(collection.create_indexes, missing))

    def _retried(self, operation: Callable[[], T]) -> T:
        """A read answered whole: tries, retried by the drivers' rules, all within one operation's time
        (``BACKLINKS_MONGO_TIMEOUT``), so a web request's read ends before its client gives up."""
        timeout = self.limits.operation
        return with_retries(operation, "read", self.where, timeout, timeout)

    def _written(self, operation: Callable[[], T]) -> T:
        """A write, each try bounded by ``BACKLINKS_MONGO_TIMEOUT``, retried for ``retry_seconds``."""
        return with_retries(operation, "write to", self.where, self.retry_seconds, self.limits.operation)

    def _bulk(
        self,
        collection: Collection[Document],
        ops: Sequence[Op],
        owners: Sequence[str],
        *,
        ordered: bool,
        rekey: Any = None,
    ) -> None:
        """``ops`` sent by ``errors.write_all``; ``owners[i]``: the page ``ops[i]`` writes for."""
        if ops:
            write_all(
                lambda sent, in_order: collection.bulk_write(sent, ordered=in_order),
                ops,
                ordered=ordered,
                where=self.where,
                window=self.retry_seconds,
                timeout=self.limits.operation,
                owner=owners.__getitem__,
                rekey=rekey,
            )

    def _find(
        self, collection: Collection[Document], query: Document, projection: Any = None
    ) -> list[Document]:
        """A small find's whole answer, retried (its cursor made anew for each try)."""
        return self._retried(lambda: list(collection.find(query, projection)))

    def _aggregated(self, pipeline: p.Pipeline) -> list[Document]:
        """A small aggregation's whole answer, retried."""
        return self._retried(lambda: list(self._links.aggregate(pipeline, allowDiskUse=True)))

    def _streamed(self, cursor: Callable[[], Iterable[Document]]) -> Iterator[Document]:
        """A streamed read: its cursor is made and read inside, so a lost server is ``IndexUnavailable``
        whenever the driver notices it (a find runs at its first batch, an aggregate when called)."""
        with reading(self.where):
            yield from cursor()

    def _aggregate(self, pipeline: p.Pipeline) -> Iterator[Document]:
        """A streamed aggregation, allowed to spill to disk past 100 MB a stage (the manual's limit)."""
        return self._streamed(lambda: self._links.aggregate(pipeline, allowDiskUse=True, batchSize=10_000))

    # --- writes ------------------------------------------------------------------------------------------

    def write(self, pages: Sequence[CrawledPage], *, lost_after_failures: int = 3) -> int:
        """Pages first (a page's target domains are kept before any of its edges exists), then the edges
        (unordered: any order lands the same), then the lost marks, which read the ``last_seen`` the
        upserts just moved; then the write counter (``fingerprint``). Each step sends again only what a
        failover refused (``errors.write_all``); a batch that fails is written again whole by the
        pipeline: every step is idempotent."""
        pages = checked(pages)
        known = self._known_pages([page.url for page in pages])
        stored = self._stored_domains(pages, known)
        edges: list[tuple[Edge, datetime, CrawledPage]] = []
        lost: list[tuple[UpdateMany, str]] = []
        marks: list[Document] = []  # the edges the lost marks reach, for the figures
        page_ops: list[UpdateOne] = []
        for page in pages:
            seen = d.bson_date(page.seen_at)
            kept = [_kept(edge, stored) for edge in page.edges]
            edges.extend((edge, seen, page) for edge in kept)
            failures, domains, newest, newest_ok = known.get(page.url, (0, [], seen, None))
            failures = failures + 1 if page.failed else 0
            linked = sorted({edge.target_domain for edge in kept})
            # A fetch older than the newest successful one marks at that one what only it saw (edges
            # to domains it may be the first to link to: their shards are asked too).
            marked_at = seen if page.failed or newest_ok is None else max(seen, newest_ok)
            marked = domains if domains is None or marked_at == seen else sorted({*domains, *linked})
            mark = d.lost_mark(page.url, marked_at, marked)
            if mark is not None and (not page.failed or failures >= lost_after_failures):
                lost.append((mark, page.url))
                marks.append(reached_by_marks(page.url, marked_at, marked))
            domains = None if domains is None else sorted({*domains, *linked})
            if not page.failed:
                newest_ok = seen if newest_ok is None else max(newest_ok, seen)
            known[page.url] = (failures, domains, max(newest, seen), newest_ok)
            status = page.failure if seen >= newest else d.KEEP
            page_ops.append(d.page_update(page.url, seen, failures, linked, status, page.ip_address))
        edge_ops = [UpdateOne(*d.update_for(edge, seen, page), upsert=True) for edge, seen, page in edges]
        rekey = partial(self._rekey, edges)
        steps: list[tuple[Collection[Document], Sequence[Op], list[str], bool, Any]] = [
            (self._pages, page_ops, [page.url for page in pages], True, None),
            (self._links, edge_ops, [page.url for *_, page in edges], False, rekey),
            *((self._links, [m for m, _ in r], [url for _, url in r], False, None) for r in _rounds(lost)),
        ]

        def written(session: ClientSession | None) -> None:
            """Outside a transaction each step sends again what a failover refused (``_bulk``); inside
            one, an error aborts the transaction, which ``with_transaction`` retries whole."""
            for collection, ops, owners, ordered, rekeyed in steps:
                if session is None:
                    self._bulk(collection, ops, owners, ordered=ordered, rekey=rekeyed)
                elif ops:
                    self._in_transaction(collection, ops, owners, ordered, rekeyed, session)

        ids = [edge.edge_id for edge, *_ in edges]
        batch = partial(self._figures.counted, written, ids, marks)
        if self._figures.transactions:  # the whole transaction bounded, retried as a write
            self._written(batch)
        else:  # each operation bounded inside; the batch retried whole when the figures' writes fail
            with_retries(batch, "write to", self.where, self.retry_seconds)
        if pages:
            self._bump(d.WRITE_BATCHES)
        return len(edge_ops)

    def _in_transaction(
        self,
        collection: Collection[Document],
        ops: Sequence[Op],
        owners: Sequence[str],
        ordered: bool,
        rekey: Any,
        session: ClientSession,
    ) -> None:
        """A step inside the batch's transaction. A duplicate key there cannot be rewritten and sent
        again (the error aborted the transaction), and is no race (two transactions inserting one edge
        meet a WriteConflict, which ``with_transaction`` retries): it is a moved domain no page record
        announced, ``BadRow`` naming the page and both domains."""
        try:
            collection.bulk_write(list(ops), ordered=ordered, session=session)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            collided = {e["index"]: ops[e["index"]] for e in errors if e.get("code") == DUPLICATE_KEY}
            if not collided or rekey is None:
                raise
            i = min(collided)
            _, why = rekey({i: collided[i]})[i]
            raise BadRow(
                f"index {self.where}: a row of page {owners[i]!r} collides on its _id: {why}", owners[i]
            ) from None

    def _stored_domains(
        self,
        pages: list[CrawledPage],
        known: dict[str, tuple[int, list[str] | None, datetime, datetime | None]],
    ) -> dict[bytes, str]:
        """The stored target domain of each edge of a re-crawled page that points to a domain the page
        never linked to before (``pages.target_domains``) and is stored under another: a newer public
        suffix list moved it. The edge is written where it is stored. Read before writing, because on a
        sharded cluster the upsert of the new shard key may route to another shard and insert a second
        document with the same ``_id`` (an ``_id`` is unique only per shard unless it leads the shard
        key: the manual's "Sharded Cluster Requirements"); E11000 (``_rekey``) catches the rest. One
        query a batch, only when such edges exist, sent to the shards of the page's old domains."""
        ids: list[bytes] = []
        domains: set[str] | None = set()
        for page in pages:
            if page.url not in known:
                continue
            _, linked, *_ = known[page.url]
            fresh = [e.edge_id for e in page.edges if linked is None or e.target_domain not in linked]
            ids.extend(fresh)
            if fresh and domains is not None:
                domains = None if linked is None else domains | set(linked)
        if not ids:
            return {}
        where: Document = {"_id": {"$in": ids}}
        if domains is not None:
            where = {"target_domain": {"$in": sorted(domains)}, **where}
        return {doc["_id"]: doc["target_domain"] for doc in self._find(self._links, where, ["target_domain"])}

    def _rekey(
        self, edges: list[tuple[Edge, datetime, CrawledPage]], ops: dict[int, Op]
    ) -> dict[int, tuple[Op | None, str]]:
        """Upserts that hit a duplicate ``_id`` (E11000), rewritten to the document holding it: a new public
        suffix list moved the edge's registered domain, so the filter ``{_id, target_domain: new}``
        matched nothing and the insert collided. The edge keeps its stored domain, as SQLite keeps its
        row. (A concurrent insert of the same edge is sent again as it was: it now finds the winner's.)
        Read by ``_id`` alone: every shard is asked, on this rare path only."""
        ids = [edges[i][0].edge_id for i in ops]
        stored = {
            doc["_id"]: doc["target_domain"]
            for doc in self._find(self._links, {"_id": {"$in": ids}}, ["target_domain"])
        }
        answers: dict[int, tuple[Op | None, str]] = {}
        for i, op in ops.items():
            edge, seen, page = edges[i]
            domain = stored.get(edge.edge_id)
            if domain is None or domain == edge.target_domain:
                answers[i] = (op, f"a concurrent write of edge {edge.source_url} -> {edge.target_url}")
                continue
            kept = dataclasses.replace(edge, target_domain=domain)
            why = f"edge {edge.source_url} -> {edge.target_url} is stored under {domain!r}, now {edge.target_domain!r}"
            answers[i] = (UpdateOne(*d.update_for(kept, seen, page), upsert=True), why)
        return answers

    def _bump(self, counter: str) -> None:
        """One more of ``counter`` (see ``fingerprint``); a retry after a lost acknowledgement may count
        a write twice, which only moves the fingerprint further."""
        self._written(partial(self._counters.update_one, {"_id": counter}, {"$inc": {"n": 1}}, upsert=True))

    def _known_pages(
        self, urls: list[str]
    ) -> dict[str, tuple[int, list[str] | None, datetime, datetime | None]]:
        """Per page already fetched: its failures in a row, the target domains it linked to (None for a
        page indexed before they were kept), its newest fetch, and its newest successful fetch (of a page
        indexed before it was kept: its newest fetch if that succeeded)."""
        fields = ["failures", "target_domains", "last_crawled", "status", "last_ok"]
        found = self._find(self._pages, {"_id": {"$in": sorted(set(urls))}}, fields)
        return {
            doc["_id"]: (
                doc.get("failures") or 0,
                doc.get("target_domains"),
                doc["last_crawled"],
                doc["last_ok"] if "last_ok" in doc else None if doc.get("status") else doc["last_crawled"],
            )
            for doc in found
        }

    def check_writable(self) -> None:
        """Updates that match no document: a server checks the user's rights (and that it is a writable
        primary) before it looks for matches, and nothing is written."""
        for collection, probe in (
            (self._links, UpdateOne({"_id": b"", "target_domain": ""}, {"$set": {"lost_at": None}})),
            (self._pages, UpdateOne({"_id": ""}, {"$set": {"failures": 0}})),
            (self._counters, UpdateOne({"_id": ""}, {"$inc": {"n": 0}})),
            (self._db[FIGURES], UpdateOne({"_id": ""}, {"$inc": {"n_all": 0}})),
        ):
            self._written(partial(collection.bulk_write, [probe]))

    # --- edges -------------------------------------------------------------------------------------------

    def edges(
        self,
        target: Target,
        filters: Filters,
        *,
        sort: EdgeSort,
        after: tuple[int | str, bytes] | None = None,
        limit: int | None = None,
        offset: int = 0,
        one_per_domain: bool = False,
    ) -> Iterator[EdgeRow]:
        """A find on the index of the scope and the sort (``documents.SORT_INDEXES``; not hinted: with a
        selective filter, such as one referring domain, the planner rightly picks another), or with
        ``one_per_domain`` a walk of that index keeping each domain's best edge (``_best_walk``)."""
        if limit == 0:
            return iter(())
        match = p.where(target, filters)
        if one_per_domain:
            return map(d.edge_row, self._best_walk(match, sort, after, limit, offset))
        later = [p.after(sort, *after)] if after else []
        query = {"$and": [match, *later]} if later else match
        keys = [(sort, 1), ("_id", 1)]
        found = self._streamed(
            lambda: self._links.find(query, d.PROJECTION).sort(keys).skip(offset).limit(limit or 0)
        )
        return map(d.edge_row, found)

    def _best_walk(
        self,
        match: Document,
        sort: EdgeSort,
        after: tuple[int | str, bytes] | None,
        limit: int | None,
        offset: int,
    ) -> Iterator[Document]:
        """Each referring domain's best edge (``records.BEST_EDGE_ORDER``) among those ``match`` passes, in
        ``(sort, _id)`` order after ``after``: the scope's sort index is walked from ``after`` in finds of
        a few pages, and an edge is kept when it is its domain's best, which one ``$in`` find a walked
        chunk reads on the ``(scope, source_domain, _id)`` index (``best_edges``). So a page reads the
        edges in its span of the order and those of the referring domains it meets: what the referring
        domains on it hold, never the target's edges (a ``$group`` would read every one each page). A
        domain with many links to the target (a sitewide link) costs them all on a page that meets it:
        an index on ``(scope, source_domain, first_seen)`` would bound that too, at the price of one
        more index a scope on every write."""
        keys = [(sort, 1), ("_id", 1)]
        chunk = min(max(2 * (offset + limit), 32), BATCH) if limit else BATCH
        best: dict[str, bytes] = {}
        skip, left = offset, limit
        while True:
            later = [p.after(sort, *after)] if after else []
            query = {"$and": [match, *later]} if later else match
            docs = self._retried(partial(self._first_rows, query, keys, chunk))
            met = sorted({doc["source_domain"] for doc in docs} - best.keys())
            best.update((domain, doc["_id"]) for domain, doc in self.best_edges(match, met).items())
            for doc in docs:
                if best[doc["source_domain"]] != doc["_id"]:
                    continue
                if skip:
                    skip -= 1
                    continue
                yield doc
                if left is not None and not (left := left - 1):
                    return
            if len(docs) < chunk:
                return
            value = docs[-1][sort]
            after = (value if isinstance(value, str) else d.seconds(value), docs[-1]["_id"])

    def best_edges(self, match: Document, domains: Sequence[str]) -> dict[str, Document]:
        """Each of ``domains``' best edge among those ``match`` passes (a domain with none is absent):
        its edges read by ``$in``, ``BATCH`` domains a find."""
        ranked: dict[str, tuple[tuple[Any, ...], Document]] = {}
        for names in _batches(domains, BATCH):
            query = {**match, "source_domain": {"$in": names}}
            for doc in self._find(self._links, query, d.PROJECTION):
                rank = d.best_rank(doc)
                if doc["source_domain"] not in ranked or rank < ranked[doc["source_domain"]][0]:
                    ranked[doc["source_domain"]] = (rank, doc)
        return {domain: doc for domain, (_, doc) in ranked.items()}

    def domains_edges(
        self,
        target: Target,
        filters: Filters,
        domains: Sequence[str],
        *,
        after: bytes | None = None,
        limit: int | None = None,
        one_per_domain: bool = False,
    ) -> Iterator[EdgeRow]:
        """One read for every domain: with ``one_per_domain`` the ``$in`` find of ``best_edges``, else
        one aggregation of a ``$unionWith`` branch a domain (``pipelines.domains_edges``)."""
        if not domains or limit == 0:
            return iter(())
        match = p.where(target, filters)
        if not one_per_domain:
            return map(d.edge_row, self._aggregate(p.domains_edges(match, domains, after, limit)))
        best = self.best_edges(match, domains)
        rows = [
            best[domain]
            for k, domain in enumerate(domains)
            if domain in best and (after is None or k or best[domain]["_id"] > after)
        ]
        return map(d.edge_row, rows[:limit])

    def _first_rows(self, query: Document, keys: list[tuple[str, int]], limit: int) -> list[Document]:
        return list(self._links.find(query, d.PROJECTION).sort(keys).limit(limit))

    def export(self, after: bytes | None = None) -> Iterator[EdgeRow]:
        """In ``_id`` order (16 bytes, compared bytewise as SQLite compares its edge_id), on the ``_id``
        index: a resumed export starts at its bound."""
        where = {} if after is None else {"_id": {"$gt": after}}
        found = self._streamed(lambda: self._links.find(where, d.PROJECTION).sort([("_id", 1)]))
        return map(d.edge_row, found)

    def count(self) -> int:
        """The collection's metadata count (the manual: ``estimated_document_count``), not a scan."""
        return int(self._retried(self._links.estimated_document_count))

    def pages_to_recrawl(self, limit: int | None = None) -> Iterator[str]:
        """On ``by_recrawl_order`` ``(last_crawled, _id)``: no blocking sort, a limit reads its rows."""
        order = [("last_crawled", 1), ("_id", 1)]
        found = self._streamed(lambda: self._pages.find({}, {"_id": 1}).sort(order).limit(limit or 0))
        return (doc["_id"] for doc in found)

    def fingerprint(self) -> list[int | None]:
        """``[edge write batches, score saves]``: two counters, each bumped with ``$inc`` once its write
        is done, so a batch that only marks links lost moves the first too; a rank's scores are stale
        once the first differs from the one it read. Every connection reads the same documents."""
        counters = {doc["_id"]: doc["n"] for doc in self._find(self._counters, {})}
        return [counters.get(d.WRITE_BATCHES, 0), counters.get(d.SCORE_SAVES, 0)]

    def tally(self, target: Target, *, include_lost: bool, since: Sequence[int], top: int) -> Tally:
        """A domain's from its figures (``figures.Figures.tally``); a host's or a URL's (a far smaller
        target) by one ``$facet`` aggregation over its edges (see ``pipelines.tally_facets``)."""
        if target.scope == "domain":
            figures = self._figures.tally
            return self._retried(
                partial(figures, target.value, include_lost=include_lost, since=since, top=top)
            )
        match = p.where(target, Filters(status="all"))
        pipeline = [{"$match": match}, {"$facet": p.tally_facets(include_lost, since, top)}]
        got = self._aggregated(pipeline)[0]
        one = {name: (rows[0] if rows else {}) for name, rows in got.items()}
        edges, moved_edges, moved_domains = one["edges"], one["new_lost_edges"], one["new_lost_domains"]

        def listed(name: str) -> list[tuple[str, int]]:
            return [(g["_id"], g["count"]) for g in got[name]]

        def windows(kind: str) -> list[tuple[int, int]]:
            keys = [f"{kind}w{i}" for i in range(len(since))]
            return [(moved_edges.get(k, 0), moved_domains.get(k, 0)) for k in keys]

        return Tally(
            backlinks=edges.get("n", 0),
            referring_pages=one["pages"].get("n", 0),
            referring_hosts=one["hosts"].get("n", 0),
            referring_ips=one["ips"].get("n", 0),
            referring_subnets=one["subnets"].get("n", 0),
            follow=edges.get("follow", 0),
            nofollow=edges.get("nofollow", 0),
            ugc=edges.get("ugc", 0),
            sponsored=edges.get("sponsored", 0),
            by_type={g["_id"]: g["count"] for g in got["types"]},
            top_anchors=listed("top_anchors"),
            top_referring_domains=listed("top_domains"),
            top_pages=listed("top_pages"),
            first_seen=d.seconds(edges["first"]) if edges.get("first") else None,
            last_seen=d.seconds(edges["last"]) if edges.get("last") else None,
            new=windows("new"),
            lost=windows("lost"),
        )

    def rebuild_figures(self, domain: str) -> int:
        """Recount a domain's figures from its edges (``figures``: only a standalone server's can drift);
        the number of its edges."""
        try:
            return self._figures.rebuild(domain)
        except PyMongoError as exc:
            raise unavailable("write to", self.where, exc) from None

    def referring_domains(self, target: Target, filters: Filters) -> Iterator[str]:
        """A ``$group`` streamed back in batches, not ``distinct``, whose answer is one document of at
        most 16 MB (the manual's BSON limit: ~500k domains); a domain's live (or all) referring domains
        are its ``ref_domain`` figures, no edge read."""
        if target.scope == "domain" and filters in (Filters(), Filters(status="all")):
            live = filters.status == "live"
            found = self._streamed(lambda: self._figures.referring_domains(target.value, live))
            return (doc["v"] for doc in found)
        pipeline = [
            {"$match": p.where(target, filters)},
            {"$group": {"_id": "$source_domain"}},
            {"$sort": {"_id": 1}},
        ]
        return (g["_id"] for g in self._aggregate(pipeline))

    def events(self, target: Target, bucketing: Bucketing) -> Events:
        """A domain's from its figures: its links per day (``Figures.days``, one document a day
        with activity), its referring domains one document each (``Figures.domain_events``). A host's or
        a URL's (the figures are per target domain), and a domain's links in buckets that cut a day or
        before its figures were recounted with days (``figures.Days``), are grouped from the
        edges by two aggregations that each answer a few rows a bucket (``pipelines.link_events``)."""
        match = p.where(target, Filters(status="all"))
        domain = target.scope == "domain"
        days = self._retried(partial(self._figures.days, target.value)) if domain else None
        links = days.buckets(bucketing) if days else None
        if links is None:
            links = _bucket_counts(self._aggregated(p.link_events(match, bucketing)))
        if domain:
            domains = self._retried(partial(self._figures.domain_events, target.value, bucketing))
        else:
            domains = self._aggregated(p.domain_events(match, bucketing))
        new_domains, lost_domains = _bucket_counts(domains)
        return Events(*links, new_domains, lost_domains)

    def linking_back(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """One aggregation a ``BATCH`` of pairs, not a round trip each: an ``$or`` of their
        ``by_domain_source`` bounds (a sharded cluster asks only the shards of those target domains),
        grouped to one row per pair that links back. It reads the live followed links between each
        pair, which a page of rows keeps small."""
        found: set[tuple[str, str]] = set()
        for chunk in _batches(sorted(set(pairs)), BATCH):
            either = [{"target_domain": source, "source_domain": target} for target, source in chunk]
            pipeline: p.Pipeline = [
                {"$match": {"$or": either, **p.LIVE_FOLLOWED}},
                {"$group": {"_id": {"t": "$source_domain", "s": "$target_domain"}}},
            ]
            found.update((g["_id"]["t"], g["_id"]["s"]) for g in self._aggregated(pipeline))
        return found

    def graph_domains(self) -> Iterator[str]:
        """Both ends of the graph's pairs, grouped and sorted on the server."""
        ends: p.Pipeline = [
            {"$project": {"_id": 0, "domain": ["$_id.s", "$_id.t"]}},
            {"$unwind": "$domain"},
            {"$group": {"_id": "$domain"}},
            {"$sort": {"_id": 1}},
        ]
        return (g["_id"] for g in self._aggregate(p.graph(ends)))

    def domain_graph(self) -> Iterator[tuple[str, str, int]]:
        by_pair = p.graph([{"$sort": {"_id.s": 1, "_id.t": 1}}])
        return ((g["_id"]["s"], g["_id"]["t"], g["links"]) for g in self._aggregate(by_pair))

    # --- the questions' groupings ----------------------------------------------------------------------

    def groups(self, target: Target, filters: Filters, by: GroupBy) -> Iterator[Group]:
        """One aggregation on the target's index (see ``pipelines.groups``), streamed."""
        if by not in ("anchor_text", "target_url", "source_domain"):
            raise ValueError(f"unknown grouping {by!r}")
        found = self._aggregate(p.groups(p.where(target, filters), by))
        return (Group(g["_id"], g["n"], g["domains"], g["f"]) for g in found)

    def page_states(self, urls: Iterable[str]) -> dict[str, PageState]:
        """``$in`` lookups by ``_id``, ``BATCH`` URLs a round trip."""
        found: dict[str, PageState] = {}
        for names in _batches(sorted(set(urls)), BATCH):
            fields = ["last_crawled", "failures", "status", "ip_address"]
            docs = self._find(self._pages, {"_id": {"$in": names}}, fields)
            found.update((doc["_id"], d.page_state(doc)) for doc in docs)
        return found

    def crossings(
        self, domains: Sequence[str], excluded: Sequence[str], filters: Filters, at_least: int
    ) -> Iterator[Crossing]:
        """One aggregation over the edges to ``domains`` and ``excluded`` (``pipelines.crossings``): per
        source domain its count per domain; the set arithmetic on each group as it streams."""
        if not domains:
            return
        order = {domain: k for k, domain in enumerate(domains)}
        unwanted = set(excluded)
        for g in self._aggregate(p.crossings([*order, *unwanted], filters)):
            counts = {c["t"]: c["n"] for c in g["per"]}
            if unwanted.isdisjoint(counts) and len(counts.keys() & order.keys()) >= at_least:
                yield Crossing(g["_id"], tuple(counts.get(domain, 0) for domain in domains))

    def outgoing(self, source_domain: str, status: Status) -> Iterator[Outgoing]:
        found = self._aggregate(p.outgoing(source_domain, status))
        return (Outgoing(g["_id"]["t"], g["_id"]["a"], g["n"], g["f"]) for g in found)

    def domain_spans(self, target: Target, width: int) -> Iterator[Span]:
        """Grouped from the target's edges; a domain's as SQLite reads them (``_figure_spans``)."""
        if target.scope == "domain":
            return self._figure_spans(target.value, width)
        return map(_span, self._aggregate(p.domain_spans(p.where(target, Filters(status="all")), width)))

    def _figure_spans(self, domain: str, width: int) -> Iterator[Span]:
        """A referring domain none of whose links was lost is one open span from its figure's
        ``first_seen``; the spans of the others (``n_live < n_all``) are grouped from their own edges,
        ``BATCH`` domains an aggregation on ``by_domain_source``: the edges of the referring domains
        that lost a link are read, not the domain's."""
        figures = self._streamed(lambda: self._figures.referring_domain_figures(domain))
        for some in _batches(figures, BATCH):
            # The referring domains that lost a link, each with its spans (read below).
            lossy: dict[str, list[Span]] = {f["v"]: [] for f in some if f["n_live"] < f["n_all"]}
            if lossy:
                match = {"target_domain": domain, "source_domain": {"$in": list(lossy)}}
                for span in map(_span, self._aggregate(p.domain_spans(match, width))):
                    lossy[span.source_domain].append(span)
            for f in some:
                if f["v"] in lossy:
                    yield from lossy[f["v"]]
                else:
                    yield Span(f["v"], d.seconds(f["first_seen"]) // width, None)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MongoStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scores ------------------------------------------------------------------------------------------

    def save_scores(self, rows: Iterable[ScoreRow], run: ScoreRun) -> None:
        """Into the score collection not in use, then the run document names it: one write switches
        readers from the old set to the complete new one."""
        current = self._run()
        name = d.SCORES[1] if current and current["collection"] == d.SCORES[0] else d.SCORES[0]
        scores = self._db[name]
        bounded = partial(pymongo.timeout, self.limits.operation)  # each operation, not retried
        try:
            with bounded():
                scores.drop()
            for batch in _batches(map(d.score_document, rows), 10 * BATCH):
                with bounded():
                    scores.insert_many(batch, ordered=False)
            with bounded():
                scores.create_indexes(
                    [IndexModel([(s, -1), ("_id", 1)], name=f"by_{s}") for s in d.SCORE_SORTS]
                )
            with bounded():
                self._db[d.SCORE_RUNS].replace_one({"_id": "latest"}, d.run_document(run, name), upsert=True)
        except PyMongoError as exc:
            raise unavailable("write scores to", self.where, exc) from None
        self._bump(d.SCORE_SAVES)

    def _run(self) -> Document | None:
        return self._retried(lambda: self._db[d.SCORE_RUNS].find_one({"_id": "latest"}))

    def scores_run(self) -> ScoreRun | None:
        run = self._run()
        return d.score_run(run) if run else None

    def scores(self, sort: ScoreSort, *, farm_only: bool, limit: int | None) -> list[ScoreRow]:
        """Off the ``by_<sort>`` index: descending puts nulls last (they sort below every number)."""
        run = self._run()
        if run is None or limit == 0:
            return []
        found = self._db[run["collection"]].find({"farm": True} if farm_only else {})
        found = found.sort([(sort, -1), ("_id", 1)]).limit(limit or 0)
        return [d.score_row(doc) for doc in self._retried(lambda: list(found))]

    def score(self, domain: str) -> ScoreRow | None:
        run = self._run()
        if run is None:
            return None
        scores = self._db[run["collection"]]
        doc = self._retried(lambda: scores.find_one({"_id": str(domain)}))
        return d.score_row(doc) if doc else None

    def authorities(self, domains: Iterable[str]) -> dict[str, float]:
        """``$in`` lookups by ``_id``, ``BATCH`` names a round trip."""
        run = self._run()
        if run is None:
            return {}
        scores = self._db[run["collection"]]
        found: dict[str, float] = {}
        for names in _batches(sorted(set(domains)), BATCH):
            docs = self._find(scores, {"_id": {"$in": names}}, {"authority": 1})
            found.update((doc["_id"], doc["authority"]) for doc in docs)
        return found


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    rest = iter(items)
    while batch := list(itertools.islice(rest, size)):
        yield batch


def _kept(edge: Edge, stored: dict[bytes, str]) -> Edge:
    """``edge`` under the target domain it is stored under, if it is stored under another."""
    domain = stored.get(edge.edge_id, edge.target_domain)
    return edge if domain == edge.target_domain else dataclasses.replace(edge, target_domain=domain)


def _rounds(marks: list[tuple[UpdateMany, str]]) -> Iterator[list[tuple[UpdateMany, str]]]:
    """Lost marks in unordered rounds, each page at most once a round: a page fetched twice in one batch
    is marked in fetch order (as SQLite does), every other mark goes out in parallel (``ordered=False``
    lets mongos send them to their shards at once, where an ordered bulk runs them one by one)."""
    rounds: list[list[tuple[UpdateMany, str]]] = []
    seen: dict[str, int] = {}
    for mark in marks:
        n = seen[mark[1]] = seen.get(mark[1], -1) + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(mark)
    return iter(rounds)


def _span(group: Document) -> Span:
    """A ``pipelines.domain_spans`` group as a span."""
    k = group["_id"]
    return Span(k["d"], int(k["a"]), None if k["b"] == p.STILL_LIVE else int(k["b"]))


def _bucket_counts(groups: list[Document]) -> tuple[dict[int, int], dict[int, int]]:
    """``{_id: {new, lost}, n}`` rows as counts per new bucket and per lost bucket."""
    new: dict[int, int] = {}
    lost: dict[int, int] = {}
    for group in groups:
        for counts, bucket in ((new, group["_id"]["new"]), (lost, group["_id"]["lost"])):
            if bucket is not None:
                counts[int(bucket)] = counts.get(int(bucket), 0) + group["n"]
    return new, lost
