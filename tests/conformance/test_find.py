"""``find``: projections, sort (MongoDB's cross-type order), skip, limit, and streaming."""

from __future__ import annotations

import gc
import sys
from typing import Any

import pytest

from lexigram_nosql import InvalidQueryError
from lexigram_nosql.query.requests import FindQuery
from tests.conformance.support import collect, seeded

BOOKS: list[dict[str, Any]] = [
    {
        "_id": "b1",
        "title": "Dune",
        "year": 1965,
        "rating": 4.5,
        "meta": {"pages": 412, "lang": "en"},
        "tags": ["scifi", "classic"],
    },
    {
        "_id": "b2",
        "title": "Emma",
        "year": 1815,
        "rating": 4.0,
        "meta": {"pages": 474, "lang": "en"},
        "tags": ["classic"],
    },
    {
        "_id": "b3",
        "title": "Solaris",
        "year": 1961,
        "rating": 4.5,
        "meta": {"pages": 204, "lang": "pl"},
        "tags": ["scifi"],
    },
    {"_id": "b4", "title": "Ubik", "year": 1969, "meta": {"lang": "en"}, "tags": []},
    {"_id": "b5", "title": "Akira", "year": 1982, "rating": None, "tags": ["manga", "scifi"]},
]

PROJECTIONS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("include", {"title": 1}, {"_id": "b1", "title": "Dune"}),
    ("include-true", {"title": True, "year": True}, {"_id": "b1", "title": "Dune", "year": 1965}),
    ("include-without-id", {"title": 1, "_id": 0}, {"title": "Dune"}),
    ("only-id", {"_id": 1}, {"_id": "b1"}),
    (
        "exclude",
        {"meta": 0, "tags": 0},
        {"_id": "b1", "title": "Dune", "year": 1965, "rating": 4.5},
    ),
    (
        "exclude-id",
        {"_id": 0},
        {
            "title": "Dune",
            "year": 1965,
            "rating": 4.5,
            "meta": {"pages": 412, "lang": "en"},
            "tags": ["scifi", "classic"],
        },
    ),
    ("include-dotted", {"meta.pages": 1}, {"_id": "b1", "meta": {"pages": 412}}),
    (
        "exclude-dotted",
        {"meta.pages": 0, "tags": 0},
        {"_id": "b1", "title": "Dune", "year": 1965, "rating": 4.5, "meta": {"lang": "en"}},
    ),
    ("include-missing-field", {"nothing": 1}, {"_id": "b1"}),
]


@pytest.mark.parametrize(
    ("projection", "expected"), [p[1:] for p in PROJECTIONS], ids=[p[0] for p in PROJECTIONS]
)
async def test_projection(store: Any, projection: dict[str, Any], expected: dict[str, Any]) -> None:
    collection = await seeded(store, BOOKS)
    assert await collection.find_one({"_id": "b1"}, projection=projection) == expected
    assert await collect(collection.find({"_id": "b1"}, projection=projection)) == [expected]


async def test_mixed_projection_is_refused(store: Any) -> None:
    collection = await seeded(store, BOOKS)
    with pytest.raises(InvalidQueryError):
        await collection.find_one({}, projection={"title": 1, "year": 0})


SORTS: list[tuple[str, list[tuple[str, int]], list[str]]] = [
    ("year-asc", [("year", 1)], ["b2", "b3", "b1", "b4", "b5"]),
    ("year-desc", [("year", -1)], ["b5", "b4", "b1", "b3", "b2"]),
    ("title", [("title", 1)], ["b5", "b1", "b2", "b3", "b4"]),
    # Missing and null sort first ascending (MongoDB's order), ties broken by the next key.
    ("missing-and-null-first", [("rating", 1), ("_id", 1)], ["b4", "b5", "b2", "b1", "b3"]),
    ("missing-and-null-last-desc", [("rating", -1), ("_id", 1)], ["b1", "b3", "b2", "b4", "b5"]),
    ("two-keys", [("rating", -1), ("year", 1)], ["b3", "b1", "b2", "b4", "b5"]),
    ("dotted", [("meta.pages", 1), ("_id", 1)], ["b4", "b5", "b3", "b1", "b2"]),
    # Arrays sort by their smallest element ascending, largest descending; [] before null.
    ("array-asc", [("tags", 1), ("_id", 1)], ["b4", "b1", "b2", "b5", "b3"]),
    ("array-desc", [("tags", -1), ("_id", 1)], ["b1", "b3", "b5", "b2", "b4"]),
    ("id-desc", [("_id", -1)], ["b5", "b4", "b3", "b2", "b1"]),
]


@pytest.mark.parametrize(("sort", "expected"), [s[1:] for s in SORTS], ids=[s[0] for s in SORTS])
async def test_sort(store: Any, sort: list[tuple[str, int]], expected: list[str]) -> None:
    collection = await seeded(store, BOOKS)
    assert [d["_id"] for d in await collect(collection.find(sort=sort))] == expected


async def test_sort_across_types_follows_mongodb_order(store: Any) -> None:
    values = [
        ("t-bool", True),
        ("t-str", "abc"),
        ("t-null", None),
        ("t-num", 5),
        ("t-doc", {"a": 1}),
        ("t-float", 1.5),
    ]
    collection = await seeded(store, [{"_id": key, "v": value} for key, value in values])
    found = [d["_id"] async for d in collection.find(sort=[("v", 1)])]
    assert found == ["t-null", "t-float", "t-num", "t-str", "t-doc", "t-bool"]


PAGES: list[tuple[str, int, int, list[str]]] = [
    ("limit", 0, 2, ["b2", "b3"]),
    ("skip", 3, 0, ["b4", "b5"]),
    ("skip-limit", 1, 2, ["b3", "b1"]),
    ("skip-past-end", 10, 0, []),
    ("limit-larger-than-result", 0, 50, ["b2", "b3", "b1", "b4", "b5"]),
    ("skip-limit-at-end", 4, 3, ["b5"]),
]


@pytest.mark.parametrize(
    ("skip", "limit", "expected"), [p[1:] for p in PAGES], ids=[p[0] for p in PAGES]
)
async def test_skip_and_limit_with_sort(
    store: Any, skip: int, limit: int, expected: list[str]
) -> None:
    collection = await seeded(store, BOOKS)
    cursor = collection.find(sort=[("year", 1)], skip=skip, limit=limit)
    assert [d["_id"] for d in await collect(cursor)] == expected


async def test_limit_without_sort_returns_that_many(store: Any) -> None:
    collection = await seeded(store, BOOKS)
    found = await collect(collection.find({"tags": "scifi"}, limit=2))
    assert len(found) == 2
    assert all("scifi" in d["tags"] for d in found)


async def test_find_one_with_sort(store: Any) -> None:
    collection = await seeded(store, BOOKS)
    newest = await collection.find_one({"tags": "scifi"}, sort=[("year", -1)])
    assert newest is not None and newest["_id"] == "b5"
    assert await collection.find_one({"title": "none"}) is None


@pytest.mark.parametrize(
    "arguments",
    [{"skip": -1}, {"limit": 1.5}, {"sort": [("a", 2)]}, {"batch_size": -1}],
    ids=["negative-skip", "fractional-limit", "bad-direction", "negative-batch"],
)
async def test_find_refuses_bad_arguments_before_iterating(
    store: Any, arguments: dict[str, Any]
) -> None:
    collection = await seeded(store, BOOKS)
    with pytest.raises(InvalidQueryError):
        collection.find({}, **arguments)


# -- streaming -------------------------------------------------------------------------------


async def test_find_streams_a_large_collection_in_batches(store: Any) -> None:
    collection = store.collection("large")
    await collection.insert_many([{"_id": f"{i:05d}", "n": i} for i in range(1200)])
    seen = 0
    async for document in collection.find({"n": {"$gte": 100}}, batch_size=50):
        assert document["n"] >= 100
        seen += 1
    assert seen == 1100


@pytest.mark.parametrize("batch_size", [None, 1, 7, 101, 250])
async def test_a_stream_returns_every_document_once_across_batch_boundaries(
    store: Any, batch_size: int | None
) -> None:
    """Backends read whole batches at a time (chunks of the server's batches): every
    boundary, with or without ``batch_size``, ``skip`` and ``limit``, keeps the order."""
    collection = store.collection("chunks")
    await collection.insert_many([{"_id": f"{i:04d}", "n": i} for i in range(303)])
    found = [d["n"] async for d in collection.find(sort=[("n", 1)], batch_size=batch_size)]
    assert found == list(range(303))
    window = collection.find(sort=[("n", 1)], skip=5, limit=203, batch_size=batch_size)
    assert [d["n"] async for d in window] == list(range(5, 208))
    assert len([d async for d in collection.find({}, batch_size=batch_size)]) == 303
    # A backend's batched find and its per-document read (what the engine's fallbacks use)
    # return the same documents, generated ids converted alike.
    await collection.insert_many([{"n": 1000 + i} for i in range(120)])
    query = FindQuery.build({"n": {"$gte": 150}}, sort=[("n", -1)], batch_size=batch_size)
    per_document = [d async for d in collection._find(query)]
    stream = collection.find({"n": {"$gte": 150}}, sort=[("n", -1)], batch_size=batch_size)
    found = [d async for d in stream]
    assert found == per_document
    assert len(found) == 303 - 150 + 120


async def test_reads_close_every_stream_they_open(store: Any) -> None:
    """``find_one``, a whole ``find`` and a count close every async generator of ours they
    open: one left to the garbage collector costs a task the event loop schedules to close it
    (and a wake-up of the loop) per read."""
    collection = store.collection("closing")
    await collection.insert_many([{"_id": f"{i:04d}", "n": i} for i in range(30)])
    left: list[str] = []
    firstiter, finalizer = sys.get_asyncgen_hooks()

    def counting(generator: Any) -> None:
        if "lexigram_nosql" in generator.ag_code.co_filename:
            left.append(generator.ag_code.co_qualname)
        if finalizer is not None:
            finalizer(generator)

    sys.set_asyncgen_hooks(firstiter, counting)
    try:
        for i in range(3):
            assert (await collection.find_one({"_id": f"{i:04d}"}))["n"] == i
            assert (await collection.find_one({"n": {"$gte": i}}, sort=[("n", 1)]))["n"] == i
            assert len([d async for d in collection.find({"n": {"$gte": 3}})]) == 27
            assert await collection.count_documents({"n": {"$gt": 2}}) == 27
        gc.collect()
    finally:
        sys.set_asyncgen_hooks(firstiter, finalizer)
    assert left == []


async def test_breaking_out_of_a_stream_early(store: Any) -> None:
    collection = store.collection("early")
    await collection.insert_many([{"_id": f"{i:04d}", "n": i} for i in range(300)])
    stream = collection.find(sort=[("n", 1)], batch_size=10)
    taken = []
    async for document in stream:
        taken.append(document["n"])
        if len(taken) == 5:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert taken == [0, 1, 2, 3, 4]
    # The store is still fully usable afterwards.
    assert await collection.count_documents({}) == 300


async def test_two_streams_interleaved(store: Any) -> None:
    collection = store.collection("interleaved")
    await collection.insert_many([{"_id": f"{i:03d}", "n": i} for i in range(40)])
    evens = collection.find({"n": {"$mod": [2, 0]}}, sort=[("n", 1)])
    odds = collection.find({"n": {"$mod": [2, 1]}}, sort=[("n", 1)])
    merged = []
    for _ in range(20):
        merged.append((await anext(evens))["n"])  # type: ignore[call-overload]
        merged.append((await anext(odds))["n"])  # type: ignore[call-overload]
    assert merged == list(range(40))
