"""PyMongo's cursor options on ``find`` and their cursor modifiers, on every backend:
``no_cursor_timeout``, ``allow_partial_results`` and ``oplog_replay`` change no result and are
taken everywhere; a ``cursor_type`` other than ``NON_TAILABLE``, ``min``/``max``,
``return_key``, ``show_record_id``, ``max_scan`` and ``snapshot`` are MongoDB's, refused by
name elsewhere. That MongoDB receives them is checked by command monitoring in
``tests/backends/test_mongodb_command_options.py``."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import CursorType

from lexigram_nosql import DocumentCursor, InvalidQueryError, UnsupportedQueryError
from tests.conformance.support import seeded

SHELVES = [{"_id": f"{n:024x}", "shelf": n} for n in range(1, 6)]
"""ObjectId-shaped ids, which every backend (CongoDB included) stores."""

BY_SHELF = [("shelf", 1)]
BY_ID = [("_id", 1)]


@pytest.mark.parametrize(
    "options",
    [
        {"no_cursor_timeout": True},
        {"allow_partial_results": True},
        {"oplog_replay": True},
        {"cursor_type": CursorType.NON_TAILABLE},
        {"return_key": False, "show_record_id": False, "snapshot": False, "max_scan": 0},
    ],
    ids=["no_cursor_timeout", "allow_partial_results", "oplog_replay", "non-tailable", "off"],
)
async def test_cursor_options_that_change_no_result_are_taken(
    store: Any, options: dict[str, Any]
) -> None:
    collection = await seeded(store, SHELVES)
    found = await collection.find({"shelf": {"$gte": 2}}, sort=BY_SHELF, **options).to_list()
    assert found == SHELVES[1:]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"no_cursor_timeout": 1}, "no_cursor_timeout"),
        ({"allow_partial_results": "yes"}, "allow_partial_results"),
        ({"oplog_replay": None}, "oplog_replay"),
        ({"cursor_type": 5}, "cursor_type"),
        ({"cursor_type": True}, "cursor_type"),
        ({"return_key": 1}, "return_key"),
        ({"show_record_id": "no"}, "show_record_id"),
        ({"max_scan": -1}, "max_scan"),
        ({"min": 3, "hint": BY_ID}, "min"),
        ({"max": [("shelf",)], "hint": BY_ID}, "max"),
    ],
    ids=lambda value: str(value) if isinstance(value, str) else "",
)
async def test_a_malformed_cursor_option_is_refused_by_name(
    store: Any, options: dict[str, Any], named: str
) -> None:
    collection = await seeded(store, SHELVES)
    with pytest.raises(InvalidQueryError, match=named) as refused:
        collection.find({}, **options)
    assert refused.value.operator == named


@pytest.mark.parametrize(
    "cursor_type",
    [CursorType.TAILABLE, CursorType.TAILABLE_AWAIT, CursorType.EXHAUST],
    ids=["TAILABLE", "TAILABLE_AWAIT", "EXHAUST"],
)
async def test_a_cursor_type_other_than_non_tailable_is_mongodbs(
    store: Any, cursor_type: int
) -> None:
    collection = await seeded(store, SHELVES)
    if store.driver == "mongodb":  # sent (command monitoring); a tailable one needs a capped
        # collection, which create_collection cannot make here
        assert isinstance(collection.find({}, cursor_type=cursor_type), DocumentCursor)
        return
    with pytest.raises(UnsupportedQueryError, match="cursor_type") as refused:
        collection.find({}, cursor_type=cursor_type)
    assert (refused.value.operator, refused.value.backend) == ("cursor_type", store.driver)
    with pytest.raises(UnsupportedQueryError, match="cursor_type"):
        collection.find({}).add_option(cursor_type)


async def test_an_exhaust_cursor_reads_everything_on_mongodb(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    if store.driver != "mongodb":
        with pytest.raises(UnsupportedQueryError, match="cursor_type"):
            collection.find({}, sort=BY_SHELF, cursor_type=CursorType.EXHAUST)
        return
    cursor = collection.find({}, sort=BY_SHELF, cursor_type=CursorType.EXHAUST)
    assert await cursor.to_list() == SHELVES


MONGODB_ONLY: dict[str, dict[str, Any]] = {
    "min": {"min": {"_id": SHELVES[1]["_id"]}, "hint": BY_ID},
    "max": {"max": {"_id": SHELVES[3]["_id"]}, "hint": BY_ID},
    "return_key": {"return_key": True, "hint": BY_ID},
    "show_record_id": {"show_record_id": True},
    "max_scan": {"max_scan": 2},
    "snapshot": {"snapshot": True},
}


@pytest.mark.parametrize("name", list(MONGODB_ONLY))
async def test_mongodbs_query_modifiers_are_refused_by_name_elsewhere(
    store: Any, name: str
) -> None:
    collection = await seeded(store, SHELVES)
    if store.driver == "mongodb":  # sent as PyMongo sends them (command monitoring)
        assert isinstance(collection.find({}, **MONGODB_ONLY[name]), DocumentCursor)
        return
    with pytest.raises(UnsupportedQueryError, match=name) as refused:
        collection.find({}, **MONGODB_ONLY[name])
    assert (refused.value.operator, refused.value.backend) == (name, store.driver)


async def test_min_and_max_bound_the_hinted_index_on_mongodb(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    ids = [shelf["_id"] for shelf in SHELVES]
    cursor = collection.find({}, {"shelf": 0})
    if store.driver != "mongodb":
        with pytest.raises(UnsupportedQueryError, match="min"):
            cursor.min([("_id", ids[1])])
        return
    cursor = cursor.min([("_id", ids[1])]).max([("_id", ids[3])]).hint(BY_ID)
    assert await cursor.to_list() == [{"_id": ids[1]}, {"_id": ids[2]}]


async def test_return_key_gives_the_index_keys_on_mongodb(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    if store.driver != "mongodb":
        with pytest.raises(UnsupportedQueryError, match="return_key"):
            collection.find({}, sort=BY_ID, return_key=True, hint=BY_ID)
        return
    keys = await collection.find({}, sort=BY_ID, return_key=True, hint=BY_ID).to_list()
    assert keys == [{"_id": shelf["_id"]} for shelf in SHELVES]


async def test_min_or_max_without_a_hint_is_refused_at_the_first_read(store: Any) -> None:
    """As PyMongo: the hint may come after them in a chain, so the read checks it."""
    collection = await seeded(store, SHELVES)
    if store.driver != "mongodb":
        with pytest.raises(UnsupportedQueryError, match="max"):
            collection.find({}, max={"_id": SHELVES[2]["_id"]})
        return
    cursor = collection.find({}, max={"_id": SHELVES[2]["_id"]})
    with pytest.raises(InvalidQueryError, match="need a hint") as refused:
        await cursor.to_list()
    assert refused.value.operator == "max"


async def test_flag_modifiers_as_pymongo_chains_them(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({"shelf": {"$lte": 2}}, sort=BY_SHELF)
    cursor = await cursor.add_option(16 | 128 | 8 | 4)  # awaited, as PyMongo's async one
    cursor = cursor.remove_option(8).max_scan(None)
    assert await cursor.to_list() == SHELVES[:2]


@pytest.mark.parametrize("mask", [1, 256, -1, 2.0, True, 32])
async def test_a_malformed_flag_mask_is_refused(store: Any, mask: Any) -> None:
    collection = await seeded(store, SHELVES)
    with pytest.raises(InvalidQueryError):
        collection.find({}).add_option(mask)


async def test_a_cursor_option_modifier_after_the_first_read_is_refused(store: Any) -> None:
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF)
    assert await cursor.to_list(1) == SHELVES[:1]
    with pytest.raises(InvalidQueryError, match="before the cursor is first read"):
        cursor.add_option(16)


async def test_a_collection_group_takes_the_cursor_options_or_refuses_them_by_name(
    store: Any,
) -> None:
    """A group reads several collections: the flags that change no result are taken on
    every backend, MongoDB's query modifiers refused by name (MongoDB's included)."""
    await seeded(store, SHELVES, name="shelves")
    group = store.collection_group("shelves")
    found = group.find({}, sort=BY_SHELF, no_cursor_timeout=True, allow_partial_results=True)
    assert await found.to_list() == SHELVES
    for options, named in (
        ({"cursor_type": CursorType.TAILABLE}, "cursor_type"),
        ({"return_key": True}, "return_key"),
    ):
        with pytest.raises(UnsupportedQueryError, match=named) as refused:
            group.find({}, **options)
        assert refused.value.operator == named


async def test_max_await_time_ms_is_taken_and_ignored_unless_tailable_await(store: Any) -> None:
    """As PyMongo: it bounds a ``TAILABLE_AWAIT`` cursor's wait, and is ignored on any
    other (so everywhere but MongoDB, the only backend with tailable cursors)."""
    collection = await seeded(store, SHELVES)
    cursor = collection.find({}, sort=BY_SHELF).max_await_time_ms(100).max_await_time_ms(None)
    assert await cursor.to_list() == SHELVES
    with pytest.raises(InvalidQueryError, match="max_await_time_ms") as refused:
        collection.find({}).max_await_time_ms(1.5)  # type: ignore[arg-type]
    assert refused.value.operator == "max_await_time_ms"


async def test_find_one_takes_finds_cursor_options_as_pymongos_does(store: Any) -> None:
    """PyMongo's ``find_one`` passes its arguments on to ``find``."""
    collection = await seeded(store, SHELVES)
    found = await collection.find_one({}, sort=BY_SHELF, no_cursor_timeout=True, oplog_replay=True)
    assert found == SHELVES[0]
    with pytest.raises(InvalidQueryError, match="allow_partial_results"):
        await collection.find_one({}, allow_partial_results="yes")
    if store.driver == "mongodb":
        with pytest.raises(InvalidQueryError, match="need a hint") as unhinted:
            await collection.find_one({}, min={"_id": SHELVES[1]["_id"]})
        assert unhinted.value.operator == "min"
        return
    with pytest.raises(UnsupportedQueryError, match="return_key") as refused:
        await collection.find_one({}, return_key=True, hint=BY_ID)
    assert (refused.value.operator, refused.value.backend) == ("return_key", store.driver)
