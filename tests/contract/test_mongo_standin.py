"""The stand-in's shortcuts (``mongo_standin``: its cursor, native sort, string pre-filter and bulk load)
answer as plain mongomock does, on values of every type it sorts and matches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import mongomock_ng
import pytest
from mongo_standin import insert_documents, strict_client
from pymongo.errors import DuplicateKeyError

WHEN = datetime(2026, 1, 5, 12, 0, 0)
VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -3,
    2.5,
    float("nan"),
    "",
    "b",
    "a",
    "é",
    b"zz",
    b"aaa",
    b"",
    WHEN,
    datetime(2025, 1, 1),
    [],
    ["a", "z"],
    [3],
    [[1]],
    {"k": 1},
]


def documents() -> list[dict[str, Any]]:
    """Two fields over every value, and documents missing one or both."""
    docs: list[dict[str, Any]] = [
        {"_id": i, "a": v, "b": VALUES[(i * 7) % len(VALUES)]} for i, v in enumerate(VALUES)
    ]
    docs += [{"_id": 100, "b": "a"}, {"_id": 101, "a": "a"}, {"_id": 102}]
    return docs


def both(docs: list[dict[str, Any]]) -> tuple[Any, Any]:
    plain: Any = mongomock_ng.MongoClient().db.c
    strict = strict_client().db.c
    plain.insert_many([dict(d) for d in docs])
    strict.insert_many([dict(d) for d in docs])
    return plain, strict


def ids(cursor: Any) -> list[Any]:
    return [doc["_id"] for doc in cursor]


@pytest.mark.parametrize("keys", [["a"], ["b", "a"]])
@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("without", [[], ["[[1]]", "{'k': 1}", "nan"]])
def test_the_sort_orders_as_mongomock(keys: list[str], direction: int, without: list[str]) -> None:
    """With nested values mongomock's own sort runs; without them the native one, in the same order."""
    docs = [d for d in documents() if not {repr(d.get("a")), repr(d.get("b"))} & set(without)]
    plain, strict = both(docs)
    order = [(key, direction if i else -direction) for i, key in enumerate(keys)]
    assert ids(strict.find({}, {"a": 1}).sort(order)) == ids(plain.find({}, {"a": 1}).sort(order))


@pytest.mark.parametrize("skip, limit", [(0, 0), (0, 5), (3, 4), (20, 10), (2, -3), (50, 0)])
def test_a_cursor_walks_as_mongomock(skip: int, limit: int) -> None:
    plain, strict = both(documents())
    walked = ids(strict.find({}).sort("_id").skip(skip).limit(limit))
    assert walked == ids(plain.find({}).sort("_id").skip(skip).limit(limit))
    assert walked == [d["_id"] for d in documents()][skip:][: abs(limit) or None]


@pytest.mark.parametrize(
    "query",
    [
        {"a": "a"},
        {"a": "z"},
        {"$and": [{"b": "a"}, {"a": "a"}]},
        {"a": "a", "$or": [{"b": "a"}, {"b": None}]},
    ],
)
def test_a_string_equality_matches_as_mongomock(query: dict[str, Any]) -> None:
    """Arrays holding the string match, other strings and missing fields do not: the pre-filter passes
    over only the documents whose field holds another string."""
    plain, strict = both(documents())
    assert sorted(ids(strict.find(query))) == sorted(ids(plain.find(query)))
    assert strict.count_documents(query) == plain.count_documents(query)


def test_the_bulk_load_stores_what_insert_many_stores() -> None:
    flat = [{"_id": i, "s": f"v{i}", "when": WHEN, "n": i % 3, "x": None} for i in range(50)]
    plain, strict = both(flat)
    bulk = strict_client().db.c
    assert insert_documents(bulk, [dict(d) for d in flat]) == 50
    assert list(bulk.find({}).sort("_id")) == list(plain.find({}).sort("_id"))
    assert list(bulk.find({"n": 1})) == list(strict.find({"n": 1}))
    with pytest.raises(DuplicateKeyError):
        insert_documents(bulk, [{"_id": 7}])


@pytest.mark.parametrize(
    "doc",
    [
        {"_id": 1, "when": datetime(2026, 1, 5, tzinfo=UTC)},
        {"_id": 1, "when": datetime(2026, 1, 5, 0, 0, 0, 1500)},
        {"_id": 1, "$set": 1},
        {"_id": 1, "nested": {"a": 1}},
    ],
)
def test_the_bulk_load_refuses_what_it_would_store_unlike_a_server(doc: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        insert_documents(strict_client().db.c, [doc])
