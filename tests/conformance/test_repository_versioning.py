"""Optimistic concurrency on every backend: stale saves fail, concurrent writers lose nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lexigram_nosql import (
    ConcurrencyError,
    DocumentDeletedError,
    DocumentRepository,
    DocumentStoreProtocol,
)


class CounterRepository(DocumentRepository[dict[str, Any], str]):
    collection_name = "counters"
    versioned = True

    async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


class PlainRepository(CounterRepository):
    versioned = False


async def test_versions_start_at_one_and_grow_with_each_save(
    store: DocumentStoreProtocol,
) -> None:
    repo = CounterRepository(store)
    first = await repo.save({"n": 0})
    assert first["_version"] == 1
    second = await repo.save({**first, "n": 1})
    assert second["_version"] == 2
    assert await repo.get(first["_id"]) == {"_id": first["_id"], "n": 1, "_version": 2}


async def test_a_stale_save_raises_and_keeps_the_newer_write(
    store: DocumentStoreProtocol,
) -> None:
    repo = CounterRepository(store)
    original = await repo.save({"n": 0})
    await repo.save({**original, "n": 1})
    with pytest.raises(ConcurrencyError, match="version 1") as caught:
        await repo.save({**original, "n": 99})
    assert caught.value.key == original["_id"]
    assert caught.value.expected_version == 1
    stored = await repo.get(original["_id"])
    assert stored is not None and stored["n"] == 1 and stored["_version"] == 2


async def test_versioned_can_be_set_by_the_constructor(store: DocumentStoreProtocol) -> None:
    assert not PlainRepository(store).versioned
    repo = PlainRepository(store, versioned=True, version_field="rev")
    saved = await repo.save({"n": 0})
    assert saved["rev"] == 1
    with pytest.raises(ConcurrencyError):
        await repo.save({**saved, "rev": 0})
    assert not CounterRepository(store, versioned=False).versioned


async def test_an_unversioned_save_over_a_versioned_document_is_stale(
    store: DocumentStoreProtocol,
) -> None:
    repo = CounterRepository(store)
    saved = await repo.save({"n": 0})
    with pytest.raises(ConcurrencyError):
        await repo.save({"_id": saved["_id"], "n": 5})


async def test_documents_written_before_versioning_get_version_one(
    store: DocumentStoreProtocol,
) -> None:
    legacy = await PlainRepository(store).save({"n": 0})
    repo = CounterRepository(store)
    loaded = await repo.get(legacy["_id"])
    assert loaded is not None and "_version" not in loaded
    saved = await repo.save({**loaded, "n": 1})
    assert saved["_version"] == 1
    with pytest.raises(ConcurrencyError):
        await repo.save({**loaded, "n": 2})


async def test_saving_a_deleted_versioned_entity(store: DocumentStoreProtocol) -> None:
    repo = CounterRepository(store, soft_delete=True)
    saved = await repo.save({"n": 0})
    await repo.delete(saved["_id"])
    with pytest.raises(DocumentDeletedError):
        await repo.save(saved)
    await repo.restore(saved["_id"])
    with pytest.raises(ConcurrencyError):
        await repo.save(saved)  # delete and restore both moved the version on
    fresh = await repo.get(saved["_id"])
    assert fresh is not None
    assert (await repo.save(fresh))["_version"] == saved["_version"] + 3
    await repo.hard_delete(saved["_id"])
    with pytest.raises(ConcurrencyError, match="no longer exists"):
        await repo.save(fresh)


async def test_concurrent_writers_lose_no_update(store: DocumentStoreProtocol) -> None:
    """Eight writers each add 1 five times with read-modify-save and retry on conflict;
    with the version checked by the backend, the total is exact."""
    repo = CounterRepository(store)
    counter = await repo.save({"n": 0})
    conflicts = 0

    async def writer() -> None:
        nonlocal conflicts
        for _ in range(5):
            while True:
                current = await repo.get(counter["_id"])
                assert current is not None
                await asyncio.sleep(0)  # let the others read the same version
                try:
                    await repo.save({**current, "n": current["n"] + 1})
                    break
                except ConcurrencyError:
                    conflicts += 1

    await asyncio.gather(*(writer() for _ in range(8)))
    final = await repo.get(counter["_id"])
    assert final is not None and final["n"] == 40
    assert final["_version"] == 41
    assert conflicts > 0, "the writers did overlap"
