"""What ``find`` and ``aggregate`` return on every backend: an async iterator with the cursor
methods code ported from PyMongo's async API or Motor calls (``to_list``, ``close``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lexigram_nosql import DocumentCursor, InvalidQueryError, UnsupportedQueryError
from tests.conformance.support import TRANSACTIONS, attempt, seeded

SHELVES = [{"_id": f"{n:024x}", "shelf": n} for n in range(1, 6)]
"""ObjectId-shaped ids, which every backend (CongoDB included) stores."""

BY_SHELF = [("shelf", 1)]


async def test_to_list_reads_everything_left(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF)
    assert isinstance(cursor, DocumentCursor)
    assert await cursor.to_list() == SHELVES
    assert await cursor.to_list(None) == []


async def test_to_list_with_a_length_reads_that_many_and_the_cursor_goes_on(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({"shelf": {"$gte": 2}}, sort=BY_SHELF)
    assert await cursor.to_list(2) == SHELVES[1:3]
    assert await anext(cursor) == SHELVES[3]
    assert await cursor.to_list(length=10) == SHELVES[4:]


async def test_an_aggregation_has_to_list_too(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.aggregate([{"$match": {"shelf": {"$lte": 2}}}, {"$sort": {"shelf": -1}}])
    assert await cursor.to_list() == [SHELVES[1], SHELVES[0]]


async def test_async_for_reads_a_cursor_as_before(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    assert [d["shelf"] async for d in collection.find({}, sort=BY_SHELF)] == [1, 2, 3, 4, 5]


async def test_a_closed_cursor_reads_nothing_more(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF)
    assert await cursor.to_list(1) == SHELVES[:1]
    await cursor.close()
    assert await cursor.to_list() == []


@pytest.mark.parametrize("length", [0, -1, 2.5, "3"])
async def test_a_malformed_to_list_length_is_refused(store: Any, length: Any) -> None:
    collection = await seeded(store, SHELVES)
    with pytest.raises(InvalidQueryError, match="to_list length"):
        await collection.find({}).to_list(length)


async def test_find_modifiers_as_pymongo_chains_them(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({"shelf": {"$gte": 2}}).sort("shelf", -1).skip(1).limit(2)
    assert await cursor.to_list() == [SHELVES[3], SHELVES[2]]
    listed = collection.find({}).sort([("shelf", 1)]).limit(-2).batch_size(1)
    assert [d["shelf"] async for d in listed] == [1, 2]


async def test_a_modifier_replaces_what_find_was_given(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF, limit=1).sort("shelf", -1).limit(0)
    assert [d["shelf"] for d in await cursor.to_list()] == [5, 4, 3, 2, 1]


async def test_a_modifier_after_the_first_read_is_refused(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF)
    assert await anext(cursor) == SHELVES[0]
    with pytest.raises(InvalidQueryError, match=r"limit\(\) must come before"):
        cursor.limit(1)
    assert len(await cursor.to_list()) == 4


@pytest.mark.parametrize(
    "modify",
    [
        lambda c: c.sort("shelf", 2),
        lambda c: c.skip(-1),
        lambda c: c.limit("3"),
        lambda c: c.batch_size(-5),
    ],
    ids=["sort", "skip", "limit", "batch_size"],
)
async def test_a_malformed_modifier_is_refused(store: Any, modify: Any) -> None:
    collection = await seeded(store, SHELVES)
    with pytest.raises(InvalidQueryError):
        modify(collection.find({}))


async def test_an_aggregation_cursor_refuses_find_modifiers(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    with pytest.raises(InvalidQueryError, match=r"\$sort, \$skip and \$limit stages"):
        collection.aggregate([{"$match": {}}]).sort("shelf", 1)


async def test_an_aggregation_cursor_can_be_awaited_as_pymongo_async_writes_it(store: Any) -> None:
    """PyMongo's async ``aggregate`` is a coroutine giving the cursor; Motor's is not."""
    collection = await seeded(store, SHELVES)
    cursor = await collection.aggregate([{"$match": {"shelf": 3}}])
    assert [d async for d in cursor] == [SHELVES[2]]


async def test_next_reads_one_document_then_stops(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({"shelf": {"$gte": 4}}, sort=BY_SHELF)
    assert [await cursor.next(), await cursor.next()] == SHELVES[3:]
    with pytest.raises(StopAsyncIteration):
        await cursor.next()


async def test_option_modifiers_as_pymongo_chains_them(store: Any) -> None:
    """``hint``, ``comment``, ``collation``, ``max_time_ms`` and ``allow_disk_use`` as
    PyMongo's cursor takes them (MongoDB receives them; see test_mongodb_command_options)."""
    collection = await seeded(store, SHELVES)
    cursor = (
        collection.find({"shelf": {"$gte": 4}})
        .hint("_id_")
        .comment({"job": "audit"})
        .collation({"locale": "simple"})
        .max_time_ms(60_000)
        .allow_disk_use(True)
        .sort("shelf", 1)
    )
    assert await cursor.to_list() == SHELVES[3:]
    cleared = collection.find({}, hint=[("_id", 1)], max_time_ms=5).hint(None).max_time_ms(None)
    assert len(await cleared.to_list()) == 5


@pytest.mark.parametrize(
    ("name", "modify"),
    [
        ("hint", lambda c: c.hint(3)),
        ("max_time_ms", lambda c: c.max_time_ms(-1)),
        ("collation", lambda c: c.collation("en")),
        ("allow_disk_use", lambda c: c.allow_disk_use("yes")),
    ],
    ids=["hint", "max_time_ms", "collation", "allow_disk_use"],
)
async def test_a_malformed_option_modifier_is_refused_by_name(
    store: Any, name: str, modify: Any
) -> None:
    collection = await seeded(store, SHELVES)
    with pytest.raises(InvalidQueryError, match=name):
        modify(collection.find({}))


async def test_a_case_insensitive_collation_modifier_is_mongodbs_or_refused(store: Any) -> None:
    collection = await seeded(store, [{"_id": SHELVES[0]["_id"], "label": "Bolts"}])
    cursor = collection.find({"label": "bolts"})
    if store.driver != "mongodb":
        with pytest.raises(UnsupportedQueryError, match="collation"):
            cursor.collation({"locale": "en", "strength": 2})
        return
    found = await cursor.collation({"locale": "en", "strength": 2}).to_list()
    assert [d["label"] for d in found] == ["Bolts"]


async def test_an_option_modifier_after_the_first_read_is_refused(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF)
    await anext(cursor)
    with pytest.raises(InvalidQueryError, match=r"hint\(\) must come before"):
        cursor.hint("_id_")


async def test_an_aggregation_cursor_refuses_option_modifiers(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    with pytest.raises(InvalidQueryError, match="a find cursor's"):
        collection.aggregate([{"$match": {}}]).hint("_id_")


async def test_a_projection_given_as_a_list_of_fields(store: Any) -> None:
    """PyMongo's list form: the fields to include (``_id`` too); an empty one, as PyMongo 4
    sends it to the server as is, returns whole documents."""
    collection = await seeded(store, [{**SHELVES[1], "label": "B"}])
    assert await collection.find({}, ["shelf"]).to_list() == [SHELVES[1]]
    assert await collection.find_one({}, projection=[]) == {**SHELVES[1], "label": "B"}


async def test_a_cursor_with_options_closed_early_reads_nothing_more(store: Any) -> None:
    """Where the engine checks the hint and binds ``let``, closing still ends the read."""
    collection = await seeded(store, SHELVES)
    cursor = collection.find(
        {"$expr": {"$gte": ["$shelf", "$$low"]}}, hint="_id_", let={"low": 2}, sort=BY_SHELF
    )
    assert await cursor.to_list(1) == SHELVES[1:2]
    await cursor.close()
    assert await cursor.to_list() == []


async def test_clone_is_a_fresh_cursor_of_the_same_query_and_modifiers(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({"shelf": {"$gte": 2}}, {"_id": 0}).sort("shelf", -1).skip(1).limit(2)
    assert await cursor.to_list() == [{"shelf": 4}, {"shelf": 3}]
    clone = cursor.clone()
    assert clone is not cursor and clone.collection is collection
    assert await clone.to_list() == [{"shelf": 4}, {"shelf": 3}]
    assert await cursor.to_list() == []  # the original stays read
    copied = copy.copy(collection.find({}, sort=BY_SHELF).limit(1))
    assert await copied.to_list() == SHELVES[:1]


async def test_a_clone_takes_its_own_modifiers(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF)
    assert await cursor.to_list(1) == SHELVES[:1]
    clone = cursor.clone().limit(2)  # the original, read, refuses modifiers; its clone not
    assert await clone.to_list() == SHELVES[:2]
    assert await cursor.to_list() == SHELVES[1:]


async def test_rewind_reads_the_query_again(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF).limit(3)
    assert await cursor.to_list(2) == SHELVES[:2]
    assert await cursor.rewind() is cursor
    assert await cursor.to_list() == SHELVES[:3]


async def test_where_runs_javascript_and_is_refused_as_a_filters_where_is(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    with pytest.raises(InvalidQueryError, match="JavaScript") as refused:
        collection.find({}).where("this.shelf > 2")
    assert refused.value.operator == "$where"
    with pytest.raises(InvalidQueryError, match="JavaScript") as by_filter:
        collection.find({"$where": "this.shelf > 2"})
    assert by_filter.value.operator == "$where"


async def test_explain_describes_the_query_without_reading_the_cursor(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({"shelf": {"$gte": 2}}, sort=BY_SHELF).limit(2)
    explained = await cursor.explain()
    assert isinstance(explained, dict) and "queryPlanner" in explained
    if store.driver != "mongodb":  # MongoDB's is the server's own document
        planner, stats = explained["queryPlanner"], explained["executionStats"]
        assert (planner["namespace"], planner["backend"]) == (collection.name, store.driver)
        assert planner["plan"] in ("native", "residual", "scan", None)
        assert stats["nReturned"] == 2
    assert await cursor.to_list() == SHELVES[1:3]


@pytest.mark.parametrize("method", ["clone", "rewind", "explain", "where", "distinct"])
async def test_an_aggregation_cursor_refuses_the_find_cursors_methods(
    store: Any, method: str
) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.aggregate([{"$match": {}}])
    with pytest.raises(InvalidQueryError, match=f"{method}\\(\\) is a find cursor's"):
        call = getattr(cursor, method)
        result = call("this.x") if method in ("where", "distinct") else call()
        if hasattr(result, "__await__"):
            await result


async def test_distinct_reads_the_finds_matches_without_skip_or_limit(store: Any) -> None:
    """As PyMongo's cursor ``distinct``: the find's filter; skip, limit and sort left out."""
    collection = await seeded(store, [*SHELVES, {"_id": f"{9:024x}", "shelf": 2}])
    cursor = collection.find({"shelf": {"$gte": 2}}).sort("shelf", -1).skip(1).limit(1)
    assert await cursor.distinct("shelf") == [2, 3, 4, 5]
    assert await cursor.to_list() == [SHELVES[3]]  # the cursor itself is not read


async def test_alive_until_read_to_the_end_or_closed(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF)
    assert cursor.alive
    assert await cursor.to_list(2) == SHELVES[:2]
    assert cursor.alive
    assert await cursor.to_list() == SHELVES[2:]
    assert not cursor.alive
    closed = collection.find({})
    await closed.close()
    assert not closed.alive


async def test_session_is_the_one_the_find_was_given(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    assert collection.find({}).session is None

    async def in_transaction() -> None:
        async with store.transaction() as session:
            cursor = collection.find({"shelf": 1}, session=session)
            assert cursor.session is session and cursor.clone().session is session
            assert await cursor.to_list() == SHELVES[:1]

    await attempt(store, [TRANSACTIONS], in_transaction)
