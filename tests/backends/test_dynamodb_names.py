"""DynamoDB: collection names become table names under the store's prefix, plain names
unchanged and others encoded reversibly; a name too long for any table is refused up front."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql.backends.dynamodb.names import collection_name, table_name
from lexigram_nosql.errors import InvalidQueryError
from tests.support import backend_dynamodb

dynamodb = backend_dynamodb.dynamodb  # the store factory fixture
Factory = Callable[..., Awaitable[Any]]


async def tables(store: Any) -> list[str]:
    """The tables under the store's prefix (other tests' tables share the server)."""
    prefix = store.settings.dynamodb.table_prefix
    names: list[str] = []
    arguments: dict[str, Any] = {"ExclusiveStartTableName": prefix}
    while True:
        response = await store.client.list_tables(**arguments)
        names.extend(n for n in response["TableNames"] if n.startswith(prefix))
        if "LastEvaluatedTableName" not in response:
            return sorted(names)
        arguments["ExclusiveStartTableName"] = response["LastEvaluatedTableName"]


async def test_tables_keep_the_prefix_and_plain_names(dynamodb: Factory) -> None:
    store = await dynamodb()
    prefix = store.settings.dynamodb.table_prefix
    for name in ("users", "tx", "users/u1/orders"):
        await store.collection(name).insert_one({"_id": "d"})
    assert await tables(store) == sorted(
        [f"{prefix}users", f"{prefix}tx", f"{prefix}x--users.2fu1.2forders"]
    )
    assert await store.list_collections() == ["tx", "users", "users/u1/orders"]


async def test_a_table_of_a_foreign_spelling_is_not_listed(dynamodb: Factory) -> None:
    store = await dynamodb()
    prefix = store.settings.dynamodb.table_prefix
    await store.collection("a").insert_one({"_id": "d"})
    # ``x--.61`` decodes to "a" too, but is not the table "a" is stored in.
    assert collection_name(prefix, f"{prefix}x--.61") is None
    assert collection_name(prefix, f"{prefix}x--.zz") is None
    assert collection_name(prefix, "other_table") is None
    assert collection_name(prefix, f"{prefix}__lx_unique") is None  # the package's own
    assert await store.list_collections() == ["a"]


@pytest.mark.parametrize(
    ("prefix", "name", "table"),
    [
        ("", "tx", "x--tx"),
        ("", "abc", "abc"),
        ("p_", "a", "p_a"),
        ("", "日本", "x--.e6.97.a5.e6.9c.ac"),
        ("", "x--a", "x--x--a"),
        ("", "with space", "x--with.20space"),
        ("", "a.b", "a.b"),
        ("p_", "__lx_unique", "p_x--__lx_unique"),
    ],
)
def test_the_encoding_round_trips(prefix: str, name: str, table: str) -> None:
    assert table_name(prefix, name, store="s") == table
    assert collection_name(prefix, table) == name


async def test_a_name_too_long_for_a_table_is_refused_up_front(dynamodb: Factory) -> None:
    store = await dynamodb()
    with pytest.raises(InvalidQueryError, match="255") as info:
        store.collection("é" * 100)
    assert info.value.collection == "é" * 100
    store.collection("n" * 200)  # fits: plain characters are kept as they are


async def test_a_path_named_collection_takes_its_groups_key_schema(dynamodb: Factory) -> None:
    store = await dynamodb(
        collections={
            "orders": {"partition_key": "user", "sort_key": "n", "sort_key_type": "N"},
            "users/u9/orders": {"partition_key": "_id"},
        }
    )
    await store.collection("users/u1/orders").insert_one({"user": "u1", "n": 1, "total": 5})
    await store.collection("users/u9/orders").insert_one({"_id": "o1", "total": 7})
    described = await store.client.describe_table(TableName=store.table_name("users/u1/orders"))
    assert [k["AttributeName"] for k in described["Table"]["KeySchema"]] == ["user", "n"]
    own = await store.client.describe_table(TableName=store.table_name("users/u9/orders"))
    assert [k["AttributeName"] for k in own["Table"]["KeySchema"]] == ["_id"]
    group = store.collection_group("orders")
    assert sorted([d["total"] async for d in group.find()]) == [5, 7]
