"""MigrationManager registration, ordering, checksums and db_name resolution (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lexigram_nosql import ConfigurationError, MigrationError, create_store
from lexigram_nosql.migrations import (
    AddField,
    CreateIndex,
    DropCollection,
    DropIndex,
    Migration,
    MigrationContext,
    MigrationManager,
    RemoveField,
    RenameField,
    find_store,
    register_stores,
    unregister_stores,
)
from lexigram_nosql.migrations.manager import migration_order


def _store(name: str, driver: str = "memory", **section: Any) -> Any:
    entry: dict[str, Any] = {"name": name, "driver": driver}
    if section:
        entry[driver] = section
    return create_store(entry)


@pytest.fixture
def registered() -> Iterator[list[int]]:
    tokens: list[int] = []
    yield tokens
    for token in tokens:
        unregister_stores(token)


def test_migration_order_is_numeric_where_ids_are_numbers() -> None:
    ids = ["10", "9", "1", "2_b", "2_a", "10_x", "100"]
    assert sorted(ids, key=migration_order) == ["1", "2_a", "2_b", "9", "10", "10_x", "100"]


def test_ids_default_to_add_order_and_must_be_unique() -> None:
    manager = MigrationManager(store=_store("s"))
    manager.add(AddField("u", "a")).add(AddField("u", "b"))
    assert [m.id for m in manager.migrations] == ["1", "2"]
    with pytest.raises(ConfigurationError, match="'2'"):
        manager.add(AddField("u", "c"), id=2)
    for bad in ("", "__lock__", "__x", True, 1.5):
        with pytest.raises(ConfigurationError):
            manager.add(AddField("u", "c"), id=bad)  # type: ignore[arg-type]


def test_add_refuses_what_is_not_a_migration() -> None:
    manager = MigrationManager(store=_store("s"))

    def sync_up(ctx: MigrationContext) -> None: ...

    for bad in (sync_up, "CreateIndex", object()):
        with pytest.raises(ConfigurationError):
            manager.add(bad)  # type: ignore[arg-type]

    async def up(ctx: MigrationContext) -> None: ...

    with pytest.raises(ConfigurationError, match="down="):
        manager.add(AddField("u", "a"), down=up)


def test_the_manager_needs_exactly_one_store_source() -> None:
    with pytest.raises(ConfigurationError):
        MigrationManager()
    with pytest.raises(ConfigurationError):
        MigrationManager(store=_store("s"), db_name="x")
    with pytest.raises(ConfigurationError, match="batch_size"):
        MigrationManager(store=_store("s"), batch_size=0)


def test_checksums_follow_what_the_operation_does() -> None:
    assert AddField("u", "a", "").checksum() == AddField("u", "a", "").checksum()
    assert AddField("u", "a", "").checksum() != AddField("u", "a", "x").checksum()
    assert CreateIndex("u", "a").checksum() != CreateIndex("u", "a", unique=True).checksum()
    assert DropIndex("u", "i").checksum() != DropIndex("u", "i", keys=[("a", 1)]).checksum()


def test_reversibility_is_declared() -> None:
    assert AddField("u", "a").reversible and RenameField("u", "a", "b").reversible
    assert not RemoveField("u", "a").reversible
    assert RemoveField("u", "a", default=None).reversible
    assert not DropCollection("u").reversible
    assert not DropIndex("u", "i").reversible

    class OnlyUp(Migration):
        async def up(self, ctx: MigrationContext) -> None: ...

    class Both(OnlyUp):
        async def down(self, ctx: MigrationContext) -> None: ...

    assert not OnlyUp().reversible and Both().reversible


def test_operations_refuse_bad_arguments() -> None:
    for build in (
        lambda: AddField("", "a"),
        lambda: AddField("u", "$a"),
        lambda: RenameField("u", "a", "a"),
        lambda: CreateIndex("u", []),
    ):
        with pytest.raises(MigrationError):
            build()


def test_db_name_finds_a_store_by_database_then_by_name(registered: list[int]) -> None:
    mongo = _store("primary", "mongodb", database="myapp")
    memory = _store("myapp")
    other = _store("other")
    registered.append(register_stores([mongo, other]))
    registered.append(register_stores([memory]))
    assert find_store("myapp") is mongo, "a database name wins over a store name"
    assert find_store("other") is other
    assert MigrationManager(db_name="other").store is other
    with pytest.raises(ConfigurationError, match="primary"):
        find_store("elsewhere")


def test_db_name_refuses_an_ambiguous_match(registered: list[int]) -> None:
    registered.append(register_stores([_store("a", "mongodb", database="shared")]))
    registered.append(register_stores([_store("b", "mongodb", database="shared")]))
    with pytest.raises(ConfigurationError, match="store=") as caught:
        find_store("shared")
    assert "'a'" in str(caught.value) and "'b'" in str(caught.value)


def test_unregistered_stores_are_forgotten(registered: list[int]) -> None:
    token = register_stores([_store("gone")])
    unregister_stores(token)
    unregister_stores(token)  # twice is harmless
    with pytest.raises(ConfigurationError, match="'gone'"):
        find_store("gone")
