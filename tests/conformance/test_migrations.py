"""Migrations on every backend: operations change data, order, state, failures, rollback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lexigram_nosql import DocumentStoreProtocol, MigrationError, UnsupportedQueryError
from lexigram_nosql.migrations import (
    AddField,
    CreateIndex,
    DropCollection,
    DropIndex,
    Migration,
    MigrationContext,
    MigrationManager,
    MigrationProgress,
    RemoveField,
    RenameField,
)


async def _docs(store: DocumentStoreProtocol, collection: str) -> list[dict[str, Any]]:
    return [d async for d in store.collection(collection).find({}, sort=[("n", 1)])]


async def _seed(store: DocumentStoreProtocol, count: int, **extra: Any) -> None:
    await store.collection("users").insert_many([{"n": i, **extra} for i in range(count)])


async def _states(manager: MigrationManager) -> dict[str, str]:
    return {status.id: status.state for status in await manager.status()}


async def test_the_guide_migrations_really_change_the_store(store: DocumentStoreProtocol) -> None:
    await store.collection("users").insert_many(
        [{"n": i, "email": f"u{i}@example.com"} for i in range(3)]
    )
    await store.collection("users").update_one({"n": 0}, {"$set": {"avatar_url": "kept.png"}})
    manager = MigrationManager(store=store)
    manager.add(CreateIndex("users", [("email", 1)], unique=True))
    manager.add(AddField("users", "avatar_url", default=""))
    if not store.capabilities.unique_indexes:
        with pytest.raises(MigrationError, match="failed") as caught:
            await manager.apply()
        assert isinstance(caught.value.__cause__, UnsupportedQueryError)
        assert caught.value.__cause__.backend == store.driver
        assert await _states(manager) == {"1": "failed", "2": "pending"}
        assert all("avatar_url" not in d for d in (await _docs(store, "users"))[1:])
        return
    results = await manager.apply()
    assert [(r.id, r.action) for r in results] == [("1", "applied"), ("2", "applied")]
    indexes = {i.name: i for i in await store.collection("users").list_indexes()}
    assert indexes["email_1"].unique and indexes["email_1"].keys == [("email", 1)]
    assert [d["avatar_url"] for d in await _docs(store, "users")] == ["kept.png", "", ""]
    assert await _states(manager) == {"1": "applied", "2": "applied"}
    assert await manager.apply() == [], "applying again does nothing"


async def test_status_records_name_checksum_time_and_duration(
    store: DocumentStoreProtocol,
) -> None:
    manager = MigrationManager(store=store).add(AddField("users", "a", default=1))
    manager.add(AddField("users", "b"), id=7, name="add b")
    assert [(s.id, s.state) for s in await manager.status()] == [("1", "pending"), ("7", "pending")]
    await manager.apply(to=1)
    first, second = await manager.status()
    assert (first.id, first.state, second.state) == ("1", "applied", "pending")
    assert first.name == "add field a = 1 to users"
    assert first.applied_at is not None and first.duration_s is not None
    record = await store.collection("_migrations").find_one({"_id": "1"})
    assert record is not None
    assert record["checksum"] == manager.migrations[0].checksum
    assert record["state"] == "applied"


async def test_ids_apply_in_numeric_order_not_string_order(store: DocumentStoreProtocol) -> None:
    order: list[str] = []

    def step(label: str) -> Any:
        async def up(ctx: MigrationContext) -> None:
            order.append(label)

        up.__qualname__ = f"step_{label}"
        return up

    manager = MigrationManager(store=store)
    for migration_id in ("10", "9", "2_users", "10_b", "1"):
        manager.add(step(migration_id), id=migration_id)
    await manager.apply()
    assert order == ["1", "2_users", "9", "10", "10_b"]


async def test_data_operations_work_in_batches_and_report_progress(
    store: DocumentStoreProtocol,
) -> None:
    await _seed(store, 25)
    events: list[MigrationProgress] = []
    manager = MigrationManager(store=store, batch_size=10, progress=events.append)
    manager.add(AddField("users", "flag", default=False))
    await manager.apply()
    assert [(e.done, e.total) for e in events] == [(0, 25), (10, 25), (20, 25), (25, 25)]
    assert {e.collection for e in events} == {"users"}
    assert all(d["flag"] is False for d in await _docs(store, "users"))


async def test_rename_and_remove_field_change_data_and_roll_back(
    store: DocumentStoreProtocol,
) -> None:
    await _seed(store, 4, old=1, junk="x")
    manager = MigrationManager(store=store, batch_size=3)
    manager.add(RenameField("users", "old", "new"))
    manager.add(RemoveField("users", "junk", default="restored"))
    await manager.apply()
    assert all("old" not in d and d["new"] == 1 for d in await _docs(store, "users"))
    assert all("junk" not in d for d in await _docs(store, "users"))
    rolled = await manager.rollback(to=0)
    assert [r.id for r in rolled] == ["2", "1"]
    docs = await _docs(store, "users")
    assert all(d["old"] == 1 and "new" not in d and d["junk"] == "restored" for d in docs)
    assert await _states(manager) == {"1": "pending", "2": "pending"}


async def test_index_and_collection_operations(store: DocumentStoreProtocol) -> None:
    await _seed(store, 2)
    await store.collection("logs").insert_one({"n": 1})
    manager = MigrationManager(store=store)
    manager.add(CreateIndex("users", "n", name="by_n"))
    manager.add(DropIndex("users", "by_n", keys=[("n", 1)]))
    manager.add(DropCollection("logs"))
    await manager.apply(to=1)
    assert "by_n" in {i.name for i in await store.collection("users").list_indexes()}
    await manager.apply()
    assert "by_n" not in {i.name for i in await store.collection("users").list_indexes()}
    assert await store.collection("logs").count_documents({}) == 0
    with pytest.raises(MigrationError, match="cannot be rolled back"):
        await manager.rollback()
    assert await _states(manager) == {"1": "applied", "2": "applied", "3": "applied"}
    # Forget the irreversible drop, then roll back the index drop and the creation.
    reversible = MigrationManager(store=store)
    reversible.add(CreateIndex("users", "n", name="by_n"))
    reversible.add(DropIndex("users", "by_n", keys=[("n", 1)]))
    await store.collection("_migrations").delete_one({"_id": "3"})
    assert [r.id for r in await reversible.rollback()] == ["2"]
    assert "by_n" in {i.name for i in await store.collection("users").list_indexes()}
    await reversible.rollback()
    assert "by_n" not in {i.name for i in await store.collection("users").list_indexes()}


async def test_a_failed_migration_stops_the_run_and_a_rerun_resumes(
    store: DocumentStoreProtocol,
) -> None:
    ran: list[str] = []

    async def first(ctx: MigrationContext) -> None:
        ran.append("first")

    async def broken(ctx: MigrationContext) -> None:
        raise RuntimeError("disk on fire")

    async def fixed(ctx: MigrationContext) -> None:
        ran.append("fixed")

    async def third(ctx: MigrationContext) -> None:
        ran.append("third")

    manager = MigrationManager(store=store)
    manager.add(first).add(broken).add(third)
    with pytest.raises(MigrationError, match="disk on fire") as caught:
        await manager.apply()
    assert caught.value.migration_id == "2"
    assert ran == ["first"]
    statuses = {s.id: s for s in await manager.status()}
    assert statuses["2"].state == "failed"
    assert statuses["2"].error is not None and "disk on fire" in statuses["2"].error
    assert statuses["3"].state == "pending"

    rerun = MigrationManager(store=store)
    rerun.add(first).add(fixed).add(third)
    assert [r.id for r in await rerun.apply()] == ["2", "3"]
    assert ran == ["first", "fixed", "third"]


async def test_an_interrupted_migration_runs_again(store: DocumentStoreProtocol) -> None:
    manager = MigrationManager(store=store).add(AddField("users", "x", default=1))
    await store.collection("_migrations").insert_one(
        {"_id": "1", "kind": "migration", "state": "applying", "checksum": "?"}
    )
    await _seed(store, 2)
    assert [r.id for r in await manager.apply()] == ["1"]
    assert all(d["x"] == 1 for d in await _docs(store, "users"))


async def test_a_changed_migration_is_refused_unless_forced(store: DocumentStoreProtocol) -> None:
    await MigrationManager(store=store).add(AddField("users", "a", default="")).apply()
    changed = MigrationManager(store=store).add(AddField("users", "a", default="x"))
    changed.add(AddField("users", "b"))
    with pytest.raises(MigrationError, match="changed after being applied"):
        await changed.apply()
    with pytest.raises(MigrationError, match="changed after being applied"):
        await changed.apply(dry_run=True)
    status = {s.id: s for s in await changed.status()}
    assert status["1"].checksum_changed and status["2"].state == "pending"
    assert [r.id for r in await changed.apply(force=True)] == ["2"]
    assert not any(s.checksum_changed for s in await changed.status())
    assert await changed.apply() == []


async def test_dry_run_changes_nothing(store: DocumentStoreProtocol) -> None:
    await _seed(store, 2)
    manager = MigrationManager(store=store)
    manager.add(AddField("users", "a", default=1)).add(AddField("users", "b", default=2))
    planned = await manager.apply(dry_run=True)
    assert [(r.id, r.action) for r in planned] == [("1", "would_apply"), ("2", "would_apply")]
    assert all("a" not in d for d in await _docs(store, "users"))
    assert await store.collection("_migrations").count_documents({}) == 0
    await manager.apply()
    rolled = await manager.rollback(to=0, dry_run=True)
    assert [(r.id, r.action) for r in rolled] == [
        ("2", "would_roll_back"),
        ("1", "would_roll_back"),
    ]
    assert all(d["a"] == 1 and d["b"] == 2 for d in await _docs(store, "users"))


async def test_rollback_without_to_undoes_the_latest_only(store: DocumentStoreProtocol) -> None:
    manager = MigrationManager(store=store)
    manager.add(AddField("users", "a", default=1)).add(AddField("users", "b", default=2))
    await _seed(store, 1)
    await manager.apply()
    assert [r.id for r in await manager.rollback()] == ["2"]
    assert [{k: v for k, v in d.items() if k != "_id"} for d in await _docs(store, "users")] == [
        {"n": 0, "a": 1}
    ]
    assert await _states(manager) == {"1": "applied", "2": "pending"}


async def test_class_migrations_with_up_and_down(store: DocumentStoreProtocol) -> None:
    class Backfill(Migration):
        """Give every user a score."""

        id = "5"

        async def up(self, ctx: MigrationContext) -> None:
            await ctx.update_in_batches(
                "users", {"score": {"$exists": False}}, {"$set": {"score": 0}}
            )

        async def down(self, ctx: MigrationContext) -> None:
            await ctx.collection("users").update_many({}, {"$unset": {"score": ""}})

    await _seed(store, 2)
    manager = MigrationManager(store=store).add(Backfill)
    assert [(s.id, s.name) for s in await manager.status()] == [("5", "Give every user a score.")]
    await manager.apply()
    assert all(d["score"] == 0 for d in await _docs(store, "users"))
    await manager.rollback()
    assert all("score" not in d for d in await _docs(store, "users"))


async def test_a_recorded_migration_missing_from_the_manager(store: DocumentStoreProtocol) -> None:
    await MigrationManager(store=store).add(AddField("users", "a")).apply()
    empty = MigrationManager(store=store)
    [status] = await empty.status()
    assert (status.id, status.state, status.registered) == ("1", "applied", False)
    with pytest.raises(MigrationError, match="not added to this manager"):
        await empty.rollback()


def _context(store: DocumentStoreProtocol, progress: list[MigrationProgress]) -> MigrationContext:
    return MigrationContext(
        store, migration_id="7", name="backfill", batch_size=3, progress=progress.append
    )


async def test_update_in_batches_ends_even_when_documents_still_match(
    store: DocumentStoreProtocol,
) -> None:
    """It walks _id order, resuming after the last _id of each batch: an update that leaves
    every document matching is applied once to each, and the walk ends."""
    await _seed(store, 7)
    progress: list[MigrationProgress] = []
    modified = await _context(store, progress).update_in_batches(
        "users", {"n": {"$gte": 0}}, {"$inc": {"n": 100}}
    )
    assert modified == 7
    assert sorted(d["n"] for d in await _docs(store, "users")) == list(range(100, 107))
    assert [(p.done, p.total) for p in progress] == [(0, 7), (3, 7), (6, 7), (7, 7)]


async def test_update_in_batches_reports_modified_documents(store: DocumentStoreProtocol) -> None:
    await _seed(store, 5)
    await store.collection("users").update_many({"n": {"$lt": 2}}, {"$set": {"flag": True}})
    progress: list[MigrationProgress] = []
    modified = await _context(store, progress).update_in_batches(
        "users", {}, {"$set": {"flag": True}}
    )
    assert modified == 3, "the two already flagged were matched, not modified"
    assert progress[-1].done == 5


async def test_update_in_batches_visits_ids_of_every_type_once(
    store: DocumentStoreProtocol,
) -> None:
    """_id order groups types (numbers < strings < ObjectIds...), and `$gt` compares within a
    type: the walk goes type by type and misses none."""
    ids: list[Any] = ["b", "a", "c10", "65a000000000000000000001", "65a000000000000000000002"]
    if store.driver != "mongodb":  # the MongoDB test server stores only ObjectId ids
        ids += [3, 1, 2.5, 10]
    await store.collection("things").insert_many([{"_id": i, "hits": 0} for i in ids])
    progress: list[MigrationProgress] = []
    modified = await _context(store, progress).update_in_batches(
        "things", {"hits": {"$gte": 0}}, {"$inc": {"hits": 1}}
    )
    assert modified == len(ids)
    assert [d["hits"] async for d in store.collection("things").find({})] == [1] * len(ids)


async def test_update_in_batches_lets_the_loop_run_between_batches(
    store: DocumentStoreProtocol,
) -> None:
    await _seed(store, 12)
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    seen: list[int] = []
    context = MigrationContext(
        store,
        migration_id="8",
        name="walk",
        batch_size=3,
        progress=lambda _progress: seen.append(ticks),
    )
    await context.update_in_batches("users", {}, {"$set": {"walked": True}})
    done = True
    await task
    assert seen == sorted(seen) and seen[-1] >= 3, f"other tasks ran between batches: {seen}"


async def test_create_index_takes_pymongo_keys_and_option_names(
    store: DocumentStoreProtocol,
) -> None:
    """The keys and options ``create_index`` takes, in either spelling, and the same
    operation (one checksum) whichever spelling wrote it."""
    await _seed(store, 2)
    manager = MigrationManager(store=store)
    manager.add(CreateIndex("users", {"n": -1}, name="by_n", sparse=True, background=True))
    manager.add(CreateIndex("users", ["n", "m"], unique=1))
    await manager.apply()
    information = await store.collection("users").index_information()
    assert information["by_n"] == {"key": [("n", -1)], "sparse": True}
    assert information["n_1_m_1"] == {"key": [("n", 1), ("m", 1)], "unique": True}
    camel = CreateIndex("users", "at", expireAfterSeconds=60)
    snake = CreateIndex("users", [("at", 1)], expire_after_seconds=60)
    assert camel.checksum() == snake.checksum()
    with pytest.raises(MigrationError, match="foo"):
        CreateIndex("users", "n", foo=1)
