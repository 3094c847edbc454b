"""MongoDB's per-target figures (``index/mongo/figures.py``) on the stand-in: a domain's summary and its
day figures equal the contract's model after batches re-sent, failed part way, or written in
transactions; a domain whose figures drifted (the one window a standalone server leaves), or written
before the day figures were kept, is recounted by a rebuild."""

from __future__ import annotations

from typing import Any

import pytest
from mongo_standin import Flaky, strict_client
from test_store_contract import (
    BATCHES,
    LOST_AFTER,
    Model,
    day_figures,
    expected_days,
    expected_events,
    expected_tally,
)

from backlinkspider.index.errors import IndexUnavailable
from backlinkspider.index.figures import LOST_DAY, NEW_DAY
from backlinkspider.index.mongo import MongoStore
from backlinkspider.index.mongo.figures import FIGURES, VALUES
from backlinkspider.query.history import WEEKS
from backlinkspider.records import Filters, Tally, Target

pytestmark = pytest.mark.filterwarnings("ignore:'(allowDiskUse|batchSize)' is accepted:UserWarning")


@pytest.fixture(scope="module")
def model() -> Model:
    model = Model()
    for batch in BATCHES:
        model.write(batch)
    return model


def standin(*, transactions: bool = False, retry_seconds: float = 5) -> MongoStore:
    store = MongoStore("mongodb://standin/backlinks", client=strict_client(), retry_seconds=retry_seconds)
    store._figures.transactions = transactions  # the stand-in's transactions: all or nothing, as a server's
    return store


def domains(model: Model) -> list[str]:
    return sorted({r.target_domain for r in model.rows()})


def summaries(store: Any, model: Model) -> list[tuple[Tally, list[str]] | dict[tuple[str, str], int]]:
    end = max(r.last_seen for r in model.rows())
    since = [end - 7 * 86400, end - 30 * 86400, 0]
    return [
        (
            store.tally(Target("domain", d), include_lost=include_lost, since=since, top=5),
            list(
                store.referring_domains(
                    Target("domain", d), Filters(status="all" if include_lost else "live")
                )
            ),
        )
        for d in domains(model)
        for include_lost in (False, True)
    ] + [day_figures(store, d) for d in domains(model)]


def expected(model: Model) -> list[tuple[Tally, list[str]] | dict[tuple[str, str], int]]:
    end = max(r.last_seen for r in model.rows())
    since = [end - 7 * 86400, end - 30 * 86400, 0]
    return [
        (
            expected_tally(model, Target("domain", d), include_lost, since, 5),
            sorted(
                {
                    r.source_domain
                    for r in model.rows()
                    if r.target_domain == d and (include_lost or r.lost_at is None)
                }
            ),
        )
        for d in domains(model)
        for include_lost in (False, True)
    ] + [expected_days(model, d) for d in domains(model)]


def test_the_crawl_reaches_several_domains_and_changes_edges(model: Model) -> None:
    assert len(domains(model)) >= 3
    assert any(r.lost_at is not None for r in model.rows())


@pytest.mark.parametrize("transactions", [False, True])
def test_a_batch_sent_twice_counts_once(model: Model, transactions: bool) -> None:
    """A retry after a lost reply re-sends a batch already written: its ``counted`` marks say so."""
    store = standin(transactions=transactions)
    for batch in BATCHES:
        store.write(batch, lost_after_failures=LOST_AFTER)
        if not any(page.failed for page in batch):  # a failure sent twice is two failures, by design
            store.write(batch, lost_after_failures=LOST_AFTER)
    assert summaries(store, model) == expected(model)


@pytest.mark.parametrize("transactions", [False, True])
def test_a_batch_whose_figures_failed_is_counted_by_its_resend(model: Model, transactions: bool) -> None:
    """The edges are written, the figures never are (the server gone past the retry window): the
    pipeline's re-send counts the batch in full."""
    store = standin(transactions=transactions, retry_seconds=0.5)
    figures = store._figures._figures
    for k, batch in enumerate(BATCHES):
        if k in (2, 5, 8, 13):  # new edges; changed and lost ones; one found again (no failed page:
            # a failure re-sent is two failures in a row, by design)
            flaky = Flaky(figures, fail_before=set(range(1, 100)), fail_after=set())
            with pytest.raises(IndexUnavailable):
                store.write(batch, lost_after_failures=LOST_AFTER)
            figures.bulk_write = flaky.original
        store.write(batch, lost_after_failures=LOST_AFTER)
    assert summaries(store, model) == expected(model)


def test_in_a_transaction_a_reply_lost_after_the_figures_counts_once(model: Model) -> None:
    """The figures applied, their reply lost: the transaction is aborted and retried whole."""
    clean, store = standin(), standin(transactions=True)
    calls = Flaky(clean._figures._figures, fail_before=set(), fail_after=set())
    flaky = Flaky(store._figures._figures, fail_before=set(), fail_after={1, 4, 9})
    for batch in BATCHES:
        clean.write(batch, lost_after_failures=LOST_AFTER)
        store.write(batch, lost_after_failures=LOST_AFTER)
    assert flaky.calls == calls.calls + 3
    assert summaries(store, model) == expected(model)


def test_without_transactions_that_loss_drifts_and_a_rebuild_recounts(model: Model) -> None:
    """The one window a standalone server leaves (module docstring): ``rebuild_figures`` closes it."""
    store = standin(transactions=False)
    Flaky(store._figures._figures, fail_before=set(), fail_after={1, 4, 9})
    for batch in BATCHES:
        store.write(batch, lost_after_failures=LOST_AFTER)
    assert summaries(store, model) != expected(model)
    edges = {d: store.rebuild_figures(d) for d in domains(model)}
    assert edges == {d: sum(r.target_domain == d for r in model.rows()) for d in domains(model)}
    assert summaries(store, model) == expected(model)


KEYED = ["edge", "type", "ref_domain", "ref_host", "ref_page", "page"]


def test_the_figures_written_are_those_a_rebuild_counts(model: Model) -> None:
    """Every figure kept on write of a dimension an edge never leaves (its key's fields), its counts and
    dates, equals the one a recount from the edges makes: an older sighting (a web archive) that only
    moves an edge's first_seen back moves its figures' first_seen back too (the referring domains'
    history reads it). (A figure an edge leaves, an anchor, keeps the first_seen it had: a minimum is
    not undone, on either backend.)"""
    store = standin()
    for batch in BATCHES:
        store.write(batch, lost_after_failures=LOST_AFTER)
    figures = store._db["figures"]

    def kept() -> dict[str, Any]:
        fields = ("n_all", "n_live", "first_seen", "lost_at")
        return {doc["_id"]: tuple(doc.get(f) for f in fields) for doc in figures.find({"d": {"$in": KEYED}})}

    written = kept()
    for domain in domains(model):
        store.rebuild_figures(domain)
    assert written == kept()


def test_figures_written_before_the_day_figures_answer_from_the_edges_until_a_rebuild(model: Model) -> None:
    """An index whose figures were written by a version that kept no day figures, then crawled on: the
    day figures count only what changed since, do not add up to the domain's edges, and its history is
    grouped from the edges, exact; a rebuild counts them and the history reads them."""
    store = standin()
    half = len(BATCHES) // 2
    for batch in BATCHES[:half]:
        store.write(batch, lost_after_failures=LOST_AFTER)
    days = [NEW_DAY, LOST_DAY]
    store._db[FIGURES].delete_many({"$or": [{"d": {"$in": days}}, {"d": VALUES, "v": {"$in": days}}]})
    for batch in BATCHES[half:]:
        store.write(batch, lost_after_failures=LOST_AFTER)
    for d in domains(model):
        target = Target("domain", d)
        assert store._figures.days(d) is None
        assert store.events(target, WEEKS) == expected_events(model, target, WEEKS)
        store.rebuild_figures(d)
        assert day_figures(store, d) == expected_days(model, d)
        assert store._figures.days(d) is not None
        assert store.events(target, WEEKS) == expected_events(model, target, WEEKS)
