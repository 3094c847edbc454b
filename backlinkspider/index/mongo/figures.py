"""Per-target figures kept on write (``index/figures.py``'s dimensions), and the summary read from them.

Collection ``figures``: ``{_id: "<target domain> <dim> <value>", t, d, v, n_all, n_live, first_seen,
lost_at}``, one document per (target domain, dimension, value), as SQLite's ``agg`` rows: edges under the
value (all, live), the first edge's ``first_seen`` and, while none is live, when the last was lost. Per
target and dimension, one more document with ``d: "values"``, ``v: <dim>`` counts its values (those
with an edge, those with a live edge), so a total is one document read, not a count of values.

**Exact under retries.** Every edge document carries ``counted``: its fields the figures depend on
(``COUNTED``) as the figures last counted them (absent: never counted). After a batch's edge writes,
``settle`` reads the edges the batch wrote (by ``_id``) and those its lost marks reached (``lost_at``
equal to the fetch's time), takes for each whose fields differ from ``counted`` the difference the
triggers take (it leaves its old values, joins its new ones), applies the differences to the figures,
then sets ``counted``. A batch re-sent after a lost reply finds ``counted`` equal to the edges and counts
nothing twice; a batch that failed before its figures is counted in full by its re-send.

**Atomic where the server allows.** On a replica set or a sharded cluster the batch (its edge writes,
this read, the figures, ``counted``) is one transaction: ``ClientSession.with_transaction`` retries
TransientTransactionError (two workers changing one figure: a write conflict, one retries and reads the
other's counts) and UnknownTransactionCommitResult (the manual, "Transactions" and "Drivers API"), so it
commits whole or not at all. A standalone ``mongod`` has no transactions: a batch that fails between
its figures and its ``counted`` marks, or two workers writing one edge at once, can leave a domain's
figures off; ``backlinks figures DOMAIN --rebuild`` recounts them from its edges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar, cast

from pymongo import UpdateOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.cursor import Cursor
from pymongo.errors import PyMongoError

from backlinkspider.index.figures import DIMENSIONS, LOST_DAY, NEW_DAY, Days, tally_of, values
from backlinkspider.index.mongo.documents import Document, bson_date, seconds
from backlinkspider.index.mongo.pipelines import domain_buckets
from backlinkspider.records import Bucketing, Tally

T = TypeVar("T")
FIGURES = "figures"
VALUES = "values"  # the dimension of the per-dimension counts of values
# What a sighting may change: the newest sets anchor, rel flags, address; an older one moves first_seen back.
COUNTED = (
    "anchor_text",
    "nofollow",
    "ugc",
    "sponsored",
    "lost_at",
    "first_seen",
    "source_ip",
    "source_subnet",
)
# The fields a figure reads from an edge: its dimensions' and those that never change.
READ = dict.fromkeys(
    ["target_domain", "first_seen", "counted", *COUNTED, *(d.field for d in DIMENSIONS if d.field)], 1
)
# Top lists by count (``n_live`` or ``n_all`` descending, then the value); new referring domains by
# first_seen; lost ones by lost_at; the values of one dimension in order (referring_domains).
FIGURE_INDEXES = [
    ("top_live", [("t", 1), ("d", 1), ("n_live", -1), ("v", 1)]),
    ("top_all", [("t", 1), ("d", 1), ("n_all", -1), ("v", 1)]),
    ("by_first_seen", [("t", 1), ("d", 1), ("first_seen", 1)]),
    ("by_lost_at", [("t", 1), ("d", 1), ("lost_at", 1)]),
    ("by_value", [("t", 1), ("d", 1), ("v", 1)]),
]
BATCH = 1000


def key(target: str, dim: str, value: str) -> str:
    return f"{target} {dim} {value}"  # a domain and a dimension hold no space: the split is unambiguous


@dataclass
class Change:
    """What a batch does to one figure: edges in and out (all, live), and its edges' dates."""

    n_all: int = 0
    n_live: int = 0
    first_seen: datetime | None = None
    lost_at: datetime | None = None  # the newest loss among the batch's lost edges under the value

    def add(self, edge: Document, sign: int) -> None:
        self.n_all += sign
        self.n_live += sign * (edge["lost_at"] is None)
        if sign > 0:
            self.first_seen = min(filter(None, (self.first_seen, edge["first_seen"])))
            if edge["lost_at"] is not None:
                self.lost_at = max(filter(None, (self.lost_at, edge["lost_at"])))


@dataclass
class Changes:
    figures: dict[tuple[str, str, str], Change] = field(default_factory=dict)
    counted: list[UpdateOne] = field(default_factory=list)

    def edge(self, edge: Document, sign: int) -> None:
        for dim, value in values(edge):
            self.figures.setdefault((edge["target_domain"], dim, value), Change()).add(edge, sign)


def changes(edges: Iterable[Document]) -> Changes:
    """The figures' differences for ``edges`` (documents read with ``READ``) and their ``counted`` marks."""
    found = Changes()
    for edge in edges:
        now = [edge.get(name) for name in COUNTED]  # an edge written before its address was kept has none
        if edge.get("counted") == now:
            continue
        if edge.get("counted") is not None:
            found.edge({**edge, **dict(zip(COUNTED, edge["counted"], strict=True))}, -1)
        found.edge(edge, +1)
        where = {"_id": edge["_id"], "target_domain": edge["target_domain"]}
        found.counted.append(UpdateOne(where, {"$set": {"counted": now}}))
    return found


def figure_updates(found: Changes, before: dict[str, Document]) -> list[UpdateOne]:
    """The upserts that apply ``found`` to figures whose documents were ``before``, and the per-dimension
    counts of values that change as a value gains its first edge or loses its last (live) one."""
    ops: list[UpdateOne] = []
    moved: dict[tuple[str, str], list[int]] = {}
    for (target, dim, value), change in found.figures.items():
        old = before.get(key(target, dim, value), {})
        # An older sighting of a counted edge moves its first_seen back and no count: still a change.
        was = old.get("first_seen")
        earlier = change.first_seen is not None and (was is None or change.first_seen < was)
        if not change.n_all and not change.n_live and not earlier:
            continue
        all_was, live_was = old.get("n_all", 0), old.get("n_live", 0)
        all_now, live_now = all_was + change.n_all, live_was + change.n_live
        totals = moved.setdefault((target, dim), [0, 0])
        totals[0] += (all_now > 0) - (all_was > 0)
        totals[1] += (live_now > 0) - (live_was > 0)
        lost_at = None
        if live_now == 0 and all_now > 0:  # none live: the newest loss known
            lost_at = max(filter(None, (old.get("lost_at"), change.lost_at)), default=None)
        update: Document = {
            "$inc": {"n_all": change.n_all, "n_live": change.n_live},
            "$set": {"lost_at": lost_at},
            "$setOnInsert": {"t": target, "d": dim, "v": value},
        }
        if change.first_seen is not None:
            update["$min"] = {"first_seen": change.first_seen}
        ops.append(UpdateOne({"_id": key(target, dim, value)}, update, upsert=True))
    for (target, dim), (n_all, n_live) in moved.items():
        if n_all or n_live:
            update = {
                "$inc": {"n_all": n_all, "n_live": n_live},
                "$setOnInsert": {"t": target, "d": VALUES, "v": dim},
            }
            ops.append(UpdateOne({"_id": key(target, VALUES, dim)}, update, upsert=True))
    return ops


def figure_documents(found: Changes) -> list[Document]:
    """The figure documents of edges counted from nothing (``rebuild``): a value none of whose edges
    is live keeps the newest loss."""
    docs: list[Document] = []
    values: dict[tuple[str, str], list[int]] = {}
    for (target, dim, value), change in found.figures.items():
        lost_at = change.lost_at if change.n_live == 0 else None
        docs.append(
            {
                "_id": key(target, dim, value),
                **{"t": target, "d": dim, "v": value, "n_all": change.n_all, "n_live": change.n_live},
                **{"first_seen": change.first_seen, "lost_at": lost_at},
            }
        )
        counts = values.setdefault((target, dim), [0, 0])
        counts[0] += 1
        counts[1] += change.n_live > 0
    for (target, dim), (n_all, n_live) in values.items():
        docs.append(
            {
                "_id": key(target, VALUES, dim),
                "t": target,
                "d": VALUES,
                "v": dim,
                "n_all": n_all,
                "n_live": n_live,
            }
        )
    return docs


def reached_by_marks(url: str, seen: datetime, domains: list[str] | None) -> Document:
    """The edges a lost mark of page ``url`` at ``seen`` reached (``documents.lost_mark``)."""
    where: Document = {"source_url": url, "lost_at": seen}
    return {"target_domain": {"$in": sorted(domains)}, **where} if domains else where


class Figures:
    """The figures of the database ``links`` lives in."""

    def __init__(
        self, links: Collection[Document], client: Any, retried: Callable[[Callable[[], Any]], Any]
    ) -> None:
        self._links = links
        self._retried = retried
        self._figures: Collection[Document] = links.database[FIGURES]
        self._client = client
        self.transactions = _has_transactions(client)

    def counted(
        self, write: Callable[[ClientSession | None], None], ids: Sequence[bytes], marks: Sequence[Document]
    ) -> None:
        """``write(session)`` (a batch's edge writes) and the figure updates it calls for: one
        transaction where the server has them (see the module's docstring)."""

        def batch(session: ClientSession | None) -> None:
            write(session)
            self.settle(ids, marks, session)

        if not self.transactions:
            return batch(None)
        with self._client.start_session() as session:
            session.with_transaction(batch)
        return None

    def settle(self, ids: Sequence[bytes], marks: Sequence[Document], session: ClientSession | None) -> None:
        """Count the edges with ``_id`` in ``ids`` or reached by the lost ``marks`` whose fields differ
        from their ``counted`` mark."""
        queries: list[Document] = [{"_id": {"$in": some}} for some in _batches(sorted(set(ids)), BATCH)]
        queries += [{"$or": some} for some in _batches(list(marks), BATCH)]
        edges = [edge for query in queries for edge in self._read(self._links, query, session, READ)]
        self.apply(changes({edge["_id"]: edge for edge in edges}.values()), session)

    def apply(self, found: Changes, session: ClientSession | None) -> None:
        keys = sorted({key(*k) for k in found.figures})
        before: dict[str, Document] = {}
        for some in _batches(keys, BATCH):
            found_docs = self._read(self._figures, {"_id": {"$in": some}}, session)
            before.update((doc["_id"], doc) for doc in found_docs)
        for ops in _batches(figure_updates(found, before), BATCH):  # $inc: never re-sent on its own
            self._figures.bulk_write(ops, ordered=False, session=session)
        for marks in _batches(found.counted, BATCH):
            self._run(partial(self._links.bulk_write, marks, ordered=False, session=session), session)

    def _read(
        self,
        collection: Collection[Document],
        query: Document,
        session: ClientSession | None,
        fields: Any = None,
    ) -> list[Document]:
        return self._run(lambda: list(collection.find(query, fields, session=session)), session)

    def _run(self, operation: Callable[[], T], session: ClientSession | None) -> T:
        """``operation`` retried on its own outside a transaction; inside one, an error aborts the
        transaction, which is retried whole."""
        return operation() if session else cast(T, self._retried(operation))

    def rebuild(self, domain: str) -> int:
        """Recount ``domain``'s figures from its edges (a repair, best run while no crawl writes to the
        domain: it reads every edge of the domain); the number of edges counted."""
        found = Changes()
        edges = 0
        for edge in self._links.find({"target_domain": domain}, READ):
            found.edge(edge, +1)
            edges += 1
        self._figures.delete_many({"t": domain})
        for docs in _batches(figure_documents(found), BATCH):
            self._figures.insert_many(docs, ordered=False)
        counted = [{"$set": {"counted": [f"${name}" for name in COUNTED]}}]
        self._links.update_many({"target_domain": domain}, counted)
        return edges

    # --- the summary ---------------------------------------------------------------------------------

    def tally(self, domain: str, *, include_lost: bool, since: Sequence[int], top: int) -> Tally:
        """``records.Tally`` of a target domain from its figures: a bounded number of figure documents
        (its edge, rel and type counts, its counts of values, three top lists of ``top``) and two
        edges; the windows from its day figures (``figures.tally_of``: a day's edges at most)."""
        n = "n_all" if include_lost else "n_live"

        def counts(dim: str) -> dict[str, int]:
            found = self._figures.find({"t": domain, "d": dim, n: {"$gt": 0}}, {"v": 1, n: 1})
            return {doc["v"]: doc[n] for doc in found}

        def ranked(dim: str) -> list[tuple[str, int]]:
            found = self._figures.find({"t": domain, "d": dim, n: {"$gt": 0}}, {"v": 1, n: 1})
            return [(doc["v"], doc[n]) for doc in found.sort([(n, -1), ("v", 1)]).limit(top)]

        def end(by: str, direction: int) -> int | None:
            where: Document = {"target_domain": domain, **({} if include_lost else {"lost_at": None})}
            order = [(by, direction), ("_id", direction)]
            doc = self._links.find_one(where, {by: 1}, sort=order)
            return seconds(doc[by]) if doc else None

        def between(field: str, start: int, end: int | None) -> int:
            bound = {"$gte": bson_date(start), **({} if end is None else {"$lt": bson_date(end)})}
            return self._links.count_documents({"target_domain": domain, field: bound})

        def domains_since(start: int) -> tuple[int, int]:
            t = bson_date(start)
            refs: Document = {"t": domain, "d": "ref_domain"}
            return (
                self._figures.count_documents({**refs, "first_seen": {"$gte": t}}),
                self._figures.count_documents({**refs, "lost_at": {"$gte": t}, "n_live": 0}),
            )

        distinct = counts(VALUES)
        return tally_of(
            counts,
            lambda dim: distinct.get(dim, 0),
            ranked,
            first_seen=end("first_seen", 1),
            last_seen=end("last_seen", -1),
            since=since,
            days=lambda: self.days(domain),
            between=between,
            domains_since=domains_since,
        )

    def domain_events(self, domain: str, bucketing: Bucketing) -> list[Document]:
        """A domain's referring domains counted per bucket of their first link and of their last loss
        (``pipelines.domain_buckets``) from their ``ref_domain`` figures, one document a referring
        domain, as SQLite reads its aggregates: never the domain's edges."""
        fields = {"first": "$first_seen", "last_lost": "$lost_at", "live": "$n_live"}
        pipeline: list[Document] = [
            {"$match": {"t": domain, "d": "ref_domain", "n_all": {"$gt": 0}}},
            {"$project": fields},
            domain_buckets(bucketing),
        ]
        return list(self._figures.aggregate(pipeline))

    def days(self, domain: str) -> Days | None:
        """A domain's links per day from its ``NEW_DAY`` and ``LOST_DAY`` figures, one document a day with
        activity, checked against its ``edge`` figure (``figures.Days``: None where they do not add up)."""
        days = self._figures.find({"t": domain, "d": {"$in": [NEW_DAY, LOST_DAY]}}, ["d", "v", "n_all"])
        edges = self._figures.find_one({"_id": key(domain, "edge", "")}) or {}
        rows = ((doc["d"], doc["v"], doc["n_all"]) for doc in days)
        return Days.of(rows, (edges.get("n_all", 0), edges.get("n_live", 0)))

    def referring_domain_figures(self, domain: str) -> Cursor[Document]:
        """A domain's ``ref_domain`` figures with an edge, by value: ``{v, first_seen, n_all, n_live}``."""
        found = self._figures.find(
            {"t": domain, "d": "ref_domain", "n_all": {"$gt": 0}}, ["v", "first_seen", "n_all", "n_live"]
        )
        return found.sort([("t", 1), ("d", 1), ("v", 1)])

    def referring_domains(self, domain: str, live: bool) -> Cursor[Document]:
        """A domain's referring domains (live ones, or all): its ``ref_domain`` figures (``v``) in order."""
        n = "n_live" if live else "n_all"
        found = self._figures.find({"t": domain, "d": "ref_domain", n: {"$gt": 0}}, {"v": 1})
        return found.sort([("t", 1), ("d", 1), ("v", 1)])


def _has_transactions(client: Any) -> bool:
    """A replica set member or a mongos (the manual: transactions need one); the stand-in and a
    standalone server have none."""
    try:
        reply = client.admin.command("hello")
    except (PyMongoError, NotImplementedError):  # the stand-in does not know the command
        return False
    return "setName" in reply or reply.get("msg") == "isdbgrid"


def _batches(items: list[T], size: int) -> Iterator[list[T]]:
    return (items[i : i + size] for i in range(0, len(items), size))
