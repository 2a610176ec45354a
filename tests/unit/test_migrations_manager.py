"""MigrationManager registration, ordering, checksums and db_name resolution (no I/O)."""

from __future__ import annotations

import asyncio
import threading
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
)
from lexigram_nosql.migrations.lookup import find_store
from lexigram_nosql.migrations.manager import migration_order
from lexigram_nosql.providers import Application


def _store(name: str, driver: str = "memory", **section: Any) -> Any:
    entry: dict[str, Any] = {"name": name, "driver": driver}
    if section:
        entry[driver] = section
    return create_store(entry)


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


def _entry(name: str, database: str | None = None, *, primary: bool = False) -> dict[str, Any]:
    """A memory store, or (with ``database``) a lazy MongoDB one that never connects."""
    if database is None:
        return {"name": name, "driver": "memory", "primary": primary}
    mongodb = {"uri": "mongodb://127.0.0.1:1", "database": database}
    return {"name": name, "driver": "mongodb", "lazy": True, "primary": primary, "mongodb": mongodb}


def _boot(*entries: dict[str, Any]) -> Any:
    return Application.boot(config={"nosql": {"backends": list(entries)}}, environ={})


def _store_of(app: Application, name: str) -> Any:
    return app.modules[0].stores[name]  # type: ignore[attr-defined]


async def test_db_name_finds_a_store_by_database_then_by_name() -> None:
    async with _boot(
        _entry("primary", "myapp", primary=True), _entry("myapp"), _entry("other")
    ) as app:
        assert find_store("myapp") is _store_of(app, "primary"), "a database wins over a name"
        assert find_store("other") is _store_of(app, "other")
        assert MigrationManager(db_name="other").store is _store_of(app, "other")
        with pytest.raises(ConfigurationError, match="primary") as caught:
            find_store("elsewhere")
        assert "'elsewhere'" in str(caught.value) and caught.value.path == "db_name"


async def test_db_name_refuses_an_ambiguous_match() -> None:
    async with _boot(_entry("a", "shared", primary=True), _entry("b", "shared")):
        with pytest.raises(ConfigurationError, match="store=") as caught:
            find_store("shared")
        assert "'a'" in str(caught.value) and "'b'" in str(caught.value)


async def test_two_booted_apps_with_different_databases_each_find_their_own_store() -> None:
    async with (
        _boot(_entry("primary", "app_a")) as first,
        _boot(_entry("primary", "app_b")) as second,
    ):
        store_a, store_b = _store_of(first, "primary"), _store_of(second, "primary")
        assert MigrationManager(db_name="app_a").store is store_a
        assert MigrationManager(db_name="app_b").store is store_b
        # Code the applications did not start (a thread: no context inherited) too.
        found: list[Any] = []
        thread = threading.Thread(target=lambda: found.extend(map(find_store, ["app_a", "app_b"])))
        thread.start()
        thread.join()
        assert found == [store_a, store_b]


async def test_the_application_a_lookup_runs_in_comes_first() -> None:
    """Two applications in one process with the same database: each body finds its own;
    code outside both is told to choose."""
    async with _boot(_entry("primary", "shared")) as outer:
        async with _boot(_entry("primary", "shared")) as inner:
            assert find_store("shared") is _store_of(inner, "primary")
            task = asyncio.create_task(asyncio.to_thread(find_store, "shared"))
            assert await task is _store_of(inner, "primary")  # inherited by its tasks
            errors: list[BaseException] = []

            def outside() -> None:
                try:
                    find_store("shared")
                except ConfigurationError as exc:
                    errors.append(exc)

            thread = threading.Thread(target=outside)
            thread.start()
            thread.join()
            assert errors and "store=" in str(errors[0])
        assert find_store("shared") is _store_of(outer, "primary")


async def test_after_shutdown_db_name_names_what_is_still_booted() -> None:
    async with _boot(_entry("primary", "app_a")):
        async with _boot(_entry("primary", "app_b")):
            manager = MigrationManager(db_name="app_b")
            assert manager.store.name == "primary"
        with pytest.raises(ConfigurationError) as caught:
            await manager.status()
        message = str(caught.value)
        assert "'app_b'" in message and "primary (database app_a)" in message
    with pytest.raises(ConfigurationError, match="none is booted") as caught:
        await manager.apply()
    assert "'app_b'" in str(caught.value) and caught.value.path == "db_name"


async def test_an_injected_manager_migrates_the_primary_store() -> None:
    async with _boot(_entry("main", primary=True), _entry("analytics")) as app:
        manager = await app.container.resolve(MigrationManager)
        assert manager.store is _store_of(app, "main") and manager.db_name is None
        manager.add(AddField("users", "avatar_url", default=""))
        await _store_of(app, "main").collection("users").insert_one({"_id": 1})
        assert [r.action for r in await manager.apply()] == ["applied"]
        assert await _store_of(app, "main").collection("users").find_one({}) == {
            "_id": 1,
            "avatar_url": "",
        }
