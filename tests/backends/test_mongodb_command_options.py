"""PyMongo's per-command options reach the MongoDB server as PyMongo sends them: each call's
command, seen by PyMongo's command monitoring on the client the store builds, carries the
user's ``comment``, ``hint``, ``collation`` and ``maxTimeMS``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from bson import ObjectId
from pymongo import monitoring

from lexigram_nosql import (
    DeleteOne,
    IndexModel,
    InsertOne,
    NoSQLError,
    ReplaceOne,
    ReturnDocument,
    UpdateMany,
    UpdateOne,
)
from lexigram_nosql.backends.mongodb import MongoDocumentStore
from lexigram_nosql.backends.mongodb.client import make_driver
from lexigram_nosql.config.stores import parse_store_settings
from tests.support import mongodb_server

A, B = (f"{n:024x}" for n in (0xA1, 0xB2))
SEED = [{"_id": A, "kind": "bolt", "qty": 4}, {"_id": B, "kind": "nut", "qty": 9}]
COMMENT = {"job": "reindex", "attempt": 2}


class Commands(monitoring.CommandListener):
    """Every command the client sends, by name."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def named(self, name: str) -> list[dict[str, Any]]:
        return [command for sent, command in self.sent if sent == name]


@pytest.fixture(params=["pymongo", "motor"])
async def monitored(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Commands]]:
    """A connected MongoDB store whose client reports every command to a listener."""
    reason = mongodb_server.unavailable()
    if reason is not None:
        pytest.skip(reason)
    commands = Commands()
    driver = make_driver(request.param)
    settings = parse_store_settings(
        mongodb_server.settings(f"test_{uuid.uuid4().hex[:8]}", request.param)
    )

    def client(uri: str, options: dict[str, Any]) -> Any:
        return driver.create_client(uri, {**options, "event_listeners": [commands]})

    store = MongoDocumentStore(settings, client_factory=client)  # type: ignore[arg-type]
    await store.connect()
    try:
        await store.collection("parts").insert_many([dict(d) for d in SEED])
        yield store, commands
        await mongodb_server.reset(store)
    finally:
        await store.disconnect()


Call = Callable[[Any, dict[str, Any]], Awaitable[Any]]


async def _listed(cursor: Any) -> list[Any]:
    return [document async for document in cursor]


# call -> (its command's name, where the hint goes: the command or its one statement)
FILTERED: dict[str, tuple[Call, str, str | None]] = {
    "find": (lambda c, o: _listed(c.find({"kind": "nut"}, **o)), "find", None),
    "find_one": (lambda c, o: c.find_one({"kind": "nut"}, **o), "find", None),
    "count_documents": (lambda c, o: c.count_documents({}, **o), "aggregate", None),
    "distinct": (lambda c, o: c.distinct("kind", {}, **o), "distinct", None),
    "aggregate": (lambda c, o: _listed(c.aggregate([{"$match": {}}], **o)), "aggregate", None),
    "update_one": (
        lambda c, o: c.update_one({"_id": A}, {"$inc": {"qty": 1}}, **o),
        "update",
        "updates",
    ),
    "update_many": (
        lambda c, o: c.update_many({}, {"$set": {"seen": True}}, **o),
        "update",
        "updates",
    ),
    "replace_one": (
        lambda c, o: c.replace_one({"_id": B}, {"kind": "washer"}, **o),
        "update",
        "updates",
    ),
    "delete_one": (lambda c, o: c.delete_one({"_id": A}, **o), "delete", "deletes"),
    "delete_many": (lambda c, o: c.delete_many({"qty": 0}, **o), "delete", "deletes"),
    "find_one_and_update": (
        lambda c, o: c.find_one_and_update(
            {"_id": A}, {"$inc": {"qty": 1}}, return_document=ReturnDocument.AFTER, **o
        ),
        "findAndModify",
        None,
    ),
    "find_one_and_replace": (
        lambda c, o: c.find_one_and_replace({"_id": B}, {"kind": "washer"}, **o),
        "findAndModify",
        None,
    ),
    "find_one_and_delete": (
        lambda c, o: c.find_one_and_delete({"_id": B}, **o),
        "findAndModify",
        None,
    ),
}

TIMED = {"find", "find_one", "count_documents", "distinct", "aggregate"} | {
    name for name in FILTERED if name.startswith("find_one_and")
}
"""The calls PyMongo gives a time bound (``max_time_ms`` or ``maxTimeMS``)."""


@pytest.mark.parametrize("name", list(FILTERED))
async def test_comment_hint_and_collation_reach_the_server(
    monitored: tuple[Any, Commands], name: str
) -> None:
    store, commands = monitored
    call, command_name, statements = FILTERED[name]
    collation = {"locale": "simple"}
    options: dict[str, Any] = {"comment": COMMENT, "hint": "_id_", "collation": collation}
    if name in TIMED:
        options["max_time_ms"] = 60_000
    commands.sent.clear()
    await call(store.collection("parts"), options)
    [command] = commands.named(command_name)
    assert command["comment"] == COMMENT
    where = command if statements is None else command[statements][0]
    assert where["hint"] == "_id_"
    assert where["collation"] == collation
    if name in TIMED:
        assert command["maxTimeMS"] == 60_000
    else:
        assert "maxTimeMS" not in command


async def test_a_hint_given_as_keys_is_sent_as_keys(monitored: tuple[Any, Commands]) -> None:
    store, commands = monitored
    commands.sent.clear()
    await store.collection("parts").find_one({}, hint=[("_id", 1)])
    [command] = commands.named("find")
    assert dict(command["hint"]) == {"_id": 1}


async def test_calls_without_a_filter_send_their_comment(monitored: tuple[Any, Commands]) -> None:
    store, commands = monitored
    parts = store.collection("parts")
    commands.sent.clear()
    await parts.insert_one({"kind": "pin"}, comment="one")
    await parts.insert_many([{"kind": "pin"}, {"kind": "cog"}], comment="many")
    await parts.insert_many([{"kind": "pin"}, {"kind": "cog"}], ordered=False, comment="loose")
    assert [c["comment"] for c in commands.named("insert")] == ["one", "many", "loose"]
    commands.sent.clear()
    await parts.estimated_document_count(comment="estimate", maxTimeMS=60_000)
    [count] = commands.named("count")
    assert (count["comment"], count["maxTimeMS"]) == ("estimate", 60_000)


async def test_a_bulk_sends_its_comment_and_each_models_hint(
    monitored: tuple[Any, Commands],
) -> None:
    store, commands = monitored
    commands.sent.clear()
    await store.collection("parts").bulk_write(
        [
            InsertOne({"kind": "pin"}),
            UpdateOne(
                {"_id": A}, {"$inc": {"qty": 1}}, hint="_id_", collation={"locale": "simple"}
            ),
            DeleteOne({"_id": B}, hint=[("_id", 1)]),
        ],
        comment="bulk",
    )
    [insert] = commands.named("insert")
    [update] = commands.named("update")
    [delete] = commands.named("delete")
    assert insert["comment"] == update["comment"] == delete["comment"] == "bulk"
    assert update["updates"][0]["hint"] == "_id_"
    assert update["updates"][0]["collation"] == {"locale": "simple"}
    assert dict(delete["deletes"][0]["hint"]) == {"_id": 1}


async def test_a_cursors_distinct_sends_its_filter_and_options(
    monitored: tuple[Any, Commands],
) -> None:
    """As PyMongo's cursor ``distinct``: filter, comment, collation and time bound."""
    store, commands = monitored
    cursor = store.collection("parts").find({"qty": {"$gt": 0}}, comment="why", max_time_ms=9000)
    commands.sent.clear()
    assert await cursor.collation({"locale": "simple"}).limit(1).distinct("kind") == ["bolt", "nut"]
    [command] = commands.named("distinct")
    assert (command["key"], command["query"], command["comment"]) == (
        "kind",
        {"qty": {"$gt": 0}},
        "why",
    )
    assert (command["collation"], command["maxTimeMS"]) == ({"locale": "simple"}, 9000)


async def test_index_calls_and_drop_collection_send_their_comment(
    monitored: tuple[Any, Commands],
) -> None:
    store, commands = monitored
    parts = store.collection("parts")
    commands.sent.clear()
    await parts.create_index("kind", None, "create")
    await parts.create_indexes([IndexModel("qty")], comment="create-many")
    await parts.index_information(comment="list")
    await parts.drop_index("kind_1", comment="drop")
    await parts.drop_indexes(comment="drop-all")
    await store.list_collections(comment="names")
    await store.drop_collection("parts", comment="gone")
    assert [c["comment"] for c in commands.named("listCollections")] == ["names"]
    assert [c["comment"] for c in commands.named("createIndexes")] == ["create", "create-many"]
    assert commands.named("listIndexes")[0]["comment"] == "list"
    assert [c["comment"] for c in commands.named("dropIndexes")] == ["drop", "drop-all"]
    assert [c["comment"] for c in commands.named("drop")] == ["gone"]


async def test_positional_bulk_models_send_each_option_in_its_place(
    monitored: tuple[Any, Commands],
) -> None:
    """PyMongo's positional order: collation, then array filters, then hint."""
    store, commands = monitored
    parts = store.collection("parts")
    simple = {"locale": "simple"}
    models = [
        UpdateOne({"_id": A}, {"$set": {"a.$[e]": 1}}, False, simple, [{"e": 0}], "_id_"),
        UpdateMany({"_id": A}, {"$set": {"a.$[e]": 1}}, True, simple, [{"e": 0}], "_id_"),
        ReplaceOne({"_id": B}, {"kind": "washer"}, False, simple, "_id_"),
        DeleteOne({"_id": B}, simple, "_id_"),
    ]
    commands.sent.clear()
    for model in models:  # whatever the server makes of them: what is sent is checked
        with contextlib.suppress(NoSQLError):
            await parts.bulk_write([model])
    one, many, replace = (command["updates"][0] for command in commands.named("update"))
    for update in (one, many):
        assert (update["collation"], update["arrayFilters"]) == (simple, [{"e": 0}])
        assert update["hint"] == "_id_"
    assert (one.get("multi", False), many["multi"], many["upsert"]) == (False, True, True)
    assert (replace["collation"], replace["hint"], replace["u"]) == (
        simple,
        "_id_",
        {"kind": "washer"},
    )
    [delete] = commands.named("delete")
    assert (delete["deletes"][0]["collation"], delete["deletes"][0]["hint"]) == (simple, "_id_")


async def test_calls_without_options_send_none(monitored: tuple[Any, Commands]) -> None:
    store, commands = monitored
    commands.sent.clear()
    await store.collection("parts").find_one({"kind": "nut"})
    await store.collection("parts").update_one({"_id": A}, {"$inc": {"qty": 1}})
    for _, command in commands.sent:
        assert not {"comment", "hint", "collation", "maxTimeMS"} & set(command)


async def test_a_find_cursors_option_modifiers_reach_the_server(
    monitored: tuple[Any, Commands],
) -> None:
    store, commands = monitored
    commands.sent.clear()
    cursor = (
        store.collection("parts")
        .find({"kind": "nut"}, comment="from-find")
        .hint("_id_")
        .comment("from-modifier")
        .collation({"locale": "simple"})
        .max_time_ms(60_000)
        .allow_disk_use(True)
    )
    assert len(await cursor.to_list()) == 1
    [command] = commands.named("find")
    assert command["hint"] == "_id_"
    assert command["comment"] == "from-modifier"
    assert command["collation"] == {"locale": "simple"}
    assert (command["maxTimeMS"], command["allowDiskUse"]) == (60_000, True)


async def test_a_cursors_explain_sends_its_find_to_the_explain_command(
    monitored: tuple[Any, Commands],
) -> None:
    """As PyMongo's ``cursor.explain()``: the find, its modifiers and options inside, a hard
    limit; whatever the server makes of it (CongoDB has no explain command)."""
    store, commands = monitored
    cursor = store.collection("parts").find({"kind": "nut"}, {"_id": 0}).sort("qty", -1)
    cursor = cursor.limit(3).comment("why")
    commands.sent.clear()
    with contextlib.suppress(NoSQLError):
        await cursor.explain()
    [command] = commands.named("explain")
    find = command["explain"]
    assert (find["find"], find["filter"], find["projection"]) == (
        "parts",
        {"kind": "nut"},
        {"_id": 0},
    )
    assert (dict(find["sort"]), find["limit"], find["singleBatch"]) == ({"qty": -1}, 3, True)
    assert find["comment"] == "why"
    assert not commands.named("find")


async def test_a_finds_cursor_options_reach_the_server(monitored: tuple[Any, Commands]) -> None:
    """As PyMongo sends them: flags as the find command's fields, bounds as documents."""
    store, commands = monitored
    parts = store.collection("parts")
    commands.sent.clear()
    await parts.find(
        {},
        no_cursor_timeout=True,
        allow_partial_results=True,
        oplog_replay=True,
        hint=[("_id", 1)],
        min=[("_id", A)],
        max={"_id": B},
        return_key=True,
        show_record_id=True,
        max_scan=10,
        snapshot=False,
    ).to_list()
    cursor = parts.find({}, sort=[("_id", 1)]).min([("_id", A)]).max([("_id", B)])
    with contextlib.suppress(NoSQLError):  # a tailable cursor needs a capped collection
        await (await cursor.hint("_id_").add_option(2 | 32)).to_list()
    first, second = commands.named("find")
    assert (first["noCursorTimeout"], first["allowPartialResults"], first["oplogReplay"]) == (
        True,
        True,
        True,
    )
    assert (first["min"], first["max"]) == ({"_id": ObjectId(A)}, {"_id": ObjectId(B)})
    assert (first["returnKey"], first["showRecordId"]) == (True, True)
    assert (first["maxScan"], first["snapshot"]) == (10, False)
    assert (second["tailable"], second["awaitData"], second["hint"]) == (True, True, "_id_")
    commands.sent.clear()
    await parts.find_one({}, no_cursor_timeout=True, return_key=True, hint="_id_")
    [one] = commands.named("find")
    assert (one["noCursorTimeout"], one["returnKey"], one["limit"]) == (True, True, 1)
    assert (second["min"], second["max"]) == ({"_id": ObjectId(A)}, {"_id": ObjectId(B)})


@pytest.mark.parametrize("name", [n for n in FILTERED if n != "distinct"])
async def test_let_reaches_the_server(monitored: tuple[Any, Commands], name: str) -> None:
    """Whatever the server does with them (CongoDB binds none), the variables are sent."""
    store, commands = monitored
    call, command_name, _ = FILTERED[name]
    commands.sent.clear()
    with contextlib.suppress(NoSQLError):
        await call(store.collection("parts"), {"let": {"unused": 1}})
    [command] = commands.named(command_name)
    assert command["let"] == {"unused": 1}


async def test_bypass_document_validation_reaches_the_server(
    monitored: tuple[Any, Commands],
) -> None:
    store, commands = monitored
    parts = store.collection("parts")
    commands.sent.clear()
    await parts.insert_one({"kind": "pin"}, bypass_document_validation=True)
    await parts.update_one({"_id": A}, {"$inc": {"qty": 1}}, bypass_document_validation=True)
    await parts.bulk_write([InsertOne({"kind": "cog"})], bypass_document_validation=True)
    sent = commands.named("insert") + commands.named("update")
    assert [command["bypassDocumentValidation"] for command in sent] == [True, True, True]


async def test_max_await_time_ms_reaches_a_tailable_await_cursor(
    monitored: tuple[Any, Commands],
) -> None:
    """PyMongo's modifier, set on the driver's cursor, which sends it with each getMore."""
    store, _ = monitored
    parts = store.collection("parts")
    cursor = parts.find({}).add_option(2 | 32).max_await_time_ms(250)
    assert cursor._query is not None and cursor._query.cursor is not None
    assert cursor._query.cursor.max_await_time_ms == 250
    found = await parts._open_find(cursor._query)
    assert getattr(found, "delegate", found)._max_await_time_ms == 250  # Motor wraps PyMongo
    await found.close()
    ignored = parts.find({}).max_await_time_ms(250)  # not tailable-await: ignored, as PyMongo
    assert ignored._query is not None and ignored._query.cursor is None
