"""Soft delete on every backend: no read path leaks a deleted document, and it can come back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lexigram_nosql import (
    AggregationOp,
    AggregationPipeline,
    DocumentDeletedError,
    DocumentNotFoundError,
    DocumentRepository,
    DocumentStoreProtocol,
    FieldEq,
)


class UserRepository(DocumentRepository[dict[str, Any], str]):
    collection_name = "users"

    def __init__(self, store: DocumentStoreProtocol, **options: Any) -> None:
        super().__init__(store, soft_delete=True, **options)

    async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


async def _seed(repo: UserRepository) -> tuple[str, str]:
    """Two active users; the first is then soft-deleted. Returns (deleted id, live id)."""
    gone = await repo.save({"name": "Gone", "status": "active"})
    kept = await repo.save({"name": "Kept", "status": "active"})
    assert await repo.delete(gone["_id"]) is True
    return gone["_id"], kept["_id"]


async def _names(entities: Any) -> list[str]:
    return sorted(e["name"] for e in entities)


# Each read path, returning the names it sees (or a count/bool).
READ_PATHS: dict[str, Callable[[UserRepository, str, str], Awaitable[Any]]] = {
    "get": lambda r, gone, kept: r.get(gone),
    "get_many": lambda r, gone, kept: r.get_many([gone, kept]),
    "find_by_filter": lambda r, gone, kept: r.find_by_filter({"status": "active"}),
    "find_by_filter_all": lambda r, gone, kept: r.find_by_filter(),
    "find_by_filter_id": lambda r, gone, kept: r.find_by_filter({"_id": gone}),
    "find_by_filter_marker": lambda r, gone, kept: r.find_by_filter({"_deleted": True}),
    "find_one_by_filter": lambda r, gone, kept: r.find_one_by_filter({"name": "Gone"}),
    "find_by_spec": lambda r, gone, kept: r.find_by_spec(FieldEq("status", "active")),
    "find_one_by_spec": lambda r, gone, kept: r.find_one_by_spec(FieldEq("name", "Gone")),
    "stream": lambda r, gone, kept: _collect(r.stream({"status": "active"})),
    "count": lambda r, gone, kept: r.count(),
    "count_filter": lambda r, gone, kept: r.count({"name": "Gone"}),
    "exists": lambda r, gone, kept: r.exists(gone),
    "aggregate": lambda r, gone, kept: _collect(r.aggregate([{"$project": {"name": 1}}])),
    "aggregate_match": lambda r, gone, kept: _collect(
        r.aggregate([{"$match": {"status": "active"}}, {"$project": {"name": 1}}])
    ),
    "aggregate_count": lambda r, gone, kept: _collect(r.aggregate([{"$count": "n"}])),
}

EXPECTED_LIVE: dict[str, Any] = {
    "get": None,
    "get_many": ["Kept"],
    "find_by_filter": ["Kept"],
    "find_by_filter_all": ["Kept"],
    "find_by_filter_id": [],
    "find_by_filter_marker": [],
    "find_one_by_filter": None,
    "find_by_spec": ["Kept"],
    "find_one_by_spec": None,
    "stream": ["Kept"],
    "count": 1,
    "count_filter": 0,
    "exists": False,
    "aggregate": ["Kept"],
    "aggregate_match": ["Kept"],
    "aggregate_count": [{"n": 1}],
}


async def _collect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


def _shape(value: Any) -> Any:
    """Names for lists of entities, the value itself otherwise."""
    if isinstance(value, list) and value and "name" in value[0]:
        return sorted(item["name"] for item in value)
    return value


@pytest.mark.parametrize("path", sorted(READ_PATHS))
async def test_no_read_path_returns_a_soft_deleted_document(
    store: DocumentStoreProtocol, path: str
) -> None:
    repo = UserRepository(store)
    gone, kept = await _seed(repo)
    assert _shape(await READ_PATHS[path](repo, gone, kept)) == EXPECTED_LIVE[path]


async def test_aggregate_takes_a_pipeline_builder_and_stays_scoped(
    store: DocumentStoreProtocol,
) -> None:
    repo = UserRepository(store)
    await _seed(repo)
    pipeline = (
        AggregationPipeline()
        .match({"status": "active"})
        .group(None, {"total": AggregationOp.SUM(1)})
    )
    assert [doc async for doc in repo.aggregate(pipeline)] == [{"_id": None, "total": 1}]
    everything = repo.with_deleted().aggregate(pipeline)
    assert [doc async for doc in everything] == [{"_id": None, "total": 2}]


async def test_delete_marks_the_document_and_keeps_it(store: DocumentStoreProtocol) -> None:
    repo = UserRepository(store)
    before = datetime.now(UTC) - timedelta(seconds=1)
    gone, _ = await _seed(repo)
    stored = await store.collection("users").find_one({"_id": gone})
    assert stored is not None
    assert stored["_deleted"] is True
    deleted_at = stored["_deleted_at"]
    assert isinstance(deleted_at, datetime)
    if deleted_at.tzinfo is None:  # some drivers hand back naive UTC
        deleted_at = deleted_at.replace(tzinfo=UTC)
    assert before <= deleted_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert await repo.delete(gone) is False, "already deleted"
    assert await repo.delete_many([gone]) == 0


async def test_restore_brings_a_document_back_without_markers(
    store: DocumentStoreProtocol,
) -> None:
    repo = UserRepository(store)
    gone, _ = await _seed(repo)
    assert await repo.restore(gone) is True
    assert await repo.get(gone) == {"_id": gone, "name": "Gone", "status": "active"}
    stored = await store.collection("users").find_one({"_id": gone})
    assert stored is not None and "_deleted" not in stored and "_deleted_at" not in stored
    assert await repo.restore(gone) is False, "not deleted any more"


async def test_views_include_or_only_return_deleted_documents(
    store: DocumentStoreProtocol,
) -> None:
    repo = UserRepository(store)
    gone, kept = await _seed(repo)
    everything = repo.with_deleted()
    deleted = repo.only_deleted()
    assert await _names(await everything.find_by_filter()) == ["Gone", "Kept"]
    assert await _names(await deleted.find_by_filter()) == ["Gone"]
    assert await everything.count() == 2
    assert await deleted.count() == 1
    assert await deleted.get(kept) is None
    assert await deleted.get(gone) == {"_id": gone, "name": "Gone", "status": "active"}
    assert await deleted.exists(gone)
    assert await _names(await everything.find_by_filter({"_deleted": True})) == ["Gone"]
    assert [d["name"] async for d in deleted.aggregate([{"$project": {"name": 1}}])] == ["Gone"]
    assert await repo.count() == 1, "the repository itself keeps its scope"


async def test_hard_delete_removes_deleted_and_live_documents(
    store: DocumentStoreProtocol,
) -> None:
    repo = UserRepository(store)
    gone, kept = await _seed(repo)
    assert await repo.hard_delete(gone) is True
    assert await repo.hard_delete(kept) is True
    assert await repo.hard_delete(kept) is False
    assert await store.collection("users").count_documents({}) == 0


async def test_purge_deleted_respects_the_age(store: DocumentStoreProtocol) -> None:
    repo = UserRepository(store)
    _, kept = await _seed(repo)
    assert await repo.purge_deleted(older_than=timedelta(hours=1)) == 0
    assert await repo.with_deleted().count() == 2
    cutoff = datetime.now(UTC) + timedelta(seconds=1)
    assert await repo.purge_deleted(older_than=cutoff) == 1
    assert await repo.with_deleted().count() == 1
    assert await repo.get(kept) is not None
    other = await repo.save({"name": "Other"})
    await repo.delete(other["_id"])
    assert await repo.purge_deleted() == 1
    assert await store.collection("users").count_documents({}) == 1


async def test_saving_a_soft_deleted_entity_raises_until_restored(
    store: DocumentStoreProtocol,
) -> None:
    """Saving never resurrects silently, nor writes a copy no read can see."""
    repo = UserRepository(store)
    entity = await repo.save({"name": "Ada"})
    await repo.delete(entity["_id"])
    with pytest.raises(DocumentDeletedError, match="restore") as caught:
        await repo.save({**entity, "name": "Ada L."})
    assert isinstance(caught.value, DocumentNotFoundError)
    assert caught.value.key == entity["_id"]
    stored = await store.collection("users").find_one({"_id": entity["_id"]})
    assert stored is not None and stored["name"] == "Ada" and stored["_deleted"] is True
    await repo.restore(entity["_id"])
    assert await repo.save({**entity, "name": "Ada L."}) == {**entity, "name": "Ada L."}


async def test_marker_field_names_are_configurable(store: DocumentStoreProtocol) -> None:
    repo = UserRepository(store, deleted_field="is_deleted", deleted_at_field="removed_at")
    gone, _ = await _seed(repo)
    stored = await store.collection("users").find_one({"_id": gone})
    assert stored is not None and stored["is_deleted"] is True and "removed_at" in stored
    assert "_deleted" not in stored
    assert await repo.count() == 1
    deleted = await repo.only_deleted().get(gone)
    assert deleted == {"_id": gone, "name": "Gone", "status": "active"}, "markers stripped"


async def test_delete_many_soft_deletes(store: DocumentStoreProtocol) -> None:
    repo = UserRepository(store)
    ids = [(await repo.save({"name": f"u{i}"}))["_id"] for i in range(3)]
    assert await repo.delete_many([ids[0], ids[1], ids[0]]) == 2
    assert await repo.count() == 1
    assert await store.collection("users").count_documents({}) == 3
