"""The planner against the memory store: random filters over documents full of arrays,
nested maps, mixed types and missing fields must give the same ids, and counts, on Firestore.

This is what proves the planner's promise (the union of its queries holds every match): a
branch that missed a document would show here as a missing id.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from lexigram_nosql import create_store
from tests.backends.test_firestore import store  # noqa: F401  (the emulator fixture)

SEED = 20261126
SCALARS: list[Any] = [
    0,
    1,
    2,
    2.5,
    3,
    -1,
    "a",
    "b",
    "ab",
    True,
    False,
    datetime(2024, 1, 1, tzinfo=UTC),
]


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.5 or depth > 1:
        return rng.choice([*SCALARS, None])
    if roll < 0.75:
        return [rng.choice(SCALARS) for _ in range(rng.randint(0, 3))]
    if roll < 0.9:
        return {"c": value(rng, depth + 1)}
    return [{"c": rng.choice(SCALARS)} for _ in range(rng.randint(1, 2))]


def document(rng: random.Random, index: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": f"d{index:03}"}
    for field in ("a", "b"):
        if rng.random() < 0.85:
            doc[field] = value(rng)
    return doc


def condition(rng: random.Random) -> dict[str, Any]:
    path = rng.choice(["a", "b", "a.c", "b.c", "a.0", "_id"])
    operand = rng.choice(SCALARS) if path != "_id" else f"d{rng.randint(0, 70):03}"
    kind = rng.choice(["eq", "in", "range", "range", "all", "size", "elem", "ne", "exists"])
    if kind == "eq":
        return {path: operand}
    if kind == "in":
        if path == "_id":
            return {path: {"$in": [f"d{rng.randint(0, 70):03}" for _ in range(rng.randint(0, 40))]}}
        return {path: {"$in": rng.sample(SCALARS, rng.randint(0, 5))}}
    if kind == "range":
        return {path: {rng.choice(["$gt", "$gte", "$lt", "$lte"]): operand}}
    if kind == "all":
        return {path: {"$all": rng.sample(SCALARS, rng.randint(1, 2))}}
    if kind == "size":
        return {path: {"$size": rng.randint(0, 2)}}
    if kind == "elem":
        return {path: {"$elemMatch": {"$gte": rng.choice([0, 1, 2])}}}
    if kind == "ne":
        return {path: {"$ne": operand}}
    return {path: {"$exists": rng.random() < 0.5}}


def filter_(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rng.random()
    if depth < 2 and roll < 0.2:
        return {"$or": [filter_(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    if depth < 2 and roll < 0.4:
        return {"$and": [filter_(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    return condition(rng)


@pytest.fixture
async def memory() -> AsyncIterator[Any]:
    instance = create_store({"name": "reference", "driver": "memory"})
    await instance.connect()
    yield instance
    await instance.disconnect()


@pytest.mark.slow
async def test_random_filters_match_the_memory_store(store: Any, memory: Any) -> None:  # noqa: F811
    rng = random.Random(SEED)
    documents = [document(rng, i) for i in range(60)]
    await store.collection("diff").insert_many(documents)
    await memory.collection("diff").insert_many(documents)
    for _ in range(250):
        filter = filter_(rng)
        expected = sorted([d["_id"] async for d in memory.collection("diff").find(filter)])
        found = sorted([d["_id"] async for d in store.collection("diff").find(filter)])
        assert found == expected, filter
        assert await store.collection("diff").count_documents(filter) == len(expected), filter
        # MongoDB's cross-type sort order, applied after the merge; _id breaks ties.
        page: dict[str, Any] = {
            "sort": [(rng.choice(["a", "b", "a.c"]), rng.choice([1, -1])), ("_id", 1)],
            "skip": rng.randint(0, 3),
            "limit": rng.randint(0, 5),
        }
        expected_page = [d async for d in memory.collection("diff").find(filter, **page)]
        assert [d async for d in store.collection("diff").find(filter, **page)] == expected_page


UPDATES: list[dict[str, Any]] = [
    {"$set": {"a": 5}},
    {"$set": {"b.c": "x"}},
    {"$set": {"a.0": 9}},
    {"$unset": {"a": ""}},
    {"$unset": {"b.c": ""}},
    {"$inc": {"a": 1}},
    {"$inc": {"z": 2.5}},
    {"$addToSet": {"a": 1}},
    {"$addToSet": {"z": {"$each": [1, 2, 1]}}},
    {"$push": {"z": 3}},
    {"$max": {"a": 2}},
    {"$mul": {"a": 2}},
    {"$rename": {"b": "r"}},
    {"$pull": {"a": 1}},
    {"$pop": {"a": 1}},
]


async def outcome(collection: Any, filter: dict[str, Any], update: dict[str, Any]) -> Any:
    try:
        result = await collection.update_many(filter, update)
    except Exception as exc:
        return type(exc).__name__
    return (result.matched_count, result.modified_count)


async def test_random_updates_leave_the_same_documents(store: Any, memory: Any) -> None:  # noqa: F811
    """Native and engine-computed updates, including MongoDB's refusals, on documents of every
    shape: the same counts or the same error, then the same documents."""
    rng = random.Random(SEED + 1)
    documents = [document(rng, i) for i in range(40)]
    ours, reference = store.collection("upd"), memory.collection("upd")
    await ours.insert_many(documents)
    await reference.insert_many(documents)
    for _ in range(60):
        filter, update = filter_(rng), rng.choice(UPDATES)
        expected = await outcome(reference, filter, update)
        found = await outcome(ours, filter, update)
        assert found == expected, (filter, update)
        assert [d async for d in ours.find({}, sort=[("_id", 1)])] == [
            d async for d in reference.find({}, sort=[("_id", 1)])
        ], (filter, update)
