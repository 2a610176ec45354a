"""Collection groups: ``store.collection_group("orders")`` reads every collection whose last
path segment is ``orders`` (the top-level one included) with the whole query language,
exactly; it can say where each document lives, and refuses writes. Path-named collections
keep indexes, soft delete and repositories.

Documents carry a key ``k`` of their own (no explicit ``_id``), so the cases run on servers
that store only ObjectId ids too. Expected answers come from the engine over the seed.
"""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql import (
    CollectionGroupProtocol,
    DeleteOne,
    DocumentRepository,
    DocumentStoreProtocol,
    IndexModel,
    InsertOne,
    InvalidQueryError,
)
from lexigram_nosql.query import matches, parse_filter
from lexigram_nosql.query.ordering import document_sort_key
from tests.conformance.support import REFUSED, TRANSACTIONS, attempt, collect

NO_ID = {"_id": 0}

MEMBERS: dict[str, list[dict[str, Any]]] = {
    "orders": [
        {"k": "t1", "status": "paid", "total": 40, "tags": ["gift"]},
        {"k": "t2", "status": "open", "total": 5.5},
    ],
    "users/u1/orders": [
        {"k": "a1", "status": "paid", "total": 12, "tags": ["gift", "rush"]},
        {"k": "a2", "status": "open", "total": 99, "items": [{"sku": "x", "n": 2}]},
        {"k": "a3", "status": "paid", "total": 12, "note": None},
    ],
    "users/u2/orders": [
        {"k": "b1", "status": "void", "total": 0},
        {"k": "b2", "status": "paid", "total": 61, "tags": []},
    ],
    "shops/s1/orders": [{"k": "c1", "status": "open", "items": [{"sku": "y", "n": 1}]}],
}
# Not in the group: another group, a parent, and names that only look alike.
OTHERS: dict[str, list[dict[str, Any]]] = {
    "users": [{"k": "u1", "status": "paid", "total": 1}],
    "users/u1/returns": [{"k": "r1", "status": "paid", "total": 12}],
    "ordersx": [{"k": "x1", "status": "paid", "total": 12}],
    "a/orders": [{"k": "f1", "status": "paid", "total": 12}],
}
SEED = [document for documents in MEMBERS.values() for document in documents]


async def seed(store: Any) -> None:
    for name, documents in {**MEMBERS, **OTHERS}.items():
        await store.collection(name).insert_many([dict(d) for d in documents])


def expected(filter: dict[str, Any], sort: list[tuple[str, int]] | None = None) -> list[Any]:
    node = parse_filter(filter)
    found = [d for d in SEED if matches(node, d)]
    if sort:
        return sorted(found, key=document_sort_key(sort))
    return sorted(found, key=lambda d: d["k"])


FILTERS = [
    {},
    {"status": "paid"},
    {"total": {"$gte": 12}},
    {"status": "paid", "total": {"$lt": 50}},
    {"$or": [{"status": "void"}, {"total": {"$gt": 60}}]},
    {"status": {"$in": ["open", "void"]}},
    {"tags": "gift"},
    {"tags": {"$size": 0}},
    {"items.sku": "y"},
    {"items": {"$elemMatch": {"sku": "x", "n": {"$gte": 2}}}},
    {"total": {"$exists": False}},
    {"note": None},
    {"k": {"$regex": "^a"}},
    {"status": {"$ne": "paid"}, "total": {"$type": "number"}},
    {"$expr": {"$gt": [{"$ifNull": ["$total", 0]}, 50]}},
]


async def test_the_view_meets_the_protocols(store: Any) -> None:
    assert isinstance(store, DocumentStoreProtocol)
    group = store.collection_group("orders", path_field="_path")
    assert isinstance(group, CollectionGroupProtocol)
    assert (group.name, group.path_field) == ("orders", "_path")
    assert "orders" in repr(group)


@pytest.mark.parametrize("filter", FILTERS, ids=[f"f{i}" for i in range(len(FILTERS))])
async def test_find_and_count_are_exact(store: Any, filter: dict[str, Any]) -> None:
    await seed(store)
    group = store.collection_group("orders")
    found = await collect(group.find(filter, projection=NO_ID))
    assert sorted(found, key=lambda d: d["k"]) == expected(filter)
    assert await group.count_documents(filter) == len(expected(filter))


@pytest.mark.parametrize(
    ("sort", "skip", "limit"),
    [
        ([("total", -1), ("k", 1)], 0, 0),
        ([("total", 1), ("k", -1)], 1, 3),
        ([("status", 1), ("total", -1), ("k", 1)], 2, 4),
        ([("k", -1)], 0, 1),
    ],
)
async def test_sort_skip_and_limit_across_collections(
    store: Any, sort: list[tuple[str, int]], skip: int, limit: int
) -> None:
    await seed(store)
    group = store.collection_group("orders")
    found = await collect(group.find({}, projection=NO_ID, sort=sort, skip=skip, limit=limit))
    ordered = expected({}, sort)[skip:]
    assert found == (ordered[:limit] if limit else ordered)
    first = await group.find_one({"status": "paid"}, sort=sort, projection=NO_ID)
    assert first == expected({"status": "paid"}, sort)[0]


async def test_limit_without_sort_returns_that_many_matches(store: Any) -> None:
    await seed(store)
    found = await collect(store.collection_group("orders").find({"status": "paid"}, limit=3))
    assert len(found) == 3
    assert {d["k"] for d in found} <= {d["k"] for d in expected({"status": "paid"})}


async def test_distinct_and_aggregate(store: Any) -> None:
    await seed(store)
    group = store.collection_group("orders")
    assert await group.distinct("status") == ["open", "paid", "void"]
    assert await group.distinct("tags", {"total": {"$gte": 12}}) == ["gift", "rush"]
    pipeline = [
        {"$match": {"status": {"$in": ["paid", "open"]}}},
        {"$group": {"_id": "$status", "n": {"$sum": 1}, "total": {"$sum": "$total"}}},
        {"$sort": {"_id": 1}},
    ]
    assert await collect(group.aggregate(pipeline)) == [
        {"_id": "open", "n": 3, "total": 104.5},
        {"_id": "paid", "n": 4, "total": 125},
    ]
    top = [{"$sort": {"total": -1}}, {"$limit": 2}, {"$project": {"_id": 0, "k": 1}}]
    assert await collect(group.aggregate(top)) == [{"k": "a2"}, {"k": "b2"}]


async def test_an_empty_or_unknown_group_reads_nothing(store: Any) -> None:
    await seed(store)
    group = store.collection_group("invoices")
    assert await collect(group.find()) == []
    assert await group.count_documents({}) == 0
    assert await group.find_one() is None


async def test_a_collection_created_later_joins_the_group(store: Any) -> None:
    await seed(store)
    group = store.collection_group("orders")
    await store.collection("users/u9/orders").insert_one({"k": "z1", "status": "paid"})
    assert await group.count_documents({"k": "z1"}) == 1
    await store.collection("users/u9/orders").delete_many({})
    assert await group.count_documents({"k": "z1"}) == 0


async def test_a_group_read_in_a_transaction_sees_its_own_writes(store: Any) -> None:
    await seed(store)
    group = store.collection_group("orders")

    async def body() -> Any:
        await store.collection("users/u1/orders").update_one({"k": "a1"}, {"$set": {"total": 500}})
        await store.collection("users/u2/orders").delete_one({"k": "b1"})
        await store.collection("users/u7/orders").insert_one({"k": "n1", "total": 1000})
        top = await collect(group.find({"total": {"$gte": 100}}, sort=[("total", -1)]))
        return [d["k"] for d in top], await group.count_documents({})

    async def run() -> Any:
        async with store.transaction():
            return await body()

    seen = await attempt(store, [TRANSACTIONS], run)
    if seen is not REFUSED:
        assert seen == (["n1", "a1"], len(SEED))
        assert await group.count_documents({"total": {"$gte": 100}}) == 2


async def test_each_document_can_name_its_path_and_collection(store: Any) -> None:
    await seed(store)
    group = store.collection_group("orders", path_field="_path")
    owners = {d["k"]: name for name, documents in MEMBERS.items() for d in documents}
    found = await collect(group.find())
    assert sorted(d["k"] for d in found) == sorted(owners)
    for document in found:
        owner = owners[document["k"]]
        assert document["_path"] == f"{owner}/{document['_id']}"
        collection = group.collection_of(document)
        assert collection.name == owner
        assert await collection.find_one({"_id": document["_id"]}) == {
            k: v for k, v in document.items() if k != "_path"
        }
    # The path is a field like any other for filters, sorts and projections.
    under_u1 = await collect(
        group.find({"_path": {"$regex": "^users/u1/"}}, projection={"_id": 0, "k": 1})
    )
    assert sorted(d["k"] for d in under_u1) == ["a1", "a2", "a3"]
    assert await group.count_documents({"_path": {"$regex": "^shops/"}}) == 1
    mixed = {"status": "paid", "_path": {"$regex": "^users/"}, "total": {"$gte": 12}}
    assert sorted(d["k"] for d in await collect(group.find(mixed))) == ["a1", "a3", "b2"]
    by_path = await collect(group.find({}, sort=[("_path", 1)], projection={"_path": 1, "_id": 0}))
    assert [d["_path"] for d in by_path] == sorted(d["_path"] for d in found)
    paths = await collect(
        group.aggregate([{"$match": {"_path": {"$regex": "^orders/"}}}, {"$count": "n"}])
    )
    assert paths == [{"n": 2}]
    # Without path_field the documents are as stored, unless a request names _path.
    plain = store.collection_group("orders")
    assert all("_path" not in d for d in await collect(plain.find()))
    named = await collect(plain.find({"k": "c1"}, projection={"_path": 1, "k": 1}))
    assert [(d["k"], d["_path"]) for d in named] == [("c1", f"shops/s1/orders/{named[0]['_id']}")]
    assert plain.collection_of(named[0]).name == "shops/s1/orders"
    assert await plain.count_documents({"_path": {"$regex": "^users/u2/"}}) == 2
    pipeline = [{"$match": {"k": "t1"}}, {"$project": {"at": {"$concat": ["@", "$_path"]}}}]
    [projected] = await collect(plain.aggregate(pipeline))
    assert projected["at"] == f"@orders/{projected['_id']}"


async def test_the_same_id_in_two_collections_is_two_documents(store: Any) -> None:
    shared = "0123456789abcdef01234567"  # a hex id: servers that keep only ObjectIds take it
    await store.collection("orders").insert_one({"_id": shared, "k": "top"})
    await store.collection("users/u1/orders").insert_one({"_id": shared, "k": "nested"})
    group = store.collection_group("orders", path_field="_path")
    found = await collect(group.find({"_id": shared}, sort=[("k", -1)]))
    assert [(d["k"], d["_path"]) for d in found] == [
        ("top", f"orders/{shared}"),
        ("nested", f"users/u1/orders/{shared}"),
    ]
    assert await group.count_documents({"_id": {"$in": [shared, "ffffffffffffffffffffffff"]}}) == 2
    assert [c.name for c in map(group.collection_of, found)] == ["orders", "users/u1/orders"]


async def test_writes_through_a_group_are_refused(store: Any) -> None:
    await seed(store)
    group = store.collection_group("orders")
    attempts = [
        lambda: group.insert_one({"k": "new"}),
        lambda: group.insert_many([{"k": "new"}]),
        lambda: group.update_one({"k": "t1"}, {"$set": {"total": 1}}),
        lambda: group.update_many({}, {"$set": {"total": 1}}),
        lambda: group.replace_one({"k": "t1"}, {"k": "t1"}),
        lambda: group.delete_one({"k": "t1"}),
        lambda: group.delete_many({}),
        lambda: group.find_one_and_update({"k": "t1"}, {"$set": {"total": 1}}),
        lambda: group.find_one_and_delete({"k": "t1"}),
        lambda: group.bulk_write([InsertOne({"k": "new"}), DeleteOne({"k": "t1"})]),
        lambda: group.bulk_write([InsertOne({"k": "new"})], ordered=False),
        lambda: group.insert_many([{"k": "new"}], ordered=False),
        lambda: group.insert_many([]),
        lambda: group.find_one_and_replace({"k": "t1"}, {"k": "t1"}),
        lambda: group.update_many({}, {"$set": {"k": "new"}}, upsert=True),
        lambda: group.create_index("total"),
        lambda: group.drop_index("total_1"),
        lambda: group.list_indexes(),
        lambda: group.create_indexes([IndexModel("total")]),
        lambda: group.drop_indexes(),
    ]
    for write in attempts:
        with pytest.raises(InvalidQueryError, match=r"read-only.*store\.collection\(") as info:
            await write()
        assert info.value.collection == "orders"
    assert await group.count_documents({}) == len(SEED)
    assert await group.count_documents({"k": "new"}) == 0


@pytest.mark.parametrize("name", ["users/u1/orders", "", "$orders", "system.orders", 3])
async def test_invalid_group_names_are_refused(store: Any, name: Any) -> None:
    with pytest.raises(InvalidQueryError):
        store.collection_group(name)


@pytest.mark.parametrize("path_field", ["", "$path", "a.b", "_id", 5])
async def test_invalid_path_fields_are_refused(store: Any, path_field: Any) -> None:
    with pytest.raises(InvalidQueryError, match="path_field"):
        store.collection_group("orders", path_field=path_field)


# -- path-named collections: indexes, soft delete, repositories ---------------------------


async def test_indexes_on_a_path_named_collection(store: Any) -> None:
    orders = store.collection("users/u1/orders")
    await orders.insert_many([{"k": "a", "total": 3}, {"k": "b", "total": 9}])
    assert await orders.create_index([("total", -1)]) == "total_-1"
    assert "total_-1" in {info.name for info in await orders.list_indexes()}
    assert await orders.count_documents({"total": {"$gt": 5}}) == 1
    await orders.drop_index("total_-1")
    assert "total_-1" not in {info.name for info in await orders.list_indexes()}


class OrderRepository(DocumentRepository[dict[str, Any], str]):
    """Orders of one user: a repository over a subcollection."""

    def __init__(self, store: DocumentStoreProtocol, user_id: str) -> None:
        super().__init__(store, collection_name=f"users/{user_id}/orders", soft_delete=True)

    async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


async def test_a_repository_with_soft_delete_over_a_subcollection(store: Any) -> None:
    ada, bob = OrderRepository(store, "u1"), OrderRepository(store, "u2")
    kept = await ada.save({"total": 5})
    gone = await ada.save({"total": 7})
    await bob.save({"total": 9})
    assert await ada.delete(gone["_id"]) is True
    assert [o["total"] for o in await ada.find_by_filter()] == [5]
    assert await ada.count() == 1
    assert await bob.count() == 1
    assert (await ada.get(kept["_id"]) or {}).get("total") == 5
    assert await ada.restore(gone["_id"]) is True
    assert await ada.count() == 2
    # The soft-deleted marker is an ordinary field to the group view.
    await ada.delete(gone["_id"])
    group = store.collection_group("orders")
    assert await group.count_documents({"_deleted": {"$ne": True}}) == 2
