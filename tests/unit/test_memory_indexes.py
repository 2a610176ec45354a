"""The memory store's indexes: the sorted structure, the planner's choices, and exactness in
the cases where a careless planner would drop matches."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql import DuplicateKeyError, InvalidQueryError, create_store
from lexigram_nosql.backends.memory import MemoryCollection
from lexigram_nosql.backends.memory import collection as collection_module
from lexigram_nosql.backends.memory.indexes import SortedEntries
from lexigram_nosql.query import matches, parse_filter


@pytest.fixture
async def store() -> AsyncIterator[Any]:
    instance = create_store({"name": "idx", "driver": "memory"})
    await instance.connect()
    yield instance
    await instance.disconnect()


async def filled(store: Any, documents: list[dict[str, Any]]) -> MemoryCollection:
    collection = store.collection("c")
    assert isinstance(collection, MemoryCollection)
    if documents:  # an empty insert_many is refused
        await collection.insert_many(documents)
    return collection


def plan_name(collection: MemoryCollection, filter: dict[str, Any]) -> str | None:
    plan = collection.plan(parse_filter(filter))
    return None if plan is None else plan.index


async def exact(
    collection: MemoryCollection, documents: list[dict[str, Any]], filter: dict[str, Any]
) -> None:
    node = parse_filter(filter)
    expected = sorted(d["_id"] for d in documents if matches(node, d))
    found = sorted([d["_id"] async for d in collection.find(filter)])
    assert found == expected, filter
    assert await collection.count_documents(filter) == len(expected), filter


# -- the sorted structure --------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-50, 50), max_size=3000),
    st.lists(st.integers(-50, 50), max_size=300),
    st.integers(-60, 60),
    st.integers(-60, 60),
)
def test_sorted_entries_match_a_sorted_list(
    added: list[int], removed: list[int], low: int, high: int
) -> None:
    entries = SortedEntries((value, position) for position, value in enumerate(added[:1000]))
    reference = sorted((value, position) for position, value in enumerate(added[:1000]))
    for position, value in enumerate(added[1000:], 1000):
        entries.add((value, position))
        reference.append((value, position))
    reference.sort()
    for value in removed:
        victim = next((item for item in reference if item[0] == value), None)
        if victim is not None:
            reference.remove(victim)
            entries.remove(victim)
    assert len(entries) == len(reference)
    window = [item for item in reference if (low,) <= item < (high,)]
    assert list(entries.irange((low,), (high,))) == window
    assert entries.count((low,), (high,)) == len(window)


# -- planning --------------------------------------------------------------------------------

PEOPLE = [
    {"_id": f"p{i:03d}", "email": f"u{i}@x", "age": i % 60, "org": f"o{i % 7}", "role": f"r{i % 3}"}
    for i in range(300)
]


async def test_equality_uses_the_hash_index(store: Any) -> None:
    collection = await filled(store, PEOPLE)
    assert plan_name(collection, {"email": "u5@x"}) is None
    await collection.create_index("email", unique=True)
    assert plan_name(collection, {"email": "u5@x"}) == "email_1"
    assert plan_name(collection, {"email": {"$in": ["u5@x", "u9@x"]}}) == "email_1"
    assert plan_name(collection, {"_id": "p007", "age": 7}) == "_id_"
    await exact(collection, PEOPLE, {"email": {"$in": ["u5@x", "u9@x", "nobody"]}})


async def test_ranges_use_the_ordered_index(store: Any) -> None:
    collection = await filled(store, PEOPLE)
    await collection.create_index("age")
    for filter in (
        {"age": {"$gt": 55}},
        {"age": {"$gte": 55}},
        {"age": {"$lt": 3}},
        {"age": {"$lte": 3}},
        {"age": {"$gt": 10, "$lte": 12}},
        {"age": {"$gte": 59.5}},
    ):
        assert plan_name(collection, filter) == "age_1", filter
        await exact(collection, PEOPLE, filter)


async def test_compound_index_serves_prefixes(store: Any) -> None:
    collection = await filled(store, PEOPLE)
    await collection.create_index([("org", 1), ("role", 1), ("age", -1)])
    name = "org_1_role_1_age_-1"
    for filter in (
        {"org": "o3"},
        {"org": "o3", "role": "r1"},
        {"org": "o3", "role": "r1", "age": 10},
        {"org": "o3", "role": "r1", "age": {"$gte": 30}},
        {"org": "o3", "age": 10},
    ):
        assert plan_name(collection, filter) == name, filter
        await exact(collection, PEOPLE, filter)
    assert plan_name(collection, {"role": "r1"}) is None


async def test_or_uses_indexes_only_when_every_branch_can(store: Any) -> None:
    collection = await filled(store, PEOPLE)
    await collection.create_index("email")
    await collection.create_index("age")
    assert plan_name(collection, {"$or": [{"email": "u1@x"}, {"age": 59}]}) == "email_1+age_1"
    assert plan_name(collection, {"$or": [{"email": "u1@x"}, {"org": "o1"}]}) is None
    await exact(collection, PEOPLE, {"$or": [{"email": "u1@x"}, {"age": 59}]})


async def test_the_cheapest_index_wins(store: Any) -> None:
    collection = await filled(store, PEOPLE)
    await collection.create_index("org")
    await collection.create_index("email")
    assert plan_name(collection, {"org": "o1", "email": "u8@x"}) == "email_1"


async def test_unselective_plans_fall_back_to_a_scan(store: Any) -> None:
    collection = await filled(store, PEOPLE)
    await collection.create_index("age")
    assert plan_name(collection, {"age": {"$gte": 0}}) is None


async def test_only_candidates_are_examined(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    collection = await filled(store, PEOPLE)
    await collection.create_index("email")
    examined = 0
    real = collection_module._matcher

    def counting(node: Any) -> Any:
        test = real(node)

        def wrapped(document: Any) -> bool:
            nonlocal examined
            examined += 1
            return test(document)

        return wrapped

    monkeypatch.setattr(collection_module, "_matcher", counting)
    assert await collection.count_documents({"email": "u5@x"}) == 1
    assert [d["_id"] async for d in collection.find({"email": "u6@x"})] == ["p006"]
    pipeline = [{"$match": {"email": "u7@x"}}, {"$project": {"_id": 1}}]
    assert [d async for d in collection.aggregate(pipeline)] == [{"_id": "p007"}]
    assert examined == 3


# -- exactness where an index could mislead --------------------------------------------------


async def test_range_bounds_on_an_array_field_may_match_different_elements(store: Any) -> None:
    documents = [{"_id": "a", "v": [1, 20]}, {"_id": "b", "v": [7]}, {"_id": "c", "v": 30}]
    collection = await filled(store, documents)
    await collection.create_index("v")
    await exact(collection, documents, {"v": {"$gt": 5, "$lt": 10}})
    assert sorted([d["_id"] async for d in collection.find({"v": {"$gt": 5, "$lt": 10}})]) == [
        "a",
        "b",
    ]


async def test_bounds_of_different_types(store: Any) -> None:
    documents = [{"_id": "a", "v": ["b", 3]}, {"_id": "b", "v": 3}, {"_id": "c", "v": "b"}]
    collection = await filled(store, documents)
    await collection.create_index("v")
    await exact(collection, documents, {"v": {"$gt": "a", "$lt": 5}})
    assert [d["_id"] async for d in collection.find({"v": {"$gt": "a", "$lt": 5}})] == ["a"]


async def test_null_and_missing_through_indexes(store: Any) -> None:
    documents = [
        {"_id": "a"},
        {"_id": "b", "v": None},
        {"_id": "c", "v": 1},
        {"_id": "d", "v": [None, 2]},
        {"_id": "e", "w": {"v": 1}},
    ]
    collection = await filled(store, documents)
    await collection.create_index("v")
    for filter in (
        {"v": None},
        {"v": {"$in": [None, 2]}},
        {"v": 2},
        {"v": {"$gte": None}},
        {"v": {"$lte": None}},
        {"v": {"$lt": 2}},
    ):
        await exact(collection, documents, filter)
    await collection.drop_index("v_1")
    await collection.create_index("v", sparse=True)
    assert plan_name(collection, {"v": None}) is None
    assert plan_name(collection, {"v": 2}) == "v_1"
    for filter in ({"v": None}, {"v": {"$in": [None, 2]}}, {"v": 2}, {"v": {"$exists": False}}):
        await exact(collection, documents, filter)


async def test_dotted_paths_through_arrays_and_numeric_segments(store: Any) -> None:
    documents = [
        {"_id": "a", "items": [{"sku": "x", "n": 1}, {"sku": "y", "n": 5}]},
        {"_id": "b", "items": [{"sku": "y", "n": 2}]},
        {"_id": "c", "items": {"0": {"sku": "x"}}},
        {"_id": "d", "items": [{"n": 9}]},
    ]
    collection = await filled(store, documents)
    await collection.create_index("items.sku")
    await collection.create_index("items.0.sku")
    for filter in (
        {"items.sku": "y"},
        {"items.sku": None},
        {"items.sku": {"$in": ["x"]}},
        {"items.0.sku": "x"},
        {"items.0.sku": {"$gte": "a"}},
    ):
        await exact(collection, documents, filter)


async def test_numbers_of_different_types_share_index_keys(store: Any) -> None:
    documents = [
        {"_id": "a", "v": 1},
        {"_id": "b", "v": 1.0},
        {"_id": "c", "v": True},
        {"_id": "d", "v": "1"},
    ]
    collection = await filled(store, documents)
    await collection.create_index("v")
    for filter in ({"v": 1}, {"v": 1.0}, {"v": True}, {"v": {"$gte": 1}}, {"v": {"$in": [1, "1"]}}):
        await exact(collection, documents, filter)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_indexed_and_unindexed_results_agree(data: st.DataObject) -> None:
    import asyncio

    values = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b"]), st.none(), st.booleans())
    field = st.one_of(values, st.lists(values, max_size=3))
    documents = [
        {"_id": f"d{i}", **({"v": v} if (v := data.draw(field)) != "skip" else {})}
        for i in range(data.draw(st.integers(0, 25)))
    ]
    op = data.draw(st.sampled_from(["$eq", "$gt", "$gte", "$lt", "$lte", "$in"]))
    operand = data.draw(values)
    filter: dict[str, Any] = {"v": {op: [operand, data.draw(values)] if op == "$in" else operand}}
    if data.draw(st.booleans()):
        filter["v"]["$lte" if op != "$lte" else "$gte"] = data.draw(values)
    sparse = data.draw(st.booleans())

    async def check() -> None:
        store = create_store({"name": "prop", "driver": "memory"})
        await store.connect()
        try:
            collection = await filled(store, documents)
            await collection.create_index("v", sparse=sparse)
            await exact(collection, documents, filter)
        finally:
            await store.disconnect()

    asyncio.run(check())


# -- index management ------------------------------------------------------------------------


async def test_list_indexes_includes_the_id_index(store: Any) -> None:
    collection = await filled(store, PEOPLE[:3])
    await collection.create_index("email", unique=True)
    listed = await collection.list_indexes()
    assert [(i.name, i.unique) for i in listed] == [("_id_", True), ("email_1", True)]
    assert await store.collection("fresh").list_indexes() == []  # no collection, as MongoDB


async def test_id_index_cannot_be_dropped_or_shadowed(store: Any) -> None:
    collection = await filled(store, PEOPLE[:3])
    assert await collection.create_index("_id") == "_id_"
    with pytest.raises(InvalidQueryError, match="cannot be dropped"):
        await collection.drop_index("_id_")
    with pytest.raises(InvalidQueryError, match="reserved"):
        await collection.create_index("email", name="_id_")


async def test_conflicting_index_definitions_are_refused(store: Any) -> None:
    collection = await filled(store, PEOPLE[:3])
    await collection.create_index("email")
    with pytest.raises(InvalidQueryError, match="other options"):
        await collection.create_index("email", unique=True)
    with pytest.raises(InvalidQueryError, match="no index named"):
        await collection.drop_index("nope")


async def test_duplicate_key_error_names_index_and_key(store: Any) -> None:
    collection = await filled(store, [{"_id": "a", "org": "o", "user": ["u1", "u2"]}])
    await collection.create_index([("org", 1), ("user", 1)], unique=True, name="member")
    with pytest.raises(DuplicateKeyError) as info:
        await collection.insert_one({"_id": "b", "org": "o", "user": "u2"})
    assert info.value.index == "member"
    assert info.value.key == {"org": "o", "user": "u2"}
    assert "'member'" in str(info.value) and "'c'" in str(info.value)
    with pytest.raises(DuplicateKeyError) as id_info:
        await collection.insert_one({"_id": "a"})
    assert (id_info.value.index, id_info.value.key) == ("_id_", {"_id": "a"})


async def test_update_many_is_all_or_nothing_on_a_unique_violation(store: Any) -> None:
    documents = [{"_id": f"d{i}", "k": i, "g": 1} for i in range(5)]
    collection = await filled(store, documents)
    await collection.create_index("k", unique=True)
    with pytest.raises(DuplicateKeyError):
        await collection.update_many({"g": 1}, {"$set": {"k": 99}})
    assert sorted([(d["_id"], d["k"]) async for d in collection.find()]) == [
        (d["_id"], d["k"]) for d in documents
    ]
    assert await collection.count_documents({"k": 99}) == 0


async def test_indexes_follow_updates_deletes_and_replacements(store: Any) -> None:
    documents = [{"_id": f"d{i}", "v": random.Random(i).randrange(10)} for i in range(50)]
    collection = await filled(store, documents)
    await collection.create_index("v")
    await collection.update_many({"v": {"$lt": 3}}, {"$inc": {"v": 100}})
    await collection.delete_many({"v": 5})
    await collection.replace_one({"_id": "d7"}, {"v": -1})
    await collection.insert_one({"_id": "new", "v": 4})
    current = [d async for d in collection.find()]
    for filter in ({"v": {"$gte": 100}}, {"v": 5}, {"v": -1}, {"v": 4}, {"v": {"$lt": 5}}):
        await exact(collection, current, filter)
