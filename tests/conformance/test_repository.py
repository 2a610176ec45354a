"""DocumentRepository on every backend: ids, reads, writes, mapping and views."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pytest

from lexigram_nosql import (
    ConfigurationError,
    DocumentRepository,
    DocumentStoreProtocol,
    FieldEq,
    FieldGt,
)


class DictRepository(DocumentRepository[dict[str, Any], str]):
    """The guide's identity-mapped repository."""

    collection_name = "users"

    async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


@dataclass
class Item:
    name: str
    qty: int
    _id: str | None = None


class ItemRepository(DocumentRepository[Item, str]):
    collection_name = "items"

    async def _document_to_entity(self, doc: dict[str, Any]) -> Item:
        return Item(**doc)

    async def _entity_to_document(self, entity: Item) -> dict[str, Any]:
        doc = asdict(entity)
        if doc["_id"] is None:
            del doc["_id"]
        return doc


async def test_save_assigns_an_id_that_get_finds(store: DocumentStoreProtocol) -> None:
    repo = DictRepository(store)
    entity = {"name": "Ada", "email": "ada@example.com"}
    saved = await repo.save(entity)
    assert isinstance(saved["_id"], str) and saved["_id"]
    assert saved == {"_id": saved["_id"], "name": "Ada", "email": "ada@example.com"}
    assert entity == {"name": "Ada", "email": "ada@example.com"}, "caller's dict unchanged"
    assert await repo.get(saved["_id"]) == saved
    assert await repo.exists(saved["_id"])


async def test_save_of_an_entity_class_round_trips(store: DocumentStoreProtocol) -> None:
    repo = ItemRepository(store)
    saved = await repo.save(Item("bolt", 3))
    assert saved._id is not None
    assert await repo.get(saved._id) == Item("bolt", 3, saved._id)


async def test_save_with_an_id_inserts_then_replaces(store: DocumentStoreProtocol) -> None:
    repo = DictRepository(store)
    await repo.save({"_id": "u1", "name": "Ada", "old": True})
    saved = await repo.save({"_id": "u1", "name": "Ada L."})
    assert saved == {"_id": "u1", "name": "Ada L."}
    assert await repo.get("u1") == {"_id": "u1", "name": "Ada L."}, "replaced, not merged"
    assert await repo.count() == 1


async def test_save_many_returns_saved_entities(store: DocumentStoreProtocol) -> None:
    repo = DictRepository(store)
    saved = await repo.save_many([{"n": 1}, {"_id": "x", "n": 2}])
    assert [e["n"] for e in saved] == [1, 2]
    assert saved[1]["_id"] == "x"
    assert [e["n"] for e in await repo.get_many([s["_id"] for s in saved])] == [1, 2]


async def test_get_many_keeps_the_order_asked_and_skips_missing(
    store: DocumentStoreProtocol,
) -> None:
    repo = DictRepository(store)
    for key in ("a", "b", "c"):
        await repo.save({"_id": key})
    found = await repo.get_many(["c", "missing", "a", "c"])
    assert [e["_id"] for e in found] == ["c", "a", "c"]
    assert await repo.get("missing") is None
    assert not await repo.exists("missing")


async def test_get_many_handles_more_ids_than_one_request(store: DocumentStoreProtocol) -> None:
    repo = DictRepository(store)
    keys = [f"k{i:03}" for i in range(230)]
    await store.collection("users").insert_many([{"_id": k} for k in keys])
    assert [e["_id"] for e in await repo.get_many(reversed(keys))] == keys[::-1]
    assert await repo.delete_many(keys) == 230


async def test_find_by_filter_spec_and_stream(store: DocumentStoreProtocol) -> None:
    repo = DictRepository(store)
    for i in range(6):
        await repo.save({"_id": f"u{i}", "n": i, "role": "admin" if i % 2 else "user"})
    admins = await repo.find_by_filter({"role": "admin"}, sort=[("n", -1)])
    assert [e["n"] for e in admins] == [5, 3, 1]
    page = await repo.find_by_filter(None, sort=[("n", 1)], skip=2, limit=2)
    assert [e["n"] for e in page] == [2, 3]
    first = await repo.find_one_by_filter({"n": {"$gte": 2}}, sort=[("n", 1)])
    assert first is not None and first["n"] == 2
    spec = FieldEq("role", "admin") & FieldGt("n", 1)
    assert sorted(e["n"] for e in await repo.find_by_spec(spec)) == [3, 5]
    one = await repo.find_one_by_spec(spec, sort=[("n", 1)])
    assert one is not None and one["n"] == 3
    assert [e["n"] async for e in repo.stream(spec, sort=[("n", 1)])] == [3, 5]
    assert await repo.count({"role": "user"}) == 3
    assert await repo.count(spec) == 2


async def test_delete_reports_whether_something_was_deleted(store: DocumentStoreProtocol) -> None:
    repo = DictRepository(store)
    saved = await repo.save({"name": "Ada"})
    assert await repo.delete(saved["_id"]) is True
    assert await repo.delete(saved["_id"]) is False
    assert await store.collection("users").count_documents({}) == 0


async def test_aggregate_runs_over_the_collection(store: DocumentStoreProtocol) -> None:
    repo = DictRepository(store)
    for i in range(4):
        await repo.save({"_id": f"u{i}", "team": "a" if i < 3 else "b"})
    out = [
        doc
        async for doc in repo.aggregate(
            [{"$group": {"_id": "$team", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]
        )
    ]
    assert out == [{"_id": "a", "n": 3}, {"_id": "b", "n": 1}]


async def test_a_repository_without_the_mapping_methods_cannot_be_built(
    store: DocumentStoreProtocol,
) -> None:
    class Incomplete(DocumentRepository[dict[str, Any], str]):
        collection_name = "x"

        async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
            return doc

    with pytest.raises(TypeError, match="_entity_to_document"):
        Incomplete(store)  # type: ignore[abstract]


async def test_a_repository_needs_a_collection_name(store: DocumentStoreProtocol) -> None:
    class Nameless(DocumentRepository[dict[str, Any], str]):
        async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
            return doc

        async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
            return entity

    with pytest.raises(ConfigurationError, match="collection_name"):
        Nameless(store)
    assert Nameless(store, collection_name="named").collection.name == "named"


async def test_entity_to_document_must_return_a_mapping(store: DocumentStoreProtocol) -> None:
    class Broken(DictRepository):
        async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
            return [1]  # type: ignore[return-value]

    with pytest.raises(TypeError, match="must return a mapping"):
        await Broken(store).save({})


async def test_soft_delete_only_methods_need_soft_delete(store: DocumentStoreProtocol) -> None:
    repo = DictRepository(store)
    for call in (
        lambda: repo.restore("x"),
        lambda: repo.purge_deleted(),
    ):
        with pytest.raises(ConfigurationError, match="soft_delete=True"):
            await call()
    with pytest.raises(ConfigurationError):
        repo.with_deleted()
    with pytest.raises(ConfigurationError):
        repo.only_deleted()
