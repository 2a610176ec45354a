"""``session=`` on the index calls and ``drop_collection``, as PyMongo takes it there: the
session of ``store.transaction()``, checked as every call's; inside the block an index or
collection change follows the backend's rules (``backends/indexing.py``): MongoDB's server
decides, the memory and SQLite stores roll the change back with the transaction, and DynamoDB
and Firestore, which cannot, refuse it by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql import IndexModel, InvalidQueryError, NoSQLError, UnsupportedQueryError
from tests.conformance.support import REFUSED, TRANSACTIONS, attempt, seeded

SEED = [{"_id": f"{n:024x}", "kind": "bolt", "qty": n} for n in range(1, 4)]

Call = Callable[[Any, Any, Any], Awaitable[Any]]

CALLS: dict[str, Call] = {
    "create_index": lambda store, c, s: c.create_index("qty", s),
    "create_indexes": lambda store, c, s: c.create_indexes([IndexModel("qty")], s),
    "drop_index": lambda store, c, s: c.drop_index("kind_1", s),
    "drop_indexes": lambda store, c, s: c.drop_indexes(s),
    "list_indexes": lambda store, c, s: c.list_indexes(s),
    "index_information": lambda store, c, s: c.index_information(session=s),
    "drop_collection": lambda store, c, s: store.drop_collection(c.name, session=s),
    "drop": lambda store, c, s: c.drop(s),
    "list_collections": lambda store, c, s: store.list_collections(session=s),
}
"""Every index call and ``drop_collection``, with PyMongo's ``session`` (by position where
PyMongo takes it so)."""

CHANGES = (
    "create_index",
    "create_indexes",
    "drop_index",
    "drop_indexes",
    "drop_collection",
    "drop",
)


async def _indexed(store: Any) -> Any:
    collection = await seeded(store, SEED)
    await collection.create_index("kind")
    return collection


async def _state(collection: Any) -> tuple[list[str], int]:
    names = [index.name for index in await collection.list_indexes()]
    return names, await collection.count_documents({})


@pytest.mark.parametrize("name", list(CALLS))
async def test_a_session_that_is_not_the_stores_is_refused_by_name(store: Any, name: str) -> None:
    collection = await _indexed(store)
    before = await _state(collection)
    with pytest.raises(InvalidQueryError, match="session= takes the session of") as refused:
        await CALLS[name](store, collection, object())
    assert refused.value.operator == "session"
    assert await _state(collection) == before


@pytest.mark.parametrize("name", list(CALLS))
async def test_a_session_whose_block_has_ended_is_refused(store: Any, name: str) -> None:
    collection = await _indexed(store)
    before = await _state(collection)

    async def stale() -> None:
        async with store.transaction() as session:
            pass
        with pytest.raises(InvalidQueryError, match="not open here"):
            await CALLS[name](store, collection, session)

    await attempt(store, [TRANSACTIONS], stale)
    assert await _state(collection) == before


async def test_drop_drops_the_collection_as_drop_collection_does(store: Any) -> None:
    collection = await _indexed(store)
    other = await seeded(store, SEED)
    await collection.drop()
    assert await collection.count_documents({}) == 0
    assert [index.name for index in await collection.list_indexes()] in ([], ["_id_"])
    names = await store.list_collections()
    assert collection.name not in names and other.name in names
    with pytest.raises(InvalidQueryError, match="read-only view") as refused:
        await store.collection_group(other.name).drop()
    assert refused.value.operator == "drop"


async def test_list_collections_takes_the_transactions_session(store: Any) -> None:
    """The store's list, read outside the transaction (MongoDB lists none inside one)."""
    collection = await _indexed(store)

    async def listed() -> list[str]:
        async with store.transaction() as session:
            names: list[str] = await store.list_collections(session=session)
            return names

    names = await attempt(store, [TRANSACTIONS], listed)
    assert names is REFUSED or collection.name in names


@pytest.mark.parametrize("name", ["list_indexes", "index_information"])
async def test_index_reads_take_the_transactions_session(store: Any, name: str) -> None:
    collection = await _indexed(store)

    async def read() -> Any:
        async with store.transaction() as session:
            return await CALLS[name](store, collection, session)

    if store.driver == "mongodb" and store.capabilities.transactions:
        with pytest.raises(NoSQLError):  # MongoDB refuses listIndexes in a transaction
            await read()
        return
    listed = await attempt(store, [TRANSACTIONS], read)
    if listed is not REFUSED:
        names = listed if name == "index_information" else [i.name for i in listed]
        assert sorted(names) == ["_id_", "kind_1"]


@pytest.mark.parametrize("name", CHANGES)
async def test_a_change_inside_a_transaction_is_rolled_back_with_it_or_refused(
    store: Any, name: str
) -> None:
    collection = await _indexed(store)
    before = await _state(collection)

    class Abort(Exception):
        pass

    async def change_then_abort() -> None:
        async with store.transaction() as session:
            await CALLS[name](store, collection, session)
            raise Abort

    if store.driver in ("dynamodb", "firestore"):
        with pytest.raises(UnsupportedQueryError, match="stay after a rollback") as refused:
            await change_then_abort()
        called = "drop_collection" if name == "drop" else name  # drop is drop_collection
        assert (refused.value.operator, refused.value.backend) == (called, store.driver)
    elif store.driver == "mongodb" and store.capabilities.transactions:
        # MongoDB changes no index of an existing, non-empty collection in a transaction,
        # and drops nothing there (OperationNotSupportedInTransaction)
        with pytest.raises(NoSQLError):
            await change_then_abort()
    else:

        async def rolled_back() -> None:
            with pytest.raises(Abort):  # a refused transaction propagates (to attempt)
                await change_then_abort()

        await attempt(store, [TRANSACTIONS], rolled_back)
    assert await _state(collection) == before
