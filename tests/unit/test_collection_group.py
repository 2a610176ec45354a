"""Collection-group views, in process: what the view hands its source when a request names
the path field (the rest of the behaviour is in tests/conformance/test_collection_groups.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from lexigram_nosql import create_store
from lexigram_nosql.backends.group import ListedCollections
from lexigram_nosql.query.requests import FindQuery


async def test_conditions_not_naming_the_path_still_reach_the_source(monkeypatch: Any) -> None:
    store = create_store({"name": "g", "driver": "memory"})
    await store.connect()
    try:
        await store.collection("users/u1/orders").insert_many(
            [{"_id": "a", "status": "paid"}, {"_id": "b", "status": "open"}]
        )
        seen: list[dict[str, Any]] = []
        documents = ListedCollections.documents

        def spy(self: Any, query: FindQuery) -> AsyncIterator[Any]:
            seen.append(dict(query.filter.raw))
            return documents(self, query)

        monkeypatch.setattr(ListedCollections, "documents", spy)
        group = store.collection_group("orders")
        mixed = {"status": "paid", "_path": {"$regex": "^users/u1/"}}
        assert [d["_id"] async for d in group.find(mixed)] == ["a"]
        assert await group.count_documents(mixed) == 1
        assert seen == [{"status": "paid"}, {"status": "paid"}]
    finally:
        await store.disconnect()
